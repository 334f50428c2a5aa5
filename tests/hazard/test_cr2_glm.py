"""CR2 for the discrete-time hazard GLM: the cell computation equals a dense implementation on
the uncompressed person-period expansion (its own design with dummies, its own link formulas
for the IRLS weights and residuals, the full n x n weighted hat matrix, A_g by
eigen-decomposition), for logit and cloglog, with strata nested in teams (single-team strata:
singular I - H_gg) and with strata holding three teams.

Tolerance 1e-8 (relative): the dense side starts from the compressed fit's estimates, so only
rounding differs; the uncompressed and compressed fits agree to their convergence tolerance.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import scipy.special
import scipy.stats

from dreamkit.errors import InputError
from dreamkit.estimate.duration.duration_dependence import intervals
from dreamkit.estimate.duration.hazard import DiscreteTimeHazard
from dreamkit.estimate.duration.person_period import expand_person_periods
from dreamkit.estimate.models import hazard

RTOL = 1e-8


def _pinv_sqrt(b: np.ndarray, tol: float = 1e-10) -> np.ndarray:
    vals, vecs = np.linalg.eigh((b + b.T) / 2)
    inv = np.where(vals > tol, 1.0 / np.sqrt(np.clip(vals, tol, None)), 0.0)
    return (vecs * inv) @ vecs.T


def _dense_design(pp: pl.DataFrame, width: int) -> np.ndarray:
    """Interval dummies, stratum dummies (first dropped), T, x (the model's column order)."""
    interval = (pp["period"].to_numpy() - 1) // width
    d_int = (interval[:, None] == np.unique(interval)[None, :]).astype(float)
    strata = pp["municipality"].to_numpy()
    d_str = (strata[:, None] == np.unique(strata)[1:][None, :]).astype(float)
    return np.column_stack([d_int, d_str, pp["treated"].to_numpy(), pp["x"].to_numpy()])


def dense_glm_cr2(
    x: np.ndarray, y: np.ndarray, cl: np.ndarray, beta: np.ndarray, link: str
) -> tuple[np.ndarray, np.ndarray]:
    """(V, df of every coefficient) from the definitions on person-period rows.

    Fisher weights w = (dmu/deta)^2 / (mu (1 - mu)); Xw = W^{1/2} X; working residual
    e = W^{1/2} (y - mu) / (dmu/deta); H = Xw (Xw'Xw)^-1 Xw'; A_g = (I - H_gg)^{+1/2}.
    """
    eta = x @ beta
    if link == "logit":
        mu = scipy.special.expit(eta)
        dmu = mu * (1 - mu)
    else:
        mu = -np.expm1(-np.exp(eta))
        dmu = np.exp(eta - np.exp(eta))
    w = dmu**2 / (mu * (1 - mu))
    xw = x * np.sqrt(w)[:, None]
    e = np.sqrt(w) * (y - mu) / dmu
    bread = np.linalg.inv(xw.T @ xw)
    m = np.eye(len(y)) - xw @ bread @ xw.T
    groups = np.unique(cl)
    meat = np.zeros((x.shape[1], x.shape[1]))
    adj = {}
    for g in groups:
        r = np.flatnonzero(cl == g)
        a = _pinv_sqrt(m[np.ix_(r, r)])
        adj[g] = (r, a)
        u = xw[r].T @ a @ e[r]
        meat += np.outer(u, u)
    df = np.empty(x.shape[1])
    for j in range(x.shape[1]):
        gram = dense_glm_gram(m, adj, xw, bread, j)
        df[j] = np.trace(gram) ** 2 / np.sum(gram * gram)
    return bread @ meat @ bread, df


def dense_glm_gram(m, adj, xw, bread, j: int) -> np.ndarray:
    """P'P with P[:, g] = (I - H)[:, g] A_g Xw_g (Xw'Xw)^-1 e_j (clusters in sorted order)."""
    pmat = np.column_stack([m[:, r] @ (a @ xw[r] @ bread[:, j]) for r, a in adj.values()])
    return pmat.T @ pmat


def test_gram_of_the_treatment_equals_dense(simulate):
    """The Bell-McCaffrey matrix of the treatment coefficient (whose eigenvalues give the
    exact working-model reference) on cells equals the dense person-period P'P."""
    from dreamkit.inference.working_t import working_t_critical_value

    df = simulate(160, link="cloglog", seed=5, n_teams=9, weeks=16, base=-1.8)
    model = DiscreteTimeHazard(
        link="cloglog", duration_spec=intervals(4), covariates=("x",), cov_type="CR2"
    )
    res = model.fit(df)
    pp = expand_person_periods(df, keep=["team", "municipality", "treated", "x"])
    x = _dense_design(pp, 4)
    y = pp["event"].to_numpy().astype(float)
    eta = x @ res.glm.params
    mu = -np.expm1(-np.exp(eta))
    dmu = np.exp(eta - np.exp(eta))
    xw = x * np.sqrt(dmu**2 / (mu * (1 - mu)))[:, None]
    bread = np.linalg.inv(xw.T @ xw)
    m = np.eye(len(y)) - xw @ bread @ xw.T
    cl = pp["team"].to_numpy()
    adj = {}
    for g in np.unique(cl):
        r = np.flatnonzero(cl == g)
        adj[g] = (r, _pinv_sqrt(m[np.ix_(r, r)]))
    k = res.glm.names.index("treated")
    gram = dense_glm_gram(m, adj, xw, bread, k)
    np.testing.assert_allclose(res.glm.bm.gram(k), gram, atol=RTOL * np.abs(gram).max())
    lam = res.glm.gram_eigenvalues(k)
    np.testing.assert_allclose(lam, np.linalg.eigvalsh(gram), atol=RTOL * lam.max())
    assert lam.sum() ** 2 / (lam**2).sum() == pytest.approx(res.glm.df[k], rel=RTOL)
    assert working_t_critical_value(0.95, lam) < scipy.stats.t.ppf(0.975, res.glm.df[k])


@pytest.mark.parametrize("link", ["logit", "cloglog"])
@pytest.mark.parametrize("teams_per_stratum", [1, 3])
def test_cells_equal_dense_person_periods(simulate, link, teams_per_stratum):
    df = simulate(
        160, link=link, seed=5, n_teams=9, weeks=16, base=-1.8, teams_per_stratum=teams_per_stratum
    )
    model = DiscreteTimeHazard(
        link=link, duration_spec=intervals(4), covariates=("x",), cov_type="CR2"
    )
    res = model.fit(df)  # cells: (pattern, interval) counts, never person-periods
    pp = expand_person_periods(df, keep=["team", "municipality", "treated", "x"])
    res_pp = model.fit_person_periods(pp, compress=False)
    assert res.glm.n_rows < pp.height
    x = _dense_design(pp, 4)
    cl = pp["team"].to_numpy()
    v, dfs = dense_glm_cr2(x, pp["event"].to_numpy().astype(float), cl, res.glm.params, link)
    np.testing.assert_allclose(res.glm.cov, v, rtol=RTOL, atol=1e-14)
    np.testing.assert_allclose(res.glm.df, dfs, rtol=RTOL)
    # uncompressed fit (one row per person-period) gives the same to its convergence
    np.testing.assert_allclose(res_pp.glm.cov, res.glm.cov, rtol=1e-7)
    np.testing.assert_allclose(res_pp.glm.df, res.glm.df, rtol=1e-7)
    # t reference with each coefficient's df
    row = res.tidy().filter(pl.col("term") == "treated").row(0, named=True)
    k = res.glm.names.index("treated")
    t = row["estimate"] / row["std_error"]
    assert row["p_value"] == pytest.approx(2 * scipy.stats.t.sf(abs(t), res.glm.df[k]), rel=1e-10)
    g = res.glance()
    assert g["vcov_type"][0] == "CR2 (team)" and g["df"][0] == pytest.approx(res.glm.df[k])
    if teams_per_stratum == 1:  # a team alone identifies its stratum effect
        r = np.flatnonzero(cl == 3)
        h = np.eye(len(cl)) - dense_hat(x, pp, res.glm.params, link)
        assert np.linalg.eigvalsh(h[np.ix_(r, r)])[0] < 1e-10


def dense_hat(x: np.ndarray, pp: pl.DataFrame, beta: np.ndarray, link: str) -> np.ndarray:
    eta = x @ beta
    if link == "logit":
        mu = scipy.special.expit(eta)
        w = mu * (1 - mu)
    else:
        mu = -np.expm1(-np.exp(eta))
        w = np.exp(eta - np.exp(eta)) ** 2 / (mu * (1 - mu))
    xw = x * np.sqrt(w)[:, None]
    return xw @ np.linalg.solve(xw.T @ xw, xw.T)


def test_formula_front_end_and_errors(simulate):
    df = simulate(300, seed=2, n_teams=12)
    res = hazard("Surv(duration, event) ~ treated + x | municipality", df, vcov={"CR2": "team"})
    keyword = DiscreteTimeHazard(covariates=("x",), cov_type="CR2").fit(df)
    np.testing.assert_allclose(res.glm.cov, keyword.glm.cov, rtol=1e-12)
    with pytest.raises(InputError, match="needs a cluster"):
        DiscreteTimeHazard(cluster=None, cov_type="CR2").fit(df)


def test_survival_curves_warn_with_single_team_strata_under_cr2(simulate):
    """A team that alone identifies its stratum effect adds nothing to that effect's CR2
    variance (its residuals sum to zero there), as under CRV1: the curves' intervals warn."""
    from dreamkit.errors import InferenceWarning

    df = simulate(300, seed=4, n_teams=10, teams_per_stratum=1)
    res = DiscreteTimeHazard(covariates=("x",), cov_type="CR2").fit(df)
    with pytest.warns(InferenceWarning, match="CR2 understates"):
        res.predict_survival(periods=5)


@pytest.mark.parametrize("link", ["logit", "cloglog"])
def test_exact_reference_in_tidy(simulate, link):
    """cr2_reference="exact": the shown terms' p-values and intervals come from the exact
    working-model reference of their own Gamma eigenvalues (at any level, exponentiated
    too); estimates, SEs, df and the hidden duration/stratum terms are unchanged."""
    from dreamkit.inference.working_t import working_t_critical_value, working_t_pvalue

    df = simulate(160, link=link, seed=5, n_teams=9, weeks=16, base=-1.8)
    base = DiscreteTimeHazard(
        link=link, duration_spec=intervals(4), covariates=("x",), cov_type="CR2"
    )
    exact = DiscreteTimeHazard(
        link=link,
        duration_spec=intervals(4),
        covariates=("x",),
        cov_type="CR2",
        cr2_reference="exact",
    )
    rb, re_ = base.fit(df), exact.fit(df)
    for level in (0.95, 0.9):
        tb, te = rb.tidy(level, fixed_effects=True), re_.tidy(level, fixed_effects=True)
        for col in ("term", "estimate", "std_error", "statistic"):
            assert tb[col].to_list() == te[col].to_list()
        for term in ("treated", "x"):
            j = re_.glm.names.index(term)
            lam = re_.glm.gram_eigenvalues(j)
            row = te.filter(pl.col("term") == term).row(0, named=True)
            t = row["estimate"] / row["std_error"]
            q = working_t_critical_value(level, lam)
            assert row["p_value"] == pytest.approx(working_t_pvalue(t, lam), rel=1e-12)
            assert row["conf_high"] == pytest.approx(row["estimate"] + q * row["std_error"])
            old = tb.filter(pl.col("term") == term).row(0, named=True)
            assert row["p_value"] != old["p_value"]
        hidden = [n for n in re_.glm.names if n not in ("treated", "x")]
        keep = pl.col("term").is_in(hidden)
        assert te.filter(keep)["p_value"].to_list() == tb.filter(keep)["p_value"].to_list()
    row = re_.tidy(exponentiate=True).filter(pl.col("term") == "treated").row(0, named=True)
    q = working_t_critical_value(0.95, re_.glm.gram_eigenvalues(re_.glm.names.index("treated")))
    b, se = re_.coef("treated"), re_.se("treated")
    assert row["conf_low"] == pytest.approx(np.exp(b - q * se))
    assert "exact working-model reference" in re_.summary()
    # the formula front end passes the option through
    front = hazard(
        "Surv(duration, event) ~ treated + x | municipality",
        df,
        link=link,
        duration_spec=intervals(4),
        vcov={"CR2": "team"},
        cr2_reference="exact",
    )
    assert front.tidy()["p_value"].to_list() == pytest.approx(re_.tidy()["p_value"].to_list())
    with pytest.raises(InputError, match="cr2_reference"):
        DiscreteTimeHazard(cov_type="CR2", cr2_reference="nope").fit(df)  # type: ignore[arg-type]
