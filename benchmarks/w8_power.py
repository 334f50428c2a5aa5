"""W8: simulation-based power (benchmarks spec, workload W8).

1,000 simulated reference trials (568 persons, 43 teams in 26 municipalities, 60/40 within
teams) for each of 5 effect sizes, each analysed with the real estimator: the ITT on the
employment share to week 81 with municipality fixed effects and team-clustered CRV1 (t test,
G - 1 df) and randomisation inference with 199 within-team re-draws (studentised). Goal:
<= 3 min on 2 cores.

Trials come from the light simulator (:mod:`dreamkit.power.light`: the same data-generating
process, only the analysed outcome; its distribution is tested against the full register
simulator in ``tests/power/test_light.py``). The script also times a few trials of the full
path (``simulate_trial`` + ``build_outcomes``) to show what the light path saves.

Before the time is reported the result is checked: at effect 0 the rejection rates of both
tests lie within their exact binomial band around 0.05 (1 in 1,000), power rises with the
effect, and the CRV1 power agrees with the analytic within-team power (binomial p > 0.001 or
within 0.03, the analytic formula ignores CRV1's small-sample factor).

    python benchmarks/w8_power.py [--replications 1000] [--processes 2] [--seed 8]
        [--no-write]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl
import scipy.stats

from dreamkit.power import ReferenceTrialModel, analyse, simulate_power
from dreamkit.power.simulation import children

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "W8.md"
FIGURE = ROOT / "docs" / "img" / "power_w8.png"
TAUS = (0.0, 0.5, 1.0, 1.5, 2.0)
GOAL_SECONDS = 180.0
P_MIN = 0.001


def machine() -> str:
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, {mem:.0f} GB RAM, "
        f"Python {platform.python_version()}"
    )


def _cpu() -> float:
    """CPU seconds (user + system) of this process and its terminated children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def profile(model: ReferenceTrialModel, k: int = 20) -> dict[str, float]:
    """CPU seconds per trial of each step (one process)."""
    seeds = children(np.random.SeedSequence(99), k)
    t0 = time.process_time()
    trials = [model.draw(1.0, s) for s in seeds]
    t1 = time.process_time()
    for trial in trials:
        analyse(trial, ("crv1",), 0.05)
    t2 = time.process_time()
    for trial, s in zip(trials, seeds, strict=True):
        analyse(trial, ("ri",), 0.05, n_ri=199, seed=s)
    t3 = time.process_time()
    full = ReferenceTrialModel(simulator="full")
    for s in seeds[:5]:
        full.draw(1.0, s)
    t4 = time.process_time()
    return {
        "light simulator": (t1 - t0) / k,
        "CRV1 fit": (t2 - t1) / k,
        "randomisation inference (199)": (t3 - t2) / k,
        "full simulator + build_outcomes": (t4 - t3) / 5,
    }


def checks(table: pl.DataFrame) -> list[tuple[str, bool, str]]:
    out = []
    for method in ("CRV1 t", "randomisation inference"):
        rows = table.filter(pl.col("method") == method).sort("parameter")
        null = rows.row(0, named=True)
        test = scipy.stats.binomtest(null["rejections"], null["replications"], 0.05)
        out.append((f"{method}: size at effect 0 is {null['power']:.3f}", test.pvalue > P_MIN,
                    f"binomial p = {test.pvalue:.3g}"))  # fmt: skip
        power = rows["power"].to_numpy()
        out.append((f"{method}: power rises with the effect", bool(np.all(np.diff(power) >= -0.02)),
                    " < ".join(f"{p:.3f}" for p in power)))  # fmt: skip
    sim = table.filter(pl.col("method") == "CRV1 t").sort("parameter")
    ana = table.filter(pl.col("method") == "analytic").sort("parameter")
    for s, a in zip(sim.iter_rows(named=True), ana.iter_rows(named=True), strict=True):
        p = scipy.stats.binomtest(s["rejections"], s["replications"], a["power"]).pvalue
        ok = p > P_MIN or abs(s["power"] - a["power"]) <= 0.03
        out.append((f"CRV1 vs analytic at effect {s['effect']:.4f}: {s['power']:.3f} vs "
                    f"{a['power']:.3f}", ok, f"binomial p = {p:.3g}"))  # fmt: skip
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replications", type=int, default=1000)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    model = ReferenceTrialModel()
    load_start = os.getloadavg()[0]
    started = dt.datetime.now(dt.UTC)
    t0 = time.perf_counter()
    cpu0 = _cpu()
    result = simulate_power(
        model,
        TAUS,
        n_replications=args.replications,
        tests=("crv1", "ri"),
        n_ri=199,
        seed=args.seed,
        processes=args.processes,
    )
    seconds = time.perf_counter() - t0
    cpu = _cpu() - cpu0  # this process and its (finished) worker processes
    load_end = os.getloadavg()[0]
    table = result.tidy()
    print(result.summary())
    verdicts = checks(table)
    for text, ok, detail in verdicts:
        print(f"[{'ok' if ok else 'FAIL'}] {text} ({detail})")
    steps = profile(model)
    trials = args.replications * len(TAUS)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"\nW8: {trials} trials in {seconds:.1f} s on {args.processes} processes (goal <= "
        f"{GOAL_SECONDS:.0f} s); load average {load_start:.1f} -> {load_end:.1f}; "
        f"{cpu:.1f} CPU s in all processes = {cpu / args.processes:.1f} s on "
        f"{args.processes} idle cores"
    )
    for step, step_cpu in steps.items():
        print(f"  {step:<34} {1000 * step_cpu:8.1f} ms CPU per trial")
    if not args.no_write:
        FIGURE.parent.mkdir(parents=True, exist_ok=True)
        result.plot(path=FIGURE)
        timing = (seconds, cpu)
        write(args, result, timing, trials, peak, steps, verdicts, started, (load_start, load_end))
    return 0 if all(ok for _, ok, _ in verdicts) else 1


def write(args, result, timing, trials, peak, steps, verdicts, started, load) -> None:  # type: ignore[no-untyped-def]
    """benchmarks/results/W8.md."""
    seconds, cpu = timing
    analysis = steps["CRV1 fit"] + steps["randomisation inference (199)"]
    full = steps["full simulator + build_outcomes"]
    projected = trials * (full + analysis) / args.processes
    lines = [
        "# W8 -- simulation-based power",
        "",
        f"Run {started:%Y-%m-%d %H:%M} UTC on {machine()}; {args.processes} worker processes; "
        f"load average {load[0]:.1f} at start, {load[1]:.1f} at end (a machine shared with "
        "other jobs: wall times are noisy and CPU times per trial are the steadier figure). "
        f"Command: `python benchmarks/w8_power.py --replications {args.replications} "
        f"--processes {args.processes} --seed {args.seed}`.",
        "",
        "| workload | trials | wall s (shared machine) | CPU s, all processes | CPU s / "
        "processes (idle-machine wall) | goal | peak RSS MB (parent) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        f"| W8 | {trials} (5 effects x {args.replications}) | {seconds:.1f} | {cpu:.1f} | "
        f"{cpu / args.processes:.1f} | <= {GOAL_SECONDS:.0f} s | {peak:.0f} |",
        "",
        "CPU per trial (one process):",
        "",
        "| step | ms |",
        "| --- | --- |",
        *(f"| {k} | {1000 * v:.1f} |" for k, v in steps.items()),
        "",
        f"With the full register simulator the same run would take about {projected:.0f} s on "
        f"{args.processes} idle cores (CPU per trial x trials / processes), hence the light "
        "simulator.",
        "",
        "Result:",
        "",
        "```",
        result.summary(),
        "```",
        "",
        "Checks:",
        "",
        *(f"- [{'x' if ok else ' '}] {text} ({detail})" for text, ok, detail in verdicts),
        "",
    ]
    RESULTS.write_text("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
