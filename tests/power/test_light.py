"""The light simulator draws from the same distribution as the full register simulator:
the ITT estimate (its mean and SD over trials) and the arms' outcome levels agree, for
employment and sickness shares and the status at the horizon."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats

from dreamkit.errors import InputError
from dreamkit.outcomes import build_outcomes
from dreamkit.power import ReferenceTrialModel, analyse, simulate_outcomes
from dreamkit.power.simulation import SimTrial, children, full_outcome
from dreamkit.simulate import TeamDesign, TrueEffects, simulate_trial

EFFECTS = TrueEffects(tau=0.5, tau_low=0.3, tau_lock=-0.3, tau_peer=0.0)
OUTCOMES = ("emp_share", "sick_share", "emp_status")
P_MIN = 0.001  # each comparison fails by chance once in 1,000 runs


def _stats(y, treated, municipality, team) -> list[float]:
    trial = SimTrial(y, treated, municipality, team, None)
    res = analyse(trial, ("crv1",), 0.05)
    return [res["estimate"], float(y[treated == 0].mean()), float(y[treated == 1].mean())]


def _full(seed: int, design) -> list[float]:
    sim = simulate_trial(design, EFFECTS, seed=seed)
    persons = build_outcomes(sim.register, sim.trial).persons
    t = persons["treated"].to_numpy().astype(np.int8)
    muni = np.unique(persons["municipality"].to_numpy(), return_inverse=True)[1]
    team = np.unique(persons["team"].to_numpy(), return_inverse=True)[1]
    out: list[float] = []
    for name in OUTCOMES:
        out += _stats(full_outcome(persons, name, 81), t, muni, team)
    return out


def _light(seed: np.random.SeedSequence, design) -> list[float]:
    trial = simulate_outcomes(design, EFFECTS, seed=seed)
    out: list[float] = []
    for name in OUTCOMES:
        out += _stats(
            trial.outcomes[name],
            trial.treated,
            trial.municipality.astype(np.intp),
            trial.team.astype(np.intp),
        )
    return out


def _compare(r_full: int, r_light: int, design=None) -> None:
    full = np.array([_full(1000 + s, design) for s in range(r_full)])
    light = np.array([_light(s, design) for s in children(np.random.SeedSequence(9), r_light)])
    labels = [f"{o} {s}" for o in OUTCOMES for s in ("estimate", "control mean", "treated mean")]
    for j, label in enumerate(labels):
        welch = scipy.stats.ttest_ind(full[:, j], light[:, j], equal_var=False)
        assert welch.pvalue > P_MIN, (label, full[:, j].mean(), light[:, j].mean())
    for j in (0, 3, 6):  # the spread of the estimate (what power depends on)
        var = scipy.stats.levene(full[:, j], light[:, j])
        assert var.pvalue > P_MIN, (labels[j], full[:, j].std(), light[:, j].std())
    ks = scipy.stats.ks_2samp(full[:, 0], light[:, 0])
    assert ks.pvalue > P_MIN


def test_light_and_full_simulators_agree() -> None:
    _compare(30, 120)


@pytest.mark.slow
def test_light_and_full_simulators_agree_large() -> None:
    _compare(600, 1500)
    _compare(200, 600, TeamDesign(n_teams=20, mean_team_size=10))


def test_light_is_reproducible_and_both_worlds_are_consistent() -> None:
    a = simulate_outcomes(seed=3)
    b = simulate_outcomes(seed=3)
    assert np.array_equal(a.outcomes["emp_share"], b.outcomes["emp_share"])
    null = simulate_outcomes(effects=TrueEffects.null(), seed=4, both_worlds=True)
    assert np.array_equal(null.outcomes["emp_share"][0], null.outcomes["emp_share"][1])
    assert a.n == 568 and int(a.treated.sum()) == 371 and int(a.team.max()) == 42
    assert set(a.outcomes) == {"emp_share", "sick_share", "emp_status", "sick_status"}
    for name in ("emp_share", "sick_share"):
        assert ((a.outcomes[name] >= 0) & (a.outcomes[name] <= 1)).all()


def test_reference_model_full_and_light_draws() -> None:
    full = ReferenceTrialModel(simulator="full", covariates=("pre_sick_104_1",))
    trial = full.draw(0.3, np.random.SeedSequence(1))
    assert trial.y.size == 568 and trial.covariates is not None
    status = ReferenceTrialModel(outcome="emp_status", week=26).draw(0.3, np.random.SeedSequence(1))
    assert set(np.unique(status.y)) <= {0.0, 1.0}


def test_bad_light_input() -> None:
    with pytest.raises(InputError, match="week"):
        simulate_outcomes(week=0)
    with pytest.raises(InputError, match="design"):
        simulate_outcomes(design="reference")  # type: ignore[arg-type]
