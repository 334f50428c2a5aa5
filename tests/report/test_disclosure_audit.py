"""Regression tests of the disclosure audit: no published number may reveal a count of 1-4
persons by subtraction from other published numbers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from dreamkit.config import parse_config
from dreamkit.report.context import ReportContext
from dreamkit.report.disclosure import SUPPRESSED, DisclosureLog
from dreamkit.report.sections.descriptive import descriptive_section

K = 5


def _context(tmp_path: Path, persons: pl.DataFrame, config: dict[str, Any]) -> ReportContext:
    flow = pl.DataFrame(
        {"step": ["none"], "reason": ["-"], "removed": [0], "remaining": [persons.height]}
    )
    return ReportContext(parse_config(config), persons, flow, persons, tmp_path, DisclosureLog(K))


def _persons(n: int = 60, seed: int = 0, **columns: Any) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    base = {
        "person_id": np.arange(n) + 10_000,
        "municipality": np.repeat(["a", "b"], n // 2),
        "team": np.arange(n) * 6 // n,
        "treated": np.tile([1, 0], n // 2).astype(np.int8),
        "waiting_days": rng.integers(0, 40, n),
        "uwses": rng.integers(0, 25, n),
        "score": rng.normal(size=n),
        "emp_share_81": rng.uniform(size=n),
        "sick_share_81": rng.uniform(size=n),
    }
    return pl.DataFrame({**base, **columns})


def _row(ctx: ReportContext, table: str, first: str) -> dict[str, Any]:
    frame = ctx.tables[table].frame
    return frame.filter(pl.col(frame.columns[0]) == first).row(0, named=True)


def test_descriptive_share_of_one_arm_is_not_recoverable_from_all_and_the_other(
    tmp_path: Path,
) -> None:
    n = 60
    treated = np.tile([1, 0], n // 2)
    # 3 course persons and 10 control persons have it: the course share is suppressed, so the
    # control share must go too (all x N - control x n_control = 3)
    rare = np.zeros(n, dtype=np.int8)
    rare[np.flatnonzero(treated == 1)[:3]] = 1
    rare[np.flatnonzero(treated == 0)[:10]] = 1
    ctx = _context(
        tmp_path,
        _persons(n, rare=rare),
        {"covariates": {"prognostic": ["score"], "subgroups": ["rare"]}},
    )
    descriptive_section(ctx, ["rare"])
    row = _row(ctx, "descriptive", "rare")
    assert row["all"] != SUPPRESSED
    assert row["course"] == SUPPRESSED
    assert row["control"] == SUPPRESSED
    assert any(e.cell == "rare, control" and "complementary" in e.reason for e in ctx.log.entries)


def test_descriptive_self_efficacy_groups_do_not_reveal_persons_without_uwses(
    tmp_path: Path,
) -> None:
    n = 60
    rng = np.random.default_rng(1)
    uwses = pl.Series("uwses", rng.integers(0, 25, n), dtype=pl.Int64)
    uwses = uwses.scatter([0, 1], None)  # 2 persons without UW-SES: all - low - high = 2
    persons = _persons(n).with_columns(uwses)
    ctx = _context(tmp_path, persons, {"covariates": {"prognostic": ["score"]}})
    descriptive_section(ctx, ["score"])
    persons_row = _row(ctx, "descriptive", "persons")
    low, high = (c for c in ctx.tables["descriptive"].frame.columns if c.startswith("UW-SES"))
    assert persons_row["all"] != SUPPRESSED
    # all - low - high = 2: at least one group's count is hidden (the descriptive and balance
    # counts go through protect_table, which hides only what the subtraction needs)
    assert SUPPRESSED in (persons_row[low], persons_row[high])
    # the mean of score over the 2 persons would be (all x 60 - low x n_low - high x n_high) / 2
    score_row = _row(ctx, "descriptive", "score")
    assert score_row[low] == SUPPRESSED and score_row[high] == SUPPRESSED
    # the arms and waiting-time groups split "all" exactly and stay published
    assert persons_row["course"] != SUPPRESSED and score_row["control"] != SUPPRESSED


def _grid_persons(n: int = 240) -> pl.DataFrame:
    # low scores are UW-SES 0-5, high 15-24, and 2 persons (one per arm) have 9: the low groups
    # at cut-offs 8 and 9 differ by those 2, so share(9) x N - share(8) x N = 2 unless
    # suppressed; teams 0, 1 and 3 are 70% low, the others 30% (peer cells)
    rng = np.random.default_rng(2)
    team = np.repeat(np.arange(6), n // 6)
    low = rng.uniform(size=n) < np.where(np.isin(team, [0, 1, 3]), 0.7, 0.3)
    uwses = np.where(low, rng.integers(0, 6, n), rng.integers(15, 25, n))
    uwses[[0, 1]] = 9
    return _persons(n, uwses=uwses)


def test_selfefficacy_grid_shares_do_not_reveal_a_small_band_of_scores(tmp_path: Path) -> None:
    from dreamkit.report.sections.heterogeneity import selfefficacy_section

    persons = _grid_persons()
    ctx = _context(tmp_path, persons, {"covariates": {"prognostic": ["score"]}})
    selfefficacy_section(ctx)
    table = ctx.tables["selfefficacy_emp"].frame
    shares = table.filter(pl.col("low: share of sample") != SUPPRESSED)
    assert shares.height >= 1  # cut-offs 6-8 have the same low group and stay
    low_counts = sorted(
        round(float(s) * persons.height) for s in shares["low: share of sample"].to_list()
    )
    gaps = np.diff(low_counts)
    assert not ((gaps > 0) & (gaps < K)).any(), gaps
    assert any(e.output == "selfefficacy" and "UW-SES" in e.reason for e in ctx.log.entries)


def test_peer_low_group_does_not_differ_from_a_published_cutoff_by_few(tmp_path: Path) -> None:
    from dreamkit.report.sections.heterogeneity import peers_section, selfefficacy_section

    persons = _grid_persons()
    config = {
        "covariates": {"prognostic": ["score"]},
        "self_efficacy": {"grid": [8], "cutoff": 8},
        "peers": {"low_cutoff": 9},
    }
    ctx = _context(tmp_path, persons, config)
    selfefficacy_section(ctx)
    assert 8 in ctx.results["selfefficacy"]
    peers_section(ctx)
    # the peer table's low share (cut-off 9) next to the grid's (cut-off 8) would give 2 persons
    assert "peers" not in ctx.tables
    assert any(e.output == "peers" for e in ctx.log.entries)


def _survival_context(tmp_path: Path) -> ReportContext:
    # course: 40 persons, exits of 2 persons in weeks 3 and 20, 10 in week 30, the rest censored
    # at 81; control: 40 persons, 10 exits in week 5 and 10 in week 40
    exits = ((0, 2, 3), (2, 2, 20), (4, 10, 30), (40, 10, 5), (50, 10, 40))
    persons = _persons_with_exits(exits).with_columns(
        pl.Series("waiting_days", np.tile([3, 30], 40))
    )
    return _context(tmp_path, persons, {"covariates": {"prognostic": ["score"]}})


def _persons_with_exits(exits: tuple[tuple[int, int, int], ...]) -> pl.DataFrame:
    """80 persons (course first, then control); ``exits`` are (first row, count, week) runs
    of persons whose employment and sickness durations end with an event in that week; the
    rest are censored at week 81."""
    n = 80
    treated = np.r_[np.ones(40), np.zeros(40)].astype(np.int8)
    dur = np.full(n, 81)
    event = np.zeros(n, dtype=np.int8)
    for start, count, week in exits:
        dur[start : start + count] = week
        event[start : start + count] = 1
    return _persons(n, treated=treated).with_columns(
        pl.Series("dur_emp", dur),
        pl.Series("event_emp", event),
        pl.Series("dur_sick", dur),
        pl.Series("event_sick", event),
    )


def test_km_at_risk_counts_do_not_differ_by_a_small_number(tmp_path: Path) -> None:
    from dreamkit.report.sections.survival import _km_figure

    ctx = _survival_context(tmp_path)
    arms = {"control": pl.col("treated") == 0, "course": pl.col("treated") == 1}
    rows: list[list[object]] = []
    _km_figure(ctx, arms, "kaplan_meier", "by arm", rows)
    for row in rows:
        group = ctx.persons.filter(arms[str(row[1])]).height
        shown = [group, *(int(x) for x in row[2:] if x != SUPPRESSED)]  # type: ignore[call-overload]
        gaps = -np.diff(shown)
        assert not ((gaps > 0) & (gaps < K)).any(), (row, gaps)
    course = next(r for r in rows if r[1] == "course")
    assert course[3] == SUPPRESSED  # week 13: 40 - 2 = 38 would show the 2 exits in week 3


def test_km_curve_steps_pool_at_least_k_events(tmp_path: Path) -> None:
    from dreamkit.report.sections.survival import _km_figure

    ctx = _survival_context(tmp_path)
    arms = {"control": pl.col("treated") == 0, "course": pl.col("treated") == 1}
    _km_figure(ctx, arms, "kaplan_meier", "by arm", [])
    for label, (_, survival) in ctx.results["kaplan_meier_published"].items():
        n = 40
        steps = -np.diff(np.r_[1.0, survival]) * n  # no censoring before 81: S x n = survivors
        steps = steps[steps > 1e-9]
        assert (steps >= K - 1e-6).all(), (label, steps)
    course = ctx.results["kaplan_meier_published"]["emp: course"][1]
    assert course[25] == 1.0 and np.isclose(course[30], 26 / 40)  # 2 + 2 pooled with week 30


def test_hazard_rows_do_not_reveal_a_small_waiting_time_group(tmp_path: Path) -> None:
    from dreamkit.report.sections.survival import _hazard_table

    n = 120
    rng = np.random.default_rng(4)
    dur = rng.integers(1, 82, n)
    event = (dur < 81).astype(np.int8)
    waiting = np.full(n, 3)
    waiting[:3] = 30  # 3 persons wait >= 7 days: their row is suppressed
    persons = _persons(n).with_columns(
        pl.Series("dur_emp", dur),
        pl.Series("event_emp", event),
        pl.Series("dur_sick", dur),
        pl.Series("event_sick", event),
        pl.Series("waiting_days", waiting),
    )
    ctx = _context(tmp_path, persons, {"covariates": {"prognostic": ["score"]}})
    table = _hazard_table(ctx).frame
    for exit_name in table["exit"].unique():
        part = table.filter(pl.col("exit") == exit_name)
        rows = {str(r["sample"]): r for r in part.iter_rows(named=True)}
        long_row = next(r for s, r in rows.items() if ">=" in s)
        short_row = next(r for s, r in rows.items() if "<" in s)
        assert long_row["persons"] == SUPPRESSED
        assert rows["all"]["persons"] != SUPPRESSED
        # all minus the short row would give the 3 persons and their exits
        assert short_row["persons"] == SUPPRESSED
        assert short_row["exits"] == SUPPRESSED
        assert short_row["person-weeks"] == SUPPRESSED


def test_prognostic_n_does_not_reveal_controls_with_a_missing_value(tmp_path: Path) -> None:
    from dreamkit.report.sections.prognostic import prognostic_section

    n = 120
    rng = np.random.default_rng(5)
    persons = _persons(n)
    controls = np.flatnonzero(persons["treated"].to_numpy() == 0)
    gappy = pl.Series("gappy", rng.normal(size=n)).scatter(controls[:2], None)
    emp = np.clip(rng.normal(0.3, 0.4, n), 0.0, 1.0)
    persons = persons.with_columns(gappy, pl.Series("emp_share_81", emp))
    config = {"covariates": {"prognostic": ["score"], "balance": ["score", "gappy"]}}
    ctx = _context(tmp_path, persons, config)
    prognostic_section(ctx)
    table = ctx.tables["prognostic"].frame.filter(pl.col("variable") == "gappy")
    for row in table.iter_rows(named=True):
        # N = all controls is in the note: N of this row would give the 2 left out
        assert row["N"] == SUPPRESSED
        for col in ("at 0", "at 1"):
            full = (
                int(((emp[controls] <= 0) if col == "at 0" else (emp[controls] >= 1)).sum())
                if row["outcome"] == "employment share"
                else None
            )
            if full is not None and row[col] != SUPPRESSED:
                assert not 0 < full - int(row[col]) < K


def test_km_tail_does_not_reveal_the_few_last_exits(tmp_path: Path) -> None:
    from dreamkit.report.sections.survival import _km_figure

    # course: 10 exits in week 5 and 3 in week 60; the descriptive table publishes the course
    # share with an exit (13 / 40), so a curve or an at-risk count showing 30 of 40 left
    # after week 5 would give 40 - 13 - (40 - 30) = 3 late exits
    persons = _persons_with_exits(((0, 10, 5), (10, 3, 60), (40, 10, 5), (50, 10, 40)))
    ctx = _context(tmp_path, persons, {"covariates": {"prognostic": ["score"]}})
    arms = {"control": pl.col("treated") == 0, "course": pl.col("treated") == 1}
    rows: list[list[object]] = []
    _km_figure(ctx, arms, "kaplan_meier", "by arm", rows)
    for row in rows:
        members = persons.filter(arms[str(row[1])])
        without_exit = members.height - int(members["event_emp"].sum())
        shown = [int(str(x)) for x in row[2:] if x != SUPPRESSED]
        assert not 0 < shown[-1] - without_exit < K, row
    for label, (_, survival) in ctx.results["kaplan_meier_published"].items():
        arm = label.split(": ")[1]
        members = persons.filter(arms[arm])
        hidden = members.height * float(survival[-1]) - (
            members.height - int(members["event_emp"].sum())
        )
        assert not 0.5 < hidden < K - 0.5, (label, hidden)


def test_balance_counts_do_not_reveal_a_suppressed_sample_by_subtraction(
    tmp_path: Path,
) -> None:
    from dreamkit.report.sections.balance import balance_section

    n = 60
    persons = _persons(n)
    treated = persons["treated"].to_numpy()
    waiting = np.full(n, 30)
    waiting[np.flatnonzero(treated == 0)[::10]] = 2  # short wait: 3 controls -> suppressed
    waiting[np.flatnonzero(treated == 1)[::3]] = 2  # and 10 course persons
    persons = persons.with_columns(pl.Series("waiting_days", waiting))
    config = {
        "covariates": {"prognostic": ["score"], "balance": ["score"]},
        "inference": {"ri_draws": 19},
    }
    ctx = _context(tmp_path, persons, config)
    balance_section(ctx)
    row = _row(ctx, "balance", "persons (control / course)")
    assert row["all"] != SUPPRESSED
    assert row["short wait"] == SUPPRESSED
    # "all" minus the long-wait counts would give the 3 short-wait controls
    assert row["long wait"] == SUPPRESSED
    # the samples' N may be shown (the descriptive table shows the groups' persons anyway):
    # with the interior hidden, the 3 short-wait controls lie anywhere in a range >= k wide
    joint = ctx.tables["balance_joint"].frame
    n_long = joint.filter(pl.col("sample") == "long wait")["persons"][0]
    if n_long != SUPPRESSED:
        n_short = n - int(n_long)
        n_control, n_course = (int(v) for v in row["all"].split(" / "))
        low, high = max(0, n_short - n_course), min(n_short, n_control)
        assert high - low >= K


def test_path_control_means_do_not_reveal_few_control_person_weeks(tmp_path: Path) -> None:
    from dreamkit.report.sections.paths import paths_section

    n, weeks = 60, 81
    rng = np.random.default_rng(6)
    persons = _persons(n)
    treated = persons["treated"].to_numpy()
    state = rng.uniform(size=(n, weeks)) < 0.3
    state[treated == 0] = False
    state[np.flatnonzero(treated == 0)[:2]] = True  # 2 controls employed every week
    cum = np.cumsum(state, axis=1) / np.arange(1, weeks + 1)
    columns = {f"{p}_share_{w}": cum[:, w - 1] for p in ("emp", "sick") for w in range(1, 82)}
    persons = persons.drop("emp_share_81", "sick_share_81").with_columns(
        **{k: pl.Series(v) for k, v in columns.items()}
    )
    config = {
        "covariates": {"prognostic": ["score"]},
        "inference": {"bootstrap_draws": 19, "ri_draws": 19},
    }
    ctx = _context(tmp_path, persons, config)
    paths_section(ctx)
    frame = pl.read_csv(tmp_path / "tables" / "effect_path_emp_all_weeks.csv")
    n0 = int((treated == 0).sum())
    shown = frame.filter(pl.col("control_mean").is_not_null())
    assert shown["week"][-1] == weeks  # week W is public in the descriptive table anyway
    w = np.r_[0, shown["week"].to_numpy()]
    person_weeks = np.rint(np.r_[0.0, shown["control_mean"].to_numpy()] * w * n0)
    in_state = np.diff(person_weeks)
    out_state = np.diff(w) * n0 - in_state
    assert not ((in_state > 0) & (in_state < K)).any(), in_state
    assert not ((out_state > 0) & (out_state < K)).any(), out_state
    assert frame["control_mean"].null_count() >= 2  # weeks 1 and 2: 2 person-weeks each
