"""Competing-risks hazard (multinomial logit, 3 exit types) on about 50 person-weeks per person.

4-week duration intervals per exit type, 100 strata (fixed effects), treatment, CRV1 by 5,000
teams, fitted by dreamkit on compressed cells straight from the person-level durations; then
the standardised cumulative incidence by arm with delta-method SEs (all 81 weeks, 3 exits).
Baseline: statsmodels MNLogit (Newton, cluster covariance) on the expanded person-weeks of a
subsample (``--baseline-persons``, 10 strata), its time scaled linearly to N persons (a lower
bound). Equality with statsmodels is checked on the subsample (1e-6) before any time is
reported.

Usage: ``python benchmarks/competing_risks.py [--persons 1000000]``. Timings on a shared
2-core machine are noisy.
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import polars as pl
import statsmodels.api as sm

from dreamkit.estimate.duration.competing import CompetingRisksHazard
from dreamkit.estimate.duration.person_period import expand_person_periods

N_STRATA, N_TEAMS, WEEKS = 100, 5000, 81
BASE = np.array([-4.4, -5.6, -5.0])
TAU = np.array([0.3, -0.2, 0.0])


def simulate(n: int, seed: int = 0, n_strata: int = N_STRATA) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    team = rng.integers(0, N_TEAMS, n)
    stratum = team % n_strata
    treated = (rng.random(n) < 0.6).astype(np.int8)
    gamma = rng.normal(scale=0.3, size=(n_strata, 3))
    duration = np.full(n, WEEKS, dtype=np.int32)
    event = np.zeros(n, dtype=np.int8)
    kind = np.full(n, -1)
    alive = np.ones(n, dtype=bool)
    lin = gamma[stratum] + treated[:, None] * TAU[None, :]
    for t in range(1, WEEKS + 1):
        ex = np.exp(BASE[None, :] + 0.3 * np.sin(t / 8) + lin)
        cum = np.cumsum(ex / (1 + ex.sum(axis=1, keepdims=True)), axis=1)
        which = (rng.random(n)[:, None] > cum).sum(axis=1)
        exits = alive & (which < 3)
        duration[exits], event[exits], kind[exits] = t, 1, which[exits]
        alive &= ~exits
    names = np.array(["work", "disability", "unemployment"], dtype=object)
    return pl.DataFrame(
        {
            "duration": duration,
            "event": event,
            "exit_type": [names[k] if k >= 0 else None for k in kind],
            "team": team.astype(np.int32),
            "municipality": stratum.astype(np.int16),
            "treated": treated,
        }
    )


def statsmodels_fit(df: pl.DataFrame, lut: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """MNLogit on the expanded person-weeks with the duration groups ``lut`` of dreamkit's
    fit (4-week intervals, degenerate ones merged)."""
    pp = expand_person_periods(df, exit_type="exit_type", keep=["team", "municipality", "treated"])
    grp = lut[pp["period"].to_numpy()]
    st = pp["municipality"].to_numpy()
    x = np.column_stack(
        [
            (grp[:, None] == np.unique(grp)[None, :]).astype(float),
            (st[:, None] == np.unique(st)[1:][None, :]).astype(float),
            pp["treated"].to_numpy(),
        ]
    )
    y = np.zeros(pp.height, dtype=np.int64)
    for j, c in enumerate(sorted(df["exit_type"].drop_nulls().unique())):
        y[pp[f"event_{c}"].to_numpy() == 1] = j + 1
    t0 = time.perf_counter()
    fit = sm.MNLogit(y, x).fit(
        method="newton", disp=0, maxiter=100, cov_type="cluster",
        cov_kwds={"groups": pp["team"].to_numpy()},
    )  # fmt: skip
    return time.perf_counter() - t0, np.asarray(fit.params).T.ravel(), np.asarray(fit.bse).T.ravel()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--persons", type=int, default=1_000_000)
    ap.add_argument("--baseline-persons", type=int, default=3000)
    args = ap.parse_args()
    model = CompetingRisksHazard(cov_type="CRV1")
    # the subsample has 10 strata (100 would leave strata without exits of a type)
    sub = simulate(args.baseline_persons, seed=1, n_strata=10)
    small = model.fit(sub)
    sm_time, sm_params, sm_se = statsmodels_fit(sub, small.grid.lut)
    np.testing.assert_allclose(small.fit.params, sm_params, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(np.sqrt(np.diag(small.vcov)), sm_se, rtol=1e-6)
    df = simulate(args.persons)
    t0 = time.perf_counter()
    res = model.fit(df)
    t_fit = time.perf_counter() - t0
    t0 = time.perf_counter()
    res.predict_cif()
    t_cif = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"persons {args.persons:,}, person-weeks {res.fit.n_trials:,}, cells {res.fit.n_rows:,}")
    print(f"parameters {res.fit.params.size}, Newton iterations {res.fit.iterations}")
    print(f"dreamkit fit {t_fit:.2f} s, predict_cif (2 arms x 3 exits x 81 weeks) {t_cif:.2f} s")
    print(f"peak RSS {rss:.0f} MB (data included)")
    scaled = sm_time * args.persons / args.baseline_persons
    print(
        f"statsmodels MNLogit on {args.baseline_persons:,} persons: {sm_time:.2f} s "
        f"(10 strata; equal to 1e-6); scaled linearly to {args.persons:,}: {scaled:.0f} s, "
        "a lower bound (its cost grows with the square of the number of columns, and the "
        "full design has 100 strata)"
    )


if __name__ == "__main__":
    main()
