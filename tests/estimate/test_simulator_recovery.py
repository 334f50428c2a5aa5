"""The ITT effect path recovers the simulator's true sample effects.

With common random numbers the simulator knows each sample's true average effect (SATE) on
the employment and sickness shares. On a large trial (300 teams) the estimate at every
checked week must lie within 4 CRV1 standard errors of that truth (a correct estimator fails
one such check with probability 6e-5), and the SE must be small enough for that to matter.
"""

from __future__ import annotations

import pytest

from dreamkit.design import validate_trial
from dreamkit.estimate.linear.itt import effect_path
from dreamkit.outcomes import build_outcomes
from dreamkit.simulate import TeamDesign, TrueEffects, simulate_trial

COVARIATES = ["belief_in_treatment", "expected_return", "ordinary_job", "pre_sick_104_1"]


@pytest.mark.parametrize(
    ("prefix", "outcome"), [("emp_share_", "employment_share"), ("sick_share_", "sickness_share")]
)
def test_effect_path_recovers_true_sample_effect(prefix: str, outcome: str) -> None:
    effects = TrueEffects(tau=0.6, tau_low=0.0, tau_lock=0.0, employment_entry=0.3)
    sim = simulate_trial(TeamDesign(n_teams=300), effects, seed=5)
    persons = build_outcomes(sim.register, validate_trial(sim.trial)).persons
    path = effect_path(persons, prefix, COVARIATES)
    truth = sim.truth.paths.filter(group="all")
    assert set(truth["outcome"].unique().to_list()) >= {outcome}
    for week in (13, 26, 52, 81):
        row = path.table.filter(week=week)
        estimate, se = row["estimate"].item(), row["std_error"].item()
        true = sim.truth.effect(outcome, week)
        assert abs(estimate - true) < 4 * se, (week, estimate, true, se)
        assert se < 0.02
    assert abs(sim.truth.effect(outcome, 81)) > 0.02  # the effect is not trivially zero
