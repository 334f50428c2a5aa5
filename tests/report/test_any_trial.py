"""The report on a trial that is not shaped like the reference study (issue 19, item 6).

The fixture is a simulated trial transformed the way a new user's data differ: own column
names (mapped with ``[input].rename``), no waiting-time dates, no UW-SES items, no belief /
expectation questions, an own code map whose sets have other names and which has no
activation states, a wide CSV register without employment columns and a separate weekly
employment table. The report must run, and say in one sentence per section or part what it
left out and why; ``config --check`` must print the same plan.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from dreamkit.cli import main
from dreamkit.config import load_config
from dreamkit.errors import ConfigError, EstimationError
from dreamkit.pipeline import ReportResult, run_report
from dreamkit.register.calendar import week_label
from dreamkit.report.context import ReportContext
from dreamkit.report.disclosure import DisclosureLog
from dreamkit.report.plan import NO_STARTS
from dreamkit.report.sections import SectionSpec, run_section
from dreamkit.report.sections.activation import activation_section
from dreamkit.report.sections.prognostic import prognostic_section
from dreamkit.simulate import simulate_trial

DEFAULT_MAP = (
    Path(__file__).parents[2] / "dreamkit" / "register" / "codemaps" / "dream_default.toml"
)
RENAME = {
    "kommune": "municipality",
    "hold": "team",
    "arm": "treated",
    "randdato": "allocation_date",
}

NO_UWSES = "the trial table has no UW-SES score"
NO_WAIT = "the trial table has no waiting-time column"
NO_ACTIVATION = "the code map has no set or state 'activation_guidance'"
NO_HORIZONS = "no horizons configured ([horizons].months)."


def _own_codemap() -> str:
    """The default map with the activation states renamed and other set names."""
    text = DEFAULT_MAP.read_text(encoding="utf-8")
    text = text[: text.index("\n[sets]") + 1]
    text = text.replace('name = "dream-default"', 'name = "own-study"')
    text = text.replace("[states.activation_guidance]", "[states.sick_guidance]")
    text = text.replace("[states.activation_firm]", "[states.sick_firm]")
    sick = '"sickness_benefit", "job_clarification", "sickness_benefit_flexjob", '
    sick += '"resource_course", "sick_guidance", "sick_firm"'
    return text + (
        "[sets]\n"
        'job = ["ordinary_employment"]\n'
        f'sick_any = [{sick}, "sheltered_job", "disability_pension"]\n'
        f"sick_spell = [{sick}]\n"
    )


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("own_trial")
    sim = simulate_trial(seed=5)
    trial = sim.trial.drop(
        "team_last_allocation",
        "waiting_days",
        "allocation_week",
        "uwses",
        *[f"uwses_{k}" for k in range(1, 7)],
        "belief_in_treatment",
        "expected_return",
    ).rename({"person_id": "pnr", **{v: k for k, v in RENAME.items()}})
    trial.write_csv(d / "trial.csv")
    wide = sim.wide_codes()
    wide = wide.select(c for c in wide.columns if not c.startswith("branche_"))
    wide.rename({"person_id": "pnr"}).write_csv(d / "register.csv")
    rows, cols = np.nonzero(sim.employed)
    weeks = sim.register.weeks
    pl.DataFrame(
        {
            "pnr": wide["person_id"].to_numpy()[rows],
            "week": [week_label(int(w)) for w in weeks[cols]],
            "employed": np.ones(rows.size, dtype=np.int8),
        }
    ).write_csv(d / "employment.csv")
    (d / "codemap.toml").write_text(_own_codemap(), encoding="utf-8")
    rename = ", ".join(f'{k} = "{v}"' for k, v in RENAME.items())
    (d / "analysis.toml").write_text(
        "[input]\n"
        'source = "files"\n'
        'register = "register.csv"\n'
        'trial = "trial.csv"\n'
        'codemap = "codemap.toml"\n'
        'employment = "employment.csv"\n'
        'employment_unit = "week"\n'
        'person = "pnr"\n'
        f"rename = {{ {rename} }}\n"
        "[outcomes]\n"
        'employment_set = "job"\n'
        'sickness_set = "sick_any"\n'
        'sickness_duration_set = "sick_spell"\n'
        "weeks = 26\n"
        "pre_weeks = 26\n"
        "[self_efficacy]\n"
        "grid = [10]\n"
        "[inference]\n"
        "bootstrap_draws = 19\n"
        "ri_draws = 19\n",
        encoding="utf-8",
    )
    return d


@pytest.fixture(scope="module")
def report(files: Path) -> ReportResult:
    return run_report(load_config(files / "analysis.toml"), files / "out", progress=False)


def _paragraphs(result: ReportResult) -> list[str]:
    import html

    text = result.html.read_text(encoding="utf-8")
    return [html.unescape(p) for p in re.findall(r"<p>(.*?)</p>", text)]


def test_sections_that_lack_inputs_are_skipped_with_one_sentence(report: ReportResult) -> None:
    skipped = report.skipped
    assert set(skipped) == {
        "self-efficacy",
        "peers",
        "activation",
        "descriptive: waiting-time split",
        "descriptive: self-efficacy groups",
        "balance: waiting-time split",
        "balance: self-efficacy groups",
        "survival: waiting-time split",
        "subgroups: waiting-time split",
        "horizons",
        "observational",
    }
    assert skipped["observational"] == f"Skipped: {NO_STARTS}"
    assert skipped["self-efficacy"].startswith(f"Skipped: {NO_UWSES}")
    assert skipped["peers"].startswith(f"Skipped: {NO_UWSES}")
    assert skipped["activation"].startswith(f"Skipped: {NO_ACTIVATION}")
    assert skipped["horizons"] == f"Skipped: {NO_HORIZONS}"
    assert NO_WAIT in skipped["survival: waiting-time split"]
    paragraphs = _paragraphs(report)
    for sentence in skipped.values():
        assert sentence in paragraphs  # each reason is one paragraph of the report
        assert sentence.count(". ") == 0  # one sentence


def test_sections_with_inputs_run_on_the_own_names(report: ReportResult) -> None:
    for table in (
        "sample_flow",
        "descriptive",
        "balance",
        "prognostic",
        "hazard",
        "effect_path_emp",
        "effect_path_sick",
        "robustness",
        "subgroups",
    ):
        assert table in report.tables, table
    assert "selfefficacy_emp" not in report.tables and "peers" not in report.tables
    descriptive = report.tables["descriptive"].frame
    assert descriptive.columns == ["variable", "all", "course", "control"]
    assert report.tables["balance"].frame.columns == ["variable", "all"]
    subgroups = report.tables["subgroups"].frame["subgroup"].to_list()
    assert not any("wait" in s for s in subgroups)
    assert any(s.startswith("female") for s in subgroups)
    # the default covariates the trial lacks are left out, with a note
    paths = report.results["paths"]["emp"].path
    assert paths.tidy().height == 26
    notes = " ".join(_paragraphs(report))
    assert "belief_in_treatment, expected_return are not in the trial table" in notes
    # the weekly employment table was read: the employment path varies
    assert report.tables["effect_path_emp"].frame.height > 0


def test_weekly_employment_table_gives_the_employment_outcome(report: ReportResult) -> None:
    persons = report.results["outcomes"].persons
    assert persons["emp_share_26"].max() > 0.0


def test_no_person_identifier_in_any_output(files: Path, report: ReportResult) -> None:
    ids = pl.read_csv(files / "trial.csv")["pnr"].cast(pl.String).to_list()
    out = files / "out"
    texts = [
        p.read_text(encoding="utf-8") for p in out.rglob("*") if p.is_file() and p.suffix != ".png"
    ]
    assert len(texts) > 20
    pattern = re.compile(r"\b(" + "|".join(ids) + r")\b")
    assert not any(pattern.search(t) for t in texts)


def test_config_check_prints_the_plan(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "--check", str(files / "analysis.toml")]) == 0
    out = capsys.readouterr().out
    assert "configuration is valid" in out
    assert "  runs:     Effect paths" in out
    assert "  runs:     Balance" in out
    assert f"  skipped:  Heterogeneity by self-efficacy: {NO_UWSES}" in out
    assert f"  skipped:  Peer composition: {NO_UWSES}" in out
    assert f"  skipped:  Activation outcomes: {NO_ACTIVATION}" in out
    assert f"  skipped:  Status at horizons and binary outcomes: {NO_HORIZONS}" in out
    assert (
        f"  left out: waiting-time split (in descriptive, balance, survival, subgroups): {NO_WAIT}"
        in out
    )
    assert "note:     Prognostic covariates" in out


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        # a required column not mapped: the typed error names the column and the fix
        (lambda t: t.replace('hold = "team", ', ""), "the trial table has no column 'team'"),
        # a set the own code map does not have: named with the key and the map's sets
        (
            lambda t: t.replace('employment_set = "job"', 'employment_set = "employment"'),
            "[outcomes].employment_set names 'employment', which is neither a set nor a state",
        ),
        # a covariate named in the configuration itself must exist
        (
            lambda t: t + '[covariates]\nprognostic = ["age", "belief"]\n',
            "[covariates].prognostic names column 'belief'",
        ),
        (lambda t: t.replace('hold = "team"', 'hold = "municipality"'), "maps two columns"),
    ],
)
def test_config_check_finds_what_the_data_lack(
    files: Path, capsys: pytest.CaptureFixture[str], edit: object, message: str
) -> None:
    text = (files / "analysis.toml").read_text(encoding="utf-8")
    bad = files / "bad.toml"
    bad.write_text(edit(text), encoding="utf-8")  # type: ignore[operator]
    assert main(["config", "--check", str(bad)]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1


def _context(tmp_path: Path, **columns: object) -> ReportContext:
    rng = np.random.default_rng(1)
    n = 80
    persons = pl.DataFrame(
        {
            "person_id": np.arange(n) + 10_000,
            "municipality": np.repeat(["a", "b"], n // 2),
            "team": np.repeat(np.arange(8), n // 8),
            "treated": np.tile([1, 0], n // 2).astype(np.int8),
            "x": rng.normal(size=n),
            "emp_share_26": rng.uniform(size=n),
            "sick_share_26": rng.uniform(size=n),
            **columns,
        }
    )
    text = (
        "[outcomes]\nweeks = 26\npre_weeks = 26\n[covariates]\nprognostic = []\nsubgroups = []\n"
        "[inference]\nbootstrap_draws = 19\nri_draws = 19\n"
    )
    import tomllib

    from dreamkit.config import parse_config

    config = parse_config(tomllib.loads(text))
    trial = persons.select("person_id", "municipality", "team", "treated", "x")
    return ReportContext(config, persons, pl.DataFrame(), trial, tmp_path, DisclosureLog(5))


def test_an_outcome_at_zero_for_every_control_does_not_stop_the_tobit(tmp_path: Path) -> None:
    # failure (3) of the issue: a share that is zero for everyone made the Tobit unidentified
    ctx = _context(tmp_path, sick_share_26=np.zeros(80))
    section = prognostic_section(ctx)
    ranking = ctx.results["prognostic"]
    assert ranking["outcome"].unique().to_list() == ["emp_share_26"]
    notes = ctx.tables["prognostic"].notes
    assert any(
        "sickness share: not estimable: every control has the same share" in n for n in notes
    )
    assert section.items


def test_an_activation_share_without_variation_is_a_not_estimable_row(tmp_path: Path) -> None:
    n = 80
    ctx = _context(
        tmp_path, act_guidance_share_26=np.zeros(n), act_firm_share_26=np.linspace(0, 0.5, n)
    )
    activation_section(ctx)
    frame = ctx.tables["activation_effects"].frame
    assert frame["effect (se)"].to_list()[0] == "not estimable"
    assert frame["effect (se)"].to_list()[1] != "not estimable"
    assert any(
        "activation_guidance: every analysed person has the same share" in n
        for n in ctx.tables["activation_effects"].notes
    )
    # the firm row is the ITT of model (2): equal to effect_path's own estimate
    est = ctx.results["activation"]["activation_firm"].tidy()["estimate"][0]
    assert frame["effect (se)"][1].startswith(f"{est:.3f}")


def test_a_refused_model_becomes_one_sentence_and_a_bug_propagates(tmp_path: Path) -> None:
    ctx = _context(tmp_path)

    def refuse(_: ReportContext) -> object:
        ctx.add_table(ctx.tables.get("x") or _dummy_table())
        raise EstimationError("the model is not identified.")

    spec = SectionSpec("x", "x-section", "X", refuse)  # type: ignore[arg-type]
    section = run_section(ctx, spec)
    assert section.paragraphs == ["Not estimable: the model is not identified."]
    assert ctx.skipped["x-section"] == section.paragraphs[0]
    assert "dummy" not in ctx.tables  # nothing half-published
    assert not (tmp_path / "tables" / "dummy.csv").exists()

    def bug(_: ReportContext) -> object:
        raise KeyError("a bug")

    with pytest.raises(KeyError):
        run_section(ctx, SectionSpec("y", "y-section", "Y", bug))  # type: ignore[arg-type]


def _dummy_table() -> object:
    from dreamkit.report.tables import Table

    return Table.from_rows("dummy", "dummy", ["a"], [[1]], notes=["N = 1"])


def test_explicit_subgroup_that_is_not_binary_is_a_config_error(tmp_path: Path) -> None:
    from dreamkit.report.plan import resolve_columns

    ctx = _context(tmp_path)
    config = ctx.config.__class__(
        covariates=ctx.config.covariates.__class__(prognostic=(), subgroups=("x",))
    )
    with pytest.raises(ConfigError, match="which is not 0/1"):
        resolve_columns(ctx.persons, config)


def test_a_default_column_in_another_coding_is_left_out_with_a_note(tmp_path: Path) -> None:
    from dreamkit.config import Config
    from dreamkit.pipeline import _booleans_as_01
    from dreamkit.report.plan import resolve_columns

    n = 80
    ctx = _context(
        tmp_path,
        female=np.where(np.arange(n) % 2 == 0, "F", "M"),  # a default subgroup, as text
        partner=np.arange(n) % 3 == 0,  # a default subgroup, as booleans
        ordinary_job=np.ones(n, dtype=np.int8),
    )
    config, notes = resolve_columns(_booleans_as_01(ctx.persons), Config())
    assert config.covariates.subgroups == ("partner", "ordinary_job")
    assert config.covariates.prognostic == ("ordinary_job",)
    assert any(n.startswith("Subgroups: the reference study's female, age_50plus") for n in notes)
    assert any("not 0/1" in n for n in notes)


def test_missing_values_and_a_degenerate_split_do_not_stop_the_report(tmp_path: Path) -> None:
    """A legal trial table with gaps: every waiting time 0 (all allocated on the team's last
    day), some UW-SES items and a default covariate missing. The report runs; what cannot be
    estimated says why."""
    sim = simulate_trial(seed=7)
    late = pl.col("age") > 55
    trial = sim.trial.drop("waiting_days", "allocation_week", "uwses").with_columns(
        pl.col("allocation_date").alias("team_last_allocation"),
        pl.when(late).then(None).otherwise(pl.col("uwses_1")).alias("uwses_1"),
        pl.when(late)
        .then(None)
        .otherwise(pl.col("belief_in_treatment"))
        .alias("belief_in_treatment"),
    )
    trial.write_parquet(tmp_path / "trial.parquet")
    sim.wide_codes().write_parquet(tmp_path / "register.parquet")
    (tmp_path / "a.toml").write_text(
        '[input]\nsource = "files"\nregister = "register.parquet"\ntrial = "trial.parquet"\n'
        "[outcomes]\nweeks = 13\npre_weeks = 26\n[self_efficacy]\ngrid = [10]\n"
        "[inference]\nbootstrap_draws = 9\nri_draws = 9\n",
        encoding="utf-8",
    )
    result = run_report(load_config(tmp_path / "a.toml"), tmp_path / "out", progress=False)
    skipped = result.skipped
    assert skipped["balance: waiting-time split"].endswith("has no person in an arm.")
    assert skipped["balance: self-efficacy groups"].endswith("missing value.")
    assert "missing values in column(s) 'uwses'" in skipped["self-efficacy"]
    assert "'uwses' has" in skipped["peers"]
    assert {"effect-paths", "balance", "prognostic", "subgroups"}.isdisjoint(skipped)
    paragraphs = " ".join(_paragraphs(result))
    assert "belief_in_treatment" in paragraphs and "left out" in paragraphs
    assert "belief_in_treatment" not in result.results["paths"]["emp"].path.tidy()["term"]


def test_a_variable_whose_tobit_fails_is_left_out_of_the_ranking(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dreamkit.estimate.linear.prognostic as prognostic

    real = prognostic.prognostic_selection

    def fussy(data: pl.DataFrame, outcomes: list[str], variables: list[str]) -> pl.DataFrame:
        if "bad" in variables:
            raise EstimationError("the Tobit information matrix is singular (collinear x?).")
        return real(data, outcomes, variables)

    monkeypatch.setattr(prognostic, "prognostic_selection", fussy)
    rng = np.random.default_rng(2)
    ctx = _context(tmp_path, bad=rng.normal(size=80), z=rng.normal(size=80))
    ctx = ReportContext(
        ctx.config,
        ctx.persons,
        ctx.flow,
        ctx.persons.select("person_id", "municipality", "team", "treated", "x", "bad", "z"),
        tmp_path,
        DisclosureLog(5),
    )
    prognostic_section(ctx)
    ranking = ctx.results["prognostic"]
    assert set(ranking["variable"]) == {"x", "z"}
    assert sorted(ranking.filter(pl.col("outcome") == "emp_share_26")["rank"]) == [1, 2]
    notes = ctx.tables["prognostic"].notes
    assert "employment share, bad: not estimable: the Tobit information matrix" in " ".join(notes)


def test_weeks_where_everyone_has_the_same_share_are_left_out_of_the_path(tmp_path: Path) -> None:
    """Everyone on sick leave in weeks 1-2 after allocation: employment shares 0 for all, so
    tau_1 = tau_2 = 0 with standard error 0; the path, band and p-values cover weeks 3-26."""
    from dreamkit.report.sections import SECTIONS

    rng = np.random.default_rng(4)
    n = 80
    emp = np.cumsum(rng.uniform(size=(n, 26)) < 0.3, axis=1) / np.arange(1, 27)
    emp[:, :2] = 0.0
    sick = 1.0 - emp
    shares = {f"emp_share_{w}": emp[:, w - 1] for w in range(1, 27)}
    shares |= {f"sick_share_{w}": sick[:, w - 1] for w in range(1, 27)}
    ctx = _context(tmp_path, **shares)
    by_id = {spec.id: spec for spec in SECTIONS}
    run_section(ctx, by_id["effect-paths"])
    run_section(ctx, by_id["robustness"])
    weeks = ctx.results["paths"]["emp"].path.tidy()["week"].to_list()
    assert weeks == list(range(3, 27))
    assert ctx.results["paths"]["sick"].path.tidy()["week"].to_list() == weeks
    assert "week(s) 1-2, so tau_w = 0" in ctx.skipped["effect-paths: weeks"]
    assert set(ctx.skipped) == {"effect-paths: weeks"}
    assert "robustness" in ctx.tables
    assert pl.read_csv(tmp_path / "tables" / "effect_path_emp_all_weeks.csv")["week"][0] == 3
