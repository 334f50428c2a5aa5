"""Shared simulated trials (simulated once per test session)."""

from __future__ import annotations

import pytest

from dreamkit.simulate import SimulatedTrial, TeamDesign, TrueEffects, simulate_trial


@pytest.fixture(scope="session")
def reference() -> SimulatedTrial:
    """The reference design with the study's 12 unmatched persons."""
    return simulate_trial(seed=11, n_unmatched=12)


@pytest.fixture(scope="session")
def large() -> SimulatedTrial:
    """About 7,000 persons in 500 teams: calibration checks with small sampling error."""
    return simulate_trial(TeamDesign(n_teams=500), TrueEffects.null(), seed=5)
