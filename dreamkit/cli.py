"""The ``dreamkit`` command line: report, simulate, config.

Exit codes: 0 success; 2 bad configuration or bad input data (a one-line message naming the
key or column); 1 internal error (rerun with ``--traceback`` for details). Errors never print
person identifiers.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from dreamkit import __version__
from dreamkit.config import EXAMPLE, load_config
from dreamkit.errors import ConfigError, DreamkitError

EXIT_OK, EXIT_INTERNAL, EXIT_INPUT = 0, 1, 2

_DESCRIPTION = """\
dreamkit evaluates a randomised return-to-work programme with a DREAM-style weekly register.

  dreamkit report --out report                 full report on a synthetic trial (no data needed)
  dreamkit report --config analysis.toml --out report
                                               full report as configured (your own register)
  dreamkit simulate --out data --seed 1        write a synthetic trial table and register
  dreamkit config --example > analysis.toml    an annotated configuration to edit
  dreamkit config --check analysis.toml        check a configuration against its data and code
                                               map; list the sections that will run
"""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for the docs and tests)."""
    parser = argparse.ArgumentParser(
        prog="dreamkit",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"dreamkit {__version__}")
    parser.add_argument(
        "--traceback", action="store_true", help="show the full traceback on internal errors"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    report = sub.add_parser(
        "report",
        help="run the whole analysis and write the HTML report, figures and tables",
        description="Run the reference analysis (sample flow, balance, survival, hazards, "
        "effect paths with simultaneous bands, self-efficacy, peers, robustness, subgroups) "
        "and write DIR/report.html plus DIR/figures (PNG, SVG) and DIR/tables (CSV, "
        "Markdown, LaTeX). Without --config the analysis runs on a synthetic trial.",
    )
    report.add_argument(
        "--config", type=Path, help="TOML analysis configuration (default: synthetic trial)"
    )
    report.add_argument("--out", type=Path, required=True, help="output directory")
    report.add_argument("--quiet", action="store_true", help="no progress bar")
    report.add_argument(
        "--executor",
        metavar="N|ADDRESS",
        help="where the draws and figure rendering run: N local processes, or the address of "
        "a Dask scheduler (tcp://host:8786); default this process. Output is identical.",
    )

    simulate = sub.add_parser(
        "simulate",
        help="write a synthetic trial table and a DREAM-style wide register",
        description="Simulate a reference-style trial (43 teams, 568 persons) and write "
        "DIR/trial.{parquet,csv} and DIR/register.{parquet,csv} (y_YYWW benefit-code columns "
        'and branche_YYYY_MM employment columns), ready for [input] source = "files".',
    )
    simulate.add_argument("--out", type=Path, required=True, help="output directory")
    simulate.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    simulate.add_argument(
        "--format",
        choices=("parquet", "csv", "both"),
        default="both",
        help="file format (default both)",
    )

    config = sub.add_parser(
        "config",
        help="print an annotated example configuration, or check one",
        description="Print an annotated example analysis configuration (--example) or "
        "check a configuration file against the data and code map it names (--check FILE): "
        "columns and sets, then which report sections will run and which are skipped and why.",
    )
    group = config.add_mutually_exclusive_group(required=True)
    group.add_argument("--example", action="store_true", help="print the annotated example")
    group.add_argument(
        "--check",
        type=Path,
        metavar="FILE",
        help="check a config file against its data; list the sections that will run",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``dreamkit`` command; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return _dispatch(args)
    except ConfigError as err:
        print(f"config error: {err}", file=sys.stderr)
        return EXIT_INPUT
    except DreamkitError as err:
        print(f"input error: {err}", file=sys.stderr)
        return EXIT_INPUT
    except Exception as err:  # the one place that turns any failure into an exit code
        if args.traceback:
            traceback.print_exc()
        else:
            print(
                f"internal error: {type(err).__name__} (rerun with --traceback for details; "
                "please report it)",
                file=sys.stderr,
            )
        return EXIT_INTERNAL


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "config":
        if args.example:
            sys.stdout.write(EXAMPLE)
        else:
            from dreamkit.pipeline import check_plan

            config = load_config(args.check)
            plan = check_plan(config)
            print(f"{args.check}: configuration is valid; checked against its data and code map")
            print("sections (a model the data do not identify is reported as not estimable):")
            print("\n".join(plan.lines()))
        return EXIT_OK
    if args.command == "simulate":
        from dreamkit.pipeline import write_synthetic

        paths = write_synthetic(args.out, seed=args.seed, fmt=args.format)
        for path in paths:
            print(path)
        return EXIT_OK
    from dreamkit.pipeline import run_report

    config = load_config(args.config)
    executor = args.executor
    if executor is not None and executor.strip().isdigit():
        executor = int(executor)
    result = run_report(config, args.out, progress=not args.quiet, executor=executor)
    print(result.html)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
