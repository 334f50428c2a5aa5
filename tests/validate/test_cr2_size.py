"""Size of the CR2 (Bell-McCaffrey df) t-test with 12 teams of very unequal size (3 of 50,
9 of 5: :data:`~dreamkit.validate.UNEQUAL_CLUSTERS_NULL`), where CRV1 with t(G - 1)
over-rejects (7-9% at the 5% level with R = 1,000; docs/validation.md). CR2 with the
Bell-McCaffrey df removes the over-rejection (measured 2.6-3.6%: conservative).

The binomial reasoning of test_coverage.py: under the sharp null the number of rejections of
a correct 5% test in R replications is Binomial(R, 0.05); the checks use the exact band at
level 0.01 / K (Bonferroni over the K estimands).
"""

from __future__ import annotations

import functools

import polars as pl
import pytest

from dreamkit.validate import UNEQUAL_CLUSTERS_NULL, binomial_band, run, summarise
from dreamkit.validate.replicate import CR2_LABEL, replicate_cluster_robust

ALPHA = 0.01


def _rates(summary: pl.DataFrame, estimator: str) -> list[float]:
    return summary.filter(pl.col("estimator") == estimator)["rejection_rate"].to_list()


def test_cr2_size_small_r() -> None:
    """R = 100 null trials (CRV1 and CR2 only): no CR2 rejection rate above the binomial
    band's upper end, and CR2 rejects less often than CRV1 on the same trials overall."""
    r = 100
    draws = run(
        functools.partial(replicate_cluster_robust, UNEQUAL_CLUSTERS_NULL),
        r,
        seed=20241215,
        n_jobs=1,
        progress=False,
    )
    summary = summarise(draws)
    cr2, crv1 = _rates(summary, CR2_LABEL), _rates(summary, "ITT, CRV1")
    assert len(cr2) == len(crv1) == 3  # weeks 26, 81 and the path mean
    _, hi = binomial_band(0.05, r, ALPHA / len(cr2))
    assert all(x <= hi for x in cr2), (cr2, hi)
    assert sum(cr2) < sum(crv1)
    # CR2 intervals use the Bell-McCaffrey df of the design (about 3.8), far below G - 1 = 11:
    # the critical value (half-width / SE) exceeds t(11)'s 2.20 in every replication
    cr2_draws = draws.filter(pl.col("estimator") == CR2_LABEL)
    q = (cr2_draws["conf_high"] - cr2_draws["estimate"]) / cr2_draws["std_error"]
    assert cr2_draws.height == 3 * r and float(q.min()) > 2.5


@pytest.mark.slow
def test_cr2_size_large_r() -> None:
    """R = 1,000 (the trials of docs/validation.md's table, seed 2028: the same seeds give the
    same trials as ``validate``). CRV1 with t(G - 1) lies above the Binomial(R, 0.05) band
    (0.073-0.093); CR2 with Bell-McCaffrey df does not exceed it and rejects far less often
    than CRV1 on every estimand. Measured: CR2 0.026-0.036, i.e. conservative, below the
    issue's 4-6% target (docs/inference.md discusses why); the lower end is reported, not
    asserted."""
    r = 1000
    draws = run(
        functools.partial(replicate_cluster_robust, UNEQUAL_CLUSTERS_NULL),
        r,
        seed=2028,
        progress=False,
    )
    summary = summarise(draws)
    cr2, crv1 = _rates(summary, CR2_LABEL), _rates(summary, "ITT, CRV1")
    _, hi = binomial_band(0.05, r, ALPHA / len(cr2))
    assert all(x <= hi for x in cr2), cr2
    assert all(x > hi for x in crv1), crv1
    assert all(a < b for a, b in zip(cr2, crv1, strict=True))
