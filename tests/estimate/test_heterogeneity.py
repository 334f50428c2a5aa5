"""Self-efficacy heterogeneity (model 3) against a fully interacted statsmodels fit."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import statsmodels.formula.api as smf

from dreamkit.errors import TrialDesignError
from dreamkit.estimate.linear.heterogeneity import selfefficacy_grid

COVS = ["belief", "expected_return", "ordinary_job", "prior_sick"]


@pytest.mark.parametrize("cutoff", [6, 10, 14])
def test_grid_equals_interacted_statsmodels(study, cutoff):
    res = selfefficacy_grid(study, ["y_3", "emp_share_3"], COVS, cutoffs=[6, 10, 14])
    pdf = study.to_pandas()
    pdf["low"] = (pdf["uwses"] <= cutoff).astype(float)
    pdf["high"] = 1.0 - pdf["low"]
    pdf["cell"] = pdf["municipality"] + "_" + pdf["low"].astype(str)
    for outcome in ("y_3", "emp_share_3"):
        ref = smf.ols(
            f"{outcome} ~ 0 + low:treated + high:treated + C(cell) + " + " + ".join(COVS), data=pdf
        ).fit(cov_type="cluster", cov_kwds={"groups": pdf["team"]})
        rows = res.table.filter((pl.col("cutoff") == cutoff) & (pl.col("outcome") == outcome))
        low = rows.filter(pl.col("group") == "low").row(0, named=True)
        high = rows.filter(pl.col("group") == "high").row(0, named=True)
        diff = rows.filter(pl.col("group") == "low - high").row(0, named=True)
        np.testing.assert_allclose(low["estimate"], ref.params["low:treated"], rtol=1e-8)
        np.testing.assert_allclose(high["std_error"], ref.bse["high:treated"], rtol=1e-8)
        t = ref.t_test("low:treated - high:treated = 0")
        np.testing.assert_allclose(diff["estimate"], float(np.squeeze(t.effect)), rtol=1e-8)
        np.testing.assert_allclose(diff["std_error"], float(np.squeeze(t.sd)), rtol=1e-8)
        np.testing.assert_allclose(low["group_share"], pdf["low"].mean(), rtol=1e-12)
        ctrl = pdf[(pdf.treated == 0) & (pdf.low == 0)][outcome].mean()
        np.testing.assert_allclose(high["control_mean"], ctrl, rtol=1e-12)
        assert low["group_range"] == f"0-{cutoff}" and high["group_range"] == f"{cutoff + 1}-24"


def test_small_cell_is_an_error(study):
    with pytest.raises(TrialDesignError, match="cut-off 0"):
        selfefficacy_grid(study, ["y_1"], COVS, cutoffs=[0], min_cell=30)


def test_default_grid_has_nine_cutoffs(study):
    res = selfefficacy_grid(study, ["y_1"], COVS)
    assert res.table["cutoff"].unique().sort().to_list() == list(range(6, 15))
    assert res.table.height == 9 * 3
