"""Monthly employment expanded to ISO weeks by the Thursday rule, on hand-made months."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from dreamkit.errors import SpanError
from dreamkit.register import expand_months
from dreamkit.register.calendar import month_index, week_of_date


def _weeks(*mondays: dt.date) -> np.ndarray:
    return np.array([week_of_date(m) for m in mondays])


@pytest.mark.parametrize(
    ("monday", "year", "month"),
    [
        (dt.date(2009, 3, 30), 2009, 4),  # Mon in March, Thu 2 April: April
        (dt.date(2009, 8, 31), 2009, 9),  # Mon 31 Aug, Thu 3 Sep: September
        (dt.date(2009, 4, 27), 2009, 4),  # Thu 30 April: April, though it ends in May
        (dt.date(2009, 12, 28), 2009, 12),  # 2009-W53 (53-week year): December 2009
        (dt.date(2015, 12, 28), 2015, 12),  # 2015-W53
        (dt.date(2010, 12, 27), 2010, 12),  # 2010-W52, Thu 30 Dec
        (dt.date(2012, 12, 31), 2013, 1),  # 2013-W01 starts in 2012: January 2013
    ],
)
def test_straddling_week_takes_the_month_of_its_thursday(
    monday: dt.date, year: int, month: int
) -> None:
    months = [month_index(year, month) - 1, month_index(year, month), month_index(year, month) + 1]
    flags = np.array([[False, True, False], [True, False, True]])
    out = expand_months(flags, months, _weeks(monday))
    assert out.tolist() == [[True], [False]]


def test_expansion_over_a_53_week_year_end() -> None:
    mondays = [dt.date(2009, 12, 14) + dt.timedelta(weeks=k) for k in range(6)]
    months = [month_index(2009, 12), month_index(2010, 1)]
    flags = np.array([[True, False], [False, True]])
    out = expand_months(flags, months, _weeks(*mondays))
    # W51, W52, W53 belong to December; 2010-W01 (Thu 7 Jan), W02, W03 to January
    assert out.tolist() == [[True] * 3 + [False] * 3, [False] * 3 + [True] * 3]


def test_missing_month_is_an_error_naming_it() -> None:
    with pytest.raises(SpanError, match="2009_12"):
        expand_months(np.ones((1, 1), bool), [month_index(2010, 1)], _weeks(dt.date(2009, 12, 28)))
