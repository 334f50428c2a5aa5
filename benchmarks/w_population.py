"""Population-size register: partitioned Parquet, outcomes for a cohort and for everyone.

    python benchmarks/w_population.py --persons 5000000 --weeks 1700 --cohort 1000000

1. Writes a synthetic wide register (``Int16`` codes, null = no transfer) to person-partitioned
   Parquet in chunks, never holding it whole: a per-person Markov chain over no transfer,
   sickness benefit (890), unemployment benefit, cash benefit, activation and job clarification,
   with weekly persistence 0.95.
2. Runs :func:`dreamkit.chunked.chunked_outcomes` (the study's outcomes, W = 81, 104
   pre-allocation weeks) under the memory budget for a cohort of ``--cohort`` persons and for
   all persons, each in a fresh subprocess, reporting wall time, peak RSS (``ru_maxrss``) and
   output size on disk.
3. Up to ``--memory-max`` persons, also runs the in-memory path (``read_wide`` of the whole
   register + ``build_outcomes``) on the same cohort in a fresh subprocess, checks that both
   results are equal and reports the per-person throughput ratio.

Prints one markdown table (workload, size, seconds, baseline seconds, ratio, peak memory).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

from dreamkit.chunked import DatasetWriter, PartitionedRegister, chunked_outcomes, plan_chunks
from dreamkit.register import CodeMap
from dreamkit.register.calendar import week_label, week_of_iso

_MAP = CodeMap.default()
_STATES = ("sickness_benefit", "unemployment_insurance", "cash_benefit", "activation_guidance")
CODES = np.array([-1, *(_MAP.codes_of(s)[0] for s in _STATES), 897], dtype=np.int16)
START = np.array([0.55, 0.10, 0.15, 0.10, 0.05, 0.05])


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def generate(root: Path, persons: int, weeks: int, part_persons: int, seed: int) -> float:
    """Write the synthetic register; returns seconds."""
    start = time.perf_counter()
    first = week_of_iso(1991, 1)
    names = [week_label(first + j) for j in range(weeks)]
    writer = DatasetWriter(root, validate=False, run={"synthetic": [persons, weeks, seed]})
    done = writer.done_chunks()
    for index, lo in enumerate(range(0, persons, part_persons)):
        if index in done:
            continue
        rng = np.random.default_rng([seed, index])
        n = min(part_persons, persons - lo)
        state = rng.choice(CODES.size, size=n, p=START).astype(np.int8)
        codes = np.empty((weeks, n), dtype=np.int16)
        for j in range(weeks):
            move = rng.random(n) < 0.05
            state = np.where(move, rng.choice(CODES.size, size=n, p=START), state).astype(np.int8)
            codes[j] = CODES[state]
        frame = pl.DataFrame({"person_id": np.arange(lo, lo + n, dtype=np.int64)}).hstack(
            pl.from_numpy(codes.T, schema=names).select(
                pl.when(pl.all() >= 0).then(pl.all()).name.keep()
            )
        )
        del codes
        writer.write_chunk(index, frame)
        del frame
    writer.finish()
    return time.perf_counter() - start


def _trial(data: PartitionedRegister, n: int, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    ids = rng.choice(data.n_persons, size=n, replace=False) if n < data.n_persons else np.arange(n)
    weeks = rng.integers(data.first_week + 104, data.last_week - 84, size=n)
    return pl.DataFrame(
        {"person_id": ids.astype(np.int64), "allocation_week": weeks, "treated": ids % 2}
    )


def child(args: argparse.Namespace) -> None:
    """One measured run in a fresh process; prints a JSON line."""
    trial = pl.read_parquet(args.trial)
    out = Path(args.out)
    start = time.perf_counter()
    if args.child == "chunked":
        result = chunked_outcomes(
            args.data, trial, out, budget=args.budget, on_missing="exclude", progress=False
        )
        seconds = time.perf_counter() - start
        rows = result.flow.remaining if result.flow else -1
        disk = sum(f.stat().st_size for f in result.run.files)
    else:
        from dreamkit.outcomes import build_outcomes
        from dreamkit.register import read_wide

        data = PartitionedRegister.open(args.data)
        files = [data.root / p.name for p in data.partitions]
        register = read_wide(pl.scan_parquet(files))
        persons = build_outcomes(register, trial, on_missing="exclude").persons
        seconds = time.perf_counter() - start
        persons.write_parquet(out / "memory.parquet")
        rows, disk = persons.height, (out / "memory.parquet").stat().st_size
    print(json.dumps({"seconds": seconds, "peak_mb": _peak_mb(), "rows": rows, "disk": disk}))


def measure(mode: str, data: Path, trial: pl.DataFrame, out: Path, budget: str) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    trial_path = out.parent / f"{out.name}-trial.parquet"
    trial.write_parquet(trial_path)
    cmd = [
        sys.executable,
        __file__,
        "--child",
        mode,
        "--data",
        str(data),
        "--trial",
        str(trial_path),
        "--out",
        str(out),
        "--budget",
        budget,
    ]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def same_result(chunked_dir: Path, memory_file: Path) -> bool:
    chunked = pl.read_parquet(sorted(chunked_dir.glob("p*.parquet"))).sort("person_id")
    memory = pl.read_parquet(memory_file).sort("person_id")
    return chunked.equals(memory)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=200_000)
    parser.add_argument("--weeks", type=int, default=1_700)
    parser.add_argument("--cohort", type=int, default=None, help="default: persons / 5")
    parser.add_argument("--budget", default="4GB")
    parser.add_argument("--memory-max", type=int, default=400_000)
    parser.add_argument("--dir", default=None, help="work directory (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the generated register")
    parser.add_argument("--seed", type=int, default=1)
    if sys.argv[1:2] == ["--child"]:
        inner = argparse.ArgumentParser()
        for name in ("--child", "--data", "--trial", "--out", "--budget"):
            inner.add_argument(name, required=True)
        child(inner.parse_args())
        return
    args = parser.parse_args()
    work = Path(args.dir or f"/tmp/w_population-{os.getpid()}")
    work.mkdir(parents=True, exist_ok=True)
    root = work / f"register-{args.persons}x{args.weeks}"
    cohort = args.cohort or max(1, args.persons // 5)
    plan = plan_chunks(args.budget, args.weeks, bytes_per_person=24 * 200 + 64)
    part = min(plan.persons, 250_000)
    gen = generate(root, args.persons, args.weeks, part, args.seed)
    data = PartitionedRegister.open(root)
    print(
        f"machine: {os.cpu_count()} cores, "
        f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GB; "
        f"budget {args.budget}: {plan.persons:,} persons/chunk, batch {plan.batch_rows:,} rows"
    )
    print(f"register: {data!r}, {data.disk_bytes / 2**30:.2f} GB Parquet, written in {gen:.0f} s")
    rows = []
    for label, n in (("cohort", cohort), ("all persons", args.persons)):
        trial = _trial(data, n, args.seed + 1)
        res = measure("chunked", root, trial, work / f"out-{n}", args.budget)
        base = None
        if args.persons <= args.memory_max:
            base = measure("memory", root, trial, work / f"mem-{n}", args.budget)
            if not same_result(work / f"out-{n}", work / f"mem-{n}" / "memory.parquet"):
                raise SystemExit(f"{label}: chunked and in-memory results differ")
        rows.append((label, n, res, base))
        if label == "cohort" and cohort == args.persons:
            break
    print()
    print(
        "| workload | register | persons | chunked s | in-memory s | ratio | chunked peak MB "
        "| in-memory peak MB | output GB |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for label, n, res, base in rows:
        mem_s = f"{base['seconds']:.1f}" if base else "-"
        ratio = f"{res['seconds'] / base['seconds']:.2f}" if base else "-"
        mem_mb = f"{base['peak_mb']:.0f}" if base else "-"
        print(
            f"| outcomes, {label} | {args.persons:,} x {args.weeks} | {n:,} | "
            f"{res['seconds']:.1f} | {mem_s} | {ratio} | {res['peak_mb']:.0f} | {mem_mb} | "
            f"{res['disk'] / 2**30:.2f} |"
        )
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
