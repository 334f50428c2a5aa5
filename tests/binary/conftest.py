"""Synthetic survey-like data for the binary-outcome tests (known logit coefficients)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest


def make_survey(
    n: int = 3000, seed: int = 1, n_strata: int = 12, n_teams: int = 60
) -> pl.DataFrame:
    """Persons in teams nested in strata; a 3-level exposure, categorical covariates with a
    "don't know" level, a 0/1 and a continuous covariate; logit outcome."""
    rng = np.random.default_rng(seed)
    team = rng.integers(0, n_teams, n)
    stratum = team % n_strata
    illness = rng.choice(["physical", "mental", "both"], n, p=[0.5, 0.3, 0.2])
    sex = rng.choice(["F", "M"], n)
    edu = rng.choice(["low", "mid", "high", "don't know"], n, p=[0.3, 0.3, 0.3, 0.1])
    age = rng.normal(45, 10, n).round()
    gamma = rng.normal(0, 0.3, n_strata)
    u = rng.normal(0, 0.3, n_teams)
    eta = (
        -0.8
        + gamma[stratum]
        + u[team]
        + np.select([illness == "mental", illness == "both"], [0.8, 0.4], 0.0)
        + 0.3 * (sex == "M")
        + np.select([edu == "mid", edu == "high", edu == "don't know"], [-0.2, -0.5, 0.2], 0.0)
        + 0.02 * (age - 45)
    )
    y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(np.int8)
    return pl.DataFrame(
        {
            "y": y,
            "illness": illness,
            "sex": sex,
            "edu": edu,
            "age": age,
            "stratum": stratum.astype(np.int32),
            "team": team.astype(np.int32),
        }
    )


@pytest.fixture(scope="session")
def survey() -> pl.DataFrame:
    return make_survey()
