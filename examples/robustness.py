"""Robustness models at week 81: (2) main, (5) no covariates, (6) treatment interacted with
centred municipality dummies (Imbens-Rubin), (7) team x arm group means (robust to
spill-overs within teams)."""

import polars as pl

from dreamkit.estimate.linear.itt import effect_path
from dreamkit.estimate.linear.robustness import group_level, no_covariates, stratum_interacted
from dreamkit.outcomes import build_outcomes
from dreamkit.simulate import simulate_trial

sim = simulate_trial(seed=1)
persons = build_outcomes(sim.register, sim.trial).persons
covariates = ["belief_in_treatment", "expected_return", "ordinary_job", "pre_sick_104_1"]
outcome = ["sick_share_81"]

models = {
    "(2) main": effect_path(persons, outcome, covariates).tidy(),
    "(5) no covariates": no_covariates(persons, outcome).tidy(),
    "(6) stratum-interacted": stratum_interacted(persons, outcome, covariates).tidy(),
    "(7) team x arm groups": group_level(persons, outcome, covariates).tidy(),
}
print(
    pl.concat(
        [
            m.select(pl.lit(name).alias("model"), "estimate", "std_error", "n_obs")
            for name, m in models.items()
        ]
    )
)
