"""W4: the full reference-study report on a synthetic trial (benchmarks spec, workload W4).

One ``dreamkit report`` on the default configuration: the simulated 568-person trial, sample
flow, descriptive and balance tables (with 999 randomisation draws for the joint tests),
prognostic Tobit screening, Kaplan-Meier curves and hazards, both 81-week effect paths with
sup-t bands, 999 wild-bootstrap and 999 randomisation-inference draws each, the self-efficacy
grid, peers, robustness models (5)-(7), subgroups, all figures (PNG + SVG) and tables.

Each repeat runs the command in a fresh subprocess (imports included, as a user runs it) and
measures its wall time and peak resident memory. Before a time is reported the script checks
the report: the week-81 effects in its tables equal :func:`dreamkit.estimate.linear.itt.effect_path`
on the same analysis data. There is no baseline (the goal is absolute: <= 60 s on 2 cores).

    python benchmarks/w4_report.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

from dreamkit.config import load_config
from dreamkit.estimate.linear.itt import effect_path
from dreamkit.pipeline import load_inputs

GOAL_SECONDS = 60.0


def run_once(out: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one ``dreamkit report`` subprocess."""
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "dreamkit.cli", "report", "--out", str(out), "--quiet"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    seconds = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return seconds, peak_kb / 1024


def check(out: Path) -> None:
    """The report's week-81 effects equal the estimator's, rounded as printed."""
    config = load_config(None)
    persons = load_inputs(config).persons
    for prefix in ("emp", "sick"):
        path = effect_path(persons, f"{prefix}_share_", list(config.covariates.prognostic))
        want = path.tidy().filter(pl.col("week") == 81)["estimate"][0]
        table = pl.read_csv(out / "tables" / f"effect_path_{prefix}.csv", infer_schema=False)
        got = table.filter(pl.col("week") == "81")["estimate"][0]
        if got != f"{want:.3f}":
            raise SystemExit(f"W4 check failed: {prefix} week 81 {got} != {want:.3f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    times, peaks = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeats):
            seconds, peak = run_once(Path(tmp) / f"r{i}")
            times.append(seconds)
            peaks.append(peak)
        check(Path(tmp) / "r0")
    median = statistics.median(times)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    print("| workload | size | dreamkit s (median) | runs | baseline | goal s | peak MB |")
    print("|---|---|---|---|---|---|---|")
    print(
        f"| W4 full report | 568 persons, 999 RI draws | {median:.1f} | "
        f"{', '.join(f'{t:.1f}' for t in times)} | none | {GOAL_SECONDS:.0f} | {max(peaks):.0f} |"
    )
    return 0 if median <= GOAL_SECONDS else 1


if __name__ == "__main__":
    raise SystemExit(main())
