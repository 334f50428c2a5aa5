"""Competing exits from sickness benefit (work, unemployment, other): the multinomial-logit
hazard of all exits jointly, cumulative incidence by arm with delta-method intervals,
Aalen-Johansen, duration-varying effects, and relapse after a lasting return to work."""

import polars as pl

import dreamkit.outcomes as do
from dreamkit.estimate import CompetingRisksHazard, aalen_johansen, intervals, piecewise
from dreamkit.simulate import simulate_trial

sim = simulate_trial(seed=1)
cm = sim.register.codemap
aligned = do.align_trial(sim.register, sim.trial, first=1, last=81)
window = aligned.alignment.window(1, 81)
dur = do.duration_to_exit(window, cm.mask("sickness_duration"), weeks=81)
to = {"work": cm.mask("employment"), "unemployment": cm.mask("unemployment")}
persons = aligned.trial.with_columns(
    duration=pl.Series(dur.weeks), event=pl.Series(dur.event.astype("int8")),
    exit_type=do.exit_destinations(window, dur, to, other="other"),
)  # fmt: skip
model = CompetingRisksHazard(duration_spec=intervals(8), cov_type="iid")
fit = model.fit(persons)
print(fit.tidy(exponentiate=True).select("term", "exit", "estimate", "conf_low", "conf_high"))
print(fit.cif_difference(horizons=[26, 52, 81]))
print(aalen_johansen(persons).filter(pl.col("period") == 52).select("arm", "exit", "cif"))
varying = CompetingRisksHazard(intervals(8), treatment_by=piecewise([13]), cov_type="iid")
print(varying.fit(persons).constancy_test())

episodes = do.relapse_episodes(window, cm.mask("employment"), cm.mask("sickness"), k=4)
print(f"{episodes.height} episodes after a lasting return, {episodes['event'].sum()} relapses")
print(do.relapse_outcomes(window, cm.mask("employment"), cm.mask("sickness"), horizons=[52]))
