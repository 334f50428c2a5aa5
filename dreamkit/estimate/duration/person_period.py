"""Person-period expansion: one row per person (or spell) per week at risk.

A spell with duration ``d`` (weeks 1..d observed) and event flag ``e`` contributes rows
``t = 1, ..., d`` with outcome ``y_t = 1{t = d and e = 1}``: the spell either ends with the
event of interest in week d or is right-censored after week d. With competing exits (an
exit-type column), the cause-specific outcome for exit type ``k`` is
``y_tk = 1{t = d, e = 1, type = k}``; exits of another type censor the spell for exit k.

Everything is vectorised (``numpy.repeat`` of row indices, integer dtypes: ``Int16``/``Int32``
periods and ``Int8`` flags), so 50M person-weeks take about 1.5 GB plus the carried columns.
Person identifiers are carried over only if the caller asks for them in ``keep``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl
from numpy.typing import NDArray

from dreamkit.errors import (
    ColumnNotFoundError,
    EmptyInputError,
    EstimationError,
    InputError,
    OverlappingSpellsError,
)
from dreamkit.frames import accepts_pandas


def require_columns(df: pl.DataFrame, cols: Sequence[str], what: str) -> None:
    """Raise :class:`ColumnNotFoundError` naming any of ``cols`` missing from ``df``."""
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ColumnNotFoundError(
            f"the {what} table lacks column(s) {missing}; its columns are {df.columns}. "
            "Pass the right names (duration=..., event=..., ...) or rename the columns."
        )


def duration_arrays(
    df: pl.DataFrame, duration: str, event: str
) -> tuple[NDArray[np.int64], NDArray[np.int8]]:
    """Validated durations (integers >= 1) and event flags (0/1) as numpy arrays."""
    require_columns(df, [duration, event], "durations")
    if df.height == 0:
        raise EmptyInputError("the durations table has no rows.")
    for col in (duration, event):
        s = df[col]
        if s.null_count():
            raise InputError(
                f"column {col!r} has {s.null_count()} missing value(s); every spell needs a "
                f"{col}. Censored spells have {event} = 0 and their last observed week; persons "
                "whose duration is undefined (no week at risk observed) must be removed "
                "explicitly and recorded in the sample flow."
            )
        if not s.dtype.is_integer():
            raise InputError(f"column {col!r} has dtype {s.dtype}; it must be an integer column.")
    d = df[duration].to_numpy().astype(np.int64)
    e = df[event].to_numpy()
    if d.min() < 1:
        raise InputError(
            f"column {duration!r} has value {int(d.min())}; durations count weeks at risk and "
            "start at 1 (a spell ending in week 1 has duration 1). Remove spells with no week "
            "at risk explicitly."
        )
    bad = np.setdiff1d(np.unique(e), [0, 1])
    if bad.size:
        raise InputError(
            f"column {event!r} has value {int(bad[0])}; event flags are 1 (exit in the last "
            "week) or 0 (right-censored)."
        )
    return d, e.astype(np.int8)


def _period_dtype(max_d: int) -> type[pl.DataType]:
    return pl.Int16 if max_d < 2**15 else pl.Int32


def _expand(
    d: NDArray[np.int64], e: NDArray[np.int8]
) -> tuple[NDArray[np.int32], NDArray[np.int64], NDArray[np.int8], NDArray[np.int64]]:
    """Row index of the source spell, period 1..d, event flag, and position of each last row."""
    total = int(d.sum())
    idx = np.repeat(np.arange(d.size, dtype=np.int32), d)
    ends = np.cumsum(d)
    period = np.arange(1, total + 1, dtype=np.int64) - np.repeat(ends - d, d)
    flag = np.zeros(total, dtype=np.int8)
    flag[ends - 1] = e
    return idx, period, flag, ends - 1


def _exit_type_columns(
    df: pl.DataFrame, exit_type: str, e: NDArray[np.int8], last: NDArray[np.int64], total: int
) -> list[pl.Series]:
    require_columns(df, [exit_type], "durations")
    types = df[exit_type]
    if types.filter(pl.Series(e == 1)).null_count():
        raise InputError(
            f"column {exit_type!r} is missing for some spells with an event; every exit needs "
            "an exit type."
        )
    out = []
    for k in types.filter(pl.Series(e == 1)).unique().sort().to_list():
        col = np.zeros(total, dtype=np.int8)
        col[last] = ((types == k).fill_null(False).to_numpy() & (e == 1)).astype(np.int8)
        out.append(pl.Series(f"event_{k}", col, dtype=pl.Int8))
    return out


@accepts_pandas("durations")
def expand_person_periods(
    durations: pl.DataFrame,
    *,
    duration: str = "duration",
    event: str = "event",
    exit_type: str | None = None,
    keep: Sequence[str] | None = None,
    period: str = "period",
) -> pl.DataFrame:
    """Expand a spell table (one row per person) to one row per week at risk.

    Args:
        durations: one row per person (or spell) with an integer ``duration`` >= 1 and an
            ``event`` flag (1 = exit in the last week, 0 = right-censored).
        exit_type: optional column naming the exit of each event (competing exits); adds one
            ``Int8`` column ``event_<type>`` per exit type, 1 in the exit week of that type.
        keep: columns to carry to every row (default: all but duration, event, exit_type).
        period: name of the week-at-risk column (1..duration).

    Returns:
        A polars DataFrame with ``keep``, ``period`` and ``event`` (and ``event_<type>``);
        its height is ``sum(duration)``.
    """
    d, e = duration_arrays(durations, duration, event)
    if keep is None:
        keep = [c for c in durations.columns if c not in (duration, event, exit_type)]
    require_columns(durations, keep, "durations")
    clash = [c for c in (period, event) if c in keep]
    if clash:
        raise InputError(f"keep must not contain {clash}: these names are the output columns.")
    idx, per, flag, last = _expand(d, e)
    out = durations.select(pl.col(list(keep)).gather(pl.Series(idx)))
    cols = [
        pl.Series(period, per, dtype=_period_dtype(int(d.max()))),
        pl.Series(event, flag, dtype=pl.Int8),
    ]
    if exit_type is not None:
        cols += _exit_type_columns(durations, exit_type, e, last, idx.size)
    return out.with_columns(cols) if keep else pl.DataFrame(cols)


@accepts_pandas("spells")
def expand_spells(
    spells: pl.DataFrame,
    *,
    person: str = "person_id",
    start: str = "start",
    length: str = "length",
    event: str = "event",
    exit_type: str | None = None,
    keep: Sequence[str] = (),
    period: str = "period",
) -> pl.DataFrame:
    """Expand repeated spells (several per person) to one row per spell-week at risk.

    Args:
        spells: one row per spell: ``person``, ``start`` (integer week of the spell's first
            week, e.g. weeks since allocation), ``length`` (weeks at risk, >= 1) and
            ``event`` (1 = the spell ends with an exit in its last week).
        exit_type: optional exit-type column, as in :func:`expand_person_periods`.
        keep: further columns to carry (person-level covariates, stratum, cluster).

    Returns:
        Rows with ``person``, ``spell`` (1, 2, ... in order of start within person),
        ``period`` (week within the spell, 1..length), ``week`` (``start + period - 1``),
        ``event`` (and ``event_<type>``) and ``keep``. Overlapping spells of one person raise
        :class:`~dreamkit.errors.OverlappingSpellsError` (an :class:`InputError`).
    """
    require_columns(spells, [person, start, *keep], "spells")
    if spells[start].null_count() or not spells[start].dtype.is_integer():
        raise InputError(f"column {start!r} must be an integer week without missing values.")
    ordered = spells.sort([person, start])
    d, e = duration_arrays(ordered, length, event)
    st = ordered[start].to_numpy().astype(np.int64)
    pid = ordered[person]
    same = (pid.head(-1) == pid.tail(-1)).to_numpy() if ordered.height > 1 else np.zeros(0, bool)
    overlap = same & (st[1:] < st[:-1] + d[:-1])
    if overlap.any():
        raise OverlappingSpellsError(
            f"{int(overlap.sum())} spell(s) start before the previous spell of the same person "
            f"has ended ({start} < previous {start} + {length}); spells must not overlap. Merge "
            "overlapping spells into one, or keep one spell per week."
        )
    spell_no = np.ones(d.size, dtype=np.int64)
    if d.size > 1:
        run = np.concatenate([[0], np.cumsum(~same)])
        first_of_run = np.concatenate([[0], np.flatnonzero(~same) + 1])
        spell_no = np.arange(d.size) - first_of_run[run] + 1
    idx, per, flag, last = _expand(d, e)
    out = ordered.select(pl.col([person, *keep]).gather(pl.Series(idx)))
    cols = [
        pl.Series("spell", spell_no[idx], dtype=pl.Int32),
        pl.Series(period, per, dtype=_period_dtype(int(d.max()))),
        pl.Series("week", st[idx] + per - 1, dtype=pl.Int32),
        pl.Series(event, flag, dtype=pl.Int8),
    ]
    if exit_type is not None:
        cols += _exit_type_columns(ordered, exit_type, e, last, idx.size)
    return out.with_columns(cols)


def check_events_by_arm(arms: pl.Series, events: NDArray[Any], treatment: str) -> None:
    """Raise :class:`EstimationError` when an arm has no events: the treatment coefficient
    then diverges to minus infinity (separation), so nothing is fitted."""
    e = np.asarray(events, dtype=np.float64)
    if not e.any():
        return  # no events at all: the caller's own check says so
    a = arms.cast(pl.Float64).to_numpy()
    for arm, name in ((0.0, "control"), (1.0, "treated")):
        in_arm = a == arm
        n = int(in_arm.sum())
        if n and not e[in_arm].any():
            raise EstimationError(
                f"the {name} arm ({treatment!r} = {int(arm)}) has no events among its {n} "
                "persons, so the treatment coefficient has no finite estimate (separation); "
                "report the arms' event counts (e.g. Kaplan-Meier) instead of a hazard ratio."
            )
