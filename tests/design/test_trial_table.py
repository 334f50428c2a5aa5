"""Validation of the trial table (dreamkit.design.trial)."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from dreamkit.design.trial import validate_trial
from dreamkit.errors import (
    ColumnNotFoundError,
    DuplicateError,
    EmptyInputError,
    InputError,
    TrialDesignError,
)
from dreamkit.register.calendar import week_of_date

SECRET_ID = 1234567890


def _trial(**overrides: list) -> pl.DataFrame:
    data: dict[str, list] = {
        "person_id": [SECRET_ID, 2, 3, 4],
        "municipality": ["a", "a", "b", "b"],
        "team": [1, 1, 2, 2],
        "treated": [0, 1, 0, 1],
        "allocation_date": [
            dt.date(2010, 1, 4),
            dt.date(2010, 1, 10),
            dt.date(2010, 3, 1),
            dt.date(2010, 3, 3),
        ],
        "team_last_allocation": [dt.date(2010, 1, 20)] * 2 + [dt.date(2010, 3, 3)] * 2,
    }
    for k in range(1, 7):
        data[f"uwses_{k}"] = [0, 1, 4, 2]
    data.update(overrides)
    return pl.DataFrame(data)


def test_derives_waiting_days_allocation_week_and_uwses() -> None:
    out = validate_trial(_trial())
    assert out["waiting_days"].to_list() == [16, 10, 2, 0]
    assert out["allocation_week"].to_list() == [
        week_of_date(d) for d in _trial()["allocation_date"].to_list()
    ]
    assert out["uwses"].to_list() == [0, 6, 24, 12]
    assert out["treated"].dtype == pl.Int8


def test_incomplete_uwses_items_give_missing_total_not_a_partial_sum() -> None:
    out = validate_trial(_trial(uwses_3=[0, None, 4, 2]))
    assert out["uwses"].to_list() == [0, None, 24, 12]


def test_rename_maps_user_columns() -> None:
    user = _trial().rename({"person_id": "pnr", "team": "hold"})
    out = validate_trial(user, rename={"pnr": "person_id", "hold": "team"})
    assert {"person_id", "team"} <= set(out.columns)


@pytest.mark.parametrize(
    ("trial", "error", "fragment"),
    [
        (_trial().drop("team"), ColumnNotFoundError, "'team'"),
        (_trial().head(0), EmptyInputError, "no rows"),
        (_trial(person_id=[SECRET_ID, SECRET_ID, 3, 4]), DuplicateError, "1 duplicated"),
        (_trial(treated=[0, 1, 2, 1]), InputError, "[2]"),
        (_trial(treated=[0, 0, 0, 1]), TrialDesignError, "only one arm"),
        (_trial(uwses_1=[0, 5, 1, 1]), InputError, "outside 0-4"),
        (
            _trial(allocation_date=["2010-01-04", "x", "2010-03-01", "2010-03-03"]),
            InputError,
            "'x'",
        ),
        (_trial(team_last_allocation=[dt.date(2009, 1, 1)] * 4), TrialDesignError, "before"),
        (_trial(municipality=[None, "a", "b", "b"]), InputError, "missing value"),
    ],
)
def test_bad_input_raises_typed_error_without_person_ids(
    trial: pl.DataFrame, error: type[Exception], fragment: str
) -> None:
    with pytest.raises(error) as info:
        validate_trial(trial)
    message = str(info.value)
    assert fragment in message
    assert str(SECRET_ID) not in message
