"""Sample flow: every exclusion from randomisation to analysis, with its reason and count.

The simulated trial adds 12 persons whose identifiers are not in the register (as in the
study); dk.build_outcomes(on_missing="exclude") records them in the ledger instead of failing.
"""

import dreamkit as dk

sim = dk.simulate_trial(seed=1, n_unmatched=12)
outcomes = dk.build_outcomes(sim.register, sim.trial, on_missing="exclude")

print(f"randomised: {outcomes.flow.n_input}")
print(outcomes.flow.table())
print(f"analysed: {outcomes.persons.height} persons in {outcomes.persons['team'].n_unique()} teams")
