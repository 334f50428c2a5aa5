"""Odds-ratio ladder: logit(P(employed at week 52)) on the cause of sick leave, unadjusted and
adding covariate blocks; rows overall p / reference / levels, columns b, OR (95% CI), p per
model; then average marginal effects (risk differences) and an opt-in backward elimination."""

import polars as pl

import dreamkit as dk

sim = dk.simulate_trial(seed=1)
persons = dk.build_outcomes(sim.register, sim.trial).persons.with_columns(
    employed_52=(pl.col("emp_share_52") >= 0.5).cast(pl.Int8),
    cause=pl.when(pl.col("mental_cause") == 1).then(pl.lit("mental")).otherwise(pl.lit("physical")),
    health=pl.col("self_rated_health").cast(pl.String),
)
blocks = {"background": ["female", "age", "partner"], "health": ["health", "prior_sick_leave"]}
ladder = dk.or_ladder(
    persons, "employed_52", "cause", blocks, cluster="team", reference={"cause": "physical"}
)
print(ladder.to_markdown())
adjusted = ladder.fits["+ health"]
print(adjusted.marginal_effects(["cause"]).tidy())  # risk difference, mental vs physical
print("LR test, adjusted vs unadjusted:", ladder.lr_test())

# opt-in and for sensitivity only: selection on p-values biases estimates (docs/binary.md)
selection = dk.backward_eliminate(
    persons,
    "employed_52",
    ["cause", "female", "age", "partner", "health"],
    alpha=0.1,
    cluster="team",
    reference={"cause": "physical"},
    force=["cause"],
)
print(selection.steps)
