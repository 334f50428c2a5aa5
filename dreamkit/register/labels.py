"""Week and month labels as they appear in DREAM-style files, turned into calendar integers.

Weeks become **week ordinals** (:mod:`dreamkit.register.calendar`); months become **month
indices** ``12 * year + (month - 1)`` (:func:`~dreamkit.register.calendar.month_index`).

Accepted week values (long tables, weekly employment tables, ``first_week`` arguments):

* strings ``y_YYWW`` or ``YYWW`` (any letter/underscore prefix; two-digit ISO year under the
  century rule), ``YYYYWW`` (e.g. ``"200915"``), or an ISO date ``YYYY-MM-DD`` (the week that
  contains it);
* integers ``YYYYWW`` (e.g. ``200915``) or ``YYWW`` (``915`` is ``y_0915``);
* ``Date`` / ``Datetime`` values: the ISO week that contains the day.

Accepted month values (monthly employment tables): strings ``YYYY_MM``, ``YYYY-MM``,
``YYYYMM`` or an ISO date ``YYYY-MM-DD``, integers ``YYYYMM``, and ``Date`` / ``Datetime``
values (the month that contains the day). Employment *columns* of a wide file are named
``PREFIX + YYYY_MM`` (e.g. ``branche_2009_04``).

Labels are parsed once per distinct value, so a long table with millions of rows and a few
hundred distinct weeks costs a few hundred calendar look-ups.
"""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import numpy.typing as npt
import polars as pl

from dreamkit.errors import MonthLabelError, WeekLabelError
from dreamkit.register.calendar import (
    DEFAULT_PIVOT,
    century,
    monday_of_week,
    month_index,
    week_label,
    week_of_date,
    week_of_iso,
    weeks_of_dates,
)

_WEEK_SHORT = re.compile(r"^[A-Za-z_]*(?P<yy>\d{2})(?P<ww>\d{2})$")
_WEEK_LONG = re.compile(r"^[A-Za-z_]*(?P<yyyy>\d{4})(?P<ww>\d{2})$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MONTH = re.compile(r"^(?P<yyyy>\d{4})[_-]?(?P<mm>\d{2})$")


def week_of_value(value: object, *, pivot: int = DEFAULT_PIVOT, column: str = "week") -> int:
    """Week ordinal of one week value in any accepted form (see module docstring)."""
    if isinstance(value, dt.datetime):
        return week_of_date(value.date())
    if isinstance(value, dt.date):
        return week_of_date(value)
    if isinstance(value, bool | np.bool_):
        raise WeekLabelError(f"column {column!r}: a boolean is not a week; give y_YYWW labels.")
    if isinstance(value, int | np.integer):
        number = int(value)
        if 0 <= number <= 9999:
            return _week_of_text(f"{number:04d}", pivot, column)
        if not 100000 <= number <= 999999:
            raise WeekLabelError(
                f"column {column!r}: integer week {number} is neither YYYYWW (e.g. 200915) "
                "nor YYWW (e.g. 915 for y_0915); fix the week values."
            )
        return _week_of_text(str(number), pivot, column)
    if isinstance(value, str):
        return _week_of_text(value.strip(), pivot, column)
    raise WeekLabelError(
        f"column {column!r}: week value of type {type(value).__name__} is not supported; "
        "use y_YYWW strings, YYYYWW integers or dates."
    )


def _week_of_text(text: str, pivot: int, column: str) -> int:
    try:
        if _ISO_DATE.match(text):
            return week_of_date(dt.date.fromisoformat(text))
        long = _WEEK_LONG.match(text)
        if long is not None:
            return week_of_iso(int(long["yyyy"]), int(long["ww"]))
        short = _WEEK_SHORT.match(text)
        if short is not None:
            return week_of_iso(century(int(short["yy"]), pivot), int(short["ww"]))
    except (WeekLabelError, ValueError) as err:
        raise WeekLabelError(f"column {column!r}: week {text!r} is invalid ({err})") from None
    raise WeekLabelError(
        f"column {column!r}: week {text!r} is not of the form y_YYWW, YYWW, YYYYWW or "
        "YYYY-MM-DD; fix the week values."
    )


def week_ordinals(
    values: pl.Series, *, pivot: int = DEFAULT_PIVOT, column: str = "week"
) -> npt.NDArray[np.int32]:
    """Week ordinals of a Series of week values (one look-up per distinct value)."""
    _no_nulls(values, column, "week")
    if values.dtype in (pl.Date, pl.Datetime):
        return weeks_of_dates(values.cast(pl.Date).to_numpy())
    distinct = values.unique()
    ordinals = [week_of_value(v, pivot=pivot, column=column) for v in distinct.to_list()]
    lookup = pl.Series("ordinal", ordinals, dtype=pl.Int32)
    return values.replace_strict(distinct, lookup, return_dtype=pl.Int32).to_numpy()


def parse_month_label(text: str, *, column: str = "month") -> int:
    """Month index of ``YYYY_MM`` / ``YYYY-MM`` / ``YYYYMM`` text or an ISO date."""
    text = text.strip()
    if _ISO_DATE.match(text):
        text = text[:7]
    match = _MONTH.match(text)
    if match is None or not 1 <= int(match["mm"]) <= 12:
        raise MonthLabelError(
            f"column {column!r}: month {text!r} is not of the form YYYY_MM (e.g. 2009_04) "
            "with a month 01-12; fix the month labels."
        )
    return month_index(int(match["yyyy"]), int(match["mm"]))


def month_indices(values: pl.Series, *, column: str = "month") -> npt.NDArray[np.int32]:
    """Month indices of a Series of month values (one look-up per distinct value)."""
    _no_nulls(values, column, "month")
    if values.dtype in (pl.Date, pl.Datetime):
        days = values.cast(pl.Date)
        return (days.dt.year() * 12 + days.dt.month() - 1).cast(pl.Int32).to_numpy()
    if values.dtype.is_integer():
        text = values.cast(pl.String)
    elif values.dtype == pl.String:
        text = values
    else:
        raise MonthLabelError(
            f"column {column!r} has type {values.dtype}; give months as YYYY_MM strings, "
            "YYYYMM integers or dates."
        )
    distinct = text.unique()
    indices = [parse_month_label(v, column=column) for v in distinct.to_list()]
    lookup = pl.Series("month", indices, dtype=pl.Int32)
    return text.replace_strict(distinct, lookup, return_dtype=pl.Int32).to_numpy()


def month_label(index: int, prefix: str = "") -> str:
    """``YYYY_MM`` label of a month index (with an optional column prefix)."""
    year, month0 = divmod(int(index), 12)
    return f"{prefix}{year:04d}_{month0 + 1:02d}"


def describe_week(week: int) -> str:
    """Human-readable week for messages: ``y_0915 (week of 2009-04-06)``."""
    return f"{week_label(week)} (week of {monday_of_week(week).isoformat()})"


def _no_nulls(values: pl.Series, column: str, what: str) -> None:
    n_null = values.null_count()
    if n_null:
        raise (WeekLabelError if what == "week" else MonthLabelError)(
            f"column {column!r} has {n_null} missing {what} value(s); every row needs a {what}."
        )
