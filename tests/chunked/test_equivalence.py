"""Chunked results equal the in-memory functions' results exactly."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from dreamkit.chunked import (
    PartitionedRegister,
    chunked_outcomes,
    chunked_person_periods,
    partition_register,
)
from dreamkit.errors import MissingPersonsError
from dreamkit.estimate.duration.person_period import expand_person_periods
from dreamkit.outcomes import build_outcomes
from dreamkit.register import read_long, read_wide, wide_to_long

BUDGET = "1GB"
WEEKS = 260


@pytest.fixture(scope="module")
def dataset(wide, tmp_path_factory) -> PartitionedRegister:
    root = tmp_path_factory.mktemp("wide") / "ds"
    return partition_register(wide, root, chunk_rows=500, employment="columns", progress=False)


def test_partitions_hold_every_person_once(dataset, wide, first_week):
    assert [p.persons for p in dataset.partitions] == [500, 500, 200]
    assert dataset.n_persons == wide.height
    ids = pl.concat([dataset.person_ids(i) for i in range(len(dataset.partitions))])
    assert ids.sort().equals(wide["person_id"].sort())
    assert (dataset.first_week, dataset.n_weeks) == (first_week, WEEKS)


def test_partition_states_equal_in_memory_rows(dataset, wide):
    full = read_wide(wide, employment="columns")
    for index in range(len(dataset.partitions)):
        part = dataset.read(index)
        rows = full.require_rows(part.person_ids)
        np.testing.assert_array_equal(part.states, full.states[rows])
        assert part.first_week == full.first_week


@pytest.mark.parametrize("chunk_persons", [None, 170])
def test_outcomes_equal_in_memory(dataset, wide, tmp_path, chunk_persons, make_trial):
    trial = make_trial(wide, 700, WEEKS, seed=5, n_absent=9)
    memory = build_outcomes(read_wide(wide, employment="columns"), trial, on_missing="exclude")
    chunked = chunked_outcomes(
        dataset,
        trial,
        tmp_path / "out",
        on_missing="exclude",
        budget=BUDGET,
        chunk_persons=chunk_persons,
        progress=False,
    )
    expected_chunks = 3 if chunk_persons is None else 3 + 3 + 2
    assert len(chunked.run.records) == expected_chunks
    result = chunked.collect()
    assert result.persons.height == memory.persons.height > 0
    assert result.persons.columns == memory.persons.columns
    assert result.persons.sort("person_id").equals(memory.persons.sort("person_id"))
    assert result.flow.table().equals(memory.flow.table())
    removed = dict(zip(result.flow.table()["step"], result.flow.table()["removed"], strict=True))
    assert removed["not in register"] == 9 and removed["register coverage"] > 0


def test_partial_coverage_equal_in_memory(dataset, wide, tmp_path, make_trial):
    trial = make_trial(wide, 400, WEEKS, seed=8)
    memory = build_outcomes(read_wide(wide, employment="columns"), trial, coverage="partial")
    chunked = chunked_outcomes(
        dataset,
        trial,
        tmp_path / "out",
        coverage="partial",
        budget=BUDGET,
        chunk_persons=230,
        progress=False,
    ).collect()
    assert chunked.persons.null_count().sum_horizontal().item() > 0
    assert chunked.persons.sort("person_id").equals(memory.persons.sort("person_id"))
    assert chunked.flow.table().equals(memory.flow.table())


def test_missing_persons_fail_fast(dataset, wide, tmp_path, make_trial):
    trial = make_trial(wide, 50, WEEKS, seed=2, n_absent=3)
    with pytest.raises(MissingPersonsError, match="3 of 53"):
        chunked_outcomes(dataset, trial, tmp_path / "out", budget=BUDGET, progress=False)
    assert not (tmp_path / "out").exists()


def test_person_periods_equal_in_memory(dataset, wide, tmp_path, make_trial):
    trial = make_trial(wide, 500, WEEKS, seed=11)
    memory = build_outcomes(read_wide(wide, employment="columns"), trial, on_missing="exclude")
    chunked = chunked_outcomes(
        dataset, trial, tmp_path / "out", on_missing="exclude", budget=BUDGET, progress=False
    )
    keep = ["person_id", "treated", "team"]
    run = chunked_person_periods(
        chunked,
        tmp_path / "pp",
        duration="dur_emp",
        event="event_emp",
        keep=keep,
        progress=False,
    )
    assert run.complete
    expected = expand_person_periods(
        memory.persons, duration="dur_emp", event="event_emp", keep=keep
    )
    got = run.scan().collect()
    assert got.height == expected.height == int(memory.persons["dur_emp"].sum())
    order = ["person_id", "period"]
    assert got.sort(order).equals(expected.sort(order))


def test_long_layout_equals_in_memory(wide, tmp_path, make_trial):
    small = wide.head(400)
    long = wide_to_long(small, drop_empty=True)
    data = partition_register(
        long, tmp_path / "long", format="long", n_partitions=3, chunk_rows=20_000, progress=False
    )
    assert len(data.partitions) == 3 and data.n_persons == long["person_id"].n_unique()
    full = read_long(long)
    assert (data.first_week, data.last_week) == (full.first_week, full.last_week)
    for index in range(3):
        part = data.read(index)
        np.testing.assert_array_equal(part.states, full.states[full.require_rows(part.person_ids)])
    trial = make_trial(small, 200, WEEKS, seed=4)
    memory = build_outcomes(full, trial, on_missing="exclude")
    chunked = chunked_outcomes(
        data, trial, tmp_path / "out", on_missing="exclude", budget=BUDGET, progress=False
    ).collect()
    assert chunked.persons.sort("person_id").equals(memory.persons.sort("person_id"))
    assert chunked.flow.table().equals(memory.flow.table())
