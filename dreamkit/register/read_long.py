"""Read a long DREAM-style table (person, week, code) into a Register.

One row per person-week with a benefit code; person-weeks without a row have no transfer. A
row with an empty code is allowed (it also means no transfer, and makes the person part of the
register even without any code). Week values may be ``y_YYWW``/``YYWW`` strings, ``YYYYWW``
integers or strings, ISO date strings or dates (see :mod:`dreamkit.register.labels`).

The register spans the weeks ``min(week) .. max(week)`` of the table unless ``first_week`` /
``last_week`` are given. Persons are the distinct ids of the table in order of first
appearance, unless ``persons`` lists the population (persons with no transfer in the whole
span have no row in a sparse long table, so pass ``persons`` to keep them). An empty table is
an error unless ``persons``, ``first_week`` and ``last_week`` are all given.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from dreamkit.errors import (
    DuplicateError,
    EmptyInputError,
    InputError,
    MissingPersonsError,
    SpanError,
)
from dreamkit.register._options import WeekLike, check_choice, resolve_codemap, week_arg
from dreamkit.register._persons import check_person_ids, rows_in
from dreamkit.register.calendar import DEFAULT_PIVOT, week_label
from dreamkit.register.code_cells import MISSING, CodeTally, code_expr
from dreamkit.register.codemap import CodeMap
from dreamkit.register.employment import EmploymentTable, OnOutside, read_table
from dreamkit.register.labels import week_ordinals
from dreamkit.register.register import Register
from dreamkit.register.sources import (
    BATCH_ROWS,
    Source,
    as_lazy,
    collect,
    column_names,
    require_columns,
)

WHAT = "long register"


def read_long(
    source: Source,
    *,
    person: str = "person_id",
    week: str = "week",
    code: str = "code",
    codemap: CodeMap | str | Path | None = None,
    employment: EmploymentTable | Source | None = None,
    employment_outside: OnOutside = "error",
    first_week: WeekLike | None = None,
    last_week: WeekLike | None = None,
    on_outside: OnOutside = "error",
    persons: pl.Series | None = None,
    on_unknown: str = "error",
    pivot: int = DEFAULT_PIVOT,
) -> Register:
    """Read a long table of codes into a :class:`~dreamkit.register.register.Register`.

    Cell ``(i, j)`` is ``codemap(code)`` if person ``i`` has a code in week ``first_week + j``
    (the transfer wins), else ``employed_state`` if the employment data flag that week (for
    monthly data: the month of its Thursday), else ``not_employed_state``.

    Args:
        source: Parquet/CSV path, DataFrame or LazyFrame (only the three columns are read).
        person: name of the person column.
        week: name of the week column.
        code: name of the code column.
        codemap: a :class:`CodeMap`, a TOML path, or None for the shipped default.
        employment: None (nobody employed), an :class:`EmploymentTable` (monthly or weekly),
            or a source holding a monthly table ``(person, month, employed)``.
        employment_outside: ``"error"`` or ``"clip"`` for employment records outside the span.
        first_week: start of the register's span (ordinal, label or date); default: the
            table's first week.
        last_week: end of the span; default: the table's last week.
        on_outside: ``"error"`` or ``"clip"`` for code rows outside a given span (clipped rows
            are counted in ``Register.n_clipped_codes``).
        persons: the population in register-row order; every person of the table and of the
            employment data must be in it.
        on_unknown: ``"error"``, or ``"unknown"`` to map codes missing from the code map to
            the ``unknown`` state (counted in ``Register.n_unknown_codes``).
        pivot: century rule for two-digit years.
    """
    check_choice(on_unknown, ("error", "unknown"), name="on_unknown")
    check_choice(on_outside, ("error", "clip"), name="on_outside")
    check_choice(employment_outside, ("error", "clip"), name="employment_outside")
    cmap = resolve_codemap(codemap)
    frame = as_lazy(source, what=WHAT, text_columns=[week, code])
    require_columns(column_names(frame, what=WHAT), [person, week, code], what=WHAT)
    table = collect(frame.select(person, week, code), what=WHAT)
    if table.height == 0 and (persons is None or first_week is None or last_week is None):
        raise EmptyInputError(
            f"{WHAT} has no rows; check the file, or give persons=, first_week= and last_week= "
            "if nobody had a transfer in the span."
        )
    if table.height:
        check_person_ids(table[person], column=person, what=WHAT, unique=False)
    if persons is not None:
        index = persons.rename(person)
        check_person_ids(index, column=person, what="persons=")
    else:
        index = table[person].unique(maintain_order=True)
    rows = rows_in(index, table[person], column=person, what=WHAT)
    n_absent = int((rows < 0).sum())
    if n_absent:
        raise MissingPersonsError(
            f"{WHAT}: {n_absent} row(s) in column {person!r} belong to persons missing from "
            "persons=; add them to persons= or remove the rows."
        )
    weeks = week_ordinals(table[week], pivot=pivot, column=week).astype(np.int64)
    codes = table.select(code_expr(code, table.schema[code])).to_series().to_numpy()
    _check_duplicates(rows, weeks, week=week)

    lo = week_arg(first_week, name="first_week", pivot=pivot)
    hi = week_arg(last_week, name="last_week", pivot=pivot)
    lo = int(weeks.min()) if lo is None else lo
    hi = int(weeks.max()) if hi is None else hi
    if lo > hi:
        raise InputError(
            f"first_week {week_label(lo)} is after last_week {week_label(hi)}; swap them."
        )
    outside = (weeks < lo) | (weeks > hi)
    n_outside = int(outside.sum())
    if n_outside and on_outside == "error":
        raise SpanError(
            f"{WHAT}: {n_outside} row(s) of column {week!r} lie outside the requested span "
            f"{week_label(lo)}..{week_label(hi)} (e.g. {week_label(int(weeks[outside][0]))}); "
            "widen first_week/last_week or pass on_outside='clip' to drop them (counted in "
            "Register.n_clipped_codes)."
        )
    span = np.arange(lo, hi + 1, dtype=np.int32)
    states = np.full((index.len(), span.size), cmap.not_employed_id, dtype=np.uint8)
    n_clipped_employment = 0
    if isinstance(employment, str) and employment == "columns":
        raise InputError(
            "read_long has no employment columns; pass an EmploymentTable (monthly or weekly) "
            "or a monthly table (person, month, employed)."
        )
    if employment is not None:
        grid = read_table(
            employment,
            person=person,
            person_ids=index,
            weeks=span,
            on_outside=employment_outside,
            pivot=pivot,
        )
        n_clipped_employment = grid.n_clipped
        for start in range(0, index.len(), BATCH_ROWS):
            block = states[start : start + BATCH_ROWS]
            block[grid.block(start, start + block.shape[0])] = cmap.employed_id
    tally = CodeTally(cmap, on_unknown)
    coded = np.flatnonzero(~outside & (codes != MISSING))
    record_states = tally.to_states(
        codes[coded, np.newaxis], None, raw=table.select(code)[coded], columns=[code]
    )[:, 0]
    tally.raise_if_any(what=WHAT)
    states[rows[coded], weeks[coded] - lo] = record_states
    return Register(
        states=states,
        person_ids=index,
        first_week=lo,
        codemap=cmap,
        n_unknown_codes=tally.n_unknown,
        n_clipped_codes=n_outside,
        n_clipped_employment=n_clipped_employment,
    )


def _check_duplicates(rows: np.ndarray, weeks: np.ndarray, *, week: str) -> None:
    keys = pl.DataFrame({"r": rows, "w": weeks})
    n_dup = keys.height - keys.n_unique()
    if n_dup:
        raise DuplicateError(
            f"{WHAT}: {n_dup} duplicated person-week row(s) in column {week!r} (the same "
            "person and week more than once); DREAM has one code per person-week, so keep "
            "one row per person and week (apply your priority rule first)."
        )
