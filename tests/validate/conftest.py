"""Small-R Monte Carlo runs shared by the coverage tests (run once per test session)."""

from __future__ import annotations

import pytest

from dreamkit.validate import (
    DOMINANT_CLUSTER_NULL,
    FEW_CLUSTERS,
    FEW_CLUSTERS_NULL,
    NULL,
    REFERENCE,
    UNEQUAL_CLUSTERS_NULL,
    Validation,
    validate,
)

#: Replications of the default (CI) run. Chosen so that the whole run takes about a minute on
#: 2 cores and each coverage check still has power against a broken SE (test_coverage.py).
SMALL_R = {
    "reference": 100,
    "null": 60,
    "few_clusters": 60,
    "few_clusters_null": 100,
    "unequal_clusters_null": 100,
    "dominant_cluster_null": 100,
}


@pytest.fixture(scope="session")
def reference_run() -> Validation:
    return validate(REFERENCE, SMALL_R["reference"], seed=20240601, progress=False)


@pytest.fixture(scope="session")
def null_run() -> Validation:
    return validate(NULL, SMALL_R["null"], seed=20240602, progress=False)


@pytest.fixture(scope="session")
def few_run() -> Validation:
    return validate(FEW_CLUSTERS, SMALL_R["few_clusters"], seed=20240603, progress=False)


@pytest.fixture(scope="session")
def few_null_run() -> Validation:
    return validate(FEW_CLUSTERS_NULL, SMALL_R["few_clusters_null"], seed=20240604, progress=False)


@pytest.fixture(scope="session")
def unequal_null_run() -> Validation:
    r = SMALL_R["unequal_clusters_null"]
    return validate(UNEQUAL_CLUSTERS_NULL, r, seed=20240605, progress=False)


@pytest.fixture(scope="session")
def dominant_null_run() -> Validation:
    r = SMALL_R["dominant_cluster_null"]
    return validate(DOMINANT_CLUSTER_NULL, r, seed=20240606, progress=False)
