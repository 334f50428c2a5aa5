"""Assemble ``docs/performance.md`` from the tables the benchmark scripts wrote.

    python benchmarks/collect_results.py

Each workload script writes its latest table to ``benchmarks/results/<ID>.md``; this script
puts them in workload order under one page, headings shifted one level down.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ORDER = ["W1", "W2", "W3", "W4", "W5", "register_memory", "simulator", "population"]
INTRO = """# Performance

Workloads and rules are those of `shared/spec/benchmarks.md`: every script checks that its
result equals its baseline's before it reports a time, times are medians of several runs
where affordable, and the ratio is measured in the same run. All figures below come from the
development machine (2 cores, 24 GB, x86_64, Python 3.11). Some runs shared it with other
jobs (each section says which run was quiet), so their absolute times are pessimistic; CPU
time and ratios are the steadier numbers.
Rerun everything with `make bench` (or `python benchmarks/run_all.py --quick`).
"""


def main() -> None:
    results = ROOT / "benchmarks" / "results"
    parts = [INTRO]
    for name in ORDER:
        path = results / f"{name}.md"
        if path.exists():
            text = path.read_text(encoding="utf-8").strip()
            parts.append(
                "\n".join(
                    "#" + line if line.startswith("#") else line for line in text.splitlines()
                )
            )
    (ROOT / "docs" / "performance.md").write_text("\n\n".join(parts) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
