"""The exact working-model reference of a CR2 t-statistic (dreamkit.inference.working_t).

Checked against (a) the closed form: with k equal eigenvalues T ~ t_k exactly (scipy's t, to
1e-9: both sides are numerically exact, the Imhof integral is computed to 1e-11); (b) a
Monte Carlo of Z / sqrt(sum lam_j chi2_j / sum lam) itself for unequal eigenvalues (the
design's shape: two dominant, many small), within 4.5 binomial standard errors; (c) the
Satterthwaite (Bell-McCaffrey) t(nu) test is conservative for such eigenvalues and exact for
equal ones.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.stats

from dreamkit.errors import InputError
from dreamkit.inference.working_t import working_t_critical_value, working_t_pvalue

#: Normalised eigenvalues of the unequal-clusters design's Γ (12 teams: 3 of 50, 9 of 5).
UNEQUAL = np.array([0.36, 0.343, 0.098, 0.032, 0.028, 0.027, 0.025, 0.024, 0.022, 0.021, 0.021])


@pytest.mark.parametrize("k", [1, 2, 3, 7, 30])
def test_equal_eigenvalues_give_students_t(k: int) -> None:
    lam = np.full(k, 2.5)  # any scale
    for t in (0.3, 1.0, 2.0, 3.5):
        assert working_t_pvalue(t, lam) == pytest.approx(
            2 * scipy.stats.t.sf(t, k), rel=1e-9, abs=1e-12
        )
        assert working_t_pvalue(-t, lam) == working_t_pvalue(t, lam)
    for level in (0.9, 0.95, 0.99):
        q = working_t_critical_value(level, lam)
        assert q == pytest.approx(scipy.stats.t.ppf(0.5 + level / 2, k), rel=1e-9)


def test_unequal_eigenvalues_match_the_simulated_ratio() -> None:
    rng = np.random.default_rng(11)
    r = 400_000
    q = rng.chisquare(1, (r, UNEQUAL.size)) @ UNEQUAL / UNEQUAL.sum()
    t_abs = np.abs(rng.standard_normal(r)) / np.sqrt(q)
    for t in (1.0, 2.0, 2.6, 3.5):
        p = working_t_pvalue(t, UNEQUAL)
        se = np.sqrt(p * (1 - p) / r)
        assert abs(float((t_abs > t).mean()) - p) < 4.5 * se, t


def test_critical_value_inverts_the_p_value_and_ignores_zero_eigenvalues() -> None:
    q = working_t_critical_value(0.95, UNEQUAL)
    assert working_t_pvalue(q, UNEQUAL) == pytest.approx(0.05, rel=1e-8)
    padded = np.concatenate([UNEQUAL * 7.0, [0.0, 1e-17]])
    assert working_t_critical_value(0.95, padded) == pytest.approx(q, rel=1e-10)
    assert working_t_pvalue(0.0, UNEQUAL) == 1.0


def test_satterthwaite_df_is_conservative_for_dominant_eigenvalues() -> None:
    """nu = (sum lam)^2 / sum lam^2 matches two moments only: for two dominant eigenvalues
    and many small ones, t(nu)'s 97.5% point exceeds the exact one and the t(nu) test
    rejects about 3.6% of the time at the 5% level."""
    nu = UNEQUAL.sum() ** 2 / (UNEQUAL**2).sum()
    q_bm = scipy.stats.t.ppf(0.975, nu)
    q_exact = working_t_critical_value(0.95, UNEQUAL)
    assert q_exact < q_bm
    size_bm = working_t_pvalue(q_bm, UNEQUAL)
    assert 0.030 < size_bm < 0.040


def test_bad_input() -> None:
    with pytest.raises(InputError, match="eigenvalues"):
        working_t_pvalue(1.0, np.zeros(3))
    with pytest.raises(InputError, match="level"):
        working_t_critical_value(1.5, UNEQUAL)


def test_extreme_statistics_and_many_eigenvalues() -> None:
    """Tiny and huge |t| give p near 1 and 0 (monotone); 2,000 eigenvalues (a large design)
    neither overflow nor lose the normal limit (T -> Z as no eigenvalue dominates)."""
    ps = [working_t_pvalue(t, UNEQUAL) for t in (1e-8, 0.5, 2.0, 10.0, 50.0, 1e5)]
    assert ps[0] == pytest.approx(1.0, abs=1e-9) and ps[-1] < 1e-9
    assert all(a > b for a, b in itertools.pairwise(ps))
    many = np.random.default_rng(0).gamma(2.0, 1.0, 2000)
    nu = many.sum() ** 2 / (many**2).sum()
    assert working_t_pvalue(2.0, many) == pytest.approx(2 * scipy.stats.t.sf(2.0, nu), rel=1e-3)
