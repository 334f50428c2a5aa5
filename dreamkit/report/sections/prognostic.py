"""Prognostic covariates: the study's two-limit Tobit screening of baseline variables.

Each control-group outcome share at week W is regressed on one baseline variable at a time
(Tobit censored at 0 and 1, :func:`dreamkit.estimate.linear.prognostic.prognostic_selection`);
variables are ranked by the likelihood-ratio statistic. The table shows the ten most
prognostic variables per outcome and marks those used as covariates X; counts of controls at
the limits below k are suppressed.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from dreamkit.errors import EstimationError
from dreamkit.report.context import ReportContext
from dreamkit.report.disclosure import SUPPRESSED
from dreamkit.report.html import Section
from dreamkit.report.sections.balance import balance_variables
from dreamkit.report.sections.heterogeneity import LABELS, end_outcomes
from dreamkit.report.tables import Table, fmt

TOP = 10


def prognostic_section(ctx: ReportContext) -> Section:
    """Top-ranked prognostic variables per outcome (control group, Tobit)."""
    used = set(ctx.config.covariates.prognostic)
    ranking, refused = _rankings(ctx, balance_variables(ctx))
    ctx.results["prognostic"] = ranking
    rows: list[list[object]] = []
    shown = ranking.filter(pl.col("rank") <= TOP).sort("outcome", "rank")
    controls = ctx.persons.filter(pl.col("treated") == 0)
    full = {
        y: (controls.height, int((controls[y] <= 0).sum()), int((controls[y] >= 1).sum()))
        for y in end_outcomes(ctx)
    }
    for r in shown.iter_rows(named=True):
        label = LABELS[r["outcome"].split("_share_")[0]]
        cell = f"{label}, {r['variable']}"
        rows.append(
            [
                label,
                r["rank"],
                r["variable"],
                "yes" if r["variable"] in used else "",
                f"{fmt(r['estimate'])} ({fmt(r['std_error'])})",
                r["lr_p_value"],
                *_counts(ctx, cell, r, full[r["outcome"]]),
            ]
        )
    n_controls = int((ctx.persons["treated"] == 0).sum())
    table = ctx.add_table(
        Table.from_rows(
            "prognostic",
            f"Prognostic variables: Tobit of the control group's shares to week "
            f"{ctx.config.outcomes.weeks} on each baseline variable (top {TOP} per outcome)",
            [
                "outcome",
                "rank",
                "variable",
                "used as covariate",
                "Tobit slope (se)",
                "LR p-value",
                "N",
                "at 0",
                "at 1",
            ],
            rows,
            notes=[
                f"N = {n_controls} control persons in {ctx.n_clusters} "
                f"{ctx.config.design.cluster}s; model-based (not clustered) standard errors; "
                "ranked by the likelihood-ratio statistic against the constant-only Tobit.",
                *refused,
            ],
        )
    )
    return Section(
        "prognostic",
        "Prognostic covariates",
        [
            "The study chose its covariates X by Tobit regressions of control-group outcomes on "
            "one baseline variable at a time."
        ],
        [table],
    )


def _ranking(result: Any) -> pl.DataFrame:
    """A prognostic result's tidy rows in the ranking's names (variable, z)."""
    return result.tidy().rename({"term": "variable", "statistic": "z"})


def _rankings(ctx: ReportContext, variables: list[str]) -> tuple[pl.DataFrame, list[str]]:
    """The Tobit ranking per outcome. An outcome at one value for every control (no Tobit is
    identified) is left out with a sentence; when a single variable's Tobit fails, the others
    are fitted one at a time and ranked without it. Nothing stops the other outcome."""
    from dreamkit.estimate.linear.prognostic import prognostic_selection

    frames: list[pl.DataFrame] = []
    refused: list[str] = []
    for outcome in end_outcomes(ctx):
        label = LABELS[outcome.split("_share_")[0]]
        if _one_limit(ctx, outcome):
            refused.append(
                f"{label}: not estimable: every control has the same share at week "
                f"{ctx.config.outcomes.weeks}, so no variable can predict it."
            )
            continue
        try:
            frames.append(_ranking(prognostic_selection(ctx.persons, [outcome], variables)))
        except EstimationError:
            parts = []
            for var in variables:
                try:
                    parts.append(_ranking(prognostic_selection(ctx.persons, [outcome], [var])))
                except EstimationError as err:
                    refused.append(f"{label}, {var}: not estimable: {err}")
            if parts:
                frames.append(_rerank(pl.concat(parts)))
    if not frames:
        raise EstimationError(" ".join(refused))
    return pl.concat(frames), refused


def _one_limit(ctx: ReportContext, outcome: str) -> bool:
    values = ctx.persons.filter(pl.col("treated") == 0)[outcome].drop_nulls()
    return values.len() == 0 or values.min() == values.max()


def _rerank(table: pl.DataFrame) -> pl.DataFrame:
    rank = pl.col("lr_stat").rank("ordinal", descending=True).over("outcome").cast(pl.Int64)
    return table.with_columns(rank.alias("rank"))


def _counts(
    ctx: ReportContext, cell: str, r: dict[str, object], full: tuple[int, int, int]
) -> list[object]:
    """N, controls at 0 and at 1 of one Tobit, each suppressed when below k or when it differs
    from the same count over all controls (N = all controls is in the note) by 1..k-1: the
    difference would count the controls left out for a missing value of the variable."""
    out: list[object] = []
    for n, n_all, what in zip(
        (int(r["n_obs"]), int(r["n_lower"]), int(r["n_upper"])),  # type: ignore[call-overload]
        full,
        ("N", "controls at 0", "controls at 1"),
        strict=True,
    ):
        if not ctx.log.small(n) and not ctx.log.differences_ok(n_all, n):
            ctx.log.record(
                "prognostic",
                f"{cell}, {what}",
                "differs from the count over all controls by fewer than "
                f"{ctx.log.min_cell} (controls with a missing value)",
            )
            out.append(SUPPRESSED)
        else:
            out.append(ctx.log.count("prognostic", f"{cell}, {what}", n))
    return out
