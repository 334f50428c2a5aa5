"""Model (3), heterogeneity by self-efficacy: the fully interacted Low/High model over the
cut-off grid c = 6..14 (low = UW-SES 0-c, high = c+1..24), team-clustered, with control means,
group shares and the contrast tau_low - tau_high."""

import polars as pl

import dreamkit as dk

sim = dk.simulate_trial(seed=1)
persons = dk.build_outcomes(sim.register, sim.trial).persons
covariates = ["belief_in_treatment", "expected_return", "ordinary_job", "pre_sick_104_1"]

grid = dk.selfefficacy_grid(persons, ["emp_share_81", "sick_share_81"], covariates)
print(
    grid.tidy()
    .filter(pl.col("outcome") == "emp_share_81")
    .select(
        "cutoff", "group", "group_range", "estimate", "std_error", "control_mean", "group_share"
    )
)
