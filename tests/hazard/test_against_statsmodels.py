"""Estimates and SEs equal statsmodels GLM (Binomial, logit/cloglog) on the expanded data."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import statsmodels.api as sm

from dreamkit.estimate.duration.duration_dependence import intervals, log_polynomial
from dreamkit.estimate.duration.hazard import DiscreteTimeHazard
from dreamkit.estimate.duration.person_period import expand_person_periods

LINKS = {"logit": sm.families.links.Logit, "cloglog": sm.families.links.CLogLog}


def _dense_design(pp: pl.DataFrame, width: int) -> np.ndarray:
    """Independent design: 4-week interval dummies, stratum dummies (first dropped), T, x, T*lw."""
    per = pp["period"].to_numpy()
    interval = (per - 1) // width
    d_int = (interval[:, None] == np.unique(interval)[None, :]).astype(float)
    strata = pp["municipality"].to_numpy()
    levels = np.unique(strata)[1:]
    d_str = (strata[:, None] == levels[None, :]).astype(float)
    t = pp["treated"].to_numpy().astype(float)
    return np.column_stack(
        [d_int, d_str, t, pp["x"].to_numpy(), t * pp["lw"].to_numpy().astype(float)]
    )


@pytest.mark.parametrize("link", ["logit", "cloglog"])
@pytest.mark.parametrize("compressed_input", [False, True])
def test_equals_statsmodels_glm(simulate, link, compressed_input):
    df = simulate(1000, link=link, seed=3)
    pp = expand_person_periods(df, keep=["team", "municipality", "treated", "x", "lw"])
    model = DiscreteTimeHazard(
        link=link,
        duration_spec=intervals(4),
        covariates=("x",),
        interactions=(("treated", "lw"),),
    )
    res = model.fit(df) if compressed_input else model.fit_person_periods(pp, compress=False)
    assert res.duration_merges == ()
    x = _dense_design(pp, 4)
    y = pp["event"].to_numpy().astype(float)
    fam = sm.families.Binomial(LINKS[link]())
    groups = pp["team"].to_numpy()
    sm_cl = sm.GLM(y, x, family=fam).fit(
        cov_type="cluster", cov_kwds={"groups": groups}, tol=1e-13, maxiter=200
    )
    np.testing.assert_allclose(res.glm.params, sm_cl.params, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(res.glm.std_errors, sm_cl.bse, rtol=1e-6)
    assert res.glm.log_likelihood == pytest.approx(sm_cl.llf, rel=1e-10)
    assert res.n_person_periods == pp.height == sm_cl.nobs

    iid = DiscreteTimeHazard(
        link=link,
        duration_spec=intervals(4),
        covariates=("x",),
        interactions=(("treated", "lw"),),
        cluster=None,
    )
    res_iid = iid.fit(df) if compressed_input else iid.fit_person_periods(pp, compress=False)
    sm_iid = sm.GLM(y, x, family=fam).fit(tol=1e-13, maxiter=200)
    np.testing.assert_allclose(res_iid.glm.std_errors, sm_iid.bse, rtol=1e-6)


def test_log_polynomial_equals_statsmodels(simulate):
    df = simulate(800, link="cloglog", seed=5)
    pp = expand_person_periods(df, keep=["team", "municipality", "treated"])
    res = DiscreteTimeHazard(link="cloglog", duration_spec=log_polynomial(2)).fit(df)
    lt = np.log(pp["period"].to_numpy().astype(float))
    strata = pp["municipality"].to_numpy()
    d_str = (strata[:, None] == np.unique(strata)[None, 1:]).astype(float)
    x = np.column_stack([d_str, np.ones_like(lt), lt, lt**2, pp["treated"].to_numpy()])
    sm_fit = sm.GLM(
        pp["event"].to_numpy().astype(float), x, family=sm.families.Binomial(LINKS["cloglog"]())
    ).fit(cov_type="cluster", cov_kwds={"groups": pp["team"].to_numpy()}, tol=1e-13)
    np.testing.assert_allclose(res.glm.params, sm_fit.params, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(res.glm.std_errors, sm_fit.bse, rtol=1e-6)


def test_logit_equals_pyfixest_feglm(simulate):
    pf = pytest.importorskip("pyfixest")
    df = simulate(1500, link="logit", seed=7)
    pp = expand_person_periods(df, keep=["team", "municipality", "treated", "x"])
    pp = pp.with_columns(((pl.col("period") - 1) // 4).alias("interval"))
    res = DiscreteTimeHazard(covariates=("x",)).fit(df)
    fit = pf.feglm(
        "event ~ treated + x | interval + municipality",
        data=pp.to_pandas(),
        family="logit",
        vcov={"CRV1": "team"},
    )
    for term in ("treated", "x"):
        assert fit.coef()[term] == pytest.approx(res.coef(term), rel=1e-6, abs=1e-8)
