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

import numpy as np
import numpy.typing as npt

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

        Returns a mask (``True`` = suppress) and records every suppressed cell.
        """
        counts_arr = np.asarray(counts, dtype=np.int64)
        mask = (counts_arr > 0) & (counts_arr < self.min_cell)
        for i in np.flatnonzero(mask):
            self.record(output, cells[int(i)], f"count below {self.min_cell}")
        if mask.sum() == 1:
            others = np.flatnonzero(~mask & (counts_arr > 0))
            if others.size:
                j = int(others[np.argmin(counts_arr[others])])
                mask[j] = True
                self.record(
                    output, cells[j], "secondary suppression (the total would reveal a cell)"
                )
        return [bool(m) for m in mask]

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
