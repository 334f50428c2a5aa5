"""Fits from partition sums equal the in-memory fits (1e-10) and pyfixest; bad partitions."""

from __future__ import annotations

import numpy as np
import polars as pl
import pyfixest as pf
import pytest

from dreamkit.errors import (
    ColumnNotFoundError,
    InputError,
    SchemaMismatchError,
    TrialDesignError,
)
from dreamkit.estimate.duration.hazard import DiscreteTimeHazard
from dreamkit.estimate.linear.itt import effect_path
from dreamkit.estimate.sufficient import partitioned_effect_path, partitioned_hazard

COVS = ["x1", "x2"]
TOL = 1e-10  # exact algebra, different summation order: agreement to rounding


def _close(a, b, tol=TOL):
    a, b = np.asarray(a), np.asarray(b)
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol * np.max(np.abs(b)))


@pytest.fixture(scope="module")
def table(make):
    return make.itt_table(3_000, seed=1)


@pytest.mark.parametrize("covariates", [COVS, []])
def test_itt_from_sums_equals_in_memory(table, make, covariates):
    ref = effect_path(table, "emp_", covariates)
    got = partitioned_effect_path(make.split(table, 5, seed=2), "emp_", covariates)
    _close(got.estimates, ref.estimates)
    _close(got.vcov, ref.vcov)
    _close(got.std_errors, ref.std_errors)
    assert (got.n_obs, got.n_clusters, got.weeks) == (ref.n_obs, ref.n_clusters, ref.weeks)
    for col in ("conf_low", "conf_high", "p_value", "control_mean"):
        _close(got.tidy()[col].to_numpy(), ref.tidy()[col].to_numpy())
    assert got.tidy().columns == ref.tidy().columns


def test_itt_from_sums_equals_pyfixest(table, make):
    """Independent implementation: pyfixest feols with absorbed strata and CRV1 by team
    (k_fixef='full' counts every stratum level, as dreamkit's CRV1 does)."""
    got = partitioned_effect_path(make.split(table, 3, seed=4), "emp_", COVS)
    fit = pf.feols(
        "emp_3 ~ treated + x1 + x2 | municipality",
        data=table.to_pandas(),
        vcov={"CRV1": "team"},
        ssc=pf.ssc(k_fixef="full"),
    )
    assert got.estimates[2] == pytest.approx(fit.coef()["treated"], rel=1e-9)
    assert got.std_errors[2] == pytest.approx(fit.se()["treated"], rel=1e-9)


def test_clusters_split_over_partitions_are_combined(table, make):
    """Every team spans every partition here; summing scores per partition instead of per
    cluster would give a different (wrong) covariance."""
    parts = [table.filter(pl.int_range(pl.len()) % 4 == j) for j in range(4)]
    parts.append(table.head(0))  # an empty partition contributes nothing
    ref = effect_path(table, "emp_", COVS)
    got = partitioned_effect_path(parts, "emp_", COVS)
    _close(got.std_errors, ref.std_errors)


def test_parquet_files_and_directory(table, make, tmp_path):
    for j, part in enumerate(make.split(table, 3, seed=5)):
        part.write_parquet(tmp_path / f"part-{j}.parquet")
    ref = effect_path(table, "emp_", COVS)
    by_dir = partitioned_effect_path(tmp_path, "emp_", COVS)
    by_files = partitioned_effect_path(sorted(tmp_path.glob("*.parquet")), "emp_", COVS)
    _close(by_dir.estimates, ref.estimates)
    np.testing.assert_array_equal(by_dir.vcov, by_files.vcov)


def test_in_memory_tools_say_why_they_are_unavailable(table, make):
    got = partitioned_effect_path(make.split(table, 2, seed=1), "emp_", COVS)
    with pytest.raises(InputError, match="person-level data in memory"):
        got.wild_cluster_bootstrap(B=9)
    band = got.sup_t_band(n_draws=2_000)  # needs only estimates and vcov
    assert band is not None


def test_schema_mismatch_names_the_partition(table, make, tmp_path):
    parts = make.split(table, 3, seed=3)
    parts[0].write_parquet(tmp_path / "part-0.parquet")
    parts[1].with_columns(pl.col("x2").cast(pl.Int32)).write_parquet(tmp_path / "part-1.parquet")
    parts[2].write_parquet(tmp_path / "part-2.parquet")
    with pytest.raises(SchemaMismatchError, match=r"partition 1 \(part-1.parquet\).*'x2'"):
        partitioned_effect_path(tmp_path, "emp_", COVS)
    frames = [parts[0], parts[1].drop("x1"), parts[2]]
    with pytest.raises(SchemaMismatchError, match=r"partition 1 .*lacks column\(s\) \['x1'\]"):
        partitioned_effect_path(frames, "emp_", COVS)


def test_bad_partitions(table, make):
    parts = make.split(table, 2, seed=3)
    with pytest.raises(ColumnNotFoundError, match="nope"):
        partitioned_effect_path(parts, "emp_", ["nope"])
    holes = [parts[0], parts[1].with_columns(pl.lit(None, pl.Float64).alias("emp_2"))]
    with pytest.raises(InputError, match=r"'emp_2' has .* missing value\(s\) in partition 1"):
        partitioned_effect_path(holes, "emp_", COVS)
    one_arm = [p.with_columns(pl.lit(1, pl.Int8).alias("treated")) for p in parts]
    with pytest.raises(TrialDesignError, match="one arm"):
        partitioned_effect_path(one_arm, "emp_", COVS)


@pytest.fixture(scope="module")
def spells(make):
    return make.durations(6_000, seed=3)


def test_hazard_from_counts_equals_in_memory(spells, make):
    model = DiscreteTimeHazard()
    ref = model.fit(spells)
    got = partitioned_hazard(make.split(spells, 4, seed=7), model)
    _close(got.glm.params, ref.glm.params)
    _close(got.glm.cov, ref.glm.cov)
    assert got.glm.log_likelihood == pytest.approx(ref.glm.log_likelihood, rel=1e-12)
    assert (got.n_persons, got.n_person_periods, got.n_events) == (
        ref.n_persons,
        ref.n_person_periods,
        ref.n_events,
    )
    assert got.tidy().columns == ref.tidy().columns


def test_frequency_weights_equal_repeated_rows(spells):
    """The weights= path against the plain fit of the expanded rows (an independent route)."""
    model = DiscreteTimeHazard(link="cloglog")
    small = spells.head(2_000)
    counted = small.group_by(small.columns).agg(pl.len().cast(pl.Int64).alias("n"))
    ref = model.fit(small)
    got = model.fit(counted, weights="n")
    _close(got.glm.params, ref.glm.params)
    _close(got.glm.std_errors, ref.glm.std_errors)
    with pytest.raises(InputError, match="frequency weights"):
        model.fit(counted.with_columns(pl.lit(0, pl.Int64).alias("n")), weights="n")


class _NoWork:
    """An executor that fails the test if any task reaches it."""

    n_workers = 2

    def map(self, fn, tasks):
        raise AssertionError("work was submitted before the schemas were checked")


def test_hazard_partitions_with_different_schemas_name_the_partition(spells, make, tmp_path):
    parts = make.split(spells, 3, seed=5)
    for j, part in enumerate(parts):
        if j == 2:
            part = part.with_columns(pl.col("event").cast(pl.Float64))
        part.write_parquet(tmp_path / f"part-{j}.parquet")
    with pytest.raises(SchemaMismatchError, match=r"partition 2 \(part-2.parquet\).*'event'"):
        partitioned_hazard(tmp_path, DiscreteTimeHazard(), executor=_NoWork())
    with pytest.raises(SchemaMismatchError, match=r"partition 2 \(part-2.parquet\)"):
        partitioned_effect_path(tmp_path, "duration", [], executor=_NoWork())


def test_memory_does_not_grow_with_partitions_when_every_cluster_spans_them():
    """24 partitions, each holding every one of 250 clusters (string ids), 60 outcomes:
    holding every partition's cluster scores would take 24 x 250 x 60 x 8 B = 2.9 MB (and as
    much again to stack them); the streamed reduction keeps one partition's at a time
    (measured: about 6.4 x 250 x 60 x 8 B in all). Python-side peak (numpy allocations,
    tracemalloc) must stay under half of the held total, and the fit must still equal the
    in-memory one."""
    import tracemalloc

    rng = np.random.default_rng(5)
    n_parts, g, w = 24, 250, 60
    parts = []
    for _ in range(n_parts):
        team = rng.permutation(g)
        d = (rng.random(g) < 0.5).astype(np.int8)
        cols: dict[str, object] = {
            "municipality": team % 5,
            "team": [f"t{k:03d}" for k in team],
            "treated": d,
        }
        for j in range(1, w + 1):
            cols[f"y_{j}"] = rng.normal(size=g) + 0.1 * d
        parts.append(pl.DataFrame(cols))
    ref = effect_path(pl.concat(parts), "y_")
    tracemalloc.start()
    try:
        got = partitioned_effect_path(parts, "y_")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    held_by_all = n_parts * g * w * 8
    assert peak < held_by_all / 2, f"peak {peak / 1e6:.2f} MB"
    _close(got.estimates, ref.estimates)
    _close(got.vcov, ref.vcov)


def test_hazard_counts_are_merged_as_they_arrive(spells, make):
    """More partitions than one merge holds (the running cell table is merged every
    ``_MERGE_EVERY`` partitions): the fit equals the in-memory one."""
    from dreamkit.estimate import sufficient

    n = sufficient._MERGE_EVERY * 2 + 3
    ref = DiscreteTimeHazard().fit(spells)
    got = partitioned_hazard(make.split(spells, n, seed=4))
    _close(got.glm.params, ref.glm.params)
    _close(got.glm.cov, ref.glm.cov)
