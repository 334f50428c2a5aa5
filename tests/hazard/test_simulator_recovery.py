"""Model (1) recovers the simulator's true hazard coefficient of treatment.

The simulator's first exit from the sickness-duration set follows exactly
F(alpha_t + gamma_k + x'beta + T tau) (docs/simulator.md), so the discrete-time hazard with
week dummies, municipality fixed effects and the same covariates x is correctly specified and
its estimate of tau is consistent. With homogeneous effects (no low-SE, lock-in or peer
modification), |b - tau| < 4 SE fails for a correct estimator with probability 6e-5.
"""

from __future__ import annotations

import pytest

from dreamkit.design import validate_trial
from dreamkit.estimate.duration.duration_dependence import week_dummies
from dreamkit.estimate.duration.hazard import DiscreteTimeHazard
from dreamkit.outcomes import build_outcomes
from dreamkit.simulate import TeamDesign, TrueEffects, simulate_trial
from dreamkit.simulate.baseline import PROGNOSIS

TAU = 0.35


@pytest.mark.parametrize("link", ["logit", "cloglog"])
def test_hazard_recovers_true_tau(link: str) -> None:
    effects = TrueEffects(tau=TAU, tau_low=0.0, tau_lock=0.0, tau_peer=0.0)
    sim = simulate_trial(TeamDesign(n_teams=300), effects, seed=11, link=link)
    assert sim.truth.parameter("tau") == TAU
    persons = build_outcomes(sim.register, validate_trial(sim.trial)).persons
    model = DiscreteTimeHazard(link, duration_spec=week_dummies(), covariates=tuple(PROGNOSIS))
    result = model.fit(persons, duration="dur_sick", event="event_sick")
    b, se = result.coef("treated"), result.se("treated")
    assert abs(b - TAU) < 4 * se, (b, se)
    assert se < 0.1  # the design is large enough for the check to have power
