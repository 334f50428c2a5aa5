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
* **Kaplan-Meier curves**: drawn only while at least ``k`` persons are at risk; the at-risk
  table shows no number below ``k``.

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

    def at_risk_horizon(self, at_risk: npt.ArrayLike) -> int:
        """Number of leading time points with at least ``min_cell`` persons at risk."""
        arr = np.asarray(at_risk)
        below = np.flatnonzero(arr < self.min_cell)
        return int(below[0]) if below.size else int(arr.size)
