"""Sample-flow and descriptive sections on a hand-made person table (disclosure rules)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from dreamkit.config import parse_config
from dreamkit.errors import EstimationError
from dreamkit.report.context import ReportContext
from dreamkit.report.disclosure import SUPPRESSED, DisclosureLog
from dreamkit.report.sections.descriptive import descriptive_section
from dreamkit.report.sections.flow import flow_section
from dreamkit.report.sections.heterogeneity import selfefficacy_section
from dreamkit.report.sections.robustness import subgroups_section
from dreamkit.report.tables import NOT_ESTIMABLE


def _context(tmp_path: Path) -> ReportContext:
    rng = np.random.default_rng(3)
    n = 60
    persons = pl.DataFrame(
        {
            "person_id": np.arange(n) + 10_000,
            "municipality": np.repeat(["a", "b"], n // 2),
            "team": np.repeat(np.arange(6), n // 6),
            "treated": np.tile([1, 1, 1, 0, 0], n // 5).astype(np.int8),
            "waiting_days": rng.integers(0, 40, n),
            "uwses": rng.integers(0, 25, n),
            "rare": (np.arange(n) < 3).astype(np.int8),  # 3 persons have it
            "score": rng.normal(size=n),
            "emp_share_81": rng.uniform(size=n),
            "sick_share_81": rng.uniform(size=n),
        }
    )
    randomised = pl.concat([persons, persons.head(9).with_columns(pl.col("person_id") + 500)])
    flow = pl.DataFrame(
        {
            "step": ["not in register", "register too short"],
            "reason": ["id not found in DREAM", "register does not cover weeks -104..81"],
            "removed": [2, 7],
            "remaining": [67, 60],
        }
    )
    config = parse_config({"covariates": {"prognostic": ["score"], "subgroups": ["rare"]}})
    return ReportContext(config, persons, flow, randomised, tmp_path, DisclosureLog(5))


def test_flow_suppresses_small_counts_and_what_would_reveal_them(tmp_path: Path) -> None:
    ctx = _context(tmp_path)
    flow_section(ctx)
    table = ctx.tables["sample_flow"].frame
    assert table["excluded"].to_list() == ["", SUPPRESSED, SUPPRESSED]
    # the remaining count after the first suppressed step would give 69 - 67 = 2
    assert table["remaining"].to_list() == ["69", SUPPRESSED, "60"]
    assert (tmp_path / "figures" / "sample_flow.png").is_file()
    assert {e.output for e in ctx.log.entries} == {"sample_flow"}


def test_descriptive_suppresses_rare_binary_and_small_groups(tmp_path: Path) -> None:
    ctx = _context(tmp_path)
    descriptive_section(ctx, ["rare", "score"])
    frame = ctx.tables["descriptive"].frame
    rare = frame.filter(pl.col("variable") == "rare").row(0)
    # 3 persons have it: every group holding any of them is suppressed, others show 0
    assert rare[1] == SUPPRESSED  # all
    assert all(cell in (SUPPRESSED, "0.000") for cell in rare[1:])
    score = frame.filter(pl.col("variable") == "score").row(0, named=True)
    expected = ctx.persons.filter(pl.col("treated") == 1)["score"].mean()
    assert score["course"] == f"{expected:.3f}"
    assert "N = 60 persons" in ctx.tables["descriptive"].notes[0]


def test_selfefficacy_cutoffs_with_small_cells_are_suppressed_not_fitted(tmp_path: Path) -> None:
    ctx = _context(tmp_path)
    selfefficacy_section(ctx)
    frame = ctx.tables["selfefficacy_emp"].frame
    treated = ctx.persons["treated"].to_numpy()
    scores = ctx.persons["uwses"].to_numpy()
    kept: list[int] = []  # published low groups (and the descriptive one) differ by 0 or >= 5
    for row in sorted(frame.iter_rows(named=True), key=lambda r: int(r["cut-off"])):
        c = int(row["cut-off"])
        smallest = min(
            int((((scores <= c) == low) & (treated == arm)).sum())
            for low in (True, False)
            for arm in (0, 1)
        )
        bands = [
            int(((scores > min(o, c)) & (scores <= max(o, c)) & (treated == arm)).sum())
            for o in (*kept, ctx.config.self_efficacy.cutoff)
            for arm in (0, 1)
        ]
        publishable = smallest >= 5 and not any(0 < b < 5 for b in bands)
        assert (row["low: effect (se)"] != SUPPRESSED) == publishable, c
        if publishable:
            kept.append(c)


def test_subgroup_with_a_small_arm_is_suppressed(tmp_path: Path) -> None:
    ctx = _context(tmp_path)
    subgroups_section(ctx)
    rows = ctx.tables["subgroups"].frame.filter(pl.col("subgroup").str.starts_with("rare"))
    assert rows.height == 2
    assert all(row[1:] == (SUPPRESSED,) * 6 for row in rows.iter_rows())
    assert any(e.output == "subgroups" for e in ctx.log.entries)


def test_a_subgroup_the_estimator_refuses_is_marked_with_its_reason(tmp_path: Path) -> None:
    ctx = _context(tmp_path)
    rng = np.random.default_rng(9)
    half = (np.arange(ctx.n_persons) < ctx.n_persons // 2).astype(np.int8)
    a = rng.normal(size=ctx.n_persons)
    b = np.where(half == 1, 2.0 * a, rng.normal(size=ctx.n_persons))  # collinear in half = 1
    ctx.persons = ctx.persons.with_columns(
        pl.Series("half", half), pl.Series("a", a), pl.Series("b", b)
    )
    ctx.config = parse_config({"covariates": {"prognostic": ["a", "b"], "subgroups": ["half"]}})
    subgroups_section(ctx)
    table = ctx.tables["subgroups"]
    half_rows = table.frame.filter(pl.col("subgroup").str.starts_with("half"))
    assert half_rows["effect (se)"].to_list() == [NOT_ESTIMABLE, NOT_ESTIMABLE]
    assert any(note.startswith("half: not estimable:") for note in table.notes)


def test_a_peer_model_the_estimator_refuses_is_reported_not_fatal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dreamkit.estimate.linear.peers as peers
    import dreamkit.report.sections.heterogeneity as section

    def refuse(*args: object, **kwargs: object) -> None:
        raise EstimationError("peer cells are collinear with the municipality effects")

    monkeypatch.setattr(section, "_cells_ok", lambda *a, **k: True)
    monkeypatch.setattr(section, "_band_ok", lambda *a, **k: True)
    monkeypatch.setattr(peers, "peer_effects", refuse)
    ctx = _context(tmp_path)
    result = section.peers_section(ctx)
    assert any("Not estimable: peer cells are collinear" in text for text in result.paragraphs)
    assert "peers" not in ctx.results
