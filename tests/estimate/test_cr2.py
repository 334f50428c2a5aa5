"""CR2 (Bell-McCaffrey) covariance with Bell-McCaffrey/Satterthwaite degrees of freedom on the
shared-design FWL path, checked against a dense implementation straight from the formula
(full design with stratum dummies, full hat matrix, A_g by eigen-decomposition), a closed form
(HC2 with one binary regressor = the Welch/Neyman variance, Imbens & Kolesar's df), and
statsmodels OLS (estimates, residuals, design) on the ITT path with stratum fixed effects.

Tolerance 1e-10 (relative): both sides are direct linear algebra on the same numbers; only
rounding differs.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
import statsmodels.formula.api as smf

from dreamkit.errors import InputError
from dreamkit.estimate.linear.fwl import fit_fwl
from dreamkit.estimate.linear.itt import effect_path
from dreamkit.estimate.models import effect_path as formula_path
from dreamkit.estimate.models import feols
from dreamkit.estimate.vcov import parse_vcov
from dreamkit.inference.linalg import apply_adjustment, cr2_adjustment

COVS = ["belief", "expected_return", "ordinary_job", "prior_sick"]
RTOL = 1e-10


def _pinv_sqrt(b: np.ndarray, tol: float = 1e-10) -> np.ndarray:
    vals, vecs = np.linalg.eigh((b + b.T) / 2)
    inv = np.where(vals > tol, 1.0 / np.sqrt(np.clip(vals, tol, None)), 0.0)
    return (vecs * inv) @ vecs.T


def dense_cr2(
    x: np.ndarray, y: np.ndarray, cl: np.ndarray, contrast: np.ndarray
) -> tuple[np.ndarray, np.ndarray, float]:
    """(beta, V, df of contrast'beta) from the definitions on the full n x n hat matrix.

    V = (X'X)^-1 sum_g X_g' A_g e_g e_g' A_g X_g (X'X)^-1, A_g = (I - H_gg)^{+1/2};
    df = (sum lambda)^2 / sum lambda^2 of P'P, P[:, g] = (I - H)[:, g] A_g X_g (X'X)^-1 c.
    """
    n, p = x.shape
    bread = np.linalg.inv(x.T @ x)
    beta = bread @ x.T @ y
    e = y - x @ beta
    m = np.eye(n) - x @ bread @ x.T
    groups = np.unique(cl)
    meat = np.zeros((p, p))
    pmat = np.zeros((n, groups.size))
    for k, g in enumerate(groups):
        r = np.flatnonzero(cl == g)
        a = _pinv_sqrt(m[np.ix_(r, r)])
        u = x[r].T @ a @ e[r]
        meat += np.outer(u, u)
        pmat[:, k] = m[:, r] @ (a @ x[r] @ bread @ contrast)
    gram = pmat.T @ pmat
    return beta, bread @ meat @ bread, float(np.trace(gram) ** 2 / np.sum(gram * gram))


def _design(rng: np.random.Generator, layout: str, n_cl: int = 9):
    """Clusters of unequal size; strata nested (some strata hold one cluster: singular
    I - H_gg), crossing clusters, or absent (intercept)."""
    sizes = rng.integers(4, 16, n_cl)
    cl = np.repeat(np.arange(n_cl), sizes)
    n = cl.size
    if layout == "nested":
        st = np.array([0, 0, 1, 1, 1, 2, 3, 4, 4, 5, 5, 6][:n_cl])[cl]
    elif layout == "crossed":
        st = rng.integers(0, 4, n)
    else:
        st = np.zeros(n, dtype=np.intp)
    st = np.unique(st, return_inverse=True)[1]
    d = (rng.random(n) < 0.6).astype(float)
    return cl, st, d, n


@pytest.mark.parametrize("layout", ["nested", "crossed", "none"])
@pytest.mark.parametrize("with_controls", [False, True])
def test_equals_dense_formula(layout, with_controls):
    rng = np.random.default_rng(hash((layout, with_controls)) % 2**32)
    cl, st, d, n = _design(rng, layout)
    x = rng.normal(size=(n, 2)) if with_controls else None
    y = rng.normal(size=(n, 3)) + 0.5 * rng.normal(size=cl.max() + 1)[cl][:, None]
    fit = fit_fwl(
        y, d, absorb=None if layout == "none" else st, controls=x, clusters=cl, vcov="CR2"
    )
    f = (st[:, None] == np.arange(st.max() + 1)).astype(float)
    full = np.column_stack([d, f] + ([x] if x is not None else []))
    c = np.zeros(full.shape[1])
    c[0] = 1.0
    for w in range(3):
        beta, v, df = dense_cr2(full, y[:, w], cl, c)
        np.testing.assert_allclose(fit.coef[0, w], beta[0], rtol=RTOL)
        np.testing.assert_allclose(fit.vcov[w, w], v[0, 0], rtol=RTOL)
        np.testing.assert_allclose(fit.df_by_term[0], df, rtol=RTOL)
    # the W x W covariance: Var(tau_1 - 2 tau_3) from the dense fit of y_1 - 2 y_3
    _, v13, _ = dense_cr2(full, y[:, 0] - 2 * y[:, 2], cl, c)
    w13 = np.array([1.0, 0.0, -2.0])
    np.testing.assert_allclose(w13 @ fit.vcov @ w13, v13[0, 0], rtol=RTOL)
    assert fit.vcov_type == "CR2" and fit.small_sample_factor == 1.0
    if layout == "nested":  # single-cluster strata: I - H_gg is singular for those clusters
        h = full @ np.linalg.inv(full.T @ full) @ full.T
        r = np.flatnonzero(cl == 5)  # alone in its stratum
        assert np.linalg.eigvalsh(np.eye(r.size) - h[np.ix_(r, r)])[0] < 1e-12


def test_several_regressors_and_contrast_df():
    """m = 2 regressors: each coefficient's df, and df_for of a contrast, against dense."""
    rng = np.random.default_rng(7)
    cl, st, d, n = _design(rng, "crossed", n_cl=11)
    d2 = np.column_stack([d, rng.normal(size=n)])
    y = rng.normal(size=(n, 2))
    fit = fit_fwl(y, d2, absorb=st, controls=None, clusters=cl, vcov="CR2")
    f = (st[:, None] == np.arange(st.max() + 1)).astype(float)
    full = np.column_stack([d2, f])
    for c_small in ([1.0, 0.0], [0.0, 1.0], [1.0, -2.0]):
        c = np.zeros(full.shape[1])
        c[:2] = c_small
        _, v, df = dense_cr2(full, y[:, 1], cl, c)
        np.testing.assert_allclose(c @ v @ c, np.asarray(c_small) @ fit.vcov_at(1) @ c_small, RTOL)
        np.testing.assert_allclose(fit.df_for(np.asarray(c_small)), df, rtol=RTOL)
    np.testing.assert_allclose(fit.df_by_term, [fit.df_for((1, 0)), fit.df_for((0, 1))])
    assert fit.df == pytest.approx(fit.df_by_term.min())


def test_hc2_closed_form_welch_and_imbens_kolesar_df():
    """Every row its own cluster, intercept and one binary regressor: CR2 = HC2 = the Welch /
    Neyman variance s1^2/n1 + s0^2/n0, and the Bell-McCaffrey df is Imbens & Kolesar's (2016)
    (n0 + n1)^2 (n0 - 1)(n1 - 1) / (n1^2 (n1 - 1) + n0^2 (n0 - 1))."""
    rng = np.random.default_rng(3)
    n1, n0 = 7, 23
    d = np.r_[np.ones(n1), np.zeros(n0)]
    y = rng.normal(size=n1 + n0) * np.where(d == 1, 3.0, 1.0)
    fit = fit_fwl(y, d, absorb=None, controls=None, clusters=np.arange(n1 + n0), vcov="CR2")
    welch = y[d == 1].var(ddof=1) / n1 + y[d == 0].var(ddof=1) / n0
    ik = (n0 + n1) ** 2 * (n0 - 1) * (n1 - 1) / (n1**2 * (n1 - 1) + n0**2 * (n0 - 1))
    np.testing.assert_allclose(fit.vcov[0, 0], welch, rtol=RTOL)
    np.testing.assert_allclose(fit.df, ik, rtol=RTOL)


def test_pseudo_inverse_rule_is_the_only_choice_that_matters():
    """On the null space of I - H_gg (a cluster alone in its stratum) the residuals vanish, so
    any eigenvalue put there gives the same covariance: the Moore-Penrose rule loses nothing."""
    rng = np.random.default_rng(11)
    cl, st, d, n = _design(rng, "nested")
    y = rng.normal(size=n)
    f = (st[:, None] == np.arange(st.max() + 1)).astype(float)
    full = np.column_stack([d, f])
    bread = np.linalg.inv(full.T @ full)
    e = y - full @ (bread @ full.T @ y)
    m = np.eye(n) - full @ bread @ full.T
    r = np.flatnonzero(cl == 5)
    vals, vecs = np.linalg.eigh(m[np.ix_(r, r)])
    null = vecs[:, vals < 1e-10]
    assert null.shape[1] == 1 and abs(float(null[:, 0] @ e[r])) < 1e-12
    fit = fit_fwl(y, d, absorb=st, controls=None, clusters=cl, vcov="CR2")
    assert np.isfinite(fit.vcov).all() and np.isfinite(fit.df)


def test_itt_path_equals_statsmodels_ols_plus_dense_cr2(study):
    """The ITT path (stratum FE, four covariates, 43 teams, single- and two-team
    municipalities): statsmodels OLS on dummies gives the design and estimates; the dense CR2
    from them equals the path's SE and df."""
    path = effect_path(study, [f"y_{w}" for w in (1, 4)], COVS, vcov="CR2")
    pdf = study.to_pandas()
    teams = pdf["team"].to_numpy()
    for k, w in enumerate((1, 4)):
        ols = smf.ols(f"y_{w} ~ treated + {' + '.join(COVS)} + C(municipality)", data=pdf).fit()
        x = ols.model.exog
        c = (np.array(ols.model.exog_names) == "treated").astype(float)
        beta, v, df = dense_cr2(x, ols.model.endog, teams, c)
        np.testing.assert_allclose(beta, ols.params.to_numpy(), rtol=1e-9)
        row = path.table.row(k, named=True)
        np.testing.assert_allclose(row["estimate"], ols.params["treated"], rtol=1e-10)
        np.testing.assert_allclose(row["std_error"], np.sqrt(v @ c @ c), rtol=RTOL)
        np.testing.assert_allclose(row["df"], df, rtol=RTOL)
        t = row["estimate"] / row["std_error"]
        np.testing.assert_allclose(row["p_value"], 2 * scipy.stats.t.sf(abs(t), df), rtol=1e-10)
    g = path.glance()
    assert g["vcov_type"][0] == "CR2"
    # CR2 df are far below G - 1 = 42 here (unequal teams, single-team municipalities)
    assert 5 < path.table["df"][0] < 42


def test_formula_front_ends_accept_cr2(study):
    ref = effect_path(study, "y_", COVS, vcov="CR2")
    via_formula = formula_path(
        "y_* ~ treated + " + " + ".join(COVS) + " | municipality",
        study,
        vcov={"CR2": "team"},
    )
    np.testing.assert_allclose(
        via_formula.table["std_error"].to_numpy(), ref.table["std_error"].to_numpy(), rtol=1e-12
    )
    np.testing.assert_allclose(via_formula.table["df"].to_numpy(), ref.table["df"].to_numpy())
    ols = feols("y_1 ~ treated + belief | municipality", study, vcov={"CR2": "team"})
    assert ols.table["df"].n_unique() == 2  # one df per coefficient
    # p-values from t(df) of each row (the protocol recomputes them at another level too)
    np.testing.assert_allclose(ols.tidy(level=0.9)["p_value"], ols.tidy()["p_value"], rtol=1e-12)
    assert ols.glance()["vcov_type"][0] == "CR2 (team)"


def test_vcov_parsing():
    assert parse_vcov({"CR2": "team"}).kind == "CR2"
    assert parse_vcov("crv2", default_cluster="team").cluster == "team"
    with pytest.raises(InputError, match="available"):
        parse_vcov("CR2", allowed=("iid", "CRV1"), default_cluster="team")


def test_low_rank_adjustment_equals_dense_inverse_square_root():
    """(I - Z B Z')^{+1/2} = I + U K U' (cr2_adjustment) against the eigen-decomposition of
    the n x n matrix, for a block with a null direction (a stratum column lying inside)."""
    rng = np.random.default_rng(5)
    x = np.column_stack([np.ones(30), rng.normal(size=(30, 3))])
    x[:, 1] = (np.arange(30) < 8).astype(float)  # a 'stratum' held by the first rows only
    bread = np.linalg.inv(x.T @ x)
    r = np.arange(12)
    u, k = cr2_adjustment(x[r], bread)
    dense = _pinv_sqrt(np.eye(12) - x[r] @ bread @ x[r].T)
    np.testing.assert_allclose(np.eye(12) + u @ k @ u.T, dense, atol=1e-10)
    v = rng.normal(size=(12, 2))
    np.testing.assert_allclose(apply_adjustment(u, k, v), dense @ v, atol=1e-10)
    assert np.linalg.eigvalsh(np.eye(12) - x[r] @ bread @ x[r].T)[0] < 1e-12


def test_sup_t_band_uses_the_bm_df(study):
    from dreamkit.inference import sup_t_band

    path = effect_path(study, "y_", COVS, vcov="CR2")
    df = path.table["df"][0]
    ours = path.sup_t_band(n_draws=4000, seed=1)
    ref = sup_t_band(path.estimates, path.vcov, n_draws=4000, seed=1, df=df)
    np.testing.assert_allclose(ours.upper, ref.upper, rtol=1e-12)


def test_contrast_rows_and_balance_use_cr2(study):
    """Model (3)'s low - high contrast carries its own Bell-McCaffrey df (df_for of the
    contrast); the balance joint test states its F(q, G - 1) reference under CR2."""
    from dreamkit.estimate.linear.balance import balance
    from dreamkit.estimate.linear.heterogeneity import selfefficacy_grid

    grid = selfefficacy_grid(study, ["y_1"], COVS, cutoffs=[10], vcov="CR2")
    dfs = dict(zip(grid.table["group"], grid.table["df"], strict=True))
    assert len(set(dfs.values())) == 3 and all(5 < v < 42 for v in dfs.values())
    res = balance(study, ["belief", "prior_sick"], vcov="CR2", ri_draws=0)
    assert "F(q, G - 1)" in res.joint["note"][0]
    assert res.joint["p_value"][0] == res.joint["p_value"][0]  # computed (not NaN)


def dense_gram(x: np.ndarray, cl: np.ndarray, contrast: np.ndarray, hat_x=None) -> np.ndarray:
    """P'P of the Bell-McCaffrey df from the definitions, P[:, g] = (I - H)[:, g] A_g X_g
    (X'X)^-1 c with A_g = (I - H^a_gg)^{+1/2}; H^a the hat matrix of ``hat_x`` (default x)."""
    n = x.shape[0]
    bread = np.linalg.inv(x.T @ x)
    m = np.eye(n) - x @ bread @ x.T
    hx = x if hat_x is None else hat_x
    m_adj = np.eye(n) - hx @ np.linalg.pinv(hx.T @ hx) @ hx.T
    groups = np.unique(cl)
    pmat = np.zeros((n, groups.size))
    for k, g in enumerate(groups):
        r = np.flatnonzero(cl == g)
        pmat[:, k] = m[:, r] @ (_pinv_sqrt(m_adj[np.ix_(r, r)]) @ x[r] @ bread @ contrast)
    return pmat.T @ pmat


@pytest.mark.parametrize("layout", ["nested", "crossed", "none"])
@pytest.mark.parametrize("with_controls", [False, True])
def test_gram_and_exact_reference_equal_dense(layout, with_controls):
    """Γ (whose eigenvalues give the exact working-model reference) equals the dense P'P, with
    and without stratum fixed effects; p-values and intervals of cr2_reference="exact" are
    those of that distribution, and the df column keeps the Bell-McCaffrey df."""
    from dreamkit.inference.working_t import working_t_critical_value, working_t_pvalue

    rng = np.random.default_rng(hash(("gram", layout, with_controls)) % 2**32)
    cl, st, d, n = _design(rng, layout)
    x = rng.normal(size=(n, 2)) if with_controls else None
    y = rng.normal(size=(n, 3))
    absorb = None if layout == "none" else st
    fit = fit_fwl(y, d, absorb=absorb, controls=x, clusters=cl, vcov="CR2")
    exact = fit_fwl(y, d, absorb=absorb, controls=x, clusters=cl, vcov="CR2", cr2_reference="exact")
    f = (st[:, None] == np.arange(st.max() + 1)).astype(float)
    full = np.column_stack([d, f] + ([x] if x is not None else []))
    c = np.zeros(full.shape[1])
    c[0] = 1.0
    gram = dense_gram(full, cl, c)
    np.testing.assert_allclose(
        fit.bm.gram(np.ones(1)), gram, rtol=0, atol=RTOL * np.abs(gram).max()
    )
    lam = np.linalg.eigvalsh(gram)
    np.testing.assert_allclose(fit.gram_eigenvalues((1.0,)), lam, atol=RTOL * lam.max())
    assert fit.df == pytest.approx(lam.sum() ** 2 / (lam**2).sum(), rel=RTOL)
    # CR2 is unbiased under the working model: tr Γ = Var(tau^)/sigma^2 = [(X'X)^-1]_11, so
    # normalising the eigenvalues by their sum gives the exact law of the t-statistic
    assert lam.sum() == pytest.approx(np.linalg.inv(full.T @ full)[0, 0], rel=RTOL)
    p, lo, hi = exact.inference(0.95)
    q = working_t_critical_value(0.95, lam)
    t = fit.coef[0] / fit.std_error[0]
    np.testing.assert_allclose(p[0], [working_t_pvalue(v, lam) for v in t], rtol=1e-9)
    np.testing.assert_allclose(hi[0] - fit.coef[0], q * fit.std_error[0], rtol=1e-9)
    np.testing.assert_allclose(fit.coef[0] - lo[0], q * fit.std_error[0], rtol=1e-9)
    np.testing.assert_array_equal(exact.vcov, fit.vcov)
    assert exact.df == fit.df and exact.exact_reference and not fit.exact_reference
    # the default reference is t(df) exactly as before
    p_bm, _, _ = fit.inference(0.95)
    np.testing.assert_allclose(p_bm[0], 2 * scipy.stats.t.sf(np.abs(t), fit.df), rtol=1e-12)


def test_adjustment_uses_the_full_design_not_the_within_design():
    """Pustejovsky & Tipton (2018): with absorbed fixed effects the adjustment must come from
    the hat matrix of the full design (stratum dummies included). dreamkit's CR2 and df equal
    the dense full-dummy formula (test_equals_dense_formula) and differ from the within-only
    adjustment (A_g from the hat matrix of the demeaned regressors) when strata cross teams."""
    rng = np.random.default_rng(5)
    cl, st, d, n = _design(rng, "crossed")
    y = rng.normal(size=n)
    fit = fit_fwl(y, d, absorb=st, controls=None, clusters=cl, vcov="CR2")
    f = (st[:, None] == np.arange(st.max() + 1)).astype(float)
    full = np.column_stack([d, f])
    within = full[:, :1] - f @ np.linalg.lstsq(f, full[:, :1], rcond=None)[0]
    c = np.zeros(full.shape[1])
    c[0] = 1.0
    g_full, g_within = dense_gram(full, cl, c), dense_gram(full, cl, c, hat_x=within)
    df = [np.trace(g) ** 2 / np.sum(g * g) for g in (g_full, g_within)]
    assert fit.df == pytest.approx(df[0], rel=RTOL)
    assert abs(df[1] - df[0]) > 1e-6 * df[0]


def test_effect_path_and_contrasts_with_the_exact_reference(study):
    """effect_path(cr2_reference="exact"): same estimates, SEs and df as the Satterthwaite
    default; p-values and intervals from the working-model reference (never more conservative
    here: the exact 97.5% point lies below t(df)'s); a contrast row uses it too; a bad value
    is an InputError."""
    from dreamkit.estimate.results import contrast_row

    bm = effect_path(study, "y_", COVS, vcov="CR2")
    ex = effect_path(study, "y_", COVS, vcov="CR2", cr2_reference="exact")
    for col in ("estimate", "std_error", "df"):
        np.testing.assert_array_equal(ex.table[col].to_numpy(), bm.table[col].to_numpy())
    half_bm = (bm.table["conf_high"] - bm.table["estimate"]).to_numpy()
    half_ex = (ex.table["conf_high"] - ex.table["estimate"]).to_numpy()
    q = ex.fit.critical_value(0.95, (1.0,))
    np.testing.assert_allclose(half_ex, q * ex.table["std_error"].to_numpy(), rtol=1e-9)
    assert (half_ex < half_bm).all()
    row = contrast_row(ex.fit, 0.95, [1.0], 0, "treated", "y_1")
    assert row["conf_high"][0] - row["estimate"][0] == pytest.approx(q * row["std_error"][0])
    assert row["p_value"][0] == pytest.approx(ex.table["p_value"][0], rel=1e-12)
    # another level: tidy() and confint() recompute from the exact reference too
    q90 = ex.fit.critical_value(0.90, (1.0,))
    t90 = ex.tidy(level=0.90)
    np.testing.assert_allclose(
        (t90["conf_high"] - t90["estimate"]).to_numpy(),
        q90 * t90["std_error"].to_numpy(),
        rtol=1e-9,
    )
    np.testing.assert_allclose(ex.tidy(level=0.90)["p_value"], ex.table["p_value"], rtol=1e-12)
    ci = ex.confint(0.90)
    np.testing.assert_allclose(ci["conf_low"].to_numpy(), t90["conf_low"].to_numpy())
    assert q90 < scipy.stats.t.ppf(0.95, ex.fit.df)
    # exponentiated at the fitted level: the exact interval, exponentiated
    expo = ex.tidy(exponentiate=True)
    np.testing.assert_allclose(expo["conf_low"], np.exp(ex.table["conf_low"]), rtol=1e-12)
    np.testing.assert_allclose(expo["p_value"], ex.table["p_value"], rtol=1e-12)
    with pytest.raises(InputError, match="cr2_reference"):
        effect_path(study, "y_", COVS, vcov="CR2", cr2_reference="saddle")
    via_formula = formula_path(
        "y_* ~ treated + " + " + ".join(COVS) + " | municipality",
        study,
        vcov={"CR2": "team"},
        cr2_reference="exact",
    )
    for col in ("std_error", "p_value", "conf_low", "conf_high"):
        np.testing.assert_allclose(
            via_formula.table[col].to_numpy(), ex.table[col].to_numpy(), rtol=1e-10
        )


def test_feols_with_the_exact_reference(study):
    """feols(..., cr2_reference="exact"): the treatment rows equal effect_path's (same model,
    same reference); every row's interval is the exact one (the working-model p-value of its
    end point is 1 - level) at the fitted and at another level; BM-df p-values otherwise."""
    from dreamkit.inference.working_t import working_t_pvalue

    rhs = "treated + " + " + ".join(COVS) + " | municipality"
    ex = feols("y_1 + y_2 ~ " + rhs, study, vcov={"CR2": "team"}, cr2_reference="exact")
    bm = feols("y_1 + y_2 ~ " + rhs, study, vcov={"CR2": "team"})
    path = effect_path(study, ["y_1", "y_2"], COVS, vcov="CR2", cr2_reference="exact")
    rows = ex.tidy().filter(ex.tidy()["term"] == "treated")
    for col in ("estimate", "std_error", "p_value", "conf_low", "conf_high"):
        np.testing.assert_allclose(rows[col].to_numpy(), path.table[col].to_numpy(), rtol=1e-9)
    np.testing.assert_array_equal(ex.tidy()["std_error"], bm.tidy()["std_error"])
    assert not np.allclose(ex.tidy()["p_value"], bm.tidy()["p_value"])
    (fit,) = ex.fits.values()
    m = fit.coef.shape[0]
    for level in (0.95, 0.90):
        tab = ex.tidy(level=level)
        for r, row in enumerate(tab.iter_rows(named=True)):
            lam = fit.gram_eigenvalues(np.eye(m)[r // 2])
            t_end = (row["estimate"] - row["conf_low"]) / row["std_error"]
            assert working_t_pvalue(t_end, lam) == pytest.approx(1 - level, abs=1e-7)
    with pytest.raises(InputError, match="cr2_reference"):
        feols("y_1 ~ " + rhs, study, vcov={"CR2": "team"}, cr2_reference="saddle")
