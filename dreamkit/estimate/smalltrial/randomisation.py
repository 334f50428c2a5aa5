r"""Randomisation inference that re-randomises as the trial did: within pairs or within strata.

The statistic is the difference in means :math:`T = \bar y_1 - \bar y_0` (a difference in
proportions for 0/1 outcomes). Under the sharp null of no effect for anybody the outcomes are
fixed and only the allocation varies; the reference distribution is :math:`T` over the
allocations the design could have produced:

* ``scheme="pairs"``: every complete pair's coin is re-flipped (:math:`2^P` allocations);
  persons whose partner is not analysed are dropped (counted in the note);
* ``scheme="strata"``: the arms are permuted within each stratum, keeping each stratum's number
  treated (:math:`\prod_s \binom{n_s}{k_s}` allocations).

The two-sided p-value counts allocations at least as extreme, :math:`|T^*| \ge |T_\text{obs}|`
(with a relative tolerance of :math:`10^{-9}` for floating ties). When the number of
allocations is at most ``max_exact`` they are all enumerated and :math:`p = \#\{|T^*| \ge
|T_\text{obs}|\} / \#\text{allocations}` (the observed allocation is among them); otherwise
:math:`R` allocations are drawn with ``numpy.random.default_rng(seed)`` and
:math:`p = (1 + \#\{|T^*_r| \ge |T_\text{obs}|\}) / (1 + R)`, a valid p-value.
"""

from __future__ import annotations

import itertools
import math
from typing import Literal

import numpy as np
import numpy.typing as npt

from dreamkit.errors import InputError
from dreamkit.estimate.smalltrial.contingency import TestResult

Scheme = Literal["pairs", "strata"]
TOL = 1e-9


def complete_pairs(
    treated: npt.NDArray[np.int64], pair: npt.ArrayLike
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], int]:
    """Row indices (treated member, control member) of the complete pairs and the number of
    persons dropped because their pair is incomplete (one member, or two in one arm)."""
    p = np.asarray(pair)
    if p.shape != treated.shape:
        raise InputError("pair must have one entry per person.")
    ok = np.ones(p.size, dtype=bool)
    if p.dtype.kind == "f":
        ok &= ~np.isnan(p)
    if p.dtype == object:
        ok &= np.array([v is not None for v in p])
    idx = np.flatnonzero(ok)
    _, codes, counts = np.unique(p[idx].astype(str), return_inverse=True, return_counts=True)
    t_rows = np.full(counts.size, -1)
    c_rows = np.full(counts.size, -1)
    for row, code in zip(idx.tolist(), codes.tolist(), strict=True):
        if treated[row] == 1:
            t_rows[code] = row if t_rows[code] < 0 else -2
        else:
            c_rows[code] = row if c_rows[code] < 0 else -2
    good = (counts == 2) & (t_rows >= 0) & (c_rows >= 0)
    dropped = int(p.size - 2 * good.sum())
    return t_rows[good], c_rows[good], dropped


def _check(treated: npt.ArrayLike, y: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    arm = np.asarray(treated)
    out = np.asarray(y, dtype=np.float64)
    if arm.shape != out.shape or arm.ndim != 1:
        raise InputError("treated and the outcome must be 1-D arrays of the same length.")
    if not np.isin(arm, (0, 1)).all():
        raise InputError("treated must hold 0/1 values.")
    if not np.isfinite(out).all():
        raise InputError("the outcome has missing values; exclude those persons (and count them).")
    return arm.astype(np.int64), out


def randomisation_test(
    treated: npt.ArrayLike,
    outcome: npt.ArrayLike,
    *,
    scheme: Scheme = "pairs",
    pair: npt.ArrayLike | None = None,
    stratum: npt.ArrayLike | None = None,
    max_exact: int = 200_000,
    draws: int = 9_999,
    seed: int = 0,
) -> TestResult:
    """Randomisation test of the difference in means under the design (module docstring)."""
    arm, y = _check(treated, outcome)
    if scheme == "pairs":
        if pair is None:
            raise InputError("scheme='pairs' needs the pair of every person (pair=...).")
        t_rows, c_rows, dropped = complete_pairs(arm, pair)
        if t_rows.size == 0:
            raise InputError("no complete pair (one treated and one control member) to re-draw.")
        d = y[t_rows] - y[c_rows]
        n_pairs = d.size
        t_obs = float(d.mean())
        note = f"{dropped} person(s) in incomplete pairs dropped" if dropped else ""
        total = 2**n_pairs
        if total <= max_exact:
            bits = (np.arange(total)[:, None] >> np.arange(n_pairs)[None, :]) & 1
            stats = ((1 - 2 * bits) * d[None, :]).mean(axis=1)
            return _exact("randomisation (pairs)", stats, t_obs, 2 * n_pairs, note)
        rng = np.random.default_rng(seed)
        stats = np.empty(draws)
        for start in range(0, draws, 4096):
            stop = min(draws, start + 4096)
            signs = 1 - 2 * rng.integers(0, 2, (stop - start, n_pairs))
            stats[start:stop] = (signs * d[None, :]).mean(axis=1)
        return _monte_carlo("randomisation (pairs)", stats, t_obs, 2 * n_pairs, note)
    if scheme != "strata":
        raise InputError(f"scheme must be 'pairs' or 'strata', got {scheme!r}.")
    if stratum is None:
        raise InputError("scheme='strata' needs the stratum of every person (stratum=...).")
    s = np.asarray(stratum)
    if s.shape != arm.shape:
        raise InputError("stratum must have one entry per person.")
    _, codes = np.unique(s.astype(str), return_inverse=True)
    groups = [np.flatnonzero(codes == g) for g in range(int(codes.max()) + 1)]
    n1, n0 = int(arm.sum()), int(arm.size - arm.sum())
    if n1 == 0 or n0 == 0:
        raise InputError("both arms need persons for a randomisation test.")

    def stat(a: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        # a: (draws x persons) 0/1 allocations with the observed counts per stratum
        return np.asarray((a @ y) / n1 - ((1 - a) @ y) / n0, dtype=np.float64)

    t_obs = float(stat(arm[None, :])[0])
    total = math.prod(math.comb(g.size, int(arm[g].sum())) for g in groups)
    if total <= max_exact:
        # T depends on the allocation only through S, the sum of treated outcomes; S is a sum
        # over strata of each stratum's treated sum, so enumerate those and add them up
        sums = np.zeros(1)
        for g in groups:
            k = int(arm[g].sum())
            part = np.array([y[list(c)].sum() for c in itertools.combinations(g.tolist(), k)])
            sums = (sums[:, None] + part[None, :]).ravel()
        stats = sums / n1 - (y.sum() - sums) / n0
        return _exact("randomisation (strata)", stats, t_obs, arm.size, "")
    rng = np.random.default_rng(seed)
    stats = np.empty(draws)
    for start in range(0, draws, 2048):
        stop = min(draws, start + 2048)
        keys = rng.random((stop - start, arm.size))
        alloc = np.zeros((stop - start, arm.size), dtype=np.int64)
        for g in groups:
            k = int(arm[g].sum())
            if k:
                top = np.argsort(keys[:, g], axis=1)[:, :k]
                sub = np.zeros((stop - start, g.size), dtype=np.int64)
                np.put_along_axis(sub, top, 1, axis=1)
                alloc[:, g] = sub
        stats[start:stop] = stat(alloc)
    return _monte_carlo("randomisation (strata)", stats, t_obs, arm.size, "")


def _extreme(stats: npt.NDArray[np.float64], t_obs: float) -> int:
    return int((np.abs(stats) >= abs(t_obs) * (1 - TOL) - TOL).sum())


def _exact(
    label: str, stats: npt.NDArray[np.float64], t_obs: float, n: int, note: str
) -> TestResult:
    p = _extreme(stats, t_obs) / stats.size
    text = f"all {stats.size:,} allocations enumerated"
    return TestResult(label, t_obs, None, float(p), "exact", n, f"{note}; {text}" if note else text)


def _monte_carlo(
    label: str, stats: npt.NDArray[np.float64], t_obs: float, n: int, note: str
) -> TestResult:
    p = (1 + _extreme(stats, t_obs)) / (1 + stats.size)
    text = f"{stats.size:,} random allocations, p = (1 + #)/(1 + R)"
    return TestResult(
        label, t_obs, None, float(p), "monte carlo", n, f"{note}; {text}" if note else text
    )
