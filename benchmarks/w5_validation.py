"""W5: Monte Carlo validation of the estimators (benchmarks spec, workload W5).

Simulates and estimates the reference trial R times (default R = 1,000, goal <= 5 min on 2
cores) with :func:`dreamkit.validate.validate`, then the null design and the 12-cluster
designs (with and without effects), and writes

* ``docs/validation.md`` -- designs, estimands, the tables (bias, RMSE, mean SE, Monte Carlo
  SD, coverage +/- MC SE, rejection rates), the binomial checks and the findings, with the
  date and the machine;
* ``benchmarks/results/W5.md`` -- the timing table.

Before reporting times the script checks every coverage against its exact binomial band
(Bonferroni over the rows of a design, family level 1%; lower bound only for CIs of sample
effects, which are conservative for the SATE; both sides for the hazard's tau) and every
rejection rate under a null design against the upper end of its band. A design with a failed
check is run again with an independent seed and 1.5 x R; the failure is reported with the
confirmation run's value, and the exit code is 1 only if it fails again (then it is a finding
about an estimator, not about the run). CRV1 and CRV3 with 12 clusters are reported, not
checked (few-cluster CRV1 may over-reject; it is the comparison, not a claim).

    python benchmarks/w5_validation.py [--replications 1000] [--designs reference null ...]
        [--seed 2024] [--jobs 2] [--no-write]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import resource
import sys
from pathlib import Path

import numpy as np
import polars as pl

from dreamkit.validate import SCENARIOS, Validation, binomial_band, markdown_table, validate
from dreamkit.validate.replicate import CR2_LABEL

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "validation.md"
RESULTS = ROOT / "benchmarks" / "results" / "W5.md"
ALPHA = 0.01
GOAL_SECONDS = 300.0
UNCHECKED = ("ITT, CRV1", "ITT, CRV3")  # with 12 clusters: reported, not checked


def machine() -> str:
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, {mem:.0f} GB RAM, "
        f"Python {platform.python_version()}"
    )


def checks(run: Validation) -> pl.DataFrame:
    """One row per checked (estimator, estimand): the statistic, its band and the verdict."""
    null = run.scenario.effects.is_null
    few = run.scenario.few_cluster_tools
    s = run.summary
    if few:
        s = s.filter(~pl.col("estimator").is_in(UNCHECKED))
    rows = []
    cov = s.filter(pl.col("n_coverage") > 0)
    for r in cov.iter_rows(named=True):
        lo, hi = binomial_band(0.95, r["n_coverage"], ALPHA / max(1, cov.height))
        hazard = r["estimator"].startswith("hazard")
        ok = r["coverage"] >= lo and (not hazard or r["coverage"] <= hi)
        rows.append((r["estimator"], r["estimand"], "coverage", r["coverage"], lo,
                     hi if hazard else 1.0, ok))  # fmt: skip
    if null:
        rej = s.filter(pl.col("n_rejection") > 0)
        for r in rej.iter_rows(named=True):
            _, hi = binomial_band(0.05, r["n_rejection"], ALPHA / max(1, rej.height))
            rows.append((r["estimator"], r["estimand"], "size", r["rejection_rate"], 0.0, hi,
                         r["rejection_rate"] <= hi))  # fmt: skip
    return pl.DataFrame(
        rows,
        schema=["estimator", "estimand", "check", "value", "low", "high", "ok"],
        orient="row",
    )


def _rate(run: Validation, estimator: str, estimand: str, column: str) -> float:
    row = run.summary.filter((pl.col("estimator") == estimator) & (pl.col("estimand") == estimand))
    return float(row[column][0]) if row.height else float("nan")


def _span(values: pl.Series, digits: int) -> str:
    """'min-max' of a column, formatted."""
    return f"{_stat(values, 'min', digits)}-{_stat(values, 'max', digits)}"


def _stat(values: pl.Series, how: str, digits: int) -> str:
    a = values.to_numpy().astype(np.float64)
    x = a.min() if how == "min" else a.max() if how == "max" else a.mean()
    return f"{float(x):.{digits}f}"


def _unequal_finding(run: Validation, label: str) -> str:
    """Sizes of the five few-cluster tools in an unequal-teams null design, from this run."""
    rows = {
        name: run.summary.filter(pl.col("estimator") == est)
        for name, est in (
            ("CRV1", "ITT, CRV1"),
            ("CRV3", "ITT, CRV3"),
            ("CR2", CR2_LABEL),
            ("WCR", "ITT, wild cluster bootstrap (WCR, Webb)"),
            ("RI", "ITT, randomisation inference (studentised)"),
        )
    }
    _, hi = binomial_band(0.05, run.n_replications, ALPHA)

    def rates(name: str) -> str:
        low, high = (
            _stat(rows[name]["rejection_rate"], "min", 3),
            _stat(rows[name]["rejection_rate"], "max", 3),
        )
        return low if low == high else f"{low}-{high}"

    def above(name: str) -> bool:
        return bool((rows[name]["rejection_rate"] > hi).any())

    ratio = (rows["CRV1"]["mean_se"] / rows["CRV1"]["mc_sd"]).to_numpy()
    wcr_max = float(rows["WCR"]["rejection_rate"].max())  # type: ignore[arg-type]
    sizes = ", ".join(f"{k} {rates(k)}" for k in rows)
    verdicts = [
        f"CRV1's mean SE is {ratio.min():.2f}-{ratio.max():.2f} times the Monte Carlo SD of "
        "the estimates"
        + (
            ": a few large teams dominate its variance estimate and CRV1 with t(G-1) intervals "
            "over-rejects, the textbook few-cluster failure."
            if above("CRV1")
            else "; CRV1 stays within the band in this run."
        ),
        "CRV3 (the cluster jackknife) "
        + ("over-rejects mildly." if above("CRV3") else "stays within the band."),
        "CR2 with Bell-McCaffrey df "
        + (
            "over-rejects."
            if above("CR2")
            else "stays within the band"
            + (
                ", conservatively (below 5%)."
                if float(rows["CR2"]["rejection_rate"].max()) < 0.05  # type: ignore[arg-type]
                else "."
            )
        ),
        "Randomisation inference "
        + (
            "stays at its nominal size (it is exact by construction)."
            if not above("RI")
            else "exceeds the band: a finding to investigate."
        ),
        "The restricted wild cluster bootstrap "
        + (
            "exceeds the band: a finding to investigate."
            if above("WCR")
            else "never rejects: it is very conservative when one team dominates."
            if wcr_max < 0.01
            else "keeps its size."
        ),
    ]
    return (
        f"- **{label}.** Rejection rates at 5% over the checked weeks and the path mean: "
        f"{sizes} (binomial band's upper end {hi:.3f} at R = {run.n_replications}). "
        + " ".join(verdicts)
        + " With few teams of unequal size, use randomisation inference."
    )


def findings(runs: dict[str, Validation], failed: list[str]) -> str:
    """Findings, with the numbers taken from this run."""
    out = []
    if "reference" in runs:
        ref = runs["reference"].summary
        itt = ref.filter(pl.col("estimator") == "ITT, CRV1")
        ratio = (itt["mean_se"] / itt["mc_sd"]).to_numpy()
        if ratio.max() > 1.05:
            se_note = "team-clustered SEs are conservative here"
        elif ratio.min() < 0.95:
            se_note = "some SEs are too small: a finding to investigate"
        else:
            se_note = "the CRV1 SE matches the sampling SD of the estimates"
        out.append(
            f"- **ITT paths (CRV1, 43 teams).** Bias is negligible (largest |bias| "
            f"{_stat(itt['bias'].abs(), 'max', 4)} against MC SDs of "
            f"{_span(itt['mc_sd'], 3)}); coverage of the SATE "
            f"{_span(itt['coverage'], 3)}. Mean SE / MC SD is "
            f"{ratio.min():.2f}-{ratio.max():.2f}: {se_note}. Intervals for the population "
            "ATE are conservative for the sample ATE the simulator reports, so coverage "
            "slightly above 95% under effects is expected."
        )
        band = ref.filter(pl.col("estimator") == "sup-t band, CRV1")
        sub = ref.filter(pl.col("estimator").str.contains("model"))
        haz = ref.filter(pl.col("estimator").str.starts_with("hazard"))
        out.append(
            f"- **sup-t bands (43 teams).** Whole-path coverage "
            f"{_span(band['coverage'], 3)} (MC SE about "
            f"{_stat(band['coverage_mc_se'], 'max', 3)}), with the critical value from a "
            "multivariate t(G-1), consistent with the t(G-1) pointwise intervals (a normal "
            "critical value under-covered by about 1 point; see the follow-up below)."
        )
        out.append(
            f"- **Self-efficacy and peer contrasts.** Coverage "
            f"{_span(sub['coverage'], 3)}, largest |bias| "
            f"{_stat(sub['bias'].abs(), 'max', 4)}."
        )
        out.append(
            f"- **Hazards (logit and cloglog, each on its own DGP).** Coverage of tau "
            f"{_span(haz['coverage'], 3)}, bias "
            f"{_stat(haz['bias'], 'min', 4)} to {_stat(haz['bias'], 'max', 4)} (MC SD about "
            f"{_stat(haz['mc_sd'], 'mean', 2)}); the study's 4-week baseline is as good as the "
            "correct log-t baseline here."
        )
    if "null" in runs:
        nul = runs["null"].summary
        band = nul.filter(pl.col("estimator") == "sup-t band, CRV1")
        itt = nul.filter(pl.col("estimator") == "ITT, CRV1")
        out.append(
            f"- **Null design (43 teams).** Pointwise CRV1 rejection rates "
            f"{_span(itt['rejection_rate'], 3)}; the sup-t "
            f"band rejects 'no effect in any of the 81 weeks' in "
            f"{_span(band['rejection_rate'], 3)} of "
            "trials (its family-wise size; see the band's note above)."
        )
    if "few_clusters_null" in runs:
        run = runs["few_clusters_null"]
        key = "sickness share, week 81"
        crv1 = _rate(run, "ITT, CRV1", key, "rejection_rate")
        crv3 = _rate(run, "ITT, CRV3", key, "rejection_rate")
        cr2 = _rate(run, CR2_LABEL, key, "rejection_rate")
        wcr = _rate(run, "ITT, wild cluster bootstrap (WCR, Webb)", key, "rejection_rate")
        ri = _rate(run, "ITT, randomisation inference (studentised)", key, "rejection_rate")
        _, hi = binomial_band(0.05, run.n_replications, ALPHA)
        verdict = "above" if crv1 > hi else "within"
        out.append(
            f"- **12 teams, null.** Rejection rates at 5% ({key}): CRV1 {crv1:.3f} ({verdict} "
            f"the binomial band's upper end {hi:.3f} at R = {run.n_replications}), CRV3 "
            f"{crv3:.3f}, CR2 (Bell-McCaffrey df) {cr2:.3f}, restricted wild cluster "
            f"bootstrap {wcr:.3f}, randomisation "
            f"inference {ri:.3f}. Randomisation inference is exact by construction (it "
            "re-draws the actual within-team lottery); WCR is asymptotically valid with few "
            "clusters."
            + (
                " CRV1 over-rejects with 12 clusters, as expected: use the wild cluster "
                "bootstrap or randomisation inference for few teams."
                if crv1 > hi
                else " CRV1 with t(G-1) critical values stays within the band in this design "
                "(teams of similar size, each holding both arms, so no team dominates the "
                "variance estimate); with unequal team sizes it over-rejects (the unequal "
                "designs below)."
            )
        )
    for name, label in (
        ("unequal_clusters_null", "Unequal teams (3 of 50, 9 of 5), null"),
        ("dominant_cluster_null", "One dominant team (1 of 200, 11 of 5), null"),
    ):
        if name in runs:
            out.append(_unequal_finding(runs[name], label))
    if "few_clusters" in runs:
        run = runs["few_clusters"]
        key = "sickness share, week 81"
        parts = [
            f"{name} {_rate(run, est, key, 'coverage'):.3f}"
            for name, est in (
                ("CRV1", "ITT, CRV1"),
                ("CRV3", "ITT, CRV3"),
                ("WCR", "ITT, wild cluster bootstrap (WCR, Webb)"),
            )
        ]
        out.append(f"- **12 teams, effects.** Coverage of the SATE ({key}): {', '.join(parts)}.")
    if failed:
        out.append(
            "- **Checks that failed in the main run**, each re-checked on an independent run "
            "(a correct estimator fails a check with probability at most 1% per design; rows of "
            "one design share their trials, so an unlucky set of trials can move several rows "
            "together):"
        )
        out += [f"  - {f}" for f in failed]
    else:
        out.append("- Every checked coverage and size lies inside its binomial band.")
    return "\n".join(out)


INTRO = """# Validation: Monte Carlo bias and coverage of every estimator

`dreamkit.validate` simulates trials with known true effects (`dreamkit.simulate`), runs the
estimators and compares them with the truth. This page is written by
`python benchmarks/w5_validation.py` (workload W5); a smaller run of the same checks is part
of the test suite (`tests/validate/`).

```python
from dreamkit.validate import validate, markdown_table
run = validate("reference", 1000, seed=2024)      # or "null", "few_clusters", a Scenario
print(markdown_table(run.summary))
```

## Designs

- **reference**: the study's 43 teams (568 persons, 26 municipalities); true effects on the
  link scale tau = -0.10, tau_low = 0.30, tau_lock = -0.30, tau_peer = 0.40; checked: ITT
  paths and sup-t bands, self-efficacy, peers; hazards on a second trial with a homogeneous
  effect tau = -0.10.
- **null**: the same trial with every effect 0 (the sharp null); the same checks, hazards
  with tau = 0.
- **few clusters**: `TeamDesign(n_teams=12, mean_team_size=14)` (about 170 persons, effects
  as in the reference design); sickness-share ITT with CRV1, CRV3, CR2, the wild cluster
  bootstrap (WCR) and randomisation inference.
- **few clusters, null**: the same with every effect 0.
- **unequal clusters, null**: 12 teams of very unequal size, 3 of 50 persons and 9 of 5
  (195 persons, 60% treated in every team, 9 municipalities), every effect 0; the few-cluster
  tools as above.
- **one dominant cluster, null**: 12 teams, one of 200 persons and 11 of 5 (255 persons),
  every effect 0; the same tools.

## Estimands: which truth each interval is compared with

- **ITT path** (model 2: stratum FE, the study's four covariates, CRV1 by team, t(G-1)
  intervals): tau_w at weeks 13, 26, 52, 81 and the path mean (1/81) sum_w tau_w (SE from
  the 81 x 81 covariance), against the replication's true **sample** effect (SATE) of the
  analysed persons, from both potential registers (common random numbers).
- **sup-t band** (`PathResult.sup_t_band`: plug-in, critical value from 10,000 draws of a
  multivariate t with G - 1 degrees of freedom and the estimated correlation): covers when the
  whole true path (81 weeks) lies inside; rejects when the band excludes 0 in some week.
- **self-efficacy** (model 3 at the simulator's cut-off 0-10 / 11-24): low, high and
  low - high effects on the week-81 shares, against the SATEs of the low and high persons.
- **peers** (model 4, four-cell version, own and peer cut-off 0-8, median threshold): low SE
  with low-SE peers minus low SE with high-SE peers, employment share to week 81, against the
  difference of the two cells' SATEs.
- **hazard** (model 1: exit from sickness benefit etc., stratum FE, the simulator's eight
  covariates, CRV1, normal intervals), fitted on a separate trial simulated with a
  homogeneous effect and the *same* link (logit DGP for the logit fit, cloglog for cloglog),
  against the link-scale tau -- the population coefficient of a correctly specified model
  (log-t baseline) and of the study's 4-week-interval baseline. Each replication checks one
  link, chosen by a fair coin from its seed (about R/2 per link).
- **few-cluster tools**: CRV3 (cluster jackknife, t(G-1)); CR2 (Bell-McCaffrey, t with the
  Bell-McCaffrey / Satterthwaite df, docs/inference.md); the restricted wild cluster
  bootstrap (WCR, Webb weights, 399 draws, intervals by test inversion) against the SATE;
  randomisation inference of the sharp null (studentised statistic, allocations re-drawn
  within teams, 399 draws): rejection rates only.

Coverage is the share of 95% intervals containing the truth, ± its Monte Carlo SE
sqrt(c(1-c)/R). Intervals for population effects are conservative for the SATE, so coverage
of sample effects above 95% is expected, not a defect. Checks: the number of covering
intervals is Binomial(R, 0.95) for a correct interval; each row is checked against the
exact binomial band at level 1%/K (Bonferroni over the K rows of a design): the lower end for
sample effects, both ends for the hazard tau; under a null design the rejection rate is
checked against the upper end of the Binomial(R, 0.05) band.
"""


INVESTIGATIONS = """## Follow-up investigations (separate runs, 2026-11-23; static text)

- **sup-t band, normal vs multivariate-t critical value.** 1,000 reference trials (seed 77):
  whole-path coverage with the plug-in normal critical value 0.945 (employment) and 0.940
  (sickness), mean critical value 2.57 / 2.53; with draws from a multivariate t with G - 1 =
  42 df (Z / sqrt(chi2_42 / 42), the same correlation) 0.958 and 0.958, critical value
  2.67 / 2.63. Over the W5 reference and null runs and this one (six rows, 6,000 band
  checks) the normal band covers 0.939 (MC SE about 0.003), so the 1-point shortfall is real
  and the t critical value, consistent with the t(G-1) pointwise intervals, removes it.
  Fixed: ``sup_t_band`` and ``sup_t_critical_value`` take ``df``, and
  ``PathResult.sup_t_band`` passes the fit's G - 1; the tables above use the fixed band.
- **Wild cluster bootstrap with 12 teams under the null.** The main run's WCR size at week 81
  (0.076) was re-checked twice: 0.061 (R = 1,500, seed 3027) and 0.041 (R = 1,500, seed
  999); pooled 0.058 over 4,000 trials (MC SE 0.0035); CRV1 in the same trials 0.065 (main
  run) and 0.035 (seed 999). The restricted bootstrap is at most slightly liberal with 12
  teams; no defect found.
- **CR2 rows (added 2026-12-02, separate runs).** The CR2 rows of the three 12-team null
  tables come from `replicate_cluster_robust` (CRV1 and CR2 only) with the same seeds, hence
  the same trials (its CRV1 rows equal the tables' CRV1 rows exactly). CR2 with
  Bell-McCaffrey df: 12 similar teams 0.059-0.069 (CRV1 0.058-0.065; df about 10.4);
  3 of 50 and 9 of 5: 0.026-0.036 (CRV1 0.073-0.093; df 3.5-4.3); 1 of 200 and 11 of 5:
  0.001-0.005 (CRV1 0.188-0.206; df about 1.6). CR2 removes CRV1's over-rejection with
  unequal teams but is conservative there (below the 4-6% target of issue 15); see
  docs/inference.md. The discrete-time hazard on the unequal design (cloglog, null effect,
  R = 399, `replicate_hazard_cluster_robust`, seed 7): CRV1 (normal) 0.125, CR2 0.035.
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replications", type=int, default=1000)
    parser.add_argument("--designs", nargs="+", default=list(SCENARIOS), choices=list(SCENARIOS))
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()

    started = dt.datetime.now().astimezone()
    load_start = os.getloadavg()[0]
    runs: dict[str, Validation] = {}
    for k, name in enumerate(args.designs):
        runs[name] = validate(name, args.replications, seed=args.seed + k, n_jobs=args.jobs)
        print(f"{runs[name]!r}", flush=True)
    load_end = os.getloadavg()[0]
    peak_mb = (
        max(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
        )
        / 1024
    )

    failed: list[str] = []
    confirmed: list[str] = []
    for k, (name, run) in enumerate(runs.items()):
        bad = checks(run).filter(~pl.col("ok"))
        if bad.height == 0:
            continue
        # a failed check is confirmed (or not) on an independent run with 1.5 x R
        again = validate(
            name,
            int(1.5 * args.replications),
            seed=args.seed + 1000 + k,
            n_jobs=args.jobs,
            progress=False,
        )
        redo = checks(again)
        for r in bad.iter_rows(named=True):
            same = redo.filter(
                (pl.col("estimator") == r["estimator"])
                & (pl.col("estimand") == r["estimand"])
                & (pl.col("check") == r["check"])
            ).row(0, named=True)
            verdict = "fails again" if not same["ok"] else "passes: chance, not a defect"
            failed.append(
                f"{name}: {r['estimator']} / {r['estimand']}: {r['check']} {r['value']:.3f} "
                f"outside [{r['low']:.3f}, {r['high']:.3f}]; confirmation run (R = "
                f"{again.n_replications}, seed {again.seed}): {same['value']:.3f} in "
                f"[{same['low']:.3f}, {same['high']:.3f}] -> {verdict}"
            )
            if not same["ok"]:
                confirmed.append(failed[-1])

    timing = [
        "| workload | design | R | dreamkit s | s per replication | goal | peak RSS MB |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, run in runs.items():
        goal = f"<= {GOAL_SECONDS:.0f} s" if name == "reference" else ""
        timing.append(
            f"| W5 | {run.scenario.name} | {run.n_replications} | {run.seconds:.1f} | "
            f"{run.seconds / run.n_replications:.3f} | {goal} | {peak_mb:.0f} |"
        )
    header = (
        f"Run {started:%Y-%m-%d %H:%M %Z} on {machine()}; {args.jobs} worker processes; "
        f"load average {load_start:.1f} at start, {load_end:.1f} at end. Command: "
        f"`python benchmarks/w5_validation.py --replications "
        f"{args.replications} --seed {args.seed} --designs {' '.join(args.designs)}`."
    )
    print("\n".join(timing))
    print("\nchecks failed:" if failed else "\nall checks passed", *failed, sep="\n")

    tables = []
    for run in runs.values():
        tables.append(f"### {run.scenario.name} (R = {run.n_replications}, seed {run.seed})\n")
        tables.append(markdown_table(run.summary) + "\n")
    doc = "\n".join(
        [
            INTRO,
            "## Results\n",
            header + "\n",
            *tables,
            "## Findings\n",
            findings(runs, failed) + "\n",
            INVESTIGATIONS,
            "## Timing (W5)\n",
            "\n".join(timing) + "\n",
        ]
    )
    results = "\n".join(
        [
            "# W5 -- Monte Carlo validation of the estimators\n",
            header + "\n",
            "\n".join(timing) + "\n",
            f"Checks: {len(failed)} failed in the main run, {len(confirmed)} confirmed "
            "(see docs/validation.md).\n",
        ]
    )
    if not args.no_write:
        DOCS.write_text(doc)
        RESULTS.write_text(results)
        print(f"wrote {DOCS.relative_to(ROOT)} and {RESULTS.relative_to(ROOT)}")
    return 1 if confirmed else 0


if __name__ == "__main__":
    sys.exit(main())
