"""The sample-flow ledger adds up, and bad input raises typed errors without person ids."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from dreamkit.errors import (
    CodeMapError,
    ColumnNotFoundError,
    DuplicateError,
    InputError,
    MissingPersonsError,
)
from dreamkit.outcomes import OutcomeSpec, SampleFlow, build_outcomes
from dreamkit.register import CodeMap, Register
from dreamkit.register.calendar import monday_of_week

CODEMAP = CodeMap.default()
IDS = [987_654_321 + 13 * i for i in range(40)]


def setup(n_weeks: int = 260) -> tuple[Register, pl.DataFrame]:
    rng = np.random.default_rng(7)
    states = rng.integers(0, CODEMAP.n_states, size=(len(IDS), n_weeks), dtype=np.uint8)
    register = Register(states, pl.Series("person_id", IDS), 5000, CODEMAP)
    trial = pl.DataFrame(
        {"person_id": IDS, "allocation_week": rng.integers(5000 + 104, 5000 + 170, len(IDS))}
    )
    return register, trial


def no_ids(text: str) -> bool:
    return not any(str(i) in text for i in IDS)


def test_ledger_counts_add_up() -> None:
    frame = pl.DataFrame({"x": list(range(10))})
    flow = SampleFlow(10)
    kept = flow.filter(frame, pl.col("x") >= 3, "consent", "withdrew consent")
    kept = flow.filter(kept, kept["x"] % 2 == 0, "baseline", "no baseline questionnaire")
    flow.exclude("manual", "municipality dropped out", 1)
    table = flow.table()
    assert table["removed"].to_list() == [3, 4, 1]
    assert table["remaining"].to_list() == [7, 3, 2]
    assert flow.n_input - table["removed"].sum() == table["remaining"][-1] == flow.remaining
    flow.check(2)
    with pytest.raises(InputError, match="does not add up"):
        flow.check(3)


def test_ledger_rejects_bad_steps() -> None:
    flow = SampleFlow(5)
    with pytest.raises(InputError, match="between 0"):
        flow.exclude("too many", "r", 6)
    frame = pl.DataFrame({"x": [1, None, 3, 4, 5]})
    with pytest.raises(InputError, match="missing"):
        flow.filter(frame, pl.col("x") > 2, "s", "r")
    with pytest.raises(InputError, match="rows"):
        flow.filter(frame.head(4), pl.col("x") > 2, "s", "r")
    assert flow.steps == []


def test_missing_persons_error_counts_without_ids() -> None:
    register, trial = setup()
    extra = pl.DataFrame({"person_id": [1, 2, 3], "allocation_week": [5150, 5150, 5150]})
    trial = pl.concat([trial, extra])
    with pytest.raises(MissingPersonsError, match="3 of 43") as err:
        build_outcomes(register, trial)
    assert no_ids(str(err.value))
    out = build_outcomes(register, trial, on_missing="exclude")
    table = out.flow.table()
    assert table["step"].to_list() == ["not in register", "register coverage"]
    assert table["removed"].to_list() == [3, 0]
    assert out.persons.height == len(IDS)
    assert no_ids(repr(out)) and no_ids(repr(out.flow))


def test_coverage_exclusions_are_recorded() -> None:
    register, trial = setup()
    late = trial.with_columns(
        pl.when(pl.int_range(pl.len()) < 5)
        .then(register.last_week - 10)
        .otherwise(pl.col("allocation_week"))
        .alias("allocation_week")
    )
    out = build_outcomes(register, late)
    table = out.flow.table()
    assert table["removed"].to_list() == [5]
    assert table["reason"][0] == "register does not cover weeks -104..81 around allocation"
    kept = set(out.persons["person_id"].to_list())
    assert kept == set(IDS[5:])
    partial = build_outcomes(register, late, coverage="partial")
    assert partial.persons.height == len(IDS)
    assert partial.persons["emp_share_81"].null_count() == 5
    assert partial.persons["emp_share_10"].null_count() == 0


def test_flow_continues_an_earlier_ledger() -> None:
    register, trial = setup()
    flow = SampleFlow(len(IDS) + 6)
    flow.exclude("municipality", "municipality dropped out", 6)
    out = build_outcomes(register, trial, flow=flow)
    assert out.flow.table()["remaining"].to_list() == [len(IDS), len(IDS)]
    with pytest.raises(InputError, match="remaining"):
        build_outcomes(register, trial, flow=SampleFlow(len(IDS) + 1))


def test_allocation_date_gives_the_same_outcomes() -> None:
    register, trial = setup()
    dates = [monday_of_week(w) + dt.timedelta(days=3) for w in trial["allocation_week"]]
    by_date = trial.drop("allocation_week").with_columns(allocation_date=pl.Series(dates))
    a = build_outcomes(register, trial).persons.drop("allocation_week")
    b = build_outcomes(register, by_date).persons.drop("allocation_date")
    assert a.equals(b)


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        (lambda t: t.drop("person_id"), ColumnNotFoundError, "person_id"),
        (lambda t: t.drop("allocation_week"), ColumnNotFoundError, "allocation_date"),
        (
            lambda t: t.with_columns(allocation_week=pl.lit(None, dtype=pl.Int64)),
            InputError,
            "allocation_week",
        ),
        (lambda t: pl.concat([t, t.head(2)]), DuplicateError, "2 duplicated"),
        (lambda t: t.with_columns(dur_emp=pl.lit(1)), InputError, "dur_emp"),
        (lambda t: t.with_columns(allocation_week=pl.lit("x")), InputError, "integer"),
    ],
)
def test_bad_trial_tables_raise(change, error, match) -> None:  # type: ignore[no-untyped-def]
    register, trial = setup()
    with pytest.raises(error, match=match) as err:
        build_outcomes(register, change(trial))
    assert no_ids(str(err.value))


def test_bad_spec_and_options_raise() -> None:
    register, trial = setup()
    with pytest.raises(CodeMapError, match="no_such_set"):
        build_outcomes(register, trial, OutcomeSpec(spell_set="no_such_set"))
    with pytest.raises(InputError, match="multiple"):
        OutcomeSpec(pre_weeks=100, pre_window_length=13)
    with pytest.raises(InputError, match="duplicate"):
        OutcomeSpec(paths={"emp": "employment"}, totals={"emp": "employment"}, weeks=81)
    with pytest.raises(InputError, match="on_missing"):
        build_outcomes(register, trial, on_missing="drop")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="coverage"):
        build_outcomes(register, trial, coverage="some")  # type: ignore[arg-type]
