"""Randomisation inference within teams: exactness, enumeration, Monte Carlo limit, size."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats

from dreamkit.errors import InputError
from dreamkit.inference import (
    block_design,
    count_allocations,
    draw_allocations,
    enumerate_allocations,
    fwl_statistic,
    randomization_inference,
)

TIE = 1e-9


def _tiny_design(seed: int):
    """Three teams: (4 persons, 2 treated), (3, 1), (5, 2) -> 6 * 3 * 10 = 180 allocations."""
    rng = np.random.default_rng(seed)
    blocks = np.repeat([0, 1, 2], [4, 3, 5])
    treated = np.zeros(12, dtype=int)
    for b, k in zip([0, 1, 2], [2, 1, 2], strict=True):
        treated[rng.choice(np.flatnonzero(blocks == b), size=k, replace=False)] = 1
    z = np.column_stack([(blocks == b).astype(float) for b in range(3)])
    y = rng.normal(size=(12, 2)) + 0.7 * treated[:, None]
    return y, treated, blocks, z


def _lstsq_coef(y, t, z):
    x = np.column_stack([t, z])
    return np.linalg.lstsq(x, y, rcond=None)[0][0]


def test_exact_equals_bruteforce_itertools():
    y, treated, blocks, z = _tiny_design(0)
    res = randomization_inference(
        fwl_statistic(y, z), treated, blocks, n_draws=999, exact_if_at_most=1000
    )
    assert res.exact and res.n_allocations == 180 and res.draws.shape == (180, 2)
    # independent brute force: every combination in every block, coefficient by lstsq
    members = [np.flatnonzero(blocks == b) for b in range(3)]
    stats_all = []
    for combo in itertools.product(
        *[itertools.combinations(m, k) for m, k in zip(members, [2, 1, 2], strict=True)]
    ):
        t = np.zeros(12)
        t[np.concatenate(combo)] = 1
        stats_all.append(_lstsq_coef(y, t, z))
    stats_all = np.array(stats_all)
    obs = _lstsq_coef(y, treated, z)
    np.testing.assert_allclose(res.statistic, obs, rtol=1e-10)
    expected = np.mean(np.abs(stats_all) >= np.abs(obs) * (1 - TIE), axis=0)
    np.testing.assert_array_equal(res.p_value, expected)
    for alt, hits in (("greater", stats_all >= obs - TIE), ("less", stats_all <= obs + TIE)):
        one = randomization_inference(fwl_statistic(y, z), treated, blocks, alternative=alt)
        np.testing.assert_array_equal(one.p_value, hits.mean(axis=0))


def test_enumeration_lists_each_allocation_once():
    _, treated, blocks, _ = _tiny_design(1)
    design = block_design(treated, blocks)
    alloc = enumerate_allocations(design)
    assert count_allocations(design) == math.comb(4, 2) * math.comb(3, 1) * math.comb(5, 2)
    assert np.unique(alloc, axis=0).shape[0] == alloc.shape[0] == 180
    for b, k in zip([0, 1, 2], [2, 1, 2], strict=True):
        assert (alloc[:, blocks == b].sum(axis=1) == k).all()
    assert (alloc == treated).all(axis=1).sum() == 1  # the observed allocation is among them


def test_monte_carlo_converges_to_exact():
    y, treated, blocks, z = _tiny_design(2)
    exact = randomization_inference(fwl_statistic(y, z), treated, blocks)
    mc = randomization_inference(
        fwl_statistic(y, z), treated, blocks, n_draws=20_000, exact_if_at_most=0, seed=3
    )
    assert exact.exact and not mc.exact
    mc_sd = np.sqrt(exact.p_value * (1 - exact.p_value) / 20_000)
    assert np.all(np.abs(mc.p_value - exact.p_value) <= 4 * mc_sd + 1 / 20_001)


def test_draws_keep_block_counts_and_are_uniform():
    _, treated, blocks, _ = _tiny_design(4)
    design = block_design(treated, blocks)
    rng = np.random.default_rng(0)
    draws = draw_allocations(design, 36_000, rng)
    for b, k in zip([0, 1, 2], [2, 1, 2], strict=True):
        assert (draws[:, blocks == b].sum(axis=1) == k).all()
    # chi-square goodness of fit over the 180 allocations (expected 200 each)
    alloc = enumerate_allocations(design)
    index = {row.tobytes(): i for i, row in enumerate(alloc)}
    counts = np.bincount([index[row.tobytes()] for row in draws], minlength=180)
    assert stats.chisquare(counts).pvalue > 1e-3


def test_fwl_statistic_matches_statsmodels(trial):
    stat_coef = fwl_statistic(trial.y, trial.Z)
    stat_t = fwl_statistic(trial.y, trial.Z, trial.teams, studentize=True)
    rng = np.random.default_rng(0)
    design = block_design(trial.d.astype(int), trial.teams)
    alloc = np.vstack([trial.d.astype(np.int8), draw_allocations(design, 3, rng)])
    coef, tval = stat_coef(alloc), stat_t(alloc)
    assert coef.shape == tval.shape == (4, trial.y.shape[1])
    for m in range(4):
        x = np.column_stack([alloc[m], trial.Z])
        for w in range(trial.y.shape[1]):
            fit = sm.OLS(trial.y[:, w], x).fit(cov_type="cluster", cov_kwds={"groups": trial.teams})
            assert coef[m, w] == pytest.approx(fit.params[0], rel=1e-10)
            assert tval[m, w] == pytest.approx(fit.tvalues[0], rel=1e-10)


def test_callback_contrast_equals_vectorised(trial):
    """A per-vector callback (here tau_low - tau_high) gives the same draws as its batch form."""
    low = np.arange(trial.d.shape[0]) % 3 == 0

    def contrast(t):
        t = np.asarray(t, dtype=float)
        a = _lstsq_coef(trial.y[low], t[low], trial.Z[low])
        b = _lstsq_coef(trial.y[~low], t[~low], trial.Z[~low])
        return a - b

    stat_low, stat_high = (
        fwl_statistic(trial.y[low], trial.Z[low]),
        fwl_statistic(trial.y[~low], trial.Z[~low]),
    )

    def batch(alloc):
        return stat_low(alloc[:, low]) - stat_high(alloc[:, ~low])

    one = randomization_inference(contrast, trial.d, trial.teams, n_draws=60, seed=9)
    many = randomization_inference(batch, trial.d, trial.teams, n_draws=60, seed=9, vectorized=True)
    assert not one.exact
    np.testing.assert_allclose(one.draws, many.draws, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(one.p_value, many.p_value)


def test_size_under_sharp_null(trial_factory):
    """Outcomes fixed, allocation re-drawn by the design: P(p <= 0.05) = 0.05 exactly
    ((1 + R) * 0.05 is an integer). 400 replications: binomial 4-sd band."""
    reps, r_draws, alpha = 400, 199, 0.05
    rejections = 0
    for rep in range(reps):
        tr = trial_factory(seed=1000 + rep, n_teams=10, n_outcomes=1)
        res = randomization_inference(
            fwl_statistic(tr.y, tr.Z, tr.teams, studentize=rep % 2 == 0),
            tr.d,
            tr.teams,
            n_draws=r_draws,
            seed=rep,
        )
        rejections += int(res.p_value[0] <= alpha)
    rate = rejections / reps
    half_width = 4 * np.sqrt(alpha * (1 - alpha) / reps)
    assert abs(rate - alpha) <= half_width


def test_power_against_a_large_effect(trial_factory):
    tr = trial_factory(seed=5, n_teams=20, effect=1.5, n_outcomes=1)
    res = randomization_inference(fwl_statistic(tr.y, tr.Z), tr.d, tr.teams, n_draws=499)
    assert res.p_value[0] == pytest.approx(1 / 500)


def test_errors(trial):
    with pytest.raises(InputError, match="0 and 1"):
        randomization_inference(fwl_statistic(trial.y, trial.Z), trial.d * 2, trial.teams)
    with pytest.raises(InputError, match="missing or infinite"):
        randomization_inference(lambda t: np.nan, trial.d, trial.teams, n_draws=5)
    with pytest.raises(InputError, match="clusters"):
        fwl_statistic(trial.y, trial.Z, studentize=True)
    with pytest.raises(InputError, match="alternative"):
        randomization_inference(
            fwl_statistic(trial.y, trial.Z),
            trial.d,
            trial.teams,
            alternative="both",  # type: ignore[arg-type]
        )
