"""A pilot-style small trial: 30 pairs allocated within strata, status at 6/12/18 months.

Persons, both potential outcomes and the register come from the simulator; the allocation
(decliners replaced), the statuses (through status_at_horizons) and every test are dreamkit's.
"""

import numpy as np
import polars as pl

import dreamkit as dk

sim = dk.simulate_trial(dk.TeamDesign(n_teams=6, mean_team_size=13), seed=3)
eligible = sim.trial.drop("treated").with_columns(young=(pl.col("age") < 45).cast(pl.Int8))
strata, declined = ["female", "young"], eligible["person_id"].sample(3, seed=1)
pairs = dk.proportional_pairs(eligible, strata, 30)  # 30 pairs in proportion to the strata
alloc = dk.pairwise_allocation(eligible, strata, seed=2024, n_pairs=pairs, declined=declined)
persons = alloc.allocated
end = int(np.quantile(persons["allocation_week"], 0.85)) + 78  # the analysis date
register = dk.reallocate(sim, persons, last_week=end)
spec = dk.StatusSpec.from_mapping(
    {
        "self_support": {"states": ["employment", "education"], "weeks": 4},
        "disability_pension": ["disability_pension"],
        "left_benefit": {"states": ["sickness_duration", "cash_benefit"], "outside": True},
    },
    other="on_benefit",
)
status = dk.status_at_horizons(register, persons, spec, [6, 12, 18], sample="common")
print(alloc, "\n", alloc.log.group_by("event").len(), "\n", status.flow_table())
arms = [pl.format("{}/{}", f"events_{a}", f"n_{a}").alias(a) for a in ("treated", "control")]
tests = ["p_chi2", "p_chi2_yates", "p_fisher", "p_mcnemar_exact", "p_ri", "rd", "rd_low", "rd_high"]
with pl.Config(tbl_cols=-1, tbl_width_chars=200, float_precision=3, tbl_hide_dataframe_shape=True):
    for label, table in dk.horizon_tables(status, ri_draws=4999).items():
        print(f"status at {label} (rd: Newcombe interval):")
        print(table.select("outcome", *arms, *tests, "note"))
