"""The default route: `dreamkit simulate` and `dreamkit report` on the simulator."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import polars as pl

from dreamkit.cli import EXIT_OK, main
from dreamkit.design.trial import validate_trial
from dreamkit.register import read_wide


def test_simulate_writes_a_readable_trial_and_register(tmp_path: Path) -> None:
    assert main(["simulate", "--out", str(tmp_path), "--seed", "3", "--format", "parquet"]) == 0
    trial = validate_trial(pl.read_parquet(tmp_path / "trial.parquet"))
    register = read_wide(tmp_path / "register.parquet", employment="columns")
    assert trial.height >= 568
    assert register.n_persons == pl.read_parquet(tmp_path / "register.parquet").height
    assert sorted(p.name for p in tmp_path.iterdir()) == ["register.parquet", "trial.parquet"]


def test_report_on_the_synthetic_default(tmp_path: Path) -> None:
    config = tmp_path / "small.toml"
    config.write_text("[inference]\nri_draws = 19\nbootstrap_draws = 19\n")
    out = tmp_path / "report"
    assert main(["report", "--config", str(config), "--out", str(out), "--quiet"]) == EXIT_OK
    html = (out / "report.html").read_text(encoding="utf-8")
    for section in ("sample-flow", "balance", "survival", "effect-paths", "self-efficacy",
                    "peers", "robustness", "subgroups", "disclosure"):  # fmt: skip
        assert f'id="{section}"' in html
    flow = pl.read_csv(out / "tables" / "sample_flow.csv", infer_schema=False)
    assert flow["step"].to_list()[0] == "randomised"
    assert "not in register" in flow["step"].to_list()
    # the default trial loses 12 unmatched persons, fewer than 5 of them in one arm: neither
    # randomised arm count may be published next to the total (it would reveal that arm's
    # small exclusion count by subtraction)
    note = (out / "tables" / "sample_flow.md").read_text(encoding="utf-8")
    arms = re.search(r"Randomised (\S+) persons \(course (\S+), control (\S+)\)", note)
    assert arms is not None
    total, course, control = arms.groups()
    assert total.isdigit()
    assert not course.isdigit() and not control.isdigit()


def test_long_register_gives_the_same_analysis_as_wide(tmp_path: Path) -> None:
    from dreamkit.config import parse_config
    from dreamkit.pipeline import load_inputs
    from dreamkit.register import wide_to_long

    sys.path.insert(0, str(Path(__file__).parent))
    from _data import reference_files

    trial, wide = reference_files(seed=2)
    trial.write_parquet(tmp_path / "trial.parquet")
    wide.write_parquet(tmp_path / "wide.parquet")
    weeks = [c for c in wide.columns if c.startswith("y_")]
    wide_to_long(wide.select("person_id", *weeks), drop_empty=True).write_parquet(
        tmp_path / "long.parquet"
    )
    months = [c for c in wide.columns if c.startswith("branche_")]
    employment = wide.select("person_id", *months).unpivot(
        index="person_id", variable_name="month", value_name="employed"
    )
    employment.with_columns(pl.col("month").str.strip_prefix("branche_")).write_parquet(
        tmp_path / "employment.parquet"
    )
    base = {"source": "files", "trial": "trial.parquet"}
    long = {
        **base,
        "register": "long.parquet",
        "register_format": "long",
        "employment": "employment.parquet",
        "first_week": weeks[0],
        "last_week": weeks[-1],
    }
    a = load_inputs(parse_config({"input": {**base, "register": "wide.parquet"}}, tmp_path))
    b = load_inputs(parse_config({"input": long}, tmp_path))
    assert a.persons.height == b.persons.height == trial.height
    assert a.persons.equals(b.persons)
