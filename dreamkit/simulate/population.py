"""Large synthetic registers with individual allocation weeks (benchmarks, chunked runs).

:func:`simulate_population` runs the trial's data-generating process (same baseline, history
and post-allocation process, the observed arm only, no truth) for many persons on a fixed
calendar of ``n_weeks`` weeks. Allocation weeks are spread so that every person's weeks
-104..84 around allocation lie inside the register. Teams of about 14 persons sit in
municipalities of about 43/26 teams unless ``n_teams`` / ``n_municipalities`` are given;
60% of each team is treated (complete randomisation within teams).

Memory: the loop keeps a few arrays of one value per person; the output is one byte
(detailed state) plus two bytes (code) plus one byte (flag) plus one byte (register state)
per person-week, about 1.3 GB for 1M persons x 260 weeks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import polars as pl

from dreamkit.design import columns as C
from dreamkit.errors import InputError
from dreamkit.register.calendar import months_of_weeks, week_of_date, weeks_of_dates
from dreamkit.register.codemap import CodeMap
from dreamkit.register.register import Register
from dreamkit.simulate.baseline import BINARY, ORDERED, draw_baseline
from dreamkit.simulate.design import Recruitment, allocation_days, randomise
from dreamkit.simulate.effects import TrueEffects
from dreamkit.simulate.engine import employment_flags, run
from dreamkit.simulate.export import wide_table
from dreamkit.simulate.history import HistoryParams
from dreamkit.simulate.persons import make_persons
from dreamkit.simulate.process import ProcessParams
from dreamkit.simulate.settings import resolve_settings

PRE_WEEKS = 104
POST_WEEKS = 84  # weeks 1..81 plus 3 to confirm a 4-week employment spell at week 81
CHUNK = 65_536  # persons per code-to-state conversion


@dataclass(frozen=True, eq=False)
class SimulatedPopulation:
    """A large simulated register and its trial table (no truth: only the observed arm).

    Attributes:
        trial: one row per person (canonical trial columns and the baseline covariates).
        register: the dense register (``codemap.to_states(codes, employed)``).
        codes: ``int16`` benefit codes (persons x weeks), -1 = no transfer.
        employed: weekly employment flags (persons x weeks).
        seed: the seed.
    """

    trial: pl.DataFrame
    register: Register
    codes: npt.NDArray[np.int16]
    employed: npt.NDArray[np.bool_]
    industry: npt.NDArray[np.int32]
    seed: int

    def __repr__(self) -> str:
        return f"SimulatedPopulation(seed={self.seed}, {self.register!r})"

    def wide_codes(self) -> pl.DataFrame:
        """Wide DREAM-style table (``y_YYWW`` codes and ``branche_YYYY_MM`` months)."""
        return wide_table(
            self.register.person_ids,
            self.codes,
            self.employed,
            self.register.first_week,
            self.industry,
        )


def simulate_population(
    n_persons: int,
    n_weeks: int = 260,
    *,
    seed: int = 0,
    effects: TrueEffects | None = None,
    link: str = "logit",
    codemap: CodeMap | None = None,
    n_teams: int | None = None,
    n_municipalities: int | None = None,
    start: str = "2010-01-04",
    history: HistoryParams | None = None,
    process: ProcessParams | None = None,
) -> SimulatedPopulation:
    """Simulate ``n_persons`` persons over ``n_weeks`` calendar weeks from ``start``.

    Args:
        n_persons: persons (>= 2).
        n_weeks: register length; at least 104 + 1 + 84 = 189 weeks so that every person's
            weeks -104..84 fit.
        n_teams: clusters (default ``ceil(n_persons / 14)``).
        n_municipalities: strata (default ``ceil(n_teams * 26 / 43)``).
        Other arguments as in :func:`dreamkit.simulate.simulate_trial`.
    """
    if n_persons < 2:
        raise InputError(f"n_persons = {n_persons}; simulate at least 2 persons.")
    span = n_weeks - PRE_WEEKS - POST_WEEKS
    if span < 1:
        raise InputError(
            f"n_weeks = {n_weeks} is too short: every person needs {PRE_WEEKS} weeks before "
            f"and {POST_WEEKS} after allocation; use n_weeks >= {PRE_WEEKS + POST_WEEKS + 1}."
        )
    n_teams = int(np.ceil(n_persons / 14)) if n_teams is None else n_teams
    n_munis = int(np.ceil(n_teams * 26 / 43)) if n_municipalities is None else n_municipalities
    if not 1 <= n_teams <= n_persons // 2 or not 1 <= n_munis <= n_teams:
        raise InputError(
            f"n_teams = {n_teams}, n_municipalities = {n_munis}: need 1 <= n_municipalities "
            f"<= n_teams <= n_persons / 2 (each team needs a control and a course person)."
        )
    effects, history, process, link_, codemap, coder, rng = resolve_settings(
        effects=effects, history=history, process=process, link=link, codemap=codemap, seed=seed
    )

    # teams of >= 2 persons, 60% treated within each team, teams spread over municipalities
    sizes = 2 + rng.multinomial(n_persons - 2 * n_teams, np.full(n_teams, 1 / n_teams))
    n_treated = np.clip(np.round(0.6 * sizes), 1, sizes - 1).astype(np.int64)
    team = np.repeat(np.arange(n_teams, dtype=np.int32), sizes)
    muni_of_team = rng.integers(0, n_munis, n_teams).astype(np.int32)
    muni_of_team[rng.permutation(n_teams)[:n_munis]] = np.arange(n_munis, dtype=np.int32)
    treated = randomise(sizes, n_treated, rng)
    first_week = week_of_date(np.datetime64(start, "D").astype(object))
    origin = np.datetime64(start, "D") + 7 * PRE_WEEKS
    own, last = allocation_days(sizes, Recruitment(), rng, end_by=7 * span)
    alloc_date = origin + own
    alloc_week = weeks_of_dates(alloc_date).astype(np.int64)

    baseline = draw_baseline(rng, n_persons)
    persons, _ = make_persons(
        rng,
        alloc_col=alloc_week - first_week,
        baseline=baseline,
        team=team,
        municipality=muni_of_team[team],
        waiting_days=(last - own).astype(np.int32),
        effects=effects,
        process=process,
        history=history,
    )
    choice = rng.integers(0, coder.width, n_persons)
    industry = rng.integers(10_000, 100_000, n_persons).astype(np.int32)
    (detail,) = run(persons, [treated], n_weeks, process, link_, rng)
    months = months_of_weeks(np.arange(first_week, first_week + n_weeks))
    flags = employment_flags(detail, months)
    codes = np.empty((n_persons, n_weeks), dtype=np.int16)
    for j in range(n_weeks):
        codes[:, j] = coder.codes[detail[j], choice]
    del detail
    employed = np.ascontiguousarray(flags.T)
    del flags
    states = np.empty_like(employed, dtype=np.uint8)
    for lo in range(0, n_persons, CHUNK):  # in row chunks: bounded working memory
        states[lo : lo + CHUNK] = codemap.to_states(
            codes[lo : lo + CHUNK], employed[lo : lo + CHUNK]
        )[0]
    ids = pl.Series(C.PERSON, np.arange(1, n_persons + 1, dtype=np.int64))
    register = Register(states, ids, first_week, codemap)
    columns = {
        C.PERSON: ids,
        C.STRATUM: pl.Series(C.STRATUM, muni_of_team[team] + 1, dtype=pl.Int32),
        C.CLUSTER: pl.Series(C.CLUSTER, team + 1, dtype=pl.Int32),
        C.TREATED: pl.Series(C.TREATED, treated, dtype=pl.Int8),
        C.ALLOCATION_DATE: pl.Series(C.ALLOCATION_DATE, alloc_date, dtype=pl.Date),
        C.TEAM_LAST_ALLOCATION: pl.Series(C.TEAM_LAST_ALLOCATION, origin + last, dtype=pl.Date),
        C.WAITING_DAYS: pl.Series(C.WAITING_DAYS, last - own, dtype=pl.Int32),
        C.ALLOCATION_WEEK: pl.Series(C.ALLOCATION_WEEK, alloc_week, dtype=pl.Int32),
        **{k: pl.Series(k, baseline[k], dtype=pl.Int8) for k in C.UWSES_ITEMS},
        C.UWSES: pl.Series(C.UWSES, baseline[C.UWSES], dtype=pl.Int16),
        "age": pl.Series("age", baseline["age"], dtype=pl.Int16),
        **{k: pl.Series(k, baseline[k], dtype=pl.Int8) for k in (*BINARY, *ORDERED)},
        "sick_weeks_at_allocation": pl.Series(
            "sick_weeks_at_allocation", persons.history.onset, dtype=pl.Int16
        ),
    }
    return SimulatedPopulation(
        trial=pl.DataFrame(columns),
        register=register,
        codes=codes,
        employed=employed,
        industry=industry,
        seed=seed,
    )
