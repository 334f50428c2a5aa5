"""Model (2), the ITT effect path: Y_iw = tau_w T_i + sum_k b_kw M_ik + X_i'd_w + e_iw,
w = 1..81, team-clustered, with pointwise and simultaneous (sup-t) 95% bands."""

import polars as pl

import dreamkit as dk

sim = dk.simulate_trial(seed=1)
persons = dk.build_outcomes(sim.register, sim.trial).persons
covariates = ["belief_in_treatment", "expected_return", "ordinary_job", "pre_sick_104_1"]

for prefix in ("sick", "emp"):
    path = dk.effect_path(persons, f"{prefix}_share_", covariates)
    band = path.sup_t_band(0.95)
    table = path.tidy().with_columns(
        pl.Series("band_low", band.lower), pl.Series("band_high", band.upper)
    )
    print(f"{prefix}: sup-t critical value {band.critical_value:.2f} (pointwise 1.96)")
    print(
        table.filter(pl.col("week").is_in([1, 45, 81])).select(
            "week", "estimate", "std_error", "conf_low", "conf_high", "band_low", "band_high"
        )
    )
