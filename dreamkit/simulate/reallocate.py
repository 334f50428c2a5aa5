r"""The register a simulated trial would have produced under another allocation.

The simulator draws both potential state paths of every person with common random numbers
(:attr:`~dreamkit.simulate.truth.Truth.potential`, relative weeks :math:`1..W+k-1`). For a new
allocation (e.g. from :func:`dreamkit.design.allocation.pairwise_allocation`) the observed
register is, for each allocated person :math:`i` with arm :math:`d_i`,

.. math:: s_{i,a_i + t} = s_{it}(d_i), \qquad t = 1..W+k-1,

and the simulated register everywhere else (weeks up to allocation are the same in both
worlds). Only the state array is rebuilt; the benefit codes and employment flags of
:class:`~dreamkit.simulate.trial.SimulatedTrial` keep the simulator's own allocation. With
``last_week`` the register ends at that calendar week, so persons allocated late are not
followed up to later horizons (as in a pilot analysed before everyone reached 18 months).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from dreamkit.design import columns as C
from dreamkit.errors import ColumnNotFoundError, InputError
from dreamkit.register.register import Register
from dreamkit.simulate.trial import SimulatedTrial


def reallocate(
    sim: SimulatedTrial, allocation: pl.DataFrame, *, last_week: int | None = None
) -> Register:
    """Observed register under ``allocation`` (``person_id`` and 0/1 ``treated`` per person)."""
    for col in (C.PERSON, C.TREATED):
        if col not in allocation.columns:
            raise ColumnNotFoundError(
                f"the allocation needs column {col!r}; its columns are {allocation.columns}."
            )
    arm = allocation[C.TREATED]
    if arm.null_count() or not arm.is_in([0, 1]).all():
        raise InputError(
            f"column {C.TREATED!r} must hold 0/1 for every allocated person; pass "
            "PairwiseAllocation.allocated (persons who took part)."
        )
    register = sim.register
    rows = register.require_rows(allocation[C.PERSON])
    weeks = sim.trial.select(C.PERSON, C.ALLOCATION_WEEK)
    alloc_week = (
        allocation.select(C.PERSON)
        .join(weeks, on=C.PERSON, how="left")[C.ALLOCATION_WEEK]
        .to_numpy()
        .astype(np.int64)
    )
    control, treated = sim.truth.potential
    width = control.shape[1]
    states = register.states.copy()
    cols = (alloc_week - register.first_week + 1)[:, None] + np.arange(width)[None, :]
    paths = np.where(arm.to_numpy()[:, None] == 1, treated[rows], control[rows])
    states[rows[:, None], cols] = paths
    if last_week is not None:
        n_cols = int(last_week) - register.first_week + 1
        if not 1 <= n_cols <= states.shape[1]:
            raise InputError(
                f"last_week {last_week} lies outside the register's weeks; give a week "
                f"ordinal between {register.first_week} and {register.last_week}."
            )
        states = np.ascontiguousarray(states[:, :n_cols])
    return Register(states, register.person_ids, register.first_week, register.codemap)
