"""The executor seam without a cluster: seeds, serial vs local processes, the session default,
bad arguments, an unreachable scheduler."""

from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from dreamkit import executor as ex
from dreamkit.errors import InputError, SchedulerUnreachableError
from dreamkit.validate import run


def test_spawn_seeds_depend_on_index_only():
    a = ex.spawn_seeds(11, 20)
    assert a == ex.spawn_seeds(11, 20)
    assert a[:5] == ex.spawn_seeds(11, 5)
    assert len(set(a)) == 20
    ref = [int(s.generate_state(1, np.uint32)[0]) for s in np.random.SeedSequence(11).spawn(20)]
    assert a == ref


def test_serial_and_processes_give_the_same_results_in_order():
    tasks = list(range(-7, 9))
    assert ex.ProcessExecutor(2).map(abs, tasks) == ex.SerialExecutor().map(abs, tasks)


def test_resolve_and_session_default():
    assert isinstance(ex.resolve_executor(None), ex.SerialExecutor)
    assert isinstance(ex.resolve_executor(3), ex.ProcessExecutor)
    with ex.use_executor(2) as chosen:
        assert isinstance(chosen, ex.ProcessExecutor)
        assert ex.resolve_executor(None) is chosen
        with ex.use_executor(1):
            assert isinstance(ex.resolve_executor(None), ex.SerialExecutor)
        assert ex.get_executor() is chosen
    assert ex.get_executor() is None
    for bad in (0, True, 2.5, object()):
        with pytest.raises(InputError):
            ex.resolve_executor(bad)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_scheduler_is_a_typed_error_before_any_work(monkeypatch, tmp_path):
    pytest.importorskip("distributed")
    address = f"tcp://127.0.0.1:{_closed_port()}"
    monkeypatch.setattr(ex, "DEFAULT_CONNECT_TIMEOUT", 1.0)
    calls = []

    def job(seed: int):
        calls.append(seed)
        return []

    with pytest.raises(SchedulerUnreachableError, match=address):
        run(job, 3, executor=address, progress=False)
    with pytest.raises(SchedulerUnreachableError, match=address):
        ex.set_executor(address)
    assert calls == []
    assert ex.get_executor() is None


def test_chunked_outcomes_on_local_processes_equal_one_process(make, tmp_path):
    """The chunk work is picklable by the standard library (no cloudpickle needed)."""
    from dreamkit.chunked import chunked_outcomes, partition_register

    wide = make.random_wide(300, seed=4)
    trial = make.random_trial(wide, 200, seed=6)
    data = partition_register(
        wide, tmp_path / "ds", chunk_rows=150, employment="columns", progress=False
    )
    one = chunked_outcomes(data, trial, tmp_path / "one", progress=False)
    two = chunked_outcomes(data, trial, tmp_path / "two", progress=False, executor=2)
    assert [r.sha256 for r in one.run.records] == [r.sha256 for r in two.run.records]
    assert one.collect().persons.equals(two.collect().persons)


class _Recording:
    """Runs tasks in this process and keeps what each task would be sent to a worker."""

    n_workers = 2

    def __init__(self) -> None:
        self.items: list[object] = []

    def map(self, fn, tasks):  # type: ignore[no-untyped-def]
        self.items = list(tasks)
        return [fn(t) for t in self.items]


def test_each_chunk_task_ships_a_path_to_its_own_trial_rows(make, tmp_path):
    """A task carries no trial rows, only the path of its chunk's rows, staged beside the
    outputs (at 5M persons the trial is ~0.2 GB, which would otherwise travel through the
    Dask scheduler's graph); the staged files are removed once the run is complete; the
    output equals the serial run's."""
    import pickle

    from dreamkit.chunked import chunked_outcomes, partition_register

    wide = make.random_wide(300, seed=4)
    trial = make.random_trial(wide, 200, seed=6)
    data = partition_register(
        wide, tmp_path / "ds", chunk_rows=100, employment="columns", progress=False
    )
    staged: list[pl.DataFrame] = []

    class Recording(_Recording):
        def map(self, fn, tasks):  # type: ignore[no-untyped-def]
            self.items = list(tasks)
            for _key, work in self.items:  # read the staged rows before the run removes them
                staged.extend(pl.read_parquet(p) for p in work.groups.values())
            return [fn(t) for t in self.items]

    pool = Recording()
    sent = chunked_outcomes(data, trial, tmp_path / "sent", progress=False, executor=pool)
    serial = chunked_outcomes(data, trial, tmp_path / "serial", progress=False)
    assert [r.sha256 for r in sent.run.records] == [r.sha256 for r in serial.run.records]
    assert len(pool.items) == 3
    for key, work in pool.items:  # type: ignore[misc]
        assert set(work.groups) <= {key} and set(work.slices) == {key}
        assert all(isinstance(p, Path) and p.parent.name == "_inputs" for p in work.groups.values())
        assert len(pickle.dumps(work)) < 20_000  # no rows inside
    assert sum(g.height for g in staged) == trial.height  # every row staged exactly once
    back = pl.concat(staged).select(trial.columns).sort("person_id")
    assert back.equals(trial.sort("person_id"))
    assert not (tmp_path / "sent" / "_inputs").exists()


def _pid(_task: int) -> int:
    import os

    return os.getpid()


def test_process_pool_is_kept_inside_a_with_block_and_unpicklable_work_is_typed():
    from dreamkit.errors import ExecutorError

    with pytest.raises(ExecutorError, match=r"function '.*<lambda>' cannot be sent to the local"):
        ex.ProcessExecutor(2).map(lambda x: x, [1, 2])
    with pytest.raises(ExecutorError, match=r"task 0 of 'builtins.abs' cannot be sent"):
        ex.ProcessExecutor(2).map(abs, [(i for i in range(2)), 1])
    pool = ex.ProcessExecutor(2)
    with pool:
        first = set(pool.map(_pid, range(8)))
        second = set(pool.map(_pid, range(8)))
    assert first & second  # the same processes served both maps
    assert pool._pool is None  # stopped at the end of the block


def test_imap_streams_results_in_task_order_for_every_executor():
    """``imap`` yields what ``map`` returns, lazily; executors without ``imap`` fall back to
    ``map``."""
    tasks = list(range(-7, 9))
    want = [abs(t) for t in tasks]

    class OnlyMap:
        n_workers = 1

        def map(self, fn, tasks):  # type: ignore[no-untyped-def]
            return [fn(t) for t in tasks]

    stream = ex.imap(ex.SerialExecutor(), abs, tasks)
    assert not isinstance(stream, list)
    assert list(stream) == want
    assert list(ex.imap(ex.ProcessExecutor(2), abs, tasks)) == want
    with ex.ProcessExecutor(2) as pool:
        assert list(ex.imap(pool, abs, tasks)) == want
        assert list(ex.imap(pool, abs, tasks[:3])) == want[:3]
    assert list(ex.imap(OnlyMap(), abs, tasks)) == want
    assert list(ex.imap(ex.SerialExecutor(), abs, [])) == []
