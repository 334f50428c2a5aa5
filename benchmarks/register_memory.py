"""Peak memory and wall time of ``read_wide`` on a large wide DREAM-style Parquet file.

    python benchmarks/register_memory.py [--persons 1000000] [--weeks 260] [--repeat 1]

Writes a synthetic wide file (Int16 codes from the default code map, about 40% of cells empty,
plus monthly ``branche_YYYY_MM`` employment columns) to a temporary directory in row groups,
then reads it with ``read_wide(..., employment="columns")`` in a fresh subprocess per run and
prints wall time and the subprocess's peak resident memory (``ru_maxrss``), next to the peak of
a subprocess that only imports dreamkit (the interpreter + polars + numpy floor).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow.parquet as pq

from dreamkit.register import CodeMap
from dreamkit.register.calendar import months_of_weeks, week_label, week_of_iso
from dreamkit.register.labels import month_label

_CHILD = """
import resource, sys, time
from dreamkit.register import read_wide
start = time.perf_counter()
if sys.argv[1] != "--import-only":
    reg = read_wide(sys.argv[1], employment="columns")
    assert reg.n_persons == int(sys.argv[2]), reg
elapsed = time.perf_counter() - start
print(elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def write_file(path: Path, n_persons: int, n_weeks: int, seed: int = 1) -> None:
    """Write the synthetic wide file in row groups of 100k persons (bounded memory)."""
    rng = np.random.default_rng(seed)
    codemap = CodeMap.default()
    pool = np.array([c for s in codemap.states for c in codemap.codes_of(s)], dtype=np.int16)
    first = week_of_iso(2010, 1)
    weeks = np.arange(first, first + n_weeks)
    week_cols = [week_label(int(w)) for w in weeks]
    months = np.unique(months_of_weeks(weeks))
    month_cols = [month_label(int(m), "branche_") for m in months]
    writer: pq.ParquetWriter | None = None
    for start in range(0, n_persons, 100_000):
        n = min(100_000, n_persons - start)
        data: dict[str, pl.Series] = {"person_id": pl.Series(np.arange(start, start + n))}
        for col in week_cols:
            codes = pool[rng.integers(0, pool.size, n)]
            data[col] = pl.Series(col, codes).set(pl.Series(rng.random(n) < 0.4), None)
        for col in month_cols:
            branche = rng.integers(1, 99, n, dtype=np.int32)
            data[col] = pl.Series(col, branche).set(pl.Series(rng.random(n) < 0.5), None)
        table = pl.DataFrame(data).to_arrow()
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
    assert writer is not None
    writer.close()


def run_child(args: list[str]) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of one fresh subprocess."""
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, *args], check=True, capture_output=True, text=True
    ).stdout.split()
    return float(out[0]), float(out[1]) / 1024  # ru_maxrss is in KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--weeks", type=int, default=260)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "wide.parquet"
        start = time.perf_counter()
        write_file(path, args.persons, args.weeks)
        print(
            f"wrote {args.persons:,} x {args.weeks} weeks ({os.path.getsize(path) / 2**20:.0f} "
            f"MB Parquet) in {time.perf_counter() - start:.1f} s"
        )
        _, floor = run_child(["--import-only"])
        runs = [run_child([str(path), str(args.persons)]) for _ in range(args.repeat)]
    seconds = sorted(s for s, _ in runs)[len(runs) // 2]
    peak = max(m for _, m in runs)
    print(f"machine: {os.cpu_count()} cores, {_total_memory_gb():.0f} GB")
    print(f"import-only peak RSS: {floor:.0f} MB")
    print(f"read_wide: median {seconds:.2f} s over {len(runs)} run(s), peak RSS {peak:.0f} MB")
    print(f"result array: {args.persons * args.weeks / 2**20:.0f} MB (uint8)")


def _total_memory_gb() -> float:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30


if __name__ == "__main__":
    main()
