"""Duration-varying treatment effects (treatment_by): the fit equals statsmodels GLM with
treatment x interval columns on the expanded person-periods (estimates, CRV1 and iid SEs to
1e-6), the constancy test equals statsmodels' Wald test, predicted survival follows the
interval-specific effects (direct computation, gradient by central differences), and the
test detects a lock-in effect of a known DGP."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import polars as pl
import pytest
import statsmodels.api as sm

from dreamkit.errors import EstimationError, InputError
from dreamkit.estimate.duration.duration_dependence import (
    intervals,
    log_polynomial,
    piecewise,
    week_dummies,
)
from dreamkit.estimate.duration.hazard import DiscreteTimeHazard, HazardResult
from dreamkit.estimate.duration.person_period import expand_person_periods
from dreamkit.estimate.duration.survival_prediction import arm_survival

from .conftest import simulate_durations

LINKS = {"logit": sm.families.links.Logit, "cloglog": sm.families.links.CLogLog}


def _lock_in(n: int, seed: int, early: float, late: float, cut: int = 8) -> pl.DataFrame:
    """Logit hazard with treatment effect ``early`` in weeks 1..cut and ``late`` after."""
    rng = np.random.default_rng(seed)
    team = rng.integers(0, 30, n)
    treated = (rng.random(n) < 0.5).astype(np.int64)
    duration = np.full(n, 30)
    event = np.zeros(n, dtype=np.int64)
    alive = np.ones(n, bool)
    for t in range(1, 31):
        eta = -2.5 + treated * (early if t <= cut else late)
        exits = alive & (rng.random(n) < 1 / (1 + np.exp(-eta)))
        duration[exits], event[exits] = t, 1
        alive &= ~exits
    return pl.DataFrame(
        {
            "duration": duration,
            "event": event,
            "team": team,
            "municipality": team // 3,
            "treated": treated,
        }
    )


def _design(pp: pl.DataFrame, width: int, cuts: list[int]) -> np.ndarray:
    per = pp["period"].to_numpy()
    grp = (per - 1) // width
    d_int = (grp[:, None] == np.unique(grp)[None, :]).astype(float)
    st = pp["municipality"].to_numpy()
    d_st = (st[:, None] == np.unique(st)[1:][None, :]).astype(float)
    t = pp["treated"].to_numpy().astype(float)
    m = np.searchsorted(np.asarray(cuts), per, side="left")
    d_t = (m[:, None] == np.arange(len(cuts) + 1)[None, :]) * t[:, None]
    return np.column_stack([d_int, d_st, d_t, pp["x"].to_numpy()])


@pytest.mark.parametrize("link", ["logit", "cloglog"])
@pytest.mark.parametrize("how", ["persons", "person_periods", "compressed_periods"])
def test_equals_statsmodels_glm(link, how):
    df = simulate_durations(1200, link=link, seed=11)
    # cuts at 6 and 14 are not multiples of the 4-week baseline intervals: cells are split
    model = DiscreteTimeHazard(
        link=link, duration_spec=intervals(4), covariates=("x",), treatment_by=piecewise([6, 14])
    )
    pp = expand_person_periods(df, keep=["team", "municipality", "treated", "x"])
    if how == "persons":
        res = model.fit(df)
    else:
        res = model.fit_person_periods(pp, compress=how == "compressed_periods")
    assert res.treatment_grid is not None and res.treatment_grid.merges == ()
    assert list(res.tidy()["term"]) == ["treated[1-6]", "treated[7-14]", "treated[15-30]", "x"]
    x = _design(pp, 4, [6, 14])
    y = pp["event"].to_numpy().astype(float)
    fam = sm.families.Binomial(LINKS[link]())
    sm_cl = sm.GLM(y, x, family=fam).fit(
        cov_type="cluster", cov_kwds={"groups": pp["team"].to_numpy()}, tol=1e-13, maxiter=200
    )
    order = np.r_[: x.shape[1] - 4, x.shape[1] - 4 : x.shape[1]]
    np.testing.assert_allclose(res.glm.params, sm_cl.params[order], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(res.glm.std_errors, sm_cl.bse[order], rtol=1e-6)
    # the constancy test is statsmodels' Wald test of b_2 - b_1 = b_3 - b_1 = 0
    k = x.shape[1]
    r = np.zeros((2, k))
    r[:, k - 4] = -1
    r[0, k - 3] = r[1, k - 2] = 1
    sm_wald = sm_cl.wald_test(r, scalar=True)
    test = res.constancy_test()
    assert test["df"][0] == 2
    assert test["statistic"][0] == pytest.approx(float(sm_wald.statistic), rel=1e-6)
    assert test["p_value"][0] == pytest.approx(float(sm_wald.pvalue), rel=1e-5)
    if how == "persons":
        iid = replace(model, cluster=None).fit(df)
        sm_iid = sm.GLM(y, x, family=fam).fit(tol=1e-13, maxiter=200)
        np.testing.assert_allclose(iid.glm.std_errors, sm_iid.bse, rtol=1e-6)


def _direct_survival(res: HazardResult, df: pl.DataFrame, arm: int, weeks: int) -> np.ndarray:
    """Standardised survival from the coefficients by an explicit loop (independent path)."""
    b = dict(zip(res.glm.names, res.glm.params, strict=True))
    tg = res.treatment_grid
    assert tg is not None
    out = np.zeros(weeks)
    for row in df.iter_rows(named=True):
        s = 1.0
        for t in range(1, weeks + 1):
            eta = b[f"duration[{res.grid.labels[res.grid.lut[t]]}]"]
            if str(row["municipality"]) != res.stratum_labels[0]:
                eta += b[f"municipality[{row['municipality']}]"]
            eta += arm * b[f"treated[{tg.labels[tg.lut[t]]}]"] + b["x"] * row["x"]
            lam = 1 / (1 + np.exp(-eta)) if res.glm.link == "logit" else 1 - np.exp(-np.exp(eta))
            s *= 1 - lam
            out[t - 1] += s
    return out / df.height


@pytest.mark.parametrize("link", ["logit", "cloglog"])
def test_predicted_survival_follows_the_interval_effects(link):
    df = simulate_durations(400, link=link, seed=3, n_teams=20, weeks=16, teams_per_stratum=10)
    res = DiscreteTimeHazard(
        link=link, covariates=("x",), treatment_by=piecewise([6]), cov_type="iid"
    ).fit(df)
    weeks = np.arange(1, 17)
    pred = res.predict_survival()
    for arm in (0, 1):
        got = pred.filter(pl.col("arm") == arm)["survival"].to_numpy()
        np.testing.assert_allclose(got, _direct_survival(res, df, arm, 16), atol=1e-12)
        grad = arm_survival(res, arm, weeks)[2]
        num = np.zeros_like(grad)
        for k in range(res.glm.params.size):
            cols = []
            for sign in (1, -1):
                b = res.glm.params.copy()
                b[k] += sign * 1e-6
                cols.append(
                    arm_survival(replace(res, glm=replace(res.glm, params=b)), arm, weeks)[1]
                )
            num[:, k] = (cols[0] - cols[1]) / 2e-6
        np.testing.assert_allclose(grad, num, atol=1e-8)
    diff = res.survival_difference()
    s = pred["survival"].to_numpy()
    np.testing.assert_allclose(diff["difference"].to_numpy(), s[16:] - s[:16], atol=1e-14)


def test_constancy_test_detects_lock_in_and_not_a_constant_effect():
    locked = DiscreteTimeHazard(treatment_by=piecewise([8]), cov_type="iid").fit(
        _lock_in(4000, 1, early=-0.5, late=0.4)
    )
    assert locked.constancy_test()["p_value"][0] < 1e-4
    early, late = locked.coef("treated[1-8]"), locked.coef("treated[9-30]")
    assert early == pytest.approx(-0.5, abs=4 * locked.se("treated[1-8]"))
    assert late == pytest.approx(0.4, abs=4 * locked.se("treated[9-30]"))
    # a constant effect: across seeds the p-values are spread out (not systematically small)
    pvals = [
        DiscreteTimeHazard(treatment_by=piecewise([8]), cov_type="iid")
        .fit(_lock_in(1500, seed, early=0.3, late=0.3))
        .constancy_test()["p_value"][0]
        for seed in range(10, 16)
    ]
    assert np.median(pvals) > 0.1


def test_bad_treatment_by():
    df = simulate_durations(300, seed=1)
    with pytest.raises(InputError, match="step specification"):
        DiscreteTimeHazard(treatment_by=log_polynomial(2)).fit(df)
    with pytest.raises(InputError, match="needs a treatment column"):
        DiscreteTimeHazard(treatment=None, treatment_by=intervals(8)).fit(df)
    with pytest.raises(InputError, match="treatment_by"):
        DiscreteTimeHazard().fit(df).constancy_test()
    # weekly treatment effects with sparse exits: degenerate weeks are merged and reported
    res = DiscreteTimeHazard(treatment_by=week_dummies(), cov_type="iid").fit(
        simulate_durations(1000, seed=1)
    )
    assert res.treatment_grid is not None and res.treatment_grid.n_groups > 10
    assert any(n.startswith("treatment_by:") for n in res._notes()) == bool(
        res.treatment_grid.merges
    )
    # treated weeks with their own effects inside a baseline interval without control exits
    sparse = df.with_columns(
        pl.when((pl.col("treated") == 0) & (pl.col("duration") <= 4))
        .then(0)
        .otherwise(pl.col("event"))
        .alias("event")
    )
    with pytest.raises(EstimationError, match="weeks 1-4 has 0 control exits"):
        DiscreteTimeHazard(treatment_by=intervals(2), stratum=None).fit(sparse)
