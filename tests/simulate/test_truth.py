"""Common random numbers: the truth is exact, consistent with the data and signed right;
the first-exit hazard is the documented model."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import statsmodels.api as sm

from dreamkit.design import columns as C
from dreamkit.simulate import ProcessParams, SimulatedTrial, TeamDesign, TrueEffects, simulate_trial
from dreamkit.simulate.baseline import PROGNOSIS, prognostic_matrix
from dreamkit.simulate.trial import FOLLOW_UP


def test_null_effects_give_identical_potential_outcomes() -> None:
    sim = simulate_trial(effects=TrueEffects.null(), seed=7)
    y0, y1 = sim.truth.potential
    assert np.array_equal(y0, y1)
    assert (sim.truth.paths["effect"] == 0).all()


def test_observed_arm_is_one_of_the_potential_outcomes(reference: SimulatedTrial) -> None:
    reg = reference.register
    rows = reg.rows_of(reference.trial[C.PERSON])
    ok = rows >= 0
    treated = reference.trial[C.TREATED].to_numpy()[ok] == 1
    cols = reference.trial[C.ALLOCATION_WEEK].to_numpy()[ok, None] - reg.first_week
    observed = reg.states[rows[ok, None], cols + np.arange(1, FOLLOW_UP + 4)]
    y0, y1 = reference.truth.potential
    assert np.array_equal(observed, np.where(treated[:, None], y1, y0))


@pytest.mark.parametrize("tau", [0.5, -0.5])
def test_sign_of_the_exit_effect_carries_to_employment(tau: float) -> None:
    effects = TrueEffects(tau=tau, tau_low=0.0, tau_lock=0.0, tau_peer=0.0)
    sim = simulate_trial(effects=effects, seed=2)
    emp = sim.truth.effect("employment_share", FOLLOW_UP)
    sick = sim.truth.effect("sickness_share", FOLLOW_UP)
    assert np.sign(emp) == np.sign(tau) and np.sign(sick) == -np.sign(tau)
    # exits are monotone in tau under CRN: nobody leaves the first spell later when treated
    y0, y1 = sim.truth.potential
    dur = sim.register.codemap.mask("sickness_duration")
    out0, out1 = ~dur[y0[:, :FOLLOW_UP]], ~dur[y1[:, :FOLLOW_UP]]
    exit0 = np.where(out0.any(1), out0.argmax(1), FOLLOW_UP)
    exit1 = np.where(out1.any(1), out1.argmax(1), FOLLOW_UP)
    assert (np.sign(exit0 - exit1) * np.sign(tau) >= 0).all()


def test_lock_in_only_lowers_exits_in_the_lock_in_weeks() -> None:
    effects = TrueEffects(tau=0.0, tau_low=0.0, tau_lock=-1.0, tau_peer=0.0)
    sim = simulate_trial(effects=effects, seed=3)
    paths = sim.truth.paths.filter(
        (pl.col("outcome") == "sickness_share") & (pl.col("group") == "all")
    )
    assert paths["effect"][0] >= 0 and paths["effect"].max() > 0


def test_subgroup_effects_average_to_the_overall_effect(reference: SimulatedTrial) -> None:
    p = reference.truth.paths.filter(pl.col("week") == 40)
    for a, b in (("low_se", "high_se"), ("short_wait", "long_wait")):
        rows = {
            g: p.filter((pl.col("outcome") == "employment_share") & (pl.col("group") == g))
            for g in ("all", a, b)
        }
        n_a, n_b = rows[a]["n"][0], rows[b]["n"][0]
        assert n_a + n_b == rows["all"]["n"][0]
        mix = (n_a * rows[a]["effect"][0] + n_b * rows[b]["effect"][0]) / (n_a + n_b)
        assert mix == pytest.approx(rows["all"]["effect"][0], abs=1e-12)


@pytest.mark.parametrize("link", ["logit", "cloglog"])
def test_first_exit_hazard_is_the_documented_model(link: str) -> None:
    """Fit the documented discrete-time hazard (known municipality effects as an offset) by
    statsmodels GLM on the person-weeks at risk; every true parameter lies within 4 SE."""
    effects = TrueEffects(tau=0.4, tau_low=0.0, tau_lock=0.0, tau_peer=0.0)
    sim = simulate_trial(TeamDesign(n_teams=350), effects, seed=21, link=link)
    reg, trial = sim.register, sim.trial
    rows = reg.rows_of(trial[C.PERSON])
    cols = trial[C.ALLOCATION_WEEK].to_numpy()[:, None] - reg.first_week
    window = reg.states[rows[:, None], cols + np.arange(1, FOLLOW_UP + 1)]
    out = ~reg.codemap.mask("sickness_duration")[window]
    event = out.any(axis=1)
    last = np.where(event, out.argmax(axis=1) + 1, FOLLOW_UP)
    person = np.repeat(np.arange(trial.height), last)
    week = np.concatenate([np.arange(1, k + 1) for k in last])
    y = (week == last[person]) & event[person]
    x = prognostic_matrix({k: trial[k].to_numpy() for k in PROGNOSIS})[person]
    design = np.column_stack(
        [np.ones(week.size), np.log(week), x, trial[C.TREATED].to_numpy()[person]]
    )
    gamma = sim.truth.strata["gamma"].to_numpy()[trial[C.STRATUM].to_numpy()[person] - 1]
    family = sm.families.Binomial(
        sm.families.links.Logit() if link == "logit" else sm.families.links.CLogLog()
    )
    fit = sm.GLM(y.astype(float), design, family=family, offset=gamma).fit()
    params = ProcessParams()
    truth = np.r_[params.alpha0, params.alpha1, params.beta, effects.tau]
    z = (fit.params - truth) / fit.bse
    assert np.abs(z).max() < 4, z
