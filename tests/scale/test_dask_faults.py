"""Faults of a real dask.distributed cluster are typed errors, never hangs: a task that cannot
be pickled, a function the workers cannot import, no progress within the timeout, a task that
kills its workers, a cluster that lost all its workers."""

from __future__ import annotations

import functools
import importlib
import os
import sys
import threading
import time
import uuid

import pytest

from dreamkit.errors import DreamkitError, ExecutorError
from dreamkit.executor import DaskExecutor, task_name

distributed = pytest.importorskip("distributed")


def _add(lock: object, x: int) -> int:
    return x + 1


def _sleep(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def _exit_worker(x: int) -> int:
    if x == 1:
        os._exit(1)  # the worker process dies while running this task
    return x


def _ghost_module(directory, body: str):
    """A module importable here (``directory`` put on sys.path now) but not on workers that
    were started before: they inherited the older sys.path."""
    name = f"dk_ghost_{uuid.uuid4().hex[:8]}"
    (directory / f"{name}.py").write_text(body)
    sys.path.insert(0, str(directory))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(directory))


def test_unpicklable_function_or_task_fails_before_submitting(client):
    ex = DaskExecutor(client)
    start = time.monotonic()
    with pytest.raises(ExecutorError, match=r"function '.*_add' cannot be sent.*No task"):
        ex.map(functools.partial(_add, threading.Lock()), [1, 2])
    gen = (i for i in range(3))
    with pytest.raises(ExecutorError, match=r"task 0 of 'builtins.abs' cannot be sent") as err:
        ex.map(abs, [gen, 1])
    assert isinstance(err.value, DreamkitError)
    assert time.monotonic() - start < 5
    assert ex.map(abs, [-3, 4]) == [3, 4]  # the cluster is untouched


def test_a_function_the_workers_cannot_import_is_a_typed_error(client, tmp_path):
    """distributed decodes a task inside the worker's stream from the scheduler: a function
    from a module the worker lacks closes the worker and the futures stay pending forever.
    The executor asks every worker to load the function first, and names the missing module."""
    ghost = _ghost_module(tmp_path, "def square(x):\n    return x * x\n")
    try:
        assert ghost.square(3) == 9  # importable here
        with pytest.raises(ExecutorError, match=r"worker at tcp://.*No module named 'dk_ghost_"):
            DaskExecutor(client).map(ghost.square, [1, 2, 3])
    finally:
        sys.modules.pop(ghost.__name__, None)
    assert len(client.nthreads()) == 2  # no worker was lost
    assert DaskExecutor(client).map(abs, [-1, -2]) == [1, 2]


def test_no_progress_within_the_timeout_names_the_unfinished_tasks(client):
    ex = DaskExecutor(client, batch_size=1, timeout=0.8)
    start = time.monotonic()
    with pytest.raises(
        ExecutorError, match=r"'.*_sleep' finished .* for 0.8 s \(timeout\): 3 of 3 tasks"
    ):
        ex.map(_sleep, [2.0, 2.0, 2.0])
    assert time.monotonic() - start < 2.0  # gave up before any task finished
    time.sleep(1.5)  # let the cancelled sleeps end before the next test uses the workers
    assert DaskExecutor(client, timeout=5).map(_sleep, [0.0, 0.1]) == [0.0, 0.1]


def test_killed_workers_and_a_cluster_without_workers(tmp_path):
    """Own 1-worker cluster. (1) A task that kills every worker it runs on: KilledWorker
    becomes a typed error. (2) A later task the worker cannot unpickle (task 0 can: the check
    before submitting passes) closes the worker for good: after ``lost_after`` seconds without
    workers a typed error, not a hang."""
    with (
        distributed.LocalCluster(
            n_workers=1,
            processes=True,
            threads_per_worker=1,
            host="127.0.0.1",
            dashboard_address=":0",
            silence_logs=60,
        ) as cluster,
        distributed.Client(cluster, set_as_default=False) as client,
    ):
        client.wait_for_workers(1, timeout=30)
        # the scheduler runs in this process: no retry of a task whose worker died
        client.run_on_scheduler(_set_allowed_failures, 0)
        # the tasks queued on the dying worker die with it: any of them may be named
        killed = r"of '.*_exit_worker' \(tasks ([012])\.\.\1\) was running"
        with pytest.raises(ExecutorError, match=killed):
            DaskExecutor(client, batch_size=1).map(_exit_worker, [0, 1, 2])
        client.wait_for_workers(1, timeout=30)  # the nanny restarted it
        client.run_on_scheduler(_set_allowed_failures, 3)  # the default again

        ghost = _ghost_module(tmp_path, "class Box:\n    pass\n")
        try:
            ex = DaskExecutor(client, batch_size=1, lost_after=1.0)
            start = time.monotonic()
            with pytest.raises(ExecutorError, match=r"lost all its workers \(3 of 3 tasks of"):
                ex.map(repr, [0, ghost.Box(), 2])
            assert time.monotonic() - start < 15
        finally:
            sys.modules.pop(ghost.__name__, None)


def _set_allowed_failures(n: int, dask_scheduler=None) -> None:
    dask_scheduler.allowed_failures = n


def test_task_names_are_readable():
    assert task_name(functools.partial(functools.partial(_sleep), 1.0)).endswith("._sleep")
    assert task_name(abs) == "builtins.abs"
