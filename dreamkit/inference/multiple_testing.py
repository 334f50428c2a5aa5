r"""Multiple-testing adjustments across weeks, subgroups or balance variables.

Resampling-based family-wise error control uses the joint null distribution of the K test
statistics, here draws :math:`t^*_{bk}` (B, K) from a wild bootstrap (WCR draws, or centred
WCU draws) or from randomisation inference. All tests are two-sided in :math:`|t|`.

With ``plus_one=True`` (default) the observed statistics are pooled with the draws as one more
draw, so every count has the form :math:`(1 + \#)/(1 + B)` — the randomisation-test
convention, valid for Monte Carlo draws. Use ``plus_one=False`` for draws from a full
enumeration (which already include the observed allocation) or for the :math:`\#/B`
bootstrap convention.

* Romano-Wolf step-down (Romano & Wolf 2005, 2016), equal to Westfall-Young step-down max-T:
  order hypotheses by :math:`|t_{(1)}| \ge \dots \ge |t_{(K)}|`; at step s,
  :math:`p_s = \Pr^*(\max_{k \in \{(s),\dots,(K)\}} |t^*_k| \ge |t_{(s)}|)`;
  adjusted :math:`\tilde p_{(s)} = \max_{r \le s} p_r`.
* Westfall-Young single-step max-T: :math:`\tilde p_k = \Pr^*(\max_{l} |t^*_l| \ge |t_k|)`.
* Westfall-Young step-down min-P (Westfall & Young 1993, Algorithm 2.8): marginal p-values
  :math:`p^*_{bk}` of each draw against the draws of its own column, hypotheses ordered by
  their marginal p-value, :math:`p_s = \Pr^*(\min_{k \in \{(s),\dots,(K)\}} p^*_k \le p_{(s)})`,
  then the same running maximum. Needs no pivotality of the t's across hypotheses.
* Holm and Benjamini-Hochberg (and the other ``statsmodels`` methods) via
  :func:`statsmodels.stats.multitest.multipletests`.
"""

from __future__ import annotations

from typing import Literal, get_args

import numpy as np
from numpy.typing import ArrayLike, NDArray
from statsmodels.stats.multitest import multipletests

from dreamkit.errors import InputError

_TIE_RTOL = 1e-9
PAdjustMethod = Literal[
    "holm", "fdr_bh", "bonferroni", "sidak", "holm-sidak", "hommel", "fdr_by", "simes-hochberg"
]


def romano_wolf(t_obs: ArrayLike, t_draws: ArrayLike, *, plus_one: bool = True) -> NDArray:
    """Romano-Wolf step-down adjusted p-values (K,) from observed t (K,) and null draws (B, K)."""
    pool, n_pool = _pool(t_obs, t_draws, plus_one)
    abs_obs = np.abs(np.asarray(t_obs, dtype=np.float64))
    order = np.argsort(-abs_obs, kind="stable")
    # suffix maxima: column s = max over hypotheses order[s:], for every pool row
    suffix_max = np.maximum.accumulate(pool[:, order[::-1]], axis=1)[:, ::-1]
    thresholds = abs_obs[order] * (1.0 - _TIE_RTOL)
    p_step = (suffix_max >= thresholds[None, :]).sum(axis=0) / n_pool
    return _monotone(p_step, order)


def westfall_young(
    t_obs: ArrayLike,
    t_draws: ArrayLike,
    *,
    method: Literal["maxt", "minp"] = "minp",
    plus_one: bool = True,
) -> NDArray:
    """Westfall-Young adjusted p-values (K,): single-step max-T or step-down min-P."""
    pool, n_pool = _pool(t_obs, t_draws, plus_one)
    abs_obs = np.abs(np.asarray(t_obs, dtype=np.float64))
    if method == "maxt":
        row_max = pool.max(axis=1)
        return (row_max[:, None] >= abs_obs[None, :] * (1.0 - _TIE_RTOL)).sum(axis=0) / n_pool
    if method != "minp":
        raise InputError(f"method must be 'maxt' or 'minp'; got {method!r}.")
    # counts #{pool rows at least as extreme} per entry: smaller count = smaller p-value
    sorted_cols = np.sort(pool, axis=0)
    draw_counts = np.empty(pool.shape, dtype=np.int64)
    for k in range(pool.shape[1]):
        draw_counts[:, k] = n_pool - np.searchsorted(
            sorted_cols[:, k], pool[:, k] * (1.0 - _TIE_RTOL), side="left"
        )
    obs_counts = np.array(
        [
            n_pool - np.searchsorted(sorted_cols[:, k], abs_obs[k] * (1.0 - _TIE_RTOL), side="left")
            for k in range(pool.shape[1])
        ]
    )
    order = np.lexsort((-abs_obs, obs_counts))
    suffix_min = np.minimum.accumulate(draw_counts[:, order[::-1]], axis=1)[:, ::-1]
    p_step = (suffix_min <= obs_counts[order][None, :]).sum(axis=0) / n_pool
    return _monotone(p_step, order)


def adjust_pvalues(p: ArrayLike, method: PAdjustMethod = "holm") -> NDArray[np.float64]:
    """Adjusted p-values of any shape via ``statsmodels.stats.multitest.multipletests``.

    ``"holm"``: Holm step-down (FWER); ``"fdr_bh"``: Benjamini-Hochberg (FDR); other
    statsmodels method names are passed through. The family is all entries of ``p``.
    """
    arr = np.asarray(p, dtype=np.float64)
    if arr.size == 0:
        raise InputError("p is empty; pass at least one p-value.")
    if not np.isfinite(arr).all() or ((arr < 0) | (arr > 1)).any():
        raise InputError(
            f"p must hold p-values in [0, 1]; {int((~np.isfinite(arr)).sum())} are missing and "
            f"{int(((arr < 0) | (arr > 1)).sum())} lie outside [0, 1]."
        )
    if method not in get_args(PAdjustMethod):
        raise InputError(f"method must be one of {get_args(PAdjustMethod)}; got {method!r}.")
    adjusted = multipletests(arr.ravel(), method=method)[1]
    return np.asarray(adjusted, dtype=np.float64).reshape(arr.shape)


def _pool(t_obs: ArrayLike, t_draws: ArrayLike, plus_one: bool) -> tuple[NDArray, int]:
    """|draws| (B, K), with |t_obs| prepended as one more row when ``plus_one``."""
    obs = np.asarray(t_obs, dtype=np.float64)
    draws = np.asarray(t_draws, dtype=np.float64)
    if obs.ndim != 1 or draws.ndim != 2 or draws.shape[1] != obs.shape[0] or obs.size == 0:
        raise InputError(
            f"t_obs must be (K,) and t_draws (B, K); got {obs.shape} and {draws.shape}."
        )
    if not (np.isfinite(obs).all() and np.isfinite(draws).all()):
        raise InputError("t_obs or t_draws has missing or infinite values.")
    pool = np.abs(np.vstack([obs[None, :], draws]) if plus_one else draws)
    return pool, pool.shape[0]


def _monotone(p_step: NDArray, order: NDArray) -> NDArray[np.float64]:
    """Running maximum over the step-down order, mapped back to the original positions."""
    adjusted = np.empty(order.shape[0])
    adjusted[order] = np.minimum(1.0, np.maximum.accumulate(p_step))
    return adjusted
