"""Staggered programme starts (not randomised): a TWFE event study on the register's
person-week panel, Callaway-Sant'Anna and Sun-Abraham, and dynamic matching on the
pre-period history, each against the simulator's known effect theta(e)."""

import polars as pl

import dreamkit as dk

sim = dk.simulate_staggered(n_persons=4000, n_periods=60, cohorts=(20, 28, 36), seed=1)
register, persons = sim.to_register()  # employment states; start_week, municipality
long = sim.to_long()  # the same panel, one row per person-week

vc = {"CRV1": "municipality"}
twfe = dk.event_study_register(register, "employment", persons, leads=8, lags=12, vcov=vc)
kw = {"outcome": "y", "unit": "person_id", "time": "period", "start": "start", "vcov": vc}
cs = dk.callaway_santanna(long, **kw)
sa = dk.sun_abraham(long, **kw)

table = sim.theta.rename({"att": "truth"})
for name, fit in [("twfe", twfe), ("cs", cs), ("sa", sa)]:
    est = fit.tidy().select("event_time", pl.col("estimate").alias(name))
    table = table.join(est, on="event_time", how="left")
print(table.filter(pl.col("event_time").is_between(0, 10)))

starters = persons.filter(pl.col("start_week").is_not_null())
opts = {"pre_weeks": 13, "window": 13, "horizon": 12, "lead": 4, "ratio": 3, "bootstrap": 199}
match = dk.match_histories(register, starters, outcome="employment", **opts)
print(match.balance)
print(match.tidy().select("week", "estimate", "std_error"))
