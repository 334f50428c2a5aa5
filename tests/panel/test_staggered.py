"""Callaway-Sant'Anna and Sun-Abraham against independent computations.

* Sun-Abraham equals pyfixest's saturated event study (``pf.event_study(...,
  estimator="saturated")``: coefficients, CRV1 SEs and the share-weighted aggregation) to 1e-10:
  the same least-squares problem, solved in closed form here.
* Callaway-Sant'Anna ATT(g,t) equals a brute-force loop over cohorts and periods (means of
  the persons in each group, written from the definition) to 1e-12; the clustered
  influence-function variance of the event-time path equals the empirical influence function
  of the brute-force estimator obtained by numerically differentiating it with respect to
  cluster weights (central differences; agreement 1e-6 relative, the finite-difference error).
* With never-treated controls and a universal base period, CS ATT(g,t) equals SA's delta.
"""

from __future__ import annotations

import warnings

import numpy as np
import polars as pl
import pyfixest as pf
import pytest

from dreamkit.errors import DreamkitWarning, InputError
from dreamkit.estimate.panel.staggered import callaway_santanna, sun_abraham
from dreamkit.simulate.staggered import simulate_staggered


@pytest.fixture(scope="module")
def sim():  # type: ignore[no-untyped-def]
    return simulate_staggered(n_persons=500, n_periods=16, cohorts=(5, 8, 11), seed=3)


@pytest.fixture(scope="module")
def long(sim) -> pl.DataFrame:  # type: ignore[no-untyped-def]
    # periods from 1 (pyfixest's saturated event study codes never-treated as cohort 0)
    return sim.to_long().with_columns(pl.col("period") + 1, pl.col("start") + 1)


def test_sun_abraham_equals_pyfixest_saturated(long: pl.DataFrame) -> None:
    sa = sun_abraham(
        long,
        outcome="y",
        unit="person_id",
        time="period",
        start="start",
        vcov={"CRV1": "municipality"},
    )
    pdf = long.to_pandas()
    pdf["start"] = pdf["start"].fillna(0).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = pf.event_study(
            pdf,
            yname="y",
            idname="person_id",
            tname="period",
            gname="start",
            cluster="municipality",
            estimator="saturated",
        )
        agg = fit.aggregate()
    ref = fit.tidy().reset_index()
    parts = ref["Coefficient"].str.extract(
        r"rel_time::(?P<l>[-0-9.]+):first_treated_period::(?P<g>\d+)"
    )
    ref_tab = pl.DataFrame(
        {
            "cohort": parts["g"].astype(int).to_numpy(),
            "event_time": parts["l"].astype(float).astype(int).to_numpy(),
            "ref_est": ref["Estimate"].to_numpy(),
            "ref_se": ref["Std. Error"].to_numpy(),
        }
    )
    mine = sa.group_time.join(ref_tab, on=["cohort", "event_time"], how="full", coalesce=True)
    assert mine.height == ref_tab.height == sa.group_time.height
    np.testing.assert_allclose(mine["estimate"], mine["ref_est"], atol=1e-10)
    np.testing.assert_allclose(mine["std_error"], mine["ref_se"], atol=1e-10)
    tidy = sa.tidy()
    np.testing.assert_allclose(tidy["estimate"], agg["Estimate"].to_numpy(float), atol=1e-10)
    np.testing.assert_allclose(tidy["std_error"], agg["Std. Error"].to_numpy(float), atol=1e-10)


def _brute_cs(y, start, cl, omega, base="varying"):  # type: ignore[no-untyped-def]
    """CS event-time path from the definition with cluster weights omega (numerical IF)."""
    w = omega[cl]
    t_n = y.shape[1]
    cohorts = sorted(set(start[start >= 0].tolist()))
    cells = {}
    for g in cohorts:
        for t in range(t_n):
            b = g - 1 if (t >= g or base == "universal") else t - 1
            if b < 0 or t == b:
                continue
            tr = start == g
            ctl = (start < 0) | ((start > max(t, b)) & (start != g))
            if not ctl.any():
                continue
            d = y[:, t] - y[:, b]
            att = (w[tr] @ d[tr]) / w[tr].sum() - (w[ctl] @ d[ctl]) / w[ctl].sum()
            cells[(g, t)] = att
    out = {}
    for e in sorted({t - g for g, t in cells}):
        gs = [g for g in cohorts if (g, g + e) in cells]
        ng = np.array([w[start == g].sum() for g in gs])
        out[e] = float(ng @ np.array([cells[(g, g + e)] for g in gs]) / ng.sum())
    return cells, out


def test_callaway_santanna_equals_brute_force(sim, long) -> None:  # type: ignore[no-untyped-def]
    cs = callaway_santanna(
        long,
        outcome="y",
        unit="person_id",
        time="period",
        start="start",
        vcov={"CRV1": "municipality"},
    )
    y = sim.y.astype(float)
    cl = sim.municipality
    one = np.ones(cl.max() + 1)
    cells, theta = _brute_cs(y, sim.start, cl, one)
    gt = cs.group_time
    assert gt.height == len(cells)
    for row in gt.iter_rows(named=True):
        assert abs(row["estimate"] - cells[(row["cohort"] - 1, row["period"] - 1)]) < 1e-12
    tidy = cs.tidy()
    assert tidy["event_time"].to_list() == list(theta)
    np.testing.assert_allclose(tidy["estimate"], list(theta.values()), atol=1e-12)
    # empirical influence function by central differences in cluster weights
    eps = 1e-5
    infl = np.zeros((one.size, len(theta)))
    for c in range(one.size):
        up, dn = one.copy(), one.copy()
        up[c] += eps
        dn[c] -= eps
        infl[c] = (
            np.array(list(_brute_cs(y, sim.start, cl, up)[1].values()))
            - np.array(list(_brute_cs(y, sim.start, cl, dn)[1].values()))
        ) / (2 * eps)
    np.testing.assert_allclose(cs.vcov, infl.T @ infl, rtol=1e-6, atol=1e-12)


def test_cs_never_universal_equals_sa(long: pl.DataFrame) -> None:
    kw = dict(outcome="y", unit="person_id", time="period", start="start")
    cs = callaway_santanna(long, control="nevertreated", base="universal", **kw)
    sa = sun_abraham(long, **kw)
    np.testing.assert_allclose(cs.group_time["estimate"], sa.group_time["estimate"], atol=1e-12)
    np.testing.assert_allclose(cs.tidy()["estimate"], sa.tidy()["estimate"], atol=1e-12)


def test_bootstrap_is_seeded_and_close_to_analytic(long: pl.DataFrame) -> None:
    kw = dict(
        outcome="y", unit="person_id", time="period", start="start", vcov={"CRV1": "municipality"}
    )
    a = callaway_santanna(long, bootstrap=999, seed=1, **kw)
    b = callaway_santanna(long, bootstrap=999, seed=1, **kw)
    plain = callaway_santanna(long, **kw)
    assert a.tidy().equals(b.tidy())
    ratio = a.tidy()["std_error"].to_numpy() / plain.tidy()["std_error"].to_numpy()
    assert np.all(np.abs(ratio - 1) < 0.2)
    assert a.glance()["band_critical_value"][0] > 1.96


def test_recovers_truth_where_twfe_is_biased() -> None:
    from dreamkit.estimate.panel.event_study import event_study

    sim = simulate_staggered(
        n_persons=6000,
        n_periods=30,
        cohorts=(8, 14, 20),
        seed=11,
        heterogeneity=0.9,
        never_share=0.25,
    )
    long = sim.to_long()
    kw = dict(outcome="y", unit="person_id", time="period", start="start")
    truth = sim.theta.filter(pl.col("event_time") <= 9)
    cs = callaway_santanna(long, **kw).tidy().join(truth, on="event_time")
    sa = sun_abraham(long, **kw).tidy().join(truth, on="event_time")
    for res in (cs, sa):
        z = (res["estimate"] - res["att"]) / res["std_error"]
        assert np.all(np.abs(z.to_numpy()) < 4.0)
    es = event_study(long, leads=8, lags=9, **kw).tidy().join(truth, on="event_time")
    # TWFE with binned ends and heterogeneous cohorts misses the truth at long lags
    assert np.max(np.abs((es["estimate"] - es["att"]).to_numpy())) > 0.03


def test_bad_input(long: pl.DataFrame) -> None:
    kw = dict(outcome="y", unit="person_id", time="period", start="start")
    same = long.with_columns(pl.lit(5, dtype=pl.Int64).alias("start"))
    with pytest.raises(InputError, match="comparison group"):
        callaway_santanna(same, **kw)
    treated = long.filter(pl.col("start").is_not_null())
    with pytest.raises(InputError, match="never treated"):
        sun_abraham(treated, **kw)
    assert sun_abraham(treated, control="last", **kw).tidy().height > 0
    with pytest.raises(InputError, match="not balanced"):
        callaway_santanna(long.filter(pl.col("period") != 3), **kw)
    single = long.with_columns(
        pl.when(pl.col("person_id") == 0).then(15).otherwise(pl.col("start")).alias("start")
    )
    with pytest.warns(DreamkitWarning, match="single person"):
        callaway_santanna(single, **kw)
    first = long.with_columns(
        pl.when(pl.col("person_id") < 5).then(1).otherwise(pl.col("start")).alias("start")
    )
    with pytest.warns(DreamkitWarning, match="no pre-period"):
        callaway_santanna(first, **kw)
