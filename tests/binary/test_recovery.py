"""Known truth: simulated logit/probit data with discrete covariates and strata.

The default run is one large sample per link (compression makes it fast): every coefficient
within 4 SE of its true value. The Monte Carlo of interval coverage (slow) checks that 95%
CRV1 intervals of the exposure OR and of its risk difference cover the truth at about the
nominal rate with clustered errors-free data.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import scipy.special
import scipy.stats

import dreamkit.estimate.binary as bn

BETA = {"Intercept": -0.6, "x[b]": 0.7, "x[c]": -0.4, "z": 0.3}


def _simulate(n: int, link: str, seed: int) -> tuple[pl.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.choice(["a", "b", "c"], n)
    z = rng.integers(0, 2, n)
    team = rng.integers(0, 200, n)
    stratum = team % 10
    gamma = np.linspace(-0.3, 0.3, 10)
    eta = (
        BETA["Intercept"]
        + np.select([x == "b", x == "c"], [BETA["x[b]"], BETA["x[c]"]], 0.0)
        + BETA["z"] * z
        + gamma[stratum]
        - gamma[0]
    )
    p = scipy.special.expit(eta) if link == "logit" else scipy.stats.norm.cdf(eta)
    y = (rng.random(n) < p).astype(np.int8)
    return pl.DataFrame({"y": y, "x": x, "z": z, "team": team, "stratum": stratum}), eta


@pytest.mark.parametrize("link", ["logit", "probit"])
def test_coefficients_recover_the_truth(link: str) -> None:
    d, _ = _simulate(200_000, link, seed=5)
    fit = bn.binary_model(d, "y", "x", "z", link=link, stratum="stratum", cluster="team")  # type: ignore[arg-type]
    t = fit.tidy()
    for term, truth in BETA.items():
        row = t.filter(pl.col("term") == term).row(0, named=True)
        assert abs(row["estimate"] - truth) < 4 * row["std_error"], (term, row)


@pytest.mark.slow
def test_crv1_interval_coverage_monte_carlo() -> None:
    """200 samples of 2,000 persons in 200 teams: coverage of the 95% intervals of the
    log OR of x[b] and of its risk difference (truth: the sample-average risk difference
    at the true coefficients) within 3 Monte Carlo SEs of 0.95."""
    hits_or, hits_rd, reps = 0, 0, 200
    for r in range(reps):
        d, eta = _simulate(2_000, "logit", seed=100 + r)
        fit = bn.logit(d, "y", "x", "z", stratum="stratum", cluster="team")
        row = fit.tidy().filter(pl.col("term") == "x[b]").row(0, named=True)
        hits_or += row["conf_low"] <= BETA["x[b]"] <= row["conf_high"]
        x = d["x"].to_numpy()
        base = eta - np.select([x == "b", x == "c"], [BETA["x[b]"], BETA["x[c]"]], 0.0)
        truth = float(np.mean(scipy.special.expit(base + BETA["x[b]"]) - scipy.special.expit(base)))
        rd = fit.risk_difference("x").filter(pl.col("term") == "x[b]").row(0, named=True)
        hits_rd += rd["conf_low"] <= truth <= rd["conf_high"]
    mc_se = np.sqrt(0.95 * 0.05 / reps)
    print(f"coverage: log OR {hits_or / reps:.3f}, risk difference {hits_rd / reps:.3f}")
    assert abs(hits_or / reps - 0.95) < 3 * mc_se
    assert abs(hits_rd / reps - 0.95) < 3 * mc_se
