"""Model (1), discrete-time hazard: logit(lambda_it) = alpha_t + b T_i + sum_k c_k M_ik,
alpha_t by 4-week intervals, municipality fixed effects, standard errors clustered by team;
for the exit to ordinary employment and the exit from sickness benefit etc."""

import dreamkit as dk

sim = dk.simulate_trial(seed=1)
persons = dk.build_outcomes(sim.register, sim.trial).persons

for duration, event, label in [
    ("dur_emp", "event_emp", "exit to employment"),
    ("dur_sick", "event_sick", "exit from sickness benefit"),
]:
    for link in ("logit", "cloglog"):
        fit = dk.DiscreteTimeHazard(link=link).fit(persons, duration=duration, event=event)
        print(
            f"{label:28s} {link:8s} b = {fit.coef('treated'):+.3f} "
            f"(SE {fit.se('treated'):.3f}) on {fit.n_person_periods} person-weeks"
        )
print(fit.tidy())
