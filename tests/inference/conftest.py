"""Shared synthetic data for the inference tests: a within-team randomised trial."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest


@dataclass
class Trial:
    y: np.ndarray  # (n, W)
    d: np.ndarray  # (n,) 0/1
    Z: np.ndarray  # (n, S + 1): stratum dummies + one covariate
    teams: np.ndarray  # (n,)
    strata: np.ndarray  # (n,)


def make_trial(
    seed: int,
    n_teams: int = 12,
    team_size: tuple[int, int] = (8, 16),
    n_outcomes: int = 3,
    effect: float = 0.0,
    teams_per_stratum: int = 2,
) -> Trial:
    """Teams nested in strata, a 60/40 lottery within each team, team-level shocks."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(team_size[0], team_size[1] + 1, size=n_teams)
    teams = np.repeat(np.arange(n_teams), sizes)
    strata = teams // teams_per_stratum
    d = np.zeros(teams.shape[0])
    for g, size in enumerate(sizes):
        idx = np.flatnonzero(teams == g)
        d[rng.choice(idx, size=round(0.6 * int(size)), replace=False)] = 1.0
    x = rng.normal(size=teams.shape[0])
    n_strata = int(strata.max()) + 1
    dummies = (strata[:, None] == np.arange(n_strata)[None, :]).astype(float)
    shock = rng.normal(size=(n_teams, n_outcomes))[teams]
    y = effect * d[:, None] + 0.5 * x[:, None] + shock + rng.normal(size=(d.shape[0], n_outcomes))
    return Trial(y=y, d=d, Z=np.column_stack([dummies, x]), teams=teams, strata=strata)


@pytest.fixture
def trial() -> Trial:
    return make_trial(seed=11)


@pytest.fixture
def trial_factory():
    return make_trial
