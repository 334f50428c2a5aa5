"""W3: discrete-time hazard (model (1)) on about 50 person-weeks per person.

W3a: 4-week duration dummies, 100 strata (fixed effects), treatment, CRV1 by 5,000 teams,
estimated by dreamkit on compressed cells straight from the person-level durations.
W3b: the same plus two continuous covariates (cells are person x interval).

Baselines in the same run: statsmodels GLM (Binomial, logit link, cluster covariance) and
pyfixest feglm (logit, fixed effects absorbed, CRV1) on the expanded person-week data of a
subsample they can fit (``--baseline-persons``), their time scaled linearly to N persons
(stated in the output). Equality is checked before any time is reported: dreamkit vs
statsmodels on the subsample (1e-6), compressed vs uncompressed dreamkit on the subsample
(1e-8), and at full size the fit from durations vs the pooled fit of the expanded table.

Every measurement runs in a fresh process; peak memory is that process's max RSS (data
included). Usage: ``python benchmarks/w3_hazard.py [--persons 1000000] [--repeats 3]``.
"""

from __future__ import annotations

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


def job(kind: str, path: str, covariates: tuple[str, ...], out: mp.Queue) -> None:
    """One measurement in a fresh process: returns (seconds, peak GB, params, ses)."""
    from dreamkit.estimate.duration.person_period import expand_person_periods

    # import what this job needs before the clock starts (later imports are cache hits)
    importlib.import_module(
        {"statsmodels": "statsmodels.api", "pyfixest": "pyfixest"}.get(
            kind, "dreamkit.estimate.duration.hazard"
        )
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
        f"{N_TEAMS} teams; baselines on {args.baseline_persons} persons "
        f"({n_pp_small} person-weeks), times scaled x{scale:.1f}"
    )
    rows = []
    for wid, cov in (("W3a", ()), ("W3b", ("x1", "x2"))):
        # equality checks on the subsample
        sm_ = run("statsmodels", str(small), cov)
        pf_ = run("pyfixest", str(small), cov) if not cov else None
        dk_small = run("dreamkit", str(small), cov)
        dk_unc = run("dreamkit_uncompressed", str(small), cov)
        np.testing.assert_allclose(dk_small["b"], sm_["b"], rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(dk_small["se"], sm_["se"], rtol=1e-6)
        np.testing.assert_allclose(dk_small["b"], dk_unc["b"], rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(dk_small["se"], dk_unc["se"], rtol=1e-8)
        n_fe = dk_small["b"].size - 1 - len(cov)
        if pf_ is not None:
            assert abs(pf_["b_treated"] - dk_small["b"][n_fe]) < 1e-6 * (1 + abs(pf_["b_treated"]))
        # full size
        fits = [run("dreamkit", str(big), cov) for _ in range(args.repeats)]
        t_dk = statistics.median(f["seconds"] for f in fits)
        peak = max(f["peak_gb"] for f in fits)
        check = run("dreamkit_expanded", str(big), cov)
        np.testing.assert_allclose(fits[0]["b"], check["b"], rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(fits[0]["se"], check["se"], rtol=1e-8)
        b_t = fits[0]["b"][n_fe]
        print(
            f"{wid}: checks passed; cells {fits[0]['cells']}, treated {b_t:.4f} "
            f"(SE {fits[0]['se'][n_fe]:.4f}); expanded path {check['seconds']:.1f} s, "
            f"{check['peak_gb']:.2f} GB; dreamkit runs {[round(f['seconds'], 2) for f in fits]}"
        )
        rows.append((wid, "statsmodels GLM (scaled)", t_dk, sm_["seconds"] * scale, peak))
        if pf_ is not None:
            rows.append((wid, "pyfixest feglm (scaled)", t_dk, pf_["seconds"] * scale, peak))
    print("\n| workload | size | dreamkit s | baseline | baseline s | ratio | peak GB |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for wid, base, t, tb, pk in rows:
        print(
            f"| {wid} | N={args.persons} ({n_pp / 1e6:.1f}M person-weeks) | {t:.2f} | {base} "
            f"| {tb:.1f} | {tb / t:.0f}x | {pk:.2f} |"
        )


if __name__ == "__main__":
    main()
