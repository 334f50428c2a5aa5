"""The hazard model recovers known parameters; predicted survival follows from the hazards."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from dreamkit.estimate.duration.duration_dependence import intervals
from dreamkit.estimate.duration.hazard import DiscreteTimeHazard


@pytest.mark.parametrize("link", ["logit", "cloglog"])
def test_recovers_true_treatment_effect(simulate, link):
    tau, beta_x = -0.3, 0.2
    df = simulate(20_000, link=link, tau=tau, beta_x=beta_x, seed=21, n_teams=80)
    # the DGP's baseline varies within 4-week blocks, so use one dummy per week group of 1
    res = DiscreteTimeHazard(link=link, duration_spec=intervals(1), covariates=("x", "lw")).fit(df)
    for term, truth in (("treated", tau), ("x", beta_x), ("lw", 0.1)):
        assert abs(res.coef(term) - truth) < 4 * res.se(term)
    tidy = res.tidy(exponentiate=True)
    assert res.ratio_name == ("odds_ratio" if link == "logit" else "hazard_ratio")
    row = tidy.filter(pl.col("term") == "treated").row(0, named=True)
    assert row["conf_low"] < np.exp(tau) < row["conf_high"]
    assert row["n_person_periods"] == df["duration"].sum()
    assert row["n_clusters"] == 80


@pytest.mark.filterwarnings("ignore::dreamkit.errors.InferenceWarning")
def test_predicted_survival_is_the_product_of_fitted_hazards(simulate):
    df = simulate(1500, link="logit", seed=2)
    res = DiscreteTimeHazard(covariates=("x",), interactions=(("treated", "lw"),)).fit(df)
    surv = res.predict_survival(periods=12)
    b = dict(zip(res.glm.names, res.glm.params, strict=True))
    labels = res.grid.labels
    per = np.arange(1, 13)
    alpha = np.array([b[f"duration[{labels[res.grid.lut[t]]}]"] for t in per])
    strata = df["municipality"].to_numpy()
    gam = np.array([b.get(f"municipality[{k}]", 0.0) for k in strata])
    for arm in (0, 1):
        eta = (
            alpha[None, :]
            + gam[:, None]
            + b["treated"] * arm
            + b["x"] * df["x"].to_numpy()[:, None]
            + b["treated:lw"] * arm * df["lw"].to_numpy()[:, None]
        )
        s_manual = np.cumprod(1 - 1 / (1 + np.exp(-eta)), axis=1).mean(axis=0)
        got = surv.filter(pl.col("arm") == arm)["survival"].to_numpy()
        np.testing.assert_allclose(got, s_manual, rtol=1e-10)
    s0 = surv.filter(pl.col("arm") == 0)["survival"].to_numpy()
    assert np.all(np.diff(s0) < 0)
