r"""A light simulator of the reference trial: only what the ITT estimator needs.

:func:`dreamkit.simulate.simulate_trial` writes a full DREAM-style register (about 260
calendar weeks around every allocation, both potential worlds, codes and monthly employment
columns) and :func:`dreamkit.outcomes.build_outcomes` turns it back into outcomes. For power
by simulation only the analysed persons' outcome at one horizon, their team, municipality,
arm and baseline covariates are needed. :func:`simulate_outcomes` draws exactly these from
the *same* data-generating process, with the same building blocks:

* design, allocation dates and waiting times: :func:`dreamkit.simulate.design.draw_allocation`;
* the baseline survey: :func:`dreamkit.simulate.baseline.draw_baseline`;
* municipality effects, prognosis, lock-in and treatment terms:
  :func:`dreamkit.simulate.persons.make_persons`;
* the weekly process after allocation: :func:`dreamkit.simulate.engine.run`, on a grid of
  relative weeks 0..W+4 (everyone's allocation in column 0) for the observed world only;
* ordinary employment by DREAM's monthly rule (a no-transfer week counts as employed when its
  calendar month, by the Thursday rule, holds an employed week), on each person's own
  calendar months (weeks W+1..W+4 are simulated so that the month of week W is complete).

What it leaves out cannot change the outcome shares: the pre-allocation background chain
(everyone is in the sick spell in weeks -5..0, so no employment week shares a month with
week 1), codes and registers, and the second potential world. One detail differs: the count of
consecutive sick weeks starts at allocation rather than at sick-leave onset, which moves the
switch from sickness benefit to job clarification / resource course; both are in the
sickness set, so employment and sickness shares are unaffected. The equivalence of the
distribution of the ITT estimate with the full simulator is tested
(``tests/power/test_light.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from dreamkit.errors import InputError
from dreamkit.register.calendar import months_of_weeks, weeks_of_dates
from dreamkit.simulate import states as S
from dreamkit.simulate.baseline import draw_baseline
from dreamkit.simulate.design import Design, ReferenceDesign, TeamDesign, draw_allocation
from dreamkit.simulate.effects import TrueEffects, check_link
from dreamkit.simulate.engine import run
from dreamkit.simulate.history import HistoryParams
from dreamkit.simulate.persons import make_persons
from dreamkit.simulate.process import ProcessParams

#: Outcomes the light simulator returns: share of weeks 1..w, or the status in week w.
OUTCOMES: tuple[str, ...] = ("emp_share", "sick_share", "emp_status", "sick_status")
_MONTH_TAIL = 4  # weeks after W simulated so that the calendar month of week W is complete
_SICK = np.zeros(len(S.STATE_NAMES), dtype=bool)
_SICK[[*S.DURATION_STATES, S.DP]] = True


@dataclass(frozen=True, eq=False)
class LightTrial:
    """Per-person arrays of one light trial (persons ordered by team).

    ``outcomes[name]`` has shape (n,) for the observed world, or (2, n) (control, treated
    potential outcomes) with ``both_worlds``.
    """

    treated: npt.NDArray[np.int8]
    team: npt.NDArray[np.int32]
    municipality: npt.NDArray[np.int32]
    baseline: dict[str, np.ndarray]
    outcomes: dict[str, np.ndarray]
    week: int

    @property
    def n(self) -> int:
        return int(self.team.size)


def simulate_outcomes(
    design: Design | None = None,
    effects: TrueEffects | None = None,
    *,
    week: int = 81,
    seed: int | np.random.SeedSequence = 0,
    link: str = "logit",
    process: ProcessParams | None = None,
    history: HistoryParams | None = None,
    both_worlds: bool = False,
) -> LightTrial:
    """One light trial (module docstring): outcomes at horizon ``week`` after allocation.

    Args:
        design: :class:`ReferenceDesign` (default) or :class:`TeamDesign`.
        effects: true effects (default :class:`TrueEffects`).
        week: the horizon W (1..260).
        seed: seed of ``numpy.random.default_rng``.
        both_worlds: also simulate the other arm with common random numbers and return both
            potential outcomes (for the true effect).
    """
    design = ReferenceDesign() if design is None else design
    if not isinstance(design, ReferenceDesign | TeamDesign):
        raise InputError(
            f"design must be a ReferenceDesign or TeamDesign, got {type(design).__name__}."
        )
    effects = TrueEffects() if effects is None else effects
    process = ProcessParams() if process is None else process
    history = HistoryParams() if history is None else history
    if not isinstance(week, int) or not 1 <= week <= 260:
        raise InputError(f"week = {week!r}; give the analysed horizon in weeks 1..260.")
    link_ = check_link(link)
    rng = np.random.default_rng(seed)
    alloc = draw_allocation(design, rng)
    n = alloc.n
    baseline = draw_baseline(rng, n)
    alloc_week = weeks_of_dates(alloc.allocation_date).astype(np.int64)
    persons, _ = make_persons(
        rng,
        alloc_col=np.zeros(n, dtype=np.int64),
        baseline=baseline,
        team=alloc.team,
        municipality=alloc.municipality,
        waiting_days=alloc.waiting_days,
        effects=effects,
        process=process,
        history=history,
    )
    n_weeks = week + 1 + _MONTH_TAIL
    worlds = [np.zeros(n, np.int8), np.ones(n, np.int8)] if both_worlds else [alloc.treated]
    grids = run(persons, worlds, n_weeks, process, link_, rng)
    months = months_of_weeks(alloc_week[None, :] + np.arange(n_weeks)[:, None])
    outcomes = [_outcomes(_monthly_employment(g, months), week) for g in grids]
    out = {k: np.stack([o[k] for o in outcomes]) for k in OUTCOMES} if both_worlds else outcomes[0]
    return LightTrial(
        treated=alloc.treated,
        team=alloc.team,
        municipality=alloc.municipality,
        baseline=baseline,
        outcomes=out,
        week=week,
    )


def _monthly_employment(
    detail: npt.NDArray[np.uint8], months: npt.NDArray[np.int32]
) -> npt.NDArray[np.uint8]:
    """DREAM's monthly employment rule on each person's own calendar months (in place):
    a no-transfer week in a month with an employed week becomes an employed week."""
    n = detail.shape[1]
    rel = (months - months[0][None, :]).astype(np.int64)
    index = rel * n + np.arange(n)[None, :]
    employed = np.bincount(
        index.ravel(), weights=(detail == S.E).ravel(), minlength=int(rel.max() + 1) * n
    )
    flags = employed[index] > 0
    detail[flags & (detail == S.NT)] = S.E
    return detail


def _outcomes(detail: npt.NDArray[np.uint8], week: int) -> dict[str, np.ndarray]:
    """Shares of weeks 1..W and the status in week W (rows of ``detail`` = weeks 0..)."""
    emp = detail[1 : week + 1] == S.E
    sick = _SICK[detail[1 : week + 1]]
    return {
        "emp_share": emp.mean(axis=0),
        "sick_share": sick.mean(axis=0),
        "emp_status": emp[-1].astype(np.float64),
        "sick_status": sick[-1].astype(np.float64),
    }
