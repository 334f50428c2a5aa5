"""Model (4), peer composition: treatment x own low self-efficacy (UW-SES 0-8) x PeersLow
(leave-one-out share of low-SE team-mates above the median over teams); four-cell and
restricted (two high-SE cells equal) versions, team-clustered."""

import dreamkit as dk

sim = dk.simulate_trial(seed=1)
persons = dk.build_outcomes(sim.register, sim.trial).persons
covariates = ["belief_in_treatment", "expected_return", "ordinary_job", "pre_sick_104_1"]

result = dk.peer_effects(persons, ["emp_share_81"], covariates, cutoff=8, peer_cutoff=8)
print(f"median team share with low self-efficacy: {result.tidy()['peer_threshold'][0]:.2f}")
print(
    result.tidy().select("version", "group", "estimate", "std_error", "control_mean", "group_share")
)
