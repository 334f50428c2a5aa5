"""dx.local_cluster: one-core Dask workers for dreamkit (one thread, one polars thread, no
profiler; optionally pinned), closed with its client."""

from __future__ import annotations

import os
import sys

import pytest

from dreamkit import executor as dx
from dreamkit.errors import InputError

pytest.importorskip("distributed")
cloudpickle = pytest.importorskip("cloudpickle")
cloudpickle.register_pickle_by_value(sys.modules[__name__])  # test functions go by value


def _state(dask_worker):  # type: ignore[no-untyped-def]
    import dask

    threads = {frozenset(os.sched_getaffinity(int(tid))) for tid in os.listdir("/proc/self/task")}
    return {
        "polars": os.environ.get("POLARS_MAX_THREADS"),
        "profile_config": dask.config.get("distributed.worker.profile.enabled"),
        "profiling": "profile" in dask_worker.periodic_callbacks,
        "nthreads": dask_worker.state.nthreads,
        "affinity": threads,
    }


def test_local_cluster_gives_one_core_workers_and_closes_with_its_client():
    cores = sorted(os.sched_getaffinity(0))
    with dx.local_cluster(2, pin=True, host="127.0.0.1", dashboard_address=None) as client:
        states = list(client.run(_state).values())
        assert len(states) == 2
        for st in states:
            assert st["polars"] == "1" and st["nthreads"] == 1
            assert st["profile_config"] is False and not st["profiling"]
            assert len(st["affinity"]) == 1  # every thread of the worker on one core set
            (only,) = st["affinity"]
            assert len(only) == 1
        pinned = {next(iter(next(iter(st["affinity"])))) for st in states}
        assert len(pinned) == min(2, len(cores))
        assert dx.DaskExecutor(client).map(abs, [-3, 4, -5]) == [3, 4, 5]
        cluster = client.cluster
    assert "closed" in str(cluster.status).lower()
    with dx.local_cluster(1, profile=True, host="127.0.0.1", dashboard_address=None) as client:
        (st,) = client.run(_state).values()
        assert st["profiling"] and len(next(iter(st["affinity"]))) == len(cores)
    with pytest.raises(InputError):
        dx.local_cluster(0)
