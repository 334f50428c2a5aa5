r"""Competing exits: the destination of each exit, read from the state array.

For a duration to exit (:func:`~dreamkit.outcomes.durations.duration_to_exit`) person
:math:`i` with an event leaves the set in week :math:`d_i`; the exit type is the named
destination set that holds the state of that week,

.. math:: j_i = \text{the } j \text{ with } s_{i,d_i} \in D_j,

with disjoint destination sets :math:`D_1, \dots, D_J` (e.g. ordinary employment,
unemployment benefit) and an optional catch-all ``other`` for states in none of them.
Censored persons have no exit type (null). For a duration to a spell
(:func:`~dreamkit.outcomes.durations.duration_to_spell`) the state of week :math:`d_i` is the
first week of the spell, so the destination is the spell's set.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt
import polars as pl

from dreamkit.errors import InputError
from dreamkit.outcomes.durations import Duration
from dreamkit.outcomes.shares import lookup


def exit_destinations(
    window: npt.NDArray[np.uint8],
    duration: Duration,
    destinations: Mapping[str, npt.NDArray[np.bool_]],
    other: str | None = "other",
) -> pl.Series:
    """Exit type of every person (module docstring) as a string Series named ``exit_type``.

    Args:
        window: the aligned window the duration was computed on (column ``j`` is week
            ``j + 1``).
        duration: the durations (``weeks``, ``event``) of the window's rows.
        destinations: destination name -> code-map mask (``{"work":
            codemap.mask("employment"), "unemployment": codemap.mask("unemployment")}``);
            the masks must not share a state.
        other: name for exits into a state of no destination set; ``None`` makes such an exit
            an error.
    """
    if not destinations:
        raise InputError("destinations is empty; name at least one destination set.")
    names = list(destinations)
    if other is not None and other in names:
        raise InputError(f"other={other!r} is also a destination name; pick another name.")
    tables = [lookup(np.asarray(destinations[name])) for name in names]
    overlap = np.flatnonzero(np.sum(tables, axis=0) > 1)
    if overlap.size:
        raise InputError(
            f"state id {int(overlap[0])} is in more than one destination set; destinations "
            "must be disjoint (merge them or remove the state from all but one)."
        )
    n = window.shape[0]
    if duration.weeks.shape[0] != n:
        raise InputError(
            f"the durations have {duration.weeks.shape[0]} rows but the window has {n}."
        )
    ev = np.flatnonzero(duration.event)
    weeks = duration.weeks[ev].astype(np.int64)
    if ev.size and (weeks.min() < 1 or weeks.max() > window.shape[1]):
        raise InputError("an exit week lies outside the window; pass the durations' window.")
    state = window[ev, weeks - 1]
    code = np.full(ev.size, -1, dtype=np.int64)
    for j, table in enumerate(tables):
        code[table[state]] = j
    labels = np.array([*names, other if other is not None else ""], dtype=object)
    if other is None and np.any(code < 0):
        raise InputError(
            f"{int(np.sum(code < 0))} exit(s) go to a state in no destination set (first state "
            f"id {int(state[code < 0][0])}); add it to a destination or pass other='other'."
        )
    out = np.full(n, None, dtype=object)
    out[ev] = labels[code]  # code -1 picks the last label, ``other``
    return pl.Series("exit_type", out.tolist(), dtype=pl.String)
