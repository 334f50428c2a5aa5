r"""True sample effects from the two potential-outcome registers (common random numbers).

For every analysed person the simulator knows both potential state paths, :math:`s_{it}(0)`
and :math:`s_{it}(1)`, simulated with the same uniforms. The true sample effects on the
outcomes of the reference study, for :math:`w = 1..W` and a group :math:`G`, are

.. math::

    \Delta^{emp}_G(w) = \frac{1}{|G|} \sum_{i \in G} \frac{1}{w} \sum_{t=1}^{w}
        \bigl(1[s_{it}(1) \in A_{emp}] - 1[s_{it}(0) \in A_{emp}]\bigr),

the same with the ``sickness`` set for the sickness share, and
:math:`\frac{1}{|G|}\sum_{i \in G} (1[D_i(1) \le w] - 1[D_i(0) \le w])` for
"a spell of at least :math:`k` consecutive employed weeks has started by week :math:`w`"
(:math:`D_i` = first week of the first such spell, as in
:func:`dreamkit.outcomes.durations.duration_to_spell`). Groups: all, low/high UW-SES at the
``low_cutoff`` of :class:`~dreamkit.simulate.effects.TrueEffects`, short (< 7 days) and long
waiting time. The link-scale hazard parameters are listed next to them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import polars as pl

from dreamkit.errors import InputError

OUTCOMES = ("employment_share", "sickness_share", "employment_spell_by")


@dataclass(frozen=True)
class Truth:
    """The true effects of a simulated trial.

    Attributes:
        paths: one row per (outcome, group, week): ``n`` persons, ``control`` = mean of
            :math:`Y(0)`, ``treated`` = mean of :math:`Y(1)`, ``effect`` = their difference.
        parameters: the hazard's parameters on the link scale (``tau``, ``tau_low``, ...,
            ``alpha0``, ``alpha1``, ``beta_<covariate>``) and the link.
        strata: municipality effects :math:`\\gamma_k`.
        link: ``"logit"`` or ``"cloglog"``, the scale of the parameters.
        potential: ``(states under control, states under treatment)``: code-map state ids of
            weeks ``1..W+k-1`` after allocation, one row per analysed person (register
            order), for effects the tables do not hold.
    """

    paths: pl.DataFrame
    parameters: pl.DataFrame
    strata: pl.DataFrame
    link: str
    potential: tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8]]

    def effect(self, outcome: str, week: int, group: str = "all") -> float:
        """True effect on ``outcome`` (one of :data:`OUTCOMES`) at ``week`` in ``group``."""
        rows = self.paths.filter(
            (pl.col("outcome") == outcome) & (pl.col("group") == group) & (pl.col("week") == week)
        )
        if rows.height != 1:
            raise InputError(
                f"no true effect for outcome={outcome!r}, group={group!r}, week={week}; "
                f"outcomes are {OUTCOMES}, groups {self.paths['group'].unique().sort().to_list()}"
                f", weeks 1..{self.paths['week'].to_numpy().max()}."
            )
        return float(rows["effect"][0])

    def parameter(self, name: str) -> float:
        """A link-scale hazard parameter by name (e.g. ``"tau"``)."""
        rows = self.parameters.filter(pl.col("parameter") == name)
        if rows.height != 1:
            raise InputError(
                f"no parameter {name!r}; known: {self.parameters['parameter'].to_list()}."
            )
        return float(rows["value"][0])


def outcome_paths(
    states: npt.NDArray[np.uint8],
    employment: npt.NDArray[np.bool_],
    sickness: npt.NDArray[np.bool_],
    weeks: int,
    spell_weeks: int,
) -> dict[str, npt.NDArray[np.float64]]:
    """Per-person outcome paths (persons x weeks 1..W) from aligned states (weeks 1..W+k-1)."""
    denom = np.arange(1, weeks + 1)
    emp = employment[states]
    run = emp[:, :weeks].copy()
    for lag in range(1, spell_weeks):
        run &= emp[:, lag : lag + weeks]
    return {
        "employment_share": np.cumsum(emp[:, :weeks], axis=1) / denom,
        "sickness_share": np.cumsum(sickness[states[:, :weeks]], axis=1) / denom,
        "employment_spell_by": np.logical_or.accumulate(run, axis=1).astype(np.float64),
    }


def true_paths(
    control: npt.NDArray[np.uint8],
    treated: npt.NDArray[np.uint8],
    masks: Mapping[str, npt.NDArray[np.bool_]],
    groups: Mapping[str, npt.NDArray[np.bool_]],
    weeks: int,
    spell_weeks: int,
) -> pl.DataFrame:
    """The ``paths`` table of :class:`Truth` (module docstring)."""
    y0 = outcome_paths(control, masks["employment"], masks["sickness"], weeks, spell_weeks)
    y1 = outcome_paths(treated, masks["employment"], masks["sickness"], weeks, spell_weeks)
    frames = []
    for outcome in OUTCOMES:
        for group, member in groups.items():
            n = int(member.sum())
            m0 = y0[outcome][member].mean(axis=0) if n else np.full(weeks, np.nan)
            m1 = y1[outcome][member].mean(axis=0) if n else np.full(weeks, np.nan)
            frames.append(
                pl.DataFrame(
                    {
                        "outcome": [outcome] * weeks,
                        "group": [group] * weeks,
                        "week": np.arange(1, weeks + 1, dtype=np.int32),
                        "n": np.full(weeks, n, dtype=np.int64),
                        "control": m0,
                        "treated": m1,
                        "effect": m1 - m0,
                    }
                )
            )
    return pl.concat(frames)
