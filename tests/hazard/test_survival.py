"""Kaplan-Meier, log-rank and at-risk tables against hand computations."""

from __future__ import annotations

import numpy as np
import polars as pl
import scipy.stats

from dreamkit.estimate.duration.survival import cox, kaplan_meier


def test_kaplan_meier_and_logrank_by_hand(simulate):
    df = simulate(700, seed=8)
    km = kaplan_meier(df, by="treated")
    d, e, g = (df[c].to_numpy() for c in ("duration", "event", "treated"))
    weeks = np.arange(1, d.max() + 1)
    o_minus_e, var = 0.0, 0.0
    for arm in (0, 1):
        sel = g == arm
        at_risk = np.array([(d[sel] >= t).sum() for t in weeks])
        exits = np.array([((d[sel] == t) & (e[sel] == 1)).sum() for t in weeks])
        s = np.cumprod(1 - exits / np.maximum(at_risk, 1))
        curve = km.curves.filter((pl.col("group") == str(arm)) & (pl.col("week") >= 1))
        np.testing.assert_allclose(curve["survival"].to_numpy(), s, rtol=1e-12)
        assert curve["at_risk"].to_list() == at_risk.tolist()
        assert curve["events"].to_list() == exits.tolist()
    n_t = np.array([(d >= t).sum() for t in weeks])
    d_t = np.array([((d == t) & (e == 1)).sum() for t in weeks])
    n1 = np.array([((d >= t) & (g == 1)).sum() for t in weeks])
    d1 = np.array([((d == t) & (e == 1) & (g == 1)).sum() for t in weeks])
    ok = n_t > 1
    o_minus_e = (d1 - d_t * n1 / n_t)[ok].sum()
    var = (d_t * (n1 / n_t) * (1 - n1 / n_t) * (n_t - d_t) / (n_t - 1))[ok].sum()
    chi2 = o_minus_e**2 / var
    assert km.logrank is not None
    assert km.logrank["statistic"] == np.float64(chi2) or np.isclose(
        km.logrank["statistic"], chi2, rtol=1e-9
    )
    assert np.isclose(km.logrank["p_value"], scipy.stats.chi2.sf(chi2, 1), rtol=1e-9)
    table = km.at_risk_table([1, 10, 20])
    assert table.columns == ["group", "1", "10", "20"]
    assert table["1"].sum() == df.height


def test_cox_reports_hazard_ratios(simulate):
    df = simulate(800, link="cloglog", seed=9)
    res = cox(df, covariates=("x",))
    out = res.tidy(exponentiate=True)
    assert out["term"].to_list() == ["treated", "x"]
    summ = res.fitter.summary.loc[["treated", "x"]]  # lifelines' own ratio columns
    np.testing.assert_allclose(out["estimate"], summ["exp(coef)"], rtol=1e-12)
    np.testing.assert_allclose(out["conf_low"], summ["exp(coef) lower 95%"], rtol=1e-9)
    np.testing.assert_allclose(out["conf_high"], summ["exp(coef) upper 95%"], rtol=1e-9)
    np.testing.assert_allclose(res.tidy()["p_value"], summ["p"], rtol=1e-9)
    assert res.ratio_name == "hazard_ratio"
    assert out["n_events"][0] == df["event"].sum()
    assert res.glance()["n_events"][0] == df["event"].sum()
