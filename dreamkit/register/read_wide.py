"""Read a wide DREAM-style file (one row per person, one code column per week) into a Register.

Layout: a person column, week columns ``y_YYWW`` (prefix configurable) holding one benefit code
per person and ISO week (empty/null = no transfer), and optionally monthly employment columns
``branche_YYYY_MM`` (see :mod:`dreamkit.register.employment`). Other columns are ignored.

The week columns must be contiguous: a gap is an error naming the missing week. The file is
read in row batches straight into the preallocated ``uint8`` state array (one byte per
person-week), so 1M persons x 260 weeks needs about 260 MB for the result plus one batch of
working memory; only the needed columns are read from Parquet/CSV files and LazyFrames.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import polars as pl

from dreamkit.errors import DuplicateError, EmptyInputError, InputError, SpanError, WeekLabelError
from dreamkit.register._options import WeekLike, check_choice, resolve_codemap, week_arg
from dreamkit.register._persons import check_person_ids
from dreamkit.register.calendar import DEFAULT_PIVOT, months_of_weeks, week_label
from dreamkit.register.code_cells import CodeTally, code_expr, narrowest_code_type
from dreamkit.register.codemap import CodeMap
from dreamkit.register.employment import (
    EmploymentGrid,
    EmploymentTable,
    OnOutside,
    month_positions,
    nonempty_expr,
    parse_month_columns,
    read_table,
)
from dreamkit.register.labels import month_label, week_of_value
from dreamkit.register.register import Register
from dreamkit.register.sources import (
    BATCH_ROWS,
    Source,
    as_lazy,
    batches,
    collect,
    column_names,
    csv_header,
    require_columns,
)

WHAT = "wide register"


def read_wide(
    source: Source,
    *,
    person: str = "person_id",
    codemap: CodeMap | str | Path | None = None,
    employment: str | EmploymentTable | Source | None = None,
    employment_prefix: str = "branche_",
    employment_outside: OnOutside = "error",
    week_prefix: str = "y_",
    first_week: WeekLike | None = None,
    last_week: WeekLike | None = None,
    on_unknown: str = "error",
    pivot: int = DEFAULT_PIVOT,
    batch_rows: int = BATCH_ROWS,
) -> Register:
    """Read a wide DREAM-style table into a :class:`~dreamkit.register.register.Register`.

    Cell ``(i, j)`` of the result is the state of person ``i`` in week ``first_week + j``:

    ``state = codemap(code)`` if the week has a code (the transfer wins), else
    ``employed_state`` if person ``i`` is employed in the month of week ``j``'s Thursday, else
    ``not_employed_state``.

    Args:
        source: Parquet/CSV path, DataFrame or LazyFrame (only needed columns are collected).
        person: person-id column. Register rows keep the file's row order.
        codemap: a :class:`CodeMap`, a TOML path, or None for the shipped default.
        employment: None (nobody employed), ``"columns"`` (monthly ``employment_prefix +
            YYYY_MM`` columns of this file), an :class:`EmploymentTable`, or a source holding a
            monthly table ``(person, month, employed)``.
        employment_outside: ``"error"`` or ``"clip"`` for employment months outside the
            register's span (clipped records are counted in ``Register.n_clipped_employment``).
        week_prefix: prefix of the week columns (``y_`` in DREAM).
        first_week: read only week columns from this week on (ordinal, label or date).
        last_week: read only week columns up to this week.
        on_unknown: ``"error"`` for codes missing from the code map, or ``"unknown"`` to map
            them to the ``unknown`` state (counted in ``Register.n_unknown_codes``).
        pivot: century rule for two-digit years (``YY >= pivot`` is 19YY).
        batch_rows: rows converted per batch (memory/speed trade-off).
    """
    check_choice(on_unknown, ("error", "unknown"), name="on_unknown")
    check_choice(employment_outside, ("error", "clip"), name="employment_outside")
    cmap = resolve_codemap(codemap)
    names = csv_header(source) or column_names(as_lazy(source, what=WHAT), what=WHAT)
    require_columns(names, [person], what=WHAT)
    week_cols, weeks = _week_columns(names, person, week_prefix, pivot)
    week_cols, weeks = _select_span(week_cols, weeks, first_week, last_week, pivot)
    month_cols: list[tuple[str, int]] = []
    if isinstance(employment, str) and employment == "columns":
        month_cols = parse_month_columns(
            [n for n in names if n != person and n not in week_cols], employment_prefix
        )
    elif isinstance(employment, str) and not Path(employment).suffix:
        raise InputError(
            f"employment={employment!r} is not understood; use None, 'columns', an "
            "EmploymentTable or a path/frame holding a monthly employment table."
        )
    frame = as_lazy(source, what=WHAT, text_columns=week_cols + [n for n, _ in month_cols])
    schema = frame.collect_schema()
    ids = collect(frame.select(person), what=WHAT)[person]
    check_person_ids(ids, column=person, what=WHAT)

    n_clipped = 0
    grid: EmploymentGrid | None = None
    read_months: list[str] = []
    positions = np.empty(0, dtype=np.intp)
    if month_cols:
        read_months, positions, n_clipped = _month_columns_in_span(
            frame, schema, month_cols, weeks, employment_outside, employment_prefix
        )
    elif employment is not None:
        grid = read_table(
            employment,
            person=person,
            person_ids=ids,
            weeks=weeks,
            on_outside=employment_outside,
            pivot=pivot,
        )
        n_clipped = grid.n_clipped

    tally = CodeTally(cmap, on_unknown)
    states = np.empty((ids.len(), weeks.size), dtype=np.uint8)
    code_type = narrowest_code_type([schema[c] for c in week_cols])
    code_exprs = [code_expr(c, schema[c], code_type) for c in week_cols]
    month_exprs = [nonempty_expr(c, schema[c]) for c in read_months]
    start = 0
    projection = frame.select(week_cols + read_months)
    for batch in batches(source, projection, what=WHAT, rows=batch_rows):
        stop = start + batch.height
        codes = batch.select(code_exprs).to_numpy(order="c")
        employed: npt.NDArray[np.bool_] | None = None
        if month_exprs:
            employed = batch.select(month_exprs).to_numpy(order="c")[:, positions]
        elif grid is not None:
            employed = grid.block(start, stop)
        states[start:stop] = tally.to_states(codes, employed, raw=batch, columns=week_cols)
        start = stop
    if start != ids.len():
        raise InputError(f"{WHAT}: the source changed while it was read; read it again.")
    tally.raise_if_any(what=WHAT)
    return Register(
        states=states,
        person_ids=ids,
        first_week=int(weeks[0]),
        codemap=cmap,
        n_unknown_codes=tally.n_unknown,
        n_clipped_employment=n_clipped,
    )


def _week_columns(
    names: list[str], person: str, prefix: str, pivot: int
) -> tuple[list[str], npt.NDArray[np.int32]]:
    """Week columns sorted by week, checked to be valid and contiguous."""
    cols = [n for n in names if n.startswith(prefix) and n != person]
    if not cols:
        raise EmptyInputError(
            f"{WHAT}: no week columns (names starting with {prefix!r}, e.g. {prefix}0915); "
            f"the first columns are {names[:5]}. Pass week_prefix= if yours differ."
        )
    ordinals = [week_of_value(c[len(prefix) :], pivot=pivot, column=c) for c in cols]
    order = np.argsort(ordinals, kind="stable")
    cols = [cols[i] for i in order]
    weeks = np.asarray(ordinals, dtype=np.int32)[order]
    steps = np.diff(weeks)
    if (steps == 0).any():
        j = int(np.flatnonzero(steps == 0)[0])
        raise DuplicateError(
            f"{WHAT}: columns {cols[j]!r} and {cols[j + 1]!r} are the same week; keep one."
        )
    if (steps > 1).any():
        j = int(np.flatnonzero(steps > 1)[0])
        missing = week_label(int(weeks[j]) + 1, prefix)
        n_missing = int((steps - 1).sum())
        raise WeekLabelError(
            f"{WHAT}: week column {missing!r} is missing between {cols[j]!r} and "
            f"{cols[j + 1]!r} ({n_missing} missing week column(s) in all); week columns must "
            "be contiguous: add the column (empty = no transfer) or read a span without gaps "
            "(first_week=/last_week=)."
        )
    return cols, weeks


def _select_span(
    cols: list[str],
    weeks: npt.NDArray[np.int32],
    first: WeekLike | None,
    last: WeekLike | None,
    pivot: int,
) -> tuple[list[str], npt.NDArray[np.int32]]:
    lo = week_arg(first, name="first_week", pivot=pivot)
    hi = week_arg(last, name="last_week", pivot=pivot)
    lo = int(weeks[0]) if lo is None else lo
    hi = int(weeks[-1]) if hi is None else hi
    if lo > hi:
        raise InputError(
            f"first_week {week_label(lo)} is after last_week {week_label(hi)}; swap them."
        )
    if lo < weeks[0] or hi > weeks[-1]:
        raise SpanError(
            f"{WHAT}: requested weeks {week_label(lo)}..{week_label(hi)} but the file has "
            f"week columns {cols[0]!r}..{cols[-1]!r}; choose first_week/last_week inside them."
        )
    keep = slice(int(np.searchsorted(weeks, lo)), int(np.searchsorted(weeks, hi)) + 1)
    return cols[keep], weeks[keep]


def _month_columns_in_span(
    frame: pl.LazyFrame,
    schema: pl.Schema,
    month_cols: list[tuple[str, int]],
    weeks: npt.NDArray[np.int32],
    on_outside: str,
    prefix: str,
) -> tuple[list[str], npt.NDArray[np.intp], int]:
    """Employment columns to read, each week's position among them, and clipped cells."""
    wanted = set(months_of_weeks(weeks).tolist())
    inside = [(n, m) for n, m in month_cols if m in wanted]
    outside = [n for n, m in month_cols if m not in wanted]
    n_clipped = 0
    if outside:
        if on_outside == "error":
            raise SpanError(
                f"{WHAT}: {len(outside)} employment column(s) lie outside the register's "
                f"span {week_label(int(weeks[0]))}..{week_label(int(weeks[-1]))} (months "
                f"{month_label(min(wanted), prefix)}..{month_label(max(wanted), prefix)}), "
                f"e.g. {outside[0]!r}; drop them or pass employment_outside='clip' to ignore "
                "them (their non-empty cells are counted in Register.n_clipped_employment)."
            )
        counts = collect(
            frame.select(pl.sum_horizontal(nonempty_expr(n, schema[n]).sum() for n in outside)),
            what=WHAT,
        )
        n_clipped = int(counts.item())
    if not inside:
        raise SpanError(
            f"{WHAT}: no employment column covers the register's weeks "
            f"{week_label(int(weeks[0]))}..{week_label(int(weeks[-1]))}; add the months "
            f"{month_label(min(wanted), prefix)}..{month_label(max(wanted), prefix)}."
        )
    positions = month_positions(weeks, [m for _, m in inside], what="employment columns")
    return [n for n, _ in inside], positions, n_clipped
