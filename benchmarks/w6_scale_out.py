"""W6: scale-out on a dask.distributed LocalCluster with 1 and 2 worker processes.

    python benchmarks/w6_scale_out.py [--persons 5000000] [--weeks 1700]
        [--part-persons 100000] [--budget 1GB] [--replications 1000] [--workers 1 2]

1. Writes a synthetic wide register (``w_population.generate``: person-partitioned Parquet,
   ``Int16`` codes) and a trial table of every person (allocation week, treatment 60/40,
   5,000 teams in 100 municipalities, one covariate).
2. For each worker count: a fresh ``LocalCluster`` of one-thread worker processes
   (:func:`dreamkit.executor.local_cluster`) runs, with ``executor=client``,

   * outcomes: :func:`dreamkit.chunked.chunked_outcomes` (81-week paths and durations; one
     thread per chunk, the memory budget per worker);
   * ITT path: :func:`dreamkit.estimate.sufficient.partitioned_effect_path` on the outcome
     chunks (sickness-benefit shares, 81 weeks, municipality effects, one covariate, CRV1
     by team; the synthetic register has no employment flags);
   * hazard (W3a form): :func:`dreamkit.estimate.sufficient.partitioned_hazard` on the same
     chunks (exit from sickness benefit, 4-week intervals, municipality effects, CRV1 by team);
   * Monte Carlo: W5's replication of the reference trial, R times
     (:func:`dreamkit.validate.run`).

   Wall times per stage, each worker's peak resident set (sampled every 20 ms on the worker;
   read after every stage) and the client process's CPU time per stage (the client and the
   Dask scheduler share the 2 cores with the workers). Each worker asks for one core:
   ``threads_per_worker=1``, and ``POLARS_MAX_THREADS=1`` in the workers' environment
   (``--worker-polars-threads``; Dask pins only the OpenMP/MKL/OpenBLAS pools). That is not
   enough to make a worker one core: polars' parquet reader and streaming engine run their
   own threads beside the task thread (measured per thread: a "single-threaded" worker
   building outcomes uses about 1.3 cores). So every configuration runs twice (``--pin``):

   * **pinned**: each worker process, all its threads, is pinned to its own core
     (``sched_setaffinity``), as a scheduler confines a ``cores=1`` job (SLURM cgroups via
     dask-jobqueue); 1 worker is then one core, and the speed-up is the scale-out of workers;
   * **unpinned**: the OS schedules freely; the 1-worker baseline borrows the idle second
     core, so its speed-up is that of 2 cores over about 1.3.

   The workers' statistical profiler (``distributed.worker.profile``) is off
   (``--worker-profile`` turns it on): it samples the task thread's stack every 10 ms on the
   worker's event loop, about 6% of a core with dreamkit's deep numpy/polars stacks
   (measured per thread), which is the overhead docs/scale-out.md tells batch users to drop.
3. Checks, before reporting: every outcome chunk has the same SHA-256 for every worker count;
   the ITT path, its covariance, the hazard and the Monte Carlo draws are bit-identical.
4. Projection to 50M persons on 20 nodes from the measured cost per partition (1 worker),
   the measured 2-worker parallel efficiency and the measured client-side combine time,
   printed as a projection (not a measurement) with its assumptions.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import resource
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
from w_population import generate

from dreamkit.chunked import PartitionedRegister, chunked_outcomes
from dreamkit.estimate.duration.hazard import DiscreteTimeHazard
from dreamkit.estimate.sufficient import (
    partitioned_effect_path,
    partitioned_hazard,
)
from dreamkit.executor import local_cluster
from dreamkit.outcomes.spec import DUR_SICK, EVENT_SICK
from dreamkit.validate import REFERENCE, replicate, run

N_TEAMS, N_STRATA = 5_000, 100


def make_trial(data: PartitionedRegister, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    n = data.n_persons
    team = rng.integers(0, N_TEAMS, n)
    return pl.DataFrame(
        {
            "person_id": np.arange(n, dtype=np.int64),
            "allocation_week": rng.integers(data.first_week + 104, data.last_week - 84, n),
            "treated": (rng.random(n) < 0.6).astype(np.int8),
            "team": team.astype(np.int32),
            "municipality": (team % N_STRATA).astype(np.int32),
            "x1": rng.normal(size=n),
        }
    )


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _start_rss_sampler() -> bool:
    """Track this worker's peak resident set every 20 ms (kept on ``sys``: functions of this
    script reach the workers by value, each with fresh globals). ``ru_maxrss`` cannot be
    used: a worker spawned by the nanny (fork + exec) inherits the RSS its parent had at the
    fork as its ``ru_maxrss`` (measured: a child spawned from a 1.5 GB parent reports
    1,458 MB), so it would report the client's size, not the worker's."""
    import threading

    peak = [_rss_mb()]
    sys._dk_rss_peak = peak  # type: ignore[attr-defined]

    def loop() -> None:
        while True:
            peak[0] = max(peak[0], _rss_mb())
            time.sleep(0.02)

    threading.Thread(target=loop, daemon=True, name="rss-sampler").start()
    return True


def _sampled_peak_mb() -> float:
    return max(sys._dk_rss_peak[0], _rss_mb())  # type: ignore[attr-defined]


def _client_cpu_s() -> float:
    return time.process_time()


def _cpu_s() -> float:
    use = resource.getrusage(resource.RUSAGE_SELF)
    return use.ru_utime + use.ru_stime


class _TimedSerial:
    """Serial executor that records the time spent inside the tasks (the rest of a call is
    the client's combine)."""

    n_workers = 1

    def __init__(self) -> None:
        self.inside = 0.0

    def map(self, fn, tasks):
        start = time.perf_counter()
        out = [fn(t) for t in tasks]
        self.inside += time.perf_counter() - start
        return out


def one_configuration(
    n_workers: int, pin: bool, data: PartitionedRegister, trial: pl.DataFrame, work: Path, args
) -> dict:
    # dreamkit's one-core workers (dx.local_cluster): one task thread, one polars thread
    # (Dask's nanny pins only OpenMP/MKL/OpenBLAS), the profiler off unless asked for, and
    # with ``pin`` every worker process pinned to its own core
    client = local_cluster(
        n_workers,
        memory_limit=None,
        profile=bool(args.worker_profile),
        pin=pin,
        host="127.0.0.1",
        dashboard_address=None,
        env={"POLARS_MAX_THREADS": str(args.worker_polars_threads)},
    )
    cpu0 = client.run(_cpu_s)
    client.run(_start_rss_sampler)
    client_cpu: dict[str, float] = {}
    out = work / f"outcomes-{n_workers}"
    shutil.rmtree(out, ignore_errors=True)
    times: dict[str, float] = {}
    t0, c0 = time.perf_counter(), _client_cpu_s()
    res = chunked_outcomes(
        data,
        trial,
        out,
        budget=args.budget,
        threads=1,
        on_missing="exclude",
        progress=False,
        executor=client,
    )
    times["outcomes"] = time.perf_counter() - t0
    client_cpu["outcomes"] = _client_cpu_s() - c0
    stage_peaks = {"outcomes": max(client.run(_sampled_peak_mb).values())}
    t0, c0 = time.perf_counter(), _client_cpu_s()
    path = partitioned_effect_path(res, "sick_share_", ["x1"], executor=client)
    times["itt"] = time.perf_counter() - t0
    client_cpu["itt"] = _client_cpu_s() - c0
    stage_peaks["itt"] = max(client.run(_sampled_peak_mb).values())
    t0, c0 = time.perf_counter(), _client_cpu_s()
    hz = partitioned_hazard(
        res, DiscreteTimeHazard(), duration=DUR_SICK, event=EVENT_SICK, executor=client
    )
    times["hazard"] = time.perf_counter() - t0
    client_cpu["hazard"] = _client_cpu_s() - c0
    stage_peaks["hazard"] = max(client.run(_sampled_peak_mb).values())
    t0, c0 = time.perf_counter(), _client_cpu_s()
    draws = run(
        functools.partial(replicate, REFERENCE),
        args.replications,
        seed=2024,
        executor=client,
        progress=False,
    )
    times["monte_carlo"] = time.perf_counter() - t0
    client_cpu["monte_carlo"] = _client_cpu_s() - c0
    peaks = sorted(client.run(_sampled_peak_mb).values())
    stage_peaks["monte_carlo"] = max(peaks)
    cpu1 = client.run(_cpu_s)
    cpu = sorted(cpu1[w] - cpu0.get(w, 0.0) for w in cpu1)
    client.close()  # closes its cluster too
    return {
        "times": times,
        "peaks_mb": peaks,
        "stage_peaks_mb": stage_peaks,
        "client_cpu_s": client_cpu,
        "worker_cpu_s": cpu,
        "sha": [r.sha256 for r in res.run.records],
        "n_chunks": len(res.run.records),
        "persons": sum(r.rows for r in res.run.records),
        "path": (path.estimates, path.vcov),
        "hazard": (hz.glm.params, hz.glm.cov, hz.n_person_periods),
        "draws": draws,
    }


def _mode(pin: bool) -> str:
    return "pinned (one core per worker)" if pin else "unpinned"


def combine_time(res_dir: Path) -> float:
    """Client-side cost of the ITT and hazard fits (everything outside the partition tasks),
    measured in this process."""
    files = sorted(res_dir.glob("p*.parquet"))
    timed = _TimedSerial()
    t0 = time.perf_counter()
    partitioned_effect_path(files, "sick_share_", ["x1"], executor=timed)
    partitioned_hazard(files, duration=DUR_SICK, event=EVENT_SICK, executor=timed)
    return time.perf_counter() - t0 - timed.inside


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--persons", type=int, default=5_000_000)
    ap.add_argument("--weeks", type=int, default=1_700)
    ap.add_argument("--part-persons", type=int, default=100_000)
    ap.add_argument("--budget", default="1GB")
    ap.add_argument("--replications", type=int, default=1_000)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument(
        "--dir", default=None, help="work directory; the register in it is kept and reused"
    )
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--pin",
        choices=["both", "on", "off"],
        default="both",
        help="pin each worker to its own core (on), let the OS schedule (off), or both",
    )
    ap.add_argument(
        "--worker-profile",
        action="store_true",
        help="keep distributed's statistical profiler on in the workers (default off)",
    )
    ap.add_argument(
        "--worker-polars-threads",
        type=int,
        default=1,
        help="POLARS_MAX_THREADS of each worker (default 1: one core per worker)",
    )
    args = ap.parse_args()
    work = Path(args.dir or f"/tmp/w6-{os.getpid()}")
    work.mkdir(parents=True, exist_ok=True)
    root = work / f"register-{args.persons}x{args.weeks}"
    gen = generate(root, args.persons, args.weeks, args.part_persons, args.seed)
    data = PartitionedRegister.open(root)
    trial = make_trial(data, args.seed + 1)
    print(
        f"machine: {platform.platform()}, {os.cpu_count()} cores, load average "
        f"{os.getloadavg()[0]:.1f}; register {data!r}, {data.disk_bytes / 2**30:.2f} GB "
        f"Parquet (written in {gen:.0f} s); budget {args.budget} per worker; "
        f"R = {args.replications}; POLARS_MAX_THREADS={args.worker_polars_threads} per worker",
        flush=True,
    )
    modes = {"both": [True, False], "on": [True], "off": [False]}[args.pin]
    results: dict[tuple[int, bool], dict] = {}
    for pin in modes:
        for k in args.workers:
            r = one_configuration(k, pin, data, trial, work, args)
            results[(k, pin)] = r
            print(
                f"{k} worker(s), {_mode(pin)}: {json.dumps(r['times'])} peaks MB "
                f"{[round(p) for p in r['peaks_mb']]} (largest peak so far after each "
                f"stage: {json.dumps({a: round(b) for a, b in r['stage_peaks_mb'].items()})}"
                f"); client process CPU s per stage "
                f"{json.dumps({a: round(b, 1) for a, b in r['client_cpu_s'].items()})}"
                f"; worker CPU s {[round(c, 1) for c in r['worker_cpu_s']]}, load average "
                f"{os.getloadavg()[0]:.1f}",
                flush=True,
            )

    base = next(iter(results.values()))
    for (k, pin), r in results.items():
        if r["sha"] != base["sha"]:
            raise SystemExit(f"outcome chunks differ with {k} workers, {_mode(pin)}")
        for a, b in zip(
            r["path"] + r["hazard"][:2], base["path"] + base["hazard"][:2], strict=True
        ):
            if not np.array_equal(a, b):
                raise SystemExit(f"ITT or hazard results differ with {k} workers, {_mode(pin)}")
        if not r["draws"].equals(base["draws"]):
            raise SystemExit(f"Monte Carlo draws differ with {k} workers, {_mode(pin)}")
    print(
        "checks: outcome chunk hashes, ITT path + vcov, hazard + vcov and Monte Carlo "
        "draws identical for every worker count and mode"
    )

    lo, hi = min(args.workers), max(args.workers)
    for pin in modes:
        res = {k: results[(k, pin)] for k in args.workers}
        print(f"\n{_mode(pin)}")
        print("| stage | " + " | ".join(f"{k} worker(s) s" for k in res) + " | speed-up |")
        print("| --- |" + " --- |" * (len(res) + 1))
        for stage in ("outcomes", "itt", "hazard", "monte_carlo"):
            ts = [res[k]["times"][stage] for k in res]
            sp = res[lo]["times"][stage] / res[hi]["times"][stage]
            print(f"| {stage} | " + " | ".join(f"{t:.1f}" for t in ts) + f" | {sp:.2f}x |")
        tot = {k: sum(r["times"].values()) for k, r in res.items()}
        print(
            "| total | "
            + " | ".join(f"{tot[k]:.1f}" for k in res)
            + f" | {tot[lo] / tot[hi]:.2f}x |"
        )
        for k, r in res.items():
            print(
                f"per-worker peak RSS with {k} worker(s): {[round(p) for p in r['peaks_mb']]} "
                f"MB (budget {args.budget}); worker CPU s "
                f"{[round(c, 1) for c in r['worker_cpu_s']]}"
            )
        cpu_lo = sum(res[lo]["worker_cpu_s"])
        cpu_hi = res[hi]["worker_cpu_s"]
        print(
            f"CPU-bound speed-up: total worker CPU with {lo} worker(s) / busiest worker's CPU "
            f"with {hi} = {cpu_lo:.1f} / {max(cpu_hi):.1f} = {cpu_lo / max(cpu_hi):.2f}x; "
            f"1 worker used {cpu_lo / tot[lo]:.2f} cores on average"
        )
    results = {k: results[(k, modes[0])] for k in args.workers}

    # projection (stated as such): per-partition cost of the register stages, 1 worker,
    # from the first mode (pinned by default: one core per worker, as on a cluster)
    reg_stages = ("outcomes", "itt", "hazard")
    one = results[lo]
    per_person = sum(one["times"][s] for s in reg_stages) / one["persons"]
    eff = (
        sum(one["times"][s] for s in reg_stages) / sum(results[hi]["times"][s] for s in reg_stages)
    ) / (hi / lo)
    combine = combine_time(work / f"outcomes-{lo}")
    part_cost = per_person * args.part_persons
    for per_node in (2, 16):
        workers = 20 * per_node
        n_parts = 50_000_000 / args.part_persons
        t = n_parts * part_cost / (workers * eff)
        print(
            f"PROJECTION 50M persons x {args.weeks} weeks on 20 nodes x {per_node} workers: "
            f"{n_parts:.0f} partitions x {part_cost:.1f} s measured per {args.part_persons:,}-"
            f"person partition / ({workers} workers x parallel efficiency {eff:.2f} measured at "
            f"{hi} workers) = {t / 60:.1f} min, plus the client's combine (measured "
            f"{combine:.2f} s outside the partition tasks for the ITT and hazard fits of this "
            "run; it grows with partitions, clusters and strata, not with persons)"
        )
    print(
        "Assumptions: per-core speed of this machine, the shared file system or object store "
        "delivers each worker's partition reads without contention, efficiency stays at the "
        "measured value; a projection, not a measurement."
    )
    if args.dir is None:
        shutil.rmtree(work, ignore_errors=True)
    else:  # keep the (expensive) register for the next run; drop the outcome chunks
        for k in args.workers:
            shutil.rmtree(work / f"outcomes-{k}", ignore_errors=True)


if __name__ == "__main__":
    main()
