"""The sample-flow ledger: every step that removes persons, with its reason and count.

A :class:`SampleFlow` starts from the number of persons that entered (usually the randomised
persons of the trial table) and records each exclusion step in order. Its invariant is

.. math:: n_\text{input} - \\sum_s \text{removed}_s = n_\text{remaining},

checked whenever the ledger is read. The ledger holds counts only, never person identifiers,
so its table can be published (subject to disclosure control of small counts).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import polars as pl

from dreamkit.errors import InputError


@dataclass(frozen=True)
class FlowStep:
    """One exclusion step: what was checked, why persons were removed, and how many."""

    step: str
    reason: str
    removed: int
    remaining: int


@dataclass
class SampleFlow:
    """Ledger of exclusion steps from ``n_input`` persons to the analysed sample.

    Record steps with :meth:`exclude` (a count) or :meth:`filter` (filters a table and records
    the rows it drops). Steps that remove nobody are recorded too: they document that the
    check was made.
    """

    n_input: int
    steps: list[FlowStep] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.n_input < 0:
            raise InputError(f"SampleFlow n_input must be >= 0, got {self.n_input}.")

    def __repr__(self) -> str:
        return (
            f"SampleFlow({self.n_input} in, {len(self.steps)} step(s), "
            f"{self.n_input - self.remaining} removed, {self.remaining} remaining)"
        )

    @property
    def remaining(self) -> int:
        """Persons left after the recorded steps."""
        return self.steps[-1].remaining if self.steps else self.n_input

    @property
    def removed(self) -> int:
        """Persons removed by all recorded steps."""
        return sum(s.removed for s in self.steps)

    def exclude(self, step: str, reason: str, removed: int) -> None:
        """Record that ``removed`` persons were excluded at ``step`` for ``reason``."""
        removed = int(removed)
        if removed < 0 or removed > self.remaining:
            raise InputError(
                f"sample-flow step {step!r} removes {removed} person(s) but {self.remaining} "
                "remain; the count must lie between 0 and the persons remaining."
            )
        self.steps.append(FlowStep(step, reason, removed, self.remaining - removed))

    def filter(
        self,
        frame: pl.DataFrame,
        keep: pl.Expr | pl.Series | npt.NDArray[np.bool_],
        step: str,
        reason: str,
    ) -> pl.DataFrame:
        """Keep the rows of ``frame`` where ``keep`` is true and record the rest as removed.

        ``frame`` must hold exactly the persons remaining (one row each). A null in ``keep``
        raises: whether such a person stays must be decided explicitly.
        """
        if frame.height != self.remaining:
            raise InputError(
                f"sample-flow step {step!r}: the table has {frame.height} rows but the ledger "
                f"has {self.remaining} persons remaining; record every earlier exclusion first."
            )
        if isinstance(keep, pl.Expr):
            mask = frame.select(keep.alias("_keep"))["_keep"]
        elif isinstance(keep, pl.Series):
            mask = keep
        else:
            mask = pl.Series("_keep", np.asarray(keep))
        if mask.len() != frame.height:
            raise InputError(
                f"sample-flow step {step!r}: the keep mask has {mask.len()} entries for "
                f"{frame.height} rows; give one entry per row."
            )
        if mask.null_count():
            raise InputError(
                f"sample-flow step {step!r}: the keep mask has {mask.null_count()} missing "
                "value(s); decide explicitly (fill_null(True) or fill_null(False))."
            )
        mask = mask.cast(pl.Boolean)
        kept = frame.filter(mask)
        self.exclude(step, reason, frame.height - kept.height)
        return kept

    def check(self, n_final: int) -> None:
        """Raise unless the ledger adds up to ``n_final`` analysed persons."""
        if self.n_input - self.removed != self.remaining or self.remaining != n_final:
            raise InputError(
                f"the sample-flow ledger does not add up: {self.n_input} in, {self.removed} "
                f"removed, {self.remaining} remaining, but {n_final} analysed; record every "
                "exclusion in the ledger."
            )

    def table(self) -> pl.DataFrame:
        """The ledger as a table with columns step, reason, removed, remaining."""
        assert self.n_input - self.removed == self.remaining, "ledger counts do not add up"
        return pl.DataFrame(
            {
                "step": [s.step for s in self.steps],
                "reason": [s.reason for s in self.steps],
                "removed": [s.removed for s in self.steps],
                "remaining": [s.remaining for s in self.steps],
            },
            schema={
                "step": pl.String,
                "reason": pl.String,
                "removed": pl.Int64,
                "remaining": pl.Int64,
            },
        )
