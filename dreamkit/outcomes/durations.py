r"""Durations from allocation with right-censoring and an event flag.

Both durations are measured in weeks after the allocation week (week 0) on an aligned window
whose column ``j`` is relative week ``j + 1``. Observation of person :math:`i` runs from week 1
to :math:`h_i`, the last week before the first week outside the register's span (a person whose
week 1 is unobserved has no defined duration).

**Duration to a spell** (the study's duration to ordinary employment, :math:`k = 4`):

.. math::

    d_i = \min\{t \in 1..W : s_{iu} \in A \ \forall u \in t..t+k-1\},

the first week of the first spell of at least :math:`k` consecutive weeks in :math:`A`; the
duration counts to the spell's first week. Weeks after :math:`W` are used to confirm a spell
that starts at :math:`t \le W` when they are observed, so a person's duration does not depend
on :math:`W` unless it exceeds it. Without such a spell the person is censored (event 0) at
:math:`c_i = \min(W, h_i - k + 1)`, the last week that could still start a confirmable spell;
the duration is undefined when :math:`c_i < 1`.

**Duration to exit** (the study's duration on sickness benefit etc.):

.. math:: d_i = \min\{t \in 1..W : s_{it} \notin A\},

the first week outside the set; censored at :math:`c_i = \min(W, h_i)` without such a week.

Durations are ``int32`` (event or censoring week; 0 where undefined), events ``bool``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from dreamkit.errors import InputError
from dreamkit.outcomes.align import UNOBSERVED
from dreamkit.outcomes.shares import observed_prefix, week_indicators


class Duration(NamedTuple):
    """Duration outcome per person.

    ``weeks``: event week if ``event`` else censoring week (0 where not ``defined``);
    ``event``: the event occurred at ``weeks``; ``defined``: at least one week at risk observed.
    """

    weeks: npt.NDArray[np.int32]
    event: npt.NDArray[np.bool_]
    defined: npt.NDArray[np.bool_]


def _first_true(hits: npt.NDArray[np.bool_]) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.int32]]:
    """Whether each row has a True, and the 1-based column of its first True."""
    hit: npt.NDArray[np.bool_] = np.asarray(hits.any(axis=1))
    return hit, (hits.argmax(axis=1) + 1).astype(np.int32)


def _observed_length(window: npt.NDArray[np.uint8], complete: bool) -> npt.NDArray[np.int64]:
    """:math:`h_i`: number of observed weeks from the window's first column on, without a gap."""
    if complete:
        return np.full(window.shape[0], window.shape[1], dtype=np.int64)
    observed = window != UNOBSERVED
    return np.where(observed.all(axis=1), window.shape[1], observed.argmin(axis=1))


def _finish(
    hit: npt.NDArray[np.bool_], first: npt.NDArray[np.int32], censor: npt.NDArray[np.int64]
) -> Duration:
    defined = censor >= 1
    weeks = np.where(hit, first, np.where(defined, censor, 0)).astype(np.int32)
    return Duration(weeks, hit, defined)


def duration_to_spell(
    window: npt.NDArray[np.uint8], mask: npt.NDArray[np.bool_], weeks: int = 81, k: int = 4
) -> Duration:
    """Weeks to the first spell of at least ``k`` consecutive weeks in the set (module doc).

    Args:
        window: aligned states of relative weeks ``1..weeks + k - 1`` (persons x columns).
        mask: code-map mask of the set :math:`A` (``CodeMap.mask("employment")``).
        weeks: :math:`W`, the last week at which a spell may start.
        k: minimum spell length in weeks (the study's 4-week rule).
    """
    if k < 1 or weeks < 1:
        raise InputError(f"k and weeks must be >= 1, got k={k}, weeks={weeks}.")
    if window.shape[1] != weeks + k - 1:
        raise InputError(
            f"the window has {window.shape[1]} columns; duration_to_spell needs weeks 1.."
            f"{weeks + k - 1} (weeks + k - 1 = {weeks + k - 1} columns)."
        )
    inset = week_indicators(window, mask)
    complete = not (window == UNOBSERVED).any()
    if not complete:
        inset &= observed_prefix(window)
    run = inset[:, :weeks].copy()
    for lag in range(1, k):
        run &= inset[:, lag : lag + weeks]
    hit, first = _first_true(run)
    censor = np.minimum(weeks, _observed_length(window, complete) - k + 1)
    return _finish(hit, first, censor)


def duration_to_exit(
    window: npt.NDArray[np.uint8], mask: npt.NDArray[np.bool_], weeks: int = 81
) -> Duration:
    """Weeks to the first week outside the set (module doc).

    Args:
        window: aligned states of relative weeks ``1..weeks``.
        mask: code-map mask of the set :math:`A` (``CodeMap.mask("sickness_duration")``).
        weeks: :math:`W`, the censoring week.
    """
    if weeks < 1:
        raise InputError(f"weeks must be >= 1, got {weeks}.")
    if window.shape[1] != weeks:
        raise InputError(
            f"the window has {window.shape[1]} columns; duration_to_exit needs weeks 1..{weeks}."
        )
    outside = week_indicators(window, ~mask)
    complete = not (window == UNOBSERVED).any()
    if not complete:
        outside &= observed_prefix(window)
    hit, first = _first_true(outside)
    censor = np.minimum(weeks, _observed_length(window, complete))
    return _finish(hit, first, censor)
