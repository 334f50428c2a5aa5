r"""Alignment of each person's register row on their allocation week.

Relative week :math:`t` of person :math:`i` is calendar week :math:`a_i + t`, where
:math:`a_i` is the allocation week (week 0). Weeks :math:`1..W` follow allocation and weeks
:math:`-P..-1` precede it. An aligned window for weeks :math:`f..l` is the ``uint8`` array

.. math:: X_{i,j} = s_{r_i,\; a_i - w_0 + f + j}, \qquad j = 0..l-f,

with :math:`r_i` the person's register row, :math:`w_0` the register's first week and
:data:`UNOBSERVED` (255) wherever that calendar week lies outside the register: cells outside
the register's span are never invented. Because the register is a rectangle, the observed
weeks of a person always form one interval.

Persons whose window lies inside the register are gathered in one fancy-indexing step on a
sliding-window view of the state array (no copy of the register); the others in groups that
share an offset :math:`a_i - w_0` (a row gather plus a contiguous slice per group, padded with
:data:`UNOBSERVED`), so the code loops over distinct allocation weeks, never over persons.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import polars as pl
from numpy.lib.stride_tricks import sliding_window_view

from dreamkit.design import columns as C
from dreamkit.errors import ColumnNotFoundError, DuplicateError, EmptyInputError, InputError
from dreamkit.outcomes.ledger import SampleFlow
from dreamkit.register.calendar import weeks_of_dates
from dreamkit.register.register import Register

UNOBSERVED = np.uint8(255)
"""State id of a cell outside the register's span (code maps have at most 255 states, 0..254)."""

OnMissing = Literal["error", "exclude"]
Coverage = Literal["require", "partial"]


def allocation_weeks(trial: pl.DataFrame) -> npt.NDArray[np.int64]:
    """Allocation week ordinals: ``allocation_week``, else derived from ``allocation_date``."""
    if C.ALLOCATION_WEEK in trial.columns:
        col = trial[C.ALLOCATION_WEEK]
        if not col.dtype.is_integer():
            raise InputError(
                f"column {C.ALLOCATION_WEEK!r} has type {col.dtype}; it must hold integer week "
                "ordinals (dreamkit.register.calendar); drop it to derive it from "
                f"{C.ALLOCATION_DATE!r}."
            )
    elif C.ALLOCATION_DATE in trial.columns:
        col = trial[C.ALLOCATION_DATE]
        if col.dtype not in (pl.Date, pl.Datetime):
            raise InputError(
                f"column {C.ALLOCATION_DATE!r} has type {col.dtype}; it must be a date "
                "(cast it with .str.to_date())."
            )
        col = pl.Series(C.ALLOCATION_WEEK, weeks_of_dates(col.cast(pl.Date).to_numpy()))
    else:
        raise ColumnNotFoundError(
            f"the trial table needs column {C.ALLOCATION_WEEK!r} or {C.ALLOCATION_DATE!r} to "
            f"align the register; its columns are {trial.columns}."
        )
    if col.null_count():
        raise InputError(
            f"column {col.name!r} has {col.null_count()} missing value(s); every person needs an "
            "allocation week. Fill them in, or exclude those persons with SampleFlow.filter."
        )
    return col.cast(pl.Int64).to_numpy()


def aligned_window(
    states: npt.NDArray[np.uint8],
    rows: npt.NDArray[np.int64],
    offsets: npt.NDArray[np.int64],
    first: int,
    last: int,
) -> npt.NDArray[np.uint8]:
    """Aligned window of relative weeks ``first..last`` (see module docstring).

    Args:
        states: register state array (persons x weeks).
        rows: register row of each person.
        offsets: register column of each person's week 0 (may lie outside the register).
        first, last: relative weeks, inclusive.

    Returns:
        ``uint8`` array (persons x (last - first + 1)); :data:`UNOBSERVED` outside the span.
    """
    n, width, n_cols = rows.size, last - first + 1, states.shape[1]
    inside = (offsets + first >= 0) & (offsets + last < n_cols)
    if n and width <= n_cols and inside.all():
        return sliding_window_view(states, width, axis=1)[rows, offsets + first]
    out = np.full((n, width), UNOBSERVED, dtype=np.uint8)
    if n == 0 or width <= 0:
        return out
    if width <= n_cols and inside.any():
        part = np.flatnonzero(inside)
        out[part] = sliding_window_view(states, width, axis=1)[rows[part], offsets[part] + first]
        rows, offsets = rows[~inside], offsets[~inside]
        n = rows.size
        scatter = np.flatnonzero(~inside)
    else:
        scatter = np.arange(n)
    local = np.argsort(offsets, kind="stable")
    distinct, starts = np.unique(offsets[local], return_index=True)
    stops = np.append(starts[1:], n)
    for offset, start, stop in zip(distinct.tolist(), starts, stops, strict=True):
        col0 = offset + first
        lo, hi = max(col0, 0), min(offset + last + 1, n_cols)
        if lo >= hi:
            continue
        group = local[start:stop]
        out[scatter[group], lo - col0 : hi - col0] = states[rows[group], lo:hi]
    return out


@dataclass(frozen=True, eq=False)
class Alignment:
    """Register rows and allocation weeks of the analysed persons (in trial order)."""

    register: Register
    rows: npt.NDArray[np.int64]
    allocation_weeks: npt.NDArray[np.int64]

    def __repr__(self) -> str:
        return f"Alignment({self.n_persons} persons on {self.register!r})"

    @property
    def n_persons(self) -> int:
        return int(self.rows.size)

    @property
    def offsets(self) -> npt.NDArray[np.int64]:
        """Register column of each person's allocation week (week 0)."""
        return self.allocation_weeks - self.register.first_week

    def observed_bounds(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """First and last relative week that the register covers, per person."""
        return -self.offsets, self.register.n_weeks - 1 - self.offsets

    def covers(self, first: int, last: int) -> npt.NDArray[np.bool_]:
        """Whether the register covers every relative week ``first..last`` of each person."""
        lo, hi = self.observed_bounds()
        return (lo <= first) & (hi >= last)

    def window(self, first: int, last: int, persons: slice | None = None) -> npt.NDArray[np.uint8]:
        """Aligned window of relative weeks ``first..last`` (optionally for a slice of persons)."""
        part = slice(None) if persons is None else persons
        return aligned_window(
            self.register.states, self.rows[part], self.offsets[part], first, last
        )


@dataclass(frozen=True, eq=False)
class AlignedTrial:
    """The trial rows kept for analysis, their alignment, and the ledger that explains it."""

    trial: pl.DataFrame
    alignment: Alignment
    flow: SampleFlow

    def __repr__(self) -> str:
        return f"AlignedTrial({self.trial.height} persons, {self.flow!r})"


def coverage_reason(first: int, last: int) -> str:
    """Ledger reason for persons whose register does not cover relative weeks first..last."""
    return f"register does not cover weeks {first}..{last} around allocation"


def align_trial(
    register: Register,
    trial: pl.DataFrame,
    *,
    first: int,
    last: int,
    on_missing: OnMissing = "error",
    coverage: Coverage = "require",
    flow: SampleFlow | None = None,
) -> AlignedTrial:
    """Match trial persons to register rows and check coverage of relative weeks first..last.

    Args:
        register: the weekly state register.
        trial: one row per person with ``person_id`` and ``allocation_week`` (or
            ``allocation_date``).
        first, last: relative weeks that the analysis needs (e.g. -104..81).
        on_missing: ``"error"`` raises :class:`~dreamkit.errors.MissingPersonsError` (with a
            count) for persons absent from the register; ``"exclude"`` drops them and records
            the step in the ledger.
        coverage: ``"require"`` drops persons whose register does not cover ``first..last``
            and records them; ``"partial"`` keeps them (their uncovered outcomes become null).
        flow: a ledger to continue (its ``remaining`` must equal the trial's rows); a new one
            starting at the trial's rows if None.
    """
    if on_missing not in ("error", "exclude"):
        raise InputError(f"on_missing must be 'error' or 'exclude', got {on_missing!r}.")
    if coverage not in ("require", "partial"):
        raise InputError(f"coverage must be 'require' or 'partial', got {coverage!r}.")
    if first > last:
        raise InputError(f"the window's first week ({first}) is after its last week ({last}).")
    if C.PERSON not in trial.columns:
        raise ColumnNotFoundError(
            f"the trial table needs column {C.PERSON!r}; its columns are {trial.columns} "
            "(rename yours with dreamkit.design.trial.validate_trial)."
        )
    if trial.height == 0:
        raise EmptyInputError("the trial table has no rows; pass the randomised persons.")
    ids = trial[C.PERSON]
    if ids.null_count():
        raise InputError(
            f"column {C.PERSON!r} has {ids.null_count()} missing value(s); every person needs "
            "an identifier."
        )
    n_dup = ids.len() - ids.n_unique()
    if n_dup:
        raise DuplicateError(
            f"column {C.PERSON!r} has {n_dup} duplicated person(s); the trial table needs one "
            "row per person."
        )
    weeks = allocation_weeks(trial)
    flow = SampleFlow(trial.height) if flow is None else flow
    if flow.remaining != trial.height:
        raise InputError(
            f"the ledger has {flow.remaining} persons remaining but the trial table has "
            f"{trial.height} rows; pass the ledger that produced this table."
        )
    if on_missing == "error":
        rows = register.require_rows(ids)
    else:
        rows = register.rows_of(ids)
    found = rows >= 0
    if on_missing == "exclude":
        flow.exclude(
            "not in register", "person id not found in the register", found.size - int(found.sum())
        )
    alignment = Alignment(register, rows, weeks)
    keep = found
    if coverage == "require":
        covered = alignment.covers(first, last) & found
        flow.exclude(
            "register coverage", coverage_reason(first, last), int((found & ~covered).sum())
        )
        keep = covered
    if not keep.all():
        trial = trial.filter(pl.Series(keep))
        alignment = Alignment(register, rows[keep], weeks[keep])
    flow.check(trial.height)
    return AlignedTrial(trial, alignment, flow)
