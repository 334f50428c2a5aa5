"""Event study (TWFE with binned leads/lags) against pyfixest and linearmodels to 1e-8.

Point estimates are the same least-squares problem solved exactly, so they agree to rounding
(1e-10 is far above float64 noise on these sizes). Standard errors: pyfixest's default CRV1
small-sample factor is the one dreamkit uses (same formula), so they agree to 1e-10 on
balanced panels; on unbalanced panels pyfixest demeans iteratively to its own tolerance, so we
compare at 1e-8. linearmodels' raw clustered sandwich (no factor) times dreamkit's reported
factor equals dreamkit's SE.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pyfixest as pf
import pytest
from linearmodels import PanelOLS

from dreamkit.errors import EstimationError, InputError
from dreamkit.estimate.panel.event_study import event_study

L, F = 4, 5


def _rel(df: pl.DataFrame) -> np.ndarray:
    st, t = df["s"].to_numpy(), df["t"].to_numpy()
    return np.where(st < 0, -1, np.clip(t - st, -L, F))


def _pyfixest(df: pl.DataFrame, vcov: object) -> object:
    pdf = df.to_pandas()
    pdf["rel"] = _rel(df)
    return pf.feols("y ~ i(rel, ref=-1) | id + t", data=pdf, vcov=vcov)


@pytest.mark.parametrize("cluster", ["g", "id"])
def test_balanced_equals_pyfixest(panel: pl.DataFrame, cluster: str) -> None:
    res = event_study(
        panel,
        outcome="y",
        unit="id",
        time="t",
        start="start",
        leads=L,
        lags=F,
        vcov={"CRV1": cluster},
    )
    fit = _pyfixest(panel, {"CRV1": cluster})
    tidy = res.tidy()
    np.testing.assert_allclose(tidy["estimate"], fit.coef().to_numpy(), atol=1e-10, rtol=0)
    np.testing.assert_allclose(tidy["std_error"], fit.se().to_numpy(), atol=1e-10, rtol=0)
    assert res.glance()["method"][0].startswith("within")
    assert tidy["event_time"].to_list() == [-4, -3, -2, 0, 1, 2, 3, 4, 5]


def test_pretrend_wald_equals_pyfixest(panel: pl.DataFrame) -> None:
    res = event_study(
        panel,
        outcome="y",
        unit="id",
        time="t",
        start="start",
        leads=L,
        lags=F,
        vcov={"CRV1": "g"},
    )
    fit = _pyfixest(panel, {"CRV1": "g"})
    r = np.zeros((L - 1, L - 1 + F + 1))
    r[np.arange(L - 1), np.arange(L - 1)] = 1.0
    ref = fit.wald_test(R=r, distribution="chi2")
    test = res.pretrend_test()
    assert test["chi2"] == pytest.approx(float(fit._wald_statistic), rel=1e-10)
    assert test["p_chi2"] == pytest.approx(float(ref["pvalue"]), rel=1e-8)
    assert res.glance()["pretrend_p"][0] == pytest.approx(test["p_f"])


def test_iid_equals_pyfixest(panel: pl.DataFrame) -> None:
    res = event_study(
        panel, outcome="y", unit="id", time="t", start="start", leads=L, lags=F, vcov="iid"
    )
    fit = _pyfixest(panel, "iid")
    np.testing.assert_allclose(res.tidy()["std_error"], fit.se().to_numpy(), atol=1e-10)


def test_unbalanced_equals_pyfixest(panel: pl.DataFrame) -> None:
    keep = np.random.default_rng(3).random(panel.height) > 0.1
    sub = panel.filter(pl.Series(keep))
    res = event_study(
        sub, outcome="y", unit="id", time="t", start="start", leads=L, lags=F, vcov={"CRV1": "g"}
    )
    fit = _pyfixest(sub, {"CRV1": "g"})
    np.testing.assert_allclose(res.tidy()["estimate"], fit.coef().to_numpy(), atol=1e-8)
    np.testing.assert_allclose(res.tidy()["std_error"], fit.se().to_numpy(), atol=1e-8)
    g = res.glance()
    assert g["method"][0].startswith("alternating") and g["iterations"][0] >= 1


def test_equals_linearmodels(panel: pl.DataFrame) -> None:
    res = event_study(
        panel, outcome="y", unit="id", time="t", start="start", leads=L, lags=F, vcov={"CRV1": "g"}
    )
    pdf = panel.to_pandas()
    x = pd.get_dummies(pd.Series(_rel(panel)), prefix="rel", dtype=float).drop(columns="rel_-1")
    index = pd.MultiIndex.from_arrays([pdf["id"], pdf["t"]])
    x.index = index
    y = pd.Series(pdf["y"].to_numpy(), index=index)
    clusters = pd.Series(pdf["g"].to_numpy(), index=index)
    lm = PanelOLS(y, x, entity_effects=True, time_effects=True).fit(
        cov_type="clustered",
        clusters=clusters,
        debiased=False,
        auto_df=False,
        count_effects=False,
    )
    np.testing.assert_allclose(res.tidy()["estimate"], lm.params.to_numpy(), atol=1e-10)
    ssc = res.glance()["ssc"][0]
    np.testing.assert_allclose(
        res.tidy()["std_error"], lm.std_errors.to_numpy() * np.sqrt(ssc), atol=1e-10
    )


def test_pandas_input_and_protocol(panel: pl.DataFrame) -> None:
    res = event_study(panel.to_pandas(), outcome="y", unit="id", time="t", start="start")
    assert res.vcov.shape == (10, 10)
    assert "reference event time -1" in res.summary()
    assert res.confint(0.9).columns == ["term", "event_time", "conf_low", "conf_high"]


def test_lead_before_register_start(panel: pl.DataFrame) -> None:
    early = panel.with_columns(pl.when(pl.col("s") >= 0).then(1).alias("start"))
    with pytest.raises(InputError, match="before the panel starts"):
        event_study(early, outcome="y", unit="id", time="t", start="start", leads=4, lags=2)


def test_no_comparison_group(panel: pl.DataFrame) -> None:
    one = panel.with_columns(pl.lit(6).alias("start"))
    with pytest.raises(InputError, match="no comparison group"):
        event_study(one, outcome="y", unit="id", time="t", start="start", leads=3, lags=3)


def test_all_treated_fully_binned_is_collinear(panel: pl.DataFrame) -> None:
    # every person treated and no end bin pools relative periods (-15..14 all separate)
    st = np.where(panel["s"].to_numpy() < 0, 10, panel["s"].to_numpy())
    alltr = panel.with_columns(pl.Series("start", st))
    with pytest.raises(EstimationError, match="collinear"):
        event_study(alltr, outcome="y", unit="id", time="t", start="start", leads=15, lags=14)


def test_cluster_must_be_person_level(panel: pl.DataFrame) -> None:
    with pytest.raises(InputError, match="varies within"):
        event_study(panel, outcome="y", unit="id", time="t", start="start", vcov={"CRV1": "t"})
