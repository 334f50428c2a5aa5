"""Run every benchmark workload once, in order, and print their tables.

    python benchmarks/run_all.py [--quick]

Each script checks its result against its baseline before it reports a time (see
``shared/spec/benchmarks.md``). ``--quick`` runs the small sizes only. Record the figures in
``docs/performance.md`` together with the machine they came from.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

FULL = [
    ["w1_outcomes.py"],
    ["w2_itt.py"],
    ["w3_hazard.py"],
    ["w4_report.py"],
    ["w5_validation.py"],
    ["register_memory.py"],
    ["w_population.py"],
    ["w7_ladder.py"],
    ["w8_power.py"],
    ["formula_overhead.py"],
    ["w6_scale_out.py"],
    ["w9_frailty.py"],
]
QUICK = [
    ["w1_outcomes.py", "--sizes", "10000", "100000"],
    ["w2_itt.py", "--sizes", "568"],
    ["w3_hazard.py", "--persons", "20000"],
    ["w4_report.py"],
    ["register_memory.py", "--persons", "100000"],
    [
        "w7_ladder.py",
        "--persons",
        "20000",
        "--baseline-persons",
        "5000",
        "--dense-persons",
        "2000",
        "--repeats",
        "1",
        "--no-save",
    ],
    [
        "w6_scale_out.py",
        "--persons",
        "20000",
        "--weeks",
        "400",
        "--part-persons",
        "5000",
        "--replications",
        "20",
    ],
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes only")
    args = parser.parse_args()
    failed = []
    for command in QUICK if args.quick else FULL:
        script = HERE / command[0]
        if not script.exists():
            print(f"skip {command[0]}: not present", flush=True)
            continue
        print(f"\n=== {' '.join(command)}", flush=True)
        if subprocess.run([sys.executable, str(script), *command[1:]], check=False).returncode:
            failed.append(command[0])
    if failed:
        print(f"failed: {failed}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
