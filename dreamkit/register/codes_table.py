"""Conversions of DREAM-style *code* tables: wide <-> long, and writing them to Parquet/CSV.

* wide: one row per person, columns ``y_YYWW`` with one code per week (null = no transfer);
* long: columns ``(person, week, code)``, one row per person-week, the week as the wide
  column's label (``y_0915``).

``long_to_wide(wide_to_long(df))`` returns ``df``'s person column and week columns unchanged
(same values and types, week columns in week order); other columns (e.g. employment) are not
part of a code table and are left out. With ``drop_empty=True`` the long table keeps only
coded cells (DREAM's sparse layout); converting back then needs the span
(``first_week``/``last_week``), and persons without any code have no row.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from dreamkit.errors import DuplicateError, InputError
from dreamkit.register._options import WeekLike, week_arg
from dreamkit.register.calendar import DEFAULT_PIVOT, week_label
from dreamkit.register.labels import week_of_value, week_ordinals
from dreamkit.register.sources import require_columns, require_rows


def wide_to_long(
    wide: pl.DataFrame,
    *,
    person: str = "person_id",
    week_prefix: str = "y_",
    week: str = "week",
    code: str = "code",
    drop_empty: bool = False,
    pivot: int = DEFAULT_PIVOT,
) -> pl.DataFrame:
    """Long code table ``(person, week, code)`` from a wide one, person-major, weeks in order.

    Rows come person by person in the wide table's order and, within a person, week by week.
    ``drop_empty=True`` drops person-weeks without a code.
    """
    require_columns(wide.columns, [person], what="wide code table")
    cols = [c for c in wide.columns if c.startswith(week_prefix) and c != person]
    if not cols:
        raise InputError(
            f"wide code table: no week columns starting with {week_prefix!r}; pass week_prefix=."
        )
    ordinals = [week_of_value(c[len(week_prefix) :], pivot=pivot, column=c) for c in cols]
    cols = [cols[i] for i in np.argsort(ordinals, kind="stable")]
    long = (
        wide.select(person, *cols)
        .with_row_index("_row")
        .unpivot(on=cols, index=["_row", person], variable_name=week, value_name=code)
        .sort("_row", maintain_order=True)
        .drop("_row")
    )
    return long.filter(pl.col(code).is_not_null()) if drop_empty else long


def long_to_wide(
    long: pl.DataFrame,
    *,
    person: str = "person_id",
    week: str = "week",
    code: str = "code",
    week_prefix: str = "y_",
    first_week: WeekLike | None = None,
    last_week: WeekLike | None = None,
    pivot: int = DEFAULT_PIVOT,
) -> pl.DataFrame:
    """Wide code table from a long one: one row per person (first-appearance order) and one
    column ``week_prefix + YYWW`` per week of the span, null where a person-week has no row.

    The span is the table's first..last week unless ``first_week``/``last_week`` are given;
    rows outside a given span are an error.
    """
    require_columns(long.columns, [person, week, code], what="long code table")
    require_rows(long, what="long code table")
    weeks = week_ordinals(long[week], pivot=pivot, column=week)
    lo = week_arg(first_week, name="first_week", pivot=pivot)
    hi = week_arg(last_week, name="last_week", pivot=pivot)
    lo = int(weeks.min()) if lo is None else lo
    hi = int(weeks.max()) if hi is None else hi
    n_outside = int(((weeks < lo) | (weeks > hi)).sum())
    if n_outside:
        raise InputError(
            f"long code table: {n_outside} row(s) of column {week!r} lie outside "
            f"{week_label(lo)}..{week_label(hi)}; widen first_week/last_week or filter the rows."
        )
    labels = [week_label(w, week_prefix) for w in range(lo, hi + 1)]
    keyed = long.select(person, pl.Series("_label", labels).gather(weeks - lo), code)
    n_dup = keyed.height - keyed.select(person, "_label").n_unique()
    if n_dup:
        raise DuplicateError(
            f"long code table: {n_dup} duplicated person-week row(s) in column {week!r}; keep "
            "one row per person and week."
        )
    return keyed.pivot(
        on="_label", on_columns=labels, index=person, values=code, maintain_order=True
    ).select(person, *labels)


def write_codes(table: pl.DataFrame, path: str | Path) -> Path:
    """Write a (wide or long) code table to ``.parquet`` or ``.csv`` (empty cell = null)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        table.write_parquet(path)
    elif suffix == ".csv":
        table.write_csv(path, null_value="")
    else:
        raise InputError(f"cannot write {path.name!r}: use a .parquet or .csv file name.")
    return path
