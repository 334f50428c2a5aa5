"""Separation, collinearity and bad input give typed errors; no identifiers leak."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from dreamkit.errors import ColumnNotFoundError, EstimationError, InputError
from dreamkit.estimate.duration.duration_dependence import intervals
from dreamkit.estimate.duration.hazard import DiscreteTimeHazard


def test_stratum_without_exits_is_named(simulate):
    df = simulate(600, seed=1)
    df = df.with_columns(
        pl.when(pl.col("municipality") == 3).then(0).otherwise(pl.col("event")).alias("event")
    )
    with pytest.raises(EstimationError, match=r"municipality level '3' has no events"):
        DiscreteTimeHazard().fit(df)


def test_perfect_predictor_is_reported_as_separation(simulate):
    df = simulate(600, seed=1).with_columns(pl.col("event").alias("leak"))
    with pytest.raises(EstimationError, match="separation"):
        DiscreteTimeHazard(covariates=("leak",)).fit(df)


def test_collinear_covariate(simulate):
    df = simulate(400, seed=1).with_columns((2 * pl.col("treated")).alias("t2"))
    with pytest.raises(EstimationError, match="collinear"):
        DiscreteTimeHazard(covariates=("t2",)).fit(df)


def test_empty_duration_interval_merged_and_reported(simulate):
    df = simulate(800, seed=1)
    # no exits in weeks 5-8: move them to censoring
    df = df.with_columns(
        pl.when(pl.col("duration").is_between(5, 8))
        .then(0)
        .otherwise(pl.col("event"))
        .alias("event")
    )
    res = DiscreteTimeHazard().fit(df)
    assert any("5-8" in m for m in res.duration_merges)
    assert "note: weeks" in res.summary()
    with pytest.raises(EstimationError, match="weeks 5-8 has no exits"):
        DiscreteTimeHazard(duration_spec=intervals(4, merge_degenerate=False)).fit(df)


def test_input_errors_do_not_leak_person_ids(simulate):
    df = simulate(300, seed=1).with_columns(person_id=np.arange(900001, 900301))
    bad = df.with_columns(
        pl.when(pl.col("person_id") == 900007).then(2).otherwise(pl.col("treated")).alias("treated")
    )
    with pytest.raises(InputError) as err:
        DiscreteTimeHazard().fit(bad)
    assert "900007" not in str(err.value)
    with pytest.raises(ColumnNotFoundError):
        DiscreteTimeHazard(cluster="hold").fit(df)
    res = DiscreteTimeHazard().fit(df)
    assert "9000" not in res.summary() and "person_id" not in res.tidy().columns
