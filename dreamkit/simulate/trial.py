"""One call: a reference-style randomised trial, its DREAM-style register and the truth.

:func:`simulate_trial` draws the design (:mod:`~dreamkit.simulate.design`), the baseline
survey (:mod:`~dreamkit.simulate.baseline`), the pre-allocation history
(:mod:`~dreamkit.simulate.history`) and the post-allocation process
(:mod:`~dreamkit.simulate.process`) for both arms with common random numbers
(:mod:`~dreamkit.simulate.engine`), writes the observed arm as codes from the code map, and
returns the true effects (:mod:`~dreamkit.simulate.truth`). Everything is reproducible from
``seed`` (one ``numpy.random.Generator``, no global state).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
import polars as pl

from dreamkit.design import columns as C
from dreamkit.errors import InputError
from dreamkit.register.calendar import months_of_weeks, weeks_of_dates
from dreamkit.register.codemap import CodeMap
from dreamkit.register.codes_table import wide_to_long
from dreamkit.register.register import Register
from dreamkit.simulate import states as S
from dreamkit.simulate.baseline import BINARY, ORDERED, PROGNOSIS, draw_baseline
from dreamkit.simulate.design import (
    Allocation,
    Design,
    ReferenceDesign,
    TeamDesign,
    draw_allocation,
)
from dreamkit.simulate.effects import TrueEffects
from dreamkit.simulate.engine import employment_flags, run
from dreamkit.simulate.export import wide_table
from dreamkit.simulate.history import HistoryParams
from dreamkit.simulate.persons import make_persons
from dreamkit.simulate.process import ProcessParams
from dreamkit.simulate.settings import resolve_settings
from dreamkit.simulate.summary import summarise
from dreamkit.simulate.truth import Truth, true_paths

PRE_WEEKS = 104
FOLLOW_UP = 81
SPELL_WEEKS = 4
SHORT_WAIT_DAYS = 7


@dataclass(frozen=True, eq=False)
class SimulatedTrial:
    """A simulated trial: the trial table, the register of the observed arm and the truth.

    Attributes:
        trial: one row per randomised person (canonical columns of
            :mod:`dreamkit.design.columns`, covariates, ``sick_weeks_at_allocation``,
            ``prior_sick_leave``), including the ``n_unmatched`` persons absent from the
            register.
        register: the DREAM-style register, built with ``codemap.to_states(codes, employed)``.
        truth: true effects (both potential outcomes with common random numbers).
        effects, seed, link: the inputs.
        codes: ``int16`` benefit codes (register rows x weeks), -1 = no transfer.
        employed: weekly employment flags (register rows x weeks).
        industry: the industry code written in employed months of :meth:`wide_codes`.
    """

    trial: pl.DataFrame
    register: Register
    truth: Truth
    effects: TrueEffects
    seed: int
    link: str
    codes: npt.NDArray[np.int16]
    employed: npt.NDArray[np.bool_]
    industry: npt.NDArray[np.int32]

    def __repr__(self) -> str:
        return (
            f"SimulatedTrial(seed={self.seed}, {self.trial.height} randomised persons, "
            f"{self.register!r})"
        )

    def wide_codes(self) -> pl.DataFrame:
        """Wide DREAM-style table (see :func:`dreamkit.simulate.export.wide_table`); reading it
        with ``read_wide(..., employment="columns")`` gives back :attr:`register`."""
        return wide_table(
            self.register.person_ids,
            self.codes,
            self.employed,
            self.register.first_week,
            self.industry,
        )

    def long_codes(self, *, drop_empty: bool = True) -> pl.DataFrame:
        """Long code table ``(person_id, week, code)`` with ``y_YYWW`` week labels; by default
        only coded person-weeks (DREAM's sparse layout)."""
        wide = self.wide_codes()
        weeks = [c for c in wide.columns if c.startswith("y_")]
        return wide_to_long(wide.select("person_id", *weeks), drop_empty=drop_empty)

    def summary(self) -> str:
        """Counts by arm, teams, municipalities, waiting time, UW-SES and pre-window shares."""
        return summarise(
            self.trial,
            self.register,
            self.truth,
            seed=self.seed,
            link=self.link,
            low_cutoff=self.effects.low_cutoff,
        )


def simulate_trial(
    design: Design | None = None,
    effects: TrueEffects | None = None,
    *,
    seed: int = 0,
    link: str = "logit",
    codemap: CodeMap | None = None,
    n_unmatched: int = 0,
    history: HistoryParams | None = None,
    process: ProcessParams | None = None,
) -> SimulatedTrial:
    """Simulate a reference-style trial and its register (module docstring).

    Args:
        design: :class:`ReferenceDesign` (default: the study's 43 teams) or :class:`TeamDesign`.
        effects: the true effects (default :class:`TrueEffects`; ``TrueEffects.null()`` for none).
        seed: seed of the ``numpy.random.Generator``; the same seed gives identical output.
        link: ``"logit"`` or ``"cloglog"``, the link of the first-exit hazard.
        codemap: code map whose codes are written (default ``CodeMap.default()``).
        n_unmatched: persons added to the trial table but absent from the register (the study
            had 12 unmatched ids); with the reference design the matched persons keep the
            published team sizes.
        history: parameters of the pre-allocation process.
        process: parameters of the post-allocation process.
    """
    design = ReferenceDesign() if design is None else design
    effects, history, process, link_, codemap, coder, rng = resolve_settings(
        effects=effects, history=history, process=process, link=link, codemap=codemap, seed=seed
    )

    allocation, unmatched = _allocate(design, n_unmatched, rng)
    n = allocation.n
    baseline = draw_baseline(rng, n)
    alloc_week = weeks_of_dates(allocation.allocation_date).astype(np.int64)
    first_week = int(alloc_week.min()) - PRE_WEEKS
    n_weeks = int(alloc_week.max()) + FOLLOW_UP + SPELL_WEEKS - 1 - first_week + 1
    persons, gamma = make_persons(
        rng,
        alloc_col=alloc_week - first_week,
        baseline=baseline,
        team=allocation.team,
        municipality=allocation.municipality,
        waiting_days=allocation.waiting_days,
        effects=effects,
        process=process,
        history=history,
    )
    choice = rng.integers(0, coder.width, n)
    industry = rng.integers(10_000, 100_000, n).astype(np.int32)
    person_ids = (rng.choice(900_000_000, n, replace=False) + 100_000_000).astype(np.int64)
    worlds = run(persons, [np.zeros(n, np.int8), np.ones(n, np.int8)], n_weeks, process, link_, rng)
    months = months_of_weeks(np.arange(first_week, first_week + n_weeks))
    flags = [employment_flags(world, months) for world in worlds]
    observed = np.where(allocation.treated == 1, worlds[1], worlds[0]).T
    employed = np.where(allocation.treated == 1, flags[1], flags[0]).T

    matched = ~unmatched
    codes = coder.codes[observed, choice[:, None]][matched]
    employed = np.ascontiguousarray(employed[matched])
    states, _ = codemap.to_states(codes, employed)
    register = Register(states, pl.Series(C.PERSON, person_ids[matched]), first_week, codemap)

    aligned = [
        _align(w, persons.alloc_col, 1, FOLLOW_UP + SPELL_WEEKS - 1)[matched] for w in worlds
    ]
    potential = (coder.state_ids[aligned[0]], coder.state_ids[aligned[1]])
    uwses = baseline["uwses"][matched]
    wait = allocation.waiting_days[matched]
    low = uwses <= effects.low_cutoff
    truth = Truth(
        paths=true_paths(
            *potential,
            masks={"employment": codemap.mask("employment"), "sickness": codemap.mask("sickness")},
            groups={
                "all": np.ones(low.size, dtype=bool),
                "low_se": low,
                "high_se": ~low,
                "short_wait": wait < SHORT_WAIT_DAYS,
                "long_wait": wait >= SHORT_WAIT_DAYS,
            },
            weeks=FOLLOW_UP,
            spell_weeks=SPELL_WEEKS,
        ),
        parameters=_parameters(effects, process),
        strata=pl.DataFrame(
            {C.STRATUM: np.arange(1, gamma.size + 1, dtype=np.int32), "gamma": gamma}
        ),
        link=link_,
        potential=potential,
    )
    pre = _align(worlds[0], persons.alloc_col, -PRE_WEEKS, PRE_WEEKS - 27 + 1)
    trial = _trial_table(allocation, baseline, alloc_week, person_ids, persons.history.onset, pre)
    return SimulatedTrial(
        trial=trial,
        register=register,
        truth=truth,
        effects=effects,
        seed=seed,
        link=link_,
        codes=np.ascontiguousarray(codes),
        employed=employed,
        industry=industry[matched],
    )


def _allocate(
    design: Design, n_unmatched: int, rng: np.random.Generator
) -> tuple[Allocation, npt.NDArray[np.bool_]]:
    """The allocation and the mask of unmatched persons (absent from the register)."""
    if not isinstance(n_unmatched, int) or n_unmatched < 0:
        raise InputError(f"n_unmatched = {n_unmatched!r}; give a count >= 0.")
    if not isinstance(design, ReferenceDesign | TeamDesign):
        raise InputError(
            f"design must be a ReferenceDesign or TeamDesign, got {type(design).__name__}."
        )
    if isinstance(design, TeamDesign):
        allocation = draw_allocation(design, rng)
        if n_unmatched >= allocation.n:
            raise InputError(
                f"n_unmatched = {n_unmatched} leaves no matched person of {allocation.n}."
            )
        unmatched = np.zeros(allocation.n, dtype=bool)
        unmatched[rng.choice(allocation.n, n_unmatched, replace=False)] = True
        return allocation, unmatched
    # extra persons join random teams (60% to the course); the matched persons keep the sizes
    n_teams = len(design.team_sizes)
    team = rng.integers(0, n_teams, n_unmatched)
    course = rng.random(n_unmatched) < 0.6
    extra = np.zeros((n_teams, 2), dtype=np.int64)
    np.add.at(extra, (team, course.astype(np.int64)), 1)
    sizes = tuple(
        (c + int(e[0]), t + int(e[1])) for (c, t), e in zip(design.team_sizes, extra, strict=True)
    )
    allocation = draw_allocation(replace(design, team_sizes=sizes), rng)
    group = allocation.team.astype(np.int64) * 2 + allocation.treated
    order = np.lexsort((rng.random(allocation.n), group))
    starts = np.searchsorted(group[order], group[order])
    rank = np.empty(allocation.n, dtype=np.int64)
    rank[order] = np.arange(allocation.n) - starts
    return allocation, rank < extra.ravel()[group]


def _align(
    world: npt.NDArray[np.uint8], alloc_col: np.ndarray, first: int, n: int
) -> npt.NDArray[np.uint8]:
    """States of relative weeks ``first..first+n-1`` per person from a (weeks x persons) grid."""
    cols = alloc_col[:, None] + first + np.arange(n)[None, :]
    return world[cols, np.arange(alloc_col.size)[:, None]]


def _parameters(effects: TrueEffects, process: ProcessParams) -> pl.DataFrame:
    names = ["tau", "tau_low", "tau_lock", "tau_peer", "employment_entry"]
    values = [getattr(effects, name) for name in names]
    names += ["peer_centre", "low_cutoff", "peer_cutoff", "course_weeks"]
    values += [effects.peer_centre, effects.low_cutoff, effects.peer_cutoff, effects.course_weeks]
    names += ["alpha0", "alpha1", "stratum_sd", "kappa"]
    values += [process.alpha0, process.alpha1, process.stratum_sd, process.kappa]
    names += [f"beta_{name}" for name in PROGNOSIS]
    values += list(process.beta)
    return pl.DataFrame({"parameter": names, "value": np.asarray(values, dtype=np.float64)})


def _trial_table(
    allocation: Allocation,
    baseline: dict[str, np.ndarray],
    alloc_week: np.ndarray,
    person_ids: np.ndarray,
    onset: np.ndarray,
    pre: npt.NDArray[np.uint8],
) -> pl.DataFrame:
    """The trial table: canonical columns, then covariates (Int8 binaries)."""
    sick = np.isin(pre, (*S.DURATION_STATES, S.DP)).any(axis=1)
    columns: dict[str, pl.Series] = {
        C.PERSON: pl.Series(C.PERSON, person_ids, dtype=pl.Int64),
        C.STRATUM: pl.Series(C.STRATUM, allocation.municipality + 1, dtype=pl.Int32),
        C.CLUSTER: pl.Series(C.CLUSTER, allocation.team + 1, dtype=pl.Int32),
        C.TREATED: pl.Series(C.TREATED, allocation.treated, dtype=pl.Int8),
        C.ALLOCATION_DATE: pl.Series(C.ALLOCATION_DATE, allocation.allocation_date, dtype=pl.Date),
        C.TEAM_LAST_ALLOCATION: pl.Series(
            C.TEAM_LAST_ALLOCATION, allocation.team_last_allocation, dtype=pl.Date
        ),
        C.WAITING_DAYS: pl.Series(C.WAITING_DAYS, allocation.waiting_days, dtype=pl.Int32),
        C.ALLOCATION_WEEK: pl.Series(C.ALLOCATION_WEEK, alloc_week, dtype=pl.Int32),
    }
    for item in C.UWSES_ITEMS:
        columns[item] = pl.Series(item, baseline[item], dtype=pl.Int8)
    columns[C.UWSES] = pl.Series(C.UWSES, baseline[C.UWSES], dtype=pl.Int16)
    columns["age"] = pl.Series("age", baseline["age"], dtype=pl.Int16)
    for name in (*BINARY, *ORDERED):
        columns[name] = pl.Series(name, baseline[name], dtype=pl.Int8)
    columns["sick_weeks_at_allocation"] = pl.Series(
        "sick_weeks_at_allocation", onset, dtype=pl.Int16
    )
    columns["prior_sick_leave"] = pl.Series("prior_sick_leave", sick, dtype=pl.Int8)
    return pl.DataFrame(columns)
