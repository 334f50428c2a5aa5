r"""Exact unconditional confidence interval for a risk difference (Chan and Zhang, 1999).

For :math:`d_0 \in (-1, 1)` the score statistic of :math:`H_0: p_1 - p_0 = d_0` is

.. math:: Z(d_0) = \frac{\hat p_1 - \hat p_0 - d_0}
          {\sqrt{\tilde p_1(1-\tilde p_1)/n_1 + \tilde p_0(1-\tilde p_0)/n_0}},

with :math:`(\tilde p_1, \tilde p_0 = \tilde p_1 - d_0)` the maximum-likelihood estimates under
:math:`H_0` (Farrington and Manning's closed-form cubic root). Its exact one-sided p-values
maximise over the nuisance parameter :math:`p_0` the probability of every outcome
:math:`(x_1, x_0)` at least as extreme:

.. math:: P_\ge(d_0) = \sup_{p_0} \sum_{x:\, Z_x(d_0) \ge Z_\text{obs}(d_0)}
          b(x_1; n_1, p_0 + d_0)\, b(x_0; n_0, p_0),

and :math:`P_\le(d_0)` likewise with :math:`\le`. The :math:`1-\alpha` interval is
:math:`\{d_0 : P_\ge(d_0) > \alpha/2 \text{ and } P_\le(d_0) > \alpha/2\}`; its limits are found
by bisection on :math:`d_0` (each tail p-value is treated as monotone in :math:`d_0`, as in
Chan and Zhang). The supremum is taken over a grid of ``grid`` nuisance values refined by a
bounded scalar search around the best grid point. The interval's coverage is at least
:math:`1-\alpha` for every :math:`(p_1, p_0)` (up to the supremum's numerical accuracy); it is
wider than Newcombe's. At :math:`d_0 = 0` the statistic is the pooled Wald statistic, so
:math:`P_\ge(0)` is Barnard's exact test (``scipy.stats.barnard_exact(pooled=True)``), which the
tests check.

Cost: :math:`(n_1+1)(n_0+1)` outcomes per nuisance value; intended for small trials
(``max_cells`` bounds it).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import scipy.optimize
from scipy.special import gammaln, xlog1py, xlogy

from dreamkit.errors import EstimationError, InputError
from dreamkit.estimate.results import check_level

MAX_CELLS = 10_000


def restricted_mle(
    p1: npt.ArrayLike, p0: npt.ArrayLike, n1: int, n0: int, d0: float
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Farrington-Manning MLE :math:`(\\tilde p_1, \\tilde p_0)` under :math:`p_1 - p_0 = d_0`."""
    a1 = np.asarray(p1, dtype=np.float64)
    a0 = np.asarray(p0, dtype=np.float64)
    theta = n0 / n1
    a = 1.0 + theta
    b = -(1.0 + theta + a1 + theta * a0 + d0 * (theta + 2.0))
    c = d0 * d0 + d0 * (2.0 * a1 + theta + 1.0) + a1 + theta * a0
    d = -a1 * d0 * (1.0 + d0)
    v = b**3 / (3 * a) ** 3 - b * c / (6 * a * a) + d / (2 * a)
    u2 = np.maximum(b * b / (3 * a) ** 2 - c / (3 * a), 0.0)
    u = np.where(v >= 0, 1.0, -1.0) * np.sqrt(u2)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(u2 > 0, v / u**3, 1.0)
    w = (np.pi + np.arccos(np.clip(ratio, -1.0, 1.0))) / 3.0
    t1 = np.clip(2.0 * u * np.cos(w) - b / (3 * a), max(0.0, d0), min(1.0, 1.0 + d0))
    return t1, t1 - d0


def score_z(
    x1: npt.ArrayLike, n1: int, x0: npt.ArrayLike, n0: int, d0: float
) -> npt.NDArray[np.float64]:
    """Score statistic :math:`Z(d_0)` of outcomes (x1, x0) (module docstring); a zero
    variance gives 0 when the numerator is 0 and :math:`\\pm\\infty` otherwise."""
    p1 = np.asarray(x1, dtype=np.float64) / n1
    p0 = np.asarray(x0, dtype=np.float64) / n0
    t1, t0 = restricted_mle(p1, p0, n1, n0, d0)
    var = t1 * (1 - t1) / n1 + t0 * (1 - t0) / n0
    num = p1 - p0 - d0
    num = np.where(np.abs(num) < 1e-12, 0.0, num)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(var > 1e-15, num / np.sqrt(np.maximum(var, 1e-300)), 0.0)
    z = np.where((var <= 1e-15) & (num != 0), np.copysign(np.inf, num), z)
    return np.asarray(z, dtype=np.float64)


def _pmf(n: int, p: npt.NDArray[np.float64], log_comb: npt.NDArray[np.float64]) -> np.ndarray:
    """Binomial pmf matrix ((n+1) x len(p)) of x = 0..n, exact at p = 0 and p = 1."""
    x = np.arange(n + 1, dtype=np.float64)[:, None]
    pp = np.asarray(p, dtype=np.float64)[None, :]
    return np.exp(log_comb[:, None] + xlogy(x, pp) + xlog1py(n - x, -pp))


class _Outcomes:
    r"""All outcomes (x1, x0); the probability of a region R (an (n1+1) x (n0+1) indicator)
    is :math:`b_1^\top R\, b_0`, one small matrix product per nuisance grid."""

    def __init__(self, n1: int, n0: int) -> None:
        self.n1, self.n0 = n1, n0
        self.x1 = np.arange(n1 + 1)[:, None]
        self.x0 = np.arange(n0 + 1)[None, :]
        self.lc1 = (
            gammaln(n1 + 1) - gammaln(np.arange(n1 + 1) + 1) - gammaln(n1 - np.arange(n1 + 1) + 1)
        )
        self.lc0 = (
            gammaln(n0 + 1) - gammaln(np.arange(n0 + 1) + 1) - gammaln(n0 - np.arange(n0 + 1) + 1)
        )

    def prob(
        self, region: npt.NDArray[np.float64], d0: float, p0: npt.NDArray[np.float64]
    ) -> np.ndarray:
        b1 = _pmf(self.n1, np.clip(p0 + d0, 0.0, 1.0), self.lc1)
        b0 = _pmf(self.n0, p0, self.lc0)
        return np.asarray((b1 * (region @ b0)).sum(axis=0))

    def tail(self, region: npt.NDArray[np.bool_], d0: float, grid: int) -> float:
        r""":math:`\sup_{p_0}` of the probability of ``region`` under :math:`p_1 = p_0 + d_0`."""
        if not region.any():
            return 0.0
        r = region.astype(np.float64)
        lo, hi = max(0.0, -d0), min(1.0, 1.0 - d0)
        ps = np.linspace(lo, hi, grid)
        values = self.prob(r, d0, ps)
        k = int(np.argmax(values))
        best = float(values[k])
        left, right = ps[max(k - 1, 0)], ps[min(k + 1, grid - 1)]
        if right > left:
            res = scipy.optimize.minimize_scalar(
                lambda p: -float(self.prob(r, d0, np.array([p]))[0]),
                bounds=(left, right),
                method="bounded",
                options={"xatol": 1e-10},
            )
            best = max(best, -float(res.fun))
        return min(1.0, best)

    def tail_p(self, x1: int, x0: int, d0: float, grid: int, upper: bool) -> float:
        r""":math:`P_\ge(d_0)` (``upper``) or :math:`P_\le(d_0)` of the observed outcome."""
        z = score_z(self.x1, self.n1, self.x0, self.n0, d0)
        z_obs = float(score_z(x1, self.n1, x0, self.n0, d0))
        tol = 1e-9 * max(1.0, abs(z_obs)) if np.isfinite(z_obs) else 0.0
        region = z >= z_obs - tol if upper else z <= z_obs + tol
        return self.tail(region, d0, grid)

    def p_values(self, x1: int, x0: int, d0: float, grid: int) -> tuple[float, float]:
        r"""(:math:`P_\ge(d_0)`, :math:`P_\le(d_0)`) of the observed outcome."""
        return (
            self.tail_p(x1, x0, d0, grid, upper=True),
            self.tail_p(x1, x0, d0, grid, upper=False),
        )


def exact_rd_interval(
    events1: int,
    n1: int,
    events0: int,
    n0: int,
    level: float = 0.95,
    *,
    grid: int = 200,
    max_cells: int = MAX_CELLS,
    tol: float = 1e-6,
) -> tuple[float, float]:
    """Chan-Zhang exact unconditional interval of :math:`p_1 - p_0` (module docstring)."""
    lvl = check_level(level)
    for e, n in ((events1, n1), (events0, n0)):
        if n < 1 or not 0 <= e <= n:
            raise InputError(f"need 0 <= events <= n and n >= 1 per arm, got {e}/{n}.")
    if (n1 + 1) * (n0 + 1) > max_cells:
        raise EstimationError(
            f"the exact interval enumerates {(n1 + 1) * (n0 + 1):,} outcomes (more than "
            f"{max_cells:,}); use Newcombe's score interval for arms of this size."
        )
    alpha2 = (1.0 - lvl) / 2.0
    out = _Outcomes(n1, n0)
    d_hat = events1 / n1 - events0 / n0

    def upper_tail(d0: float) -> float:
        return out.tail_p(events1, events0, d0, grid, upper=True)

    def lower_tail(d0: float) -> float:
        return out.tail_p(events1, events0, d0, grid, upper=False)

    def bisect(fn: Callable[[float], float], lo: float, hi: float, accept_at_hi: bool) -> float:
        """Boundary between rejected (fn <= alpha/2) and accepted d0 on [lo, hi]."""
        if hi <= lo:
            return lo if accept_at_hi else hi
        if accept_at_hi:  # rejected at lo, accepted at hi
            if fn(lo) > alpha2:
                return lo
        elif fn(hi) > alpha2:
            return hi
        while hi - lo > tol:
            mid = 0.5 * (lo + hi)
            accepted = fn(mid) > alpha2
            if accepted == accept_at_hi:
                hi = mid
            else:
                lo = mid
        return 0.5 * (lo + hi)

    eps = 1e-9
    lower = bisect(upper_tail, -1.0 + eps, d_hat, accept_at_hi=True)
    upper = bisect(lower_tail, d_hat, 1.0 - eps, accept_at_hi=False)
    lower = -1.0 if lower <= -1.0 + 2 * eps else lower  # accepted up to the edge
    upper = 1.0 if upper >= 1.0 - 2 * eps else upper
    return float(lower), float(upper)


def exact_rd_pvalue(events1: int, n1: int, events0: int, n0: int, *, grid: int = 200) -> float:
    r"""Two-sided exact unconditional p of :math:`d = 0`: :math:`\min(1, 2\min(P_\ge(0),
    P_\le(0)))`, the test the exact interval inverts (Barnard's test with the pooled
    statistic, doubled one-sided)."""
    out = _Outcomes(n1, n0)
    up, down = out.p_values(events1, events0, 0.0, grid)
    return float(min(1.0, 2.0 * min(up, down)))
