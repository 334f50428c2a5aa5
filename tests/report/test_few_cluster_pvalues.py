"""The self-efficacy and peer tables show the few-cluster p-values of the results, drawn with
the configuration's [inference] settings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from dreamkit.config import parse_config
from dreamkit.report.context import ReportContext
from dreamkit.report.disclosure import DisclosureLog
from dreamkit.report.sections.heterogeneity import peers_section, selfefficacy_section


def _context(tmp_path: Path) -> ReportContext:
    n = 240
    rng = np.random.default_rng(7)
    team = np.arange(n) * 8 // n
    low = rng.uniform(size=n) < np.where(np.isin(team, [0, 1, 4, 5]), 0.7, 0.3)
    persons = pl.DataFrame(
        {
            "person_id": np.arange(n) + 10_000,
            "municipality": np.where(team % 2 == 0, "a", "b"),
            "team": team,
            "treated": np.tile([1, 0], n // 2).astype(np.int8),
            "waiting_days": rng.integers(0, 40, n),
            "uwses": np.where(low, rng.integers(0, 9, n), rng.integers(9, 25, n)),
            "score": rng.normal(size=n),
            "emp_share_81": rng.uniform(size=n),
            "sick_share_81": rng.uniform(size=n),
        }
    )
    config = parse_config(
        {
            "covariates": {"prognostic": ["score"]},
            "self_efficacy": {"grid": [8, 12]},
            "inference": {"bootstrap_draws": 199, "ri_draws": 99, "seed": 3},
        }
    )
    return ReportContext(config, persons, persons.head(0), persons, tmp_path, DisclosureLog(5))


def test_grid_and_peer_tables_show_the_results_few_cluster_p_values(tmp_path: Path) -> None:
    ctx = _context(tmp_path)
    selfefficacy_section(ctx)
    peers_section(ctx)
    wcb = ctx.results["selfefficacy_wcb"]
    assert set(wcb["draws"].to_list()) == {199}
    assert set(ctx.results["selfefficacy_ri"]["draws"].to_list()) == {99}
    table = ctx.tables["selfefficacy_emp"].frame
    for c in (8, 12):
        row = table.filter(pl.col("cut-off") == str(c)).row(0, named=True)
        want = wcb.filter((pl.col("cutoff") == c) & (pl.col("outcome") == "emp_share_81"))
        assert row["low - high: WCB p"] == f"{want['p_value'][0]:.3f}"
    peers = ctx.tables["peers"].frame
    ri = ctx.results["peers_ri"]
    assert set(ri["draws"].to_list()) == {99}
    first = peers.row(0, named=True)
    want_ri = ri.filter(
        (pl.col("version") == first["version"]) & (pl.col("contrast") == first["cell"])
    )["p_value"]
    assert first["RI p"] in {f"{p:.3f}" for p in want_ri}
