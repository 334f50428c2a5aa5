"""read_long: equal to read_wide on the same data, week forms, spans, employment and errors."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from register_helpers import CODEMAP, reference_states, thursday_month, wide_tables

from dreamkit.errors import (
    ColumnNotFoundError,
    DuplicateError,
    EmptyInputError,
    InputError,
    MissingPersonsError,
    SpanError,
    UnknownCodeError,
    WeekLabelError,
)
from dreamkit.register import EmploymentTable, read_long, read_wide, wide_to_long
from dreamkit.register.calendar import week_of_date

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _monthly_table(wide: pl.DataFrame) -> pl.DataFrame:
    cols = [c for c in wide.columns if c.startswith("branche_")]
    return (
        wide.unpivot(on=cols, index="person_id", variable_name="month", value_name="flag")
        .filter(pl.col("flag").is_not_null())
        .select("person_id", pl.col("month").str.strip_prefix("branche_"), employed=pl.lit(1))
    )


@SETTINGS
@given(wide_tables())
def test_sparse_long_equals_wide(table: tuple[pl.DataFrame, list[dt.date]]) -> None:
    wide, mondays = table
    long = wide_to_long(wide, drop_empty=True)
    employment = _monthly_table(wide)
    reg = read_long(
        long,
        persons=wide["person_id"],
        first_week=mondays[0],
        last_week=mondays[-1],
        employment=employment if employment.height else None,
    )
    np.testing.assert_array_equal(reg.states, reference_states(wide, mondays, employment=True))
    assert reg.person_ids.to_list() == wide["person_id"].to_list()
    assert reg.first_week == week_of_date(mondays[0])


@SETTINGS
@given(wide_tables())
def test_dense_long_csv_parquet_lazy_agree(table: tuple[pl.DataFrame, list[dt.date]]) -> None:
    wide, _ = table
    long = wide_to_long(wide)
    eager = read_long(long)
    np.testing.assert_array_equal(eager.states, read_wide(wide).states)
    with tempfile.TemporaryDirectory() as tmp:
        parquet, csv = Path(tmp) / "l.parquet", Path(tmp) / "l.csv"
        long.write_parquet(parquet)
        long.write_csv(csv)
        for source in (long.lazy(), parquet, pl.scan_parquet(parquet), csv, pl.scan_csv(csv)):
            other = read_long(source)
            np.testing.assert_array_equal(other.states, eager.states)
            assert other.person_ids.to_list() == eager.person_ids.to_list()


def _long() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "person_id": [11, 11, 12, 13],
            "week": ["y_0952", "y_1001", "y_0953", "y_0952"],
            "code": [890, 781, None, 111],
        }
    )


@pytest.mark.parametrize(
    "weeks",
    [
        ["y_0952", "y_1001", "y_0953", "y_0952"],
        ["0952", "1001", "0953", "0952"],
        [200952, 201001, 200953, 200952],
        [952, 1001, 953, 952],
        ["200952", "201001", "200953", "200952"],
        ["2009-12-24", "2010-01-04", "2010-01-03", "2009-12-21"],
        [dt.date(2009, 12, 24), dt.date(2010, 1, 4), dt.date(2010, 1, 3), dt.date(2009, 12, 21)],
    ],
)
def test_week_forms_give_the_same_register(weeks: list) -> None:
    reg = read_long(_long().with_columns(week=pl.Series(weeks)))
    s = CODEMAP.state_id
    assert reg.first_week == week_of_date(dt.date(2009, 12, 21))
    assert reg.states.tolist() == [
        [s("sickness_benefit"), s("no_transfer"), s("disability_pension")],
        [s("no_transfer")] * 3,
        [s("unemployment_insurance"), s("no_transfer"), s("no_transfer")],
    ]


def test_span_clip_and_persons() -> None:
    with pytest.raises(SpanError, match=r"1 row\(s\).*y_1001"):
        read_long(_long(), last_week="y_0953")
    reg = read_long(_long(), last_week="y_0953", on_outside="clip")
    assert reg.n_clipped_codes == 1 and reg.n_weeks == 2
    wider = read_long(_long(), first_week="y_0950", persons=pl.Series([14, 13, 12, 11]))
    assert wider.n_weeks == 5 and wider.person_ids.to_list() == [14, 13, 12, 11]
    assert (wider.states[0] == CODEMAP.not_employed_id).all()
    with pytest.raises(MissingPersonsError, match="1 row"):
        read_long(_long(), persons=pl.Series([11, 12]))


def test_weekly_employment_and_priority_rule() -> None:
    weekly = pl.DataFrame(
        {"person_id": [11, 11, 12], "week": ["y_0952", "y_0953", "y_0953"], "employed": [1, 1, 0]}
    )
    reg = read_long(_long(), employment=EmploymentTable(weekly, unit="week"))
    s = CODEMAP.state_id
    assert reg.states[0].tolist() == [
        s("sickness_benefit"),  # employed but a code: the transfer wins
        s("ordinary_employment"),
        s("disability_pension"),
    ]
    assert reg.states[1].tolist() == [s("no_transfer")] * 3


def test_monthly_employment_thursday_rule_and_clip() -> None:
    # y_0953 is Mon 2009-12-28..Sun 2010-01-03: Thursday 31 Dec, so it takes December's flag
    months = pl.DataFrame(
        {
            "person_id": [12, 13, 13],
            "month": ["2009_12", "2010_01", "2010_02"],
            "employed": [1, 1, 1],
        }
    )
    with pytest.raises(SpanError, match="2010_02"):
        read_long(_long(), employment=months)
    reg = read_long(_long(), employment=months, employment_outside="clip")
    s = CODEMAP.state_id
    assert reg.n_clipped_employment == 1
    assert reg.states[1].tolist() == [s("ordinary_employment")] * 2 + [s("no_transfer")]
    expected = [s("unemployment_insurance"), s("no_transfer"), s("ordinary_employment")]
    assert reg.states[2].tolist() == expected
    assert thursday_month(dt.date(2009, 12, 28)) == (2009, 12)


@pytest.mark.parametrize(
    ("table", "error", "match"),
    [
        (_long().rename({"week": "wk"}), ColumnNotFoundError, "'week'"),
        (_long().head(0), EmptyInputError, "no rows"),
        (pl.concat([_long(), _long().head(1)]), DuplicateError, "1 duplicated person-week"),
        (_long().with_columns(week=pl.lit("y_0954")), WeekLabelError, "y_0954"),
        (_long().with_columns(week=pl.lit("week 52")), WeekLabelError, "week 52"),
        (_long().with_columns(code=pl.lit(4444)), UnknownCodeError, "4444"),
        (_long().with_columns(person_id=pl.Series([1, None, 2, 3])), InputError, "1 missing"),
    ],
)
def test_long_errors(table: pl.DataFrame, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        read_long(table)


@pytest.mark.parametrize(
    ("employment", "error", "match"),
    [
        (
            pl.DataFrame({"person_id": [99], "month": ["2009_12"], "employed": [1]}),
            MissingPersonsError,
            "1 row",
        ),
        (
            pl.DataFrame(
                {"person_id": [11, 11], "month": ["2009_12", "200912"], "employed": [1, 0]}
            ),
            DuplicateError,
            "1 duplicated",
        ),
        (
            pl.DataFrame({"person_id": [11], "month": ["2009_12"], "employed": [2]}),
            InputError,
            "not employment flags",
        ),
        (
            pl.DataFrame(
                {"person_id": [11], "month": ["2009_12"], "employed": [None]},
                schema_overrides={"employed": pl.Int8},
            ),
            InputError,
            "missing flag",
        ),
        (
            pl.DataFrame({"person_id": [11], "month": ["2009_13"], "employed": [1]}),
            InputError,
            "2009_13",
        ),
        (
            pl.DataFrame({"person_id": [11], "mnd": ["2009_12"], "employed": [1]}),
            ColumnNotFoundError,
            "'month'",
        ),
        ("columns", InputError, "no employment columns"),
    ],
)
def test_employment_table_errors(employment, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        read_long(_long(), employment=employment)
