"""W2: the ITT effect path (benchmarks spec, workload W2).

81 outcomes, stratum (municipality) fixed effects, 4 covariates, CRV1 standard errors
clustered by team, at N = 568 (43 clusters, 26 strata) and N = 100k / 1M (5,000 clusters,
100 strata). Implementations, all starting from the same polars table:

* dreamkit: :func:`dreamkit.estimate.linear.itt.effect_path` (one shared FWL design);
* **peer** (headline): ONE pyfixest multiple-estimation call
  ``feols("y_1+...+y_81 ~ treated + x1+x2+x3+x4 | municipality", vcov={"CRV1": "team"})``
  at full size, not scaled (``ssc(k_fixef="full")`` so that its SEs use dreamkit's K);
* **floor**: plain numpy FWL on one thread (stratum demeaning once, one solve for all 81
  columns, vectorised CRV1), no validation;
* secondary (labelled, N = 568 only): the older loops of 81 statsmodels OLS fits and of 81
  single-outcome pyfixest fits.

``--peer-max`` caps the N at which pyfixest runs (it needs minutes and several GB at 1M on
a shared 2-core machine); above it the peer row is omitted, never scaled. Before any time is
reported the script checks that dreamkit's estimates and SEs equal the floor's and each
baseline's to 1e-8 relative. Times are medians of ``--repeats`` runs (dreamkit, floor) and
one run of the peer at N >= 10k. BLAS runs on one thread (OPENBLAS_NUM_THREADS=1, set before
numpy loads) for every implementation. Peak memory: the largest numpy allocation total during
one call (tracemalloc), next to the input table's size.

    python benchmarks/w2_itt.py [--sizes 568 100000 1000000] [--repeats 5] [--peer-max 100000]
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy loads: one-thread BLAS

import argparse
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
import scipy.sparse
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


def pyfixest_multi(pdf: pd.DataFrame, outcomes: list[str]) -> np.ndarray:
    """ONE pyfixest multiple-estimation call over all outcomes (the peer at its best)."""
    fit = pf.feols(
        f"{' + '.join(outcomes)} ~ treated + {' + '.join(COVS)} | municipality",
        data=pdf,
        vcov={"CRV1": "team"},
        ssc=pf.ssc(k_fixef="full"),
    )
    by_y = {m._depvar: (m.coef()["treated"], m.se()["treated"]) for m in fit.to_list()}
    return np.array([by_y[y] for y in outcomes])


def numpy_floor(data: pl.DataFrame, outcomes: list[str]) -> np.ndarray:
    """Plain numpy FWL + vectorised CRV1 for all outcomes at once (no checks)."""
    y = data.select(outcomes).to_numpy().astype(np.float64)
    a = data.select(pl.col(["treated", *COVS]).cast(pl.Float64)).to_numpy()
    s = data["municipality"].to_numpy()
    g = data["team"].to_numpy()
    n = y.shape[0]
    s_codes = np.unique(s, return_inverse=True)[1]
    g_codes = np.unique(g, return_inverse=True)[1]
    n_s, n_g = int(s_codes.max()) + 1, int(g_codes.max()) + 1
    strata = scipy.sparse.csr_array((np.ones(n), (s_codes, np.arange(n))), shape=(n_s, n))
    counts = np.bincount(s_codes, minlength=n_s).astype(np.float64)[:, None]
    y -= (strata @ y / counts)[s_codes]
    a -= (strata @ a / counts)[s_codes]
    beta = np.linalg.solve(a.T @ a, a.T @ y)  # (5, W)
    x = a[:, 1:]
    d_t = a[:, 0] - x @ np.linalg.solve(x.T @ x, x.T @ a[:, 0])
    dd = d_t @ d_t
    y -= a @ beta  # residuals
    teams = scipy.sparse.csr_array((d_t, (g_codes, np.arange(n))), shape=(n_g, n))
    scores = teams @ y  # (G, W)
    k = 1 + n_s + len(COVS)
    c = n_g / (n_g - 1) * (n - 1) / (n - k)
    se = np.sqrt(c * (scores**2).sum(axis=0)) / dd
    return np.column_stack([beta[0], se])


def check(name: str, mine: np.ndarray, ref: np.ndarray) -> float:
    rel = np.abs(mine - ref) / np.abs(ref)
    worst = float(rel.max())
    if worst > RTOL:
        raise SystemExit(f"{name}: estimates/SEs differ from dreamkit by {worst:.2e} > {RTOL}")
    return worst


def _peak(fn: Callable[[], object]) -> float:
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def run(n: int, repeats: int, peer_max: int) -> list[dict[str, object]]:
    data = make_data(n)
    outcomes = [f"y_{w}" for w in range(1, W + 1)]
    t_dk, path = median_time(lambda: effect_path(data, "y_", COVS), repeats)
    peak = _peak(lambda: effect_path(data, "y_", COVS))
    mine = np.column_stack([path.estimates, path.std_errors])  # type: ignore[attr-defined]
    t_floor, floor = median_time(lambda: numpy_floor(data, outcomes), repeats)
    peak_floor = _peak(lambda: numpy_floor(data, outcomes))
    worst_floor = check("numpy floor", mine, np.asarray(floor))
    base = {
        "workload": "W2 ITT path (81 weeks, CRV1)",
        "N": n,
        "dreamkit_s": t_dk,
        "floor_s": t_floor,
        "dreamkit/floor": t_dk / t_floor,
        "dreamkit_peak_MB": peak,
        "floor_peak_MB": peak_floor,
        "input_MB": data.estimated_size() / 2**20,
    }
    rows = []
    pdf = data.to_pandas() if n <= peer_max or n < 10_000 else None
    if pdf is not None and n <= peer_max:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t_b, ref = median_time(lambda: pyfixest_multi(pdf, outcomes), 3 if n < 10_000 else 1)
        worst = check("pyfixest multiple estimation", mine, np.asarray(ref))
        rows.append(
            {
                **base,
                "baseline": "pyfixest, ONE multiple-estimation call (81 outcomes, full size)",
                "baseline_s": t_b,
                "ratio": t_b / t_dk,
                "max_rel_diff": f"{max(worst, worst_floor):.1e}",
            }
        )
    if pdf is not None and n < 10_000:  # older per-outcome loops: labelled secondary rows
        for name, loop in (
            ("secondary: statsmodels loop", statsmodels_loop),
            ("secondary: pyfixest loop", pyfixest_loop),
        ):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t_b, ref = median_time(lambda loop=loop: loop(pdf, outcomes), 3)
            worst = check(name, mine, np.asarray(ref))
            rows.append(
                {
                    **base,
                    "baseline": name + " (81 fits)",
                    "baseline_s": t_b,
                    "ratio": t_b / t_dk,
                    "max_rel_diff": f"{max(worst, worst_floor):.1e}",
                }
            )
    if not rows:
        rows.append(
            {
                **base,
                "baseline": f"(pyfixest not run above N = {peer_max:,})",
                "baseline_s": float("nan"),
                "ratio": float("nan"),
                "max_rel_diff": f"{worst_floor:.1e}",
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[568, 100_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--peer-max", type=int, default=1_000_000)
    args = parser.parse_args()
    print(
        f"machine: {platform.platform()}, {os.cpu_count()} cores, load average "
        f"{os.getloadavg()[0]:.1f}"
    )
    rows = []
    for n in args.sizes:
        rows += run(n, args.repeats if n < 10_000 else min(args.repeats, 3), args.peer_max)
    table = pl.DataFrame(rows)
    with pl.Config(
        tbl_rows=20, tbl_cols=20, tbl_width_chars=200, fmt_str_lengths=60, float_precision=3
    ):
        print(table)


if __name__ == "__main__":
    main()
