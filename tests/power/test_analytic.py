"""Analytic power and MDE: equal to statsmodels / lifelines for the individual case (1e-8),
design effects by hand, MDE round trips and typed errors for bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st
from lifelines.statistics import power_under_cph, sample_size_necessary_under_cph
from statsmodels.stats.power import NormalIndPower, TTestIndPower, TTestPower
from statsmodels.stats.proportion import power_proportions_2indep, proportion_effectsize

from dreamkit.errors import InputError
from dreamkit.power import (
    design_effect,
    expected_events,
    mde_hazard,
    mde_mean,
    mde_proportion,
    power_hazard,
    power_mean,
    power_proportion,
    required_events,
    within_cluster_design_effect,
)

TOL = 1e-8  # both sides evaluate the same closed forms with scipy's special functions

CASES = [
    # effect, sd, n, share_treated, alpha, alternative
    (0.05, 0.3, 568, 371 / 568, 0.05, "two-sided"),
    (0.10, 0.45, 120, 0.5, 0.01, "two-sided"),
    (0.02, 0.25, 2000, 0.4, 0.05, "larger"),
    (-0.08, 0.5, 300, 0.6, 0.10, "smaller"),
    (-0.08, 0.5, 300, 0.6, 0.05, "two-sided"),
]


@pytest.mark.parametrize(("effect", "sd", "n", "share", "alpha", "alt"), CASES)
def test_individual_mean_equals_statsmodels(effect, sd, n, share, alpha, alt) -> None:
    n1, n0 = share * n, (1 - share) * n
    kw = dict(share_treated=share, alpha=alpha, alternative=alt)
    ours_t = power_mean(effect, sd, n, **kw)
    ours_z = power_mean(effect, sd, n, reference="normal", **kw)
    sm_t = TTestIndPower().power(effect / sd, nobs1=n1, alpha=alpha, ratio=n0 / n1, alternative=alt)
    sm_z = NormalIndPower().power(
        effect / sd, nobs1=n1, alpha=alpha, ratio=n0 / n1, alternative=alt
    )
    assert ours_t == pytest.approx(sm_t, abs=TOL)
    assert ours_z == pytest.approx(sm_z, abs=TOL)


def test_unequal_arm_sds() -> None:
    # sd_treated = sd is the common-SD formula; otherwise the variance is s1^2/n1 + s0^2/n0
    base = power_mean(0.05, 0.3, 568, share_treated=0.6)
    assert power_mean(0.05, 0.3, 568, share_treated=0.6, sd_treated=0.3) == base
    se = np.sqrt(0.35**2 / (0.6 * 568) + 0.3**2 / (0.4 * 568))
    lam = 0.05 / se
    z = scipy.stats.norm.isf(0.025)
    expected = scipy.stats.norm.sf(z - lam) + scipy.stats.norm.cdf(-z - lam)
    ours = power_mean(0.05, 0.3, 568, share_treated=0.6, sd_treated=0.35, reference="normal")
    assert ours == pytest.approx(expected, abs=1e-12)
    mde = mde_mean(0.3, 568, share_treated=0.6, sd_treated=0.35)
    assert power_mean(mde, 0.3, 568, share_treated=0.6, sd_treated=0.35) == pytest.approx(0.8)


def test_power_curve_is_vectorised_and_matches_pointwise() -> None:
    grid = np.linspace(-0.1, 0.1, 9)
    curve = power_mean(grid, 0.3, 568, share_treated=0.6)
    assert isinstance(curve, np.ndarray) and curve.shape == (9,)
    for x, p in zip(grid, curve, strict=True):
        assert p == pytest.approx(power_mean(float(x), 0.3, 568, share_treated=0.6), abs=1e-14)
    assert curve[4] == pytest.approx(0.05, abs=1e-12)  # size at no effect


@given(
    d=st.floats(0.01, 1.5),
    n=st.floats(10, 3000),
    share=st.floats(0.1, 0.9),
    alpha=st.sampled_from([0.01, 0.05, 0.1]),
)
@settings(max_examples=60, deadline=None)
def test_individual_mean_property(d: float, n: float, share: float, alpha: float) -> None:
    n1, n0 = share * n, (1 - share) * n
    sm = TTestIndPower().power(d, nobs1=n1, alpha=alpha, ratio=n0 / n1)
    if np.isnan(sm):
        # scipy's noncentral t gives NaN for a far tail below ~1e-30, and statsmodels passes
        # it on; that tail is 0 in double precision, so compare with the near tail alone
        sm = TTestIndPower().power(
            d, nobs1=n1, alpha=alpha / 2, ratio=n0 / n1, alternative="larger"
        )
    if np.isnan(sm):  # the near tail's complement is such a far tail too (power ~ 1)
        df = n - 2
        lam = d * np.sqrt(n1 * n0 / n)
        sm = scipy.stats.nct.sf(scipy.stats.t.isf(alpha / 2, df), df, lam)
    assert power_mean(d, 1.0, n, share_treated=share, alpha=alpha) == pytest.approx(sm, abs=TOL)


@pytest.mark.parametrize("rho", [0.0, 0.3, -0.2])
def test_pair_design_equals_paired_t_test(rho: float) -> None:
    n_pairs, effect, sd = 60, 0.1, 0.4
    d_z = effect / (sd * math.sqrt(2 * (1 - rho)))
    sm = TTestPower().power(d_z, nobs=n_pairs, alpha=0.05)
    ours = power_mean(effect, sd, 2 * n_pairs, design="pair", pair_correlation=rho)
    assert ours == pytest.approx(sm, abs=TOL)


@pytest.mark.parametrize(
    ("p0", "p1", "n", "share"),
    [(0.2, 0.3, 300, 0.5), (0.08, 0.29, 54, 28 / 54), (0.5, 0.4, 1000, 0.6)],
)
def test_individual_proportions_equal_statsmodels(p0, p1, n, share) -> None:
    n1, n0 = share * n, (1 - share) * n
    pooled = power_proportion(p0, p1, n, share_treated=share)
    sm_pooled = power_proportions_2indep(
        p1 - p0, p0, n1, ratio=n0 / n1, alpha=0.05, return_results=False
    )
    assert pooled == pytest.approx(sm_pooled, abs=TOL)
    arcsine = power_proportion(p0, p1, n, share_treated=share, method="arcsine")
    h = proportion_effectsize(p1, p0)
    assert arcsine == pytest.approx(NormalIndPower().power(h, n1, 0.05, ratio=n0 / n1), abs=TOL)


def test_mde_round_trips_and_matches_statsmodels_solver() -> None:
    mde = mde_mean(0.3, 568, share_treated=0.6, power=0.8)
    assert power_mean(mde, 0.3, 568, share_treated=0.6) == pytest.approx(0.8, abs=1e-10)
    sm = TTestIndPower().solve_power(None, nobs1=0.6 * 568, alpha=0.05, power=0.8, ratio=0.4 / 0.6)
    assert mde / 0.3 == pytest.approx(sm, rel=1e-6)  # statsmodels' own solver tolerance
    neg = mde_mean(0.3, 568, share_treated=0.6, alternative="smaller")
    assert neg < 0 and power_mean(
        neg, 0.3, 568, share_treated=0.6, alternative="smaller"
    ) == pytest.approx(0.8, abs=1e-10)
    # normal reference, one tail: (z_{1-a/2} + z_{1-b}) se to within the far tail
    se = 0.3 * math.sqrt(1 / (0.6 * 568) + 1 / (0.4 * 568))
    z = scipy.stats.norm.isf(0.025) + scipy.stats.norm.isf(0.2)
    assert mde_mean(0.3, 568, share_treated=0.6, reference="normal") == pytest.approx(
        z * se, rel=1e-4
    )
    p1 = mde_proportion(0.2, 300, power=0.9)
    assert power_proportion(0.2, p1, 300) == pytest.approx(0.9, abs=1e-10)
    p1_low = mde_proportion(0.2, 300, power=0.9, increase=False)
    assert p1_low < 0.2 and power_proportion(0.2, p1_low, 300) == pytest.approx(0.9, abs=1e-10)


def test_design_effects_by_hand() -> None:
    assert design_effect("individual", icc=0.3) == 1.0
    assert design_effect("cluster", icc=0.05, cluster_size=14, cv=0.3) == pytest.approx(
        1 + ((1 + 0.09) * 14 - 1) * 0.05
    )
    assert design_effect("within_cluster", icc=0.05, cluster_size=14) == pytest.approx(0.95)
    assert design_effect("pair", pair_correlation=0.4) == pytest.approx(0.6)
    # cluster design: power equals the individual one with n / DE persons (normal reference)
    de = design_effect("cluster", icc=0.1, cluster_size=10, cv=0.5)
    clustered = power_mean(
        0.1, 0.5, 800, design="cluster", icc=0.1, cluster_size=10, cv=0.5, reference="normal"
    )
    assert clustered == pytest.approx(power_mean(0.1, 0.5, 800 / de, reference="normal"), abs=1e-12)
    # clusters of one person are individual randomisation (same DE and df)
    assert power_mean(0.1, 0.5, 300, design="cluster", icc=0.2, cluster_size=1) == pytest.approx(
        power_mean(0.1, 0.5, 300), abs=1e-14
    )
    # covariates: variance times (1 - R^2)
    adj = power_mean(0.1, 0.5, 800, r2=0.36, reference="normal")
    assert adj == pytest.approx(power_mean(0.1, 0.5 * 0.8, 800, reference="normal"), abs=1e-12)


def test_within_cluster_design_effect_exact() -> None:
    # equal treated share in every team: S = 0, DE = 1 - ICC
    teams = np.repeat(np.arange(4), 10)
    treated = np.tile(np.r_[np.ones(6), np.zeros(4)], 4)
    assert within_cluster_design_effect(treated, teams, 0.2) == pytest.approx(0.8, abs=1e-12)
    # unequal shares leak cluster effects: by hand
    treated2 = np.r_[np.ones(8), np.zeros(2), np.ones(2), np.zeros(8)]
    teams2 = np.repeat([0, 1], 10)
    dt = treated2 - 0.5
    s = ((dt[:10].sum()) ** 2 + (dt[10:].sum()) ** 2) / (dt @ dt)
    assert within_cluster_design_effect(treated2, teams2, 0.2) == pytest.approx(0.8 + 0.2 * s)
    # with each team its own stratum the leak is removed again
    assert within_cluster_design_effect(treated2, teams2, 0.2, strata=teams2) == pytest.approx(0.8)


def test_freedman_equals_lifelines() -> None:
    n1, n0, p0, hr = 240, 160, 0.5, 0.7
    p1 = 1 - (1 - p0) ** hr
    # lifelines counts the tail in the effect's direction only, at z_{1-alpha/2}
    ours = power_hazard(
        hr,
        n=n1 + n0,
        p_control_event=p0,
        share_treated=0.6,
        method="freedman",
        alternative="smaller",
        alpha=0.025,
    )
    assert ours == pytest.approx(power_under_cph(n1, n0, p1, p0, hr, alpha=0.05), abs=TOL)
    d = required_events(hr, share_treated=0.6, method="freedman", power=0.8)
    n_exp, n_con = sample_size_necessary_under_cph(0.8, 1.5, p1, p0, hr, alpha=0.05)
    total = d / (0.6 * p1 + 0.4 * p0)
    assert (math.ceil(0.6 * total), math.ceil(0.4 * total)) == (n_exp, n_con)


def test_schoenfeld_events_formula() -> None:
    hr, p = 0.7, 0.6
    z = scipy.stats.norm.isf(0.025) + scipy.stats.norm.isf(0.2)
    d = required_events(hr, share_treated=p)
    assert d == pytest.approx(z**2 / (p * (1 - p) * math.log(hr) ** 2), rel=1e-12)
    # at that many events the near tail has exactly the target power
    near = power_hazard(hr, events=d, share_treated=p, alternative="smaller", alpha=0.025)
    assert near == pytest.approx(0.8, abs=1e-10)
    # clustering multiplies the events needed by DE
    dc = required_events(hr, share_treated=p, design="cluster", icc=0.02, cluster_size=14, cv=0.3)
    assert dc / d == pytest.approx(design_effect("cluster", icc=0.02, cluster_size=14, cv=0.3))
    assert power_hazard(1.0, events=100) == pytest.approx(0.05, abs=1e-12)
    mde = mde_hazard(events=d, share_treated=p)
    assert mde < 1 and power_hazard(mde, events=d, share_treated=p) == pytest.approx(0.8, abs=1e-10)
    hr_n = mde_hazard(n=568, p_control_event=0.5, share_treated=p, increase=True)
    assert hr_n > 1
    assert power_hazard(hr_n, n=568, p_control_event=0.5, share_treated=p) == pytest.approx(
        0.8, abs=1e-10
    )
    ev = expected_events(0.7, 400, 0.5, 0.6)
    assert ev == pytest.approx(240 * (1 - 0.5**0.7) + 160 * 0.5)


@pytest.mark.parametrize(
    ("call", "names"),
    [
        (lambda: power_mean(0.1, 1, 100, design="cluster", icc=1.0, cluster_size=10), "icc"),
        (lambda: power_mean(0.1, 1, 100, design="cluster", icc=-0.05, cluster_size=10), "icc"),
        (lambda: power_mean(0.1, 1, 0), "n"),
        (lambda: power_mean(0.1, -1, 100), "sd"),
        (lambda: power_mean(0.1, 1, 100, design="cluster", cluster_size=0), "cluster_size"),
        (lambda: mde_mean(1, 100, power=1.2), "power"),
        (lambda: mde_mean(1, 100, power=0), "power"),
        (lambda: power_mean(0.1, 1, 100, share_treated=1.0), "share_treated"),
        (lambda: power_mean(0.1, 1, 100, alpha=0), "alpha"),
        (lambda: power_mean(0.1, 1, 100, r2=1.0), "r2"),
        (lambda: power_mean(0.1, 1, 100, design="clustered"), "design"),
        (lambda: power_mean(0.1, 1, 100, design="cluster", cluster_size=80), "clusters"),
        (lambda: power_proportion(0.0, 0.2, 100), "p_control"),
        (lambda: power_mean(0.1, 1, 100, design="within_cluster"), "cluster_size"),
        (lambda: power_hazard(0.7, events=50, share_treated=0.0), "share_treated"),
        (lambda: power_hazard(0.7), "events"),
        (lambda: required_events(1.0), "hazard_ratio"),
        (lambda: within_cluster_design_effect([1, 0], [1, 1], 1.5), "icc"),
    ],
)
def test_bad_input_is_a_typed_error_naming_the_argument(call, names: str) -> None:
    with pytest.raises(InputError, match=names):
        call()


def test_icc_error_says_the_fix() -> None:
    with pytest.raises(InputError, match=r"\[0, 1\).*use 0"):
        design_effect("cluster", icc=1.2, cluster_size=10)


def test_unreachable_mde_is_an_error() -> None:
    with pytest.raises(InputError, match="increase n"):
        mde_proportion(0.5, 6, power=0.99)


def test_power_is_one_not_nan_when_scipys_near_tail_is_nan() -> None:
    """d = 1.5, n = 2706: the noncentrality is 39 and scipy's noncentral-t cdf at the
    critical value is NaN (a tail below 1e-30; statsmodels returns NaN too): power is 1."""
    assert power_mean(1.5, 1.0, 2706.0, share_treated=0.5) == 1.0
    assert power_mean(-1.5, 1.0, 2706.0, share_treated=0.5) == 1.0
    assert power_mean(1.5, 1.0, 2706.0, share_treated=0.5, alternative="smaller") < 1e-30
