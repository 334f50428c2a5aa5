"""Model (B), balance: x_i = a T_i + sum_k b_k M_ik + e_i for each baseline variable,
in the study's five samples (all, short/long wait, low/high self-efficacy), team-clustered."""

import polars as pl

import dreamkit as dk

sim = dk.simulate_trial(seed=1)
persons = dk.build_outcomes(sim.register, sim.trial).persons
variables = [
    "uwses",
    "belief_in_treatment",
    "expected_return",
    "ordinary_job",
    "female",
    "age",
    "pre_emp_104_1",
    "pre_sick_104_1",
    "pre_sick_13_1",
]

result = dk.balance(persons, variables, samples=dk.study_samples(), ri_draws=199)
print(result.table.select("sample", "variable", "estimate", "std_error", "p_value", "star"))
print(f"{int(result.table['star'].sum())} of {result.table.height} tests have p < 0.05")
print(result.joint.select("sample", "n_obs", "n_variables", "ri_p_value"))
print(result.table.filter(pl.col("p_holm") < 0.05).height, "survive Holm adjustment")
