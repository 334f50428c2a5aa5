"""Disclosure control: no exported cell may rest on fewer than ``min_cell`` persons.

Research servers (e.g. Statistics Denmark's) forbid exporting a table cell, a mean, a share or
a curve point that is computed from fewer than ``k`` persons (``k = 5`` by default). The rules
applied by the report:

* **counts**: a count ``n`` with ``0 < n < k`` is suppressed (zero reveals no person and is
  shown);
* **means and estimates**: suppressed when the group behind them (each arm of the group for a
  treatment effect) has fewer than ``k`` persons;
* **shares of a binary variable**: suppressed when the number of persons with the attribute or
  without it is in ``(0, k)``, because share x N would reveal that small count;
* **secondary suppression**: when a set of counts has a published total (the sample flow's
  exclusions, which add up to randomised minus analysed), one suppressed count could be
  recovered by subtraction, so the smallest other positive count of the set is suppressed too;
* **complementary suppression of groups**: when groups partition a published total (the arms,
  the waiting-time groups, the self-efficacy groups of "all", whose members without a value form
  an unpublished remainder), a statistic of one group is recoverable from the total and the
  other groups (``n_A = n - n_B``, ``n_A mean_A = n mean - n_B mean_B``); when one group's cell
  is suppressed or the remainder could not be published, every group's cell of the partition is
  suppressed (:meth:`DisclosureLog.hide_partition`);
* **nested or consecutive counts**: counts of nested groups (low self-efficacy at two cut-offs,
  persons at risk at two weeks, the controls' person-weeks in a state up to two weeks of an
  effect path, a Tobit's N next to all controls) reveal their difference, which must be ``0``
  or at least ``k`` (:meth:`DisclosureLog.differences_ok`);
* **Kaplan-Meier curves**: drawn only while at least ``k`` persons are at risk; each drawn
  step pools at least ``k`` events (a step of ``d`` events at ``n`` at risk reveals
  ``d = n (1 - S_t / S_{t-1})``, :meth:`DisclosureLog.pooled_steps`); the at-risk table shows
  no number below ``k``, nor two consecutive ones that differ by ``1..k-1``.

Every suppression is recorded in a :class:`DisclosureLog`, which the report lists.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import polars as pl

from dreamkit.errors import InputError
from dreamkit.report.files import write_csv_atomic

#: How a suppressed cell is shown in every output format.
SUPPRESSED = "suppressed"


@dataclass(frozen=True)
class Suppression:
    """One suppressed cell: where it is and why."""

    output: str  # table or figure name
    cell: str  # human-readable cell description (never a person identifier)
    reason: str


@dataclass
class DisclosureLog:
    """The disclosure threshold and the record of every suppression made under it."""

    min_cell: int = 5
    entries: list[Suppression] = field(default_factory=list)

    def record(self, output: str, cell: str, reason: str) -> None:
        """Record one suppressed cell."""
        self.entries.append(Suppression(output, cell, reason))

    def small(self, n: int) -> bool:
        """``True`` when a count of ``n`` persons may not be published (``0 < n < k``)."""
        return 0 < n < self.min_cell

    def too_few(self, n: int) -> bool:
        """``True`` when a statistic computed from ``n`` persons may not be published."""
        return n < self.min_cell

    def count(self, output: str, cell: str, n: int) -> str | int:
        """Publishable form of a person count: the count or :data:`SUPPRESSED`."""
        if self.small(n):
            self.record(output, cell, f"count below {self.min_cell}")
            return SUPPRESSED
        return n

    def binary_share_ok(self, output: str, cell: str, n_yes: int, n: int) -> bool:
        """Whether the share ``n_yes / n`` may be published (see module docstring)."""
        if self.too_few(n):
            self.record(output, cell, f"group of fewer than {self.min_cell} persons")
            return False
        if self.small(n_yes) or self.small(n - n_yes):
            self.record(output, cell, f"fewer than {self.min_cell} persons with or without it")
            return False
        return True

    def group_ok(self, output: str, cell: str, sizes: Sequence[int]) -> bool:
        """Whether a statistic built from groups of these sizes may be published."""
        smallest = min(sizes) if sizes else 0
        if self.too_few(smallest):
            self.record(output, cell, f"built from a group of fewer than {self.min_cell} persons")
            return False
        return True

    def suppress_with_total(
        self, output: str, cells: Sequence[str], counts: Sequence[int]
    ) -> list[bool]:
        """Primary plus secondary suppression for counts whose total is published.

        Returns a mask (``True`` = suppress) and records every suppressed cell. The caller
        must also hide the total when :meth:`protect_counts` says so (for instance when it
        equals the only non-zero count); use that method where the total can be hidden.
        """
        return self.protect_counts(output, cells, counts)[0]

    def protect_counts(
        self, output: str, cells: Sequence[str], counts: Sequence[int]
    ) -> tuple[list[bool], bool]:
        """Counts that add up to a published total: ``(mask, total_hidden)``.

        Primary suppression hides counts in ``(0, min_cell)``; secondary suppression hides
        further counts until none is recoverable from the total, and hides the total itself
        when no other count can protect a hidden one (a total equal to its only non-zero
        count, or a small total). Every hidden cell and the hidden total are recorded.
        """
        counts_arr = np.asarray(counts, dtype=np.int64)
        mask = (counts_arr > 0) & (counts_arr < self.min_cell)
        for i in np.flatnonzero(mask):
            self.record(output, cells[int(i)], f"count below {self.min_cell}")

        def exposed() -> bool:
            # the total minus the shown counts is the sum of the hidden ones: one hidden count
            # is then known exactly, several are known to lie in [0, sum] (width < k if small)
            hidden = counts_arr[mask]
            return bool(hidden.size) and (hidden.size == 1 or self.small(int(hidden.sum())))

        while exposed():
            others = np.flatnonzero(~mask & (counts_arr > 0))
            if not others.size:
                break
            j = int(others[np.argmin(counts_arr[others])])
            mask[j] = True
            self.record(output, cells[j], "secondary suppression (the total would reveal a cell)")
        total_hidden = exposed()
        if total_hidden:
            self.record(
                output,
                "total",
                "secondary suppression (the total would reveal its only hidden cells)",
            )
        return [bool(m) for m in mask], total_hidden

    def hide_partition(
        self, output: str, cells: Sequence[str], hidden: Sequence[bool], remainder_ok: bool
    ) -> list[bool]:
        """Complementary suppression for groups that partition a published total.

        ``hidden`` marks the groups' cells already suppressed; ``remainder_ok`` says whether the
        part of the total outside the groups (persons without a value) could itself be
        published. If any cell is hidden or the remainder is not publishable, the total minus
        the shown groups would reveal it, so every group's cell is suppressed (and recorded).
        """
        if remainder_ok and not any(hidden):
            return list(hidden)
        for cell, h in zip(cells, hidden, strict=True):
            if not h:
                self.record(
                    output,
                    cell,
                    "complementary suppression (the total minus the other groups would reveal "
                    "a suppressed group)",
                )
        return [True] * len(cells)

    def differences_ok(self, previous: int, n: int) -> bool:
        """Whether a count ``n`` may be published next to a published count ``previous`` of a
        nested group: their difference must be 0 or at least ``min_cell``."""
        return not self.small(abs(previous - n))

    def pooled_steps(
        self, survival: npt.ArrayLike, events: npt.ArrayLike
    ) -> npt.NDArray[np.float64]:
        """A survival curve whose every step pools at least ``min_cell`` events.

        Walking the weeks, the shown value stays at the last shown survival until the events
        since then add up to ``k`` or more; then it drops to the curve's value at that week.
        When 1..k-1 events are left after the last step, that step is undone too: the total
        number of events is published elsewhere (the event shares by arm), and the total minus
        the events shown would reveal the few left.
        """
        surv = np.asarray(survival, dtype=np.float64)
        ev = np.asarray(events, dtype=np.int64)
        shown = np.empty_like(surv)
        level, pending = 1.0, 0
        drops: list[tuple[int, float]] = []  # (week index, level before the drop)
        for i in range(surv.size):
            pending += int(ev[i])
            if pending >= self.min_cell:
                drops.append((i, level))
                level, pending = float(surv[i]), 0
            shown[i] = level
        if self.small(pending):
            start, before = drops[-1] if drops else (0, 1.0)
            shown[start:] = before
        return shown

    def at_risk_horizon(self, at_risk: npt.ArrayLike) -> int:
        """Number of leading time points with at least ``min_cell`` persons at risk."""
        arr = np.asarray(at_risk)
        below = np.flatnonzero(arr < self.min_cell)
        return int(below[0]) if below.size else int(arr.size)


# ---- tables with margins, nested tables, dominance, the audit ---------------------------------
#
# An attacker who sees a published table knows every shown cell, every shown margin and that
# all counts are non-negative integers adding up along rows and columns. The attack below
# finds, for each hidden cell, the smallest and largest integer value consistent with all that
# (two integer programs per cell, scipy's HiGHS ``milp``). A hidden cell counts as *recovered*
# when that range is narrower than ``min_cell`` (the exact value is the extreme case). Secondary
# suppression hides further cells (then margins) until no hidden cell is recovered.


@dataclass(frozen=True)
class CountTable:
    """A published two-way count table: cells, row totals, column totals and the grand total,
    each either a count or :data:`SUPPRESSED`."""

    cells: list[list[int | str]]
    row_totals: list[int | str]
    col_totals: list[int | str]
    total: int | str


class _Model:
    """Integer variables for the interior cells and margins of one or more tables."""

    def __init__(self) -> None:
        self.n = 0
        self.rows: list[dict[int, float]] = []  # equality constraints: sum coef * var = rhs
        self.rhs: list[float] = []
        self.ineq: list[dict[int, float]] = []  # sum coef * var <= 0
        self.upper: list[float] = []

    def variables(self, count: int, upper: float) -> list[int]:
        start = self.n
        self.n += count
        self.upper += [upper] * count
        return list(range(start, start + count))

    def equal(self, coefs: dict[int, float], rhs: float) -> None:
        self.rows.append(coefs)
        self.rhs.append(rhs)

    def at_most(self, coefs: dict[int, float]) -> None:
        self.ineq.append(coefs)

    def bounds(self, objective: dict[int, float]) -> tuple[float, float]:
        """Smallest and largest integer value of ``objective`` over the feasible tables."""
        from scipy.optimize import Bounds, LinearConstraint, milp

        def matrix(rows: list[dict[int, float]]) -> npt.NDArray[np.float64]:
            out = np.zeros((len(rows), self.n))
            for i, row in enumerate(rows):
                for j, v in row.items():
                    out[i, j] += v
            return out

        constraints = [LinearConstraint(matrix(self.rows), self.rhs, self.rhs)]
        if self.ineq:
            constraints.append(LinearConstraint(matrix(self.ineq), -np.inf, 0.0))
        c = np.zeros(self.n)
        for j, v in objective.items():
            c[j] += v
        out = []
        for sign in (1.0, -1.0):
            res = milp(
                sign * c,
                constraints=constraints,
                integrality=np.ones(self.n),
                bounds=Bounds(np.zeros(self.n), np.asarray(self.upper)),
            )
            if res.status != 0:  # infeasible cannot happen for true data; unbounded = safe
                out.append(-np.inf if sign > 0 else np.inf)
            else:
                out.append(sign * float(res.fun))
        return out[0], out[1]


@dataclass(eq=False)
class _Grid:
    """One table's true counts, its hidden flags and its model variables."""

    counts: npt.NDArray[np.int64]
    hide_cell: npt.NDArray[np.bool_]
    hide_row: npt.NDArray[np.bool_]
    hide_col: npt.NDArray[np.bool_]
    hide_total: bool = False

    def add_to(self, model: _Model) -> tuple[list[list[int]], list[int], list[int], int]:
        r, c = self.counts.shape
        big = float(max(1, int(self.counts.sum())) * 4)
        flat = model.variables(r * c, big)
        cells = [flat[i * c : (i + 1) * c] for i in range(r)]
        rows = model.variables(r, big)
        cols = model.variables(c, big)
        (total,) = model.variables(1, big)
        for i in range(r):
            model.equal({**{v: 1.0 for v in cells[i]}, rows[i]: -1.0}, 0.0)
        for j in range(c):
            model.equal({**{cells[i][j]: 1.0 for i in range(r)}, cols[j]: -1.0}, 0.0)
        model.equal({**{v: 1.0 for v in rows}, total: -1.0}, 0.0)
        for i in range(r):
            for j in range(c):
                if not self.hide_cell[i, j]:
                    model.equal({cells[i][j]: 1.0}, float(self.counts[i, j]))
        for i, v in enumerate(rows):
            if not self.hide_row[i]:
                model.equal({v: 1.0}, float(self.counts[i].sum()))
        for j, v in enumerate(cols):
            if not self.hide_col[j]:
                model.equal({v: 1.0}, float(self.counts[:, j].sum()))
        if not self.hide_total:
            model.equal({total: 1.0}, float(self.counts.sum()))
        return cells, rows, cols, total

    def published(self) -> CountTable:
        def show(value: int, hidden: bool) -> int | str:
            return SUPPRESSED if hidden else int(value)

        r, c = self.counts.shape
        return CountTable(
            [[show(self.counts[i, j], self.hide_cell[i, j]) for j in range(c)] for i in range(r)],
            [show(self.counts[i].sum(), self.hide_row[i]) for i in range(r)],
            [show(self.counts[:, j].sum(), self.hide_col[j]) for j in range(c)],
            show(self.counts.sum(), self.hide_total),
        )


def _grid(counts: npt.ArrayLike, k: int) -> _Grid:
    arr = np.asarray(counts, dtype=np.int64)
    if arr.ndim == 1:
        arr = arr[np.newaxis, :]
    if arr.ndim != 2 or (arr < 0).any():
        raise InputError("counts must be a 2-D array of non-negative integers.")
    small = (arr > 0) & (arr < k)
    return _Grid(
        arr,
        small.copy(),
        (arr.sum(axis=1) > 0) & (arr.sum(axis=1) < k),
        (arr.sum(axis=0) > 0) & (arr.sum(axis=0) < k),
        bool(0 < arr.sum() < k),
    )


Found = tuple[int, str, tuple[int, ...], float, float, int]
"""One attacked cell: (table, kind, index, lowest feasible value, highest, true value)."""


def attack(
    grids: Sequence[_Grid], nested: bool = False, only: tuple[int, tuple[int, ...]] | None = None
) -> list[Found]:
    """Feasible integer range of every hidden cell (and, for nested tables, of every
    difference cell that is positive): ``(table, kind, index, low, high, true value)``;
    ``only=(table, index)`` attacks that one cell (table 2: the difference)."""
    model = _Model()
    handles = [g.add_to(model) for g in grids]
    shape = grids[0].counts.shape
    if nested:  # the second table's persons are a subset of the first's
        for i in range(shape[0]):
            for j in range(shape[1]):
                model.at_most({handles[1][0][i][j]: 1.0, handles[0][0][i][j]: -1.0})
    out: list[Found] = []
    for t, (g, (cells, rows, cols, total)) in enumerate(zip(grids, handles, strict=True)):
        for i in range(shape[0]):
            for j in range(shape[1]):
                if g.hide_cell[i, j] and (only is None or only == (t, (i, j))):
                    lo, hi = model.bounds({cells[i][j]: 1.0})
                    out.append((t, "cell", (i, j), lo, hi, int(g.counts[i, j])))
        if only is not None:
            continue
        for i, v in enumerate(rows):
            if g.hide_row[i]:
                lo, hi = model.bounds({v: 1.0})
                out.append((t, "row total", (i,), lo, hi, int(g.counts[i].sum())))
        for j, v in enumerate(cols):
            if g.hide_col[j]:
                lo, hi = model.bounds({v: 1.0})
                out.append((t, "column total", (j,), lo, hi, int(g.counts[:, j].sum())))
        if g.hide_total:
            lo, hi = model.bounds({total: 1.0})
            out.append((t, "total", (), lo, hi, int(g.counts.sum())))
    if nested:
        diff = grids[0].counts - grids[1].counts
        for i in range(shape[0]):
            for j in range(shape[1]):
                if diff[i, j] > 0 and (only is None or only == (2, (i, j))):
                    a, b = handles[0][0][i][j], handles[1][0][i][j]
                    lo, hi = model.bounds({a: 1.0, b: -1.0})
                    out.append((2, "difference", (i, j), lo, hi, int(diff[i, j])))
    return out


def _recovered(found: list[Found], k: int) -> list[Found]:
    """Hidden cells whose range is narrower than ``k``; small differences likewise."""
    return [f for f in found if f[4] - f[3] < k and (f[1] != "difference" or f[5] < k)]


def _protect(grids: list[_Grid], k: int, nested: bool) -> int:
    """Hide cells, then margins, until no hidden cell is recovered; returns added hidings.

    For a recovered cell (i, j) the cheapest rectangle (i, j), (i, j'), (i', j), (i', j') of
    shown cells whose hiding protects it is hidden (the classical hypercube method: each row
    and column of the rectangle then has two unknowns that can trade counts); when no
    rectangle suffices, the one that widens the range most, else one more cell or margin.
    """
    added = 0
    while True:
        bad = _recovered(attack(grids, nested), k)
        if not bad:
            return added
        t, kind, index, *_ = bad[0]
        target = grids[1 if t == 2 else t]
        if kind in ("cell", "difference") and _hide_rectangle(grids, target, t, index, k, nested):
            added += 1
            continue
        for g in [target, *(x for x in grids if x is not target)]:
            if _hide_one_more(g, kind, index) or _hide_best_margin(grids, g, bad[0], nested):
                added += 1
                break
        else:  # pragma: no cover - everything is hidden, which always protects
            return added


def _width(grids: list[_Grid], nested: bool, t: int, index: tuple[int, ...]) -> float:
    for f in attack(grids, nested, only=(t, index)):
        if f[0] == t and f[2] == index and f[1] in ("cell", "difference"):
            return f[4] - f[3]
    return np.inf


def _hide_rectangle(
    grids: list[_Grid], g: _Grid, probe_t: int, index: tuple[int, ...], k: int, nested: bool
) -> bool:
    i, j = index
    r, c = g.counts.shape
    best: tuple[bool, float, int, list[tuple[int, int]]] | None = None
    for i2 in range(r):
        for j2 in range(c):
            if i2 == i or j2 == j:
                continue
            corners = [(i, j), (i, j2), (i2, j), (i2, j2)]
            new = [(a, b) for a, b in corners if not g.hide_cell[a, b]]
            if not new:
                continue
            for a, b in new:
                g.hide_cell[a, b] = True
            width = _width(grids, nested, probe_t, index)
            for a, b in new:
                g.hide_cell[a, b] = False
            cost = int(sum(g.counts[a, b] for a, b in new))
            key = (width >= k, width, -cost, new)
            if best is None or (key[0], -cost if key[0] else key[1]) > (
                best[0],
                best[2] if best[0] else best[1],
            ):
                best = (key[0], width, -cost, new)
    if best is None or (not best[0] and best[1] <= _width(grids, nested, probe_t, index)):
        return False
    for a, b in best[3]:
        g.hide_cell[a, b] = True
    return True


def _hide_one_more(g: _Grid, kind: str, index: tuple[int, ...]) -> bool:
    """Hide the smallest positive shown cell sharing a row or column with ``index`` (else any
    shown cell); False when every cell is already hidden (then a margin is hidden:
    :func:`_hide_best_margin`)."""
    i = index[0] if kind in ("cell", "row total", "difference") else None
    j = index[-1] if kind in ("cell", "column total", "difference") else None
    shown = ~g.hide_cell
    near = np.zeros_like(shown)
    if i is not None:
        near[i, :] = True
    if j is not None:
        near[:, j] = True
    for pool in (shown & near & (g.counts > 0), shown & near, shown & (g.counts > 0), shown):
        if pool.any():
            cand = np.argwhere(pool)
            best = cand[np.argmin(g.counts[pool])]
            g.hide_cell[best[0], best[1]] = True
            return True
    return False


def _hide_best_margin(grids: list[_Grid], g: _Grid, target: Found, nested: bool) -> bool:
    """Hide the shown margin of ``g`` (a row or column total, or the total) that widens the
    exposed ``target``'s feasible range most (ties: the smallest margin); False when every
    margin is hidden."""
    t, kind, index = target[0], target[1], target[2]

    def width() -> float:
        for f in attack(grids, nested):
            if f[0] == t and f[1] == kind and f[2] == index:
                return f[4] - f[3]
        return np.inf

    options: list[tuple[npt.NDArray[np.bool_] | None, int, int]] = [
        (g.hide_row, int(i), int(g.counts[i].sum())) for i in np.flatnonzero(~g.hide_row)
    ]
    options += [
        (g.hide_col, int(j), int(g.counts[:, j].sum())) for j in np.flatnonzero(~g.hide_col)
    ]
    if not g.hide_total:
        options.append((None, 0, int(g.counts.sum())))
    best: tuple[float, int, int] | None = None
    for n, (flags, m, size) in enumerate(options):
        if flags is None:
            g.hide_total = True
        else:
            flags[m] = True
        key = (width(), -size, -n)
        if flags is None:
            g.hide_total = False
        else:
            flags[m] = False
        if best is None or key > best:
            best = key
    if best is None:
        return False
    flags, m, _ = options[-best[2]]
    if flags is None:
        g.hide_total = True
    else:
        flags[m] = True
    return True


def _record_table(
    log: DisclosureLog,
    output: str,
    g: _Grid,
    rows: Sequence[str] | None = None,
    columns: Sequence[str] | None = None,
    reason: str = "secondary suppression (row/column totals would reveal a hidden cell)",
    skip_cells: npt.NDArray[np.bool_] | None = None,
    skip_rows: npt.NDArray[np.bool_] | None = None,
) -> None:
    r, c = g.counts.shape
    skip = np.zeros_like(g.hide_cell) if skip_cells is None else skip_cells
    skip_r = np.zeros_like(g.hide_row) if skip_rows is None else skip_rows
    k = log.min_cell
    row_name = list(rows) if rows is not None else [f"row {i}" for i in range(r)]
    col_name = list(columns) if columns is not None else [f"column {j}" for j in range(c)]
    if len(row_name) != r or len(col_name) != c:
        raise InputError(
            f"{output}: {len(row_name)} row and {len(col_name)} column labels for a "
            f"{r} x {c} table; give one label per row and per column."
        )
    for i in range(r):
        for j in range(c):
            if g.hide_cell[i, j] and not skip[i, j]:
                primary = 0 < g.counts[i, j] < k
                log.record(
                    output,
                    f"{row_name[i]}, {col_name[j]}",
                    f"count below {k}" if primary else reason,
                )
    for flags, names, what in (
        (g.hide_row & ~skip_r, row_name, "row total"),
        (g.hide_col, col_name, "column total"),
    ):
        for m in np.flatnonzero(flags):
            log.record(
                output, f"{what}: {names[m]}", "margin suppressed (small, or would reveal a cell)"
            )
    if g.hide_total:
        log.record(output, "total", "margin suppressed (small, or would reveal a cell)")


def protect_table(
    log: DisclosureLog,
    output: str,
    counts: npt.ArrayLike,
    *,
    rows: Sequence[str] | None = None,
    columns: Sequence[str] | None = None,
    unpublished_cells: npt.ArrayLike | None = None,
    unpublished_rows: Sequence[bool] | None = None,
) -> CountTable:
    """Publishable form of a two-way count table with its margins (module comment above).

    Primary suppression hides counts (and margins) in ``(0, min_cell)``; secondary suppression
    then hides further cells, and if needed margins, until the attack recovers no hidden cell.
    Every hidden cell is recorded in ``log`` with its reason, named by the ``rows`` and
    ``columns`` labels when given. ``unpublished_cells`` (a boolean mask) and
    ``unpublished_rows`` (row totals) mark parts of the table that no output shows (the
    interior of a table of which only the margins are published, a remainder row): they are
    unknowns of the attack from the start and are not recorded as suppressions.
    """
    g = _grid(counts, log.min_cell)
    absent = np.zeros_like(g.hide_cell)
    if unpublished_cells is not None:
        absent = np.asarray(unpublished_cells, dtype=bool).reshape(g.counts.shape)
    absent_rows = np.zeros_like(g.hide_row)
    if unpublished_rows is not None:
        absent_rows = np.asarray(unpublished_rows, dtype=bool)
    g.hide_cell |= absent
    g.hide_row |= absent_rows
    _protect([g], log.min_cell, nested=False)
    _record_table(log, output, g, rows, columns, skip_cells=absent, skip_rows=absent_rows)
    return g.published()


def protect_nested(
    log: DisclosureLog,
    outputs: tuple[str, str],
    counts: tuple[npt.ArrayLike, npt.ArrayLike],
    *,
    rows: Sequence[str] | None = None,
    columns: Sequence[str] | None = None,
) -> tuple[CountTable, CountTable]:
    """Two tables of the same cells where the second's persons are a subset of the first's
    (a subgroup and the full sample; two samples one of which drops a few persons).

    The difference of the two tables is the table of the persons in one but not the other
    (the complement): a difference cell in ``(0, min_cell)`` must not be recoverable either.
    Both tables are protected jointly (cells, margins and differences).
    """
    ga, gb = _grid(counts[0], log.min_cell), _grid(counts[1], log.min_cell)
    if ga.counts.shape != gb.counts.shape or (gb.counts > ga.counts).any():
        raise InputError(
            "the second table must count a subset of the first table's persons (same cells, "
            "no cell larger than in the first)."
        )
    _protect([ga, gb], log.min_cell, nested=True)
    nested_reason = (
        "nested suppression (the difference from the other table would reveal a hidden count)"
    )
    _record_table(log, outputs[0], ga, rows, columns, nested_reason)
    _record_table(log, outputs[1], gb, rows, columns, nested_reason)
    return ga.published(), gb.published()


def dominance_ok(
    log: DisclosureLog,
    output: str,
    cell: str,
    values: npt.ArrayLike,
    *,
    n: int = 1,
    k: float = 0.85,
) -> bool:
    """The (n, k) dominance rule for a continuous statistic (a sum or mean of ``values``).

    The cell may be published only when the ``n`` largest contributions make up at most
    ``k`` of the total (absolute values) and at least ``min_cell`` persons contribute;
    otherwise a dominant contributor's value could be estimated from the statistic.
    """
    x = np.abs(np.asarray(values, dtype=np.float64).ravel())
    x = x[np.isfinite(x)]
    if x.size < log.min_cell:
        log.record(output, cell, f"fewer than {log.min_cell} contributors")
        return False
    total = float(x.sum())
    top = float(np.sort(x)[::-1][:n].sum())
    if total > 0 and top > k * total:
        log.record(output, cell, f"dominance: the {n} largest contribute more than {k:.0%}")
        return False
    return True


def audit(log: DisclosureLog) -> list[dict[str, str]]:
    """Every suppressed cell and why, in the order suppressed (output, cell, reason, kind)."""
    kinds = (
        ("count below", "primary"),
        ("group of fewer", "primary"),
        ("fewer than", "primary"),
        ("built from", "primary"),
        ("dominance", "dominance"),
        ("secondary", "secondary"),
        ("nested", "nested"),
        ("differs from", "nested"),
        ("steps of fewer", "secondary"),
        ("complementary", "secondary"),
        ("margin", "secondary"),
    )
    rows = []
    for e in log.entries:
        kind = next((name for key, name in kinds if e.reason.startswith(key)), "")
        if not kind:  # section-specific wording: revealing by subtraction is secondary
            kind = "secondary" if "reveal" in e.reason else "other"
        rows.append({"output": e.output, "cell": e.cell, "reason": e.reason, "kind": kind})
    return rows


def write_audit(log: DisclosureLog, path: Path) -> Path:
    """Write :func:`audit` as a CSV (columns output, cell, reason, kind; a header only when
    nothing was suppressed) next to the report, for the output checker of the research
    server."""
    schema = {"output": pl.String, "cell": pl.String, "reason": pl.String, "kind": pl.String}
    return write_csv_atomic(pl.DataFrame(audit(log), schema=schema), path)
