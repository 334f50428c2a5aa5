"""Compressed cells give the same estimates and CRV1 SEs as person-week rows (to 1e-8)."""

from __future__ import annotations

import numpy as np
import pytest

from dreamkit.estimate.duration.duration_dependence import (
    intervals,
    log_polynomial,
    piecewise,
    week_dummies,
)
from dreamkit.estimate.duration.hazard import DiscreteTimeHazard
from dreamkit.estimate.duration.person_period import expand_person_periods

SPECS = [intervals(4), week_dummies(), piecewise([3, 8, 20]), log_polynomial(3)]


@pytest.mark.parametrize("link", ["logit", "cloglog"])
@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.kind)
@pytest.mark.parametrize("covariates", [(), ("x",)])
def test_compressed_equals_uncompressed(simulate, link, spec, covariates):
    df = simulate(1200, link=link, seed=11)
    model = DiscreteTimeHazard(
        link=link, duration_spec=spec, covariates=covariates, interactions=(("treated", "lw"),)
    )
    pp = expand_person_periods(df)
    full = model.fit_person_periods(pp, compress=False)
    from_durations = model.fit(df)
    pooled = model.fit_person_periods(pp, compress=True)
    assert full.glm.n_rows == pp.height
    if not covariates:  # all regressors discrete: far fewer cells than person-weeks
        assert from_durations.glm.n_rows < pp.height / 3
    for res in (from_durations, pooled):
        assert res.glm.names == full.glm.names
        np.testing.assert_allclose(res.glm.params, full.glm.params, rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(res.glm.std_errors, full.glm.std_errors, rtol=1e-8)
        assert res.n_person_periods == full.n_person_periods == pp.height
        assert res.n_events == full.n_events == df["event"].sum()
        assert res.n_persons == full.n_persons == df.height


def test_cause_specific_fit_equals_expanded_exit_column(simulate):
    df = simulate(800, seed=4)
    rng = np.random.default_rng(0)
    df = df.with_columns(exit_to=np.where(rng.random(df.height) < 0.5, "job", "other"))
    model = DiscreteTimeHazard()
    res = model.fit(df, exit_type="exit_to", exit_of_interest="job")
    pp = expand_person_periods(df, exit_type="exit_to")
    ref = model.fit_person_periods(pp.drop("event").rename({"event_job": "event"}))
    np.testing.assert_allclose(res.glm.params, ref.glm.params, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(res.glm.std_errors, ref.glm.std_errors, rtol=1e-8)
    assert res.n_events == int(((df["exit_to"] == "job") & (df["event"] == 1)).sum())
