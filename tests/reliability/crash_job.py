"""A chunked job that SIGKILLs itself at a chosen checkpoint (run as a subprocess by test_crash).

Usage: ``python crash_job.py WORKDIR TASK [K k]`` with TASK ``convert-wide``, ``convert-long``,
``outcomes`` (on the converted wide dataset) or ``pipeline`` (convert-wide, then outcomes);
``K k`` runs only job ``k`` of ``K`` (array jobs).

Checkpoints are the atomic renames of :mod:`dreamkit.chunked._atomic` (every file the
conversion and the runner write, records and ``_SUCCESS`` included). With ``KILL_AT=n`` the
process kills itself with SIGKILL at the n-th checkpoint, in one of three ``KILL_MODE``\\ s:

* ``before``: the temporary is complete but not renamed (a crash during ``fsync``);
* ``after``: the file is in place, the next file (e.g. its record) is not written yet;
* ``torn``: the temporary is cut to half its bytes, then the process dies (a crash mid-write).
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import numpy as np
import polars as pl

import dreamkit.chunked._atomic as atomic
from dreamkit.chunked import chunked_outcomes, partition_register
from dreamkit.register import CodeMap
from dreamkit.register.calendar import week_label, week_of_iso

FIRST = week_of_iso(2005, 1)
N, WEEKS = 90, 240


def source_frames(seed: int = 11) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Deterministic small register (wide and long) and trial table."""
    rng = np.random.default_rng(seed)
    cmap = CodeMap.default()
    pool = np.array([c for s in cmap.states for c in cmap.codes_of(s)], dtype=np.int64)
    codes = pool[rng.integers(0, pool.size, (N, WEEKS))]
    empty = rng.random((N, WEEKS)) < 0.6
    ids = (rng.permutation(N) + 700_000).astype(np.int64)
    cols = [pl.Series("person_id", ids)]
    for j in range(WEEKS):
        values = [None if e else int(c) for e, c in zip(empty[:, j], codes[:, j], strict=True)]
        cols.append(pl.Series(week_label(FIRST + j), values, dtype=pl.Int32))
    wide = pl.DataFrame(cols)
    rows, weeks = np.nonzero(~empty)
    long = pl.DataFrame(
        {
            "person_id": ids[rows],
            "week": [week_label(FIRST + int(w)) for w in weeks],
            "code": codes[rows, weeks].astype(np.int32),
        }
    )
    trial = pl.DataFrame(
        {
            "person_id": ids,
            "allocation_week": rng.integers(FIRST + 105, FIRST + WEEKS - 82, N),
            "treated": (np.arange(N) % 2).astype(np.int8),
            "team": np.arange(N) % 9,
        }
    )
    return wide, long, trial


def install_kill_hook() -> None:
    at = int(os.environ.get("KILL_AT", "0"))
    mode = os.environ.get("KILL_MODE", "before")
    if not at:
        return
    count = 0
    original = atomic._replace

    def die() -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    def replace(tmp: Path, path: Path) -> None:
        nonlocal count
        count += 1
        if count == at and mode == "torn":
            data = tmp.read_bytes()
            tmp.write_bytes(data[: len(data) // 2])
            die()
        if count == at and mode == "before":
            die()
        original(tmp, path)
        if count == at and mode == "after":
            die()

    atomic._replace = replace  # type: ignore[assignment]


def convert(work: Path, fmt: str) -> None:
    src = work / f"source-{fmt}.parquet"
    if fmt == "wide":
        partition_register(src, work / "ds-wide", chunk_rows=20, progress=False)
    else:
        partition_register(
            src,
            work / "ds-long",
            format="long",
            n_partitions=4,
            chunk_rows=2_000,
            progress=False,
            first_week=FIRST,
            last_week=FIRST + WEEKS - 1,
        )


def outcomes(work: Path, job: tuple[int, int] | None) -> None:
    trial = pl.read_parquet(work / "trial.parquet")
    chunked_outcomes(
        work / "ds-wide", trial, work / "out", chunk_persons=10, job=job, progress=False,
        threads=1,
    )  # fmt: skip


def main() -> None:
    work, task = Path(sys.argv[1]), sys.argv[2]
    job = (int(sys.argv[4]), int(sys.argv[3])) if len(sys.argv) > 3 else None
    install_kill_hook()
    if task in ("convert-wide", "pipeline"):
        convert(work, "wide")
    if task == "convert-long":
        convert(work, "long")
    if task in ("outcomes", "pipeline"):
        outcomes(work, job)


if __name__ == "__main__":
    main()
