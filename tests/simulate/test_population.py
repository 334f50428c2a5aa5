"""Large registers: windows, codes, reproducibility (small sizes here; speed in benchmarks)."""

from __future__ import annotations

import numpy as np
import pytest

from dreamkit.design import columns as C
from dreamkit.errors import InputError
from dreamkit.simulate import simulate_population
from dreamkit.simulate.population import POST_WEEKS, PRE_WEEKS


def test_population_register_and_trial() -> None:
    pop = simulate_population(3000, 200, seed=4, n_teams=100, n_municipalities=10)
    reg, trial = pop.register, pop.trial
    assert reg.states.shape == (3000, 200)
    weeks = trial[C.ALLOCATION_WEEK].to_numpy()
    assert weeks.min() - PRE_WEEKS >= reg.first_week
    assert weeks.max() + POST_WEEKS <= reg.last_week
    assert trial[C.CLUSTER].n_unique() == 100 and trial[C.STRATUM].n_unique() == 10
    cols = weeks - reg.first_week
    rows = np.arange(reg.n_persons)
    assert reg.codemap.mask("sickness_duration")[reg.states[rows, cols]].all()
    states, n_unknown = reg.codemap.to_states(pop.codes, pop.employed)
    assert n_unknown == 0 and np.array_equal(states, reg.states)
    team = trial[C.CLUSTER].to_numpy()
    n = np.bincount(team)[1:]
    n_treated = np.bincount(team, weights=trial[C.TREATED].to_numpy())[1:]
    assert np.array_equal(n_treated, np.clip(np.round(0.6 * n), 1, n - 1))


def test_population_is_reproducible() -> None:
    a = simulate_population(500, 190, seed=1)
    b = simulate_population(500, 190, seed=1)
    c = simulate_population(500, 190, seed=2)
    assert np.array_equal(a.register.states, b.register.states) and a.trial.equals(b.trial)
    assert not np.array_equal(a.register.states, c.register.states)


def test_population_rejects_short_registers() -> None:
    with pytest.raises(InputError, match="n_weeks"):
        simulate_population(100, 150)
