"""The optional observational section (issue 18, item 5): event studies by programme start.

The section's numbers are checked against direct calls of the estimators: the TWFE column
against :func:`event_study_register` on the same register and starts, the Callaway-Sant'Anna
column against :func:`callaway_santanna` on the simulator's own long panel
(``StaggeredPanel.to_long``, periods 0..T-1: an independent route to the panel the section
builds from the register's week ordinals). Exact equality of the formatted cells (3 decimals)
and ``rtol=1e-10`` for the raw estimates: the same arithmetic on the same data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from dreamkit.config import Config, parse_config
from dreamkit.errors import ConfigError
from dreamkit.estimate.panel import callaway_santanna, event_study_register, sun_abraham
from dreamkit.register.calendar import months_of_weeks, week_label
from dreamkit.report.context import ReportContext
from dreamkit.report.disclosure import SUPPRESSED, DisclosureLog
from dreamkit.report.plan import NO_STARTS, make_plan
from dreamkit.report.sections import SECTIONS, run_section
from dreamkit.report.tables import fmt
from dreamkit.simulate.staggered import simulate_staggered

SPEC = next(s for s in SECTIONS if s.id == "observational")
LEADS, LAGS = 4, 6


def _cell(row: dict[str, float]) -> str:
    return f"{fmt(row['estimate'])} ({fmt(row['std_error'])})"


@pytest.fixture(scope="module")
def staggered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    d = tmp_path_factory.mktemp("obs")
    sim = simulate_staggered(n_persons=400, n_periods=30, cohorts=(8, 12, 16), seed=3)
    register, persons = sim.to_register()
    persons.write_csv(d / "starts.csv")
    # the analysis table: the population (person ids, the cluster) as the report has it
    analysed = persons.select("person_id", "municipality").with_columns(
        stratum=pl.lit(1), treated=pl.lit(0)
    )
    return {"dir": d, "sim": sim, "register": register, "starts": persons, "persons": analysed}


def _context(data: dict[str, object], tmp: Path, observational: dict[str, object]) -> ReportContext:
    d = data["dir"]
    assert isinstance(d, Path)
    config = parse_config(
        {
            "design": {"stratum": "stratum", "cluster": "municipality"},
            "observational": observational,
        },
        base_dir=d,
    )
    persons = data["persons"]
    assert isinstance(persons, pl.DataFrame)
    return ReportContext(
        config,
        persons,
        pl.DataFrame(),
        persons,
        tmp,
        DisclosureLog(5),
        register=data["register"],
    )


OBS = {
    "starts": "starts.csv",
    "cluster": "municipality",
    "leads": LEADS,
    "lags": LAGS,
}


def test_section_equals_direct_estimators(staggered: dict[str, object], tmp_path: Path) -> None:
    ctx = _context(staggered, tmp_path, OBS)
    section = run_section(ctx, SPEC)
    assert "observational" not in ctx.skipped, ctx.skipped
    assert len(section.items) == 3
    table = ctx.tables["observational_event_time"].frame
    assert table.columns == [
        "event time",
        "TWFE event study",
        "Callaway-Sant'Anna",
        "Sun-Abraham",
    ]
    vcov = {"CRV1": "municipality"}
    twfe = event_study_register(
        staggered["register"], "employment", staggered["starts"], leads=LEADS, lags=LAGS, vcov=vcov
    )
    sim = staggered["sim"]
    long = sim.to_long()  # type: ignore[attr-defined]
    kw = {"outcome": "y", "unit": "person_id", "time": "period", "start": "start", "vcov": vcov}
    direct = {
        "TWFE event study": twfe,
        "Callaway-Sant'Anna": callaway_santanna(long, **kw),
        "Sun-Abraham": sun_abraham(long, **kw),
    }
    raw = ctx.results["observational"]
    for (column, res), mine in zip(direct.items(), raw.values(), strict=True):
        t = res.tidy().filter(pl.col("event_time").is_between(-LEADS, LAGS))
        m = mine.tidy().filter(pl.col("event_time").is_between(-LEADS, LAGS))
        np.testing.assert_array_equal(t["event_time"], m["event_time"])
        np.testing.assert_allclose(m["estimate"], t["estimate"], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(m["std_error"], t["std_error"], rtol=1e-10, atol=1e-12)
        for row in t.iter_rows(named=True):
            shown = table.filter(pl.col("event time") == str(row["event_time"]))[column].item()
            assert shown == _cell(row)
    assert table.filter(pl.col("event time") == "-1")["TWFE event study"].item() == (
        "0 (reference)"
    )
    notes = " ".join(ctx.tables["observational_event_time"].notes)
    assert f"pre-trend test p = {fmt(twfe.glance()['pretrend_p'].item())}" in notes
    cohorts = ctx.tables["observational_cohorts"].frame
    starts = staggered["starts"]
    assert isinstance(starts, pl.DataFrame)
    never = cohorts.filter(pl.col("start cohort") == "never started")["persons"].item()
    assert never == str(starts["start_week"].null_count())
    assert "observational_event_time" in ctx.figures


def test_small_cohorts_suppressed_and_no_ids(staggered: dict[str, object], tmp_path: Path) -> None:
    starts = staggered["starts"]
    assert isinstance(starts, pl.DataFrame)
    d = staggered["dir"]
    assert isinstance(d, Path)
    # three persons start in a week of their own: a cohort below k
    lone = starts.with_columns(
        pl.when(pl.int_range(pl.len()) < 3)
        .then(pl.lit(5010, dtype=pl.Int64))
        .otherwise(pl.col("start_week"))
        .alias("start_week")
    )
    lone.write_parquet(d / "starts_small.parquet")
    ctx = _context(staggered, tmp_path, {**OBS, "starts": "starts_small.parquet"})
    run_section(ctx, SPEC)
    assert "observational" not in ctx.skipped, ctx.skipped
    cohorts = ctx.tables["observational_cohorts"].frame
    row = cohorts.filter(pl.col("start cohort") == week_label(5010))
    assert row["persons"].item() == SUPPRESSED
    entries = [e for e in ctx.log.entries if e.output == "observational_cohorts"]
    assert entries[0].cell == f"cohort {week_label(5010)}"
    # the cohorts add up to the persons who started (in the notes): a second cohort is hidden
    # so that started minus the shown cohorts does not give the 3 away
    assert [e.reason.startswith("secondary") for e in entries] == [False, True]
    started = cohorts.filter(pl.col("start cohort") != "never started")["persons"]
    assert (started == SUPPRESSED).sum() == 2
    hidden_sum = (lone["start_week"].is_not_null()).sum() - sum(
        int(v) for v in started if v != SUPPRESSED
    )
    assert hidden_sum >= 5


def test_without_starts_skipped_with_one_sentence(
    staggered: dict[str, object], tmp_path: Path
) -> None:
    ctx = _context(staggered, tmp_path, {})
    section = run_section(ctx, SPEC)
    assert section.paragraphs == [f"Skipped: {NO_STARTS}"]
    assert ctx.skipped["observational"].startswith("Skipped: no programme starts given")
    lines = make_plan(ctx.persons, ctx.randomised, Config()).lines()
    assert any("Observational comparison (programme starts)" in line for line in lines)


def test_missing_column_names_it(staggered: dict[str, object], tmp_path: Path) -> None:
    ctx = _context(staggered, tmp_path, {**OBS, "start": "begin"})
    section = run_section(ctx, SPEC)
    assert "'begin'" in section.paragraphs[0] and "[observational].start" in section.paragraphs[0]
    assert not ctx.tables and not ctx.figures
    d = staggered["dir"]
    assert isinstance(d, Path)
    (d / "starts.txt").write_text("person_id\n")
    ctx = _context(staggered, tmp_path, {**OBS, "starts": "starts.txt"})
    assert "must be a .csv or .parquet file" in run_section(ctx, SPEC).paragraphs[0]
    with pytest.raises(ConfigError, match="estimators"):
        parse_config({"observational": {"estimators": ["ols"]}})
    with pytest.raises(ConfigError, match="period"):
        parse_config({"observational": {"period": "day"}})


def test_no_never_treated_is_one_sentence(staggered: dict[str, object], tmp_path: Path) -> None:
    """Sun-Abraham with never-treated controls refuses a population where everyone starts."""
    starts = staggered["starts"]
    d = staggered["dir"]
    assert isinstance(starts, pl.DataFrame) and isinstance(d, Path)
    starts.with_columns(pl.col("start_week").fill_null(5012)).write_csv(d / "all.csv")
    ctx = _context(staggered, tmp_path, {**OBS, "starts": "all.csv"})
    section = run_section(ctx, SPEC)
    assert section.paragraphs == [ctx.skipped["observational"]]
    assert section.paragraphs[0].startswith("Skipped: control='never' but no person is never")
    assert not ctx.tables and not ctx.figures
    # without Sun-Abraham, Callaway-Sant'Anna uses the not-yet-treated and runs
    ctx = _context(
        staggered, tmp_path, {**OBS, "starts": "all.csv", "estimators": ["callaway_santanna"]}
    )
    run_section(ctx, SPEC)
    assert "observational" not in ctx.skipped
    # a started group below k is suppressed with one sentence
    starts.head(3).write_csv(d / "few.csv")
    ctx = _context(staggered, tmp_path, {**OBS, "starts": "few.csv"})
    section = run_section(ctx, SPEC)
    assert section.paragraphs[0].startswith("Suppressed: fewer than 5")


def test_on_the_report_pipeline(tmp_path: Path) -> None:
    """The trial's analysed persons and register as the population, timing from a file."""
    from dreamkit.pipeline import load_inputs

    inputs = load_inputs(Config())
    ids = inputs.persons["person_id"]
    rng = np.random.default_rng(0)
    first = int(inputs.register.first_week)
    start = rng.choice([first + 60, first + 90, first + 120], size=ids.len())
    never = rng.random(ids.len()) < 0.35
    starts = pl.DataFrame(
        {"person_id": ids, "start_week": pl.Series(start).set(pl.Series(never), None)}
    )
    extra = pl.DataFrame({"person_id": [1, 2, 3], "start_week": [first + 60] * 3})
    pl.concat([starts, extra.cast(starts.schema)]).write_csv(tmp_path / "starts.csv")
    config = parse_config(
        {"observational": {"starts": "starts.csv", "leads": 3, "lags": 4, "period": "month"}},
        base_dir=tmp_path,
    )
    ctx = ReportContext(
        config,
        inputs.persons,
        inputs.flow,
        inputs.randomised,
        tmp_path / "out",
        DisclosureLog(5),
        register=inputs.register,
    )
    section = run_section(ctx, SPEC)
    assert "observational" not in ctx.skipped, ctx.skipped
    assert list(ctx.results["observational"]) == ["twfe", "callaway_santanna", "sun_abraham"]
    n_never = ctx.results["observational"]["callaway_santanna"].glance()["n_never_treated"].item()
    assert n_never == int(never.sum())
    direct = event_study_register(
        inputs.register, "employment", starts, leads=3, lags=4, period="month"
    )
    mine = ctx.results["observational"]["twfe"]
    np.testing.assert_allclose(mine.tidy()["estimate"], direct.tidy()["estimate"], rtol=1e-10)
    # Callaway-Sant'Anna on a person-month panel built here by a polars group-by (the section
    # uses np.add.reduceat over the register's state array)
    reg = inputs.register
    rows = reg.require_rows(ids, column="person_id")
    emp = reg.codemap.mask("employment")[reg.states[rows]].astype(np.float64)
    month = months_of_weeks(np.asarray(reg.weeks)).astype(np.int64)
    weekly = pl.DataFrame(
        {
            "person_id": np.repeat(ids.to_numpy(), month.size),
            "period": np.tile(month, ids.len()),
            "y": emp.ravel(),
        }
    )
    start_month = starts.with_columns(
        start=pl.Series(months_of_weeks(start).astype(np.int64)).set(pl.Series(never), None)
    ).select("person_id", "start")
    monthly = (
        weekly.group_by("person_id", "period")
        .agg(pl.col("y").mean())
        .join(start_month, on="person_id")
    )
    cs = callaway_santanna(monthly, outcome="y", unit="person_id", time="period", start="start")
    mine_cs = ctx.results["observational"]["callaway_santanna"].tidy()
    np.testing.assert_allclose(mine_cs["estimate"], cs.tidy()["estimate"], rtol=1e-10)
    np.testing.assert_allclose(mine_cs["std_error"], cs.tidy()["std_error"], rtol=1e-10)
    notes = " ".join(ctx.tables["observational_event_time"].notes)
    assert "rows of the starts file are not analysed persons" in notes
    files = [p for p in (tmp_path / "out").rglob("*") if p.is_file() and p.suffix != ".png"]
    assert {p.suffix for p in files} == {".csv", ".md", ".tex", ".svg"}
    text = "".join(p.read_text() for p in files) + " ".join(section.paragraphs)
    id_strings = {str(i) for i in ids.to_list()}
    assert not any(s in text for s in id_strings)
