"""Outcomes and person-period data of a partitioned register, chunk by chunk, as in memory.

:func:`chunked_outcomes` calls :func:`dreamkit.outcomes.build_outcomes` (the in-memory function,
unchanged) on each person chunk of a :class:`~dreamkit.chunked.PartitionedRegister` and writes
the person tables to ``out_dir`` through the resumable runner. Because every outcome of a
person depends only on that person's register row and allocation week, the rows are the rows
of the in-memory result (in chunk order rather than trial order), and the sample-flow ledger is
the in-memory ledger: for every step, removed = the sum over chunks of the persons it removed,

.. math:: \\text{removed}_s = \\sum_c \\text{removed}_{s,c}.

Persons of the trial table absent from the register are counted before any chunk is read
(``on_missing="error"`` fails fast) and, with ``on_missing="exclude"``, handed to the first
chunk that analyses anyone, so that ``build_outcomes`` itself records the step.

:func:`chunked_person_periods` applies
:func:`dreamkit.estimate.duration.person_period.expand_person_periods` to each finished outcome
chunk in the same way."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from dreamkit.chunked._atomic import write_parquet_atomic
from dreamkit.chunked.budget import DEFAULT_BUDGET, LONG_BYTES_PER_ROW, ChunkPlan, plan_chunks
from dreamkit.chunked.dataset import PartitionedRegister
from dreamkit.chunked.runner import ChunkOutput, ChunkRun, run_chunks
from dreamkit.design import columns as C
from dreamkit.errors import ColumnNotFoundError, InputError, MissingPersonsError
from dreamkit.estimate.duration.person_period import expand_person_periods
from dreamkit.executor import ExecutorLike, resolve_executor
from dreamkit.outcomes import Outcomes, OutcomeSpec, SampleFlow, build_outcomes
from dreamkit.outcomes.align import Coverage, OnMissing
from dreamkit.outcomes.spec import DUR_EMP, EVENT_EMP

_CHUNK = "_dk_chunk"
_ABSENT = -1


@dataclass(frozen=True)
class ChunkedOutcomes:
    """Result of :func:`chunked_outcomes`.

    Attributes:
        run: the chunk run (output files, manifest records, completeness).
        flow: the merged sample-flow ledger (None until every chunk is finished, e.g. while
            cluster jobs are still running).
        spec: the outcome definitions used.
        plan: the chunk plan derived from the memory budget.
    """

    run: ChunkRun
    flow: SampleFlow | None
    spec: OutcomeSpec
    plan: ChunkPlan

    def __repr__(self) -> str:
        rows = sum(r.rows for r in self.run.records)
        return (
            f"ChunkedOutcomes({rows:,} persons in {len(self.run.records)} chunk file(s), "
            f"complete={self.run.complete}, {self.flow!r})"
        )

    def scan(self) -> pl.LazyFrame:
        """The person table as a LazyFrame over the chunk files (chunk order)."""
        return self.run.scan()

    def collect(self) -> Outcomes:
        """The whole result in memory, as :class:`~dreamkit.outcomes.Outcomes`."""
        if self.flow is None:
            raise InputError("the run is not complete; rerun it to finish the missing chunks.")
        return Outcomes(self.scan().collect(), self.flow, self.spec)


def chunked_outcomes(
    dataset: PartitionedRegister | str | Path,
    trial: pl.DataFrame,
    out_dir: str | Path,
    spec: OutcomeSpec | None = None,
    *,
    on_missing: OnMissing = "error",
    coverage: Coverage = "require",
    flow: SampleFlow | None = None,
    budget: int | str = DEFAULT_BUDGET,
    chunk_persons: int | None = None,
    threads: int | None = None,
    job: tuple[int, int] | None = None,
    progress: bool = True,
    executor: ExecutorLike = None,
    **read_options: Any,
) -> ChunkedOutcomes:
    """:func:`~dreamkit.outcomes.build_outcomes` on a partitioned register, chunk by chunk.

    Args:
        dataset: a :class:`PartitionedRegister` or its directory.
        trial, spec, on_missing, coverage, flow: as for
            :func:`~dreamkit.outcomes.build_outcomes`.
        out_dir: directory of the chunk outputs and the manifest; rerun with the same
            arguments to resume after a crash.
        budget: memory budget (bytes or text such as ``"4GB"``); sets persons per chunk.
        chunk_persons: persons per chunk of a wide partition, if smaller than the budget's.
        threads: threads that build a chunk's outcomes; None = the default, capped so that
            their working memory fits the budget (:func:`~dreamkit.chunked.plan_chunks`).
        job: ``(k, K)``: compute only every K-th chunk from k (independent cluster jobs on a
            shared directory; the run is complete when all K jobs have finished).
        progress: show a progress bar.
        executor: where the chunks run (:mod:`dreamkit.executor`: local processes or a
            ``dask.distributed.Client``; default the session executor, else this process).
            The memory budget applies to each worker; the output is the same either way.
        read_options: reader options overriding those stored with the dataset.
    """
    executor = resolve_executor(executor)  # fail on an unreachable scheduler before any work
    data = (
        dataset if isinstance(dataset, PartitionedRegister) else PartitionedRegister.open(dataset)
    )
    spec = OutcomeSpec() if spec is None else spec
    if C.PERSON not in trial.columns:
        raise ColumnNotFoundError(
            f"the trial table needs column {C.PERSON!r}; its columns are {trial.columns}."
        )
    per_person = 24 * len(spec.columns()) + 16 * trial.width
    plan = plan_chunks(budget, data.n_weeks, bytes_per_person=per_person, threads=threads)
    if chunk_persons is not None:
        if chunk_persons < 1:
            raise InputError(f"chunk_persons must be >= 1, got {chunk_persons}.")
        plan = replace(plan, persons=min(plan.persons, chunk_persons))
    slices = _slices(data, plan)
    keys = list(slices)
    located = _locate(data, slices, plan, trial)
    groups = _groups(located, keys, on_missing)
    given = SampleFlow(trial.height) if flow is None else flow
    run_id = {
        "task": "build_outcomes",
        "spec": repr(spec),
        "on_missing": on_missing,
        "coverage": coverage,
        "flow": repr(given),
        "trial": _fingerprint(trial),
        "dataset": data.fingerprint(),
        "read_options": repr(sorted(read_options.items())),
        "plan": [plan.persons, plan.batch_rows],
    }

    work = _OutcomeChunk(
        data, dict(groups), slices, plan, spec, on_missing, coverage, dict(read_options)
    )
    run = run_chunks(
        keys,
        work,
        out_dir,
        run=run_id,
        job=job,
        progress=progress,
        description="outcomes",
        executor=executor,
    )
    merged = _merge_flow(given, run) if run.complete else None
    return ChunkedOutcomes(run, merged, spec, plan)


def chunked_person_periods(
    outcomes: ChunkedOutcomes | ChunkRun,
    out_dir: str | Path,
    *,
    duration: str = DUR_EMP,
    event: str = EVENT_EMP,
    exit_type: str | None = None,
    keep: Sequence[str] | None = None,
    period: str = "period",
    job: tuple[int, int] | None = None,
    progress: bool = True,
    executor: ExecutorLike = None,
) -> ChunkRun:
    """:func:`~dreamkit.estimate.duration.person_period.expand_person_periods` on every outcome
    chunk.

    Arguments as for ``expand_person_periods``; ``out_dir``, ``job``, ``progress`` and
    ``executor`` as for
    :func:`chunked_outcomes`. The rows are those of the in-memory expansion of the whole
    outcome table, in chunk order.
    """
    source = outcomes.run if isinstance(outcomes, ChunkedOutcomes) else outcomes
    if not source.complete:
        raise InputError("the outcome run is not complete; finish it before expanding it.")
    files = {r.key: r.file for r in source.records}
    run_id = {
        "task": "expand_person_periods",
        "outcomes": [[r.key, r.rows, r.sha256] for r in source.records],
        "arguments": [duration, event, exit_type, None if keep is None else list(keep), period],
    }

    work = _PeriodChunk(
        source.out_dir,
        files,
        duration,
        event,
        exit_type,
        None if keep is None else list(keep),
        period,
    )

    return run_chunks(
        list(files),
        work,
        out_dir,
        run=run_id,
        job=job,
        progress=progress,
        description="person-periods",
        executor=executor,
    )


@dataclass(frozen=True)
class _OutcomeChunk:
    """The outcome work of one chunk (a picklable callable, so chunks can run on workers)."""

    data: PartitionedRegister
    groups: dict[str, pl.DataFrame | Path]  # a chunk's trial rows, or the file holding them
    slices: dict[str, tuple[int, int, int]]
    plan: ChunkPlan
    spec: OutcomeSpec
    on_missing: OnMissing
    coverage: Coverage
    read_options: dict[str, Any]

    def only(self, key: str) -> _OutcomeChunk:
        """This work narrowed to chunk ``key``: its trial rows and slice only (what a worker
        is sent, instead of the whole trial table)."""
        groups = {key: self.groups[key]} if key in self.groups else {}
        return replace(self, groups=groups, slices={key: self.slices[key]})

    def stage(self, key: str, directory: Path) -> _OutcomeChunk:
        """:meth:`only`, with the chunk's trial rows written to ``directory`` (a Parquet file
        beside the outputs, on the file system the workers share) and read back by the task.
        A task then carries a path instead of rows, so the trial table does not travel
        through the Dask scheduler's task graph (176 MB at 5M persons)."""
        narrowed = self.only(key)
        rows = narrowed.groups.get(key)
        if not isinstance(rows, pl.DataFrame):
            return narrowed
        path = directory / f"{key}.parquet"
        write_parquet_atomic(rows, path)
        return replace(narrowed, groups={key: path})

    def __call__(self, key: str) -> ChunkOutput:
        data, plan = self.data, self.plan
        part = self.groups.get(key)
        if part is None:
            return ChunkOutput(None, {"steps": []})
        if isinstance(part, Path):
            part = pl.read_parquet(part)
        index, offset, length = self.slices[key]
        found = part.filter(pl.col(_CHUNK) != _ABSENT)[C.PERSON]
        whole = data.format == "wide" and found.len() == length  # everyone: no filter needed
        register = data.read(
            index,
            persons=None if whole else found,
            rows=(offset, length) if data.format == "wide" else None,
            batch_rows=plan.batch_rows if data.format == "wide" else None,
            **self.read_options,
        )
        result = build_outcomes(
            register,
            part.drop(_CHUNK),
            self.spec,
            on_missing=self.on_missing,
            coverage=self.coverage,
            threads=plan.threads,
        )
        steps = [[s.step, s.reason, s.removed] for s in result.flow.steps]
        info = {"steps": steps, "unknown_codes": register.n_unknown_codes}
        return ChunkOutput(result.persons, info)


@dataclass(frozen=True)
class _PeriodChunk:
    """The person-period expansion of one outcome chunk (picklable)."""

    source: Path
    files: dict[str, str | None]
    duration: str
    event: str
    exit_type: str | None
    keep: list[str] | None
    period: str

    def __call__(self, key: str) -> ChunkOutput:
        name = self.files[key]
        if name is None:
            return ChunkOutput(None)
        frame = pl.read_parquet(self.source / name)
        expanded = expand_person_periods(
            frame,
            duration=self.duration,
            event=self.event,
            exit_type=self.exit_type,
            keep=self.keep,
            period=self.period,
        )
        return ChunkOutput(expanded, {"spells": frame.height})


def _slices(data: PartitionedRegister, plan: ChunkPlan) -> dict[str, tuple[int, int, int]]:
    """Chunk key -> (partition, first row, rows); wide partitions are cut to the plan."""
    out: dict[str, tuple[int, int, int]] = {}
    for index, part in enumerate(data.partitions):
        if data.format == "long":
            need = plan.peak(part.persons) + part.rows * LONG_BYTES_PER_ROW
            if need > plan.budget:
                raise InputError(
                    f"long partition {part.name} needs about {need / 2**30:.1f} GB, over the "
                    f"budget of {plan.budget / 2**30:.1f} GB; raise the budget or convert with "
                    "more partitions (n_partitions=)."
                )
            out[f"p{index:05d}-000"] = (index, 0, part.rows)
            continue
        for j, offset in enumerate(range(0, part.rows, plan.persons)):
            out[f"p{index:05d}-{j:03d}"] = (index, offset, min(plan.persons, part.rows - offset))
    return out


def _locate(
    data: PartitionedRegister,
    slices: dict[str, tuple[int, int, int]],
    plan: ChunkPlan,
    trial: pl.DataFrame,
) -> pl.DataFrame:
    """The trial with the position (in ``slices``) of the chunk holding each person, or -1."""
    first_chunk: dict[int, int] = {}
    for position, (index, _, _) in enumerate(slices.values()):
        first_chunk.setdefault(index, position)
    frames = []
    for index in range(len(data.partitions)):
        ids = data.person_ids(index)
        rows = np.arange(ids.len(), dtype=np.int64)
        within = rows // plan.persons if data.format == "wide" else np.zeros_like(rows)
        chunk = (first_chunk[index] + within).astype(np.int32)
        frames.append(pl.DataFrame({"_dk_key": ids, _CHUNK: chunk}))
    index_table = pl.concat(frames)
    ids = trial[C.PERSON]
    dtype = index_table["_dk_key"].dtype
    cast = ids.cast(dtype, strict=False)
    if cast.null_count() > ids.null_count():
        raise InputError(
            f"column {C.PERSON!r} has identifiers that cannot be cast to the register's id type "
            f"{dtype}; use the same id type in both tables."
        )
    keyed = pl.DataFrame({"_dk_key": cast}).join(
        index_table, on="_dk_key", how="left", maintain_order="left"
    )
    return trial.with_columns(keyed[_CHUNK].fill_null(_ABSENT))


def _groups(
    located: pl.DataFrame, keys: list[str], on_missing: OnMissing
) -> dict[str, pl.DataFrame]:
    """Trial rows per chunk key, in trial order; absent persons go to the first chunk."""
    absent = located.filter(pl.col(_CHUNK) == _ABSENT)
    if absent.height and on_missing == "error":
        raise MissingPersonsError(
            f"{absent.height} of {located.height} person(s) in column {C.PERSON!r} are not in "
            "the register; check the id linkage, or exclude them explicitly so that the "
            "sample-flow ledger records them (on_missing='exclude')."
        )
    present = located.filter(pl.col(_CHUNK) != _ABSENT)
    if present.height == 0:
        raise MissingPersonsError(
            f"none of the {located.height} person(s) in column {C.PERSON!r} is in the "
            "register; check the id linkage."
        )
    parts = present.partition_by(_CHUNK, as_dict=True, maintain_order=True)
    groups = {keys[int(code)]: frame for (code,), frame in parts.items()}
    if absent.height:
        first = min(groups)
        groups[first] = pl.concat([groups[first], absent])
    return groups


def _merge_flow(given: SampleFlow, run: ChunkRun) -> SampleFlow:
    """The ledger of the whole run: the given steps, then each chunk step summed over chunks."""
    sequences = [r.info["steps"] for r in run.records if r.info.get("steps")]
    merged = SampleFlow(given.n_input, list(given.steps))
    if not sequences:
        return merged
    names = [(s[0], s[1]) for s in sequences[0]]
    if any([(s[0], s[1]) for s in seq] != names for seq in sequences):
        raise InputError(
            "chunks recorded different sample-flow steps; rerun in a new output directory."
        )
    for position, (step, reason) in enumerate(names):
        merged.exclude(step, reason, sum(int(seq[position][2]) for seq in sequences))
    return merged


def _fingerprint(trial: pl.DataFrame) -> list[Any]:
    """Shape, schema and a row-hash sum of the trial table (identifies it in the manifest)."""
    hashes = trial.hash_rows(seed=0).to_numpy().astype(np.uint64)
    with np.errstate(over="ignore"):
        total = int(hashes.sum(dtype=np.uint64))
    return [trial.height, [[n, str(t)] for n, t in trial.schema.items()], str(total)]
