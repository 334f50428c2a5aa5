"""True sample effects: the same as the simulator's own truth tables, for any row order."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from dreamkit.errors import InputError
from dreamkit.outcomes import build_outcomes
from dreamkit.simulate import SimulatedTrial, TrueEffects, simulate_trial
from dreamkit.validate import SampleTruth
from dreamkit.validate.scenarios import REFERENCE_EFFECTS

OUTCOME = {"emp": "employment_share", "sick": "sickness_share"}


@pytest.fixture(scope="module")
def sim_and_persons() -> tuple[SimulatedTrial, pl.DataFrame]:
    sim = simulate_trial(effects=REFERENCE_EFFECTS, seed=31, n_unmatched=5)
    persons = build_outcomes(sim.register, sim.trial, on_missing="exclude").persons
    return sim, persons


@pytest.mark.parametrize("prefix", ["emp", "sick"])
def test_matches_simulator_truth_tables(
    sim_and_persons: tuple[SimulatedTrial, pl.DataFrame], prefix: str
) -> None:
    sim, persons = sim_and_persons
    shuffled = persons.sample(fraction=1.0, shuffle=True, seed=2)  # row order must not matter
    truth = SampleTruth.of(sim, shuffled)
    low = shuffled["uwses"].to_numpy() <= REFERENCE_EFFECTS.low_cutoff
    for group, mask in (("all", None), ("low_se", low), ("high_se", ~low)):
        expected = (
            sim.truth.paths.filter(
                (pl.col("outcome") == OUTCOME[prefix]) & (pl.col("group") == group)
            )
            .sort("week")["effect"]
            .to_numpy()
        )
        np.testing.assert_allclose(truth.path(prefix, mask), expected, rtol=0, atol=1e-12)


def test_individual_effects_vanish_under_the_null() -> None:
    sim = simulate_trial(effects=TrueEffects.null(), seed=4)
    persons = build_outcomes(sim.register, sim.trial).persons
    truth = SampleTruth.of(sim, persons)
    assert all(np.all(e == 0) for e in truth.effects.values())


def test_foreign_outcome_table_is_an_error(
    sim_and_persons: tuple[SimulatedTrial, pl.DataFrame],
) -> None:
    sim, _ = sim_and_persons
    other = simulate_trial(seed=99)
    persons = build_outcomes(other.register, other.trial).persons
    with pytest.raises(InputError, match="not in the simulated register"):
        SampleTruth.of(sim, persons)


def test_empty_group_is_an_error(sim_and_persons: tuple[SimulatedTrial, pl.DataFrame]) -> None:
    sim, persons = sim_and_persons
    truth = SampleTruth.of(sim, persons)
    with pytest.raises(InputError, match="empty"):
        truth.path("emp", np.zeros(persons.height, dtype=bool))
