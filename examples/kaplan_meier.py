"""Kaplan-Meier curves by arm for the duration to the first 4-week employment spell and the
duration on sickness benefit etc., with log-rank tests and numbers at risk."""

import dreamkit as dk

sim = dk.simulate_trial(seed=1)
persons = dk.build_outcomes(sim.register, sim.trial).persons

for duration, event in [("dur_emp", "event_emp"), ("dur_sick", "event_sick")]:
    km = dk.kaplan_meier(persons, duration=duration, event=event, by="treated")
    print(f"{duration}: log-rank p = {km.logrank['p_value']:.3f}")
    print(km.at_risk_table([0, 13, 26, 52, 81]))
    print(
        km.curves.filter(km.curves["week"] == 81).select(
            "group", "survival", "conf_low", "conf_high"
        )
    )
