"""Few-cluster inference for the sickness effect path: wild cluster bootstrap (null imposed),
randomisation inference re-drawing the lottery within teams, and Romano-Wolf p-values over
the 81 weeks."""

import numpy as np

import dreamkit as dk

sim = dk.simulate_trial(seed=1)
persons = dk.build_outcomes(sim.register, sim.trial).persons
covariates = ["belief_in_treatment", "expected_return", "ordinary_job", "pre_sick_104_1"]

path = dk.effect_path(persons, "sick_share_", covariates)
boot = path.wild_cluster_bootstrap(B=999, seed=1)
ri = path.randomization_inference(n_draws=999, seed=1)
rw = dk.romano_wolf(ri.statistic, ri.draws)
for w in (1, 45, 81):
    i = path.weeks.index(w)
    print(
        f"week {w:2d}: tau = {path.estimates[i]:+.3f}, p CRV1 = "
        f"{path.tidy()['p_value'][i]:.3f}, wild = {boot.p_value[i]:.3f}, "
        f"RI = {ri.p_value[i]:.3f}, Romano-Wolf = {rw[i]:.3f}"
    )
print("weeks with RI p < 0.05:", int(np.sum(ri.p_value < 0.05)))
