"""W3: discrete-time hazard (model (1)) on about 50 person-weeks per person.

W3a: 4-week duration dummies, 100 strata (fixed effects), treatment, CRV1 by 5,000 teams,
estimated by dreamkit on compressed cells straight from the person-level durations.
W3b: the same plus two continuous covariates (cells are person x interval).

W3a baselines in the same run, at full size (the headline, as the benchmarks spec asks: the
peer at its best, on grouped data): **statsmodels** ``GLM(Binomial)`` on grouped cells
(events and weeks at risk per team x arm x 4-week interval, built with numpy from the same
durations; interval and stratum dummies, treatment; ``cov_type="cluster"`` by team), and a
**numpy cells floor** (the same cells, dense Newton with the observed Hessian, vectorised
CRV1). Both are timed from the durations table, cell building included. The CRV1
small-sample factor uses N = person-weeks in dreamkit and in the floor; statsmodels uses
N = cells, so its SEs are rescaled by sqrt(((N_pw - 1)/(N_pw - K)) / ((N_c - 1)/(N_c - K)))
before the comparison (estimates 1e-7, SEs 1e-6 against statsmodels; 1e-8 against the floor).

Secondary rows (labelled "secondary, scaled"): statsmodels GLM and pyfixest feglm on the
expanded person-week data of a subsample they can fit (``--baseline-persons``), their time
scaled linearly to N persons; and W3b (two continuous covariates: no compression possible).
Equality is checked before any time is reported: dreamkit vs statsmodels on the subsample
(1e-6), compressed vs uncompressed dreamkit on the subsample (1e-8), and at full size the fit
from durations vs the pooled fit of the expanded table.

Every measurement runs in a fresh process with one BLAS thread (OPENBLAS_NUM_THREADS=1 unless
set); peak memory is that process's max RSS (data
included). Usage: ``python benchmarks/w3_hazard.py [--persons 1000000] [--repeats 3]
[--workloads W3a W3b] [--no-secondary]``.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy loads; inherited by jobs

import argparse
import importlib
import multiprocessing as mp
import resource
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

N_STRATA, N_TEAMS, WEEKS = 100, 5000, 81


def simulate(n: int, seed: int = 0) -> pl.DataFrame:
    """Logit hazard: alpha_t + gamma_k + tau T + 0.2 x1 - 0.1 x2, censored at week 81."""
    rng = np.random.default_rng(seed)
    team = rng.integers(0, N_TEAMS, n)
    stratum = team % N_STRATA
    treated = (rng.random(n) < 0.6).astype(np.int8)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    gamma = rng.normal(scale=0.3, size=N_STRATA)
    alpha = -4.6 + 0.3 * np.sin(np.arange(1, WEEKS + 1) / 8)
    duration = np.full(n, WEEKS, dtype=np.int32)
    event = np.zeros(n, dtype=np.int8)
    alive = np.ones(n, dtype=bool)
    lin = gamma[stratum] - 0.17 * treated + 0.2 * x1 - 0.1 * x2
    for t in range(1, WEEKS + 1):
        exits = alive & (rng.random(n) < 1 / (1 + np.exp(-(alpha[t - 1] + lin))))
        duration[exits] = t
        event[exits] = 1
        alive &= ~exits
    return pl.DataFrame(
        {
            "duration": duration,
            "event": event,
            "team": team.astype(np.int32),
            "municipality": stratum.astype(np.int16),
            "treated": treated,
            "x1": x1,
            "x2": x2,
        }
    )


def _model(covariates: tuple[str, ...]):
    from dreamkit.estimate.duration.hazard import DiscreteTimeHazard

    return DiscreteTimeHazard(link="logit", covariates=covariates)


def _dense(pp: pl.DataFrame, covariates: tuple[str, ...]) -> np.ndarray:
    interval = (pp["period"].to_numpy() - 1) // 4
    strata = pp["municipality"].to_numpy()
    cols = [
        (interval[:, None] == np.unique(interval)[None, :]).astype(float),
        (strata[:, None] == np.unique(strata)[None, 1:]).astype(float),
        pp["treated"].to_numpy().astype(float)[:, None],
    ]
    cols += [pp[c].to_numpy()[:, None] for c in covariates]
    return np.hstack(cols)


INTERVAL = 4


def team_arm_cells(df: pl.DataFrame) -> dict[str, np.ndarray]:
    """Events and weeks at risk per team x arm x interval, with numpy (no person-weeks)."""
    d = df["duration"].to_numpy().astype(np.int64)
    e = df["event"].to_numpy().astype(np.float64)
    team = df["team"].to_numpy().astype(np.int64)
    arm = df["treated"].to_numpy().astype(np.int64)
    stratum = df["municipality"].to_numpy().astype(np.int64)
    n_iv = (WEEKS + INTERVAL - 1) // INTERVAL
    key = team * 2 + arm
    n_key = int(key.max()) + 1
    by_d = np.bincount(key * (WEEKS + 1) + d, minlength=n_key * (WEEKS + 1)).reshape(n_key, -1)
    weeks = np.arange(WEEKS + 1)[:, None]
    lo = INTERVAL * np.arange(n_iv)[None, :]
    weight = np.clip(weeks - lo, 0, INTERVAL).astype(np.float64)  # weeks of d in interval j
    exposure = by_d.astype(np.float64) @ weight  # (keys, intervals)
    exits = np.bincount(key * n_iv + (d - 1) // INTERVAL, weights=e, minlength=n_key * n_iv)
    flat = np.flatnonzero(exposure.ravel() > 0)
    k, j = np.divmod(flat, n_iv)
    key_stratum = np.zeros(n_key, dtype=np.int64)
    key_stratum[key] = stratum
    return {
        "events": exits[flat],
        "trials": exposure.ravel()[flat],
        "interval": j,
        "stratum": key_stratum[k],
        "treated": (k % 2).astype(np.float64),
        "team": k // 2,
    }


def cells_design(c: dict[str, np.ndarray]) -> np.ndarray:
    """Dense cells design: interval dummies, stratum dummies (first dropped), treatment."""
    iv = c["interval"]
    st = np.unique(c["stratum"], return_inverse=True)[1]
    x = np.zeros((iv.size, int(iv.max()) + 1 + int(st.max()) + 1))
    x[np.arange(iv.size), iv] = 1.0
    x[np.arange(iv.size), int(iv.max()) + 1 + st] = 1.0
    x = np.delete(x, int(iv.max()) + 1, axis=1)  # reference stratum
    return np.column_stack([x, c["treated"]])


def numpy_cells_fit(c: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, int]:
    """The floor: dense Newton on the cells (logit), CRV1 by team with N = person-weeks."""
    x = cells_design(c)
    y, m = c["events"], c["trials"]
    n_iv = int(c["interval"].max()) + 1
    rate = np.bincount(c["interval"], weights=y) / np.bincount(c["interval"], weights=m)
    beta = np.zeros(x.shape[1])
    beta[:n_iv] = np.log(rate / (1 - rate))
    iterations = 0
    for _ in range(50):
        iterations += 1
        p = 1 / (1 + np.exp(-(x @ beta)))
        h = x.T @ (x * (m * p * (1 - p))[:, None])
        step = np.linalg.solve(h, x.T @ (y - m * p))
        beta += step
        if np.max(np.abs(step)) < 1e-10 * (1 + np.max(np.abs(beta))):
            break
    else:
        raise SystemExit("numpy cells floor did not converge")
    p = 1 / (1 + np.exp(-(x @ beta)))
    h_inv = np.linalg.inv(x.T @ (x * (m * p * (1 - p))[:, None]))
    team = np.unique(c["team"], return_inverse=True)[1]  # teams present
    n_g = int(team.max()) + 1
    scores = np.zeros((n_g, x.shape[1]))
    np.add.at(scores, team, x * (y - m * p)[:, None])
    n_pw, k = m.sum(), x.shape[1]
    corr = n_g / (n_g - 1) * (n_pw - 1) / (n_pw - k)
    cov = corr * h_inv @ (scores.T @ scores) @ h_inv
    return beta, np.sqrt(np.diag(cov)), iterations


def job(kind: str, path: str, covariates: tuple[str, ...], out: mp.Queue) -> None:
    """One measurement in a fresh process: returns (seconds, peak GB, params, ses)."""
    from dreamkit.estimate.duration.person_period import expand_person_periods

    # import what this job needs before the clock starts (later imports are cache hits)
    importlib.import_module(
        {
            "statsmodels": "statsmodels.api",
            "statsmodels_cells": "statsmodels.api",
            "pyfixest": "pyfixest",
            "numpy_cells": "numpy",
        }.get(kind, "dreamkit.estimate.duration.hazard")
    )
    df = pl.read_parquet(path)
    _model(covariates)
    res: dict = {}
    t0 = time.perf_counter()
    if kind == "dreamkit":
        fit = _model(covariates).fit(df)
        res = {
            "b": fit.glm.params,
            "se": fit.glm.std_errors,
            "n_pp": fit.n_person_periods,
            "cells": fit.glm.n_rows,
        }
    elif kind == "dreamkit_expanded":
        fit = _model(covariates).fit_person_periods(expand_person_periods(df), compress=True)
        res = {"b": fit.glm.params, "se": fit.glm.std_errors, "cells": fit.glm.n_rows}
    elif kind == "dreamkit_uncompressed":
        fit = _model(covariates).fit_person_periods(expand_person_periods(df), compress=False)
        res = {"b": fit.glm.params, "se": fit.glm.std_errors}
    elif kind == "statsmodels_cells":
        import statsmodels.api as sm

        c = team_arm_cells(df)
        x = cells_design(c)
        r = sm.GLM(
            np.column_stack([c["events"], c["trials"] - c["events"]]),
            x,
            family=sm.families.Binomial(),
        ).fit(cov_type="cluster", cov_kwds={"groups": c["team"]}, tol=1e-12)
        n_c, n_pw, k = x.shape[0], c["trials"].sum(), x.shape[1]
        rescale = np.sqrt(((n_pw - 1) / (n_pw - k)) / ((n_c - 1) / (n_c - k)))
        res = {"b": np.asarray(r.params), "se": np.asarray(r.bse) * rescale, "cells": n_c}
    elif kind == "numpy_cells":
        c = team_arm_cells(df)
        b, se, iterations = numpy_cells_fit(c)
        res = {"b": b, "se": se, "cells": c["events"].size, "iterations": iterations}
    elif kind == "statsmodels":
        pp = expand_person_periods(df)
        import statsmodels.api as sm

        r = sm.GLM(
            pp["event"].to_numpy().astype(float),
            _dense(pp, covariates),
            family=sm.families.Binomial(),
        ).fit(cov_type="cluster", cov_kwds={"groups": pp["team"].to_numpy()}, tol=1e-12)
        res = {"b": np.asarray(r.params), "se": np.asarray(r.bse)}
    elif kind == "pyfixest":
        pp = expand_person_periods(df).with_columns(((pl.col("period") - 1) // 4).alias("iv"))
        rhs = " + ".join(("treated", *covariates))
        import pyfixest as pf

        r = pf.feglm(
            f"event ~ {rhs} | iv + municipality",
            data=pp.to_pandas(),
            family="logit",
            vcov={"CRV1": "team"},
        )
        res = {"b_treated": float(r.coef()["treated"])}
    res["seconds"] = time.perf_counter() - t0
    res["peak_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    out.put(res)


def run(kind: str, path: str, covariates: tuple[str, ...]) -> dict:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=job, args=(kind, path, covariates, q))
    p.start()
    res = q.get()
    p.join()
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--persons", type=int, default=1_000_000)
    ap.add_argument("--baseline-persons", type=int, default=5_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workloads", nargs="+", default=["W3a", "W3b"])
    ap.add_argument("--no-secondary", action="store_true", help="skip the scaled baselines")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="w3_"))
    big, small = tmp / "big.parquet", tmp / "small.parquet"
    data = simulate(args.persons)
    data.write_parquet(big)
    data.head(args.baseline_persons).write_parquet(small)
    n_pp = int(data["duration"].sum())
    n_pp_small = int(data.head(args.baseline_persons)["duration"].sum())
    scale = n_pp / n_pp_small
    print(
        f"data: {args.persons} persons, {n_pp} person-weeks, {N_STRATA} strata, "
        f"{N_TEAMS} teams; secondary baselines on {args.baseline_persons} persons "
        f"({n_pp_small} person-weeks), times scaled x{scale:.1f}; load average "
        f"{os.getloadavg()[0]:.1f}"
    )
    rows = []
    for wid, cov in (("W3a", ()), ("W3b", ("x1", "x2"))):
        if wid not in args.workloads:
            continue
        fits = [run("dreamkit", str(big), cov) for _ in range(args.repeats)]
        t_dk = statistics.median(f["seconds"] for f in fits)
        peak = max(f["peak_gb"] for f in fits)
        n_fe = fits[0]["b"].size - 1 - len(cov)
        if wid == "W3a":  # the headline: peers at full size on grouped cells
            sm_c = run("statsmodels_cells", str(big), cov)
            np_c = run("numpy_cells", str(big), cov)
            np.testing.assert_allclose(fits[0]["b"], sm_c["b"], rtol=1e-7, atol=1e-9)
            np.testing.assert_allclose(fits[0]["se"], sm_c["se"], rtol=1e-6)
            np.testing.assert_allclose(fits[0]["b"], np_c["b"], rtol=1e-8, atol=1e-10)
            np.testing.assert_allclose(fits[0]["se"], np_c["se"], rtol=1e-8)
            print(
                f"W3a full size: dreamkit {fits[0]['cells']} cells (team x arm x interval "
                f"after pooling persons: statsmodels/floor {sm_c['cells']} cells); floor "
                f"{np_c['iterations']} Newton steps; estimates and SEs equal"
            )
            rows.append(
                (
                    wid,
                    "statsmodels GLM Binomial on team x arm x interval cells (full size)",
                    t_dk,
                    sm_c["seconds"],
                    peak,
                    sm_c["peak_gb"],
                )
            )
            rows.append(
                (wid, "numpy cells floor (full size)", t_dk, np_c["seconds"], peak, np_c["peak_gb"])
            )
        if args.no_secondary:
            continue
        # equality checks on the subsample
        sm_ = run("statsmodels", str(small), cov)
        pf_ = run("pyfixest", str(small), cov) if not cov else None
        dk_small = run("dreamkit", str(small), cov)
        dk_unc = run("dreamkit_uncompressed", str(small), cov)
        np.testing.assert_allclose(dk_small["b"], sm_["b"], rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(dk_small["se"], sm_["se"], rtol=1e-6)
        np.testing.assert_allclose(dk_small["b"], dk_unc["b"], rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(dk_small["se"], dk_unc["se"], rtol=1e-8)
        if pf_ is not None:
            assert abs(pf_["b_treated"] - dk_small["b"][n_fe]) < 1e-6 * (1 + abs(pf_["b_treated"]))
        check = run("dreamkit_expanded", str(big), cov)
        np.testing.assert_allclose(fits[0]["b"], check["b"], rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(fits[0]["se"], check["se"], rtol=1e-8)
        b_t = fits[0]["b"][n_fe]
        print(
            f"{wid}: checks passed; cells {fits[0]['cells']}, treated {b_t:.4f} "
            f"(SE {fits[0]['se'][n_fe]:.4f}); expanded path {check['seconds']:.1f} s, "
            f"{check['peak_gb']:.2f} GB; dreamkit runs {[round(f['seconds'], 2) for f in fits]}"
        )
        rows.append(
            (
                wid,
                "secondary: statsmodels GLM on person-weeks (scaled)",
                t_dk,
                sm_["seconds"] * scale,
                peak,
                float("nan"),
            )
        )
        if pf_ is not None:
            rows.append(
                (
                    wid,
                    "secondary: pyfixest feglm on person-weeks (scaled)",
                    t_dk,
                    pf_["seconds"] * scale,
                    peak,
                    float("nan"),
                )
            )
    print(
        "\n| workload | size | dreamkit s | baseline | baseline s | ratio | dreamkit peak GB "
        "| baseline peak GB |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for wid, base, t, tb, pk, pkb in rows:
        print(
            f"| {wid} | N={args.persons} ({n_pp / 1e6:.1f}M person-weeks) | {t:.2f} | {base} "
            f"| {tb:.2f} | {tb / t:.1f}x | {pk:.2f} | {pkb:.2f} |"
        )


if __name__ == "__main__":
    main()
