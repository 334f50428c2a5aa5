"""Shared test helpers: random wide tables and an independent pure-Python reference reader."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
from hypothesis import strategies as st

from dreamkit.register import CodeMap

SECRET_ID = 1234567890  # planted in error tests: must never appear in a message
CODEMAP = CodeMap.default()
KNOWN_CODES = sorted(c for s in CODEMAP.states for c in CODEMAP.codes_of(s))


def label(year: int, week: int, prefix: str = "y_") -> str:
    return f"{prefix}{year % 100:02d}{week:02d}"


def iso_weeks(start: dt.date, n: int) -> list[dt.date]:
    """Mondays of ``n`` consecutive ISO weeks from the week containing ``start``."""
    monday = start - dt.timedelta(days=start.weekday())
    return [monday + dt.timedelta(weeks=k) for k in range(n)]


def week_column(monday: dt.date) -> str:
    year, week, _ = monday.isocalendar()
    return label(year, week)


def month_column(year: int, month: int, prefix: str = "branche_") -> str:
    return f"{prefix}{year:04d}_{month:02d}"


def thursday_month(monday: dt.date) -> tuple[int, int]:
    thursday = monday + dt.timedelta(days=3)
    return thursday.year, thursday.month


@st.composite
def wide_tables(draw: st.DrawFn, *, unknown: bool = False) -> tuple[pl.DataFrame, list[dt.date]]:
    """A wide DREAM-style frame (Int16 codes, branche_ columns) and the Mondays of its weeks.

    Starts are drawn near year ends (53-week years 2004, 2009, 2015, 2020 included) and on
    both sides of the century pivot.
    """
    year = draw(st.sampled_from([1991, 1998, 1999, 2003, 2004, 2008, 2009, 2015, 2020, 2026]))
    start = dt.date(year, 12, 1) + dt.timedelta(days=draw(st.integers(0, 40)))
    mondays = iso_weeks(start, draw(st.integers(1, 9)))
    n = draw(st.integers(1, 6))
    ids = draw(st.lists(st.integers(0, 10**6), min_size=n, max_size=n, unique=True))
    pool = KNOWN_CODES + ([5000, 1] if unknown else [])
    cell = st.one_of(st.none(), st.sampled_from(pool))
    data: dict[str, pl.Series] = {"person_id": pl.Series(ids, dtype=pl.Int64)}
    for monday in mondays:
        col = week_column(monday)
        data[col] = pl.Series(col, draw(st.lists(cell, min_size=n, max_size=n)), dtype=pl.Int16)
    months = sorted({thursday_month(m) for m in mondays})
    flag = st.one_of(st.none(), st.sampled_from(["47", "01"]))
    for y, m in months:
        col = month_column(y, m)
        data[col] = pl.Series(col, draw(st.lists(flag, min_size=n, max_size=n)), dtype=pl.String)
    return pl.DataFrame(data), mondays


def reference_states(
    wide: pl.DataFrame, mondays: list[dt.date], *, employment: bool, codemap: CodeMap = CODEMAP
) -> np.ndarray:
    """Cell-by-cell states computed with ``datetime`` only (no dreamkit calendar code)."""
    state_of_code = {
        c: codemap.states.index(s) for s in codemap.states for c in codemap.codes_of(s)
    }
    out = np.zeros((wide.height, len(mondays)), dtype=np.uint8)
    for i, row in enumerate(wide.iter_rows(named=True)):
        for j, monday in enumerate(mondays):
            code = row[week_column(monday)]
            if code is not None:
                out[i, j] = state_of_code.get(code, codemap.states.index("unknown"))
                continue
            y, m = thursday_month(monday)
            employed = employment and row.get(month_column(y, m)) not in (None, "")
            name = codemap.employed_state if employed else codemap.not_employed_state
            out[i, j] = codemap.states.index(name)
    return out
