"""The Monte Carlo runner: seeds, reproducibility across processes, the summary and bands."""

from __future__ import annotations

import functools
import math

import numpy as np
import polars as pl
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st

from dreamkit.errors import InputError
from dreamkit.validate import (
    FEW_CLUSTERS_NULL,
    Draw,
    binomial_band,
    replicate,
    replication_seeds,
    run,
    summarise,
)


def test_seeds_are_reproducible_and_distinct() -> None:
    a = replication_seeds(3, 50)
    assert a == replication_seeds(3, 50)
    assert len(set(a)) == 50
    assert a[:10] == replication_seeds(3, 10)  # a longer run extends a shorter one
    assert a != replication_seeds(4, 50)


def test_run_is_identical_on_one_and_two_processes() -> None:
    job = functools.partial(replicate, FEW_CLUSTERS_NULL)
    serial = run(job, 3, seed=9, n_jobs=1, progress=False)
    parallel = run(job, 3, seed=9, n_jobs=2, progress=False)
    assert serial.height == 3 * 18  # 6: CRV1, CRV3, CR2 (BM df, exact), WCR, RI; x 3 estimands
    assert serial["replication"].unique().sort().to_list() == [0, 1, 2]
    assert serial.equals(parallel)


def test_run_rejects_bad_counts() -> None:
    with pytest.raises(InputError, match="n_replications"):
        run(functools.partial(replicate, FEW_CLUSTERS_NULL), 0, progress=False)


def _table(rows: list[Draw]) -> pl.DataFrame:
    return pl.DataFrame(
        [d.__dict__ for d in rows],
        schema={
            "estimator": pl.String,
            "estimand": pl.String,
            "estimate": pl.Float64,
            "std_error": pl.Float64,
            "conf_low": pl.Float64,
            "conf_high": pl.Float64,
            "truth": pl.Float64,
            "replication": pl.Int64,
            "covers": pl.Boolean,
            "rejects": pl.Boolean,
        },
        orient="row",
    )


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(5, 60))
def test_summarise_matches_numpy(seed: int, r: int) -> None:
    rng = np.random.default_rng(seed)
    est = rng.normal(0.1, 1.0, r)
    se = rng.uniform(0.5, 1.5, r)
    truth = rng.normal(0.0, 0.1, r)
    rows = [
        Draw("e", "a", est[i], se[i], est[i] - 1.96 * se[i], est[i] + 1.96 * se[i], truth[i], i)
        for i in range(r)
    ]
    out = summarise(_table(rows)).row(0, named=True)
    inside = (est - 1.96 * se <= truth) & (truth <= est + 1.96 * se)
    reject = (est - 1.96 * se > 0) | (est + 1.96 * se < 0)
    assert out["replications"] == r
    assert math.isclose(out["bias"], np.mean(est - truth), rel_tol=1e-12, abs_tol=1e-14)
    assert math.isclose(out["rmse"], np.sqrt(np.mean((est - truth) ** 2)), rel_tol=1e-12)
    assert math.isclose(out["mean_se"], se.mean(), rel_tol=1e-12)
    assert math.isclose(out["mc_sd"], est.std(ddof=1), rel_tol=1e-12)
    assert out["coverage"] == pytest.approx(inside.mean(), abs=1e-15)
    assert out["rejection_rate"] == pytest.approx(reject.mean(), abs=1e-15)
    c = inside.mean()
    assert out["coverage_mc_se"] == pytest.approx(math.sqrt(c * (1 - c) / r), abs=1e-15)


def test_flags_override_intervals_and_nan_intervals_are_not_counted() -> None:
    nan = float("nan")
    rows = [
        Draw("band", "path", nan, nan, nan, nan, nan, 0, covers=True, rejects=False),
        Draw("band", "path", nan, nan, nan, nan, nan, 1, covers=False, rejects=True),
        Draw("band", "path", nan, nan, nan, nan, nan, 2, covers=True, rejects=True),
        Draw("ri", "x", 0.3, nan, nan, nan, 0.0, 0, rejects=True),
        Draw("ri", "x", 0.1, nan, nan, nan, 0.0, 1, rejects=False),
    ]
    out = summarise(_table(rows))
    band, ri = out.row(0, named=True), out.row(1, named=True)
    assert band["coverage"] == pytest.approx(2 / 3) and band["n_coverage"] == 3
    assert band["rejection_rate"] == pytest.approx(2 / 3)
    assert ri["n_coverage"] == 0 and ri["coverage"] is None
    assert ri["rejection_rate"] == pytest.approx(0.5) and ri["n_rejection"] == 2


@settings(max_examples=40, deadline=None)
@given(
    st.floats(0.01, 0.99),
    st.integers(1, 2000),
    st.sampled_from([0.1, 0.01, 0.001, 0.0001]),
)
def test_binomial_band_is_exact(nominal: float, n: int, alpha: float) -> None:
    """P(X/n outside the band) <= alpha, and the band is the tightest such integer band."""
    lo, hi = binomial_band(nominal, n, alpha)
    a, b = round(lo * n), round(hi * n)
    below = scipy.stats.binom.cdf(a - 1, n, nominal) if a > 0 else 0.0
    above = scipy.stats.binom.sf(b, n, nominal)
    assert below <= alpha / 2 + 1e-12 and above <= alpha / 2 + 1e-12
    if a < n:  # one more count excluded below would exceed alpha/2
        assert scipy.stats.binom.cdf(a, n, nominal) > alpha / 2 - 1e-12
    if b > 0:
        assert scipy.stats.binom.sf(b - 1, n, nominal) > alpha / 2 - 1e-12


def test_binomial_band_rejects_bad_input() -> None:
    with pytest.raises(InputError, match="nominal"):
        binomial_band(1.0, 10)
    with pytest.raises(InputError, match="nominal"):
        binomial_band(0.95, 0)
