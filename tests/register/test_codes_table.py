"""Round trips of code tables: wide <-> long <-> Parquet/CSV preserve every cell."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from polars.testing import assert_frame_equal
from register_helpers import wide_tables

from dreamkit.errors import DuplicateError, InputError
from dreamkit.register import long_to_wide, wide_to_long, write_codes

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _codes(wide: pl.DataFrame) -> pl.DataFrame:
    return wide.select("person_id", pl.selectors.starts_with("y_"))


@SETTINGS
@given(wide_tables(unknown=True))
def test_wide_long_wide_round_trip(table: tuple[pl.DataFrame, list[dt.date]]) -> None:
    wide, mondays = table
    long = wide_to_long(wide)
    assert long.height == wide.height * len(mondays)
    assert long.columns == ["person_id", "week", "code"]
    assert_frame_equal(long_to_wide(long), _codes(wide))
    sparse = wide_to_long(wide, drop_empty=True)
    assert sparse["code"].null_count() == 0
    assert sparse.height == sum(wide[c].count() for c in _codes(wide).columns[1:])
    if sparse.height:
        back = long_to_wide(sparse, first_week=mondays[0], last_week=mondays[-1])
        coded = _codes(wide).filter(pl.any_horizontal(pl.selectors.starts_with("y_").is_not_null()))
        assert_frame_equal(back, coded)


@SETTINGS
@given(wide_tables(unknown=True))
def test_files_preserve_every_cell(table: tuple[pl.DataFrame, list[dt.date]]) -> None:
    wide, _ = table
    long = wide_to_long(wide)
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("t.parquet", "t.csv"):
            for frame in (_codes(wide), long):
                path = write_codes(frame, Path(tmp) / name)
                back = pl.read_parquet(path) if name.endswith("parquet") else pl.read_csv(path)
                assert_frame_equal(back, frame, check_dtypes=name.endswith("parquet"))
            back_long = pl.read_parquet(path) if name.endswith("parquet") else pl.read_csv(path)
            assert_frame_equal(long_to_wide(back_long), _codes(wide), check_dtypes=False)


def test_week_columns_come_out_in_week_order() -> None:
    wide = pl.DataFrame({"person_id": [1], "y_0001": [1], "y_9952": [2]})
    assert wide_to_long(wide)["week"].to_list() == ["y_9952", "y_0001"]
    assert long_to_wide(wide_to_long(wide)).columns == ["person_id", "y_9952", "y_0001"]


def test_conversion_errors(tmp_path) -> None:
    long = pl.DataFrame({"person_id": [1, 1], "week": ["y_0915", "y_0915"], "code": [1, 2]})
    with pytest.raises(DuplicateError, match="1 duplicated"):
        long_to_wide(long)
    with pytest.raises(InputError, match="outside"):
        long_to_wide(long.head(1), first_week="y_0916")
    with pytest.raises(InputError, match="no week columns"):
        wide_to_long(pl.DataFrame({"person_id": [1]}))
    with pytest.raises(InputError, match=r"\.parquet or \.csv"):
        write_codes(long, tmp_path / "x.xlsx")
