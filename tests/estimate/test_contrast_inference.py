"""Few-cluster inference for heterogeneity/peer contrasts and multiple testing across weeks and
subgroups, checked against direct calls on independently built designs and brute force."""

from __future__ import annotations

import itertools

import numpy as np
import polars as pl
import pytest
import scipy.stats

from dreamkit.errors import EstimationError
from dreamkit.estimate.linear.contrast_inference import ContrastStatistic, contrast_randomization
from dreamkit.estimate.linear.heterogeneity import selfefficacy_grid
from dreamkit.estimate.linear.itt import effect_path
from dreamkit.estimate.linear.peers import CELLS, peer_effects
from dreamkit.estimate.linear.robustness import subgroups
from dreamkit.inference import (
    block_design,
    draw_allocations,
    randomization_inference,
    wild_cluster_bootstrap,
)

COVS = ["belief", "expected_return", "ordinary_job", "prior_sick"]


def _dummies(labels: np.ndarray) -> np.ndarray:
    levels = np.unique(labels)
    return (labels[:, None] == levels[None, :]).astype(float)


@pytest.fixture(scope="module")
def grid(study):
    return selfefficacy_grid(study, ["y_3", "emp_share_3"], COVS, cutoffs=[7, 11])


def test_reparametrised_estimate_equals_grid_contrast(grid, study):
    contrast = grid.table.filter(pl.col("group") == "low - high")
    for c in (7, 11):
        design = grid.cell_design(c)
        d, z = design.reparametrised((1.0, -1.0))
        low = (study["uwses"].to_numpy() <= c).astype(float)
        t = study["treated"].to_numpy().astype(float)
        np.testing.assert_array_equal(d, t * low)  # regressor T x Low, T among the controls
        beta = np.linalg.lstsq(np.column_stack([d, z]), design.y, rcond=None)[0][0]
        rows = contrast.filter(pl.col("cutoff") == c)
        expected = [rows.filter(pl.col("outcome") == o)["estimate"][0] for o in design.outcomes]
        np.testing.assert_allclose(beta, expected, rtol=0, atol=1e-10)
        assert np.abs(beta).min() > 1e-4  # a non-trivial contrast


def test_wcr_contrast_equals_direct_call_on_reparametrised_design(grid, study):
    out = grid.wild_cluster_bootstrap(B=199, weights="webb", seed=3)
    pdf = study.to_pandas()
    t = pdf["treated"].to_numpy(dtype=float)
    y = pdf[["emp_share_3", "y_3"]].to_numpy()  # the order of the grid's tables
    for c in (7, 11):
        low = (pdf["uwses"] <= c).to_numpy()
        cell_fe = _dummies((pdf["municipality"] + np.where(low, "_low", "_high")).to_numpy())
        z = np.column_stack([t, cell_fe, pdf[COVS].to_numpy()])
        ref = wild_cluster_bootstrap(y, t * low, z, pdf["team"], B=199, weights="webb", seed=3)
        rows = out.filter(pl.col("cutoff") == c)
        np.testing.assert_allclose(rows["estimate"], ref.estimate, rtol=1e-10)
        np.testing.assert_allclose(rows["p_value"], ref.p_value, rtol=0, atol=1e-12)
        np.testing.assert_allclose(rows["conf_low"], ref.conf_low, rtol=1e-9)
        np.testing.assert_allclose(rows["conf_high"], ref.conf_high, rtol=1e-9)
        se = grid.table.filter((pl.col("cutoff") == c) & (pl.col("group") == "low - high"))
        np.testing.assert_allclose(ref.std_error, se["std_error"], rtol=1e-8)
    assert set(out["method"]) == {"WCR webb"} and set(out["draws"]) == {199}
    assert (out["p_romano_wolf"] >= out["p_value"]).all()


def test_ri_contrast_statistic_and_exact_enumeration_equal_brute_force():
    # teams: all-low (3, 1 treated), all-high (3, 1 treated), two mixed (4, 2 treated), so
    # every re-drawn allocation keeps treated and control persons in both cells
    rng = np.random.default_rng(5)
    team = np.repeat([0, 1, 2, 3], [3, 3, 4, 4])
    score = np.array([2, 3, 1, 20, 15, 18, 4, 16, 2, 19, 9, 14, 5, 22])
    treated = np.array([1, 0, 0, 1, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0])
    x = rng.normal(size=14)
    y = rng.normal(size=14) + 0.5 * x
    data = pl.DataFrame({"team": team, "treated": treated, "uwses": score, "x": x, "y": y})
    res = selfefficacy_grid(data, ["y"], ["x"], cutoffs=[7], stratum=None, min_cell=1)
    out = res.randomization_inference(n_draws=999, exact_if_at_most=10_000)

    low = (score <= 7).astype(float)
    members = [np.flatnonzero(team == h) for h in range(4)]
    k = [1, 1, 2, 2]
    brute = []
    per_team = [itertools.combinations(m, kk) for m, kk in zip(members, k, strict=True)]
    for choice in itertools.product(*per_team):
        t = np.zeros(14)
        t[np.concatenate(choice)] = 1.0
        x_mat = np.column_stack([t * low, t * (1 - low), low, 1 - low, x])
        b = np.linalg.lstsq(x_mat, y, rcond=None)[0]
        brute.append(b[0] - b[1])
    brute = np.array(brute)
    observed = res.table.filter(pl.col("group") == "low - high")["estimate"][0]
    p_brute = np.mean(np.abs(brute) >= abs(observed) * (1 - 1e-9))
    assert out["method"][0] == "randomization (exact)" and out["draws"][0] == brute.size == 324
    np.testing.assert_allclose(out["estimate"][0], observed, rtol=1e-10)
    np.testing.assert_allclose(out["p_value"][0], p_brute, rtol=0, atol=1e-12)
    ri = contrast_randomization(
        [(res.cell_design(7), (1.0, -1.0))], n_draws=999, exact_if_at_most=10_000
    )
    np.testing.assert_allclose(np.sort(ri.draws[:, 0]), np.sort(brute), rtol=0, atol=1e-10)


def test_peer_statistics_and_single_cell_wcr(study):
    res = peer_effects(study, ["y_4"], COVS, cutoff=8, peer_cutoff=10)
    ri = res.randomization_inference(n_draws=99, seed=1)
    table = res.table
    for version in ("four-cell", "restricted"):
        est = dict(table.filter(pl.col("version") == version).select("group", "estimate").rows())
        got = dict(ri.filter(pl.col("version") == version).select("contrast", "estimate").rows())
        for name, value in est.items():
            np.testing.assert_allclose(got[name], value, rtol=1e-9)
        peer_diff = est[CELLS[0]] - est[CELLS[1]]
        np.testing.assert_allclose(got["low SE: low-SE peers - high-SE peers"], peer_diff, 1e-9)
    assert ri.height == 6 + 4 and (ri["p_value"] >= 1 / 100).all()

    wcr = res.wild_cluster_bootstrap(B=99, seed=2)
    design = res.cell_design("four-cell")
    d_all = design.regressors()
    cell_dummies = _dummies(res.cells)[:, 1:]
    z = np.column_stack(
        [d_all[:, [0, 1, 3]], _dummies(study["municipality"].to_numpy()), cell_dummies]
        + [study[c].to_numpy() for c in COVS]
    )
    ref = wild_cluster_bootstrap(study["y_4"], d_all[:, 2], z, study["team"], B=99, seed=2)
    row = wcr.filter((pl.col("version") == "four-cell") & (pl.col("contrast") == CELLS[2]))
    np.testing.assert_allclose(row["estimate"], ref.estimate, rtol=1e-10)
    np.testing.assert_allclose(row["p_value"], ref.p_value, rtol=0, atol=1e-12)
    np.testing.assert_allclose(row["conf_low"], ref.conf_low, rtol=1e-9)


@pytest.mark.parametrize("draws", ["bootstrap", "randomization"])
def test_path_adjusted_between_unadjusted_and_bonferroni(study, draws):
    path = effect_path(study, "y_", COVS)
    out = path.adjusted_pvalues("romano-wolf", draws=draws, B=199, n_draws=199, seed=4)
    p, adj = out["p_value"].to_numpy(), out["p_adjusted"].to_numpy()
    k = p.shape[0]
    assert k == 12 and out["week"].to_list() == list(range(1, 13))
    assert (adj >= p - 1e-12).all()
    # max-T step-down is bounded by the union bound sum_k p_k (not by K p_k: that needs
    # pivotal statistics); the min-P step-down below is bounded by Bonferroni itself
    assert (adj <= min(1.0, p.sum()) + 1e-12).all()
    assert (out["p_holm"] >= p - 1e-12).all() and (out["p_bh"] <= out["p_holm"] + 1e-12).all()
    np.testing.assert_allclose(out["t_stat"], path.estimates / path.std_errors, rtol=1e-9)
    wy = path.adjusted_pvalues("westfall-young", draws=draws, B=199, n_draws=199, seed=4)
    assert (wy["p_adjusted"] >= p - 1e-12).all()
    assert (wy["p_adjusted"] <= np.minimum(1.0, k * p) + 1e-12).all()


def test_subgroup_joint_bootstrap_equals_direct_calls(study):
    res = subgroups(study, ["y_2", "y_5"], ["female", "age50"], COVS)
    out = res.adjusted_pvalues(draws="bootstrap", B=199, seed=7)
    for (key, fit), rows in zip(res.fits.items(), out.iter_slices(2), strict=True):
        col, lvl = key.split("=")
        sub = study.filter(pl.col(col) == int(lvl))
        assert fit.n_clusters == sub["team"].n_unique() == 43  # same G: same weight draws
        z = np.column_stack([_dummies(sub["municipality"].to_numpy()), sub.select(COVS)])
        ref = wild_cluster_bootstrap(
            sub.select("y_2", "y_5"), sub["treated"], z, sub["team"], B=199, seed=7
        )
        np.testing.assert_allclose(rows["p_value"], ref.p_value, rtol=0, atol=1e-12)
        np.testing.assert_allclose(rows["t_stat"], fit.coef[0] / fit.std_error[0], rtol=1e-9)
    p, adj = out["p_value"].to_numpy(), out["p_adjusted"].to_numpy()
    assert (adj >= p - 1e-12).all() and (adj <= min(1.0, p.sum()) + 1e-12).all()
    ri = res.adjusted_pvalues(draws="randomization", n_draws=199, seed=7)
    np.testing.assert_allclose(ri["t_stat"], out["t_stat"], rtol=1e-9)
    assert (ri["p_adjusted"] >= ri["p_value"] - 1e-12).all()


def test_contrast_ri_rejection_rate_under_null(study_factory):
    """Sharp null (no effect), the observed allocation drawn by the within-team lottery: the
    Monte Carlo RI p-value with R = 19 is then exactly uniform on {1/20, ..., 1} for a
    continuous statistic, so P(p <= 0.05) = 0.05. With 300 replications the rejection count
    is Binomial(300, 0.05): mean 15, and [5, 28] holds with probability > 0.997 (checked
    below with scipy)."""
    reps, alpha = 300, 0.05
    lo, hi = 5, 28
    null = scipy.stats.binom(reps, alpha)
    assert null.cdf(hi) - null.cdf(lo - 1) > 0.997
    base = study_factory(seed=11, n_weeks=1, effect=0.0)
    design = selfefficacy_grid(base, ["y_1"], COVS, cutoffs=[10]).cell_design(10)
    stat = ContrastStatistic([(design, (1.0, -1.0))])
    lottery = block_design(design.treated, design.clusters)
    rng = np.random.default_rng(12)
    observed = draw_allocations(lottery, reps, rng)
    rejections = 0
    for r in range(reps):
        ri = randomization_inference(stat, observed[r], design.clusters, n_draws=19, seed=r)
        rejections += int(ri.p_value[0] <= alpha)
    assert lo <= rejections <= hi


def test_unidentified_redraw_is_a_typed_error():
    # one team of 4 with 2 treated: some allocation treats both low persons, leaving no
    # treated high person
    data = pl.DataFrame(
        {
            "team": [0, 0, 0, 0, 1, 1],
            "treated": [1, 0, 1, 0, 1, 0],
            "uwses": [1, 2, 20, 21, 22, 23],
            "y": [0.3, 0.1, 0.5, 0.2, 0.7, 0.4],
        }
    )
    res = selfefficacy_grid(data, ["y"], cutoffs=[7], stratum=None, min_cell=1)
    with pytest.raises(EstimationError, match="not identified"):
        res.randomization_inference(n_draws=99)
