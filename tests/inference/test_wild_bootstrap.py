"""Wild cluster bootstrap: agreement with the wildboottest package, statsmodels, invariances."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st
from wildboottest.wildboottest import WildboottestCL

from dreamkit.errors import EstimationError, InputError
from dreamkit.inference import draw_cluster_weights, wild_cluster_bootstrap

TIE = 1e-9


def _wildboottest(y, d, Z, clusters, *, B, weights, impose_null, seed):
    x = np.column_stack([d, Z])
    wb = WildboottestCL(
        X=x, Y=y, cluster=clusters, R=np.eye(x.shape[1])[0], B=B, seed=seed, parallel=False
    )
    wb.get_scores(bootstrap_type="11", impose_null=impose_null)
    wb.get_weights(weights_type=weights)
    wb.get_numer()
    wb.get_denom()
    wb.get_tboot()
    wb.get_vcov()
    wb.get_tstat()
    wb.get_pvalue()
    return wb


@pytest.mark.parametrize(
    ("weights", "impose_null"), [("rademacher", True), ("webb", True), ("rademacher", False)]
)
def test_matches_wildboottest_draw_by_draw(trial, weights, impose_null):
    y = trial.y[:, 0]
    res = wild_cluster_bootstrap(
        y, trial.d, trial.Z, trial.teams, B=499, weights=weights, impose_null=impose_null, seed=5
    )
    ref = _wildboottest(
        y, trial.d, trial.Z, trial.teams, B=499, weights=weights, impose_null=impose_null, seed=5
    )
    assert not res.full_enumeration
    np.testing.assert_allclose(res.t_stat[0], ref.t_stat, rtol=1e-10)
    np.testing.assert_allclose(res.t_boot[:, 0], ref.t_boot, rtol=1e-9, atol=1e-12)
    # wildboottest counts strictly larger |t*|; dreamkit also counts ties (|t*| = |t|)
    abs_ref = np.abs(ref.t_boot)
    ties = np.mean(np.abs(abs_ref - abs(ref.t_stat)) <= TIE * abs(ref.t_stat))
    assert res.p_value[0] == pytest.approx(ref.pvalue + ties, abs=1e-12)


def test_full_enumeration_matches_wildboottest(trial_factory):
    tr = trial_factory(seed=3, n_teams=8)
    y = tr.y[:, 1]
    res = wild_cluster_bootstrap(y, tr.d, tr.Z, tr.teams, B=999, seed=1)
    ref = _wildboottest(
        y, tr.d, tr.Z, tr.teams, B=999, weights="rademacher", impose_null=True, seed=1
    )
    assert res.full_enumeration and res.n_boot == 2**8 == ref.B
    np.testing.assert_allclose(res.t_boot[:, 0], ref.t_boot, rtol=1e-9, atol=1e-12)
    # v = -1 (first sign vector) and v = +1 (last) reproduce |t|: the only ties; dreamkit
    # counts both, wildboottest's strict comparison counts them or not depending on rounding
    tied = np.isclose(np.abs(ref.t_boot), abs(ref.t_stat), rtol=1e-9, atol=0)
    assert np.flatnonzero(tied).tolist() == [0, 2**8 - 1]
    abs_ref = np.abs(ref.t_boot)
    assert res.p_value[0] == pytest.approx(np.mean(abs_ref >= abs(ref.t_stat) * (1 - TIE)))
    assert 0 <= res.p_value[0] - ref.pvalue <= 2 / 2**8 + 1e-12


def test_weight_draws_reproduce_numpy_choice():
    v, full = draw_cluster_weights(7, 50, "webb", seed=9)
    values = np.concatenate([-np.sqrt(np.array([3, 2, 1]) / 2), np.sqrt(np.array([1, 2, 3]) / 2)])
    expected = np.random.default_rng(9).choice(values, size=7 * 50).reshape(7, 50)
    assert not full
    np.testing.assert_array_equal(v, expected)
    assert np.isclose(np.mean(values), 0.0) and np.isclose(np.mean(values**2), 1.0)


def test_many_outcomes_equal_one_at_a_time(trial):
    res = wild_cluster_bootstrap(trial.y, trial.d, trial.Z, trial.teams, B=199, seed=2)
    assert res.t_boot.shape == (199, trial.y.shape[1])
    for w in range(trial.y.shape[1]):
        one = wild_cluster_bootstrap(trial.y[:, w], trial.d, trial.Z, trial.teams, B=199, seed=2)
        np.testing.assert_allclose(res.t_boot[:, w], one.t_boot[:, 0], rtol=1e-10)
        np.testing.assert_allclose(
            [res.p_value[w], res.conf_low[w], res.conf_high[w]],
            [one.p_value[0], one.conf_low[0], one.conf_high[0]],
            rtol=1e-10,
        )


def test_point_estimate_and_se_equal_statsmodels_crv1(trial):
    res = wild_cluster_bootstrap(trial.y, trial.d, trial.Z, trial.teams, B=9, seed=0)
    x = np.column_stack([trial.d, trial.Z])
    for w in range(trial.y.shape[1]):
        fit = sm.OLS(trial.y[:, w], x).fit(cov_type="cluster", cov_kwds={"groups": trial.teams})
        assert res.estimate[w] == pytest.approx(fit.params[0], rel=1e-10)
        assert res.std_error[w] == pytest.approx(fit.bse[0], rel=1e-10)


@pytest.mark.parametrize("p_type", ["symmetric", "equal-tailed"])
def test_ci_ends_are_where_the_shifted_test_stops_rejecting(trial, p_type):
    """p(tau0) from the stored draws equals a fresh WCR test of y - tau0 d (same weights)."""
    y = trial.y[:, 0] + 0.8 * trial.d
    res = wild_cluster_bootstrap(y, trial.d, trial.Z, trial.teams, B=399, seed=4, p_type=p_type)
    alpha = 1 - res.level

    def shifted_test(tau0):
        """A fresh WCR test of H0: tau = tau0, as y - tau0 d against tau = 0."""
        return wild_cluster_bootstrap(
            y - tau0 * trial.d, trial.d, trial.Z, trial.teams, B=399, seed=4, p_type=p_type
        )

    for end, outward in ((res.conf_low[0], -1.0), (res.conf_high[0], 1.0)):
        assert np.isfinite(end)
        eps = 1e-5 * res.std_error[0]
        inside = shifted_test(end - outward * eps)
        outside = shifted_test(end + outward * eps)
        assert inside.p_value[0] > alpha >= outside.p_value[0]
    assert res.conf_low[0] < res.estimate[0] < res.conf_high[0]


def test_infinite_interval_when_no_value_can_be_rejected(trial_factory):
    tr = trial_factory(seed=8, n_teams=4)  # 2^4 = 16 sign vectors: smallest p is 2/16 > 0.05
    res = wild_cluster_bootstrap(tr.y[:, 0], tr.d, tr.Z, tr.teams, B=999, seed=0)
    assert res.full_enumeration
    assert res.conf_low[0] == -np.inf and res.conf_high[0] == np.inf


def test_unrestricted_percentile_t_interval(trial):
    res = wild_cluster_bootstrap(
        trial.y, trial.d, trial.Z, trial.teams, B=299, seed=3, impose_null=False
    )
    crit = np.quantile(np.abs(res.t_boot), 0.95, axis=0)
    np.testing.assert_allclose(res.conf_high - res.estimate, crit * res.std_error, rtol=1e-12)
    np.testing.assert_allclose(res.estimate - res.conf_low, crit * res.std_error, rtol=1e-12)


def test_redundant_intercept_is_dropped(trial):
    with_const = np.column_stack([np.ones(trial.d.shape[0]), trial.Z])
    a = wild_cluster_bootstrap(trial.y, trial.d, trial.Z, trial.teams, B=99, seed=1)
    b = wild_cluster_bootstrap(trial.y, trial.d, with_const, trial.teams, B=99, seed=1)
    np.testing.assert_allclose(a.t_boot, b.t_boot, rtol=1e-9)
    assert a.small_sample_factor == b.small_sample_factor


@settings(max_examples=20, deadline=None)
@given(
    gamma=st.lists(st.floats(-5, 5), min_size=7, max_size=7),
    seed=st.integers(0, 10_000),
)
def test_wcr_invariant_to_control_shifts(gamma, seed):
    """y + Z gamma has the same restricted residuals, hence identical bootstrap t's."""
    rng = np.random.default_rng(seed)
    n, g = 90, 9
    teams = np.repeat(np.arange(g), n // g)
    d = rng.integers(0, 2, n).astype(float)
    z = np.column_stack([np.ones(n), rng.normal(size=(n, 6))])
    y = rng.normal(size=n)
    shifted = y + z @ np.array(gamma)
    a = wild_cluster_bootstrap(y, d, z, teams, B=49, seed=seed, weights="webb")
    b = wild_cluster_bootstrap(shifted, d, z, teams, B=49, seed=seed, weights="webb")
    np.testing.assert_allclose(a.t_boot, b.t_boot, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(a.estimate, b.estimate, rtol=1e-9, atol=1e-12)


def test_errors(trial):
    n = trial.d.shape[0]
    with pytest.raises(InputError, match="clusters"):
        wild_cluster_bootstrap(trial.y, trial.d, trial.Z, np.zeros(n), B=9)
    y = trial.y.copy()
    y[3, 1] = np.nan
    with pytest.raises(InputError, match="1 missing"):
        wild_cluster_bootstrap(y, trial.d, trial.Z, trial.teams, B=9)
    with pytest.raises(EstimationError, match="collinear"):
        wild_cluster_bootstrap(trial.y, trial.d, np.column_stack([trial.Z, trial.d]), trial.teams)
    with pytest.raises(InputError, match="weights"):
        wild_cluster_bootstrap(trial.y, trial.d, trial.Z, trial.teams, weights="mammen")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="length"):
        wild_cluster_bootstrap(trial.y, trial.d[:-1], trial.Z, trial.teams)
