r"""Where embarrassingly parallel work runs: this process, local processes, or a Dask cluster.

Every workload made of independent tasks (chunks of a partitioned register, Monte Carlo
replications, partition sums of a sufficient-statistics fit) calls ``executor.map(fn, tasks)``
and gets the results back **in task order**. Three executors implement that one method, and
``imap(fn, tasks)``, its streaming form (:func:`imap`): results are yielded in task order as
they finish, so a reduction that consumes them holds one result at a time instead of all of
them (a worker keeps a finished result only until the client has taken it):

* :class:`SerialExecutor`: a plain loop in this process;
* :class:`ProcessExecutor`: ``n_workers`` freshly spawned local processes, each limited to one
  BLAS/polars thread (:data:`SINGLE_THREAD_ENV`); ``fn`` and the tasks must be picklable;
* :class:`DaskExecutor`: the workers of a ``dask.distributed`` cluster, through a ``Client``
  (a laptop ``LocalCluster``, SLURM through dask-jobqueue, Kubernetes through dask-kubernetes;
  see ``docs/scale-out.md``). dask is imported only here and only when a client is used, so
  dreamkit works without it installed.

Functions that take ``executor=`` accept any of: ``None`` (the executor set with
:func:`set_executor` / :func:`use_executor`, else the function's own default), an ``int``
(1: serial, n > 1: n local processes), a ``dask.distributed.Client``, a scheduler address such
as ``"tcp://10.0.0.5:8786"`` (connected at once; an unreachable scheduler raises
:class:`~dreamkit.errors.SchedulerUnreachableError` naming the address before any work), or an
:class:`Executor`. Set one for a whole session::

    from dask.distributed import Client, LocalCluster
    import dreamkit as dk
    client = Client(LocalCluster(n_workers=2, threads_per_worker=1))
    dk.set_executor(client)          # every parallel workload now runs on the cluster
    with dk.use_executor(1): ...     # ... except this block, which runs serially

Reproducibility: a task never depends on which worker runs it or on how many there are.
Random tasks get their own seed, spawned in advance from the run seed by
``numpy.random.SeedSequence`` (:func:`spawn_seeds`), so results are identical for any number of
workers and any executor. A task lost with its worker (a killed process, a pre-empted node) is
rerun by the Dask scheduler on another worker; because tasks are deterministic functions of
their inputs the result is unchanged.

Faults are typed errors, never hangs (:class:`~dreamkit.errors.ExecutorError`, naming the
function, task indices, workers and modules, never data values): a function or first task
that cannot be pickled, or that a Dask worker cannot load (checked on one worker before
any task is submitted), a cluster that has lost all its workers, no progress within
``DaskExecutor(timeout=)``, a task that kills every worker it runs on, a crashed local
process.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import pickle
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar, runtime_checkable

import numpy as np

from dreamkit.errors import ExecutorError, InputError, SchedulerUnreachableError

T = TypeVar("T")
R = TypeVar("R")

#: Environment that keeps every local worker process on one thread (BLAS and polars): with
#: many small tasks on a few cores, threads inside workers only oversubscribe the machine.
SINGLE_THREAD_ENV = {
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "POLARS_MAX_THREADS": "1",
}

DEFAULT_CONNECT_TIMEOUT = 10.0
"""Seconds to wait for a scheduler given by its address before raising."""


def spawn_seeds(seed: int, n_tasks: int) -> list[int]:
    """Independent per-task seeds spawned from one run seed (``SeedSequence(seed).spawn``).

    The i-th seed depends only on ``seed`` and ``i`` (a longer run extends a shorter one), not
    on the number of workers.
    """
    if n_tasks < 0:
        raise InputError(f"the number of tasks must be >= 0, got {n_tasks}.")
    children = np.random.SeedSequence(seed).spawn(n_tasks)
    return [int(child.generate_state(1, dtype=np.uint32)[0]) for child in children]


@runtime_checkable
class Executor(Protocol):
    """Runs ``fn`` on every task and returns the results in task order."""

    @property
    def n_workers(self) -> int: ...

    def map(self, fn: Callable[[T], R], tasks: Sequence[T]) -> list[R]: ...


def max_batch(fn: Callable[..., Any]) -> int:
    """The most tasks an executor may run as one batch for ``fn``: its ``max_batch``
    attribute if it has one, else no limit. Functions whose tasks are each heavy (a register
    partition read whole) set ``max_batch = 1``: one Dask task per partition balances the
    workers and keeps a worker's memory to one partition at a time."""
    limit = getattr(fn, "max_batch", None)
    return int(limit) if isinstance(limit, int) and limit >= 1 else 2**31


def imap(pool: Executor, fn: Callable[[T], R], tasks: Sequence[T]) -> Iterator[R]:
    """The results of ``fn`` over ``tasks`` in task order, yielded as they finish.

    Uses the executor's own ``imap`` when it has one (the three executors here do), else its
    ``map``. Reductions over many partitions (cluster scores, cell counts) consume results
    one by one through this, so neither the client nor a worker holds every partition's
    result at once: memory stays at one result per worker plus the running total, whatever
    the number of partitions.
    """
    streaming = getattr(pool, "imap", None)
    if callable(streaming):
        return iter(streaming(fn, tasks))
    return iter(pool.map(fn, tasks))


class SerialExecutor:
    """Every task in this process, one after the other."""

    n_workers = 1

    def map(self, fn: Callable[[T], R], tasks: Sequence[T]) -> list[R]:
        return [fn(t) for t in tasks]

    def imap(self, fn: Callable[[T], R], tasks: Sequence[T]) -> Iterator[R]:
        return (fn(t) for t in tasks)

    def __repr__(self) -> str:
        return "SerialExecutor()"


@contextmanager
def single_thread_environment() -> Iterator[None]:
    """Set :data:`SINGLE_THREAD_ENV` for the block (inherited by spawned workers), then
    restore the previous values."""
    saved = {key: os.environ.get(key) for key in SINGLE_THREAD_ENV}
    os.environ.update(SINGLE_THREAD_ENV)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


class ProcessExecutor:
    """``n_workers`` spawned local processes (one BLAS/polars thread each).

    ``fn`` must be picklable (a module-level function, a ``functools.partial`` of one, or an
    instance of a module-level class). Spawned workers import the calling script, so a script
    must run under ``if __name__ == "__main__":`` (notebooks need nothing).

    Each :meth:`map` starts its own pool of processes and stops it, unless the executor is
    used as a context manager (``with ProcessExecutor(2) as ex: ...``): then one pool, started
    at the first map, serves every map in the block (the processes start, and import numpy
    and dreamkit, once).
    """

    def __init__(self, n_workers: int = 2) -> None:
        if n_workers < 1:
            raise InputError(f"n_workers must be >= 1, got {n_workers}.")
        self._n = n_workers
        self._depth = 0  # nesting of ``with`` blocks
        self._pool: ProcessPoolExecutor | None = None

    @property
    def n_workers(self) -> int:
        return self._n

    def map(self, fn: Callable[[T], R], tasks: Sequence[T]) -> list[R]:
        return list(self.imap(fn, tasks))

    def imap(self, fn: Callable[[T], R], tasks: Sequence[T]) -> Iterator[R]:
        tasks = list(tasks)
        if self._n == 1 or len(tasks) <= 1:
            yield from (fn(t) for t in tasks)
            return
        _std_pickle(fn, tasks[0])
        chunksize = max(1, min(16, len(tasks) // (8 * self._n), max_batch(fn)))
        own = self._depth == 0  # outside a ``with`` block: a pool for this call only
        if own:
            pool = self._new_pool(min(self._n, len(tasks)))
        else:
            if self._pool is None:
                self._pool = self._new_pool(self._n)
            pool = self._pool
        try:
            with single_thread_environment():  # processes spawn as the tasks are submitted
                results = pool.map(fn, tasks, chunksize=chunksize)
            yield from results
        except BrokenProcessPool as exc:
            raise self._broken(pool, fn, exc) from None
        finally:
            if own:
                pool.shutdown(wait=True, cancel_futures=True)

    @staticmethod
    def _new_pool(n: int) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=n, mp_context=multiprocessing.get_context("spawn"))

    def _broken(
        self, pool: ProcessPoolExecutor, fn: Callable[..., Any], exc: BaseException
    ) -> ExecutorError:
        if pool is self._pool:
            self._pool = None  # a fresh pool for the next map
        return ExecutorError(
            f"a local worker process running {task_name(fn)!r} died abruptly ({exc}); "
            "a task that crashes its process (out of memory, a segfault in compiled "
            "code, a function the spawned processes cannot import) stops the pool. Use "
            "fewer processes or smaller tasks; functions must come from importable modules."
        )

    def __enter__(self) -> ProcessExecutor:
        self._depth += 1
        return self

    def __exit__(self, *exc: object) -> None:
        self._depth -= 1
        if self._depth == 0 and self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __repr__(self) -> str:
        return f"ProcessExecutor(n_workers={self._n})"


def _std_pickle(fn: Callable[..., Any], first: Any) -> None:
    """Local processes receive ``fn`` and the tasks through the standard pickle: an
    ExecutorError naming the function or task 0 if either cannot be pickled."""
    name = task_name(fn)
    for what, obj in ((f"the function {name!r}", fn), (f"task 0 of {name!r}", first)):
        try:
            pickle.dumps(obj)
        except Exception as exc:
            raise ExecutorError(
                f"{what} cannot be sent to the local worker processes: it cannot be pickled "
                f"({type(exc).__name__}: {_short(str(exc))}). Use a module-level function "
                "(or a functools.partial of one; no lambdas or closures) and plain data as "
                "tasks, or run it with executor=1."
            ) from None


class _Batch:
    """``fn`` over a list of tasks (one Dask task per batch: less scheduler overhead)."""

    def __init__(self, fn: Callable[[Any], Any]) -> None:
        self.fn = fn
        self.__name__ = "dreamkit-" + task_name(fn).rpartition(".")[2]  # the Dask key prefix

    def __call__(self, batch: list[Any]) -> list[Any]:
        return [self.fn(t) for t in batch]


class DaskExecutor:
    """The workers of a ``dask.distributed.Client``.

    Args:
        client: a connected ``dask.distributed.Client``.
        batch_size: tasks per Dask task; None = enough batches for about 4 per worker (few
            scheduler round trips for thousands of tiny replications).
        retries: how often a task that failed is retried (a task lost with its worker is
            always rescheduled by Dask; this covers exceptions raised inside it).
        timeout: seconds without progress (no task finishing) after which :meth:`map` gives
            up with :class:`~dreamkit.errors.ExecutorError` naming the unfinished tasks; None
            (default) waits as long as tasks keep running.
        lost_after: seconds a cluster that had workers may have none before :meth:`map`
            gives up with :class:`~dreamkit.errors.ExecutorError` (long enough for a nanny to
            restart a killed worker; a cluster that never had a worker during the call, e.g. a
            SLURM cluster still queueing its jobs, is waited for, up to ``timeout``).

    Before any task is submitted, :meth:`map` pickles the function and the first task here
    and asks a worker to load them, so a function the workers cannot import (a module
    only this machine has) is an :class:`~dreamkit.errors.ExecutorError` naming the worker
    and the missing module, not a hang: ``dask.distributed`` decodes a task inside the
    worker's connection to the scheduler, and a task that cannot be decoded there closes the
    worker, whose nanny does not restart it, and the futures stay pending.
    """

    #: seconds between checks of progress and of the number of workers while waiting
    poll_interval = 0.5

    def __init__(
        self,
        client: Any,
        *,
        batch_size: int | None = None,
        retries: int = 0,
        timeout: float | None = None,
        lost_after: float = 30.0,
    ) -> None:
        if not _is_dask_client(client):
            raise InputError(
                f"DaskExecutor needs a dask.distributed.Client, got {type(client).__name__}."
            )
        if batch_size is not None and batch_size < 1:
            raise InputError(f"batch_size must be >= 1, got {batch_size}.")
        if timeout is not None and not timeout > 0:
            raise InputError(f"timeout must be > 0 seconds (or None), got {timeout}.")
        if not lost_after > 0:
            raise InputError(f"lost_after must be > 0 seconds, got {lost_after}.")
        self.client = client
        self.batch_size = batch_size
        self.retries = retries
        self.timeout = timeout
        self.lost_after = lost_after

    @property
    def n_workers(self) -> int:
        return max(1, self._live_workers())

    def _live_workers(self) -> int:
        """Workers the scheduler knows now (0 when the cluster has lost them all)."""
        return len(self.client.nthreads())

    def map(self, fn: Callable[[T], R], tasks: Sequence[T]) -> list[R]:
        tasks = list(tasks)
        if not tasks:
            return []
        futures, starts, name = self._submit(fn, tasks)
        try:
            self._wait(futures, starts, len(tasks), name, futures)
            parts = self.client.gather(futures)
        except BaseException as exc:
            self.client.cancel(futures)  # no orphaned work once the caller has the error
            raise self._translate(exc, futures, starts, len(tasks), name) from None
        out: list[R] = []
        for part in parts:
            out.extend(part)
        return out

    def imap(self, fn: Callable[[T], R], tasks: Sequence[T]) -> Iterator[R]:
        """:meth:`map`, yielding results in task order as they finish; each result is
        fetched from its worker (and released there) as soon as it and every earlier one
        are done, so the workers hold few finished results at any time."""
        tasks = list(tasks)
        if not tasks:
            return
        futures, starts, name = self._submit(fn, tasks)
        slots: list[Any] = list(futures)
        try:
            for i, future in enumerate(futures):
                try:
                    self._wait(slots, starts, len(tasks), name, [future])
                    part = future.result()
                except BaseException as exc:
                    raise self._translate(exc, futures, starts, len(tasks), name) from None
                slots[i] = _TAKEN
                future.release()  # the worker may drop the result now
                yield from part
        finally:
            self.client.cancel([f for f, s in zip(futures, slots, strict=True) if s is not _TAKEN])

    def _submit(self, fn: Callable[[T], R], tasks: list[T]) -> tuple[list[Any], list[int], str]:
        name = task_name(fn)
        batch_fn = _Batch(fn)
        blob = _dask_pickle(batch_fn, tasks[0], name)  # an unpicklable task fails here
        self._check_workers_load(blob, name)  # ... and one the workers cannot load, here
        size = self.batch_size or max(1, -(-len(tasks) // (4 * self.n_workers)))
        size = min(size, max_batch(fn))
        starts = list(range(0, len(tasks), size))
        batches = [tasks[s : s + size] for s in starts]
        futures = self.client.map(batch_fn, batches, pure=False, retries=self.retries)
        return futures, starts, name

    @staticmethod
    def _translate(
        exc: BaseException, futures: list[Any], starts: list[int], n_tasks: int, name: str
    ) -> BaseException:
        """A task's own exception unchanged; ``KilledWorker`` as an ExecutorError naming the
        tasks of the batch the scheduler gave up on."""
        if type(exc).__name__ != "KilledWorker":
            return exc
        keys = [f.key for f in futures]
        key = getattr(exc, "task", None)
        where = ""
        if key in keys:
            i = keys.index(key)
            last = (starts[i + 1] if i + 1 < len(starts) else n_tasks) - 1
            where = f" (tasks {starts[i]}..{last})"
        return ExecutorError(
            f"a Dask task of {name!r}{where} was running on workers that died each "
            "time, so the scheduler gave up on it (distributed.KilledWorker). A task "
            "that crashes its worker (out of memory, a segfault in compiled code) is "
            "retried on others up to the scheduler's allowed-failures; give the "
            "workers more memory or split the work into smaller tasks, and see the "
            "workers' logs."
        )

    def _check_workers_load(self, blob: bytes, name: str) -> None:
        """One worker unpickles ``blob`` (function + first task), or an error.

        One is enough: workers share an environment, and a worker that differs closes on the
        first task it cannot decode while the others finish the work. Probing one keeps the
        cost at one extra copy of the function (which may carry data arrays)."""
        workers = sorted(self.client.nthreads())
        if not workers:
            return  # none yet (a cluster still starting): _wait watches the cluster
        try:
            answers = self.client.run(_load_error, blob, workers=workers[:1], on_error="return")
        except TypeError:  # pragma: no cover - distributed < 2023.10 has no on_error
            answers = self.client.run(_load_error, blob, workers=workers[:1])
        for address, answer in sorted(answers.items()):
            if answer is None or isinstance(answer, OSError):
                continue  # loaded; or the worker was lost meanwhile (the scheduler copes)
            if isinstance(answer, BaseException):  # the worker could not load dreamkit itself
                answer = f"{type(answer).__name__}: {answer}"
            raise ExecutorError(
                f"the Dask worker at {address} cannot load the function {name!r} or its task "
                f"0 ({_short(str(answer))}). The workers need every module the function and "
                "its arguments come from: install it in the workers' environment (the same "
                "as this one), ship a local module with client.upload_file(path), or pickle "
                "it by value with cloudpickle.register_pickle_by_value(module). No task was "
                "submitted."
            )

    def _wait(
        self,
        futures: list[Any],
        starts: list[int],
        n_tasks: int,
        name: str,
        awaited: list[Any],
    ) -> None:
        """Until every future of ``awaited`` is done (all of ``futures``, or the next one
        :meth:`imap` yields); an ExecutorError on no progress or no workers."""
        all_done = _countdown(awaited)
        n_done, progress_at = 0, time.monotonic()
        seen_workers = self._live_workers() > 0
        gone_at: float | None = None
        while not all_done.wait(self.poll_interval):
            if any(f.status in ("error", "cancelled") for f in awaited):
                return  # gather / result raises the task's own exception
            status = [f.status for f in futures]
            now = time.monotonic()
            finished = status.count("finished")
            if finished > n_done:
                n_done, progress_at = finished, now
            ends = [*starts[1:], n_tasks]
            pending = [
                (s, e) for s, e, st in zip(starts, ends, status, strict=True) if st != "finished"
            ]
            if not pending:
                continue  # all finished since the wait timed out
            n_pending = sum(e - s for s, e in pending)
            workers = self._live_workers()
            if workers:
                seen_workers, gone_at = True, None
            elif seen_workers:
                gone_at = now if gone_at is None else gone_at
                if now - gone_at >= self.lost_after:
                    raise ExecutorError(
                        f"the Dask cluster at {self._address()} has lost all its workers "
                        f"({n_pending} of {n_tasks} tasks of {name!r} unfinished, from task "
                        f"{pending[0][0]}; none for {now - gone_at:.0f} s). Restart or scale "
                        "the cluster and rerun (chunked runs resume from their manifest). A "
                        "common cause is a task the workers cannot unpickle: a function or "
                        "class from a module only this machine has, which closes each worker "
                        "that receives it (see the workers' logs)."
                    )
            if self.timeout is not None and now - progress_at >= self.timeout:
                raise ExecutorError(
                    f"no task of {name!r} finished on the Dask cluster at {self._address()} "
                    f"for {self.timeout:g} s (timeout): {n_pending} of {n_tasks} tasks "
                    f"unfinished, from task {pending[0][0]}; {workers} worker(s) connected. "
                    "Check the workers (dashboard, logs), or raise the timeout for long tasks."
                )

    def _address(self) -> str:
        return str(getattr(self.client.scheduler, "address", None) or "?")

    def __repr__(self) -> str:
        return f"DaskExecutor({self.client!r})"


class _Taken:
    """A result already handed to the caller (counts as finished while waiting)."""

    status = "finished"


_TAKEN = _Taken()


def _countdown(futures: list[Any]) -> threading.Event:
    """An event set once every future is done (finished, failed or cancelled)."""
    left = [len(futures)]
    lock = threading.Lock()
    done = threading.Event()

    def one_done(_future: Any) -> None:
        with lock:
            left[0] -= 1
            if left[0] <= 0:
                done.set()

    for future in futures:
        future.add_done_callback(one_done)
    return done


def task_name(fn: Callable[..., Any]) -> str:
    """A readable name of a task function (the wrapped function of a ``partial``)."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    name = getattr(fn, "__qualname__", None) or type(fn).__qualname__
    module = getattr(fn, "__module__", None) or type(fn).__module__
    return f"{module}.{name}" if module else str(name)


def _short(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _dask_pickle(fn: Callable[..., Any], first: Any, name: str) -> bytes:
    """``(fn, [first])`` pickled as ``distributed`` pickles tasks; an ExecutorError naming
    the function or task 0 if either cannot be pickled."""
    from distributed.protocol.pickle import dumps

    try:
        fn_blob = dumps(fn)
    except Exception as exc:
        raise ExecutorError(
            f"the function {name!r} cannot be sent to the Dask workers: it cannot be pickled "
            f"({type(exc).__name__}: {_short(str(exc))}). Define it at module level (or as a "
            "functools.partial of one) and keep locks, open files, connections and generators "
            "out of it. No task was submitted."
        ) from None
    try:
        task_blob = dumps([first])
    except Exception as exc:
        raise ExecutorError(
            f"task 0 of {name!r} cannot be sent to the Dask workers: it cannot be pickled "
            f"({type(exc).__name__}: {_short(str(exc))}). Tasks must be plain data (numbers, "
            "strings, paths, arrays, frames). No task was submitted."
        ) from None
    return dumps((fn_blob, task_blob))


def _load_error(blob: bytes) -> str | None:
    """Run on a worker: None if the pickled function and task load there, else the error."""
    from distributed.protocol.pickle import loads

    try:
        fn_blob, task_blob = loads(blob)
        loads(fn_blob)
        loads(task_blob)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def _is_dask_client(obj: object) -> bool:
    """Whether ``obj`` is a ``distributed.Client`` (checked without importing dask)."""
    return any(
        c.__name__ == "Client" and c.__module__.split(".")[0] == "distributed"
        for c in type(obj).__mro__
    )


def connect(address: str, *, timeout: float | None = None) -> Any:
    """A ``dask.distributed.Client`` connected to the scheduler at ``address``.

    Raises :class:`~dreamkit.errors.SchedulerUnreachableError` naming the address when no
    scheduler answers within ``timeout`` seconds (default :data:`DEFAULT_CONNECT_TIMEOUT`),
    and ``ImportError`` with the install
    command when dask is not installed.
    """
    try:
        from distributed import Client
    except ImportError as exc:  # pragma: no cover - dask is in the test extra
        raise ImportError(
            "running on a Dask cluster needs dask.distributed: pip install 'dreamkit[dask]'."
        ) from exc
    timeout = DEFAULT_CONNECT_TIMEOUT if timeout is None else timeout
    try:
        return Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise SchedulerUnreachableError(
            f"cannot reach the Dask scheduler at {address!r} within {timeout:g} s ({exc}); "
            "check the address and port, that the scheduler is running, and that this machine "
            "may connect to it."
        ) from None


def local_cluster(
    n_workers: int | None = None,
    *,
    memory_limit: str | int | None = "auto",
    profile: bool = False,
    pin: bool = False,
    **cluster_options: Any,
) -> Any:
    """A ``dask.distributed.Client`` owning a fresh ``LocalCluster`` set up for dreamkit.

    Each worker is one process with one task thread (``threads_per_worker=1``) whose polars
    pool is one thread (``POLARS_MAX_THREADS=1``; the nanny already limits OpenMP, MKL and
    OpenBLAS), and distributed's statistical profiler is off unless ``profile=True`` (it
    samples every running task's stack on the worker's event loop every 10 ms: about 6% of
    a core per worker with dreamkit's tasks, measured). ``pin=True`` also pins worker i, all
    its threads, to core i of this process's CPU set (``sched_setaffinity``; Linux), so that
    a worker is exactly one core, as a ``cores=1`` job under a batch scheduler is; leave it
    off on a machine shared with other users. A worker restarted by its nanny is not pinned
    again.

    Args:
        n_workers: worker processes; default one per available core.
        memory_limit: per worker (distributed's ``memory_limit``; give at least the chunked
            functions' ``budget``).
        profile: keep distributed's profiler on (for the dashboard's profile page).
        pin: pin each worker process to its own core.
        cluster_options: further ``LocalCluster`` options (``dashboard_address``, ``env``...).

    Use it as ``with dx.local_cluster(2) as client: dx.set_executor(client); ...``: closing
    the client also closes its cluster. Scripts must run under ``if __name__ ==
    "__main__":`` (the workers are spawned processes).
    """
    try:
        import dask
        from distributed import Client
    except ImportError as exc:  # pragma: no cover - dask is in the test extra
        raise ImportError(
            "a local Dask cluster needs dask.distributed: pip install 'dreamkit[dask]'."
        ) from exc
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    n = n_workers if n_workers is not None else max(1, len(cores) or (os.cpu_count() or 1))
    if n < 1:
        raise InputError(f"n_workers must be >= 1, got {n}.")
    if pin and not cores:
        raise InputError("pin=True needs os.sched_setaffinity (Linux); use pin=False here.")
    env = {"POLARS_MAX_THREADS": "1", **cluster_options.pop("env", {})}
    cluster_options.setdefault("threads_per_worker", 1)
    cluster_options.setdefault("processes", True)
    # nannies copy the configuration when they are created, inside Client(...)
    with dask.config.set({"distributed.worker.profile.enabled": bool(profile)}):
        client = Client(
            n_workers=n,
            memory_limit=memory_limit,
            env=env,
            set_as_default=False,
            **cluster_options,
        )
    client.wait_for_workers(n)
    if pin:
        workers = sorted(client.scheduler_info()["workers"])
        for i, address in enumerate(workers):
            client.run(_pin_to, cores[i % len(cores)], workers=[address])
    return client


def _pin_to(core: int) -> int:
    """Pin every thread of this (worker) process to ``core``; threads started later inherit
    it from the thread that starts them."""
    for tid in os.listdir("/proc/self/task"):
        try:
            os.sched_setaffinity(int(tid), {core})
        except OSError:  # a thread that ended meanwhile
            pass
    return core


ExecutorLike = Executor | int | str | Any | None

_default: list[Executor | None] = [None]


def set_executor(executor: ExecutorLike) -> Executor | None:
    """Set the session's default executor (None: back to each function's own default).

    Accepts what ``executor=`` accepts (module docstring); returns the resolved executor.
    """
    resolved = None if executor is None else resolve_executor(executor)
    _default[0] = resolved
    return resolved


def get_executor() -> Executor | None:
    """The executor set with :func:`set_executor` or :func:`use_executor` (None if unset)."""
    return _default[0]


@contextmanager
def use_executor(executor: ExecutorLike) -> Iterator[Executor | None]:
    """Use ``executor`` as the default inside the block, then restore the previous one."""
    saved = _default[0]
    try:
        yield set_executor(executor)
    finally:
        _default[0] = saved


def resolve_executor(executor: ExecutorLike, *, default: int = 1) -> Executor:
    """The :class:`Executor` for an ``executor=`` argument (module docstring).

    ``None`` gives the session default if one is set, else ``default`` local workers (1:
    serial).
    """
    if executor is None:
        executor = _default[0] if _default[0] is not None else default
    if isinstance(executor, bool):
        raise InputError(
            f"executor must be an int, a Client, an address or an Executor; got {executor!r}."
        )
    if isinstance(executor, int):
        if executor < 1:
            raise InputError(f"executor = {executor} workers; use >= 1.")
        return SerialExecutor() if executor == 1 else ProcessExecutor(executor)
    if isinstance(executor, str):
        return DaskExecutor(connect(executor))
    if _is_dask_client(executor):
        return DaskExecutor(executor)
    if isinstance(executor, Executor):
        return executor
    raise InputError(
        "executor must be None, a number of local processes, a dask.distributed.Client, a "
        f"scheduler address or an Executor; got {type(executor).__name__}."
    )
