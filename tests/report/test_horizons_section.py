"""The optional report section "Status at horizons and binary outcomes" ([horizons]).

Counts are checked against :func:`dreamkit.outcomes.status_at_horizons` run directly; the
chi-square and Fisher p-values against scipy (``chi2_contingency(correction=False)``,
``fisher_exact``) to 1e-10 (closed forms); the odds ratio and the risk difference against a
statsmodels ``Logit`` with stratum dummies to 1e-6 (both are maximum-likelihood fits iterated
to convergence, so they agree to the optimiser tolerance, not to machine precision).
"""

from __future__ import annotations

import tomllib
from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import statsmodels.api as sm
from scipy import stats

from dreamkit.config import HorizonsConfig, parse_config
from dreamkit.errors import ConfigError, EstimationError
from dreamkit.estimate.models import logit
from dreamkit.outcomes import status_at_horizons
from dreamkit.pipeline import Inputs, load_inputs
from dreamkit.report.context import ReportContext
from dreamkit.report.disclosure import SUPPRESSED, DisclosureLog
from dreamkit.report.sections import SECTIONS, run_section
from dreamkit.report.sections.horizons import NAME

SPEC = next(s for s in SECTIONS if s.id == NAME)
STATUS_COLUMNS = [
    "horizon",
    "status",
    "N treated",
    "n treated",
    "% treated",
    "N control",
    "n control",
    "% control",
    "chi-square p",
    "Fisher p",
]


@pytest.fixture(scope="module")
def inputs() -> Inputs:
    return load_inputs(parse_config({"horizons": {"months": [6, 12]}}))


def _context(
    inputs: Inputs, out: Path, k: int = 5, persons: pl.DataFrame | None = None
) -> ReportContext:
    return ReportContext(
        inputs.config,
        inputs.persons if persons is None else persons,
        inputs.flow,
        inputs.randomised,
        out,
        DisclosureLog(k),
        plan=inputs.plan,
        register=inputs.register,
    )


@pytest.fixture(scope="module")
def ran(inputs: Inputs, tmp_path_factory: pytest.TempPathFactory) -> ReportContext:
    ctx = _context(inputs, tmp_path_factory.mktemp("horizons"))
    run_section(ctx, SPEC)
    return ctx


def _direct(inputs: Inputs) -> pl.DataFrame:
    trial = inputs.persons.select("person_id", "allocation_week", "treated", "municipality", "team")
    status = status_at_horizons(inputs.register, trial, {"employment": ["employment"]}, [6, 12])
    return status.persons


def test_section_runs_with_both_tables(ran: ReportContext) -> None:
    assert NAME not in ran.skipped
    status = ran.tables["horizons_status"].frame
    assert status.columns == STATUS_COLUMNS
    assert status["horizon"].unique(maintain_order=True).to_list() == ["6m", "12m"]
    assert status["status"].to_list()[:3] == ["employment", "other", "status (2 x 2)"]
    assert ran.tables["horizons_logit"].frame.columns == [
        "horizon",
        "odds ratio",
        "95% CI low",
        "95% CI high",
        "p",
        "risk difference (se)",
        "N",
        "clusters",
    ]
    assert (ran.out_dir / "tables" / "horizons_status.csv").is_file()


def test_counts_and_tests_equal_a_direct_computation(ran: ReportContext, inputs: Inputs) -> None:
    direct = _direct(inputs)
    table = ran.tables["horizons_status"].frame
    for label in ("6m", "12m"):
        at = direct.filter(pl.col(f"status_{label}").is_not_null())
        cross = np.zeros((2, 2), dtype=np.int64)
        for i, t in enumerate((1, 0)):
            arm = at.filter(pl.col("treated") == t)
            for j, s in enumerate(("employment", "other")):
                cross[i, j] = arm.filter(pl.col(f"status_{label}") == s).height
        rows = table.filter(pl.col("horizon") == label)
        assert rows["n treated"].to_list()[:2] == [str(v) for v in cross[0]]
        assert rows["n control"].to_list()[:2] == [str(v) for v in cross[1]]
        assert rows["N treated"][0] == str(cross[0].sum())
        raw = ran.results[NAME]["tests"][label]
        chi2 = stats.chi2_contingency(cross, correction=False)
        row = raw.filter(pl.col("outcome") == "status=employment").row(0, named=True)
        assert row["p_chi2"] == pytest.approx(chi2.pvalue, rel=1e-10)
        assert row["p_fisher"] == pytest.approx(stats.fisher_exact(cross).pvalue, rel=1e-10)
        assert rows["Fisher p"][0] == f"{stats.fisher_exact(cross).pvalue:.3f}"


def test_odds_ratio_and_risk_difference_equal_statsmodels(
    ran: ReportContext, inputs: Inputs
) -> None:
    direct = _direct(inputs).filter(pl.col("status_6m").is_not_null())
    y = (direct["status_6m"] == "employment").cast(pl.Float64).to_numpy()
    dummies = direct["municipality"].to_dummies(drop_first=True).cast(pl.Float64)
    x = np.column_stack([np.ones(direct.height), direct["treated"].to_numpy(), dummies.to_numpy()])
    ref = sm.Logit(y, x).fit(disp=0, tol=1e-12, maxiter=200)
    fit = ran.results[NAME]["logit"]["6m"]
    odds = fit.tidy(exponentiate=True).filter(pl.col("term") == "treated").row(0, named=True)
    assert odds["estimate"] == pytest.approx(np.exp(ref.params[1]), rel=1e-6)
    x1, x0 = x.copy(), x.copy()
    x1[:, 1], x0[:, 1] = 1.0, 0.0
    rd = float(np.mean(ref.predict(x1) - ref.predict(x0)))
    mine = fit.risk_difference("treated").row(0, named=True)["estimate"]
    assert mine == pytest.approx(rd, rel=1e-6)
    row = ran.tables["horizons_logit"].frame.row(0, named=True)
    assert row["odds ratio"] == f"{np.exp(ref.params[1]):.3f}"
    assert row["N"] == str(direct.height)
    # the CRV1 interval and p-value are dk.logit's own (read through tidy())
    again = logit(
        "employment ~ treated | municipality",
        direct.with_columns(employment=pl.Series(y)),
        vcov={"CRV1": "team"},
    )
    t = again.tidy(exponentiate=True).filter(pl.col("term") == "treated").row(0, named=True)
    assert row["95% CI low"] == f"{t['conf_low']:.3f}"
    assert row["p"] == f"{t['p_value']:.3f}"


def test_separation_gives_a_not_estimable_row(ran: ReportContext, inputs: Inputs) -> None:
    """At 12 months a municipality has no one employed: the logit is not identified."""
    direct = _direct(inputs).filter(pl.col("status_12m").is_not_null())
    frame = direct.with_columns(employment=(pl.col("status_12m") == "employment").cast(pl.Int8))
    with pytest.raises(EstimationError):
        logit("employment ~ treated | municipality", frame, vcov={"CRV1": "team"})
    cell = ran.tables["horizons_logit"].frame.row(1, named=True)["odds ratio"]
    assert cell.startswith("not estimable: ")


def test_without_horizons_the_section_is_one_sentence(tmp_path: Path, inputs: Inputs) -> None:
    config = replace(inputs.config, horizons=HorizonsConfig())
    ctx = _context(replace(inputs, config=config, plan=_plan(inputs, config)), tmp_path)
    section = run_section(ctx, SPEC)
    sentence = "Skipped: no horizons configured ([horizons].months)."
    assert section.paragraphs == [sentence] and ctx.skipped[NAME] == sentence
    assert not ctx.tables
    assert any("Status at horizons" in line and "skipped" in line for line in ctx.runs.lines())


def _plan(inputs: Inputs, config: object) -> object:
    from dreamkit.report.plan import make_plan

    return make_plan(inputs.persons, inputs.randomised, config)  # type: ignore[arg-type]


def test_unknown_success_set_is_skipped_with_a_sentence(tmp_path: Path, inputs: Inputs) -> None:
    config = replace(
        inputs.config, horizons=HorizonsConfig(months=(6,), success={"job": ("no_such_set",)})
    )
    ctx = _context(replace(inputs, config=config), tmp_path)
    section = run_section(ctx, SPEC)
    assert section.paragraphs[0].startswith("Skipped: no success status")
    assert "'no_such_set'" in section.paragraphs[0]


def _published_ints(frame: pl.DataFrame, columns: list[str]) -> list[int]:
    return [int(v) for c in columns for v in frame[c].to_list() if v.isdigit()]


@pytest.mark.parametrize("k", [5, 60])
def test_small_cells_are_suppressed(tmp_path: Path, inputs: Inputs, k: int) -> None:
    persons = inputs.persons.head(40) if k == 5 else inputs.persons
    ctx = _context(inputs, tmp_path, k=k, persons=persons)
    run_section(ctx, SPEC)
    table = ctx.tables["horizons_status"].frame
    counts = _published_ints(table, ["N treated", "n treated", "N control", "n control"])
    assert all(v == 0 or v >= k for v in counts)
    assert (table == SUPPRESSED).to_numpy().any()
    # an arm's status counts add up to its N: never exactly one of them hidden
    for label in ("6m", "12m"):
        rows = table.filter(pl.col("horizon") == label).head(2)
        for col in ("n treated", "n control"):
            assert rows[col].to_list().count(SUPPRESSED) != 1
    assert ctx.log.entries
    # p-values are a function of the counts given the arms' N: hidden with them
    for label in ("6m", "12m"):
        rows = table.filter(pl.col("horizon") == label)
        if (rows.head(2) == SUPPRESSED).to_numpy().any():
            assert set(rows["Fisher p"].to_list()) == {SUPPRESSED}
    # an estimator's reason never carries counts into the table
    for cell in ctx.tables["horizons_logit"].frame["odds ratio"].to_list():
        assert "persons)" not in cell


def test_no_person_identifier_in_outputs(ran: ReportContext, inputs: Inputs) -> None:
    ids = {str(v) for v in inputs.persons["person_id"].to_list()}
    ids = {i for i in ids if len(i) > 4}  # short ids coincide with counts
    text = " ".join(
        p.read_text(encoding="utf-8") for p in (ran.out_dir / "tables").glob("horizons_*")
    )
    assert ids and not any(i in text for i in ids)


def test_config_keys_are_validated() -> None:
    assert parse_config({}).horizons == HorizonsConfig()
    c = parse_config(
        tomllib.loads('[horizons]\nmonths = [6, 12]\nsuccess = { job = ["employment"] }\n')
    )
    assert c.horizons.months == (6, 12) and c.horizons.success == {"job": ("employment",)}
    for bad in (
        {"months": "6"},
        {"months": [6, 6]},
        {"months": [0]},
        {"success": ["employment"]},
        {"success": {"job": []}},
        {"weeks_in_set": 0},
        {"horizon": [6]},
    ):
        with pytest.raises(ConfigError, match=r"\[horizons\]"):
            parse_config({"horizons": bad})


def test_a_horizon_beyond_the_register_skips_with_the_reason(
    tmp_path: Path, inputs: Inputs
) -> None:
    config = replace(inputs.config, horizons=HorizonsConfig(months=(6, 60)))
    ctx = _context(replace(inputs, config=config), tmp_path)
    section = run_section(ctx, SPEC)
    assert section.paragraphs[0].startswith("Skipped: nobody is followed up to horizon '60m'")
    assert not ctx.tables  # nothing half-published
