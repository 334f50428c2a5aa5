"""read_wide against a cell-by-cell reference, its sources, options and errors."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from register_helpers import CODEMAP, reference_states, wide_tables

from dreamkit.errors import (
    CodeNotIntegerError,
    ColumnNotFoundError,
    DuplicateError,
    EmptyInputError,
    InputError,
    MonthLabelError,
    SpanError,
    UnknownCodeError,
    WeekLabelError,
)
from dreamkit.register import EmploymentTable, read_wide
from dreamkit.register.calendar import week_of_date

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(wide_tables())
def test_states_match_reference(table: tuple[pl.DataFrame, list[dt.date]]) -> None:
    wide, mondays = table
    reg = read_wide(wide, employment="columns")
    np.testing.assert_array_equal(reg.states, reference_states(wide, mondays, employment=True))
    assert reg.first_week == week_of_date(mondays[0])
    assert reg.person_ids.to_list() == wide["person_id"].to_list()
    assert reg.n_unknown_codes == 0
    plain = read_wide(wide, batch_rows=1)
    np.testing.assert_array_equal(plain.states, reference_states(wide, mondays, employment=False))


@SETTINGS
@given(wide_tables(unknown=True))
def test_unknown_codes_are_counted_or_rejected(table: tuple[pl.DataFrame, list[dt.date]]) -> None:
    wide, mondays = table
    expected = reference_states(wide, mondays, employment=True)
    n_unknown = int((expected == CODEMAP.unknown_id).sum())
    reg = read_wide(wide, employment="columns", on_unknown="unknown", batch_rows=2)
    np.testing.assert_array_equal(reg.states, expected)
    assert reg.n_unknown_codes == n_unknown
    if n_unknown:
        with pytest.raises(UnknownCodeError, match=f"{n_unknown} cell"):
            read_wide(wide, employment="columns", batch_rows=2)


@SETTINGS
@given(wide_tables())
def test_eager_lazy_parquet_and_csv_agree(table: tuple[pl.DataFrame, list[dt.date]]) -> None:
    wide, _ = table
    eager = read_wide(wide, employment="columns")
    with tempfile.TemporaryDirectory() as tmp:
        parquet, csv = Path(tmp) / "w.parquet", Path(tmp) / "w.csv"
        wide.write_parquet(parquet)
        wide.write_csv(csv)
        others = [
            read_wide(wide.lazy(), employment="columns"),
            read_wide(parquet, employment="columns", batch_rows=2),
            read_wide(pl.scan_parquet(parquet), employment="columns"),
            read_wide(csv, employment="columns", batch_rows=3),
            read_wide(pl.scan_csv(csv), employment="columns"),
        ]
    for other in others:
        np.testing.assert_array_equal(other.states, eager.states)
        assert other.first_week == eager.first_week
        assert other.person_ids.to_list() == eager.person_ids.to_list()


def _small() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "person_id": [11, 12, 13],
            "y_0952": [890, None, 111],
            "y_0953": [None, None, 781],
            "y_1001": [None, 893, None],
            "branche_2009_12": [None, "47", "47"],
            "branche_2010_01": ["12", None, None],
            "age": [40, 50, 60],
        }
    )


def test_hand_made_register_and_week_span() -> None:
    reg = read_wide(_small(), employment="columns")
    s = CODEMAP.state_id
    assert reg.states.tolist() == [
        [s("sickness_benefit"), s("no_transfer"), s("ordinary_employment")],
        [s("ordinary_employment"), s("ordinary_employment"), s("activation_guidance")],
        [s("unemployment_insurance"), s("disability_pension"), s("no_transfer")],
    ]
    part = read_wide(_small(), employment="columns", first_week="y_0953", last_week="y_1001")
    np.testing.assert_array_equal(part.states, reg.states[:, 1:])
    assert part.first_week == reg.first_week + 1


def test_employment_from_monthly_and_weekly_tables() -> None:
    wide = _small()
    months = pl.DataFrame(
        {
            "person_id": [11, 12, 13],
            "month": ["2010_01", "2009-12", "200912"],
            "employed": [1, 1, 1],
        }
    )
    by_columns = read_wide(wide, employment="columns")
    np.testing.assert_array_equal(read_wide(wide, employment=months).states, by_columns.states)
    weeks = pl.DataFrame(
        {
            "person_id": [11, 12, 12, 13, 13],
            "week": ["y_1001", "y_0952", "y_0953", "y_0952", "y_0953"],
        }
    ).with_columns(employed=pl.lit(True))
    by_weeks = read_wide(wide, employment=EmploymentTable(weeks, unit="week"))
    np.testing.assert_array_equal(by_weeks.states, by_columns.states)


def test_employment_columns_outside_span_error_or_clip() -> None:
    wide = _small().with_columns(branche_2010_02=pl.Series(["1", None, "2"]))
    with pytest.raises(SpanError, match="branche_2010_02"):
        read_wide(wide, employment="columns")
    reg = read_wide(wide, employment="columns", employment_outside="clip")
    assert reg.n_clipped_employment == 2
    np.testing.assert_array_equal(reg.states, read_wide(_small(), employment="columns").states)


def test_employment_columns_must_cover_and_be_contiguous() -> None:
    with pytest.raises(SpanError, match="2009_12"):
        read_wide(_small().drop("branche_2009_12"), employment="columns")
    gap = _small().with_columns(branche_2010_03=pl.lit(None, dtype=pl.String))
    with pytest.raises(SpanError, match="branche_2010_02"):
        read_wide(gap, employment="columns", employment_outside="clip")
    with pytest.raises(ColumnNotFoundError, match="branche_"):
        read_wide(_small().drop("branche_2009_12", "branche_2010_01"), employment="columns")
    with pytest.raises(MonthLabelError, match="branche_2009_13"):
        read_wide(_small().with_columns(branche_2009_13=pl.lit("1")), employment="columns")


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        (lambda d: d.rename({"person_id": "personid"}), ColumnNotFoundError, "personid"),
        (lambda d: d.drop("y_0953"), WeekLabelError, "y_0953"),
        (lambda d: d.with_columns(y_0954=pl.lit(1)), WeekLabelError, "y_0954"),
        (lambda d: d.select("person_id", "age"), EmptyInputError, "no week columns"),
        (lambda d: d.head(0), EmptyInputError, "no rows"),
        (lambda d: d.with_columns(person_id=pl.lit(11)), DuplicateError, "2 duplicated"),
        (lambda d: d.with_columns(person_id=pl.Series([1, None, 3])), InputError, "1 missing"),
        (lambda d: d.with_columns(y_200952=pl.lit(1)), DuplicateError, "same week"),
    ],
)
def test_input_errors(change, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        read_wide(change(_small()))


def test_non_integer_codes_report_count_and_example() -> None:
    bad = _small().with_columns(
        y_0952=pl.Series(["890", "89O", " "]), y_0953=pl.Series(["1.5", None, "781"])
    )
    with pytest.raises(CodeNotIntegerError, match=r"2 code cell\(s\).*'89O'") as info:
        read_wide(bad, batch_rows=1)
    assert "y_0953" in str(info.value)
    with pytest.raises(CodeNotIntegerError, match="-3"):
        read_wide(_small().with_columns(y_0952=pl.Series([-3, None, 111])))
    with pytest.raises(CodeNotIntegerError, match="type Boolean"):
        read_wide(_small().with_columns(y_0952=pl.lit(True)))


def test_text_and_float_codes_read_like_integers() -> None:
    as_text = _small().with_columns(pl.col("y_0952", "y_0953").cast(pl.String))
    as_float = _small().with_columns(pl.col("y_0952", "y_0953").cast(pl.Float64))
    as_float = as_float.with_columns(y_0953=pl.Series([float("nan"), None, 781.0]))
    expected = read_wide(_small()).states
    np.testing.assert_array_equal(read_wide(as_text).states, expected)
    np.testing.assert_array_equal(read_wide(as_float).states, expected)


def test_span_and_option_errors() -> None:
    with pytest.raises(SpanError, match="y_0951"):
        read_wide(_small(), first_week="y_0951")
    with pytest.raises(InputError, match="after last_week"):
        read_wide(_small(), first_week="y_1001", last_week="y_0952")
    with pytest.raises(InputError, match="on_unknown"):
        read_wide(_small(), on_unknown="drop")
    with pytest.raises(InputError, match="not understood"):
        read_wide(_small(), employment="colums")
    with pytest.raises(InputError, match="does not exist"):
        read_wide("/nonexistent/file.parquet")


def test_custom_week_prefix_and_pivot() -> None:
    wide = pl.DataFrame({"id": [1], "uge_8952": [890], "uge_9001": [None]})
    reg = read_wide(wide, person="id", week_prefix="uge_", pivot=80)
    assert reg.n_weeks == 2
    assert reg.first_week == week_of_date(dt.date(1989, 12, 25))
