"""Competing exits from sickness benefit (work, unemployment, other): the multinomial-logit
hazard of all exits jointly, cumulative incidence by arm with delta-method intervals,
Aalen-Johansen, duration-varying effects, and relapse after a lasting return to work."""

import polars as pl

import dreamkit as dk

sim = dk.simulate_trial(seed=1)
cm = sim.register.codemap
aligned = dk.align_trial(sim.register, sim.trial, first=1, last=81)
window = aligned.alignment.window(1, 81)
dur = dk.duration_to_exit(window, cm.mask("sickness_duration"), weeks=81)
to = {"work": cm.mask("employment"), "unemployment": cm.mask("unemployment")}
persons = aligned.trial.with_columns(
    duration=pl.Series(dur.weeks), event=pl.Series(dur.event.astype("int8")),
    exit_type=dk.exit_destinations(window, dur, to, other="other"),
)  # fmt: skip
model = dk.CompetingRisksHazard(duration_spec=dk.intervals(8), cov_type="iid")
fit = model.fit(persons)
print(fit.tidy(exponentiate=True).select("term", "exit", "estimate", "conf_low", "conf_high"))
print(fit.cif_difference(horizons=[26, 52, 81]))
print(dk.aalen_johansen(persons).filter(pl.col("period") == 52).select("arm", "exit", "cif"))
varying = dk.CompetingRisksHazard(dk.intervals(8), treatment_by=dk.piecewise([13]), cov_type="iid")
print(varying.fit(persons).constancy_test())

episodes = dk.relapse_episodes(window, cm.mask("employment"), cm.mask("sickness"), k=4)
print(f"{episodes.height} episodes after a lasting return, {episodes['event'].sum()} relapses")
print(dk.relapse_outcomes(window, cm.mask("employment"), cm.mask("sickness"), horizons=[52]))
