"""Small-trial tests against scipy, statsmodels and brute-force enumeration.

Tolerance 1e-10 (relative) wherever the two sides compute the same closed form or the same
finite sum; Monte Carlo comparisons use a binomial error bound (stated at each).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import polars as pl
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.contingency_tables import StratifiedTable
from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

from dreamkit.errors import EstimationError, InputError
from dreamkit.estimate.results import TIDY_LEADING, Result
from dreamkit.estimate.smalltrial import (
    cmh,
    compare_continuous,
    exact_rd_interval,
    fisher,
    fisher_2xk_pvalue,
    mantel_haenszel,
    mcnemar,
    newcombe,
    pearson,
    randomisation_test,
    risk_difference,
    stratified_exact,
    wilson,
)

TOL = 1e-10

counts = st.integers(0, 25)


@settings(max_examples=150, deadline=None)
@given(a=counts, b=counts, c=counts, d=counts)
def test_2x2_against_scipy(a: int, b: int, c: int, d: int) -> None:
    t = np.array([[a, b], [c, d]])
    if t.sum(axis=1).min() == 0:
        with pytest.raises(InputError):
            pearson(t)
        return
    f = fisher(t)
    assert f.p_value == pytest.approx(scipy.stats.fisher_exact(t).pvalue, rel=TOL)
    # the 2 x k enumeration agrees with scipy's 2 x 2 Fisher
    if t.sum(axis=0).min() > 0:
        assert fisher_2xk_pvalue(t) == pytest.approx(f.p_value, rel=1e-9)
        for corr in (False, True):
            ref = scipy.stats.chi2_contingency(t, correction=corr)
            got = pearson(t, correction=corr)
            assert got.statistic == pytest.approx(ref.statistic, rel=TOL, abs=1e-12)
            assert got.p_value == pytest.approx(ref.pvalue, rel=TOL)
            assert got.df == ref.dof
    else:  # outcome does not vary: no information, p = 1 (scipy raises on zero expected)
        assert pearson(t).p_value == 1.0 and "no variation" in pearson(t).note
        assert f.p_value == 1.0


def brute_fisher(table: np.ndarray) -> float:
    """Exact conditional p by relabelling persons: every split of the N persons into arms of
    the observed sizes, probability of each resulting table by counting (pure Python)."""
    row1 = int(table[0].sum())
    outcomes = [j for j, c in enumerate(table.sum(axis=0)) for _ in range(int(c))]
    tally: dict[tuple[int, ...], int] = {}
    for chosen in itertools.combinations(range(len(outcomes)), row1):
        key = [0] * table.shape[1]
        for i in chosen:
            key[outcomes[i]] += 1
        tally[tuple(key)] = tally.get(tuple(key), 0) + 1
    total = math.comb(len(outcomes), row1)
    p_obs = tally[tuple(int(v) for v in table[0])] / total
    return sum(v / total for v in tally.values() if v / total <= p_obs * (1 + 1e-7))


@settings(max_examples=40, deadline=None)
@given(cells=st.lists(st.integers(0, 4), min_size=6, max_size=8).filter(lambda v: len(v) % 2 == 0))
def test_2xk_fisher_against_brute_force(cells: list[int]) -> None:
    k = len(cells) // 2
    t = np.array([cells[:k], cells[k:]])
    if t.sum(axis=1).min() == 0 or t.sum() > 18:
        return
    got = fisher(t)
    assert got.p_value == pytest.approx(brute_fisher(t), rel=1e-9)


def test_2xk_against_scipy_monte_carlo_and_chi2() -> None:
    t = np.array([[3, 1, 4, 2], [0, 5, 2, 6]])
    exact = fisher(t).p_value
    mc = scipy.stats.fisher_exact(
        t, method=scipy.stats.MonteCarloMethod(n_resamples=20_000, rng=np.random.default_rng(1))
    ).pvalue
    # Monte Carlo standard error sqrt(p(1-p)/R) <= 0.0036: 5 se
    assert abs(mc - exact) < 5 * math.sqrt(exact * (1 - exact) / 20_000) + 1e-4
    ref = scipy.stats.chi2_contingency(t, correction=False)
    got = pearson(t)
    assert got.statistic == pytest.approx(ref.statistic, rel=TOL) and got.df == 3
    assert "expected count < 5" in got.note
    with pytest.raises(InputError, match="2 x 2"):
        pearson(t, correction=True)
    # an empty outcome column is dropped and counted
    t0 = np.array([[3, 0, 4], [1, 0, 6]])
    assert pearson(t0).df == 1 and "1 empty" in pearson(t0).note
    with pytest.raises(EstimationError, match="tables"):
        fisher_2xk_pvalue(np.array([[20] * 6, [20] * 6]), max_tables=1000)


@settings(max_examples=100, deadline=None)
@given(b=st.integers(0, 20), c=st.integers(0, 20), same=st.integers(0, 10))
def test_mcnemar_against_statsmodels(b: int, c: int, same: int) -> None:
    y1 = np.array([1] * b + [0] * c + [1] * same + [0] * 3)
    y0 = np.array([0] * b + [1] * c + [1] * same + [0] * 3)
    table = np.array([[same, b], [c, 3]])  # rows treated 1/0, columns control 1/0
    exact = mcnemar(y1, y0, method="exact")
    assert exact.p_value == pytest.approx(sm_mcnemar(table, exact=True).pvalue, rel=TOL)
    if b + c == 0:
        assert mcnemar(y1, y0, method="asymptotic").p_value == 1.0
        return
    plain = mcnemar(y1, y0, method="asymptotic")
    ref = sm_mcnemar(table, exact=False, correction=False)
    assert plain.statistic == pytest.approx(ref.statistic, rel=TOL)
    assert plain.p_value == pytest.approx(ref.pvalue, rel=TOL)
    if b != c:  # statsmodels' correction gives (|b-c|-1)^2 = 1 for b == c; ours max(0, .)^2 = 0
        corr = mcnemar(y1, y0, method="corrected")
        ref = sm_mcnemar(table, exact=False, correction=True)
        assert corr.statistic == pytest.approx(ref.statistic, rel=TOL)
        assert corr.p_value == pytest.approx(ref.pvalue, rel=TOL)


def strata_data(seed: int, n_strata: int, size: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    s = np.repeat(np.arange(n_strata), size)
    arm = rng.integers(0, 2, s.size)
    y = (rng.random(s.size) < 0.2 + 0.3 * arm).astype(int)
    return arm, y, s


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10**6), n_strata=st.integers(1, 5), size=st.integers(4, 12))
def test_cmh_against_statsmodels(seed: int, n_strata: int, size: int) -> None:
    arm, y, s = strata_data(seed, n_strata, size)
    tables = []
    for k in range(n_strata):
        m = s == k
        tables.append(
            [
                [((arm == 1) & (y == 1) & m).sum(), ((arm == 1) & (y == 0) & m).sum()],
                [((arm == 0) & (y == 1) & m).sum(), ((arm == 0) & (y == 0) & m).sum()],
            ]
        )
    st_table = StratifiedTable(np.array(tables, dtype=float).transpose(1, 2, 0))
    for corr in (False, True):
        got = cmh(arm, y, s, correction=corr)
        if got.note == "no variation":
            continue
        tab = np.array(tables, dtype=float)
        size = tab.sum(axis=(1, 2))
        dev = abs(sum(tab[:, 0, 0] - tab[:, 0].sum(axis=1) * tab[:, :, 0].sum(axis=1) / size))
        if corr and dev < 0.5:
            # statsmodels: (|dev| - 0.5)^2 > 0 even when |dev| < 0.5; ours: max(0, .)^2 = 0
            assert got.statistic == 0.0
            continue
        ref = st_table.test_null_odds(correction=corr)
        assert got.statistic == pytest.approx(ref.statistic, rel=TOL, abs=1e-12)
        # statsmodels computes p as 1 - cdf: absolute error ~1e-16 for small p
        assert got.p_value == pytest.approx(ref.pvalue, rel=TOL, abs=1e-14)


def brute_stratified(arm: np.ndarray, y: np.ndarray, s: np.ndarray) -> float:
    """Exact conditional p by enumerating every within-stratum relabelling (pure Python)."""
    per = []
    for k in np.unique(s):
        idx = np.flatnonzero(s == k)
        n1 = int(arm[idx].sum())
        per.append([sum(int(y[i]) for i in c) for c in itertools.combinations(idx, n1)])
    tally: dict[int, int] = {}
    for combo in itertools.product(*per):
        tally[sum(combo)] = tally.get(sum(combo), 0) + 1
    total = sum(tally.values())
    obs = int(y[arm == 1].sum())
    p_obs = tally[obs] / total
    return sum(v / total for v in tally.values() if v / total <= p_obs * (1 + 1e-7))


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10**6), n_strata=st.integers(1, 3), size=st.integers(3, 7))
def test_stratified_exact_against_brute_force(seed: int, n_strata: int, size: int) -> None:
    arm, y, s = strata_data(seed, n_strata, size)
    got = stratified_exact(arm, y, s)
    assert got.p_value == pytest.approx(brute_stratified(arm, y, s), rel=1e-9)
    if n_strata == 1 and 0 < arm.sum() < arm.size:
        t = np.array(
            [
                [y[arm == 1].sum(), (1 - y[arm == 1]).sum()],
                [y[arm == 0].sum(), (1 - y[arm == 0]).sum()],
            ]
        )
        assert got.p_value == pytest.approx(scipy.stats.fisher_exact(t).pvalue, rel=1e-9)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10**6), n_pairs=st.integers(1, 12))
def test_pair_randomisation_equals_mcnemar_exact(seed: int, n_pairs: int) -> None:
    """Re-flipping pairs on a 0/1 outcome is McNemar's exact test (only discordant pairs
    move the statistic, and their signs are fair coins)."""
    rng = np.random.default_rng(seed)
    y1, y0 = rng.integers(0, 2, n_pairs), rng.integers(0, 2, n_pairs)
    arm = np.r_[np.ones(n_pairs, int), np.zeros(n_pairs, int)]
    pair = np.r_[np.arange(n_pairs), np.arange(n_pairs)]
    ri = randomisation_test(arm, np.r_[y1, y0], scheme="pairs", pair=pair)
    assert ri.method == "exact"
    assert ri.p_value == pytest.approx(mcnemar(y1, y0).p_value, rel=1e-12)


def brute_strata_ri(arm: np.ndarray, y: np.ndarray, s: np.ndarray) -> float:
    per = []
    groups = [np.flatnonzero(s == k) for k in np.unique(s)]
    for idx in groups:
        per.append(list(itertools.combinations(idx.tolist(), int(arm[idx].sum()))))
    n1 = arm.sum()
    obs = y[arm == 1].mean() - y[arm == 0].mean()
    hit = total = 0
    for combo in itertools.product(*per):
        treated = set(itertools.chain.from_iterable(combo))
        m1 = sum(y[i] for i in treated) / n1
        m0 = sum(y[i] for i in range(y.size) if i not in treated) / (y.size - n1)
        total += 1
        hit += abs(m1 - m0) >= abs(obs) - 1e-9
    return hit / total


def test_strata_randomisation_exact_and_monte_carlo() -> None:
    rng = np.random.default_rng(5)
    s = np.repeat([0, 1, 2], [6, 5, 6])
    arm = np.r_[[1, 1, 1, 0, 0, 0], [1, 1, 0, 0, 0], [1, 1, 1, 0, 0, 0]]
    y = rng.normal(size=s.size) + 0.8 * arm
    exact = randomisation_test(arm, y, scheme="strata", stratum=s)
    assert exact.method == "exact"
    assert exact.p_value == pytest.approx(brute_strata_ri(arm, y, s), rel=1e-12)
    mc = randomisation_test(arm, y, scheme="strata", stratum=s, max_exact=10, draws=4000, seed=3)
    assert mc.method == "monte carlo" and "(1 + #)/(1 + R)" in mc.note
    # 5 binomial standard errors
    assert abs(mc.p_value - exact.p_value) < 5 * math.sqrt(0.25 / 4000)
    again = randomisation_test(arm, y, scheme="strata", stratum=s, max_exact=10, draws=4000, seed=3)
    assert again.p_value == mc.p_value
    # pairs, Monte Carlo (2^25 > max_exact) against the exact McNemar p
    n_pairs = 25
    y1 = (rng.random(n_pairs) < 0.5).astype(int)
    y0 = (rng.random(n_pairs) < 0.2).astype(int)
    arm2 = np.r_[np.ones(n_pairs, int), np.zeros(n_pairs, int)]
    pair = np.r_[np.arange(n_pairs), np.arange(n_pairs)]
    mc2 = randomisation_test(arm2, np.r_[y1, y0], scheme="pairs", pair=pair, draws=4000, seed=1)
    ref = mcnemar(y1, y0).p_value
    assert mc2.method == "monte carlo"
    assert abs(mc2.p_value - ref) < 5 * math.sqrt(0.25 / 4000)
    # incomplete pairs are dropped and counted
    inc = randomisation_test(arm2[1:], np.r_[y1, y0][1:], scheme="pairs", pair=pair[1:], draws=99)
    assert "1 person(s) in incomplete pairs dropped" in inc.note


@settings(max_examples=150, deadline=None)
@given(
    e1=st.integers(0, 30),
    n1=st.integers(1, 30),
    e0=st.integers(0, 30),
    n0=st.integers(1, 30),
    level=st.sampled_from([0.8, 0.9, 0.95, 0.99]),
)
def test_newcombe_against_statsmodels(e1: int, n1: int, e0: int, n0: int, level: float) -> None:
    e1, e0 = min(e1, n1), min(e0, n0)
    lo, hi = newcombe(e1, n1, e0, n0, level)
    ref = confint_proportions_2indep(
        e1, n1, e0, n0, method="newcomb", compare="diff", alpha=1 - level
    )
    assert lo == pytest.approx(ref[0], rel=TOL, abs=1e-12)
    assert hi == pytest.approx(ref[1], rel=TOL, abs=1e-12)
    w = wilson(e1, n1, level)
    ref_w = proportion_confint(e1, n1, alpha=1 - level, method="wilson")
    assert w[0] == pytest.approx(ref_w[0], rel=TOL, abs=1e-12)
    assert w[1] == pytest.approx(ref_w[1], rel=TOL, abs=1e-12)


def test_risk_difference_result_protocol() -> None:
    arm = np.r_[np.ones(28, int), np.zeros(26, int)]
    y = np.r_[np.ones(8, int), np.zeros(20, int), np.ones(2, int), np.zeros(24, int)]
    rd = risk_difference(arm, y, outcome="self_support")
    assert isinstance(rd, Result)
    tidy = rd.tidy()
    assert tuple(tidy.columns[:7]) == TIDY_LEADING
    assert tidy["interval"].to_list() == ["newcombe", "exact", "wald"]
    new = tidy.row(0, named=True)
    ref = confint_proportions_2indep(8, 28, 2, 26, method="newcomb", compare="diff")
    assert (new["conf_low"], new["conf_high"]) == pytest.approx(ref, rel=TOL)
    # the newcombe row's test is the score test = uncorrected Pearson chi-square
    chi = scipy.stats.chi2_contingency([[8, 20], [2, 24]], correction=False)
    assert new["p_value"] == pytest.approx(chi.pvalue, rel=TOL)
    wald = tidy.row(2, named=True)
    se = math.sqrt(8 / 28 * 20 / 28 / 28 + 2 / 26 * 24 / 26 / 26)
    assert wald["std_error"] == pytest.approx(se, rel=TOL)
    assert wald["conf_low"] == pytest.approx(8 / 28 - 2 / 26 - 1.959963984540054 * se, rel=1e-9)
    assert rd.confint(0.9).height == 3 and rd.glance()["n_obs"][0] == 54
    assert rd.vcov.shape == (1, 1) and "risk difference" in repr(rd)
    # separation: zero events in both arms' one side -> Wald row dropped, Newcombe finite
    zero = risk_difference(arm, np.r_[np.ones(4, int), np.zeros(50, int)])
    assert zero.tidy()["interval"].to_list() == ["newcombe", "exact", "wald"]
    none = risk_difference(np.r_[1, 1, 0, 0], np.r_[1, 1, 0, 0])
    t = none.tidy()
    assert t["interval"].to_list() == ["newcombe", "exact"] and np.isfinite(t["conf_low"][0])
    assert "Wald row omitted" in str(none.summary())
    with pytest.raises(InputError):
        risk_difference(np.r_[1, 1], np.r_[1, 0])
    with pytest.raises(InputError):
        rd.tidy(exponentiate=True)


def test_continuous_convention() -> None:
    rng = np.random.default_rng(2)
    arm = np.r_[np.ones(30, int), np.zeros(30, int)]
    normal = np.r_[rng.normal(1, 1, 30), rng.normal(0, 1, 30)]
    t = compare_continuous(arm, normal, outcome_name="hours")
    by = {r["test"]: r for r in t.iter_rows(named=True)}
    assert by["Shapiro-Wilk (treated)"]["p_value"] == pytest.approx(
        scipy.stats.shapiro(normal[:30]).pvalue, rel=TOL
    )
    ref = scipy.stats.ttest_ind(normal[:30], normal[30:])
    assert by["Student t"]["p_value"] == pytest.approx(ref.pvalue, rel=TOL)
    assert by["Student t"]["chosen"] == (
        by["Shapiro-Wilk (treated)"]["p_value"] > 0.05
        and by["Shapiro-Wilk (control)"]["p_value"] > 0.05
    )
    skewed = np.r_[rng.exponential(2, 30) ** 2, rng.exponential(1, 30) ** 2]
    t2 = compare_continuous(arm, skewed)
    chosen = t2.filter(pl.col("chosen"))["test"].to_list()
    assert chosen == ["Wilcoxon rank-sum"]
    mw = scipy.stats.mannwhitneyu(skewed[:30], skewed[30:], alternative="two-sided")
    assert t2.filter(pl.col("test") == "Wilcoxon rank-sum")["p_value"][0] == pytest.approx(
        mw.pvalue, rel=TOL
    )
    assert t2["chosen"].sum() == 1
    with pytest.raises(InputError, match="3 persons"):
        compare_continuous(np.r_[1, 1, 0, 0], np.r_[1.0, 2, 3, 4])


@pytest.mark.parametrize(
    ("x1", "n1", "x0", "n0"),
    [(8, 28, 2, 26), (4, 28, 0, 26), (3, 10, 7, 12), (0, 5, 0, 6), (5, 5, 0, 5), (2, 7, 3, 9)],
)
def test_exact_tails_are_barnard(x1: int, n1: int, x0: int, n0: int) -> None:
    """At d = 0 the score statistic is the pooled Wald statistic: the exact tails are
    Barnard's one-sided tests (scipy maximises the nuisance parameter independently)."""
    from dreamkit.estimate.smalltrial.exact_interval import _Outcomes

    up, down = _Outcomes(n1, n0).p_values(x1, x0, 0.0, 200)
    table = np.array([[x1, x0], [n1 - x1, n0 - x0]])
    ref_up = scipy.stats.barnard_exact(table, alternative="greater", pooled=True).pvalue
    ref_down = scipy.stats.barnard_exact(table, alternative="less", pooled=True).pvalue
    assert up == pytest.approx(ref_up, rel=1e-8, abs=1e-12)
    assert down == pytest.approx(ref_down, rel=1e-8, abs=1e-12)
    lo, hi = exact_rd_interval(x1, n1, x0, n0)
    assert lo <= x1 / n1 - x0 / n0 <= hi
    # the interval excludes 0 exactly when a one-sided exact test rejects at 2.5%
    assert (lo > 0) == (ref_up <= 0.025) and (hi < 0) == (ref_down <= 0.025)


def test_exact_interval_coverage() -> None:
    """Exact coverage (all outcomes weighted by their binomial probabilities) is at least
    the nominal level at several true (p1, p0); Newcombe's is reported for contrast only."""
    n1, n0, level = 6, 5, 0.9
    intervals = {
        (x1, x0): exact_rd_interval(x1, n1, x0, n0, level)
        for x1 in range(n1 + 1)
        for x0 in range(n0 + 1)
    }
    for p1, p0 in [(0.5, 0.5), (0.3, 0.1), (0.8, 0.2), (0.05, 0.4), (0.95, 0.9)]:
        cover = 0.0
        for (x1, x0), (lo, hi) in intervals.items():
            if lo <= p1 - p0 <= hi:
                cover += scipy.stats.binom.pmf(x1, n1, p1) * scipy.stats.binom.pmf(x0, n0, p0)
        assert cover >= level - 1e-6, (p1, p0, cover)
    assert intervals[(0, 0)][0] < 0 < intervals[(0, 0)][1]
    assert intervals[(6, 0)][1] == 1.0


def test_risk_difference_exact_row() -> None:
    rd = risk_difference(
        np.r_[np.ones(28, int), np.zeros(26, int)],
        np.r_[np.ones(4, int), np.zeros(24, int), np.zeros(26, int)],
    )
    t = rd.tidy()
    assert t["interval"].to_list() == ["newcombe", "exact", "wald"]
    exact = t.row(1, named=True)
    assert (exact["conf_low"], exact["conf_high"]) == pytest.approx(
        exact_rd_interval(4, 28, 0, 26), rel=1e-12
    )
    ref = scipy.stats.barnard_exact([[4, 0], [24, 26]], alternative="greater").pvalue
    assert exact["p_value"] == pytest.approx(min(1.0, 2 * ref), rel=1e-8)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10**6), n_strata=st.integers(1, 5), size=st.integers(6, 15))
def test_mantel_haenszel_against_statsmodels(seed: int, n_strata: int, size: int) -> None:
    arm, y, s = strata_data(seed, n_strata, size)
    tables = np.array(
        [
            [
                [
                    ((arm == 1) & (y == 1) & (s == k)).sum(),
                    ((arm == 1) & (y == 0) & (s == k)).sum(),
                ],
                [
                    ((arm == 0) & (y == 1) & (s == k)).sum(),
                    ((arm == 0) & (y == 0) & (s == k)).sum(),
                ],
            ]
            for k in range(n_strata)
        ],
        dtype=float,
    )
    r = (tables[:, 0, 0] * tables[:, 1, 1] / tables.sum(axis=(1, 2))).sum()
    q = (tables[:, 0, 1] * tables[:, 1, 0] / tables.sum(axis=(1, 2))).sum()
    if r == 0 or q == 0:
        with pytest.raises(EstimationError, match="stratified exact"):
            mantel_haenszel(arm, y, s)
        return
    ref = StratifiedTable(tables.transpose(1, 2, 0))
    got = mantel_haenszel(arm, y, s, outcome="x")
    row = got.tidy().row(0, named=True)
    assert row["estimate"] == pytest.approx(ref.logodds_pooled, rel=TOL, abs=1e-12)
    assert row["std_error"] == pytest.approx(ref.logodds_pooled_se, rel=TOL)
    ratio = got.tidy(exponentiate=True).row(0, named=True)
    lo, hi = ref.oddsratio_pooled_confint()
    assert (ratio["conf_low"], ratio["conf_high"]) == pytest.approx((lo, hi), rel=1e-9)
    assert ratio["estimate"] == pytest.approx(ref.oddsratio_pooled, rel=TOL)
    assert isinstance(got, Result) and got.glance()["n_strata"][0] == n_strata
