"""Delta-method intervals of the predicted survival curves: the analytic gradient equals a
numerical one, and the intervals cover the true standardised survival of a known DGP."""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
import polars as pl
import pytest
import scipy.stats

from dreamkit.errors import InferenceWarning, InputError
from dreamkit.estimate.duration.duration_dependence import intervals, log_polynomial
from dreamkit.estimate.duration.hazard import DiscreteTimeHazard, HazardResult
from dreamkit.estimate.duration.survival_prediction import arm_survival
from dreamkit.validate import binomial_band

from .conftest import simulate_durations, true_alpha


def _numerical_gradient(res: HazardResult, arm: int, weeks: np.ndarray) -> np.ndarray:
    """Central differences of the standardised survival in every coefficient."""
    beta = res.glm.params
    step = 1e-6
    cols = []
    for j in range(beta.size):
        shifted = []
        for sign in (1, -1):
            b = beta.copy()
            b[j] += sign * step
            moved = replace(res, glm=replace(res.glm, params=b))
            shifted.append(arm_survival(moved, arm, weeks)[1])
        cols.append((shifted[0] - shifted[1]) / (2 * step))
    return np.column_stack(cols)


@pytest.mark.parametrize("link", ["logit", "cloglog"])
@pytest.mark.parametrize("spec", [intervals(4), log_polynomial(2)], ids=["steps", "logpoly"])
def test_gradient_equals_central_differences(link, spec) -> None:
    df = simulate_durations(1200, link=link, seed=5, n_teams=20, weeks=16, teams_per_stratum=10)
    model = DiscreteTimeHazard(
        link=link, duration_spec=spec, covariates=("x",), interactions=(("treated", "lw"),)
    )
    res = model.fit(df)
    weeks = np.arange(1, 17)
    for arm in (0, 1):
        grad = arm_survival(res, arm, weeks)[2]
        np.testing.assert_allclose(grad, _numerical_gradient(res, arm, weeks), atol=1e-8)
        # blocks of persons give the same sums
        for part, whole in zip(
            arm_survival(res, arm, weeks, block=7), arm_survival(res, arm, weeks), strict=True
        ):
            np.testing.assert_allclose(part, whole, rtol=1e-12, atol=1e-15)
    # the SE is the delta method with the fit's covariance
    pred = res.predict_survival(periods=16).filter(pl.col("arm") == 1)
    grad = arm_survival(res, 1, weeks)[2]
    se = np.sqrt(np.diag(grad @ res.glm.cov @ grad.T))
    np.testing.assert_allclose(pred["survival_se"].to_numpy(), se, rtol=1e-10)


def test_intervals_and_difference_are_consistent() -> None:
    df = simulate_durations(1500, seed=8, n_teams=30, weeks=20, teams_per_stratum=10)
    res = DiscreteTimeHazard(covariates=("x", "lw")).fit(df)
    pred = res.predict_survival(level=0.9)
    s = pred["survival"].to_numpy()
    low, high = pred["survival_low"].to_numpy(), pred["survival_high"].to_numpy()
    assert np.all((0 < low) & (low < s) & (s < high) & (high < 1))
    diff = res.survival_difference(level=0.9)
    s0 = pred.filter(pl.col("arm") == 0)["survival"].to_numpy()
    s1 = pred.filter(pl.col("arm") == 1)["survival"].to_numpy()
    np.testing.assert_allclose(diff["difference"].to_numpy(), s1 - s0, rtol=1e-12)
    z = scipy.stats.norm.ppf(0.95)
    width = (diff["conf_high"] - diff["conf_low"]).to_numpy()
    np.testing.assert_allclose(width, 2 * z * diff["std_error"].to_numpy(), rtol=1e-12)
    with pytest.raises(InputError, match="level"):
        res.predict_survival(level=1.5)


def _true_survival(df: pl.DataFrame, link: str, tau: float, arm: int, weeks: int) -> np.ndarray:
    eta = true_alpha(weeks)[None, :] + df["true_index"].to_numpy()[:, None] + tau * arm
    hazard = 1 / (1 + np.exp(-eta)) if link == "logit" else -np.expm1(-np.exp(eta))
    return np.cumprod(1 - hazard, axis=1).mean(axis=0)


R_COVERAGE = 120
CHECK_WEEKS = (4, 12, 24)


@pytest.mark.parametrize(
    ("link", "cov_type", "teams_per_stratum"),
    [("logit", "CRV1", 10), ("cloglog", "CRV1", 10), ("logit", "iid", 2)],
)
def test_intervals_cover_the_true_standardised_survival(link, cov_type, teams_per_stratum) -> None:
    """R trials from the known DGP, fitted with the correct model (one dummy per week,
    stratum effects, x and lw). Each 95% interval of S_0(t), S_1(t) and S_1(t) - S_0(t) at
    three weeks must cover the truth (the same persons' standardised survival under the true
    coefficients) in at least the binomial lower bound of R trials (level 1% / 9 checks);
    intervals with half the SE would cover about 68%. CRV1 is checked with 10 teams per
    stratum, the model-based covariance with 2 (where CRV1 under-covers and warns)."""
    tau, weeks = -0.3, 24
    hits = np.zeros((3, len(CHECK_WEEKS)), dtype=np.int64)
    idx = np.array(CHECK_WEEKS) - 1
    model = DiscreteTimeHazard(
        link=link, duration_spec=intervals(1), covariates=("x", "lw"), cov_type=cov_type
    )
    for r in range(R_COVERAGE):
        df = simulate_durations(
            800,
            link=link,
            tau=tau,
            seed=1000 + r,
            n_teams=30,
            weeks=weeks,
            teams_per_stratum=teams_per_stratum,
        )
        res = model.fit(df)
        pred = res.predict_survival(periods=weeks)
        diff = res.survival_difference(periods=weeks)
        truth = [_true_survival(df, link, tau, arm, weeks) for arm in (0, 1)]
        for arm in (0, 1):
            p = pred.filter(pl.col("arm") == arm)
            low, high = p["survival_low"].to_numpy()[idx], p["survival_high"].to_numpy()[idx]
            hits[arm] += (low <= truth[arm][idx]) & (truth[arm][idx] <= high)
        d = truth[1][idx] - truth[0][idx]
        hits[2] += (diff["conf_low"].to_numpy()[idx] <= d) & (
            d <= diff["conf_high"].to_numpy()[idx]
        )
    lo, hi = binomial_band(0.95, R_COVERAGE, 0.01 / hits.size)
    coverage = hits / R_COVERAGE
    assert np.all(coverage >= lo), (coverage, lo)
    assert np.all(coverage <= hi), (coverage, hi)


def test_crv1_with_few_teams_per_stratum_warns() -> None:
    df = simulate_durations(800, seed=3, n_teams=30, weeks=12)  # 2 teams per stratum
    crv1 = DiscreteTimeHazard(covariates=("x",)).fit(df)
    assert crv1.min_clusters_per_stratum == 2
    with pytest.warns(InferenceWarning, match="only 2 team"):
        crv1.predict_survival()
    with pytest.warns(InferenceWarning):
        crv1.survival_difference()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        DiscreteTimeHazard(covariates=("x",), cov_type="iid").fit(df).predict_survival()
        many = simulate_durations(800, seed=3, n_teams=30, weeks=12, teams_per_stratum=10)
        DiscreteTimeHazard(covariates=("x",)).fit(many).survival_difference()
