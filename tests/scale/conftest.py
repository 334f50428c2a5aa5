"""Small data for the scale-out tests, and one real Dask LocalCluster (2 worker processes)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from dreamkit.register import CodeMap
from dreamkit.register.calendar import months_of_weeks, week_label, week_of_iso
from dreamkit.register.labels import month_label

FIRST = week_of_iso(2005, 1)
WEEKS = 240
N_OUT = 6


def itt_table(n: int, seed: int = 0) -> pl.DataFrame:
    """Teams nested in strata (string labels), 60/40 within teams, team shocks, 6 outcomes."""
    rng = np.random.default_rng(seed)
    team = rng.integers(0, 60, n)
    stratum = np.array([f"m{k:02d}" for k in range(8)])[team % 8]
    treated = (rng.uniform(size=n) < 0.6).astype(np.int8)
    x = rng.normal(size=(n, 2))
    shock = rng.normal(size=60)[team]
    cols: dict[str, object] = {
        "municipality": stratum,
        "team": team.astype(np.int64) + 1000,
        "treated": treated,
        "x1": x[:, 0],
        "x2": (x[:, 1] > 0).astype(np.float64),
    }
    for w in range(1, N_OUT + 1):
        latent = 0.1 * x[:, 0] + 0.3 * shock + 0.05 * treated + rng.normal(size=n)
        cols[f"emp_{w}"] = (latent > 0.2 * w).astype(np.float64)
    return pl.DataFrame(cols)


def durations(n: int, seed: int = 0) -> pl.DataFrame:
    """Logit discrete-time exits over 40 weeks: stratum effects, treatment, teams."""
    rng = np.random.default_rng(seed)
    team = rng.integers(0, 50, n)
    stratum = team % 5
    treated = (rng.random(n) < 0.6).astype(np.int8)
    lin = -3.0 + 0.3 * stratum - 0.2 * treated
    duration = np.full(n, 40, dtype=np.int32)
    event = np.zeros(n, dtype=np.int8)
    alive = np.ones(n, dtype=bool)
    for t in range(1, 41):
        exits = alive & (rng.random(n) < 1 / (1 + np.exp(-(lin + 0.2 * np.sin(t / 6)))))
        duration[exits] = t
        event[exits] = 1
        alive &= ~exits
    return pl.DataFrame(
        {
            "duration": duration,
            "event": event,
            "team": team.astype(np.int32),
            "municipality": stratum.astype(np.int16),
            "treated": treated,
        }
    )


def random_wide(n: int, seed: int) -> pl.DataFrame:
    """Wide register with codes of the default map (half empty) and monthly employment."""
    rng = np.random.default_rng(seed)
    codemap = CodeMap.default()
    pool = np.array([c for s in codemap.states for c in codemap.codes_of(s)], dtype=np.int64)
    codes = pool[rng.integers(0, pool.size, (n, WEEKS))].astype(np.float64)
    codes[rng.random((n, WEEKS)) < 0.5] = np.nan
    cols = [pl.Series("person_id", rng.permutation(n).astype(np.int64) + 500_000)]
    for j in range(WEEKS):
        cols.append(pl.Series(week_label(FIRST + j), codes[:, j], nan_to_null=True).cast(pl.Int32))
    for m in np.unique(months_of_weeks(np.arange(FIRST, FIRST + WEEKS))):
        cols.append(
            pl.Series(month_label(int(m), "branche_"), np.where(rng.random(n) < 0.5, "A", ""))
        )
    return pl.DataFrame(cols)


def random_trial(register: pl.DataFrame, n: int, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    ids = register["person_id"].sample(n, seed=seed)
    return pl.DataFrame(
        {
            "person_id": ids,
            "allocation_week": rng.integers(FIRST + 110, FIRST + WEEKS - 90, n),
            "treated": rng.integers(0, 2, n).astype(np.int8),
            "team": rng.integers(0, 7, n),
        }
    )


def split(frame: pl.DataFrame, k: int, seed: int) -> list[pl.DataFrame]:
    """Rows dealt at random into k partitions (so clusters span partitions)."""
    part = np.random.default_rng(seed).integers(0, k, frame.height)
    return [frame.filter(pl.Series(part == j)) for j in range(k)]


@pytest.fixture(scope="session")
def client():
    """A real dask.distributed LocalCluster: 2 worker processes, 1 thread each, loopback."""
    distributed = pytest.importorskip("distributed")
    # Functions defined in test modules reach the workers by reference (pytest imports test
    # modules under names relative to the repository root): the spawned worker processes,
    # which start from this process's sys.path, need the root on it, as a user's workers
    # need the user's code.
    root = str(Path(__file__).resolve().parents[2])
    if root not in sys.path:
        sys.path.insert(0, root)
    cluster = distributed.LocalCluster(
        n_workers=2,
        processes=True,
        threads_per_worker=1,
        host="127.0.0.1",
        dashboard_address=None,
        silence_logs=40,
    )
    client = distributed.Client(cluster, set_as_default=False)
    client.wait_for_workers(2, timeout=60)
    yield client
    client.close()
    cluster.close()


@pytest.fixture(scope="session")
def make():
    """The data helpers of this module (test files cannot import conftest in importlib mode)."""
    import types

    return types.SimpleNamespace(
        itt_table=itt_table,
        durations=durations,
        random_wide=random_wide,
        random_trial=random_trial,
        split=split,
        weeks=WEEKS,
    )
