"""W1: register to outcomes (benchmarks spec, workload W1).

Input: DREAM-style integer codes (-1 = no transfer) and employment flags for N persons over
260 weeks, and individual allocation weeks. Output per person: employment and sickness shares
for w = 1..81, both durations (with the 4-consecutive-weeks rule) with event flags, the 8
pre-allocation window shares and the 104-1 share, for employment and sickness.

Three implementations, each in its own subprocess (so peak memory is per implementation):

* dreamkit: ``CodeMap.to_states`` -> ``Register`` -> ``build_outcomes`` (timed together);
* baseline: a plain pandas long-format implementation (merge, sort, groupby per person);
  run on the first ``--baseline-max`` persons of the trial and scaled linearly to N when N is
  larger (marked "scaled" in the table). pandas time per person grows with N (sorting), so
  linear scaling understates the baseline at 1M and the ratio is conservative;
* floor: the same outputs from one pass over the code array with plain numpy on one thread
  (no validation, no chunking, no polars output).

dreamkit runs with its defaults: all available cores (2 here) for the code look-up and the
outcome chunks.

Before it reports a time the script checks that dreamkit's outputs equal the floor's exactly
(per-column digests over all N) and the pandas baseline's exactly (on the baseline's persons).
Times are medians of ``--repeats`` runs after one warm-up run, whose time is reported too
("first run": a fresh process, paying for the operating system's first touch of its
memory); peak memory is the dreamkit subprocess's maximum resident set size (it includes the
input arrays it loads: 3 bytes per person-week for codes and flags). The CPU column is the
dreamkit run's process time (user + system, median, summed over threads).

    python benchmarks/w1_outcomes.py [--sizes 10000 100000 1000000]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import polars as pl

from dreamkit.outcomes import OutcomeSpec, build_outcomes
from dreamkit.register import CodeMap, Register
from dreamkit.register.calendar import week_of_iso

N_WEEKS = 260
W, K, P, L = 81, 4, 104, 13
FIRST_WEEK = week_of_iso(2008, 1)
SPEC = OutcomeSpec(weeks=W, spell_weeks=K, pre_weeks=P, pre_window_length=L, totals={})
CODEMAP = CodeMap.default()
MARKOV_STATES = (
    "no_transfer",
    "ordinary_employment",
    "sickness_benefit",
    "job_clarification",
    "disability_pension",
    "activation_guidance",
    "unemployment_insurance",
    "cash_benefit",
)
WEIGHTS = np.array([0.12, 0.45, 0.2, 0.05, 0.03, 0.05, 0.05, 0.05])


# ---- data --------------------------------------------------------------------------------
def generate(n: int, seed: int, folder: Path) -> None:
    """Markov-chain codes and flags (stay with prob. 0.9, else draw a state), saved as .npy."""
    rng = np.random.default_rng(seed)
    code_of = np.array(
        [-1 if not CODEMAP.codes_of(s) else CODEMAP.codes_of(s)[0] for s in MARKOV_STATES],
        dtype=np.int16,
    )
    state = rng.choice(len(MARKOV_STATES), size=n, p=WEIGHTS).astype(np.int8)
    codes = np.empty((n, N_WEEKS), dtype=np.int16)
    employed = np.empty((n, N_WEEKS), dtype=bool)
    for t in range(N_WEEKS):
        move = rng.random(n) > 0.9
        state = np.where(move, rng.choice(len(MARKOV_STATES), size=n, p=WEIGHTS), state)
        codes[:, t] = code_of[state]
        employed[:, t] = state == 1
    np.save(folder / "codes.npy", codes)
    np.save(folder / "employed.npy", employed)
    ids = np.arange(n, dtype=np.int64) * 7 + 10**9
    np.save(folder / "ids.npy", ids)
    trial_rows = rng.permutation(n)
    np.save(folder / "trial_ids.npy", ids[trial_rows])
    offsets = rng.integers(P, N_WEEKS - (W + K - 1), n)
    np.save(folder / "alloc.npy", FIRST_WEEK + offsets)


def load(folder: Path) -> dict[str, npt.NDArray[np.generic]]:
    return {
        k: np.load(folder / f"{k}.npy") for k in ("codes", "employed", "ids", "trial_ids", "alloc")
    }


def set_codes(name: str) -> list[int]:
    return sorted(c for s in CODEMAP.members(name) for c in CODEMAP.codes_of(s))


# ---- the three implementations -------------------------------------------------------------
def run_dreamkit(d: dict[str, npt.NDArray[np.generic]]) -> pl.DataFrame:
    states, _ = CODEMAP.to_states(d["codes"], d["employed"])  # type: ignore[arg-type]
    register = Register(states, pl.Series("person_id", d["ids"]), FIRST_WEEK, CODEMAP)
    trial = pl.DataFrame({"person_id": d["trial_ids"], "allocation_week": d["alloc"]})
    return build_outcomes(register, trial, SPEC).persons


def run_floor(d: dict[str, npt.NDArray[np.generic]]) -> dict[str, npt.NDArray[np.generic]]:
    from numpy.lib.stride_tricks import sliding_window_view

    n_ids = d["ids"]
    rows = np.searchsorted(n_ids, d["trial_ids"])  # ids are sorted in this benchmark
    start = d["alloc"] - FIRST_WEEK - P
    width = P + W + K
    codes = sliding_window_view(d["codes"], width, axis=1)[rows, start]
    flags = sliding_window_view(d["employed"], width, axis=1)[rows, start]

    def lut(name: str) -> npt.NDArray[np.bool_]:
        table = np.zeros(1001, dtype=bool)
        table[np.array(set_codes(name)) + 1] = True
        return table[codes + 1]

    cells = {"emp": (codes == -1) & flags, "sick": lut("sickness")}
    sickdur = lut("sickness_duration")
    out: dict[str, npt.NDArray[np.generic]] = {}
    week = np.arange(1, W + 1, dtype=np.float64)
    for name, cell in cells.items():
        shares = np.cumsum(cell[:, P + 1 : P + 1 + W], axis=1, dtype=np.int32) / week
        for w in range(W):
            out[f"{name}_share_{w + 1}"] = shares[:, w]
    run = cells["emp"][:, P + 1 : P + 1 + W].copy()  # column P + t is relative week t
    for lag in range(1, K):
        run &= cells["emp"][:, P + 1 + lag : P + 1 + lag + W]
    hit = run.any(axis=1)
    out["dur_emp"] = np.where(hit, run.argmax(axis=1) + 1, W).astype(np.int32)
    out["event_emp"] = np.asarray(hit, dtype=np.int8)
    exit_ = ~sickdur[:, P + 1 : P + 1 + W]
    hit = exit_.any(axis=1)
    out["dur_sick"] = np.where(hit, exit_.argmax(axis=1) + 1, W).astype(np.int32)
    out["event_sick"] = np.asarray(hit, dtype=np.int8)
    for name, cell in cells.items():
        counts = cell[:, :P].reshape(-1, P // L, L).sum(axis=2, dtype=np.int32)
        for m, b in enumerate(range(P, 0, -L)):
            out[f"pre_{name}_{b}_{b - L + 1}"] = counts[:, m] / np.float64(L)
        out[f"pre_{name}_{P}_1"] = counts.sum(axis=1) / np.float64(P)
    return out


def long_frame(
    d: dict[str, npt.NDArray[np.generic]], n_sub: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Long person-week table and allocation table of the first n_sub trial persons."""
    ids = d["trial_ids"][:n_sub]
    rows = np.searchsorted(d["ids"], ids)
    long = pd.DataFrame(
        {
            "person": np.repeat(ids, N_WEEKS),
            "week": np.tile(np.arange(N_WEEKS, dtype=np.int16), n_sub),
            "code": d["codes"][rows].ravel(),
            "employed": d["employed"][rows].ravel(),
        }
    )
    alloc = pd.DataFrame(
        {"person": ids, "alloc": (d["alloc"][:n_sub] - FIRST_WEEK).astype(np.int16)}
    )
    return long, alloc


def run_pandas(long: pd.DataFrame, alloc: pd.DataFrame) -> pd.DataFrame:
    """Plain pandas, long format, groupby per person (the W1 baseline)."""
    df = long.merge(alloc, on="person")
    df["t"] = df["week"] - df["alloc"]
    df = df[(df["t"] >= -P) & (df["t"] <= W + K - 1)].sort_values(["person", "t"])
    df["emp"] = (df["code"] == -1) & df["employed"]
    df["sick"] = df["code"].isin(set_codes("sickness"))
    df["sickdur"] = df["code"].isin(set_codes("sickness_duration"))
    persons = alloc["person"].to_numpy()
    out: dict[str, object] = {"person_id": persons}
    last = df.groupby("person")["t"].max().reindex(persons).to_numpy()
    post = df[(df["t"] >= 1) & (df["t"] <= W)].copy()
    for name in ("emp", "sick"):
        post["share"] = post.groupby("person")[name].cumsum() / post["t"]
        wide = post.pivot(index="person", columns="t", values="share").reindex(persons)
        for w in range(1, W + 1):
            out[f"{name}_share_{w}"] = wide[w].to_numpy()
    ext = df[df["t"] >= 1].copy()
    run = ext["emp"].to_numpy().copy()
    for lag in range(1, K):
        run &= ext.groupby("person")["emp"].shift(-lag, fill_value=False).to_numpy()
    first = ext[run & (ext["t"] <= W).to_numpy()].groupby("person")["t"].min().reindex(persons)
    censor = np.minimum(W, last - K + 1)
    out["dur_emp"] = np.where(first.notna(), first, censor).astype(np.int32)
    out["event_emp"] = first.notna().to_numpy().astype(np.int8)
    exits = post[~post["sickdur"]].groupby("person")["t"].min().reindex(persons)
    out["dur_sick"] = np.where(exits.notna(), exits, np.minimum(W, last)).astype(np.int32)
    out["event_sick"] = exits.notna().to_numpy().astype(np.int8)
    pre = df[df["t"] <= -1].copy()
    pre["window"] = (pre["t"] + P) // L
    for name in ("emp", "sick"):
        means = pre.groupby(["person", "window"])[name].mean().unstack().reindex(persons)
        for m, b in enumerate(range(P, 0, -L)):
            out[f"pre_{name}_{b}_{b - L + 1}"] = means[m].to_numpy()
        out[f"pre_{name}_{P}_1"] = pre.groupby("person")[name].mean().reindex(persons).to_numpy()
    return pd.DataFrame(out)


# ---- workers (one subprocess each) ----------------------------------------------------------
def digest(values: npt.NDArray[np.generic]) -> str:
    return hashlib.blake2b(np.ascontiguousarray(values).tobytes(), digest_size=16).hexdigest()


def canonical(name: str, values: npt.NDArray[np.generic]) -> npt.NDArray[np.generic]:
    if name.startswith("event"):
        return np.asarray(values, dtype=np.int8)
    if name.startswith("dur"):
        return np.asarray(values, dtype=np.int32)
    return np.asarray(values, dtype=np.float64)


def worker(kind: str, folder: Path, repeats: int, n_sub: int) -> dict[str, object]:
    data = load(folder)
    times: list[float] = []
    if kind == "pandas":
        long, alloc = long_frame(data, n_sub)
        del data
        for _ in range(repeats):
            t0 = time.perf_counter()
            frame = run_pandas(long, alloc)
            times.append(time.perf_counter() - t0)
            if times[-1] > 30:
                break
        pl.from_pandas(frame).write_parquet(folder / "pandas.parquet")
        return {"times": times}
    run = run_dreamkit if kind == "dreamkit" else run_floor
    t0 = time.perf_counter()
    run(data)  # warm-up: the first run in a fresh process
    first = time.perf_counter() - t0
    result: object = None
    cpu: list[float] = []
    for _ in range(repeats):
        del result  # free the previous run's output before the next run
        t0, c0 = time.perf_counter(), time.process_time()
        result = run(data)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    if kind == "dreamkit":
        assert isinstance(result, pl.DataFrame)
        result.head(n_sub).select(["person_id", *SPEC.columns()]).write_parquet(
            folder / "dreamkit.parquet"
        )
        columns = {c: result[c].to_numpy() for c in SPEC.columns()}
    else:
        assert isinstance(result, dict)
        columns = result
    return {
        "times": times,
        "first": first,
        "cpu": cpu,
        "maxrss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
        "digests": {c: digest(canonical(c, columns[c])) for c in SPEC.columns()},
    }


def spawn(kind: str, folder: Path, repeats: int, n_sub: int) -> dict[str, object]:
    cmd = [sys.executable, __file__, "--worker", kind, str(folder), str(repeats), str(n_sub)]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def compare_with_pandas(folder: Path) -> None:
    ours = pl.read_parquet(folder / "dreamkit.parquet")
    theirs = pl.read_parquet(folder / "pandas.parquet")
    assert ours["person_id"].to_list() == theirs["person_id"].to_list()
    for col in SPEC.columns():
        a, b = canonical(col, ours[col].to_numpy()), canonical(col, theirs[col].to_numpy())
        if not np.array_equal(a, b):
            raise AssertionError(f"dreamkit and the pandas baseline differ in column {col}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per size")
    parser.add_argument("--baseline-max", type=int, default=200_000, help="pandas subsample cap")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    print(
        f"machine: {os.cpu_count()} cores, {mem:.0f} GB RAM, {platform.machine()}, "
        f"Python {platform.python_version()}, numpy {np.__version__}, polars {pl.__version__}, "
        f"pandas {pd.__version__}; load average at start {os.getloadavg()[0]:.1f}"
    )
    print(
        "| workload | size | dreamkit s | dreamkit first run s | baseline s | ratio | floor s "
        "| dreamkit / floor | dreamkit peak GB | dreamkit CPU s | equal |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for n in args.sizes:
        repeats = args.repeats
        n_sub = min(n, args.baseline_max)
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            generate(n, args.seed, folder)
            dk = spawn("dreamkit", folder, repeats, n_sub)
            floor = spawn("floor", folder, repeats, n_sub)
            if dk["digests"] != floor["digests"]:
                bad = [c for c in SPEC.columns() if dk["digests"][c] != floor["digests"][c]]  # type: ignore[index]
                raise AssertionError(f"dreamkit and the numpy floor differ in {bad[:5]}")
            pdres = spawn("pandas", folder, repeats, n_sub)
            compare_with_pandas(folder)
        t_dk = statistics.median(dk["times"])  # type: ignore[arg-type]
        t_floor = statistics.median(floor["times"])  # type: ignore[arg-type]
        t_pd = statistics.median(pdres["times"]) * n / n_sub  # type: ignore[arg-type]
        scaled = f" (scaled from {n_sub:,})" if n_sub < n else ""
        print(
            f"| W1 | {n:,} | {t_dk:.2f} | {dk['first']:.2f} | {t_pd:.1f}{scaled} | "
            f"{t_pd / t_dk:.0f}x | "
            f"{t_floor:.2f} | {t_dk / t_floor:.1f}x | {dk['maxrss_gb']:.2f} | "
            f"{statistics.median(dk['cpu']):.2f} | "  # type: ignore[arg-type]
            f"floor: all {n:,}; pandas: {n_sub:,} |",
            flush=True,
        )
    print(f"load average at end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        kind, folder, repeats, n_sub = (
            sys.argv[2],
            Path(sys.argv[3]),
            int(sys.argv[4]),
            int(sys.argv[5]),
        )
        print(json.dumps(worker(kind, folder, repeats, n_sub)))
    else:
        main()
