r"""Trial design: municipalities (strata), teams (clusters), arms and allocation dates.

**Teams and arms.** :class:`ReferenceDesign` uses the reference study's 43 published team
sizes (control, course), 197 + 371 = 568 persons, spread over 26 municipalities of which 17
run two teams and 9 one team (teams are assigned to municipalities at random).
:class:`TeamDesign` draws ``n_teams`` team sizes :math:`n_h = 3 + \mathrm{Poisson}(\bar n - 3)`
and allocates :math:`\mathrm{round}(0.6\,n_h)` persons to the course by complete
randomisation within the team (so randomisation inference can re-draw within teams keeping
the counts); a municipality runs two teams with probability ``two_team_share``.

**Allocation dates.** Team :math:`h` starts recruiting on a day drawn uniformly in a
``window_weeks`` window from ``start`` and recruits for :math:`R_h \sim
\mathrm{Gamma}(k, \bar R / k)` days. A person's waiting time (days from own allocation to the
team's last allocation, after which the course could start) is
:math:`\lfloor R_h V_i \rfloor - \min_{j \in h} \lfloor R_h V_j \rfloor` with
:math:`V_i = U_i^{1/a}`, so the team's last person waits 0 days. The defaults
(:math:`k = 1.2`, :math:`\bar R = 46`, :math:`a = 0.8`) give a mean of about 19 days, about 42%
under 7 days, 62% within 14 days and 20% over 30 days, as in the study.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from dreamkit.errors import InputError

#: The reference study's team sizes (control, course), in the published table's order.
REFERENCE_TEAM_SIZES: tuple[tuple[int, int], ...] = (
    (4, 9), (4, 7), (4, 7), (6, 13), (5, 7), (5, 13), (4, 9), (3, 5), (7, 12), (4, 7),
    (5, 9), (3, 11), (6, 9), (3, 8), (8, 12), (6, 9), (5, 11), (4, 6), (4, 5), (2, 7),
    (4, 7), (4, 9), (9, 16), (5, 5), (4, 7), (5, 9), (7, 9), (4, 7), (4, 9), (7, 13),
    (9, 14), (6, 11), (1, 9), (3, 4), (3, 6), (4, 11), (7, 9), (4, 7), (3, 6), (4, 7),
    (4, 7), (1, 5), (3, 8),
)  # fmt: skip


@dataclass(frozen=True)
class Recruitment:
    """When teams recruit (module docstring): calendar start, start window, span of a team."""

    start: dt.date = dt.date(2011, 1, 3)
    window_weeks: int = 70
    span_mean_days: float = 46.0
    span_shape: float = 1.2
    end_concentration: float = 0.8

    def __post_init__(self) -> None:
        if self.window_weeks < 1 or self.span_mean_days <= 0 or self.span_shape <= 0:
            raise InputError(
                "Recruitment: window_weeks must be >= 1 and span_mean_days, span_shape > 0."
            )
        if self.end_concentration <= 0:
            raise InputError("Recruitment.end_concentration must be > 0.")


@dataclass(frozen=True)
class ReferenceDesign:
    """The reference study's teams: published sizes, 26 municipalities (17 with two teams)."""

    team_sizes: tuple[tuple[int, int], ...] = REFERENCE_TEAM_SIZES
    n_two_team_municipalities: int = 17
    recruitment: Recruitment = field(default_factory=Recruitment)

    def __post_init__(self) -> None:
        if not self.team_sizes or any(c < 1 or t < 1 for c, t in self.team_sizes):
            raise InputError(
                "ReferenceDesign.team_sizes needs at least one team, each with >= 1 control "
                "and >= 1 course participant."
            )
        if not 0 <= 2 * self.n_two_team_municipalities <= len(self.team_sizes):
            raise InputError(
                f"ReferenceDesign.n_two_team_municipalities = {self.n_two_team_municipalities}"
                f" needs {2 * self.n_two_team_municipalities} teams; there are "
                f"{len(self.team_sizes)}."
            )


@dataclass(frozen=True)
class TeamDesign:
    """A general design: ``n_teams`` teams of about ``mean_team_size`` persons (docstring)."""

    n_teams: int = 43
    mean_team_size: float = 14.0
    share_treated: float = 0.6
    two_team_share: float = 17 / 26
    recruitment: Recruitment = field(default_factory=Recruitment)

    def __post_init__(self) -> None:
        if self.n_teams < 1 or self.mean_team_size < 3:
            raise InputError("TeamDesign: n_teams must be >= 1 and mean_team_size >= 3.")
        if not 0 < self.share_treated < 1 or not 0 <= self.two_team_share <= 1:
            raise InputError(
                "TeamDesign: share_treated must lie in (0, 1) and two_team_share in [0, 1]."
            )


Design = ReferenceDesign | TeamDesign


@dataclass(frozen=True)
class Allocation:
    """Per-person design arrays, persons ordered by team."""

    team: npt.NDArray[np.int32]
    municipality: npt.NDArray[np.int32]
    treated: npt.NDArray[np.int8]
    allocation_date: npt.NDArray[np.datetime64]
    team_last_allocation: npt.NDArray[np.datetime64]
    waiting_days: npt.NDArray[np.int32]

    @property
    def n(self) -> int:
        return int(self.team.size)


def team_sizes(design: Design, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(persons per team, treated per team) of a design."""
    if isinstance(design, ReferenceDesign):
        sizes = np.array(design.team_sizes, dtype=np.int64)
        return sizes.sum(axis=1), sizes[:, 1]
    n = 3 + rng.poisson(design.mean_team_size - 3, size=design.n_teams)
    n_treated = np.clip(np.round(design.share_treated * n), 1, n - 1).astype(np.int64)
    return n, n_treated


def municipalities(design: Design, n_teams: int, rng: np.random.Generator) -> np.ndarray:
    """Municipality (0-based) of each team; a two-team municipality holds two random teams."""
    if isinstance(design, ReferenceDesign):
        n_two = design.n_two_team_municipalities
    else:
        # each municipality runs two teams with probability two_team_share
        n_two = int(rng.binomial(n_teams // 2, design.two_team_share))
    order = rng.permutation(n_teams)
    muni = np.empty(n_teams, dtype=np.int32)
    muni[order[: 2 * n_two]] = np.repeat(np.arange(n_two), 2)
    muni[order[2 * n_two :]] = n_two + np.arange(n_teams - 2 * n_two)
    return muni


def randomise(sizes: np.ndarray, n_treated: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Complete randomisation within teams: exactly ``n_treated[h]`` course places in team h."""
    team = np.repeat(np.arange(sizes.size), sizes)
    start = np.repeat(np.cumsum(sizes) - sizes, sizes)
    # rank of a uniform key within its team: a uniformly random permutation per team
    key = team + rng.random(team.size)
    rank = np.empty(team.size, dtype=np.int64)
    rank[np.argsort(key, kind="stable")] = np.arange(team.size)
    return ((rank - start) < np.repeat(n_treated, sizes)).astype(np.int8)


def allocation_days(
    sizes: np.ndarray,
    recruitment: Recruitment,
    rng: np.random.Generator,
    *,
    end_by: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(allocation day, team's last allocation day) per person, in days since ``start``.

    With ``end_by`` every team finishes recruiting before that day (a team's span is cut to
    fit and its start drawn so that it ends in time); used for registers of fixed length.
    """
    n_teams = sizes.size
    team = np.repeat(np.arange(n_teams), sizes)
    scale = recruitment.span_mean_days / recruitment.span_shape
    span = rng.gamma(recruitment.span_shape, scale, n_teams)
    if end_by is None:
        begin = rng.integers(0, 7 * recruitment.window_weeks, n_teams)
    else:
        span = np.minimum(span, end_by - 1)
        room = np.maximum(end_by - np.ceil(span).astype(np.int64), 1)
        begin = np.floor(rng.random(n_teams) * room).astype(np.int64)
    offset = np.floor(span[team] * rng.random(team.size) ** (1 / recruitment.end_concentration))
    offset -= np.minimum.reduceat(offset, np.cumsum(sizes) - sizes)[team]
    last = begin + np.ceil(span).astype(np.int64)
    return (last[team] - offset).astype(np.int64), last[team]


def draw_allocation(design: Design, rng: np.random.Generator) -> Allocation:
    """Teams, municipalities, arms and allocation dates of one simulated trial."""
    sizes, n_treated = team_sizes(design, rng)
    team = np.repeat(np.arange(sizes.size, dtype=np.int32), sizes)
    muni = municipalities(design, sizes.size, rng)[team]
    treated = randomise(sizes, n_treated, rng)
    own, last = allocation_days(sizes, design.recruitment, rng)
    start = np.datetime64(design.recruitment.start, "D")
    return Allocation(
        team=team,
        municipality=muni,
        treated=treated,
        allocation_date=start + own,
        team_last_allocation=start + last,
        waiting_days=(last - own).astype(np.int32),
    )
