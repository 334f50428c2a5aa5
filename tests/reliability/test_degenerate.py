"""Degenerate but legal data: every estimator and the report finish and say what they did.

* all persons of a team in one arm (legal: randomisation is within municipality);
* no events in an arm (the hazard and Cox models refuse with the reason; Kaplan-Meier runs);
* outcome weeks beyond the register's end for some persons (excluded and counted in the
  sample-flow ledger, or kept with null outcomes under ``coverage="partial"``).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from dreamkit.design.trial import validate_trial
from dreamkit.errors import EstimationError, InputError
from dreamkit.estimate.duration.hazard import DiscreteTimeHazard
from dreamkit.estimate.duration.survival import cox, kaplan_meier
from dreamkit.estimate.linear.itt import effect_path
from dreamkit.outcomes import build_outcomes
from dreamkit.simulate import simulate_trial


@pytest.fixture(scope="module")
def trial_and_register():  # type: ignore[no-untyped-def]
    sim = simulate_trial(seed=3, n_unmatched=0)
    return validate_trial(sim.trial), sim.register


@pytest.fixture(scope="module")
def persons(trial_and_register) -> pl.DataFrame:  # type: ignore[no-untyped-def]
    trial, register = trial_and_register
    return build_outcomes(register, trial).persons


def test_outcome_weeks_beyond_the_register_are_counted_not_dropped_silently(
    trial_and_register,  # type: ignore[no-untyped-def]
) -> None:
    trial, register = trial_and_register
    late = trial.with_columns(
        pl.when(pl.int_range(pl.len()) < 30)
        .then(pl.lit(register.last_week - 40, dtype=pl.Int32))
        .otherwise(pl.col("allocation_week"))
        .alias("allocation_week")
    )
    required = build_outcomes(register, late)
    flow = required.flow.table()
    step = flow.filter(pl.col("step") == "register coverage")
    assert step["removed"].item() == 30 and required.persons.height == trial.height - 30
    partial = build_outcomes(register, late, coverage="partial")
    assert partial.persons.height == trial.height
    assert partial.persons["emp_share_81"].null_count() == 30
    assert partial.persons["emp_share_40"].null_count() == 0  # observed weeks are kept
    with pytest.raises(InputError, match="missing='drop'"):
        effect_path(partial.persons, ["emp_share_81"])
    dropped = effect_path(partial.persons, ["emp_share_81"], missing="drop")
    assert dropped.tidy()["n_obs"].item() == trial.height - 30
    assert "listwise deletion" in repr(dropped.sample.drop_reason if dropped.sample else "")


def test_a_team_entirely_in_one_arm(persons: pl.DataFrame) -> None:
    team = persons["team"][0]
    data = persons.with_columns(
        pl.when(pl.col("team") == team).then(1).otherwise(pl.col("treated")).cast(pl.Int8)
        .alias("treated")
    )  # fmt: skip
    path = effect_path(data, ["emp_share_81"]).tidy()
    assert np.isfinite(path["estimate"].item()) and np.isfinite(path["std_error"].item())
    hazard = DiscreteTimeHazard().fit(data, duration="dur_emp", event="event_emp")
    assert np.isfinite(hazard.coef("treated"))
    assert kaplan_meier(data, duration="dur_emp", event="event_emp") is not None


@pytest.mark.parametrize("arm", [0, 1])
def test_no_events_in_an_arm(persons: pl.DataFrame, arm: int) -> None:
    data = persons.with_columns(
        pl.when(pl.col("treated") == arm).then(0).otherwise(pl.col("event_emp")).alias("event_emp")
    )
    name = "treated" if arm else "control"
    for link in ("logit", "cloglog"):
        with pytest.raises(EstimationError, match=f"the {name} arm .* has no events"):
            DiscreteTimeHazard(link=link).fit(data, duration="dur_emp", event="event_emp")
    with pytest.raises(EstimationError, match="no events"):
        cox(data, duration="dur_emp", event="event_emp")
    km = kaplan_meier(data, duration="dur_emp", event="event_emp")
    assert km is not None


def test_no_events_at_all(persons: pl.DataFrame) -> None:
    data = persons.with_columns(pl.lit(0).alias("event_emp"))
    with pytest.raises(EstimationError, match="0 exits"):
        DiscreteTimeHazard().fit(data, duration="dur_emp", event="event_emp")
    with pytest.raises(EstimationError, match="no events"):
        cox(data, duration="dur_emp", event="event_emp")  # was lifelines' ConvergenceError


def test_outcome_constant_in_an_arm(persons: pl.DataFrame) -> None:
    data = persons.with_columns(
        pl.when(pl.col("treated") == 1).then(0.0).otherwise(pl.col("emp_share_81"))
        .alias("emp_share_81")
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path = effect_path(data, ["emp_share_81"]).tidy()
    assert np.isfinite(path["estimate"].item())


def _degenerate_files(tmp: Path) -> Path:
    """The synthetic trial as files, made degenerate: treated persons never employed (no
    employment events in that arm), one team entirely treated, one control in each of up to 20
    municipalities allocated so late that their follow-up runs past the register's end."""
    sim = simulate_trial(seed=5)
    trial = sim.trial
    wide = sim.wide_codes()
    # a team whose municipality keeps controls in its other teams (randomisation is within it)
    per_team = trial.group_by("municipality", "team").agg(pl.col("treated").sum().alias("t"))
    other = per_team.join(
        trial.group_by("municipality").agg((pl.col("treated") == 0).sum().alias("controls")),
        on="municipality",
    ).with_columns(pl.col("team").count().over("municipality").alias("teams"))
    team = other.filter(pl.col("teams") >= 2).sort("team")["team"][0]
    last = sim.register.last_week
    trial = trial.with_columns(
        pl.when(pl.col("team") == team).then(1).otherwise(pl.col("treated")).alias("treated")
    )
    treated = set(trial.filter(pl.col("treated") == 1)["person_id"].to_list())
    is_treated = pl.col("person_id").is_in(list(treated))
    weeks = [c for c in wide.columns if c.startswith("y_")]
    months = [c for c in wide.columns if c.startswith("branche_")]
    wide = wide.with_columns(
        [pl.when(is_treated).then(pl.lit(890)).otherwise(pl.col(c)).alias(c) for c in weeks]
        + [pl.when(is_treated).then(None).otherwise(pl.col(c)).alias(c) for c in months]
    )
    late_day = (np.datetime64("1900-01-01") + 7 * (last - 30)).astype(object)
    # one control from each municipality that keeps at least two others (a stratum left with
    # one arm after exclusions is refused by the estimators, with a TrialDesignError)
    controls = (
        trial.filter(pl.col("treated") == 0)
        .with_columns(pl.len().over("municipality").alias("n_controls"))
        .filter(pl.col("n_controls") >= 3)
        .group_by("municipality", maintain_order=True)
        .agg(pl.col("person_id").first())["person_id"]
        .head(20)
        .to_list()
    )
    trial = trial.with_columns(
        pl.when(pl.col("person_id").is_in(controls)).then(pl.lit(late_day))
        .otherwise(pl.col("allocation_date")).alias("allocation_date"),
        pl.when(pl.col("person_id").is_in(controls)).then(pl.lit(late_day))
        .otherwise(pl.col("team_last_allocation")).alias("team_last_allocation"),
    )  # fmt: skip
    wide.write_parquet(tmp / "register.parquet")
    trial.write_parquet(tmp / "trial.parquet")
    config = tmp / "analysis.toml"
    config.write_text(
        '[input]\nsource = "files"\nregister = "register.parquet"\ntrial = "trial.parquet"\n'
        "[inference]\nbootstrap_draws = 99\nri_draws = 99\n",
        encoding="utf-8",
    )
    return config


@pytest.mark.slow
def test_report_finishes_on_degenerate_data_and_says_what_it_did(tmp_path: Path) -> None:
    from dreamkit.config import load_config
    from dreamkit.pipeline import run_report

    result = run_report(load_config(_degenerate_files(tmp_path)), tmp_path / "out", progress=False)
    html = result.html.read_text(encoding="utf-8")
    flow = pl.read_csv(tmp_path / "out" / "tables" / "sample_flow.csv")
    assert "register coverage" in flow.to_pandas().to_string()
    assert int(flow.filter(pl.col("step") == "register coverage")["excluded"].item()) > 0
    hazard = (tmp_path / "out" / "tables" / "hazard.md").read_text(encoding="utf-8")
    assert "not estimable" in hazard and "has no events" in hazard
    assert "not estimable" in html
