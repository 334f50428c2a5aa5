"""Calendar arithmetic against ``datetime.date.isocalendar``."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dreamkit.errors import WeekLabelError
from dreamkit.register import calendar as cal

days = st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2089, 12, 31))


@given(days)
def test_week_of_date_matches_isocalendar(day: dt.date) -> None:
    week = cal.week_of_date(day)
    year, number, _ = day.isocalendar()
    assert cal.iso_of_week(week) == (year, number)
    assert cal.monday_of_week(week) == day - dt.timedelta(days=day.weekday())
    assert cal.week_of_iso(year, number) == week


@given(days)
def test_label_round_trip_with_century_rule(day: dt.date) -> None:
    week = cal.week_of_date(day)
    year, number, _ = day.isocalendar()
    label = cal.week_label(week)
    assert label == f"y_{year % 100:02d}{number:02d}"
    if 1990 <= year <= 2089:  # the window the default pivot 90 can express
        assert cal.parse_week_label(label) == week


@given(st.integers(1900, 2200))
def test_weeks_in_iso_year(year: int) -> None:
    last = max(
        dt.date(year, 12, d).isocalendar()[1]
        for d in range(20, 32)
        if dt.date(year, 12, d).isocalendar()[0] == year
    )
    assert cal.weeks_in_iso_year(year) == last


@pytest.mark.parametrize("year", [2004, 2009, 2015, 2020, 2026])
def test_53_week_years_accept_week_53(year: int) -> None:
    assert cal.weeks_in_iso_year(year) == 53
    week = cal.parse_week_label(f"y_{year % 100:02d}53")
    assert cal.week_label(week + 1) == f"y_{(year + 1) % 100:02d}01"


@pytest.mark.parametrize("label", ["y_0853", "y_1053", "y_0900", "y_0954"])
def test_week_that_does_not_exist_is_an_error(label: str) -> None:
    with pytest.raises(WeekLabelError, match=label):
        cal.parse_week_label(label)


@pytest.mark.parametrize(
    ("yy", "pivot", "year"),
    [(91, 90, 1991), (90, 90, 1990), (89, 90, 2089), (0, 90, 2000), (9, 90, 2009), (95, 96, 2095)],
)
def test_century_rule(yy: int, pivot: int, year: int) -> None:
    assert cal.century(yy, pivot) == year
    assert cal.iso_of_week(cal.parse_week_label(f"y_{yy:02d}10", pivot))[0] == year


@given(st.lists(days, min_size=1, max_size=20))
def test_vectorised_functions_match_scalar(sample: list[dt.date]) -> None:
    weeks = cal.weeks_of_dates(np.array(sample, dtype="datetime64[D]"))
    assert weeks.tolist() == [cal.week_of_date(d) for d in sample]
    mondays = cal.mondays_of_weeks(weeks).astype(object).tolist()
    assert mondays == [cal.monday_of_week(int(w)) for w in weeks]


@given(days)
def test_thursday_rule_month_holds_at_least_four_days(day: dt.date) -> None:
    week = cal.week_of_date(day)
    monday = cal.monday_of_week(week)
    month = int(cal.months_of_weeks(np.array([week]))[0])
    counts: dict[int, int] = {}
    for k in range(7):
        d = monday + dt.timedelta(days=k)
        key = cal.month_index(d.year, d.month)
        counts[key] = counts.get(key, 0) + 1
    assert counts[month] >= 4
    assert month == max(counts, key=lambda m: counts[m])


def test_weeks_since_crosses_a_53_week_year() -> None:
    start = cal.parse_week_label("y_0952")
    end = cal.parse_week_label("y_1002")
    assert int(cal.weeks_since(end, start)) == 3  # 52, 53, 01, 02
