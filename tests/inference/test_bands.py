"""Sup-t bands: known critical values, coverage of the whole path, bootstrap version."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from dreamkit.errors import InputError
from dreamkit.inference import bootstrap_sup_t_band, sup_t_band, sup_t_critical_value

LEVEL = 0.95
N_DRAWS = 100_000


def _quantile_mc_sd(density_at_c: float, n: int, level: float = LEVEL) -> float:
    """Asymptotic standard deviation of a simulated quantile: sqrt(q(1-q)/n) / f(c)."""
    return np.sqrt(level * (1 - level) / n) / density_at_c


@pytest.mark.parametrize("width", [5, 81])
def test_identity_correlation_gives_sidak_value(width):
    crit = sup_t_critical_value(np.eye(width), level=LEVEL, n_draws=N_DRAWS, seed=1)
    # P(max|Z_w| <= c) = (2 Phi(c) - 1)^W = level
    sidak = stats.norm.ppf((1 + LEVEL ** (1 / width)) / 2)
    density = width * (2 * stats.norm.cdf(sidak) - 1) ** (width - 1) * 2 * stats.norm.pdf(sidak)
    assert abs(crit - sidak) <= 4 * _quantile_mc_sd(density, N_DRAWS)


def test_perfectly_correlated_weeks_give_pointwise_value():
    crit = sup_t_critical_value(np.ones((81, 81)), level=LEVEL, n_draws=N_DRAWS, seed=2)
    z = stats.norm.ppf(0.975)
    assert abs(crit - z) <= 4 * _quantile_mc_sd(2 * stats.norm.pdf(z), N_DRAWS)


def _ar1_cov(width: int, rho: float, scale: np.ndarray) -> np.ndarray:
    lags = np.abs(np.subtract.outer(np.arange(width), np.arange(width)))
    return rho**lags * np.outer(scale, scale)


def test_band_covers_whole_path_at_nominal_rate():
    width, reps = 30, 2000
    rng = np.random.default_rng(7)
    scale = rng.uniform(0.02, 0.06, width)
    vcov = _ar1_cov(width, 0.85, scale)
    truth = np.linspace(0.0, 0.06, width)
    draws = rng.multivariate_normal(truth, vcov, size=reps)
    band0 = sup_t_band(draws[0], vcov, n_draws=N_DRAWS, seed=3)
    for est in draws[1:4]:  # same vcov and seed: same critical value, band moves with est
        band = sup_t_band(est, vcov, n_draws=N_DRAWS, seed=3)
        assert band.critical_value == band0.critical_value
        np.testing.assert_allclose(band.upper - band0.upper, est - draws[0], atol=1e-12)
    crit, se = band0.critical_value, band0.std_error
    z_abs = np.abs(draws - truth) / se
    cover_sup = int(np.sum(z_abs.max(axis=1) <= crit))
    cover_point = int(np.sum(z_abs.max(axis=1) <= band0.pointwise_critical_value))
    half_width = 4 * np.sqrt(LEVEL * (1 - LEVEL) / reps)
    assert abs(cover_sup / reps - LEVEL) <= half_width
    assert cover_point / reps < LEVEL - half_width  # pointwise bands under-cover the path
    assert band0.pointwise_critical_value < crit


def test_band_arithmetic():
    est = np.array([0.1, -0.2, 0.3])
    vcov = np.diag([0.01, 0.04, 0.09])
    band = sup_t_band(est, vcov, n_draws=20_000)
    se = np.sqrt(np.diag(vcov))
    np.testing.assert_allclose(band.upper - band.estimate, band.critical_value * se)
    np.testing.assert_allclose(band.estimate - band.pointwise_lower, stats.norm.ppf(0.975) * se)


def test_bootstrap_band_agrees_with_plug_in():
    width, n_boot = 20, 40_000
    vcov = _ar1_cov(width, 0.7, np.full(width, 0.05))
    corr = vcov / 0.05**2
    rng = np.random.default_rng(4)
    t_boot = rng.multivariate_normal(np.zeros(width), corr, size=n_boot)
    est = np.zeros(width)
    boot = bootstrap_sup_t_band(est, np.sqrt(np.diag(vcov)), t_boot)
    plug = sup_t_band(est, vcov, n_draws=N_DRAWS, seed=5)
    maxima = np.abs(rng.multivariate_normal(np.zeros(width), corr, size=N_DRAWS)).max(axis=1)
    kde = stats.gaussian_kde(maxima)
    density = float(kde(plug.critical_value)[0])
    mc_sd = np.hypot(_quantile_mc_sd(density, n_boot), _quantile_mc_sd(density, N_DRAWS))
    assert abs(boot.critical_value - plug.critical_value) <= 4 * mc_sd
    assert boot.critical_value == pytest.approx(np.quantile(np.abs(t_boot).max(axis=1), LEVEL))


def test_errors():
    with pytest.raises(InputError, match="positive semi-definite"):
        sup_t_critical_value(np.array([[1.0, 2.0], [2.0, 1.0]]))
    with pytest.raises(InputError, match="non-positive variances"):
        sup_t_band(np.zeros(2), np.diag([1.0, 0.0]))
    with pytest.raises(InputError, match="estimates"):
        sup_t_band(np.zeros(3), np.eye(2))
    with pytest.raises(InputError, match="level"):
        sup_t_band(np.zeros(2), np.eye(2), level=95)
    with pytest.raises(InputError, match="t_boot"):
        bootstrap_sup_t_band(np.zeros(2), np.ones(2), np.zeros((10, 3)))


def test_t_reference_for_perfectly_correlated_weeks_gives_the_t_quantile():
    """With df, one common chi-square scale per draw: for perfectly correlated weeks the
    critical value is the t_df quantile (the pointwise value of the t intervals)."""
    df = 42
    crit = sup_t_critical_value(np.ones((5, 5)), level=0.95, n_draws=200_000, seed=3, df=df)
    expected = stats.t.ppf(0.975, df)
    # Monte Carlo SE of a 97.5% quantile with 200k draws is about 0.004
    assert abs(crit - expected) < 0.02
    band = sup_t_band(np.zeros(3), np.eye(3), df=df, n_draws=50_000)
    assert band.pointwise_critical_value == pytest.approx(expected, rel=1e-12)
    assert band.critical_value > sup_t_band(np.zeros(3), np.eye(3), n_draws=50_000).critical_value


def test_t_reference_rejects_bad_df():
    with pytest.raises(InputError, match="df must be positive"):
        sup_t_critical_value(np.eye(2), df=0)
