"""Coverage and size of every estimator against the simulator's truth (small R, CI run).

The binomial reasoning. With R independent replications, the number of 95% intervals that
contain the truth is Binomial(R, 0.95) when the intervals are correct, and the number of
5%-level rejections under a true null is Binomial(R, 0.05). Each check accepts the exact
binomial band of :func:`dreamkit.validate.binomial_band` at level alpha / K (Bonferroni over
the K checks of a test, alpha = 0.01), so a correct estimator fails a test with probability
at most 1%. The bands are one-sided where the theory is: intervals for the population effect
are conservative for the *sample* effect (SATE) the simulator reports, so ITT coverage may
exceed 95% (only a lower bound is checked); for the link-scale hazard coefficient (a
population parameter) both sides are checked.

Power: with R = 100 the lower bound is about 0.85; an interval with half the correct SE
covers about 68% (P(|Z| < 0.98)), and passes the check with probability < 1e-4
(:func:`test_checks_have_power_against_halved_se`, which also applies the checks to the
actual draws with every SE halved and asserts that they fail).
"""

from __future__ import annotations

import polars as pl
import pytest
import scipy.stats

from dreamkit.validate import Validation, binomial_band, summarise, validate

ALPHA = 0.01
NOMINAL = 0.95


def _failures(summary: pl.DataFrame, *, two_sided: bool = False, alpha: float = ALPHA) -> list[str]:
    """Rows whose coverage falls outside its binomial band (Bonferroni over the rows)."""
    rows = summary.filter(pl.col("n_coverage") > 0)
    assert rows.height > 0
    bad = []
    for r in rows.iter_rows(named=True):
        lo, hi = binomial_band(NOMINAL, r["n_coverage"], alpha / rows.height)
        if r["coverage"] < lo or (two_sided and r["coverage"] > hi):
            bad.append(
                f"{r['estimator']} / {r['estimand']}: coverage {r['coverage']:.3f} outside "
                f"[{lo:.3f}, {hi:.3f}] with R = {r['n_coverage']}"
            )
    return bad


def _size_failures(summary: pl.DataFrame, alpha: float = ALPHA) -> list[str]:
    """Rows whose rejection rate under a true null exceeds the binomial band's upper end."""
    rows = summary.filter(pl.col("n_rejection") > 0)
    assert rows.height > 0
    bad = []
    for r in rows.iter_rows(named=True):
        _, hi = binomial_band(1 - NOMINAL, r["n_rejection"], alpha / rows.height)
        if r["rejection_rate"] > hi:
            bad.append(
                f"{r['estimator']} / {r['estimand']}: rejection rate {r['rejection_rate']:.3f} "
                f"> {hi:.3f} with R = {r['n_rejection']}"
            )
    return bad


def _not_hazard(summary: pl.DataFrame) -> pl.DataFrame:
    return summary.filter(~pl.col("estimator").str.starts_with("hazard"))


def _hazard(summary: pl.DataFrame) -> pl.DataFrame:
    return summary.filter(pl.col("estimator").str.starts_with("hazard"))


def test_reference_design_coverage(reference_run: Validation) -> None:
    """ITT path (weeks and mean), sup-t band, self-efficacy and peer contrasts: coverage of
    the SATE at least the binomial lower bound."""
    summary = _not_hazard(reference_run.summary)
    estimators = set(summary["estimator"])
    assert {
        "ITT, CRV1",
        "sup-t band, CRV1",
        "self-efficacy (model 3), CRV1",
        "peers (model 4), CRV1",
    } <= estimators
    assert summary["replications"].min() == reference_run.n_replications
    assert _failures(summary) == []


def test_reference_design_hazard_coverage(reference_run: Validation) -> None:
    """Logit and cloglog hazards (each on its own DGP): two-sided coverage of tau."""
    summary = _hazard(reference_run.summary)
    assert summary.height == 4  # 2 links x 2 baselines
    assert summary["replications"].sum() == 2 * reference_run.n_replications
    assert _failures(summary, two_sided=True) == []


def test_reference_design_mean_se_tracks_mc_sd(reference_run: Validation) -> None:
    """A correct SE has mean SE close to the Monte Carlo SD of the estimates. The MC SD of R
    normal estimates has relative SE about 1/sqrt(2(R-1)); accept mean SE / MC SD within
    5 of those SEs (well beyond sampling noise, far inside a halved or doubled SE)."""
    summary = reference_run.summary.filter(pl.col("mean_se").is_not_nan())
    for r in summary.iter_rows(named=True):
        tolerance = 5 / (2 * (r["replications"] - 1)) ** 0.5
        ratio = r["mean_se"] / r["mc_sd"]
        assert abs(ratio - 1) < tolerance, (r["estimator"], r["estimand"], ratio, tolerance)


def test_null_design_rejection_rates(null_run: Validation) -> None:
    """Under the sharp null every truth is exactly 0 (common random numbers), so rejection
    rates are sizes: at most the Binomial(R, 0.05) upper bound; coverage = 1 - size."""
    summary = null_run.summary
    assert (summary.filter(pl.col("mean_truth").is_not_nan())["mean_truth"] == 0).all()
    assert _size_failures(summary) == []
    assert _failures(_not_hazard(summary)) == []


@pytest.mark.parametrize("fixture", ["few_null_run", "unequal_null_run", "dominant_null_run"])
def test_few_clusters_bootstrap_and_ri_size(fixture: str, request: pytest.FixtureRequest) -> None:
    """12 teams under the null, of similar or of very unequal size: the restricted wild cluster
    bootstrap and randomisation inference keep their size (CRV1/CRV3 are reported, not
    asserted: few-cluster CRV1 over-rejects with unequal teams, see the slow test below and
    docs/validation.md)."""
    run: Validation = request.getfixturevalue(fixture)
    summary = run.summary.filter(pl.col("estimator").str.contains("bootstrap|randomisation"))
    assert summary.height == 6
    assert _size_failures(summary) == []


@pytest.mark.slow
def test_unequal_clusters_crv1_over_rejects_large_r() -> None:
    """The textbook few-cluster failure, as a property of CRV1 (not of the other tools): with
    3 teams of 50 and 9 of 5, R = 1,000 null trials, CRV1's rejection rate lies above the
    Binomial(R, 0.05) band (it was 0.076-0.082 at seed 4101), while the wild cluster
    bootstrap and randomisation inference stay inside it."""
    run = validate("unequal_clusters_null", 1000, seed=4101, progress=False)
    crv1 = run.summary.filter(pl.col("estimator") == "ITT, CRV1")
    _, hi = binomial_band(1 - NOMINAL, 1000, ALPHA)
    assert (crv1["rejection_rate"] > hi).all()
    tools = run.summary.filter(pl.col("estimator").str.contains("bootstrap|randomisation"))
    assert _size_failures(tools) == []


def test_few_clusters_bootstrap_coverage(few_run: Validation) -> None:
    """12 teams with effects: WCR test-inversion intervals cover the SATE."""
    summary = few_run.summary.filter(pl.col("estimator").str.contains("bootstrap"))
    assert summary.height == 3
    assert _failures(summary) == []


def test_checks_have_power_against_halved_se(reference_run: Validation) -> None:
    """The coverage check is not vacuous: intervals with half the SE must fail it."""
    r = reference_run.n_replications
    lo, _ = binomial_band(NOMINAL, r, ALPHA / 20)
    broken = 2 * scipy.stats.norm.cdf(0.5 * scipy.stats.norm.ppf(0.975)) - 1  # ~0.68
    pass_probability = scipy.stats.binom.sf(round(lo * r) - 1, r, broken)
    assert pass_probability < 1e-3

    draws = reference_run.draws.filter(
        pl.col("estimator") == "ITT, CRV1"
    ).with_columns(  # same centre, half the width: a CI built from SE/2
        (pl.col("estimate") - (pl.col("estimate") - pl.col("conf_low")) / 2).alias("conf_low"),
        (pl.col("estimate") + (pl.col("conf_high") - pl.col("estimate")) / 2).alias("conf_high"),
    )
    failed = _failures(summarise(draws))
    assert len(failed) == summarise(draws).height


@pytest.mark.slow
def test_reference_design_large_r() -> None:
    """W5 size: R = 1,000 of the reference trial (benchmarks/w5_validation.py writes the
    table). Bands as above, with R = 1,000 the lower bound is about 0.93."""
    run = validate("reference", 1000, seed=1, progress=False)
    assert _failures(_not_hazard(run.summary)) == []
    assert _failures(_hazard(run.summary), two_sided=True) == []
