"""Employment information, monthly or weekly, expanded to the register's weeks.

DREAM records benefit codes per week but employment (labour-market contribution paid on wage
income) per **month**. A month's flag is carried to weeks by the **Thursday rule**: an ISO week
belongs to the month that contains its Thursday, which is the month holding at least four of
the week's seven days (the rule that also assigns a week to its ISO year; see
:func:`dreamkit.register.calendar.months_of_weeks`). So the week Mon 2009-03-30 .. Sun
2009-04-05 (Thursday 2 April) takes the April flag, and every week belongs to exactly one month.

Three layouts are read:

* ``"columns"``: monthly columns ``PREFIX + YYYY_MM`` (default prefix ``branche_``) in the wide
  register file; a non-empty cell (anything but null, NaN or empty text) means employed that
  month (DREAM stores the industry code there);
* a monthly table ``(person, month, employed)`` (:class:`EmploymentTable` with ``unit="month"``);
* a weekly table ``(person, week, employed)`` (``unit="week"``), taken as it is.

In a table, a person-month (or person-week) without a row is "not employed"; ``employed``
holds booleans, 0/1 or the strings true/false/1/0. Records outside the register's span are an
error unless ``on_outside="clip"``, which drops and counts them (``Register.n_clipped_employment``).

A week's state then follows DREAM's one-code-per-week priority rule: the benefit code's state
when there is a code (the transfer wins over the employment flag), otherwise
``codemap.employed_state`` when employed and ``codemap.not_employed_state`` when not.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import polars as pl

from dreamkit.errors import DuplicateError, InputError, MissingPersonsError, SpanError
from dreamkit.register._persons import rows_in
from dreamkit.register.calendar import DEFAULT_PIVOT, months_of_weeks, week_label
from dreamkit.register.labels import month_indices, month_label, parse_month_label, week_ordinals
from dreamkit.register.sources import Source, as_lazy, collect, column_names, require_columns

OnOutside = Literal["error", "clip"]


@dataclass(frozen=True)
class EmploymentTable:
    """A separate table of employment flags (see module docstring).

    Attributes:
        source: Parquet/CSV path, DataFrame or LazyFrame.
        unit: ``"month"`` (DREAM's layout, expanded by the Thursday rule) or ``"week"``.
        time: column holding the month or week; default ``"month"`` / ``"week"``.
        employed: column holding the flag.
        person: person-id column; default: the register reader's ``person`` argument.
    """

    source: Source
    unit: Literal["month", "week"] = "month"
    time: str | None = None
    employed: str = "employed"
    person: str | None = None

    def __post_init__(self) -> None:
        if self.unit not in ("month", "week"):
            raise InputError(f"EmploymentTable.unit must be 'month' or 'week', got {self.unit!r}.")

    @property
    def time_column(self) -> str:
        return self.time if self.time is not None else self.unit


@dataclass(frozen=True)
class EmploymentGrid:
    """Employment flags per person and month (or week), with each register week's column.

    ``flags[i, unit_of_week[j]]`` is the flag of register row ``i`` in register week ``j``.
    """

    flags: npt.NDArray[np.bool_]
    unit_of_week: npt.NDArray[np.intp]
    n_clipped: int = 0

    def block(self, start: int, stop: int) -> npt.NDArray[np.bool_]:
        """Weekly flags of register rows ``start:stop`` (persons x register weeks)."""
        return self.flags[start:stop][:, self.unit_of_week]


def month_positions(
    weeks: npt.ArrayLike, months: Sequence[int], *, what: str = "employment data"
) -> npt.NDArray[np.intp]:
    """Position in ``months`` of each week's month (Thursday rule).

    Raises :class:`SpanError` naming the first week whose month is not in ``months``.
    """
    weeks = np.asarray(weeks, dtype=np.int64)
    week_months = months_of_weeks(weeks)
    order = np.asarray(months, dtype=np.int64)
    pos = np.searchsorted(order, week_months)
    ok = (pos < order.size) & (order[np.minimum(pos, order.size - 1)] == week_months)
    if not ok.all():
        first = int(np.flatnonzero(~ok)[0])
        n_missing = int(np.unique(week_months[~ok]).size)
        raise SpanError(
            f"{what} cover months {month_label(order[0])}..{month_label(order[-1])}, but "
            f"register week {week_label(int(weeks[first]))} falls in month "
            f"{month_label(int(week_months[first]))} ({n_missing} month(s) lack employment "
            "information); add those months or read fewer weeks (first_week=/last_week=)."
        )
    return pos.astype(np.intp)


def expand_months(
    flags: npt.NDArray[np.bool_], months: Sequence[int], weeks: npt.ArrayLike
) -> npt.NDArray[np.bool_]:
    """Weekly flags from monthly ``flags`` (persons x ``months``) by the Thursday rule.

    ``months`` are sorted month indices (``12 * year + month - 1``); the result has one column
    per entry of ``weeks`` (week ordinals): ``out[i, j] = flags[i, month of Thursday of j]``.
    """
    return np.asarray(flags, dtype=bool)[:, month_positions(weeks, months)]


def parse_month_columns(names: Sequence[str], prefix: str) -> list[tuple[str, int]]:
    """``(column, month index)`` of the ``PREFIX + YYYY_MM`` columns, sorted by month.

    Raises for malformed labels and for a gap (naming the missing month).
    """
    found = sorted(
        (
            (parse_month_label(name[len(prefix) :], column=name), name)
            for name in names
            if name.startswith(prefix)
        ),
    )
    if not found:
        raise_missing_columns(names, prefix)
    months = [m for m, _ in found]
    dup = [m for m, n in zip(months[1:], months[:-1], strict=True) if m == n]
    if dup:
        raise DuplicateError(
            f"two employment columns hold month {month_label(dup[0])}; keep one of them."
        )
    gaps = [m + 1 for m, n in itertools.pairwise(months) if n != m + 1]
    if gaps:
        raise SpanError(
            f"employment column {month_label(gaps[0], prefix)!r} is missing between "
            f"{month_label(months[0], prefix)!r} and {month_label(months[-1], prefix)!r}; "
            "monthly employment columns must be contiguous (add the month, empty if nobody "
            "was employed)."
        )
    return [(name, month) for month, name in found]


def raise_missing_columns(names: Sequence[str], prefix: str) -> None:
    """Raise :class:`~dreamkit.errors.ColumnNotFoundError` for absent employment columns."""
    require_columns(names, [f"{prefix}YYYY_MM"], what=f"employment='columns' (prefix {prefix!r})")


def nonempty_expr(name: str, dtype: pl.DataType) -> pl.Expr:
    """True where an employment cell is non-empty (not null, not NaN, not blank text)."""
    col = pl.col(name)
    if dtype == pl.String:
        flag = col.is_not_null() & (col.str.strip_chars() != "")
    elif dtype.is_float():
        flag = col.is_not_null() & col.is_not_nan()
    else:
        flag = col.is_not_null()
    return flag.fill_null(False).alias(name)


def read_table(
    employment: EmploymentTable | Source,
    *,
    person: str,
    person_ids: pl.Series,
    weeks: npt.NDArray[np.int32],
    on_outside: OnOutside = "error",
    pivot: int = DEFAULT_PIVOT,
) -> EmploymentGrid:
    """Read an employment table into an :class:`EmploymentGrid` over the register's rows/weeks.

    ``employment`` is an :class:`EmploymentTable` or the source of a monthly table with the
    default columns (``EmploymentTable(employment)``).
    """
    _check_on_outside(on_outside)
    spec = employment if isinstance(employment, EmploymentTable) else EmploymentTable(employment)
    what = f"employment table ({spec.unit}ly)"
    person = spec.person or person
    time, flag = spec.time_column, spec.employed
    frame = as_lazy(spec.source, what=what, text_columns=[time])
    require_columns(column_names(frame, what=what), [person, time, flag], what=what)
    table = collect(frame.select(person, time, flag), what=what)
    if table.height == 0:
        raise InputError(
            f"{what} has no rows; pass employment=None if nobody is employed, or check the file."
        )
    rows = rows_in(person_ids, table[person], column=person, what=what)
    n_absent = int((rows < 0).sum())
    if n_absent:
        raise MissingPersonsError(
            f"{what}: {n_absent} row(s) in column {person!r} belong to persons who are not in "
            "the register; remove them from the employment table (or, for read_long, list "
            "every person with persons=)."
        )
    if spec.unit == "month":
        units = month_indices(table[time], column=time).astype(np.int64)
        week_units = months_of_weeks(weeks).astype(np.int64)
        label: Callable[[int], str] = month_label
    else:
        units = week_ordinals(table[time], pivot=pivot, column=time).astype(np.int64)
        week_units = np.asarray(weeks, dtype=np.int64)
        label = week_label
    employed = _flags(table[flag], column=flag, what=what)
    _check_duplicates(rows, units, time=time, what=what)
    lo, hi = int(week_units.min()), int(week_units.max())
    outside = (units < lo) | (units > hi)
    n_outside = int(outside.sum())
    if n_outside and on_outside == "error":
        example = int(units[outside][0])
        raise SpanError(
            f"{what}: {n_outside} record(s) in column {time!r} lie outside the register's span "
            f"{label(lo)}..{label(hi)} (e.g. {label(example)}); filter the table to that span "
            "or pass employment_outside='clip' to drop them (counted in "
            "Register.n_clipped_employment)."
        )
    keep = ~outside & employed
    grid = np.zeros((person_ids.len(), hi - lo + 1), dtype=bool)
    grid[rows[keep], units[keep] - lo] = True
    return EmploymentGrid(grid, (week_units - lo).astype(np.intp), n_clipped=n_outside)


def _flags(values: pl.Series, *, column: str, what: str) -> npt.NDArray[np.bool_]:
    n_null = values.null_count()
    if n_null:
        raise InputError(
            f"{what}: column {column!r} has {n_null} missing flag(s); fill them "
            "(e.g. fill_null(False)) before reading."
        )
    if values.dtype == pl.Boolean:
        return values.to_numpy().astype(bool)
    if values.dtype == pl.String:
        lowered = values.str.strip_chars().str.to_lowercase()
        mapping: dict[str, bool] | dict[int, bool] = {
            "true": True,
            "1": True,
            "false": False,
            "0": False,
        }
        valid = lowered.is_in(list(mapping))
    elif values.dtype.is_integer():
        lowered = values
        mapping = {1: True, 0: False}
        valid = values.is_in([0, 1])
    else:
        raise InputError(
            f"{what}: column {column!r} has type {values.dtype}; employment flags must be "
            "booleans, 0/1 or true/false."
        )
    n_bad = int((~valid).sum())
    if n_bad:
        example = lowered.filter(~valid)[0]
        raise InputError(
            f"{what}: {n_bad} value(s) in column {column!r} are not employment flags, e.g. "
            f"{example!r}; use booleans, 0/1 or true/false."
        )
    return lowered.replace_strict(mapping, return_dtype=pl.Boolean).to_numpy().astype(bool)


def _check_duplicates(
    rows: npt.NDArray[np.int64], units: npt.NDArray[np.int64], *, time: str, what: str
) -> None:
    keys = pl.DataFrame({"r": rows, "u": units})
    n_dup = keys.height - keys.n_unique()
    if n_dup:
        raise DuplicateError(
            f"{what}: {n_dup} duplicated person-{time} record(s) (the same person and "
            f"{time} more than once); keep one row per person and {time}."
        )


def _check_on_outside(on_outside: str) -> None:
    if on_outside not in ("error", "clip"):
        raise InputError(f"employment_outside must be 'error' or 'clip', got {on_outside!r}.")
