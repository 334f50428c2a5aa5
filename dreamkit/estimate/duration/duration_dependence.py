"""Duration dependence of a discrete-time hazard: how the baseline ``alpha_t`` varies with t.

The hazard of model (1) is ``F(lambda_it) = alpha_t + x_it' beta`` with ``F`` the logit or
complementary log-log link and ``t = 1, 2, ...`` the week of the spell. The baseline
``alpha_t`` is specified by a :class:`DurationSpec`:

* :func:`week_dummies` -- one free ``alpha_t`` per week (the fully flexible baseline);
* :func:`intervals` -- ``alpha_t = alpha_j`` for t in the j-th block of ``width`` weeks
  (``width = 4`` as in the reference study: weeks 1-4, 5-8, ...);
* :func:`piecewise` -- ``alpha_t = alpha_j`` for ``c_{j-1} < t <= c_j`` with user cut points;
* :func:`log_polynomial` -- ``alpha_t = a_0 + sum_{k=1..K} a_k (log t)^k``.

For the three step-function specifications an interval whose at-risk rows have no exit (or
only exits) has a maximum-likelihood ``alpha_j`` of minus (plus) infinity. With
``merge_degenerate=True`` (the default, and what the study did: "grouped so that no interval
lacks exits") such intervals are merged with their neighbour: scanning from the first week,
a degenerate interval is pooled with the next one until the pool has both exits and
non-exits; a degenerate remainder at the end is pooled with the preceding interval. Every
merge is recorded in :attr:`DurationGrid.merges` and reported by the fitted model. With
``merge_degenerate=False`` a degenerate interval raises :class:`~dreamkit.errors.EstimationError`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from dreamkit.errors import EstimationError, InputError

Kind = Literal["week", "interval", "piecewise", "log_polynomial"]


@dataclass(frozen=True)
class DurationSpec:
    """A specification of the baseline ``alpha_t``; build it with the functions below."""

    kind: Kind
    width: int = 4
    cuts: tuple[int, ...] = ()
    degree: int = 3
    merge_degenerate: bool = True


def week_dummies(merge_degenerate: bool = True) -> DurationSpec:
    """One dummy per week: ``alpha_t`` free for every t."""
    return DurationSpec("week", merge_degenerate=merge_degenerate)


def intervals(width: int = 4, merge_degenerate: bool = True) -> DurationSpec:
    """Dummies for consecutive blocks of ``width`` weeks (1..width, width+1..2*width, ...)."""
    if width < 1:
        raise InputError(f"intervals(width={width}): the width must be a positive number of weeks.")
    return DurationSpec("interval", width=width, merge_degenerate=merge_degenerate)


def piecewise(cuts: tuple[int, ...] | list[int], merge_degenerate: bool = True) -> DurationSpec:
    """Piecewise-constant baseline with upper interval ends ``cuts`` (weeks, increasing).

    ``cuts = (4, 12, 26)`` gives intervals 1-4, 5-12, 13-26 and 27-max.
    """
    c = tuple(int(x) for x in cuts)
    if not c or any(x < 1 for x in c) or any(b <= a for a, b in itertools.pairwise(c)):
        raise InputError(
            f"piecewise(cuts={list(c)}): cut points must be a non-empty, strictly increasing "
            "list of positive week numbers, e.g. [4, 12, 26]."
        )
    return DurationSpec("piecewise", cuts=c, merge_degenerate=merge_degenerate)


def log_polynomial(degree: int = 3) -> DurationSpec:
    """Polynomial of degree ``degree`` in ``log t`` (with an intercept)."""
    if degree < 1:
        raise InputError(f"log_polynomial(degree={degree}): the degree must be at least 1.")
    return DurationSpec("log_polynomial", degree=degree)


@dataclass(frozen=True)
class DurationGrid:
    """The resolved baseline for weeks 1..max_period.

    ``lut[t]`` is the group of week t (``lut[0]`` is unused). For step functions the groups are
    the intervals, ``labels[j]`` reads ``"5-8"``; for the log polynomial every week is its own
    group and :meth:`basis` gives the polynomial columns.
    """

    spec: DurationSpec
    lut: NDArray[np.intp]
    labels: tuple[str, ...]
    first_week: NDArray[np.intp]  # first week of each group
    merges: tuple[str, ...]

    @property
    def n_groups(self) -> int:
        return len(self.labels)

    @property
    def is_step(self) -> bool:
        return self.spec.kind != "log_polynomial"

    @property
    def basis_names(self) -> tuple[str, ...]:
        return ("intercept", *(f"log_t^{k}" for k in range(1, self.spec.degree + 1)))

    def basis(self, weeks: NDArray[np.integer]) -> NDArray[np.float64]:
        """Columns ``(1, log t, ..., (log t)^K)`` for the given weeks (log polynomial only)."""
        lt = np.log(np.asarray(weeks, dtype=np.float64))
        return np.vander(lt, self.spec.degree + 1, increasing=True)


def resolve(
    spec: DurationSpec,
    events_by_week: NDArray[np.floating],
    at_risk_by_week: NDArray[np.floating],
) -> DurationGrid:
    """Resolve ``spec`` on weeks 1..W given exits and at-risk counts per week (index 0 unused).

    Degenerate step intervals are merged (or rejected) as described in the module docstring.
    ``events_by_week`` may have one column per exit type, shape (W+1, J) (competing risks):
    an interval is then degenerate when it lacks exits of any type or has only exits.
    """
    ev_2d = np.asarray(events_by_week, dtype=np.float64)
    if ev_2d.ndim == 1:
        ev_2d = ev_2d[:, None]
    w = len(at_risk_by_week) - 1
    weeks = np.arange(1, w + 1)
    if spec.kind == "log_polynomial":
        lut = np.arange(-1, w, dtype=np.intp)
        week_labels = tuple(str(t) for t in weeks)
        return DurationGrid(spec, lut, week_labels, weeks.astype(np.intp), ())
    if spec.kind == "week":
        raw = weeks - 1
    elif spec.kind == "interval":
        raw = (weeks - 1) // spec.width
    else:
        raw = np.searchsorted(np.asarray(spec.cuts), weeks, side="left")
    raw = np.unique(raw, return_inverse=True)[1]  # drop empty blocks beyond the data
    n_raw = int(raw.max()) + 1
    ev_j = np.column_stack(
        [np.bincount(raw, weights=ev_2d[1:, j], minlength=n_raw) for j in range(ev_2d.shape[1])]
    )
    ev = ev_j.sum(axis=1)
    rk = np.bincount(raw, weights=at_risk_by_week[1:], minlength=n_raw)
    first = np.array([weeks[raw == j].min() for j in range(n_raw)])
    last = np.array([weeks[raw == j].max() for j in range(n_raw)])

    def degenerate(members: list[int]) -> bool:
        e = ev_j[members].sum(axis=0)
        return bool(np.any(e == 0) or e.sum() == rk[members].sum())

    if not spec.merge_degenerate:
        bad = [j for j in range(n_raw) if degenerate([j])]
        if bad:
            j = bad[0]
            what = (
                "only exits"
                if ev[j] == rk[j]
                else ("no exits" if ev[j] == 0 else "no exits of some exit type")
            )
            raise EstimationError(
                f"duration interval weeks {first[j]}-{last[j]} has {what} "
                f"({int(ev[j])} exits in {int(rk[j])} person-weeks at risk), so its baseline "
                "hazard is not identified (separation). Use merge_degenerate=True or coarser "
                "intervals."
            )
    groups: list[list[int]] = []
    pool: list[int] = []
    for j in range(n_raw):
        pool.append(j)
        if not degenerate(pool):
            groups.append(pool)
            pool = []
    if pool:
        if not groups:
            raise EstimationError(
                f"the duration outcome has {int(ev.sum())} exits in {int(rk.sum())} "
                "person-weeks at risk: a hazard needs both exits (of every exit type) and "
                "non-exits."
            )
        groups[-1] = groups[-1] + pool
    new_of_raw = np.empty(n_raw, dtype=np.intp)
    labels: list[str] = []
    merges: list[str] = []
    for g, members in enumerate(groups):
        new_of_raw[members] = g
        lo, hi = int(first[members[0]]), int(last[members[-1]])
        labels.append(f"{lo}" if lo == hi else f"{lo}-{hi}")
        if len(members) > 1:
            parts = ", ".join(
                f"{first[j]}-{last[j]}" if first[j] != last[j] else f"{first[j]}" for j in members
            )
            merges.append(
                f"weeks {parts} merged into one interval {labels[-1]} "
                f"({int(ev[members].sum())} exits) because an interval lacked exits (of some "
                "exit type) or non-exits"
            )
    lut = np.concatenate([[-1], new_of_raw[raw]]).astype(np.intp)
    first_week = np.array([first[m[0]] for m in groups], dtype=np.intp)
    return DurationGrid(spec, lut, tuple(labels), first_week, tuple(merges))


def varying_names(treatment: str, tgrid: DurationGrid) -> tuple[str, ...]:
    """Term names of duration-varying treatment effects, e.g. ``treated[1-8]``."""
    return tuple(f"{treatment}[{lab}]" for lab in tgrid.labels)
