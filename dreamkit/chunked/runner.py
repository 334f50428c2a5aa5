"""The chunk runner: apply a function to every chunk, write each result atomically, resume.

:func:`run_chunks` is deliberately small: chunks are independent, so there is nothing to
schedule. The out-of-core work inside a chunk (Parquet scans with projection and filter
push-down, row batches) is done by polars. Chunks run in parallel either on an executor
(``executor=``: local processes or the workers of a ``dask.distributed`` cluster, see
:mod:`dreamkit.executor` and ``docs/scale-out.md``; each task writes its chunk file and record
itself, so chunks finished before a crash are kept) or as independent cluster array jobs on a
shared directory (``job=(k, K)`` runs every K-th chunk starting at k, see
``docs/large-registers.md``).

Guarantees, for a chunk function that is deterministic:

* a chunk's output file appears under its final name only when complete (atomic rename), and
  its record only after that, so a crash at any point loses at most the chunks in flight;
* a rerun with the same arguments skips finished chunks and redoes the rest;
* ``_SUCCESS`` exists only when every chunk of the run is finished.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
from tqdm.auto import tqdm

from dreamkit.chunked._atomic import sha256_file, write_json_atomic, write_parquet_atomic
from dreamkit.chunked.manifest import CHUNK_DIR, ChunkRecord, Manifest
from dreamkit.errors import InputError
from dreamkit.executor import ExecutorLike, SerialExecutor, resolve_executor

INPUT_DIR = "_inputs"  # per-chunk inputs staged for the workers, removed once complete


@dataclass(frozen=True)
class ChunkOutput:
    """What a chunk function returns: a table to write (or None) and counts to record."""

    frame: pl.DataFrame | None
    info: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ChunkRun:
    """Outcome of :func:`run_chunks`.

    Attributes:
        out_dir: the output directory.
        records: records of all finished chunks of the run (this and earlier invocations).
        computed: keys computed by this invocation.
        skipped: keys found finished and skipped.
        complete: whether every chunk is finished (``_SUCCESS`` written).
    """

    out_dir: Path
    records: list[ChunkRecord]
    computed: list[str]
    skipped: list[str]
    complete: bool

    def __repr__(self) -> str:
        return (
            f"ChunkRun({len(self.records)} chunk(s) finished, {len(self.computed)} computed now, "
            f"{len(self.skipped)} skipped, complete={self.complete})"
        )

    @property
    def files(self) -> list[Path]:
        """Output files of the finished chunks, in chunk order."""
        return [self.out_dir / r.file for r in self.records if r.file is not None]

    def scan(self) -> pl.LazyFrame:
        """All chunk outputs as one LazyFrame, in chunk order (requires a complete run)."""
        if not self.complete:
            raise InputError(
                f"the run in {str(self.out_dir)!r} is not complete; rerun it to finish the "
                "missing chunks before reading the result."
            )
        if not self.files:
            raise InputError("the run produced no rows (every chunk was empty).")
        return pl.scan_parquet(self.files)


def job_keys(keys: Sequence[str], job: tuple[int, int] | None) -> list[str]:
    """The keys of job ``k`` of ``K`` (every K-th key from k); all keys when ``job`` is None."""
    if job is None:
        return list(keys)
    k, n_jobs = job
    if n_jobs < 1 or not 0 <= k < n_jobs:
        raise InputError(f"job must be (k, K) with 0 <= k < K, got {job!r}.")
    return list(keys[k::n_jobs])


def run_chunks(
    keys: Sequence[str],
    work: Callable[[str], ChunkOutput],
    out_dir: str | Path,
    *,
    run: Mapping[str, Any],
    job: tuple[int, int] | None = None,
    progress: bool = True,
    description: str = "chunks",
    executor: ExecutorLike = None,
) -> ChunkRun:
    """Run ``work(key)`` for every unfinished chunk and record it (module docstring).

    Args:
        keys: chunk keys in order; each names its output file ``<key>.parquet``.
        work: the chunk function; must depend only on its chunk (and fixed arguments).
        out_dir: output directory (created if needed).
        run: JSON-able description of the run (task, parameters, input fingerprint); a
            rerun in the same directory must give the same one.
        job: ``(k, K)`` to process only every K-th chunk starting at k (cluster arrays).
        progress: show a tqdm progress bar (chunks, persons/rows written).
        description: label of the progress bar.
        executor: where the chunks run (:mod:`dreamkit.executor`; default the session
            executor, else serially in this process). With processes or a Dask client,
            ``work`` must be picklable (Dask also ships closures) and each task writes its
            chunk's file and record itself; output is identical to a serial run.
    """
    pool = resolve_executor(executor)  # an unreachable scheduler fails here, before any work
    manifest = Manifest(out_dir, run, keys)
    mine = job_keys(keys, job)
    finished = {k for k in mine if manifest.done(k) is not None}
    skipped = [k for k in mine if k in finished]
    todo = [k for k in mine if k not in finished]
    computed: list[str] = []
    bar = tqdm(total=len(mine), initial=len(skipped), desc=description, disable=not progress)
    rows = 0
    try:
        if not isinstance(pool, SerialExecutor) and todo:
            records = _map_chunks(pool, work, manifest.out_dir, todo)
            for key, record in zip(todo, records, strict=True):
                computed.append(key)
                rows += record.rows
            bar.update(len(todo))
            bar.set_postfix(rows=f"{rows:,}")
            todo = []
        for key in todo:
            start = time.perf_counter()
            result = work(key)
            manifest.record(_write(manifest.out_dir, key, result, start))
            computed.append(key)
            rows += 0 if result.frame is None else result.frame.height
            bar.update(1)
            bar.set_postfix(rows=f"{rows:,}")
    finally:
        bar.close()
    complete = manifest.finalize()
    if complete:  # staged inputs (_map_chunks) are needed only until every chunk is done
        shutil.rmtree(manifest.out_dir / INPUT_DIR, ignore_errors=True)
    return ChunkRun(manifest.out_dir, manifest.records(), computed, skipped, complete)


def _map_chunks(
    pool: Any, work: Callable[[str], ChunkOutput], out_dir: Path, todo: list[str]
) -> list[ChunkRecord]:
    """Run ``todo`` on ``pool``. Work that can be narrowed to one chunk (a method
    ``stage(key, directory)`` returning the work for that chunk alone, its inputs, e.g. its
    trial rows, written to a file under ``directory``, here ``out_dir/_inputs``, and read
    back by the task) ships each task a path to its own inputs, so no worker receives the
    whole trial table and it does not travel through a scheduler's task graph."""
    stage = getattr(work, "stage", None)
    if callable(stage):
        inputs = out_dir / INPUT_DIR
        inputs.mkdir(parents=True, exist_ok=True)
        items = [(k, stage(k, inputs)) for k in todo]
        return list(pool.map(_BoundChunkTask(out_dir), items))
    return list(pool.map(_ChunkTask(work, out_dir), todo))


class _BoundChunkTask:
    """One chunk whose work arrives with the task: ``(key, work narrowed to key)``."""

    max_batch = 1  # a chunk is heavy: one executor task each (dreamkit.executor.max_batch)

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir

    def __call__(self, item: tuple[str, Callable[[str], ChunkOutput]]) -> ChunkRecord:
        key, work = item
        return _ChunkTask(work, self.out_dir)(key)


class _ChunkTask:
    """One chunk on a worker: compute, write the file atomically, then its record."""

    max_batch = 1  # a chunk is heavy: one executor task each (dreamkit.executor.max_batch)

    def __init__(self, work: Callable[[str], ChunkOutput], out_dir: Path) -> None:
        self.work = work
        self.out_dir = out_dir

    def __call__(self, key: str) -> ChunkRecord:
        start = time.perf_counter()
        record = _write(self.out_dir, key, self.work(key), start)
        write_json_atomic(asdict(record), self.out_dir / CHUNK_DIR / f"{key}.json")
        return record


def _write(out_dir: Path, key: str, result: ChunkOutput, start: float) -> ChunkRecord:
    frame = result.frame
    if frame is None or frame.height == 0:
        return ChunkRecord(key, None, 0, 0, None, time.perf_counter() - start, dict(result.info))
    name = f"{key}.parquet"
    path = out_dir / name
    write_parquet_atomic(frame, path)
    return ChunkRecord(
        key=key,
        file=name,
        rows=frame.height,
        bytes=path.stat().st_size,
        sha256=sha256_file(path),
        seconds=time.perf_counter() - start,
        info=dict(result.info),
    )
