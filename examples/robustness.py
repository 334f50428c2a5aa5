"""Robustness models at week 81: (2) main, (5) no covariates, (6) treatment interacted with
centred municipality dummies (Imbens-Rubin), (7) team x arm group means (robust to
spill-overs within teams)."""

import polars as pl

import dreamkit as dk

sim = dk.simulate_trial(seed=1)
persons = dk.build_outcomes(sim.register, sim.trial).persons
covariates = ["belief_in_treatment", "expected_return", "ordinary_job", "pre_sick_104_1"]
outcome = ["sick_share_81"]

models = {
    "(2) main": dk.effect_path(persons, outcome, covariates).tidy(),
    "(5) no covariates": dk.no_covariates(persons, outcome).tidy(),
    "(6) stratum-interacted": dk.stratum_interacted(persons, outcome, covariates).tidy(),
    "(7) team x arm groups": dk.group_level(persons, outcome, covariates).tidy(),
}
print(
    pl.concat(
        [
            m.select(pl.lit(name).alias("model"), "estimate", "std_error", "n_obs")
            for name, m in models.items()
        ]
    )
)
