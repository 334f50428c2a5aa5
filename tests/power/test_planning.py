"""Planning inputs: the ANOVA ICC against statsmodels' ANOVA table and MixedLM, R^2 against
statsmodels OLS, and the inputs read from a simulated trial's pre-allocation windows."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import polars as pl
import pytest
import statsmodels.formula.api as smf
from statsmodels.stats.anova import anova_lm

from dreamkit.errors import ColumnNotFoundError, DreamkitWarning, InputError
from dreamkit.outcomes import build_outcomes
from dreamkit.power import icc_anova, planning_inputs, power_mean
from dreamkit.simulate import simulate_trial


def _clustered(g: int, sizes: np.ndarray, icc: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    cl = np.repeat(np.arange(g), sizes)
    y = rng.normal(0, np.sqrt(icc), g)[cl] + rng.normal(0, np.sqrt(1 - icc), cl.size)
    return y, cl


def test_icc_equals_the_anova_table_of_statsmodels() -> None:
    rng = np.random.default_rng(1)
    sizes = rng.integers(3, 25, 30)
    y, cl = _clustered(30, sizes, 0.1, 2)
    est = icc_anova(y, cl)
    table = anova_lm(smf.ols("y ~ C(cl)", pd.DataFrame({"y": y, "cl": cl})).fit())
    msb, msw = table["mean_sq"].iloc[0], table["mean_sq"].iloc[1]
    n = y.size
    n0 = (n - (sizes**2).sum() / n) / 29
    assert est.msb == pytest.approx(msb, rel=1e-10)
    assert est.msw == pytest.approx(msw, rel=1e-10)
    assert est.icc == pytest.approx((msb - msw) / (msb + (n0 - 1) * msw), rel=1e-10)


def test_icc_agrees_with_mixedlm_on_balanced_data() -> None:
    # balanced groups: the ANOVA estimator is the REML estimate when it is positive
    y, cl = _clustered(40, np.full(40, 12), 0.15, 3)
    est = icc_anova(y, cl)
    fit = smf.mixedlm("y ~ 1", pd.DataFrame({"y": y, "cl": cl}), groups="cl").fit(reml=True)
    tau2, sigma2 = float(fit.cov_re.iloc[0, 0]), float(fit.scale)
    assert est.icc == pytest.approx(tau2 / (tau2 + sigma2), abs=1e-4)  # MixedLM optimiser


def test_icc_is_unbiased_enough_by_monte_carlo() -> None:
    values = [
        icc_anova(*_clustered(50, np.full(50, 10), 0.1, s), warn=False).icc_raw for s in range(200)
    ]
    assert np.mean(values) == pytest.approx(0.1, abs=4 * np.std(values) / np.sqrt(200) + 0.005)


def test_negative_icc_is_clipped_with_a_warning_and_a_note() -> None:
    # every cluster has exactly the same mean: MSB = 0 < MSW
    y = np.tile([0.0, 1.0, 2.0, 3.0], 10)
    cl = np.repeat(np.arange(10), 4)
    with pytest.warns(DreamkitWarning, match="clipped at 0"):
        est = icc_anova(y, cl)
    assert est.icc == 0.0 and est.icc_raw < 0
    frame = pl.DataFrame({"y": y, "team": cl})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DreamkitWarning)
        inputs = planning_inputs(frame, "y")
    assert inputs.icc == 0.0 and "clipped" in inputs.notes[0] and "clipped" in inputs.summary()


def test_r2_equals_statsmodels_ols() -> None:
    rng = np.random.default_rng(4)
    n = 400
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    team = rng.integers(0, 20, n)
    muni = team // 2
    y = 0.5 * x1 - 0.3 * x2 + rng.normal(0, 0.3, 20)[team] + rng.normal(size=n)
    df = pd.DataFrame({"y": y, "x1": x1, "x2": x2, "team": team, "muni": muni})
    inputs = planning_inputs(df, "y", covariates=["x1", "x2"], stratum="muni")
    full = smf.ols("y ~ x1 + x2 + C(muni)", df).fit()
    base = smf.ols("y ~ C(muni)", df).fit()
    assert inputs.r2 == pytest.approx(1 - full.ssr / base.ssr, rel=1e-10)
    within = smf.ols("y ~ x1 + x2 + C(team)", df).fit()
    base_w = smf.ols("y ~ C(team)", df).fit()
    assert inputs.r2_within == pytest.approx(1 - within.ssr / base_w.ssr, rel=1e-10)
    sizes = np.bincount(team)
    assert inputs.cv == pytest.approx(sizes.std() / sizes.mean())
    assert inputs.sd == pytest.approx(np.std(y, ddof=1))


def test_planning_from_a_register_pre_period() -> None:
    sim = simulate_trial(seed=5)
    persons = build_outcomes(sim.register, sim.trial).persons
    with warnings.catch_warnings():  # the simulator's pre-period has no team effects
        warnings.simplefilter("ignore", DreamkitWarning)
        inputs = planning_inputs(
            persons,
            "pre_emp_26_14",
            covariates=["pre_emp_104_92", "pre_emp_52_40"],
            stratum="municipality",
        )
    assert inputs.n_obs == 568 and inputs.n_clusters == 43
    assert inputs.cluster_size == pytest.approx(568 / 43)
    assert 0.3 < inputs.mean < 0.6  # the study's 43-45% in weeks 26-14 before allocation
    assert 0 <= inputs.icc < 1 and 0 < inputs.r2 < 1
    kw = inputs.power_kwargs("within_cluster")
    assert kw["r2"] == pytest.approx(inputs.r2_within)
    p = power_mean(0.05, n=568, share_treated=371 / 568, **kw)  # type: ignore[arg-type]
    assert 0.05 < p < 1
    assert "ICC" in inputs.summary() and "PlanningInputs" in repr(inputs)
    assert inputs.to_frame().height == 1


def test_bad_planning_input() -> None:
    frame = pl.DataFrame({"y": [1.0, None, 0.0, 1.0], "team": [1, 1, 2, 2]})
    with pytest.raises(InputError, match="missing values"):
        planning_inputs(frame, "y")
    with pytest.raises(ColumnNotFoundError, match="clinic"):
        planning_inputs(frame, "y", cluster="clinic")
    with pytest.raises(InputError, match="at least 2 clusters"):
        icc_anova([1.0, 2.0, 3.0], [1, 1, 1])
