"""Formula overhead (issue: one public face): what the formula front end adds per call.

At N = 568 (the reference trial), the ITT path over 81 weeks and the week-81 OLS, each by
formula (``dk.effect_path("sick_share_* ~ treated + ... | municipality", ...)``,
``dk.feols(...)``) and by the keyword engine on the same data; the two results are checked
identical first. Times are medians of ``--repeats`` calls after one warm-up call (the first
call of a formula string parses it; later calls hit the cache). Goal: under 5 ms added.

    python benchmarks/formula_overhead.py [--repeats 50]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import dreamkit as dk
from dreamkit.estimate.linear.design_matrix import codes_of
from dreamkit.estimate.linear.fwl import fit_fwl

COV = ["belief_in_treatment", "expected_return", "ordinary_job", "pre_sick_104_1"]


def median_ms(fn: Callable[[], object], repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    sim = dk.simulate_trial(seed=1)
    persons = dk.build_outcomes(sim.register, sim.trial).persons
    fml = "sick_share_* ~ treated + " + " + ".join(COV) + " | municipality"
    a = dk.effect_path(fml, persons, vcov={"CRV1": "team"})
    b = dk.effect_path(persons, "sick_share_", COV)
    assert a.tidy().equals(b.tidy())
    ols = "sick_share_81 ~ treated + " + " + ".join(COV) + " | municipality"
    x = persons.select(["treated", *COV]).to_numpy().astype(float)
    y = persons["sick_share_81"].to_numpy().astype(float)
    strata, teams = codes_of(persons["municipality"])[0], codes_of(persons["team"])[0]

    def engine_ols() -> object:
        return fit_fwl(y, x, absorb=strata, controls=None, clusters=teams, vcov="CRV1")

    f = dk.feols(ols, persons, vcov={"CRV1": "team"})
    assert abs(f.tidy()["estimate"][0] - engine_ols().coef[0, 0]) < 1e-12  # type: ignore[attr-defined]
    rows = [
        (
            "ITT path, 81 weeks",
            median_ms(lambda: dk.effect_path(fml, persons, vcov={"CRV1": "team"}), args.repeats),
            median_ms(lambda: dk.effect_path(persons, "sick_share_", COV), args.repeats),
        ),
        (
            "OLS, week 81",
            median_ms(lambda: dk.feols(ols, persons, vcov={"CRV1": "team"}), args.repeats),
            median_ms(engine_ols, args.repeats),
        ),
    ]
    lines = [
        f"Formula overhead at N = {persons.height} ({os.cpu_count()} cores, "
        f"{platform.machine()}, median of {args.repeats} calls)",
        "",
        "| model | formula (ms) | keyword engine (ms) | added (ms) |",
        "| --- | --- | --- | --- |",
    ]
    for name, fml_ms, kw_ms in rows:
        lines.append(f"| {name} | {fml_ms:.2f} | {kw_ms:.2f} | {fml_ms - kw_ms:.2f} |")
    text = "\n".join(lines)
    print(text)
    out = Path(__file__).resolve().parent / "results" / "formula_overhead.md"
    out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
