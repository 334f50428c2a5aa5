"""Formulas and a regression table: the ITT at week 81 three ways, fixed effects after '|',
team-clustered standard errors, and the hazard ratio of the exit to work, side by side."""

import dreamkit as dk

sim = dk.simulate_trial(seed=1)
persons = dk.build_outcomes(sim.register, sim.trial).persons
team = {"CRV1": "team"}

itt = dk.feols("emp_share_81 ~ treated | municipality", persons, vcov=team)
adjusted = dk.feols(
    "emp_share_81 ~ treated + belief_in_treatment + C(expected_return) | municipality",
    persons,
    vcov=team,
)
hazard = dk.hazard(
    "Surv(dur_emp, event_emp) ~ treated + belief_in_treatment | municipality",
    persons,
    link="cloglog",
    vcov=team,
)
print(adjusted.summary())
print(hazard.tidy(exponentiate=True).select("term", "estimate", "conf_low", "conf_high"))
table = dk.etable([itt, adjusted, hazard], names=["ITT", "adjusted", "hazard"], keep="treated")
print(table)

path = dk.effect_path("sick_share_* ~ treated + belief_in_treatment | municipality", persons)
print(path.tidy().filter(path.tidy()["week"].is_in([1, 45, 81])))
