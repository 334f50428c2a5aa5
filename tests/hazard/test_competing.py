"""Competing risks: the multinomial-logit hazard equals statsmodels MNLogit on the expanded
person-periods (estimates, iid and CRV1 SEs to 1e-6); cumulative incidence by arm against a
direct per-person loop, its gradient against central differences, the Aalen-Johansen CIF
against lifelines' AalenJohansenFitter (ties kept) and against the saturated model."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import statsmodels.api as sm

from dreamkit.errors import EstimationError, InputError
from dreamkit.estimate.duration.competing import CompetingRisksHazard, aalen_johansen
from dreamkit.estimate.duration.duration_dependence import intervals, piecewise, week_dummies
from dreamkit.estimate.duration.hazard import DiscreteTimeHazard
from dreamkit.estimate.duration.person_period import expand_person_periods
from dreamkit.estimate.results import TIDY_LEADING

sys.path.insert(0, str(Path(__file__).parent))
from _competing_data import CAUSES, simulate_competing


@pytest.fixture(scope="module")
def data() -> pl.DataFrame:
    return simulate_competing(1500, seed=1)


def _mnlogit_design(pp: pl.DataFrame, width: int, causes: tuple[str, ...], cut: int | None):
    """Independent dense design: interval dummies, stratum dummies (first dropped), T (or
    T 1{t <= cut}, T 1{t > cut}), x, T*lw; outcome 0 (no exit) or 1..J."""
    per = pp["period"].to_numpy()
    grp = (per - 1) // width
    d_int = (grp[:, None] == np.unique(grp)[None, :]).astype(float)
    st = pp["municipality"].to_numpy()
    d_st = (st[:, None] == np.unique(st)[1:][None, :]).astype(float)
    t = pp["treated"].to_numpy().astype(float)
    d_t = t[:, None] if cut is None else np.column_stack([t * (per <= cut), t * (per > cut)])
    x = np.column_stack([d_int, d_st, d_t, pp["x"].to_numpy(), t * pp["lw"].to_numpy()])
    y = np.zeros(pp.height, dtype=np.int64)
    for j, c in enumerate(causes):
        y[pp[f"event_{c}"].to_numpy() == 1] = j + 1
    return x, y


@pytest.mark.parametrize(
    ("cov_type", "cut"),
    [("CRV1", None), ("iid", None), ("CRV1", 9)],
    ids=["crv1", "iid", "varying"],
)
def test_equals_statsmodels_mnlogit(data, cov_type, cut):
    """With ``cut`` the treatment effects vary: weeks 1-9 and 10-24 (not nested in the 6-week
    baseline intervals)."""
    model = CompetingRisksHazard(
        duration_spec=intervals(6),
        covariates=("x",),
        interactions=(("treated", "lw"),),
        cov_type=cov_type,
        treatment_by=None if cut is None else piecewise([cut]),
    )
    res = model.fit(data)
    assert res.grid.merges == ()
    pp = expand_person_periods(
        data, exit_type="exit_type", keep=["team", "municipality", "treated", "x", "lw"]
    )
    x, y = _mnlogit_design(pp, 6, res.causes, cut)
    kw = (
        {"cov_type": "cluster", "cov_kwds": {"groups": pp["team"].to_numpy()}}
        if cov_type == "CRV1"
        else {}
    )
    sm_fit = sm.MNLogit(y, x).fit(method="newton", maxiter=100, disp=0, **kw)
    assert sm_fit.mle_retvals["converged"]
    # statsmodels: params (k, J) with one column per exit; dreamkit is exit-major
    np.testing.assert_allclose(res.fit.params, np.asarray(sm_fit.params).T.ravel(), atol=1e-8)
    np.testing.assert_allclose(
        np.sqrt(np.diag(res.vcov)), np.asarray(sm_fit.bse).T.ravel(), rtol=1e-6
    )
    # the full joint covariance, reordered to statsmodels' exit-major order
    np.testing.assert_allclose(res.vcov, np.asarray(sm_fit.cov_params()), rtol=1e-6, atol=1e-12)
    assert res.fit.log_likelihood == pytest.approx(sm_fit.llf, rel=1e-10)
    assert res.fit.n_trials == pp.height
    tidy = res.tidy()
    assert tidy.columns[:8] == [
        *TIDY_LEADING,
        "exit",
    ]
    assert tidy.height == 3 * (3 if cut is None else 4)
    assert res.coef("x", "job") == pytest.approx(
        float(tidy.filter((pl.col("term") == "x") & (pl.col("exit") == "job"))["estimate"][0])
    )
    assert res.glance()["converged"][0]
    assert "Competing-risks" in repr(res)


def test_one_exit_type_is_the_binary_logit_hazard(data):
    """With J = 1 the multinomial logit is the binary logit hazard: same estimates, CRV1
    SEs, and CIF = 1 - S with the same delta-method SE."""
    one = data.with_columns(pl.lit("any").alias("exit_type"))
    cr = CompetingRisksHazard(duration_spec=intervals(6), covariates=("x",)).fit(one)
    bh = DiscreteTimeHazard(duration_spec=intervals(6), covariates=("x",)).fit(data)
    np.testing.assert_allclose(cr.fit.params, bh.glm.params, atol=1e-8)
    np.testing.assert_allclose(cr.vcov, bh.vcov, rtol=1e-6, atol=1e-14)
    with pytest.warns(Warning):
        cif = cr.predict_cif()
        surv = bh.predict_survival()
    np.testing.assert_allclose(cif["cif"].to_numpy(), 1 - surv["survival"].to_numpy(), atol=1e-12)
    np.testing.assert_allclose(cif["cif_se"].to_numpy(), surv["survival_se"].to_numpy(), rtol=1e-8)


def _direct_cif(res, df: pl.DataFrame, arm: int, weeks: int, params=None) -> np.ndarray:
    """CIF by a per-person loop over weeks from the fitted coefficients (independent path)."""
    beta = res.fit.params if params is None else params
    p, names = res.fit.n_params, res.fit.names
    n_j = len(res.causes)
    out = np.zeros((n_j, weeks))
    labels = res.stratum_labels
    for row in df.iter_rows(named=True):
        surv, cum = 1.0, np.zeros(n_j)
        for t in range(1, weeks + 1):
            eta = np.zeros(n_j)
            for j in range(n_j):
                b = dict(zip(names, beta[j * p : (j + 1) * p], strict=True))
                g = res.grid.labels[res.grid.lut[t]]
                e = b[f"duration[{g}]"]
                if str(row["municipality"]) != labels[0]:
                    e += b[f"municipality[{row['municipality']}]"]
                if res.treatment_grid is not None:
                    e += arm * b[f"treated[{res.treatment_grid.labels[res.treatment_grid.lut[t]]}]"]
                else:
                    e += arm * b["treated"]
                e += row["x"] * b["x"]
                eta[j] = e
            h = np.exp(eta) / (1 + np.exp(eta).sum())
            cum += surv * h
            out[:, t - 1] += cum
            surv *= 1 - h.sum()
    return out / df.height


@pytest.mark.parametrize("varying", [False, True])
def test_cif_direct_and_gradient(varying):
    df = simulate_competing(300, seed=5, weeks=12, n_teams=12, base=(-2.0, -2.8))
    model = CompetingRisksHazard(
        duration_spec=intervals(4),
        covariates=("x",),
        cov_type="iid",
        treatment_by=piecewise([6]) if varying else None,
    )
    res = model.fit(df)
    weeks = np.arange(1, 13)
    for arm in (0, 1):
        cif, grad = res.arm_cif(arm, weeks)
        np.testing.assert_allclose(cif, _direct_cif(res, df, arm, 12), atol=1e-12)
        eps = 1e-6
        num = np.zeros_like(grad)
        for k in range(res.fit.params.size):
            step = np.zeros(res.fit.params.size)
            step[k] = eps
            up = res.arm_cif(arm, weeks, res.fit.params + step)[0]
            dn = res.arm_cif(arm, weeks, res.fit.params - step)[0]
            num[:, :, k] = (up - dn) / (2 * eps)
        np.testing.assert_allclose(grad, num, atol=1e-8)
    diff = res.cif_difference([4, 12])
    pred = res.predict_cif()
    for row in diff.iter_rows(named=True):
        f = pred.filter((pl.col("exit") == row["exit"]) & (pl.col("period") == row["period"]))
        d1 = f.filter(pl.col("arm") == 1)["cif"][0] - f.filter(pl.col("arm") == 0)["cif"][0]
        assert row["difference"] == pytest.approx(d1, abs=1e-14)
        assert row["conf_low"] < row["difference"] < row["conf_high"]
    assert set(diff["period"].to_list()) == {4, 12}


def test_aalen_johansen_equals_lifelines(data, monkeypatch):
    from lifelines import AalenJohansenFitter

    aj = aalen_johansen(data)
    # lifelines jitters tied exit times of different types; with its tie check off it runs
    # the same (tied, simultaneous-exits) estimator on the weekly data
    monkeypatch.setattr(
        AalenJohansenFitter, "_check_for_duplicates", staticmethod(lambda **_: False)
    )
    for arm in (0, 1):
        sub = data.filter(pl.col("treated") == arm)
        codes = {c: j + 1 for j, c in enumerate(sorted(sub["exit_type"].drop_nulls().unique()))}
        ev = np.array(
            [codes[c] if e == 1 else 0 for c, e in zip(sub["exit_type"], sub["event"], strict=True)]
        )
        for cause, code in codes.items():
            fit = AalenJohansenFitter(calculate_variance=True).fit(
                sub["duration"].to_numpy(), ev, event_of_interest=code
            )
            ours = aj.filter((pl.col("arm") == arm) & (pl.col("exit") == cause))
            ll = fit.cumulative_density_.iloc[:, 0]
            times = ll.index.to_numpy()
            at = ours["period"].to_numpy()
            idx = np.searchsorted(times, at, side="right") - 1
            np.testing.assert_allclose(ours["cif"].to_numpy(), ll.to_numpy()[idx], atol=1e-14)
            var = fit.variance_.to_numpy()
            ok = np.isfinite(var[idx])
            np.testing.assert_allclose(
                ours["cif_se"].to_numpy()[ok] ** 2, var[idx][ok], rtol=1e-9, atol=1e-15
            )


def test_aalen_johansen_is_the_saturated_model():
    """With week dummies and week-specific treatment effects and no other regressors the
    multinomial-logit hazard is saturated in (arm, week): its CIF by arm is Aalen-Johansen."""
    df = simulate_competing(4000, seed=2, weeks=8, base=(-1.5, -2.0, -2.2))
    res = CompetingRisksHazard(
        duration_spec=week_dummies(),
        treatment_by=week_dummies(),
        stratum=None,
        cluster=None,
    ).fit(df)
    assert res.grid.merges == () and res.treatment_grid is not None
    assert res.treatment_grid.merges == ()
    pred = res.predict_cif().sort("arm", "exit", "period")
    aj = aalen_johansen(df).sort("arm", "exit", "period")
    np.testing.assert_allclose(pred["cif"].to_numpy(), aj["cif"].to_numpy(), atol=1e-9)


def test_duration_varying_constancy_test_competing():
    df = simulate_competing(3000, seed=4, tau=(0.0, 0.0, 0.0), tau_late=(0.8, 0.0, 0.0))
    res = CompetingRisksHazard(treatment_by=piecewise([8]), cov_type="iid").fit(df)
    test = res.constancy_test()
    assert test["df"].to_list() == [1, 1, 1]
    p = dict(zip(test["exit"], test["p_value"], strict=True))
    assert p["job"] < 0.01
    assert set(res.tidy()["term"]) == {"treated[1-8]", "treated[9-24]"}


def test_cause_without_exits_raises(data):
    with pytest.raises(EstimationError, match=r"exit type 'retired' has no exits.*Merge"):
        CompetingRisksHazard(causes=("job", "disability", "unemployment", "retired")).fit(data)
    with pytest.raises(InputError, match=r"exit type 'unemployment'.*not among causes"):
        CompetingRisksHazard(causes=("job", "disability")).fit(data)
    # a cause with no exits in one stratum: named, with the fix
    bad = data.with_columns(
        pl.when((pl.col("municipality") == 2) & (pl.col("exit_type") == "disability"))
        .then(pl.lit("job"))
        .otherwise(pl.col("exit_type"))
        .alias("exit_type")
    )
    with pytest.raises(EstimationError, match="municipality level '2' has no exits of type"):
        CompetingRisksHazard().fit(bad)
    # no exit of a type among the treated
    bad = data.with_columns(
        pl.when((pl.col("treated") == 1) & (pl.col("exit_type") == "disability"))
        .then(pl.lit("job"))
        .otherwise(pl.col("exit_type"))
        .alias("exit_type")
    )
    with pytest.raises(EstimationError, match=r"no exits of type 'disability'.*treated = 1"):
        CompetingRisksHazard().fit(bad)
    with pytest.raises(InputError, match="missing"):
        CompetingRisksHazard().fit(
            data.with_columns(
                pl.when(pl.col("event") == 1)
                .then(None)
                .otherwise(pl.col("exit_type"))
                .alias("exit_type")
            )
        )


def _coverage(reps: int, seed0: int) -> np.ndarray:
    """``reps`` trials of the known DGP fitted with the correct model (week dummies, stratum
    effects, x; model-based covariance). The 95% intervals of F_0j(t), F_1j(t) and
    F_1j(t) - F_0j(t) at three weeks must cover the truth (these persons' standardised CIF
    under the true coefficients) within the binomial band of ``reps`` trials (level 1% over
    all checks); intervals with half the SE would cover about 68%."""
    from _competing_data import true_cif

    from dreamkit.validate import binomial_band

    check = np.array([4, 10, 16])
    hits = np.zeros((3, 3, check.size), dtype=np.int64)  # (arm 0 / arm 1 / diff, exit, week)
    model = CompetingRisksHazard(duration_spec=intervals(1), covariates=("x",), cov_type="iid")
    for r in range(reps):
        df = simulate_competing(1500, seed=seed0 + r, weeks=16, n_teams=12, teams_per_stratum=4)
        res = model.fit(df)
        order = [CAUSES.index(c) for c in res.causes]  # the fit sorts the exit types
        truth = [true_cif(df, arm, 16)[order][:, check - 1] for arm in (0, 1)]
        pred = res.predict_cif(list(check)).sort("arm", "exit", "period")
        diff = res.cif_difference(list(check)).sort("exit", "period")
        for arm in (0, 1):
            p = pred.filter(pl.col("arm") == arm)
            low = p["cif_low"].to_numpy().reshape(3, -1)
            high = p["cif_high"].to_numpy().reshape(3, -1)
            hits[arm] += (low <= truth[arm]) & (truth[arm] <= high)
        d = truth[1] - truth[0]
        low = diff["conf_low"].to_numpy().reshape(3, -1)
        high = diff["conf_high"].to_numpy().reshape(3, -1)
        hits[2] += (low <= d) & (d <= high)
    lo, hi = binomial_band(0.95, reps, 0.01 / hits.size)
    coverage = hits / reps
    assert np.all(coverage >= lo), (coverage, lo)
    assert np.all(coverage <= hi), (coverage, hi)
    return coverage


def test_cif_intervals_cover_the_truth_small():
    _coverage(30, 500)


@pytest.mark.slow
def test_cif_intervals_cover_the_truth():
    coverage = _coverage(200, 2000)
    print("coverage (arm 0, arm 1, difference) x exit x weeks 4/10/16:", coverage.round(3))
