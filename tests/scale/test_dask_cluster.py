"""A real dask.distributed LocalCluster (2 worker processes): outcomes, the ITT path, the
hazard and a Monte Carlo equal the single-process results; a worker killed mid-run."""

from __future__ import annotations

import functools
import os
import signal
import sys
import threading
import time

import numpy as np
import polars as pl
import pytest

from dreamkit.chunked import chunked_outcomes, partition_register
from dreamkit.estimate.duration.hazard import DiscreteTimeHazard
from dreamkit.estimate.linear.itt import effect_path
from dreamkit.estimate.sufficient import partitioned_effect_path, partitioned_hazard
from dreamkit.executor import DaskExecutor, SerialExecutor, use_executor
from dreamkit.validate import FEW_CLUSTERS_NULL, replicate, run

pytest.importorskip("distributed")
cloudpickle = pytest.importorskip("cloudpickle")
cloudpickle.register_pickle_by_value(sys.modules[__name__])  # test functions go by value


def test_outcomes_on_the_cluster_equal_one_process(client, make, tmp_path):
    wide = make.random_wide(600, seed=3)
    trial = make.random_trial(wide, 400, seed=5)
    data = partition_register(
        wide, tmp_path / "ds", chunk_rows=150, employment="columns", progress=False
    )
    one = chunked_outcomes(data, trial, tmp_path / "one", budget="1GB", progress=False, executor=1)
    two = chunked_outcomes(
        data, trial, tmp_path / "two", budget="1GB", progress=False, executor=client
    )
    assert two.run.complete and len(two.run.computed) == 4
    assert one.collect().persons.equals(two.collect().persons)
    assert [s.removed for s in one.flow.steps] == [s.removed for s in two.flow.steps]
    assert [r.sha256 for r in one.run.records] == [r.sha256 for r in two.run.records]
    # the outcome chunks are the partitions of the ITT fit from sums
    ref = effect_path(one.collect().persons, "emp_share_", stratum=None)
    got = partitioned_effect_path(two, "emp_share_", stratum=None, executor=client)
    np.testing.assert_allclose(got.estimates, ref.estimates, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got.vcov, ref.vcov, rtol=1e-10, atol=1e-14)


def test_itt_and_hazard_on_the_cluster_equal_in_memory(client, make, tmp_path):
    table = make.itt_table(2_000, seed=8)
    for j, part in enumerate(make.split(table, 4, seed=1)):
        part.write_parquet(tmp_path / f"part-{j}.parquet")
    ref = effect_path(table, "emp_", ["x1", "x2"])
    got = partitioned_effect_path(tmp_path, "emp_", ["x1", "x2"], executor=client)
    local = partitioned_effect_path(tmp_path, "emp_", ["x1", "x2"], executor=1)
    np.testing.assert_array_equal(got.vcov, local.vcov)  # same sums in the same order
    np.testing.assert_allclose(got.estimates, ref.estimates, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got.vcov, ref.vcov, rtol=1e-10, atol=1e-14)

    spells = make.durations(3_000, seed=2)
    model = DiscreteTimeHazard()
    with use_executor(client):  # the session default reaches the partition tasks
        hz = partitioned_hazard(make.split(spells, 3, seed=4), model)
    ref_h = model.fit(spells)
    np.testing.assert_allclose(hz.glm.params, ref_h.glm.params, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(hz.glm.cov, ref_h.glm.cov, rtol=1e-10, atol=1e-14)


def test_monte_carlo_one_and_two_workers_identical(client):
    job = functools.partial(replicate, FEW_CLUSTERS_NULL)
    serial = run(job, 4, seed=21, n_jobs=1, progress=False)
    cluster = run(job, 4, seed=21, executor=DaskExecutor(client, batch_size=1), progress=False)
    assert serial.equals(cluster)


def _design(seed: int = 0):
    rng = np.random.default_rng(seed)
    n = 400
    team = rng.integers(0, 12, n)
    treated = (rng.random(n) < 0.5).astype(np.int8)
    y = rng.normal(size=(n, 3)) + 0.1 * treated[:, None]
    z = np.column_stack([np.ones(n), rng.normal(size=n)])
    return y, treated, z, team


def test_randomization_and_bootstrap_draws_do_not_depend_on_workers(client, monkeypatch):
    from dreamkit.inference import fwl_statistic, randomization_inference, wild_cluster_bootstrap
    from dreamkit.inference import randomization as ri_module
    from dreamkit.inference import wild_bootstrap as wb_module

    monkeypatch.setattr(ri_module, "_CHUNK_ELEMENTS", 40_000)  # batches of 100 allocations
    monkeypatch.setattr(wb_module, "_CHUNK_ELEMENTS", 3_600)  # blocks of 100 replications

    y, treated, z, team = _design()
    stat = fwl_statistic(y, z, team, studentize=True)
    ri1 = randomization_inference(stat, treated, team, n_draws=300, seed=3)
    ri2 = randomization_inference(stat, treated, team, n_draws=300, seed=3, executor=client)
    np.testing.assert_array_equal(ri1.draws, ri2.draws)
    np.testing.assert_array_equal(ri1.p_value, ri2.p_value)
    wb1 = wild_cluster_bootstrap(y, treated, z, team, B=499, seed=5)
    with use_executor(client):
        wb2 = wild_cluster_bootstrap(y, treated, z, team, B=499, seed=5)
    np.testing.assert_array_equal(wb1.t_boot, wb2.t_boot)
    np.testing.assert_array_equal(wb1.conf_low, wb2.conf_low)


def _slow_square(x: int) -> int:
    time.sleep(0.1)
    return x * x


def _fail_once(marker: str, key: str):
    from dreamkit.chunked import ChunkOutput

    if key == "k3" and not os.path.exists(marker):
        open(marker, "w").close()
        raise RuntimeError("worker lost")
    return ChunkOutput(pl.DataFrame({"key": [key], "value": [len(key) * 7]}))


def test_a_killed_worker_does_not_change_the_result(client):
    """Kill one worker process mid-run: its tasks are rerun elsewhere, output identical."""
    tasks = list(range(40))
    pids = client.run(os.getpid)
    victim = sorted(pids.values())[0]

    def kill() -> None:
        time.sleep(0.6)
        os.kill(victim, signal.SIGKILL)

    killer = threading.Thread(target=kill)
    killer.start()
    got = DaskExecutor(client, batch_size=1).map(_slow_square, tasks)
    killer.join()
    assert got == SerialExecutor().map(lambda x: x * x, tasks)
    assert victim not in client.run(os.getpid).values()  # it really died (nanny restarted it)


def test_an_interrupted_chunk_run_resumes_from_its_manifest(client, tmp_path):
    from dreamkit.chunked import run_chunks

    keys = [f"k{j}" for j in range(6)]
    work = functools.partial(_fail_once, str(tmp_path / "marker"))
    with pytest.raises(RuntimeError, match="worker lost"):
        run_chunks(keys, work, tmp_path / "out", run={"t": 1}, executor=client, progress=False)
    again = run_chunks(keys, work, tmp_path / "out", run={"t": 1}, executor=client, progress=False)
    assert again.complete and "k3" in again.computed and again.skipped
    serial = run_chunks(keys, work, tmp_path / "ref", run={"t": 1}, progress=False)
    assert again.scan().collect().equals(serial.scan().collect())


class _Heavy:
    """A task function that asks for one task per executor batch."""

    max_batch = 1

    def __call__(self, x: int) -> int:
        return x * x


def test_heavy_tasks_are_one_dask_task_each(client, monkeypatch):
    """Functions with ``max_batch = 1`` (register partitions, chunks) are sent as one Dask
    task each, for balance across workers and one partition in a worker's memory at a time;
    light functions are batched (about 4 batches per worker); results are equal and in
    order either way."""
    from dreamkit import executor as ex
    from dreamkit.chunked.runner import _BoundChunkTask, _ChunkTask
    from dreamkit.estimate.sufficient import _HazardCounts, _IttPass1, _IttPass2

    assert ex.max_batch(abs) == 2**31
    for cls in (_BoundChunkTask, _ChunkTask, _IttPass1, _IttPass2, _HazardCounts):
        assert cls.max_batch == 1
    sizes: list[int] = []
    real_map = client.map

    def spy(fn, batches, **kw):  # type: ignore[no-untyped-def]
        sizes.append(len(batches))
        return real_map(fn, batches, **kw)

    monkeypatch.setattr(client, "map", spy)
    pool = ex.DaskExecutor(client)
    tasks = list(range(40))
    assert pool.map(_Heavy(), tasks) == [x * x for x in tasks]
    assert pool.map(abs, tasks) == tasks
    assert sizes == [40, 4 * pool.n_workers]


def _inverse(x: int) -> float:
    return 1 / x


def _block(n: int) -> np.ndarray:
    return np.full(1000, float(n))


def test_imap_releases_each_result_on_the_workers_once_taken(client):
    """The streaming form hands results over in task order and lets the workers drop each
    one as soon as it is taken (a reduction over P partitions then never has P results
    waiting on the workers); an error of a later task surfaces when it is reached."""
    pool = DaskExecutor(client)
    stream = pool.imap(_Heavy(), list(range(12)))
    assert next(stream) == 0
    client.run(lambda: None)  # let the release reach the scheduler
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and len(client.who_has()) > 11:
        time.sleep(0.05)
    held = client.who_has()
    assert len(held) == 11, "the first result is still held after it was taken"
    assert list(stream) == [x * x for x in range(1, 12)]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and client.who_has():
        time.sleep(0.05)
    assert client.who_has() == {}
    blocks = list(pool.imap(_block, list(range(5))))
    assert [float(b[0]) for b in blocks] == [0.0, 1.0, 2.0, 3.0, 4.0]
    with pytest.raises(ZeroDivisionError):
        list(pool.imap(_inverse, [1, 2, 0, 4]))
