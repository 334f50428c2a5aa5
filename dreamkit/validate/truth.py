r"""True sample effects for any group of analysed persons (from both potential registers).

For person i the simulator keeps both potential state paths :math:`s_{it}(0), s_{it}(1)`
(common random numbers, ``truth.potential``). The potential cumulative share of set A to week
w is :math:`Y_{iw}(a) = \frac1w\sum_{t\le w} 1[s_{it}(a)\in A]`, and the true sample average
effect (SATE) of a group G is

.. math:: \Delta_G(w) = \frac{1}{|G|}\sum_{i\in G} \bigl(Y_{iw}(1) - Y_{iw}(0)\bigr).

:class:`SampleTruth` holds :math:`Y_{iw}(1) - Y_{iw}(0)` for every analysed person, in the
row order of the outcome table, so the true effect of any cell (self-efficacy groups, the
peer cells of model 4) is a masked mean. For the whole sample and the ``low_se``/``high_se``
groups it equals ``truth.paths`` of the simulator.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from numpy.typing import NDArray

from dreamkit.design import columns as C
from dreamkit.errors import InputError
from dreamkit.simulate import SimulatedTrial

#: Outcome prefix -> code-map state set of the share paths.
SETS = {"emp": "employment", "sick": "sickness"}


@dataclass(frozen=True, eq=False)
class SampleTruth:
    """Individual effects on the share paths: ``effects[prefix]`` is (persons, W)."""

    effects: dict[str, NDArray[np.float64]]

    @classmethod
    def of(cls, sim: SimulatedTrial, persons: pl.DataFrame, weeks: int = 81) -> SampleTruth:
        """Individual effects of a simulated trial, rows in the order of ``persons`` (the
        outcome table of :func:`dreamkit.outcomes.build_outcomes`)."""
        register_ids = sim.register.person_ids.to_numpy()
        order = np.argsort(register_ids)
        ids = persons[C.PERSON].to_numpy()
        pos = np.searchsorted(register_ids, ids, sorter=order)
        pos = np.minimum(pos, register_ids.size - 1)
        rows = order[pos]
        if not np.array_equal(register_ids[rows], ids):
            raise InputError(
                "the outcome table has persons that are not in the simulated register; build "
                "it from this simulation's register and trial table."
            )
        untreated, treated = sim.truth.potential
        denom = np.arange(1, weeks + 1)
        effects = {}
        for prefix, name in SETS.items():
            mask = sim.register.codemap.mask(name)
            y0 = np.cumsum(mask[untreated[rows, :weeks]], axis=1) / denom
            y1 = np.cumsum(mask[treated[rows, :weeks]], axis=1) / denom
            effects[prefix] = y1 - y0
        return cls(effects)

    def path(self, prefix: str, group: NDArray[np.bool_] | None = None) -> NDArray[np.float64]:
        """True effect path (W,) of a group (boolean mask over persons; ``None``: everyone)."""
        individual = self.effects[prefix]
        if group is None:
            return individual.mean(axis=0)
        if not group.any():
            raise InputError("the group is empty; a true group effect needs at least one person.")
        return individual[group].mean(axis=0)
