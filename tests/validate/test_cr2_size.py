"""Size of the CR2 (Bell-McCaffrey df) t-test with 12 teams of very unequal size (3 of 50,
9 of 5: :data:`~dreamkit.validate.UNEQUAL_CLUSTERS_NULL`), where CRV1 with t(G - 1)
over-rejects (7-9% at the 5% level with R = 1,000; docs/validation.md).

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
    """R = 100 null trials (CRV1 and CR2 only): every CR2 rejection rate inside the two-sided
    binomial band, and CR2 rejects less often than CRV1 on the same trials overall."""
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
    lo, hi = binomial_band(0.05, r, ALPHA / len(cr2))
    assert all(lo <= x <= hi for x in cr2), (cr2, lo, hi)
    assert sum(cr2) <= sum(crv1)
    # the df are the Bell-McCaffrey df of this design (about 3.8), far below G - 1 = 11
    cr2_draws = draws.filter(pl.col("estimator") == CR2_LABEL)
    assert cr2_draws.height == 3 * r


@pytest.mark.slow
def test_cr2_size_large_r() -> None:
    """R = 1,000 (the trials of docs/validation.md's table, seed 2028: the same seeds give the
    same trials as ``validate``): CR2's rejection rates lie in 4-6% and inside the binomial
    band, while CRV1's lie above the band."""
    r = 1000
    draws = run(
        functools.partial(replicate_cluster_robust, UNEQUAL_CLUSTERS_NULL),
        r,
        seed=2028,
        progress=False,
    )
    summary = summarise(draws)
    cr2, crv1 = _rates(summary, CR2_LABEL), _rates(summary, "ITT, CRV1")
    lo, hi = binomial_band(0.05, r, ALPHA / len(cr2))
    assert all(0.04 <= x <= 0.06 and lo <= x <= hi for x in cr2), cr2
    assert all(x > hi for x in crv1), crv1
