"""Person-period and spell expansion."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dreamkit.errors import ColumnNotFoundError, InputError
from dreamkit.estimate.duration.person_period import expand_person_periods, expand_spells


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(1, 30), st.integers(0, 1), st.integers(0, 5)), min_size=1, max_size=40
    )
)
def test_expansion_rows_periods_and_events(rows):
    d, e, g = (list(c) for c in zip(*rows, strict=True))
    df = pl.DataFrame({"duration": d, "event": e, "group": g}).with_row_index("pid")
    pp = expand_person_periods(df)
    assert pp.height == sum(d)
    assert pp.columns == ["pid", "group", "period", "event"]
    assert pp["period"].dtype == pl.Int16 and pp["event"].dtype == pl.Int8
    per_person = (
        pp.group_by("pid")
        .agg(
            pl.len().alias("n"),
            pl.col("period").min().alias("lo"),
            pl.col("period").max().alias("hi"),
            pl.col("event").sum().alias("ev"),
            pl.col("event")
            .filter(pl.col("period") == pl.col("period").max())
            .first()
            .alias("last"),
            pl.col("group").n_unique().alias("ng"),
        )
        .sort("pid")
    )
    assert per_person["n"].to_list() == d
    assert (per_person["lo"] == 1).all() and per_person["hi"].to_list() == d
    assert per_person["ev"].to_list() == e == per_person["last"].to_list()
    assert (per_person["ng"] == 1).all()


def test_competing_exit_columns():
    df = pl.DataFrame({"duration": [2, 3, 1], "event": [1, 1, 0], "exit": ["job", "other", None]})
    pp = expand_person_periods(df, exit_type="exit")
    assert pp["event_job"].to_list() == [0, 1, 0, 0, 0, 0]
    assert pp["event_other"].to_list() == [0, 0, 0, 0, 1, 0]
    assert pp["event"].to_list() == [0, 1, 0, 0, 1, 0]


def test_spells_numbering_and_calendar_weeks():
    spells = pl.DataFrame(
        {
            "person_id": [7, 7, 9],
            "start": [10, 1, 4],
            "length": [2, 3, 1],
            "event": [0, 1, 1],
            "team": [1, 1, 2],
        }
    )
    pp = expand_spells(spells, keep=["team"])
    assert pp.height == 6
    assert pp["spell"].to_list() == [1, 1, 1, 2, 2, 1]
    assert pp["period"].to_list() == [1, 2, 3, 1, 2, 1]
    assert pp["week"].to_list() == [1, 2, 3, 10, 11, 4]
    assert pp["event"].to_list() == [0, 0, 1, 0, 0, 1]


def test_overlapping_spells_rejected_without_ids():
    spells = pl.DataFrame(
        {"person_id": [123456, 123456], "start": [1, 2], "length": [3, 2], "event": [0, 1]}
    )
    with pytest.raises(InputError) as err:
        expand_spells(spells)
    assert "123456" not in str(err.value)


@pytest.mark.parametrize(
    ("frame", "error"),
    [
        (pl.DataFrame({"duration": [0, 2], "event": [1, 0]}), InputError),
        (pl.DataFrame({"duration": [1, None], "event": [1, 0]}), InputError),
        (pl.DataFrame({"duration": [1, 2], "event": [2, 0]}), InputError),
        (pl.DataFrame({"duration": [1.5, 2.0], "event": [1, 0]}), InputError),
        (pl.DataFrame({"weeks": [1, 2], "event": [1, 0]}), ColumnNotFoundError),
    ],
)
def test_bad_durations_raise_typed_errors(frame, error):
    with pytest.raises(error):
        expand_person_periods(frame)


def test_large_expansion_uses_small_dtypes():
    d = np.random.default_rng(0).integers(1, 82, 20_000)
    pp = expand_person_periods(pl.DataFrame({"duration": d, "event": np.ones_like(d)}))
    assert pp.height == d.sum()
    assert pp.estimated_size() <= 3 * d.sum()
