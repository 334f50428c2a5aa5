r"""Spells: run-length encoding of each person's aligned states.

Within relative weeks :math:`f..l`, a spell is a maximal run of weeks :math:`u..v` with the
same observed state :math:`s`; its length is :math:`v - u + 1`. Weeks outside the register's
span end a spell and start none. A spell is

* **left-censored** when its true start is unknown: week :math:`u - 1` is unobserved, or it is
  :math:`f - 1` and holds the same state (the spell began before the window);
* **right-censored** when its true end is unknown: week :math:`v + 1` is unobserved, or it is
  :math:`l + 1` and holds the same state (the spell continues after the window).

Spells are found for all persons at once from the change points of the flattened window
(``np.flatnonzero``), without loops over persons.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import polars as pl

from dreamkit.design import columns as C
from dreamkit.errors import InputError
from dreamkit.outcomes.align import UNOBSERVED, OnMissing, align_trial
from dreamkit.register.register import Register


def run_lengths(window: npt.NDArray[np.uint8], first: int) -> dict[str, npt.NDArray[np.generic]]:
    """Spells of a padded aligned window (module docstring).

    Args:
        window: aligned states of relative weeks ``first - 1 .. last + 1``: one padding column
            on each side, read only to decide censoring.
        first: relative week of the first inner column.

    Returns:
        arrays ``person`` (row of the window), ``start``, ``end`` (relative weeks), ``state``
        (state id), ``length``, ``left_censored``, ``right_censored``; ordered by person, start.
    """
    if window.shape[1] < 3:
        raise InputError("run_lengths needs a window with at least one week besides padding.")
    inner = window[:, 1:-1]
    observed = inner != UNOBSERVED
    change = np.ones(inner.shape, dtype=bool)
    change[:, 1:] = inner[:, 1:] != inner[:, :-1]
    starts = np.flatnonzero(change & observed)
    change_next = np.ones(inner.shape, dtype=bool)
    change_next[:, :-1] = change[:, 1:]
    ends = np.flatnonzero(change_next & observed)
    inner_width = inner.shape[1]
    person, start_col = np.divmod(starts, inner_width)
    end_col = ends % inner_width
    state = inner.ravel()[starts]
    before = window[person, start_col]
    after = window[person, end_col + 2]
    return {
        "person": person,
        "start": (start_col + first).astype(np.int32),
        "end": (end_col + first).astype(np.int32),
        "state": state,
        "length": (end_col - start_col + 1).astype(np.int32),
        "left_censored": (before == UNOBSERVED) | (before == state),
        "right_censored": (after == UNOBSERVED) | (after == state),
    }


def spell_table(
    register: Register,
    trial: pl.DataFrame,
    *,
    first: int = 1,
    last: int = 81,
    on_missing: OnMissing = "error",
) -> pl.DataFrame:
    """Spells of relative weeks ``first..last`` for every trial person as a long polars table.

    Columns: ``person_id``, ``start``, ``end`` (relative weeks), ``state`` (state name, an
    Enum over the code map's states), ``length``, ``left_censored``, ``right_censored``.
    Persons are kept whatever the register covers; weeks outside its span carry no spells.
    """
    if first > last:
        raise InputError(f"first ({first}) must not be after last ({last}).")
    aligned = align_trial(
        register, trial, first=first, last=last, on_missing=on_missing, coverage="partial"
    )
    runs = run_lengths(aligned.alignment.window(first - 1, last + 1), first)
    names = pl.Enum(list(register.codemap.states))
    person = runs.pop("person")
    state = runs.pop("state")
    frame = pl.DataFrame(runs)
    return frame.insert_column(0, aligned.trial[C.PERSON].gather(person)).insert_column(
        3, pl.Series("state", np.asarray(register.codemap.states)[state], dtype=names)
    )
