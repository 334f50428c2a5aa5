r"""Recurrent sickness spells after a return to work: relapse episodes from the state array.

On an aligned window of relative weeks :math:`1..L` (observed up to week :math:`h_i`, as in
:mod:`dreamkit.outcomes.durations`), with a work set :math:`A` (e.g. ordinary employment), a
sickness set :math:`B` (disjoint from :math:`A`) and the lasting-return rule of
:func:`~dreamkit.outcomes.durations.duration_to_spell` (:math:`k` consecutive weeks in
:math:`A`):

* **return** :math:`r_{i1} = \min\{t \ge 1 : s_{iu} \in A\ \forall u \in t..t+k-1,\ t+k-1 \le
  h_i\}`, the first week of the first lasting spell in :math:`A` (the study's duration to
  employment, so :math:`r_{i1}` equals ``duration_to_spell``'s duration for persons with an
  event);
* **at risk of relapse** from the first week after the confirming run,
  :math:`a_{ie} = r_{ie} + k`, in every week until the relapse or the end of observation;
* **relapse** :math:`u_{ie} = \min\{t \ge a_{ie} : s_{it} \in B\}`, if :math:`u_{ie} \le h_i`;
  the episode has ``length`` :math:`u_{ie} - a_{ie} + 1` weeks at risk and ``event`` 1
  (weeks to relapse, counting the relapse week as the last week at risk, like every duration
  in dreamkit); otherwise it is right-censored with length :math:`h_i - a_{ie} + 1`;
* after a relapse the person is again at risk only after the next lasting return,
  :math:`r_{i,e+1} = \min\{t > u_{ie} : \ldots\}` (same rule), so episodes
  :math:`e = 1, 2, \ldots` never overlap.

Weeks in neither set (unemployment benefit, no code) keep the person at risk. The episodes
form a repeated-events spell table (``row``, ``episode``, ``start`` :math:`= a_{ie}`,
``length``, ``event``, ``return_week``) for
:func:`~dreamkit.estimate.duration.person_period.expand_spells` and a discrete-time hazard of
relapse clustered by person (``DiscreteTimeHazard(cluster="person_id").fit_person_periods``).
The number of relapses by horizon :math:`H` counts the episodes with :math:`u_{ie} \le H`, i.e.
the sickness spells that start after a lasting return and by week :math:`H`.

Everything is vectorised over persons: "next qualifying week" arrays (reverse running minima)
and one pass per episode number, never a loop over persons.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import polars as pl

from dreamkit.errors import InputError, OverlappingSpellsError
from dreamkit.outcomes.align import UNOBSERVED
from dreamkit.outcomes.shares import observed_prefix, week_indicators

NEVER = np.iinfo(np.int64).max // 4


def _next_true(hits: npt.NDArray[np.bool_]) -> npt.NDArray[np.int64]:
    """``out[i, j]`` = smallest 1-based column ``>= j + 1`` where ``hits`` is True, else NEVER;
    one extra column (index L) holding NEVER so that ``out[:, L]`` is valid."""
    n, width = hits.shape
    idx = np.where(hits, np.arange(1, width + 1, dtype=np.int64)[None, :], NEVER)
    out = np.full((n, width + 1), NEVER, dtype=np.int64)
    out[:, :width] = np.minimum.accumulate(idx[:, ::-1], axis=1)[:, ::-1]
    return out


def relapse_episodes(
    window: npt.NDArray[np.uint8],
    work_mask: npt.NDArray[np.bool_],
    sick_mask: npt.NDArray[np.bool_],
    k: int = 4,
) -> pl.DataFrame:
    """Relapse episodes after lasting returns to work (module docstring).

    Args:
        window: aligned states of relative weeks ``1..L`` (persons x weeks).
        work_mask: code-map mask of the work set :math:`A` (``CodeMap.mask("employment")``).
        sick_mask: code-map mask of the sickness set :math:`B`; must not share a state with
            :math:`A`.
        k: weeks in :math:`A` that make a return lasting (the study's 4-week rule).

    Returns:
        One row per episode, ordered by row and episode: ``row`` (row of the window, UInt32
        like polars' ``with_row_index``),
        ``episode`` (1, 2, ...), ``return_week`` (:math:`r`), ``start`` (first week at risk,
        :math:`r + k`), ``length`` (weeks at risk), ``event`` (1 = relapse in the last week).
        Persons without a lasting return (or with no week at risk after it) have no rows.
    """
    if k < 1:
        raise InputError(f"k must be >= 1, got {k}.")
    if window.ndim != 2 or window.shape[1] < 1:
        raise InputError(f"window must be persons x weeks with >= 1 week, got {window.shape}.")
    both = np.flatnonzero(np.asarray(work_mask) & np.asarray(sick_mask))
    if both.size:
        raise InputError(
            f"state id {int(both[0])} is in both the work and the sickness set; a week cannot "
            "be a return to work and a relapse at once. Make the sets disjoint."
        )
    n, width = window.shape
    observed = observed_prefix(window) if (window == UNOBSERVED).any() else None
    in_a = week_indicators(window, work_mask)
    in_b = week_indicators(window, sick_mask)
    if observed is not None:
        in_a &= observed
        in_b &= observed
    h = observed.sum(axis=1).astype(np.int64) if observed is not None else np.full(n, width)
    run = np.zeros_like(in_a)
    if width >= k:
        run[:, : width - k + 1] = in_a[:, : width - k + 1]
        for lag in range(1, k):
            run[:, : width - k + 1] &= in_a[:, lag : lag + width - k + 1]
    next_return = _next_true(run)
    next_sick = _next_true(in_b)
    rows_all = np.arange(n)
    t = np.ones(n, dtype=np.int64)  # search for a lasting return from week t
    active = np.ones(n, dtype=bool)
    parts: list[dict[str, npt.NDArray[np.int64]]] = []
    episode = 0
    while active.any():
        episode += 1
        rows = rows_all[active]
        tt = np.minimum(t[rows], width + 1) - 1
        r = next_return[rows, tt]
        start = r + k
        ok = (r < NEVER) & (start <= h[rows])
        rows, r, start = rows[ok], r[ok], start[ok]
        u = next_sick[rows, np.minimum(start, width + 1) - 1]
        relapsed = u <= h[rows]
        end = np.where(relapsed, u, h[rows])
        parts.append(
            {
                "row": rows,
                "episode": np.full(rows.size, episode, dtype=np.int64),
                "return_week": r,
                "start": start,
                "length": end - start + 1,
                "event": relapsed.astype(np.int64),
            }
        )
        active[:] = False
        active[rows[relapsed]] = True
        t[rows[relapsed]] = u[relapsed] + 1
    cols = {
        key: np.concatenate([p[key] for p in parts]) if parts else np.zeros(0, np.int64)
        for key in ("row", "episode", "return_week", "start", "length", "event")
    }
    dtypes = {"event": pl.Int8, "row": pl.UInt32}  # row joins ``with_row_index("row")``
    frame = pl.DataFrame(
        {key: pl.Series(key, v, dtype=dtypes.get(key, pl.Int32)) for key, v in cols.items()}
    )
    return frame.sort("row", "episode")


def relapse_outcomes(
    window: npt.NDArray[np.uint8],
    work_mask: npt.NDArray[np.bool_],
    sick_mask: npt.NDArray[np.bool_],
    k: int = 4,
    horizons: Sequence[int] = (),
) -> pl.DataFrame:
    """Per-person relapse outcomes (module docstring), one row per window row.

    Columns: ``returned`` (a lasting return with a week at risk after it), ``return_week``
    (null without), ``relapse_weeks`` (weeks at risk to the first relapse, or to censoring;
    null without a return), ``relapse_event``, and for every horizon ``H``
    ``n_relapses_H`` (relapses by week H: sickness spells starting after a lasting return,
    0 without a return) and ``n_sick_spells_H`` (all spells in the sickness set that start in
    weeks 1..H, a spell under way in week 1 included).
    """
    episodes = relapse_episodes(window, work_mask, sick_mask, k)
    n, width = window.shape
    for hz in horizons:
        if not 1 <= hz <= width:
            raise InputError(f"horizon {hz} is outside the window's weeks 1..{width}.")
    first = episodes.filter(pl.col("episode") == 1)
    rows = first["row"].to_numpy()
    returned = np.zeros(n, dtype=bool)
    returned[rows] = True
    ret = np.zeros(n, dtype=np.int64)
    ret[rows] = first["return_week"].to_numpy()
    dur = np.zeros(n, dtype=np.int64)
    dur[rows] = first["length"].to_numpy()
    ev = np.zeros(n, dtype=bool)
    ev[rows] = first["event"].to_numpy() == 1
    out = {
        "returned": pl.Series(returned),
        "return_week": pl.Series(ret, dtype=pl.Int32).set(pl.Series(~returned), None),
        "relapse_weeks": pl.Series(dur, dtype=pl.Int32).set(pl.Series(~returned), None),
        "relapse_event": pl.Series(ev).set(pl.Series(~returned), None),
    }
    relapse_week = (episodes["start"] + episodes["length"] - 1).to_numpy()
    is_relapse = episodes["event"].to_numpy() == 1
    in_b = week_indicators(window, sick_mask)
    if (window == UNOBSERVED).any():
        in_b &= observed_prefix(window)
    starts_b = in_b.copy()
    starts_b[:, 1:] &= ~in_b[:, :-1]
    for hz in horizons:
        hit = is_relapse & (relapse_week <= hz)
        out[f"n_relapses_{hz}"] = pl.Series(
            np.bincount(episodes["row"].to_numpy()[hit], minlength=n).astype(np.int32)
        )
        out[f"n_sick_spells_{hz}"] = pl.Series(starts_b[:, :hz].sum(axis=1).astype(np.int32))
    return pl.DataFrame(out)


def check_no_overlap(
    spells: pl.DataFrame,
    *,
    person: str = "person_id",
    start: str = "start",
    length: str = "length",
) -> None:
    """Raise :class:`~dreamkit.errors.OverlappingSpellsError` if two spells of a person share
    a week (``start`` < previous ``start`` + previous ``length``). Messages give counts only."""
    if not isinstance(spells, pl.DataFrame):
        spells = pl.from_pandas(spells)
    missing = [c for c in (person, start, length) if c not in spells.columns]
    if missing:
        raise InputError(
            f"the spell table lacks column(s) {missing}; its columns are {spells.columns}."
        )
    s = spells.select(person, start, length).sort(person, start)
    prev_end = (pl.col(start) + pl.col(length)).shift(1).over(person)
    bad = s.select((pl.col(start) < prev_end).fill_null(False).sum()).item()
    if bad:
        raise OverlappingSpellsError(
            f"{bad} spell(s) start before the previous spell of the same person has ended "
            f"({start} < previous {start} + {length}); spells of one person must not overlap. "
            "Merge overlapping spells into one, or keep one spell per week (e.g. the earlier)."
        )
