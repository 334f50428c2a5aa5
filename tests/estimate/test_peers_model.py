"""Peer composition (model 4), four-cell and restricted, against statsmodels."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import statsmodels.formula.api as smf

from dreamkit.design.peers import peers_low
from dreamkit.errors import TrialDesignError
from dreamkit.estimate.linear.peers import peer_effects

COVS = ["belief", "expected_return", "ordinary_job", "prior_sick"]


@pytest.mark.parametrize("interact", [False, True])
def test_both_versions_equal_statsmodels(study, interact):
    res = peer_effects(study, ["y_4"], COVS, cutoff=8, peer_cutoff=10, interact_strata=interact)
    pdf = study.to_pandas()
    low = (pdf["uwses"] <= 8).astype(int)
    plow = peers_low(study, 10).to_numpy()
    pdf["cell"] = (2 * (1 - low) + (1 - plow)).astype(str)
    pdf["grp3"] = np.minimum(pdf["cell"].astype(int), 2).astype(str)
    pdf["fe"] = pdf["municipality"] + "_" + pdf["cell"] if interact else pdf["municipality"]
    cell_term = "" if interact else " + C(cell)"
    for version, grp in (("four-cell", "cell"), ("restricted", "grp3")):
        ref = smf.ols(
            f"y_4 ~ 0 + C({grp}):treated + C(fe){cell_term} + " + " + ".join(COVS), data=pdf
        ).fit(cov_type="cluster", cov_kwds={"groups": pdf["team"]})
        rows = res.table.filter(pl.col("version") == version)
        names = [n for n in ref.params.index if n.endswith(":treated")]
        assert len(names) == rows.height
        np.testing.assert_allclose(rows["estimate"], ref.params[names], rtol=1e-8)
        np.testing.assert_allclose(rows["std_error"], ref.bse[names], rtol=1e-8)
    assert rows["group"].to_list()[-1] == "high SE"
    np.testing.assert_allclose(rows["group_share"].sum(), 1.0)


def test_threshold_parameter_and_small_cells(study):
    res = peer_effects(study, ["y_4"], COVS, peer_threshold=0.5)
    assert res.table["peer_threshold"].unique().to_list() == [0.5]
    with pytest.raises(TrialDesignError, match="peer cells"):
        peer_effects(study, ["y_4"], COVS, min_cell=60)
