r"""Where embarrassingly parallel work runs: this process, local processes, or a Dask cluster.

Every workload made of independent tasks (chunks of a partitioned register, Monte Carlo
replications, partition sums of a sufficient-statistics fit) calls ``executor.map(fn, tasks)``
and gets the results back **in task order**. Three executors implement that one method:

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
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar, runtime_checkable

import numpy as np

from dreamkit.errors import InputError, SchedulerUnreachableError

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


class SerialExecutor:
    """Every task in this process, one after the other."""

    n_workers = 1

    def map(self, fn: Callable[[T], R], tasks: Sequence[T]) -> list[R]:
        return [fn(t) for t in tasks]

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
    """

    def __init__(self, n_workers: int = 2) -> None:
        if n_workers < 1:
            raise InputError(f"n_workers must be >= 1, got {n_workers}.")
        self._n = n_workers

    @property
    def n_workers(self) -> int:
        return self._n

    def map(self, fn: Callable[[T], R], tasks: Sequence[T]) -> list[R]:
        tasks = list(tasks)
        if self._n == 1 or len(tasks) <= 1:
            return [fn(t) for t in tasks]
        context = multiprocessing.get_context("spawn")
        chunksize = max(1, min(16, len(tasks) // (8 * self._n)))
        with (
            single_thread_environment(),
            ProcessPoolExecutor(max_workers=min(self._n, len(tasks)), mp_context=context) as pool,
        ):
            return list(pool.map(fn, tasks, chunksize=chunksize))

    def __repr__(self) -> str:
        return f"ProcessExecutor(n_workers={self._n})"


class _Batch:
    """``fn`` over a list of tasks (one Dask task per batch: less scheduler overhead)."""

    def __init__(self, fn: Callable[[Any], Any]) -> None:
        self.fn = fn

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
    """

    def __init__(self, client: Any, *, batch_size: int | None = None, retries: int = 0) -> None:
        if not _is_dask_client(client):
            raise InputError(
                f"DaskExecutor needs a dask.distributed.Client, got {type(client).__name__}."
            )
        if batch_size is not None and batch_size < 1:
            raise InputError(f"batch_size must be >= 1, got {batch_size}.")
        self.client = client
        self.batch_size = batch_size
        self.retries = retries

    @property
    def n_workers(self) -> int:
        try:
            info = self.client.scheduler_info(n_workers=-1)  # all workers (newer distributed)
        except TypeError:
            info = self.client.scheduler_info()
        return max(1, len(info.get("workers", {})))

    def map(self, fn: Callable[[T], R], tasks: Sequence[T]) -> list[R]:
        tasks = list(tasks)
        if not tasks:
            return []
        size = self.batch_size or max(1, -(-len(tasks) // (4 * self.n_workers)))
        batches = [tasks[s : s + size] for s in range(0, len(tasks), size)]
        futures = self.client.map(_Batch(fn), batches, pure=False, retries=self.retries)
        try:
            parts = self.client.gather(futures)
        except BaseException:
            self.client.cancel(futures)  # no orphaned work once the caller has the error
            raise
        out: list[R] = []
        for part in parts:
            out.extend(part)
        return out

    def __repr__(self) -> str:
        return f"DaskExecutor({self.client!r})"


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
