r"""Randomisation inference that respects the within-team lottery.

Under the sharp null of no effect for anyone, :math:`Y_i(1) = Y_i(0)` for every i, the outcomes
are fixed and only the allocation is random. Re-drawing the allocation from the actual design
(in each block the same number treated, every such allocation equally likely) gives the exact
null distribution of any statistic :math:`T(\mathbf{d})`:

* exact, by full enumeration of all :math:`M = \prod_b \binom{n_b}{k_b}` allocations (the
  observed one among them): :math:`p = M^{-1}\,\#\{m: |T(\mathbf{d}_m)| \ge |T_{obs}|\}`;
* Monte Carlo, with R random allocations and the observed one counted:
  :math:`p = (1 + \#\{r: |T(\mathbf{d}_r)| \ge |T_{obs}|\}) / (1 + R)`,
  a valid p-value for any R (:math:`P(p \le \alpha) \le \alpha`).

One-sided versions replace :math:`|T^*| \ge |T_{obs}|` by :math:`T^* \ge T_{obs}` or
:math:`T^* \le T_{obs}`. Ties count as at least as extreme (relative tolerance 1e-9, so
equal statistics that differ only by rounding are ties).

The statistic is any function of the treatment vector returning K numbers (W weekly effects,
a contrast such as :math:`\tau_{low} - \tau_{high}`, a peer contrast, ...). For the FWL
coefficient or its cluster-robust t, :func:`fwl_statistic` builds a fast vectorised one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from dreamkit.errors import InputError
from dreamkit.executor import ExecutorLike, SerialExecutor, resolve_executor
from dreamkit.inference._checks import (
    as_codes,
    as_controls,
    as_outcomes,
    check_positive_int,
)
from dreamkit.inference.allocation import (
    block_design,
    count_allocations,
    draw_allocations,
    enumerate_allocations,
)
from dreamkit.inference.linalg import (
    annihilate,
    cluster_indicator,
    control_basis,
    crv1_factor,
)

Alternative = Literal["two-sided", "greater", "less"]
Statistic = Callable[[NDArray[np.int8]], ArrayLike]

_TIE_RTOL = 1e-9
_CHUNK_ELEMENTS = 2_000_000


@dataclass(frozen=True, eq=False)
class RandomizationResult:
    """Randomisation test of the sharp null for K statistics.

    ``statistic`` and ``p_value`` have shape (K,); ``draws`` (R, K) holds the statistic under
    the re-drawn allocations (all M allocations if ``exact``, else R Monte Carlo draws without
    the observed one). ``n_allocations`` is the number of admissible allocations.
    """

    statistic: NDArray[np.float64]
    p_value: NDArray[np.float64]
    draws: NDArray[np.float64]
    exact: bool
    n_allocations: int
    alternative: str

    def __repr__(self) -> str:
        kind = "exact" if self.exact else f"Monte Carlo, R={self.draws.shape[0]}"
        return (
            f"RandomizationResult({kind}, K={self.statistic.shape[0]} statistics, "
            f"{self.alternative}, allocations={self.n_allocations:.3g})"
        )


def randomization_inference(
    statistic: Statistic,
    treated: ArrayLike,
    blocks: ArrayLike,
    *,
    n_draws: int = 999,
    seed: int = 0,
    exact_if_at_most: int | None = None,
    alternative: Alternative = "two-sided",
    vectorized: bool | None = None,
    executor: ExecutorLike = None,
) -> RandomizationResult:
    """Randomisation p-values re-drawing the allocation within blocks (teams).

    Parameters
    ----------
    statistic : function of a treatment vector. If vectorised, it maps an (m, n) 0/1 matrix
        of allocations to an (m, K) array; otherwise an (n,) vector to K numbers.
    treated : (n,) observed 0/1 allocation.
    blocks : (n,) block labels within which the lottery ran (teams); each block keeps its
        number treated.
    n_draws : Monte Carlo draws R.
    seed : seed of ``numpy.random.default_rng`` for the Monte Carlo draws.
    exact_if_at_most : enumerate all allocations when their number is at most this
        (default ``n_draws``).
    alternative : ``"two-sided"`` (|T|), ``"greater"`` or ``"less"``.
    vectorized : whether ``statistic`` takes an (m, n) batch; default: its ``vectorized``
        attribute if present (true for :func:`fwl_statistic`), else False.
    executor : where the batches of allocations are evaluated (:mod:`dreamkit.executor`:
        local processes or a ``dask.distributed.Client``; default the session executor, else
        this process). The allocations are drawn here from the one ``seed`` stream in batches
        fixed by n alone, so the draws and p-values are identical for every executor and
        number of workers; ``statistic`` must then be picklable (:func:`fwl_statistic` is).
    """
    pool = resolve_executor(executor)
    design = block_design(treated, blocks)
    n_draws = check_positive_int(n_draws, "n_draws")
    limit = n_draws if exact_if_at_most is None else int(exact_if_at_most)
    if alternative not in ("two-sided", "greater", "less"):
        raise InputError(
            f"alternative must be 'two-sided', 'greater' or 'less'; got {alternative!r}."
        )
    batched = bool(getattr(statistic, "vectorized", False)) if vectorized is None else vectorized
    evaluate = _batch_evaluator(statistic, batched)

    observed_t = np.asarray(treated).astype(np.int8)[None, :]
    stat_obs = evaluate(observed_t)[0]
    n_alloc = count_allocations(design)
    exact = n_alloc <= limit
    chunk = max(1, _CHUNK_ELEMENTS // design.n)
    if exact:
        allocations = enumerate_allocations(design)
        batches = [allocations[s : s + chunk] for s in range(0, n_alloc, chunk)]
    else:
        rng = np.random.default_rng(seed)
        batches = [
            draw_allocations(design, min(chunk, n_draws - start), rng)
            for start in range(0, n_draws, chunk)
        ]
    if isinstance(pool, SerialExecutor):
        draws = np.vstack([evaluate(b) for b in batches])
    else:
        draws = np.vstack(pool.map(evaluate, batches))

    count = _count_extreme(draws, stat_obs, alternative)
    p_value = count / draws.shape[0] if exact else (1.0 + count) / (1.0 + draws.shape[0])
    return RandomizationResult(
        statistic=stat_obs,
        p_value=p_value,
        draws=draws,
        exact=exact,
        n_allocations=n_alloc,
        alternative=alternative,
    )


def _batch_evaluator(
    statistic: Statistic, batched: bool
) -> Callable[[NDArray[np.int8]], NDArray[np.float64]]:
    """Wrap the statistic so that it maps (m, n) allocations to a finite (m, K) array."""
    return _Evaluator(statistic, batched)


@dataclass(frozen=True)
class _Evaluator:
    """The statistic on a batch of allocations (picklable, so batches can go to workers)."""

    statistic: Statistic
    batched: bool

    def __call__(self, alloc: NDArray[np.int8]) -> NDArray[np.float64]:
        if self.batched:
            out = np.asarray(self.statistic(alloc), dtype=np.float64).reshape(alloc.shape[0], -1)
        else:
            out = np.vstack(
                [np.asarray(self.statistic(row), dtype=np.float64).reshape(-1) for row in alloc]
            )
        if not np.isfinite(out).all():
            raise InputError(
                "statistic returned missing or infinite values for some allocation; it must be "
                "defined for every allocation that keeps each block's number treated."
            )
        return out


def _count_extreme(
    draws: NDArray[np.float64], observed: NDArray[np.float64], alternative: str
) -> NDArray[np.float64]:
    """Number of draws at least as extreme as the observed statistic, per column."""
    tol = _TIE_RTOL * np.maximum(np.abs(observed), 1e-300)
    if alternative == "two-sided":
        hits = np.abs(draws) >= np.abs(observed) - tol
    elif alternative == "greater":
        hits = draws >= observed - tol
    else:
        hits = draws <= observed + tol
    return hits.sum(axis=0).astype(np.float64)


class FWLStatistic:
    r"""Vectorised FWL treatment coefficient (or its CRV1 t) for W outcomes.

    For an allocation :math:`\mathbf{d}`: :math:`\tilde d = M_Z d`,
    :math:`\hat\tau_w = \tilde d' \tilde y_w / \tilde d'\tilde d` with
    :math:`\tilde y = M_Z y`; with ``studentize`` the statistic is
    :math:`\hat\tau_w / \widehat{se}_w`, the team-clustered CRV1 standard error
    :math:`\widehat{se}_w^2 = c \sum_g s_{gw}^2 / (\tilde d'\tilde d)^2` with cluster scores
    :math:`s_{gw} = \sum_{i\in g} \tilde d_i \hat e_{iw}`,
    :math:`c = G/(G-1)\,(N-1)/(N-K)`, K = 1 + rank(Z). Calling it with an (m, n) matrix of
    allocations returns an (m, W) array.
    """

    vectorized = True

    def __init__(
        self,
        y: ArrayLike,
        Z: ArrayLike | None,
        clusters: ArrayLike | None = None,
        *,
        studentize: bool = False,
    ) -> None:
        y_mat, _ = as_outcomes(y, "y")
        n = y_mat.shape[0]
        self._q = control_basis(as_controls(Z, n, "Z"))
        self._y_tilde = annihilate(self._q, y_mat)
        self._n = n
        self.studentize = studentize
        if studentize:
            if clusters is None:
                raise InputError("studentize=True needs clusters (the team labels) for CRV1.")
            codes, n_clusters = as_codes(clusters, n, "clusters")
            if n_clusters < 2:
                raise InputError(f"clusters has {n_clusters} level; CRV1 needs >= 2.")
            self._cmat = cluster_indicator(codes, n_clusters)
            k = 1 + self._q.shape[1]
            self._ssc = crv1_factor(n, k, n_clusters)

    def __call__(self, allocations: NDArray[np.int8]) -> NDArray[np.float64]:
        t_mat = np.asarray(allocations, dtype=np.float64).reshape(-1, self._n)
        d_tilde = annihilate(self._q, t_mat.T)  # (n, m)
        dd = (d_tilde**2).sum(axis=0)  # (m,)
        coef = (d_tilde.T @ self._y_tilde) / dd[:, None]  # (m, W)
        if not self.studentize:
            return coef
        n_out = self._y_tilde.shape[1]
        step = max(1, _CHUNK_ELEMENTS // (self._n * n_out))
        ss = np.empty_like(coef)
        for s in range(0, coef.shape[0], step):
            dt = d_tilde[:, s : s + step]  # (n, c)
            cross = self._cmat @ (dt[:, :, None] * self._y_tilde[:, None, :]).reshape(self._n, -1)
            cross = cross.reshape(-1, dt.shape[1], n_out)  # (G, c, W)
            own = self._cmat @ dt**2  # (G, c)
            scores = cross - own[:, :, None] * coef[None, s : s + step, :]
            ss[s : s + step] = (scores**2).sum(axis=0)
        return coef / (np.sqrt(self._ssc * ss) / dd[:, None])


def fwl_statistic(
    y: ArrayLike,
    Z: ArrayLike | None,
    clusters: ArrayLike | None = None,
    *,
    studentize: bool = False,
) -> FWLStatistic:
    """Statistic for :func:`randomization_inference`: the FWL coefficient on treatment for each
    outcome column of ``y`` (n, W) given controls ``Z`` (n, k) (``None``: intercept only), or
    with ``studentize=True`` its team-clustered CRV1 t (needs ``clusters``)."""
    return FWLStatistic(y, Z, clusters, studentize=studentize)
