"""Event study on the register panel: 1M persons x 260 weeks, person and week effects, 40 bins.

    python benchmarks/w_event_study.py --persons 1000000 --weeks 260 --baseline-persons 5000

1. Builds a synthetic :class:`~dreamkit.register.Register` (dense uint8 states: ordinary
   employment or no transfer) with person levels, week effects, staggered programme starts
   (60% of persons, weeks 30..229; the rest never start) and an effect ramping up after the
   start; municipalities (98) as clusters.
2. Times :func:`dreamkit.estimate.panel.event_study.event_study_register` for ``employment``
   with leads 20 and lags 20 (40 estimated bins: -20..-2, 0..20), with CRV1 by municipality,
   CRV1 by person and iid standard errors, and reports the process's peak RSS
   (``ru_maxrss``, includes the register itself).
3. Baseline on a subsample of ``--baseline-persons`` persons: pyfixest ``feols`` (``i(rel,
   ref=-1) | id + week``) and linearmodels ``PanelOLS`` on the long frame, checking that the
   estimates agree to 1e-8 and reporting seconds per million person-weeks for each.

Prints one markdown table.
"""

from __future__ import annotations

import argparse
import resource
import time
import warnings

import numpy as np
import polars as pl

from dreamkit.estimate.panel.event_study import event_study_register
from dreamkit.register import CodeMap
from dreamkit.register.register import Register


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build(persons: int, weeks: int, seed: int) -> tuple[Register, pl.DataFrame]:
    cm = CodeMap.default()
    rng = np.random.default_rng(seed)
    level = rng.uniform(0.2, 0.7, persons).astype(np.float32)
    week_fx = (0.05 * np.sin(np.arange(weeks) / 8.0)).astype(np.float32)
    start = np.where(rng.random(persons) < 0.6, rng.integers(30, 230, persons), -1)
    states = np.empty((persons, weeks), dtype=np.uint8)
    emp, not_emp = cm.employed_id, cm.not_employed_id
    t = np.arange(weeks)
    for a in range(0, persons, 50_000):
        b = min(a + 50_000, persons)
        rel = t[None, :] - start[a:b, None]
        eff = np.where((start[a:b, None] >= 0) & (rel >= 0), np.minimum(rel, 20) * 0.005, 0.0)
        p = level[a:b, None] + week_fx[None, :] + eff.astype(np.float32)
        states[a:b] = np.where(rng.random((b - a, weeks), dtype=np.float32) < p, emp, not_emp)
    first = 5000
    reg = Register(
        states=states,
        person_ids=pl.Series("person_id", np.arange(persons, dtype=np.int64)),
        first_week=first,
        codemap=cm,
    )
    starts = pl.DataFrame(
        {
            "person_id": np.arange(persons, dtype=np.int64),
            "start_week": pl.Series(start + first).set(pl.Series(start < 0), None),
            "municipality": rng.integers(0, 98, persons),
        }
    )
    return reg, starts


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--persons", type=int, default=1_000_000)
    ap.add_argument("--weeks", type=int, default=260)
    ap.add_argument("--leads", type=int, default=20)
    ap.add_argument("--lags", type=int, default=20)
    ap.add_argument("--baseline-persons", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    t0 = time.perf_counter()
    reg, starts = build(args.persons, args.weeks, args.seed)
    t_build = time.perf_counter() - t0
    cells = args.persons * args.weeks
    rows = []
    for label, vcov in [
        ("CRV1 by municipality", {"CRV1": "municipality"}),
        ("CRV1 by person", None),
        ("iid", "iid"),
    ]:
        t0 = time.perf_counter()
        res = event_study_register(
            reg, "employment", starts, leads=args.leads, lags=args.lags, vcov=vcov
        )
        t_fit = time.perf_counter() - t0
        rows.append(
            (
                f"dreamkit event_study_register, {label}",
                f"{args.persons:,} x {args.weeks}",
                t_fit,
                t_fit / cells * 1e6,
                f"{_peak_mb() / 1024:.2f} GB (process peak so far)",
            )
        )
    # baseline on a subsample
    nb = args.baseline_persons
    sub_reg = Register(
        states=reg.states[:nb].copy(),
        person_ids=reg.person_ids[:nb],
        first_week=reg.first_week,
        codemap=reg.codemap,
    )
    sub_starts = starts.head(nb)
    mine = event_study_register(
        sub_reg,
        "employment",
        sub_starts,
        leads=args.leads,
        lags=args.lags,
        vcov={"CRV1": "municipality"},
    )
    del reg
    mask = sub_reg.codemap.mask("employment")
    long = pl.DataFrame(
        {
            "id": np.repeat(np.arange(nb), args.weeks),
            "week": np.tile(np.arange(args.weeks) + sub_reg.first_week, nb),
            "y": mask[sub_reg.states].ravel().astype(np.float64),
            "start": sub_starts["start_week"].gather(np.repeat(np.arange(nb), args.weeks)),
            "muni": sub_starts["municipality"].gather(np.repeat(np.arange(nb), args.weeks)),
        }
    )
    st = long["start"].fill_null(-(10**6)).to_numpy()
    rel = np.where(st < 0, -1, np.clip(long["week"].to_numpy() - st, -args.leads, args.lags))
    pdf = long.with_columns(pl.Series("rel", rel)).to_pandas()
    import pyfixest as pf
    from linearmodels import PanelOLS

    pf.feols("y ~ i(rel, ref=-1) | id + week", data=pdf.head(5000))  # JIT warm-up
    t0 = time.perf_counter()
    fit = pf.feols("y ~ i(rel, ref=-1) | id + week", data=pdf, vcov={"CRV1": "muni"})
    t_pf = time.perf_counter() - t0
    diff_pf = float(np.max(np.abs(fit.coef().to_numpy() - mine.estimate)))
    import pandas as pd

    x = pd.get_dummies(pdf["rel"], prefix="rel", dtype=float).drop(columns="rel_-1")
    idx = pd.MultiIndex.from_arrays([pdf["id"], pdf["week"]])
    x.index = idx
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        lm = PanelOLS(
            pd.Series(pdf["y"].to_numpy(), index=idx), x, entity_effects=True, time_effects=True
        ).fit(cov_type="clustered", clusters=pd.Series(pdf["muni"].to_numpy(), index=idx))
        t_lm = time.perf_counter() - t0
    diff_lm = float(np.max(np.abs(lm.params.to_numpy() - mine.estimate)))
    cb = nb * args.weeks
    rows.append(("pyfixest feols (baseline)", f"{nb:,} x {args.weeks}", t_pf, t_pf / cb * 1e6, ""))
    rows.append(
        ("linearmodels PanelOLS (baseline)", f"{nb:,} x {args.weeks}", t_lm, t_lm / cb * 1e6, "")
    )
    print(f"build register: {t_build:.1f} s; max |b - pyfixest| = {diff_pf:.1e}, ", end="")
    print(f"max |b - linearmodels| = {diff_lm:.1e} on the subsample")
    print(f"n_bins = {res.estimate.size}, beta[0], beta[-1] = {res.estimate[[0, -1]]}")
    print("| workload | persons x weeks | seconds | s per 1M person-weeks | peak memory |")
    print("|---|---|---|---|---|")
    for name, size, sec, per, mem in rows:
        print(f"| {name} | {size} | {sec:.2f} | {per:.3f} | {mem} |")
    assert diff_pf < 1e-8 and diff_lm < 1e-8


if __name__ == "__main__":
    main()
