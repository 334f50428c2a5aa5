"""Balance tables (model B): per-variable fits, multiple-testing adjustments, joint tests."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import scipy.stats
import statsmodels.formula.api as smf
from statsmodels.stats.multitest import multipletests

from dreamkit.errors import InputError
from dreamkit.estimate.linear.balance import balance, study_samples

VARS = ["belief", "expected_return", "ordinary_job", "prior_sick", "uwses", "female"]


def test_rows_equal_statsmodels_in_every_sample(study):
    res = balance(study, VARS, samples=study_samples(), ri_draws=0)
    assert res.table.height == len(VARS) * 5
    masks = {
        "all": np.ones(study.height, bool),
        "short wait": (study["waiting_days"] < 7).to_numpy(),
        "high SE": (study["uwses"] > 10).to_numpy(),
    }
    for name, mask in masks.items():
        pdf = study.filter(pl.Series(mask)).to_pandas()
        for var in ("expected_return", "female"):
            ref = smf.ols(f"{var} ~ treated + C(municipality)", data=pdf).fit(
                cov_type="cluster", cov_kwds={"groups": pdf["team"]}
            )
            row = res.table.filter((pl.col("sample") == name) & (pl.col("variable") == var))
            row_d = row.row(0, named=True)
            np.testing.assert_allclose(row_d["estimate"], ref.params["treated"], rtol=1e-8)
            np.testing.assert_allclose(row_d["std_error"], ref.bse["treated"], rtol=1e-8)
            assert row_d["star"] == (row_d["p_value"] < 0.05)
            np.testing.assert_allclose(
                row_d["treated_mean"], pdf.loc[pdf.treated == 1, var].mean(), rtol=1e-12
            )


def test_adjusted_p_values_over_the_whole_table(study):
    res = balance(study, VARS, samples=study_samples(), ri_draws=0)
    p = res.table["p_value"].to_numpy()
    np.testing.assert_allclose(res.table["p_holm"], multipletests(p, method="holm")[1])
    np.testing.assert_allclose(res.table["p_bh"], multipletests(p, method="fdr_bh")[1])
    assert np.all(res.table["p_holm"].to_numpy() >= p - 1e-15)


def test_joint_wald_equals_statsmodels(study):
    res = balance(study, VARS, ri_draws=99)
    pdf = study.to_pandas()
    ref = smf.ols("treated ~ " + " + ".join(VARS) + " + C(municipality)", data=pdf).fit(
        cov_type="cluster", cov_kwds={"groups": pdf["team"]}
    )
    wald = ref.wald_test(", ".join(f"{v} = 0" for v in VARS), use_f=False, scalar=True)
    joint = res.joint.row(0, named=True)
    np.testing.assert_allclose(joint["wald"], wald.statistic, rtol=1e-8)
    g = study["team"].n_unique()
    np.testing.assert_allclose(
        joint["p_value"],
        scipy.stats.f.sf(wald.statistic / len(VARS), len(VARS), g - 1),
        rtol=1e-8,
    )
    assert 0 < joint["ri_p_value"] <= 1 and joint["ri_draws"] == 99


def test_joint_wald_not_computable_with_more_variables_than_clusters(study):
    extra = {f"noise_{j}": np.random.default_rng(j).normal(size=study.height) for j in range(45)}
    wide = study.with_columns(**{k: pl.Series(v) for k, v in extra.items()})
    res = balance(wide, list(extra), ri_draws=19)
    joint = res.joint.row(0, named=True)
    assert np.isnan(joint["wald"]) and "G - 1" in joint["note"]
    assert 0 < joint["ri_p_value"] <= 1


def test_missing_values_per_variable(study):
    bad = study.with_columns(
        pl.when(pl.int_range(pl.len()) < 4).then(None).otherwise(pl.col("uwses")).alias("uwses")
    )
    with pytest.raises(InputError, match=r"'uwses' \(4\)"):
        balance(bad, VARS, ri_draws=0)
    res = balance(bad, VARS, missing="drop", ri_draws=0)
    rows = res.table.filter(pl.col("variable") == "uwses").row(0, named=True)
    assert rows["n_dropped"] == 4 and rows["n_obs"] == study.height - 4
    other = res.table.filter(pl.col("variable") == "belief").row(0, named=True)
    assert other["n_dropped"] == 0 and other["n_obs"] == study.height
    assert res.joint["n_dropped"][0] == 4


def test_undefined_sample_membership_is_not_silently_dropped(study):
    bad = study.with_columns(
        pl.when(pl.int_range(pl.len()) < 2)
        .then(None)
        .otherwise(pl.col("waiting_days"))
        .alias("waiting_days")
    )
    with pytest.raises(InputError, match="undefined for 2"):
        balance(bad, VARS, samples=study_samples(), ri_draws=0)
