"""The ISO-week calendar of a DREAM-style register.

Weeks are represented internally by a **week ordinal**: the number of whole weeks since
Monday 1900-01-01 (itself a Monday, so ordinal ``k`` is the ISO week that starts on
``1900-01-01 + 7k`` days). Ordinals make week arithmetic plain integer arithmetic:
"weeks since allocation" is ``week - allocation_week``, across year ends and 53-week years.

DREAM labels weeks ``y_YYWW`` with a two-digit ISO year. The **century rule** maps ``YY`` to
``1900 + YY`` when ``YY >= pivot`` and to ``2000 + YY`` otherwise. The default pivot 90 fits
DREAM, which starts in 1991: ``y_9127`` is 1991-W27 and ``y_0915`` is 2009-W15. Change
``pivot`` only if your extract contains weeks from 2090 on.

An ISO week belongs to the ISO year of its Thursday; years whose 1 January is a Thursday
(or a Wednesday in leap years) have 53 weeks.
"""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import numpy.typing as npt

from dreamkit.errors import WeekLabelError

EPOCH = dt.date(1900, 1, 1)  # a Monday
_EPOCH64 = np.datetime64("1900-01-01", "D")
DEFAULT_PIVOT = 90
_LABEL = re.compile(r"^(?P<prefix>[A-Za-z_]*?)(?P<yy>\d{2})(?P<ww>\d{2})$")


def week_of_date(day: dt.date) -> int:
    """Week ordinal of the ISO week that contains ``day``."""
    return (day - EPOCH).days // 7


def monday_of_week(week: int) -> dt.date:
    """Monday of the ISO week with ordinal ``week``."""
    return EPOCH + dt.timedelta(days=7 * int(week))


def week_of_iso(year: int, week: int) -> int:
    """Week ordinal of ISO ``year``-W``week``; raises :class:`WeekLabelError` if invalid."""
    if not 1 <= week <= weeks_in_iso_year(year):
        raise WeekLabelError(
            f"ISO week {week:02d} does not exist in {year} "
            f"(it has {weeks_in_iso_year(year)} weeks); fix the week label."
        )
    return week_of_date(dt.date.fromisocalendar(year, week, 1))


def iso_of_week(week: int) -> tuple[int, int]:
    """(ISO year, ISO week number) of the week ordinal ``week``."""
    year, number, _ = monday_of_week(week).isocalendar()
    return year, number


def weeks_in_iso_year(year: int) -> int:
    """52 or 53: the ISO week number of 28 December, which always lies in the last week."""
    return dt.date(year, 12, 28).isocalendar()[1]


def century(yy: int, pivot: int = DEFAULT_PIVOT) -> int:
    """Four-digit year of a two-digit DREAM year under the century rule (see module doc)."""
    return 1900 + yy if yy >= pivot else 2000 + yy


def parse_week_label(label: str, pivot: int = DEFAULT_PIVOT) -> int:
    """Week ordinal of a DREAM week label such as ``y_0915`` (prefix letters are ignored)."""
    match = _LABEL.match(label)
    if match is None:
        raise WeekLabelError(
            f"column {label!r} is not a week label of the form y_YYWW (e.g. y_0915); "
            "rename it or drop it before reading."
        )
    try:
        return week_of_iso(century(int(match["yy"]), pivot), int(match["ww"]))
    except WeekLabelError as err:
        raise WeekLabelError(f"column {label!r}: {err}") from None


def week_label(week: int, prefix: str = "y_") -> str:
    """DREAM label (``y_YYWW``) of a week ordinal."""
    year, number = iso_of_week(week)
    return f"{prefix}{year % 100:02d}{number:02d}"


def weeks_of_dates(days: npt.ArrayLike) -> npt.NDArray[np.int32]:
    """Vectorised :func:`week_of_date` for an array of dates (``datetime64[D]``)."""
    delta = (np.asarray(days, dtype="datetime64[D]") - _EPOCH64).astype(np.int64)
    return np.floor_divide(delta, 7).astype(np.int32)


def mondays_of_weeks(weeks: npt.ArrayLike) -> npt.NDArray[np.datetime64]:
    """Vectorised :func:`monday_of_week`: ``datetime64[D]`` Mondays of week ordinals."""
    return _EPOCH64 + 7 * np.asarray(weeks, dtype=np.int64)


def thursdays_of_weeks(weeks: npt.ArrayLike) -> npt.NDArray[np.datetime64]:
    """Thursday of each week: the day that decides a week's ISO year and its month."""
    return mondays_of_weeks(weeks) + 3


def months_of_weeks(weeks: npt.ArrayLike) -> npt.NDArray[np.int32]:
    """Month of each week as ``12 * year + (month - 1)``, by the **Thursday rule**.

    An ISO week that straddles two months is assigned to the month of its Thursday, which is
    the month holding at least four of its seven days (the same rule that assigns a week to
    its ISO year).
    """
    months = thursdays_of_weeks(weeks).astype("datetime64[M]").astype(np.int64)
    return (months + 1970 * 12).astype(np.int32)


def month_index(year: int, month: int) -> int:
    """Month index ``12 * year + (month - 1)`` as used by :func:`months_of_weeks`."""
    return 12 * year + month - 1


def weeks_since(week: npt.ArrayLike, origin: npt.ArrayLike) -> npt.NDArray[np.int32]:
    """Weeks elapsed from ``origin`` to ``week`` (0 in the origin week, negative before)."""
    return (np.asarray(week, dtype=np.int64) - np.asarray(origin, dtype=np.int64)).astype(np.int32)
