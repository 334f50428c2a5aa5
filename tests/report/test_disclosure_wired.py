"""The report's tables of counts with totals, and its subgroup splits against the full sample,
attacked through the published CSV files (issue 17, item 4).

An adversarial trial: the simulated reference trial with 3 unmatched persons (the sample flow's
only non-zero exclusion, so its total would equal it) and 3 persons without a value of the
subgroup column ``partner`` (so the full sample minus the two published ``partner`` levels
would reveal 3 persons). The attacker reads the CSV tables, knows that counts are
non-negative integers and that published counts add up; every count hidden from them must
keep a feasible range at least ``k`` wide (exact algebra below), and the audit
(``disclosure_audit.csv``) must list each hidden cell with its kind.
"""

from __future__ import annotations

import polars as pl
import pytest

from dreamkit.config import load_config
from dreamkit.pipeline import ReportResult, run_report
from dreamkit.report.disclosure import SUPPRESSED
from dreamkit.simulate import simulate_trial

K = 5
N_UNMATCHED = 3
N_NO_PARTNER = 3


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> ReportResult:
    d = tmp_path_factory.mktemp("tiny_cells")
    sim = simulate_trial(seed=11, n_unmatched=N_UNMATCHED)
    ids = sim.trial["person_id"].to_list()[:N_NO_PARTNER]  # matched persons come first
    trial = sim.trial.with_columns(
        pl.when(pl.col("person_id").is_in(ids))
        .then(None)
        .otherwise(pl.col("partner"))
        .alias("partner")
    )
    trial.write_parquet(d / "trial.parquet")
    sim.wide_codes().write_parquet(d / "register.parquet")
    (d / "a.toml").write_text(
        '[input]\nsource = "files"\nregister = "register.parquet"\ntrial = "trial.parquet"\n'
        f"[disclosure]\nmin_cell = {K}\n"
        "[outcomes]\nweeks = 13\npre_weeks = 26\n[self_efficacy]\ngrid = [10]\n"
        "[inference]\nbootstrap_draws = 9\nri_draws = 9\n",
        encoding="utf-8",
    )
    return run_report(load_config(d / "a.toml"), d / "out", progress=False)


def _csv(result: ReportResult, name: str) -> pl.DataFrame:
    path = result.html.parent / "tables" / f"{name}.csv"
    return pl.read_csv(path, infer_schema=False)


def _audit(result: ReportResult) -> pl.DataFrame:
    return pl.read_csv(result.html.parent / "disclosure_audit.csv", infer_schema=False)


def test_the_flow_total_does_not_reveal_its_only_exclusion(report: ReportResult) -> None:
    flow = _csv(report, "sample_flow")
    excluded = flow["excluded"].to_list()[1:]
    hidden = [v == SUPPRESSED for v in excluded]
    shown = sum(int(v) for v in excluded if v != SUPPRESSED)
    assert any(hidden), "the 3 unmatched persons must be hidden"
    randomised = flow["remaining"][0]
    n_analysed = flow["remaining"][-1]
    if randomised != SUPPRESSED and n_analysed != SUPPRESSED:
        # the hidden exclusions add up to randomised - analysed - shown; each lies in [0, that]
        rest = int(randomised) - int(n_analysed) - shown
        assert sum(hidden) >= 2 and rest >= K
    # the randomised count (the total) is hidden, so the sum of the hidden cells is unknown
    assert randomised == SUPPRESSED
    # the running "remaining" counts do not give the hidden count away either
    remaining = flow["remaining"].to_list()
    for i, h in enumerate(hidden):
        if h:
            before, after = remaining[i], remaining[i + 1]
            assert SUPPRESSED in (before, after)


def test_subgroups_are_not_differenced_against_the_full_sample(report: ReportResult) -> None:
    sub = _csv(report, "subgroups")
    n_all = _csv(report, "sample_flow")["remaining"][-1]
    recovered: list[str] = []
    for col in ("female", "partner", "higher_education"):
        rows = sub.filter(pl.col("subgroup").str.starts_with(f"{col} ="))
        if rows.is_empty():
            continue
        ns = rows.group_by("subgroup").agg(pl.col("N").first())["N"].to_list()
        if SUPPRESSED in ns or "not estimable" in ns:
            continue
        remainder = int(n_all) - sum(int(v) for v in ns)
        if 0 < remainder < K:
            recovered.append(f"{col}: {remainder}")
    assert not recovered, recovered
    partner = sub.filter(pl.col("subgroup").str.starts_with("partner ="))
    assert set(partner["N"].to_list()) == {SUPPRESSED}


def test_the_audit_lists_every_suppression_with_its_kind(report: ReportResult) -> None:
    audit = _audit(report)
    assert audit.height == len(report.disclosure.entries)
    assert set(audit["kind"].to_list()) <= {"primary", "secondary", "nested", "dominance", "other"}
    flow = audit.filter(pl.col("output") == "sample_flow")
    assert {"primary", "secondary"} <= set(flow["kind"].to_list())
    assert "excluded: not in register" in flow["cell"].to_list()
    sub = audit.filter(pl.col("output") == "subgroups")
    cells = set(sub["cell"].to_list())
    assert {"partner = 1", "partner = 0", "partner without a value, control"} & cells
    assert "nested" in set(sub["kind"].to_list())
    # the HTML listing carries the same rows
    text = report.html.read_text(encoding="utf-8")
    assert text.count("<tr><td>subgroups</td>") == sub.height
    # no person identifier in the audit
    assert not audit.select(pl.all().str.contains(r"\b1\d{5}\b").any()).row(0)[0]
