"""Synthetic reference-study-like trials for the estimator tests (known effects)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import polars as pl
import pytest

# (control, course) per team, from the reference study's team table
TEAM_SIZES = [
    (4, 9),
    (4, 7),
    (4, 7),
    (6, 13),
    (5, 7),
    (5, 13),
    (4, 9),
    (3, 5),
    (7, 12),
    (4, 7),
    (5, 9),
    (3, 11),
    (6, 9),
    (3, 8),
    (8, 12),
    (6, 9),
    (5, 11),
    (4, 6),
    (4, 5),
    (2, 7),
    (4, 7),
    (4, 9),
    (9, 16),
    (5, 5),
    (4, 7),
    (5, 9),
    (7, 9),
    (4, 7),
    (4, 9),
    (7, 13),
    (9, 14),
    (6, 11),
    (1, 9),
    (3, 4),
    (3, 6),
    (4, 11),
    (7, 9),
    (4, 7),
    (3, 6),
    (4, 7),
    (4, 7),
    (1, 5),
    (3, 8),
]
COVARIATES = ["belief", "expected_return", "ordinary_job", "prior_sick"]


def make_study(
    seed: int = 0,
    n_weeks: int = 12,
    effect: float | np.ndarray = 0.05,
    team_sizes: list[tuple[int, int]] | None = None,
    team_sd: float = 0.3,
) -> pl.DataFrame:
    """568 persons in 43 teams and 26 municipalities (17 with two teams), arms as published.

    y_iw = 0.2 + effect_w T_i + 0.1 belief + 0.05 expected_return + municipality effect
    + team shock (sd team_sd) + N(0, 1) noise; emp_share_w are clipped to [0, 1].
    """
    rng = np.random.default_rng(seed)
    sizes = team_sizes or TEAM_SIZES
    teams, treated = [], []
    for h, (n0, n1) in enumerate(sizes):
        teams += [h] * (n0 + n1)
        treated += [0] * n0 + [1] * n1
    team = np.array(teams)
    t = np.array(treated, dtype=float)
    n = len(t)
    muni = np.where(team < 34, team // 2, team - 17)
    cov = {
        "belief": rng.integers(0, 2, n).astype(float),
        "expected_return": rng.normal(10, 4, n),
        "ordinary_job": rng.integers(0, 2, n).astype(float),
        "prior_sick": rng.uniform(0, 1, n),
    }
    eff = np.broadcast_to(np.asarray(effect, dtype=float), (n_weeks,))
    base = (
        0.2
        + 0.1 * cov["belief"]
        + 0.05 * cov["expected_return"]
        + rng.normal(0, 0.2, muni.max() + 1)[muni]
        + team_sd * rng.normal(size=team.max() + 1)[team]
    )
    y = base[:, None] + t[:, None] * eff[None, :] + rng.normal(size=(n, n_weeks))
    cols: dict[str, object] = {
        "person_id": np.arange(1_000_000, 1_000_000 + n),
        "municipality": [f"m{m:02d}" for m in muni],
        "team": team + 100,
        "treated": t.astype(np.int8),
        **cov,
        "uwses": rng.integers(0, 25, n),
        "waiting_days": rng.integers(0, 40, n),
        "female": rng.integers(0, 2, n),
        "age50": rng.integers(0, 2, n),
    }
    for w in range(n_weeks):
        cols[f"y_{w + 1}"] = y[:, w]
        cols[f"emp_share_{w + 1}"] = np.clip(y[:, w] / 2, 0, 1)
    return pl.DataFrame(cols)


@pytest.fixture(scope="session")
def study() -> pl.DataFrame:
    return make_study(seed=1)


@pytest.fixture(scope="session")
def study_factory() -> Callable[..., pl.DataFrame]:
    return make_study
