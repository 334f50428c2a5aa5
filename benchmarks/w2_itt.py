"""W2: the ITT effect path (benchmarks spec, workload W2).

81 outcomes, stratum (municipality) fixed effects, 4 covariates, CRV1 standard errors
clustered by team, at N = 568 (43 clusters, 26 strata) and N = 1,000,000 (5,000 clusters,
100 strata). Implementations, all on the same polars table:

* dreamkit: :func:`dreamkit.estimate.linear.itt.effect_path` (one shared FWL design for all weeks);
* statsmodels: a loop of OLS fits with stratum dummies and ``cov_type="cluster"``;
* pyfixest: a loop of ``feols("y ~ T + x | stratum", vcov={"CRV1": "team"},
  ssc=ssc(k_fixef="full"))`` fits.

The baselines run all 81 outcomes at N = 568; at N = 1M they run ``--baseline-outcomes``
outcomes and their time is scaled linearly to 81 (marked "scaled"). Before timing is reported
the script checks that dreamkit's estimates and SEs equal each baseline's to 1e-8 relative on
every outcome the baseline ran. Times are medians of ``--repeats`` runs (dreamkit) and of 3
runs (baselines at N = 568; 1 run at N = 1M). Peak memory: the largest numpy allocation total
during one dreamkit call (tracemalloc), next to the input table's size.

    python benchmarks/w2_itt.py [--sizes 568 1000000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
import tracemalloc
import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd
import polars as pl
import pyfixest as pf
import statsmodels.api as sm

from dreamkit.estimate.linear.itt import effect_path

W = 81
COVS = ["x1", "x2", "x3", "x4"]
RTOL = 1e-8


def make_data(n: int, seed: int = 0) -> pl.DataFrame:
    """Synthetic trial: teams nested in strata, 60/40 within teams, team shocks, W outcomes."""
    rng = np.random.default_rng(seed)
    n_clusters, n_strata = (43, 26) if n < 10_000 else (5_000, 100)
    team = np.sort(rng.integers(0, n_clusters, n))
    stratum = team % n_strata
    treated = (rng.uniform(size=n) < 0.6).astype(np.int8)
    x = rng.normal(size=(n, 4))
    cols: dict[str, object] = {
        "municipality": stratum.astype(np.int32),
        "team": team.astype(np.int32),
        "treated": treated,
        **{c: x[:, j] for j, c in enumerate(COVS)},
    }
    shock = rng.normal(size=n_clusters)[team]
    base = 0.3 + 0.1 * x[:, 0] + 0.2 * shock
    for w in range(1, W + 1):
        cols[f"y_{w}"] = (base + 0.02 * treated + rng.normal(size=n) > 0.5).astype(np.float64)
    return pl.DataFrame(cols)


def median_time(fn: Callable[[], object], repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def statsmodels_loop(pdf: pd.DataFrame, outcomes: list[str]) -> np.ndarray:
    dummies = pd.get_dummies(pdf["municipality"], drop_first=True, dtype=float).to_numpy()
    z = np.column_stack(
        [np.ones(len(pdf)), pdf["treated"].to_numpy(float), dummies, pdf[COVS].to_numpy()]
    )
    out = []
    for y in outcomes:
        r = sm.OLS(pdf[y].to_numpy(), z).fit(
            cov_type="cluster", cov_kwds={"groups": pdf["team"].to_numpy()}
        )
        out.append((r.params[1], r.bse[1]))
    return np.array(out)


def pyfixest_loop(pdf: pd.DataFrame, outcomes: list[str]) -> np.ndarray:
    out = []
    for y in outcomes:
        fit = pf.feols(
            f"{y} ~ treated + {' + '.join(COVS)} | municipality",
            data=pdf,
            vcov={"CRV1": "team"},
            ssc=pf.ssc(k_fixef="full"),
        )
        out.append((fit.coef()["treated"], fit.se()["treated"]))
    return np.array(out)


def check(name: str, mine: np.ndarray, ref: np.ndarray) -> float:
    rel = np.abs(mine - ref) / np.abs(ref)
    worst = float(rel.max())
    if worst > RTOL:
        raise SystemExit(f"{name}: estimates/SEs differ from dreamkit by {worst:.2e} > {RTOL}")
    return worst


def run(n: int, repeats: int, baseline_outcomes: int) -> list[dict[str, object]]:
    data = make_data(n)
    outcomes = [f"y_{w}" for w in range(1, W + 1)]
    t_dk, path = median_time(lambda: effect_path(data, "y_", COVS), repeats)
    tracemalloc.start()
    effect_path(data, "y_", COVS)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    mine = np.column_stack([path.estimates, path.std_errors])  # type: ignore[attr-defined]
    pdf = data.to_pandas()
    subset = outcomes if n < 10_000 else outcomes[:baseline_outcomes]
    rows = []
    for name, loop in (("statsmodels loop", statsmodels_loop), ("pyfixest loop", pyfixest_loop)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t_b, ref = median_time(lambda loop=loop: loop(pdf, subset), 3 if n < 10_000 else 1)
        worst = check(name, mine[: len(subset)], np.asarray(ref))
        scaled = len(subset) < W
        t_b81 = t_b * W / len(subset)
        rows.append(
            {
                "workload": "W2 ITT path (81 weeks, CRV1)",
                "N": n,
                "baseline": name + (f" ({len(subset)} outcomes, scaled)" if scaled else ""),
                "dreamkit_s": t_dk,
                "baseline_s": t_b81,
                "ratio": t_b81 / t_dk,
                "max_rel_diff": f"{worst:.1e}",
                "dreamkit_peak_MB": peak / 2**20,
                "input_MB": data.estimated_size() / 2**20,
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[568, 1_000_000])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--baseline-outcomes", type=int, default=2)
    args = parser.parse_args()
    print(f"machine: {platform.platform()}, {os.cpu_count()} cores")
    rows = []
    for n in args.sizes:
        rows += run(n, args.repeats if n < 10_000 else min(args.repeats, 3), args.baseline_outcomes)
    table = pl.DataFrame(rows)
    with pl.Config(
        tbl_rows=20, tbl_cols=20, tbl_width_chars=200, fmt_str_lengths=60, float_precision=3
    ):
        print(table)


if __name__ == "__main__":
    main()
