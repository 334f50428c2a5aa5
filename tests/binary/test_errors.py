"""Bad input: typed errors naming the column/level and the fix; nothing dropped silently."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest

import dreamkit.estimate.binary as bn
from dreamkit.errors import ColumnNotFoundError, EstimationError, InputError


def _no_events_in(d: pl.DataFrame, col: str, level: str) -> pl.DataFrame:
    return d.with_columns(
        y=pl.when(pl.col(col) == level).then(0).otherwise(pl.col("y")).cast(pl.Int8)
    )


def test_separation_in_an_exposure_level_names_level_and_fix(survey: pl.DataFrame) -> None:
    d = _no_events_in(survey, "illness", "both")
    with pytest.raises(EstimationError) as err:
        bn.logit(d, "y", "illness", "sex", reference={"illness": "physical"})
    msg = str(err.value)
    assert "'illness'" in msg and "illness[both]" in msg and "no events" in msg
    assert "Fisher" in msg and "Firth" in msg


def test_separation_in_the_reference_level(survey: pl.DataFrame) -> None:
    d = _no_events_in(survey, "illness", "physical")
    with pytest.raises(EstimationError, match="reference"):
        bn.logit(d, "y", "illness", reference={"illness": "physical"})


def test_separation_in_a_binary_column_and_a_stratum(survey: pl.DataFrame) -> None:
    d = survey.with_columns(y=pl.when(pl.col("sex") == "M").then(1).otherwise(pl.col("y")))
    with pytest.raises(EstimationError, match="only events"):
        bn.logit(d, "y", "illness", "sex")
    d = survey.with_columns(y=pl.when(pl.col("stratum") == 3).then(0).otherwise(pl.col("y")))
    with pytest.raises(EstimationError, match="'stratum' level '3' has no events"):
        bn.logit(d, "y", "illness", stratum="stratum")


def test_quasi_separation_by_a_combination_is_caught_after_the_fit() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=200)
    y = (x > 0.1).astype(float)  # perfectly predicted by x
    with pytest.raises(EstimationError, match="separation"):
        bn.fit_binary(y, np.column_stack([np.ones(200), x]), ["Intercept", "x"])


def test_unknown_reference_level_lists_the_levels(survey: pl.DataFrame) -> None:
    with pytest.raises(InputError) as err:
        bn.logit(survey, "y", "illness", reference={"illness": "somatic"})
    msg = str(err.value)
    assert "'somatic'" in msg and "'illness'" in msg
    assert "both" in msg and "mental" in msg and "physical" in msg


def test_missing_values_raise_or_are_dropped_and_reported(survey: pl.DataFrame) -> None:
    d = survey.with_columns(
        sex=pl.when(pl.int_range(pl.len()) % 50 == 0).then(None).otherwise(pl.col("sex"))
    )
    with pytest.raises(InputError, match="'sex' has 60 missing values"):
        bn.logit(d, "y", "illness", "sex")
    res = bn.logit(d, "y", "illness", "sex", missing="drop", vcov="iid")
    ref = bn.logit(d.drop_nulls("sex"), "y", "illness", "sex", vcov="iid")
    assert res.n_obs == survey.height - 60 and res.glance()["n_dropped"][0] == 60
    assert any("60 of 3000 persons dropped" in n for n in res.notes)
    assert "60 of 3000 persons dropped" in str(res.summary())
    np.testing.assert_allclose(res.params, ref.params, rtol=1e-12)


def test_dont_know_is_its_own_level_and_enum_order_is_kept(survey: pl.DataFrame) -> None:
    levels = ["low", "mid", "high", "don't know"]
    d = survey.with_columns(pl.col("edu").cast(pl.Enum(levels)))
    res = bn.logit(d, "y", "edu")
    assert res.tidy()["term"].to_list() == ["Intercept", "edu[mid]", "edu[high]", "edu[don't know]"]
    assert res.n_obs == survey.height
    assert np.all(np.isfinite(res.tidy().select(pl.exclude("term")).to_numpy()))


def test_bad_outcome_columns_and_vcov(survey: pl.DataFrame) -> None:
    with pytest.raises(InputError, match="besides 0 and 1"):
        bn.logit(survey.with_columns(y=pl.col("y") * 2), "y", "illness")
    with pytest.raises(InputError, match="code it 0/1"):
        bn.logit(survey, "sex", "illness")
    with pytest.raises(ColumnNotFoundError, match="nope"):
        bn.logit(survey, "y", "nope")
    with pytest.raises(InputError, match="needs cluster"):
        bn.logit(survey, "y", "illness", vcov="CRV1")
    with pytest.raises(InputError, match="single level"):
        bn.logit(survey.with_columns(c=pl.lit("a")), "y", "c")


def test_lr_test_refuses_different_samples(survey: pl.DataFrame) -> None:
    a = bn.logit(survey, "y", "illness")
    b = bn.logit(survey.head(2000), "y", "illness", "sex")
    with pytest.raises(InputError, match="different samples"):
        a.lr_test(b)


def test_pandas_input_equals_polars(survey: pl.DataFrame) -> None:
    a = bn.probit(survey, "y", "illness", ["sex", "age"], cluster="team")
    b = bn.probit(survey.to_pandas(), "y", "illness", ["sex", "age"], cluster="team")
    assert isinstance(survey.to_pandas(), pd.DataFrame)
    np.testing.assert_array_equal(a.params, b.params)
    np.testing.assert_array_equal(a.std_errors, b.std_errors)


def test_reference_for_an_absent_column_is_an_error(survey: pl.DataFrame) -> None:
    with pytest.raises(ColumnNotFoundError, match="illnes"):
        bn.logit(survey, "y", "illness", reference={"illnes": "physical"})
