"""Small random DREAM-style registers and trial tables for the chunked tests."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from dreamkit.register import CodeMap
from dreamkit.register.calendar import months_of_weeks, week_label, week_of_iso
from dreamkit.register.labels import month_label

FIRST = week_of_iso(2005, 1)


def random_wide(n: int, weeks: int, seed: int, *, float_codes: bool = False) -> pl.DataFrame:
    """Wide register: shuffled integer ids, codes from the default map (half empty), monthly
    ``branche_`` employment columns (half empty)."""
    rng = np.random.default_rng(seed)
    codemap = CodeMap.default()
    pool = np.array([c for s in codemap.states for c in codemap.codes_of(s)], dtype=np.int64)
    codes = pool[rng.integers(0, pool.size, (n, weeks))].astype(np.float64)
    codes[rng.random((n, weeks)) < 0.5] = np.nan
    ids = rng.permutation(n).astype(np.int64) + 500_000
    cols = [pl.Series("person_id", ids.astype(np.float64) if float_codes else ids)]
    for j in range(weeks):
        col = pl.Series(week_label(FIRST + j), codes[:, j], nan_to_null=not float_codes)
        cols.append(col if float_codes else col.cast(pl.Int32))
    months = np.unique(months_of_weeks(np.arange(FIRST, FIRST + weeks)))
    for m in months:
        flags = np.where(rng.random(n) < 0.5, "A", "")
        cols.append(pl.Series(month_label(int(m), "branche_"), flags))
    return pl.DataFrame(cols)


def random_trial(register: pl.DataFrame, n: int, weeks: int, seed: int, n_absent: int = 0):
    """Trial of ``n`` register persons plus ``n_absent`` unknown ids, allocation weeks spread
    so that some persons lack coverage of -104..81."""
    rng = np.random.default_rng(seed)
    ids = register["person_id"].cast(pl.Int64).sample(n, seed=seed)
    ids = pl.concat([ids, pl.Series("person_id", np.arange(n_absent, dtype=np.int64) + 10**8)])
    total = ids.len()
    return pl.DataFrame(
        {
            "person_id": ids,
            "allocation_week": rng.integers(FIRST + 60, FIRST + weeks - 40, total),
            "treated": rng.integers(0, 2, total).astype(np.int8),
            "team": rng.integers(0, 7, total),
        }
    ).sample(fraction=1.0, shuffle=True, seed=seed)


@pytest.fixture(scope="module")
def wide() -> pl.DataFrame:
    return random_wide(1_200, 260, seed=3)


@pytest.fixture(scope="session")
def make_trial():
    return random_trial


@pytest.fixture(scope="session")
def make_wide():
    return random_wide


@pytest.fixture(scope="session")
def first_week() -> int:
    return FIRST
