"""The shared-design FWL engine against statsmodels, linearmodels and pyfixest."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyfixest as pf
import pytest
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st

from dreamkit.errors import EstimationError, InputError
from dreamkit.estimate.linear.fwl import fit_fwl

RTOL = 1e-8


def _data(seed: int, n: int, n_clusters: int, n_strata: int, k: int, w: int, m: int = 1):
    rng = np.random.default_rng(seed)
    cl = np.sort(rng.integers(0, n_clusters, n))
    cl = np.unique(cl, return_inverse=True)[1]
    st_ = cl % n_strata  # clusters nested in strata; a stratum may hold one cluster
    d = rng.integers(0, 2, (n, m)).astype(float)
    x = rng.normal(size=(n, k)) * rng.uniform(0.1, 10, k)
    y = rng.normal(size=(n, w)) + d.sum(axis=1, keepdims=True) * 0.3
    y += rng.normal(size=(cl.max() + 1, w))[cl]
    return y, d, x, st_, cl


def _sm_design(d, x, st_):
    dummies = pd.get_dummies(st_, drop_first=True).to_numpy(float)
    return sm.add_constant(np.column_stack([d, dummies, x]), has_constant="add")


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(60, 200),
    n_clusters=st.integers(6, 15),
    n_strata=st.integers(1, 5),
    k=st.integers(0, 3),
    m=st.integers(1, 2),
    vcov=st.sampled_from(["CRV1", "HC1"]),
)
def test_matches_statsmodels(seed, n, n_clusters, n_strata, k, m, vcov):
    y, d, x, st_, cl = _data(seed, n, n_clusters, n_strata, k, 3, m)
    fit = fit_fwl(y, d, absorb=st_, controls=x if k else None, clusters=cl, vcov=vcov)
    z = _sm_design(d, x, st_)
    for w in range(y.shape[1]):
        if vcov == "CRV1":
            ref = sm.OLS(y[:, w], z).fit(cov_type="cluster", cov_kwds={"groups": cl})
        else:
            ref = sm.OLS(y[:, w], z).fit(cov_type="HC1")
        np.testing.assert_allclose(fit.coef[:, w], ref.params[1 : m + 1], rtol=RTOL, atol=1e-12)
        np.testing.assert_allclose(fit.std_error[:, w], ref.bse[1 : m + 1], rtol=RTOL)
        np.testing.assert_allclose(
            fit.vcov_at(w), ref.cov_params()[1 : m + 1, 1 : m + 1], rtol=RTOL, atol=1e-14
        )
        assert fit.n_params == z.shape[1]


@pytest.mark.filterwarnings("ignore:The design matrix is rank-deficient")
@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n_strata=st.integers(1, 6),
    k=st.integers(0, 2),
    m=st.integers(1, 2),
)
def test_crv3_is_leave_one_cluster_out_jackknife(seed, n_strata, k, m):
    y, d, x, st_, cl = _data(seed, 120, 8, n_strata, k, 2, m)
    fit = fit_fwl(y, d, absorb=st_, controls=x if k else None, clusters=cl, vcov="CRV3")
    z = _sm_design(d, x, st_)
    n_cl = cl.max() + 1
    for w in range(2):
        full = sm.OLS(y[:, w], z).fit().params[1 : m + 1]
        devs = []
        for g in range(n_cl):
            keep = cl != g
            # dropping a cluster may empty a stratum: its dummy is then all zero, and pinv
            # (statsmodels' default) gives the regression without it
            devs.append(sm.OLS(y[keep, w], z[keep]).fit().params[1 : m + 1] - full)
        dev = np.array(devs)
        ref = (n_cl - 1) / n_cl * dev.T @ dev
        np.testing.assert_allclose(fit.vcov_at(w), ref, rtol=RTOL, atol=1e-14)


def test_crv3_matches_pyfixest():
    y, d, x, st_, cl = _data(3, 150, 10, 3, 2, 1)
    frame = pd.DataFrame(
        {"y": y[:, 0], "d": d[:, 0], "x0": x[:, 0], "x1": x[:, 1], "s": st_, "g": cl}
    )
    ref = pf.feols(
        "y ~ d + x0 + x1 | s", data=frame, vcov={"CRV3": "g"}, ssc=pf.ssc(k_adj=False, G_adj=False)
    )
    fit = fit_fwl(y, d, absorb=st_, controls=x, clusters=cl, vcov="CRV3")
    g = cl.max() + 1
    # pyfixest's CRV3 is sum_g (b_g - b)^2 times its ssc; ours carries (G-1)/G
    np.testing.assert_allclose(
        fit.std_error[0, 0] ** 2, (g - 1) / g * ref.se()["d"] ** 2, rtol=RTOL
    )


def test_cross_outcome_covariance_matches_stacked_regression():
    y, d, x, st_, cl = _data(5, 150, 12, 3, 2, 2)
    fit = fit_fwl(y, d, absorb=st_, controls=x, clusters=cl, vcov="CRV1")
    z = _sm_design(d, x, st_)
    n, p = z.shape
    stacked = np.block([[z, np.zeros_like(z)], [np.zeros_like(z), z]])
    ref = sm.OLS(np.concatenate([y[:, 0], y[:, 1]]), stacked).fit(
        cov_type="cluster", cov_kwds={"groups": np.concatenate([cl, cl])}
    )
    # the stacked fit's (2n-1)/(2n-2p) replaces the per-equation (n-1)/(n-p)
    rescale = ((n - 1) / (n - p)) / ((2 * n - 1) / (2 * n - 2 * p))
    cov = ref.cov_params()[np.ix_([1, p + 1], [1, p + 1])] * rescale
    np.testing.assert_allclose(fit.vcov_of(0), cov, rtol=RTOL)


def test_collinear_covariate_is_named():
    y, d, x, st_, cl = _data(1, 100, 8, 2, 2, 1)
    x = np.column_stack([x, x[:, 0] * 2 - x[:, 1]])
    with pytest.raises(EstimationError, match="x2"):
        fit_fwl(y, d, absorb=st_, controls=x, clusters=cl, control_names=("x0", "x1", "x2"))


def test_covariate_constant_within_strata_is_named():
    y, d, x, st_, cl = _data(1, 100, 8, 2, 1, 1)
    x = np.column_stack([x, st_ * 3.0])
    with pytest.raises(EstimationError, match="stratum_level"):
        fit_fwl(y, d, absorb=st_, controls=x, clusters=cl, control_names=("a", "stratum_level"))


def test_treatment_without_variation_within_strata():
    y, _, _, st_, cl = _data(2, 100, 8, 2, 0, 1)
    d = (st_ == 0).astype(float)
    with pytest.raises(EstimationError, match="no variation"):
        fit_fwl(y, d, absorb=st_, controls=None, clusters=cl)


def test_unknown_vcov_and_missing_clusters():
    y, d, _, st_, cl = _data(2, 50, 5, 2, 0, 1)
    with pytest.raises(InputError, match="vcov"):
        fit_fwl(y, d, absorb=st_, controls=None, clusters=cl, vcov="CRV2")
    with pytest.raises(InputError, match="cluster"):
        fit_fwl(y, d, absorb=st_, controls=None, clusters=None, vcov="CRV1")
