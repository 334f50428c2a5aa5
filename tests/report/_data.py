"""A hand-made reference-shaped trial and DREAM-style wide register for the report tests.

The study's 43 team sizes in 26 municipalities; codes only from the default code map; every
week without a code is an employed week (all ``branche_`` months are set). Sick leave starts
6-60 weeks before allocation; after it, a weekly exit with probability 3% (control) or 4.5%
(course), higher with belief in the treatment.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from dreamkit.register import CodeMap
from dreamkit.register.calendar import months_of_weeks, week_label, weeks_of_dates
from dreamkit.register.labels import month_label

SIZES = [
    (4, 9), (4, 7), (4, 7), (6, 13), (5, 7), (5, 13), (4, 9), (3, 5), (7, 12), (4, 7), (5, 9),
    (3, 11), (6, 9), (3, 8), (8, 12), (6, 9), (5, 11), (4, 6), (4, 5), (2, 7), (4, 7), (4, 9),
    (9, 16), (5, 5), (4, 7), (5, 9), (7, 9), (4, 7), (4, 9), (7, 13), (9, 14), (6, 11), (1, 9),
    (3, 4), (3, 6), (4, 11), (7, 9), (4, 7), (3, 6), (4, 7), (4, 7), (1, 5), (3, 8),
]  # fmt: skip
BINARY = ("female", "partner", "higher_education", "public_job", "ordinary_job",
          "mental_cause", "work_related")  # fmt: skip


def reference_files(seed: int = 0) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(trial table, wide code table with employment columns)."""
    rng = np.random.default_rng(seed)
    treated = np.concatenate([np.r_[np.zeros(c), np.ones(t)] for c, t in SIZES]).astype(np.int8)
    team = np.concatenate([np.full(c + t, h) for h, (c, t) in enumerate(SIZES)])
    municipality = np.where(team < 34, team // 2, team - 17)
    n = treated.size
    start = dt.date(2010, 3, 1)
    offsets = rng.integers(0, 40, n) + 9 * team
    alloc = [start + dt.timedelta(days=int(o)) for o in offsets]
    frame = pl.DataFrame({"team": team, "d": alloc})
    last = frame.select(pl.col("d").max().over("team"))["d"]
    belief = rng.integers(1, 6, n)
    trial = pl.DataFrame(
        {
            "person_id": np.arange(n, dtype=np.int64) + 100_000,
            "municipality": municipality.astype(np.int64),
            "team": team.astype(np.int64),
            "treated": treated,
            "allocation_date": alloc,
            "team_last_allocation": last,
            **{f"uwses_{k}": rng.integers(0, 5, n) for k in range(1, 7)},
            "belief_in_treatment": belief,
            "expected_return": rng.integers(1, 5, n),
            "age": rng.integers(20, 64, n),
            **{name: rng.integers(0, 2, n).astype(np.int8) for name in BINARY},
        }
    )
    cmap = CodeMap.default()
    sick = cmap.codes_of("sickness_benefit")[0]
    alloc_week = weeks_of_dates(np.array(alloc, dtype="datetime64[D]"))
    first = int(alloc_week.min()) - 110
    n_weeks = int(alloc_week.max()) + 90 - first
    codes = np.zeros((n, n_weeks), dtype=np.int16)
    p_exit = 0.02 + 0.015 * treated + 0.004 * belief
    for i in range(n):
        a = int(alloc_week[i]) - first
        codes[i, a - int(rng.integers(6, 60)) : a + 1] = sick
        w = a + 1
        while w < n_weeks and rng.random() > p_exit[i]:
            codes[i, w] = sick
            w += 1
    weeks = np.arange(first, first + n_weeks)
    columns = {
        week_label(int(w)): pl.Series(codes[:, j]).replace(0, None) for j, w in enumerate(weeks)
    }
    months = np.unique(months_of_weeks(weeks))
    employment = {month_label(int(m), "branche_"): np.ones(n, np.int8) for m in months}
    wide = pl.DataFrame({"person_id": trial["person_id"], **columns, **employment})
    return trial, wide
