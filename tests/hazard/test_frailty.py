"""Frailty hazards: likelihood against numerical integration and brute force, gradients against
finite differences, estimates against an independent person-level scipy.optimize fit,
clustered SEs against a hand-built sandwich, bad input, and Monte Carlo recovery."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import polars as pl
import pytest
import scipy.integrate
import scipy.optimize
import scipy.special
import scipy.stats
from statsmodels.tools.numdiff import approx_fprime, approx_hess3

from dreamkit.errors import (
    FrailtyBoundaryWarning,
    InputError,
    MixtureBoundaryError,
)
from dreamkit.estimate.duration.duration_dependence import intervals
from dreamkit.estimate.duration.frailty import (
    FrailtyHazard,
    _prepare,
    discrete_loglik,
    gamma_loglik,
)
from dreamkit.simulate.durations import simulate_frailty_durations

WIDTH = 8  # 8-week baseline intervals keep the independent fits small


def _model(**kw: object) -> FrailtyHazard:
    base: dict[str, object] = dict(
        stratum=None, covariates=("x",), duration_spec=intervals(WIDTH), cluster="team"
    )
    base.update(kw)
    return FrailtyHazard(**base)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def frail() -> pl.DataFrame:
    return simulate_frailty_durations(1500, frailty_variance=0.8, effect=0.4, weeks=40, seed=11)


def _plain_index(df: pl.DataFrame, theta: np.ndarray, n_groups: int) -> np.ndarray:
    """(persons, weeks) linear index alpha_g(t) + b_T T + b_x x, written out plainly."""
    weeks = int(df["duration"].max())
    group = (np.arange(1, weeks + 1) - 1) // WIDTH
    alpha = theta[:n_groups][group]
    lin = theta[n_groups] * df["treated"].to_numpy() + theta[n_groups + 1] * df["x"].to_numpy()
    return alpha[None, :] + lin[:, None]


def _gamma_plain(df: pl.DataFrame, theta: np.ndarray, n_groups: int) -> np.ndarray:
    """Per-person log likelihood of the gamma-frailty cloglog model, no compression."""
    eta = _plain_index(df, theta, n_groups)
    s2 = np.exp(theta[-1])
    d = df["duration"].to_numpy()
    e = df["event"].to_numpy()
    weeks = eta.shape[1]
    cum = np.cumsum(np.exp(eta) * (np.arange(1, weeks + 1)[None, :] <= d[:, None]), axis=1)
    rows = np.arange(d.size)
    h_d = cum[rows, d - 1]
    h_prev = np.where(d > 1, cum[rows, np.maximum(d - 2, 0)], 0.0)
    s_d = (1 + s2 * h_d) ** (-1 / s2)
    s_prev = (1 + s2 * h_prev) ** (-1 / s2)
    return np.where(e == 1, np.log(s_prev - s_d), np.log(s_d))


def _discrete_plain(
    df: pl.DataFrame, theta: np.ndarray, n_groups: int, k: int, link: str
) -> np.ndarray:
    """Per-person log likelihood of the mass-point model by an explicit loop over points."""
    eta = _plain_index(df, theta, n_groups)
    m = np.r_[0.0, theta[n_groups + 2 : n_groups + 1 + k]]
    q = np.r_[0.0, theta[n_groups + 1 + k :]]
    p = np.exp(q) / np.exp(q).sum()
    d = df["duration"].to_numpy()
    e = df["event"].to_numpy()
    total = np.zeros(d.size)
    weeks = np.arange(1, eta.shape[1] + 1)[None, :]
    rows = np.arange(d.size)
    for j in range(k):
        z = eta + m[j]
        h = scipy.special.expit(z) if link == "logit" else -np.expm1(-np.exp(z))
        survive = np.prod(np.where(weeks < d[:, None], 1 - h, 1.0), axis=1)
        last = h[rows, d - 1]
        total += p[j] * survive * np.where(e == 1, last, 1 - last)
    return np.log(total)


def test_gamma_likelihood_equals_numerical_integration(frail: pl.DataFrame) -> None:
    """Closed form vs scipy.integrate.quad over the gamma density (1e-8 relative)."""
    df = frail.head(40)
    prob = _prepare(_model()._base(), df, "duration", "event")
    rng = np.random.default_rng(0)
    theta = np.r_[prob.start + rng.normal(scale=0.1, size=prob.start.size), np.log(0.7)]
    ll, _, _ = gamma_loglik(prob, theta)
    s2 = np.exp(theta[-1])
    na = prob.n_alpha  # the baseline as resolved (40 persons: intervals may be merged)
    alpha = (prob.basis @ theta[:na])[1:]
    lin = theta[na] * df["treated"].to_numpy() + theta[na + 1] * df["x"].to_numpy()
    eta = alpha[None, :] + lin[:, None]
    dens = scipy.stats.gamma(a=1 / s2, scale=s2)
    total = 0.0
    for i, (d, e) in enumerate(zip(df["duration"], df["event"], strict=True)):
        lam = np.exp(eta[i, :d])

        def f(v: float, lam: np.ndarray = lam, e: int = e) -> float:
            before = np.exp(-v * lam[:-1].sum())
            last = -np.expm1(-v * lam[-1]) if e else np.exp(-v * lam[-1])
            return float(before * last * dens.pdf(v))

        val, _ = scipy.integrate.quad(f, 0, np.inf, epsabs=1e-14, epsrel=1e-11, limit=200)
        total += np.log(val)
    assert ll == pytest.approx(total, rel=1e-8)


@pytest.mark.parametrize("link", ["cloglog", "logit"])
def test_mass_point_likelihood_equals_brute_force(frail: pl.DataFrame, link: str) -> None:
    df = frail.head(300)
    prob = _prepare(_model(link=link)._base(), df, "duration", "event")
    assert not prob.grid.merges  # the plain version assumes the 8-week intervals
    theta = np.r_[prob.start, -1.2, 0.8, 0.3, -0.4]
    ll, _, _ = discrete_loglik(prob, theta, 3, link)  # type: ignore[arg-type]
    assert ll == pytest.approx(_discrete_plain(df, theta, prob.n_alpha, 3, link).sum(), rel=1e-11)


def test_gradients_equal_finite_differences(frail: pl.DataFrame) -> None:
    prob = _prepare(_model()._base(), frail, "duration", "event")
    theta = np.r_[prob.start + 0.05, np.log(0.4)]
    _, g, scores = gamma_loglik(prob, theta, per_pattern=True)
    num = approx_fprime(theta, lambda t: gamma_loglik(prob, t)[0], centered=True)
    np.testing.assert_allclose(g, num, rtol=1e-5, atol=1e-4)
    assert scores is not None
    np.testing.assert_allclose(scores.sum(axis=0), g, rtol=1e-10, atol=1e-8)
    for link in ("cloglog", "logit"):
        th = np.r_[prob.start, -1.0, 0.7, 0.2, -0.3]
        _, g, scores = discrete_loglik(prob, th, 3, link, per_pattern=True)  # type: ignore[arg-type]
        num = approx_fprime(
            th, lambda t, lk=link: discrete_loglik(prob, t, 3, lk)[0], centered=True
        )
        np.testing.assert_allclose(g, num, rtol=1e-5, atol=1e-4)
        assert scores is not None
        np.testing.assert_allclose(scores.sum(axis=0), g, rtol=1e-10, atol=1e-8)


def _independent_fit(nll, theta0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[no-untyped-def]
    """scipy.optimize BFGS (finite-difference gradient), then Nelder-Mead polish; the
    covariance is the inverse of statsmodels' numerical Hessian."""
    res = scipy.optimize.minimize(nll, theta0, method="BFGS", options={"gtol": 1e-9})
    res = scipy.optimize.minimize(
        nll, res.x, method="Nelder-Mead", options={"xatol": 1e-9, "fatol": 1e-12, "maxiter": 20000}
    )
    return res.x, np.linalg.inv(approx_hess3(res.x, nll))


def test_gamma_equals_independent_scipy_fit(
    frail: pl.DataFrame, fd_crv1_se: Callable[..., np.ndarray]
) -> None:
    """Estimates to 1e-5 and iid SEs to 1e-3 (numerical Hessians on both sides) against a
    person-level implementation optimised by scipy; CRV1 against a sandwich of per-person
    finite-difference scores."""
    fit = _model(cov_type="iid").fit(frail)
    ng = fit.problem.n_alpha

    def nll(t: np.ndarray) -> float:
        return -float(_gamma_plain(frail, t, ng).sum())

    theta0 = np.r_[fit.no_frailty.glm.params, np.log(0.2)]
    est, cov = _independent_fit(nll, theta0)
    np.testing.assert_allclose(fit.params, est, atol=1e-5)
    np.testing.assert_allclose(np.sqrt(np.diag(fit.vcov)), np.sqrt(np.diag(cov)), rtol=1e-3)
    # CRV1: per-person scores by central differences of the plain per-person likelihood
    crv = _model(cov_type="CRV1").fit(frail)
    np.testing.assert_allclose(crv.params, fit.params, atol=1e-8)
    ref = fd_crv1_se(lambda t: _gamma_plain(frail, t, ng), est, frail["team"].to_numpy(), cov)
    np.testing.assert_allclose(np.sqrt(np.diag(crv.vcov)), ref, rtol=2e-3)


def test_mass_points_equal_independent_scipy_fit(frail: pl.DataFrame) -> None:
    df = frail.head(800)
    fit = _model(frailty="discrete", n_points=2, link="logit", cov_type="iid").fit(df)
    ng = fit.problem.n_alpha

    def nll(t: np.ndarray) -> float:
        return -float(_discrete_plain(df, t, ng, 2, "logit").sum())

    start = np.r_[fit.no_frailty.glm.params, -1.0, 0.0]
    est, cov = _independent_fit(nll, start)
    np.testing.assert_allclose(fit.params, est, atol=1e-5)
    np.testing.assert_allclose(np.sqrt(np.diag(fit.vcov)), np.sqrt(np.diag(cov)), rtol=1e-3)


def test_result_protocol(frail: pl.DataFrame) -> None:
    fit = _model().fit(frail)
    tidy = fit.tidy()
    assert tidy["term"].to_list() == ["treated", "x", "ln_frailty_variance"]
    ratio = fit.tidy(exponentiate=True)
    np.testing.assert_allclose(ratio["estimate"], np.exp(tidy["estimate"]), rtol=1e-12)
    assert fit.tidy(fixed_effects=True).height == len(fit.names) == fit.vcov.shape[0]
    g = fit.glance().row(0, named=True)
    assert g["converged"] and g["n_points"] is None and g["frailty_variance"] > 0
    assert g["log_likelihood"] >= g["ll_no_frailty"]
    assert g["lr_p_value"] == pytest.approx(0.5 * scipy.stats.chi2.sf(g["lr_statistic"], 1))
    assert "frailty" in repr(fit)
    mp = _model(frailty="discrete", n_points=2).fit(frail)
    g = mp.glance().row(0, named=True)
    assert g["n_points"] == 2 and g["converged"]
    assert mp.mass_points["probability"].sum() == pytest.approx(1.0)


@pytest.mark.parametrize("link", ["cloglog", "logit"])
def test_boundary_variance_warns_and_returns_no_frailty_model(link: str) -> None:
    """Without frailty in the DGP the variance can sit at 0 (the score of sigma^2 at 0 is
    negative): a warning, the boundary LR test, and exactly the no-frailty estimates, for
    the closed form (cloglog) and the quadrature (logit)."""
    for seed in range(20):
        df = simulate_frailty_durations(2000, frailty_variance=0.0, weeks=40, seed=seed, link=link)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fit = _model(duration_spec=intervals(4), link=link).fit(df)
        if fit.boundary:
            break
    else:
        pytest.fail("no boundary case in 20 no-frailty samples")
    assert any(issubclass(w.category, FrailtyBoundaryWarning) for w in caught)
    h0 = fit.no_frailty
    assert fit.coef("treated") == pytest.approx(h0.coef("treated"), abs=1e-12)
    assert fit.se("treated") == pytest.approx(h0.se("treated"), rel=1e-12)
    g = fit.glance().row(0, named=True)
    assert g["frailty_variance"] == 0.0 and g["lr_p_value"] == 0.5 and g["boundary"]


def test_collapsing_mass_points_raise() -> None:
    df = simulate_frailty_durations(3000, frailty_variance=0.0, weeks=40, seed=3)
    with pytest.raises(MixtureBoundaryError, match=r"n_points=3|without it"):
        _model(frailty="discrete", n_points=4).fit(df)


def test_bad_input() -> None:
    df = simulate_frailty_durations(200, weeks=20, seed=1)
    with pytest.raises(InputError, match="n_points"):
        _model(frailty="discrete", n_points=5).fit(df)
    with pytest.raises(InputError, match="frailty_variance"):
        simulate_frailty_durations(10, frailty_variance=-1.0)


def _monte_carlo(reps: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    est, naive = [], []
    for r in range(reps):
        df = simulate_frailty_durations(n, frailty_variance=1.0, effect=0.4, seed=1000 + r)
        fit = FrailtyHazard(stratum=None, covariates=("x",), cov_type="iid").fit(df)
        est.append(fit.coef("treated"))
        naive.append(fit.no_frailty.coef("treated"))
    return np.array(est), np.array(naive)


def test_monte_carlo_small() -> None:
    """8 samples of 5,000: the frailty model's mean is within 3 Monte Carlo SEs of 0.4; the
    model without frailty is attenuated towards 0 (by more than 3 MC SEs)."""
    est, naive = _monte_carlo(8, 5000)
    mcse = est.std(ddof=1) / np.sqrt(est.size)
    assert abs(est.mean() - 0.4) < 3 * mcse
    assert naive.mean() < 0.4 - 3 * naive.std(ddof=1) / np.sqrt(naive.size)
    assert np.all(naive < est)


@pytest.mark.slow
def test_monte_carlo_full() -> None:
    """200 samples of 5,000: bias < 0.02 on the log-hazard-ratio scale; attenuation shown."""
    est, naive = _monte_carlo(200, 5000)
    assert abs(est.mean() - 0.4) < 0.02
    assert 0.4 - naive.mean() > 0.05
