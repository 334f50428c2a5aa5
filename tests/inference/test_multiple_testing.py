"""Romano-Wolf, Westfall-Young, Holm and Benjamini-Hochberg."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.multitest import multipletests

from dreamkit.errors import InputError
from dreamkit.inference import adjust_pvalues, romano_wolf, westfall_young

TIE = 1e-9


def _unadjusted(t_obs, t_draws, plus_one=True):
    hits = (np.abs(t_draws) >= np.abs(t_obs) * (1 - TIE)).sum(axis=0)
    return (plus_one + hits) / (plus_one + t_draws.shape[0])


def _draws(seed, n_hyp, n_boot, rho):
    rng = np.random.default_rng(seed)
    corr = np.full((n_hyp, n_hyp), rho) + (1 - rho) * np.eye(n_hyp)
    scale = rng.uniform(0.5, 2.0, n_hyp)  # different marginals across hypotheses
    draws = rng.multivariate_normal(np.zeros(n_hyp), corr, size=n_boot) * scale
    t_obs = rng.normal(size=n_hyp) * scale + rng.choice([0.0, 3.0], n_hyp) * scale
    return t_obs, draws


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 100_000), n_hyp=st.integers(1, 12), rho=st.floats(0.0, 0.95))
def test_adjusted_at_least_unadjusted(seed, n_hyp, rho):
    t_obs, draws = _draws(seed, n_hyp, 199, rho)
    p = _unadjusted(t_obs, draws)
    rw = romano_wolf(t_obs, draws)
    wy_min = westfall_young(t_obs, draws, method="minp")
    wy_max = westfall_young(t_obs, draws, method="maxt")
    for adj in (rw, wy_min, wy_max):
        assert np.all(adj >= p - 1e-15) and np.all(adj <= 1)
    assert np.all(rw <= wy_max + 1e-15)  # step-down never above single-step
    assert np.all(wy_min <= np.minimum(1, n_hyp * p) + 1e-15)  # min-P: Bonferroni bound
    top = np.argmax(np.abs(t_obs))
    assert rw[top] == wy_max[top]  # first step of the step-down is the single-step max-T


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 100_000), n_hyp=st.integers(1, 12), plus_one=st.booleans())
def test_romano_wolf_between_unadjusted_and_bonferroni(seed, n_hyp, plus_one):
    """With identical marginal null distributions (columns are permutations of one vector)
    the Romano-Wolf p-value lies between the unadjusted one and Bonferroni, draw for draw."""
    rng = np.random.default_rng(seed)
    base = rng.standard_t(df=5, size=149)
    draws = np.column_stack([rng.permutation(base) for _ in range(n_hyp)])
    t_obs = rng.normal(size=n_hyp) * 2.0
    p = _unadjusted(t_obs, draws, plus_one)
    rw = romano_wolf(t_obs, draws, plus_one=plus_one)
    assert np.all(rw >= p - 1e-15)
    assert np.all(rw <= np.minimum(1, n_hyp * p) + 1e-15)


def test_independent_hypotheses_match_sidak_limit():
    """Independent N(0,1) statistics: single-step max-T p ~ 1 - (1 - p)^K."""
    rng = np.random.default_rng(0)
    n_hyp, n_boot = 5, 200_000
    draws = rng.standard_normal((n_boot, n_hyp))
    t_obs = np.array([2.8, 0.3, -1.0, 2.2, -0.1])
    p = _unadjusted(t_obs, draws)
    sidak = 1 - (1 - p) ** n_hyp
    wy = westfall_young(t_obs, draws, method="maxt")
    assert np.all(np.abs(wy - sidak) <= 4 * np.sqrt(sidak * (1 - sidak) / n_boot) + 1e-5)


def test_romano_wolf_controls_familywise_error():
    """All nulls true, equicorrelated t's: P(any RW p <= 0.1) near 0.1 (binomial 4-sd band)."""
    rng = np.random.default_rng(1)
    n_hyp, reps, n_boot, alpha = 8, 400, 199, 0.1
    corr = np.full((n_hyp, n_hyp), 0.5) + 0.5 * np.eye(n_hyp)
    chol = np.linalg.cholesky(corr)
    any_reject = 0
    for _ in range(reps):
        sample = rng.standard_normal((n_boot + 1, n_hyp)) @ chol.T
        any_reject += bool((romano_wolf(sample[0], sample[1:]) <= alpha).any())
    rate = any_reject / reps
    assert abs(rate - alpha) <= 4 * np.sqrt(alpha * (1 - alpha) / reps)


def _holm_by_hand(p):
    order = np.argsort(p)
    k = p.shape[0]
    stepped = np.maximum.accumulate((k - np.arange(k)) * p[order])
    out = np.empty(k)
    out[order] = np.minimum(1, stepped)
    return out


def _bh_by_hand(p):
    order = np.argsort(p)[::-1]
    k = p.shape[0]
    ranks = np.arange(k, 0, -1)
    stepped = np.minimum.accumulate(p[order] * k / ranks)
    out = np.empty(k)
    out[order] = np.minimum(1, stepped)
    return out


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(0.0, 1.0), min_size=1, max_size=30))
def test_holm_and_bh(p_list):
    p = np.array(p_list)
    for method, by_hand in (("holm", _holm_by_hand), ("fdr_bh", _bh_by_hand)):
        adj = adjust_pvalues(p, method)
        np.testing.assert_allclose(adj, multipletests(p, method=method)[1], rtol=1e-12)
        np.testing.assert_allclose(adj, by_hand(p), rtol=1e-12, atol=1e-15)


def test_adjust_keeps_shape():
    p = np.linspace(0.001, 0.5, 12).reshape(3, 4)
    adj = adjust_pvalues(p, "holm")
    assert adj.shape == (3, 4)
    np.testing.assert_allclose(adj.ravel(), multipletests(p.ravel(), method="holm")[1])


def test_errors():
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        adjust_pvalues([0.2, 1.3])
    with pytest.raises(InputError, match="method"):
        adjust_pvalues([0.2], "nonsense")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="t_draws"):
        romano_wolf(np.zeros(3), np.zeros((10, 2)))
    with pytest.raises(InputError, match="method"):
        westfall_young(np.zeros(2), np.zeros((10, 2)), method="bonf")  # type: ignore[arg-type]
