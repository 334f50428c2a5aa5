"""Models (6), (7), subgroups and waiting-time splits against independent fits."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import statsmodels.formula.api as smf

from dreamkit.errors import InputError, TrialDesignError
from dreamkit.estimate.linear.robustness import (
    group_level,
    stratum_interacted,
    subgroups,
    waiting_time_split,
)

COVS = ["belief", "expected_return", "ordinary_job", "prior_sick"]


def test_model6_without_covariates_is_weighted_average_of_stratum_effects(study):
    res = stratum_interacted(study, ["y_2"])
    by = study.group_by("municipality").agg(
        pl.len().alias("n"),
        (
            pl.col("y_2").filter(pl.col("treated") == 1).mean()
            - pl.col("y_2").filter(pl.col("treated") == 0).mean()
        ).alias("effect"),
    )
    expected = float((by["n"] * by["effect"]).sum() / by["n"].sum())
    np.testing.assert_allclose(res.table["estimate"][0], expected, rtol=1e-10)


def test_model6_equals_statsmodels_with_centred_interactions(study):
    res = stratum_interacted(study, ["y_2"], COVS)
    pdf = study.to_pandas()
    levels = sorted(pdf["municipality"].unique())
    terms = []
    for k, m in enumerate(levels[:-1]):
        dummy = (pdf["municipality"] == m).astype(float)
        pdf[f"tm{k}"] = pdf["treated"] * (dummy - dummy.mean())
        terms.append(f"tm{k}")
    ref = smf.ols(
        "y_2 ~ treated + " + " + ".join(terms + COVS) + " + C(municipality)", data=pdf
    ).fit(cov_type="cluster", cov_kwds={"groups": pdf["team"]})
    row = res.table.row(0, named=True)
    np.testing.assert_allclose(row["estimate"], ref.params["treated"], rtol=1e-8)
    np.testing.assert_allclose(row["std_error"], ref.bse["treated"], rtol=1e-8)


def test_model7_equals_statsmodels_on_group_means(study):
    res = group_level(study, ["y_1", "y_2"], COVS)
    groups = (
        study.group_by("team", "treated")
        .agg(pl.col("municipality").first(), *[pl.col(c).mean() for c in ["y_1", "y_2", *COVS]])
        .to_pandas()
    )
    assert res.n_obs == len(groups) == 86
    for j, y in enumerate(["y_1", "y_2"]):
        ref = smf.ols(f"{y} ~ treated + C(municipality) + " + " + ".join(COVS), data=groups).fit(
            cov_type="HC1"
        )
        np.testing.assert_allclose(res.table["estimate"][j], ref.params["treated"], rtol=1e-8)
        np.testing.assert_allclose(res.table["std_error"][j], ref.bse["treated"], rtol=1e-8)


def test_subgroups_equal_statsmodels_within_each_level(study):
    res = subgroups(study, ["y_5"], ["female", "belief"], COVS, labels={"female": ("women", "men")})
    assert res.table["label"].to_list()[:2] == ["women", "men"]
    for col, lvl in (("female", 1), ("female", 0), ("belief", 1)):
        pdf = study.filter(pl.col(col) == lvl).to_pandas()
        covs = [c for c in COVS if pdf[c].nunique() > 1]
        ref = smf.ols("y_5 ~ treated + C(municipality) + " + " + ".join(covs), data=pdf).fit(
            cov_type="cluster", cov_kwds={"groups": pdf["team"]}
        )
        row = res.table.filter((pl.col("group") == col) & (pl.col("level") == lvl))
        row_d = row.row(0, named=True)
        np.testing.assert_allclose(row_d["estimate"], ref.params["treated"], rtol=1e-8)
        np.testing.assert_allclose(row_d["std_error"], ref.bse["treated"], rtol=1e-8)
        np.testing.assert_allclose(row_d["group_share"], len(pdf) / study.height)
    assert res.table.filter(pl.col("group") == "belief")["dropped_covariates"].to_list() == [
        "belief",
        "belief",
    ]


def test_waiting_split_and_subgroup_errors(study):
    res = waiting_time_split(study, ["y_1"], COVS, days=7)
    n_short = int((study["waiting_days"] < 7).sum())
    assert res.table["n_obs"].to_list() == [n_short, study.height - n_short]
    with pytest.raises(InputError, match="0/1"):
        subgroups(study, ["y_1"], ["uwses"], COVS)
    with pytest.raises(TrialDesignError, match="subgroup female"):
        subgroups(study, ["y_1"], ["female"], COVS, min_cell=200)
