"""Robustness models (5)-(7) drawn over the main path, and the subgroup table.

(5) no covariates, (6) treatment interacted with centred municipality dummies (Imbens-Rubin:
the sample-size-weighted average of municipality effects), (7) team x arm group means (robust
to spill-overs within teams), all from :mod:`dreamkit.estimate.linear.robustness`. Subgroups: the
ITT of model (2) at week W within each level of each binary subgroup column and by waiting
time; a subgroup is published only if both of its arms have at least k persons.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from dreamkit.design import columns as C
from dreamkit.errors import EstimationError
from dreamkit.report.context import ReportContext
from dreamkit.report.disclosure import SUPPRESSED, protect_table
from dreamkit.report.etable import etable
from dreamkit.report.figures import new_figure
from dreamkit.report.html import Section
from dreamkit.report.plan import WAITING_TIME
from dreamkit.report.plots import draw_overlays
from dreamkit.report.sections.heterogeneity import LABELS, end_outcomes
from dreamkit.report.sections.paths import arms_publishable
from dreamkit.report.tables import NOT_ESTIMABLE, Table, fmt_effect


def robustness_section(ctx: ReportContext) -> Section:
    """Overlay figure of models (2), (5), (6), (7) and their week-W table."""
    from dreamkit.estimate.linear.robustness import group_level, no_covariates, stratum_interacted

    cfg = ctx.config
    if "paths" not in ctx.results:
        return ctx.skip(
            "robustness", "Robustness", "Skipped: the main effect paths (2) were not estimated."
        )
    if not arms_publishable(ctx, "robustness"):
        return Section("robustness", "Robustness", ["Suppressed: an arm is too small."])
    kwargs: dict[str, Any] = {"stratum": cfg.design.stratum, "cluster": cfg.design.cluster}
    cov = list(cfg.covariates.prognostic)
    prefixes = [p for p in LABELS if p in ctx.results["paths"]]
    fig, axes = new_figure(ncols=len(prefixes))
    rows: list[list[object]] = []
    fits: dict[str, Any] = {}
    side_by_side: list[tuple[str, list[Any], list[str]]] = []
    for ax, prefix in zip(axes, prefixes, strict=True):
        main = ctx.results["paths"][prefix]
        outcome = main.path.tidy()["outcome"].to_list()  # the weeks of the main path
        results = {
            "(5) no covariates": no_covariates(ctx.persons, outcome, **kwargs),
            "(6) stratum-interacted": stratum_interacted(ctx.persons, outcome, cov, **kwargs),
            "(7) team x arm groups": group_level(ctx.persons, outcome, cov, **kwargs),
        }
        models = {label: res.tidy() for label, res in results.items()}
        fits[prefix] = models
        side_by_side.append((prefix, [main.path, *results.values()], ["(2) main", *results]))
        draw_overlays(
            ax,
            main.path.tidy()["week"].to_numpy(),
            main.band.estimate,
            (main.band.pointwise_lower, main.band.pointwise_upper),
            {label: frame["estimate"].to_numpy() for label, frame in models.items()},
            title=f"{LABELS[prefix].capitalize()}: robustness",
        )
        path = main.path.tidy()
        week = path.row(path.height - 1, named=True)  # week W (the last week with variation)
        rows.append(_row("(2) main", LABELS[prefix], week, "CRV1 by " + cfg.design.cluster))
        for label, frame in models.items():
            last = frame.row(frame.height - 1, named=True)
            se = "HC1 (groups)" if label.startswith("(7)") else "CRV1 by " + cfg.design.cluster
            rows.append(_row(label, LABELS[prefix], last, se))
    ctx.results["robustness"] = fits
    table = ctx.add_table(
        Table.from_rows(
            "robustness",
            f"Robustness: effect on the shares to week {cfg.outcomes.weeks}",
            ["model", "outcome", "effect (se)", "N", "clusters / groups", "standard errors"],
            rows,
            notes=[
                ctx.n_note(),
                "Model (7) is estimated on team x arm group means: N counts groups.",
            ],
        )
    )
    figure = ctx.add_figure(
        fig, "robustness", "Robustness models (5)-(7) over the main path (2) and its band."
    )
    tables = [table]
    for prefix, results_list, names in side_by_side:
        week = results_list[0].tidy()["week"].max()
        side = etable(results_list, names=names, keep=rf"\[week {week}\]$")
        tables.append(
            ctx.add_table(
                Table(
                    f"robustness_models_{prefix.rstrip('_')}",
                    f"{LABELS[prefix].capitalize()}, week {week}: models (2), (5)-(7) side by side",
                    side.frame.rename({"row": "term"}),
                    (*side.notes, "Model (7) is estimated on team x arm group means."),
                )
            )
        )
    return Section(
        "robustness",
        "Robustness",
        ["Models (5)-(7) drawn over the main effect path with its pointwise band."],
        [figure, *tables],
    )


def _row(model: str, outcome: str, r: dict[str, Any], se: str) -> list[object]:
    return [
        model,
        outcome,
        fmt_effect(r),
        r["n_obs"],
        r["n_clusters"],
        se,
    ]


def _split_ok(ctx: ReportContext, data: pl.DataFrame, col: str) -> bool:
    """Whether a subgroup split may be published next to the full sample.

    The subgroup (level 1), its complement (level 0) and the persons without a value are
    counted by arm; the full sample's arm sizes and N are the margins, published elsewhere.
    Both levels' N are published in the table, so "all minus the subgroup" must not reveal a
    small complement or remainder: the table goes through
    :func:`~dreamkit.report.disclosure.protect_table`, and when it has to hide any cell or row
    total of a level, both levels are suppressed (the table publishes no cell by arm, so this
    hides strictly more than the attack assumed shown).
    """
    rest = ~((pl.col(col) == 1) | (pl.col(col) == 0)).fill_null(False)
    counts = [
        [int((frame[C.TREATED] == arm).sum()) for arm in (0, 1)]
        for frame in (
            data.filter(pl.col(col) == 1),
            data.filter(pl.col(col) == 0),
            data.filter(rest),
        )
    ]
    published = protect_table(
        ctx.log,
        "subgroups",
        counts,
        rows=[f"{col} = 1", f"{col} = 0", f"{col} without a value"],
        columns=["control", "course"],
    )
    shown = all(
        published.row_totals[i] != SUPPRESSED and all(c != SUPPRESSED for c in published.cells[i])
        for i in (0, 1)
    )
    if not shown:
        for level in (1, 0):
            ctx.log.record(
                "subgroups",
                f"{col} = {level}",
                "nested suppression (the full sample minus the published subgroups would "
                "reveal a hidden count)",
            )
    return shown


def subgroups_section(ctx: ReportContext) -> Section:
    """Week-W ITT by subgroup (and waiting time), suppressed where an arm is below k."""
    from dreamkit.estimate.linear.robustness import subgroups

    cfg = ctx.config
    d = cfg.design.short_wait_days
    wait_col = f"short_wait_{d}d"
    data, columns = ctx.persons, list(cfg.covariates.subgroups)
    if ctx.runs.has(WAITING_TIME):
        data = data.with_columns((pl.col(C.WAITING_DAYS) < d).cast(pl.Int8).alias(wait_col))
        columns.append(wait_col)
    labels = {wait_col: (f"wait < {d} days", f"wait >= {d} days")}
    rows: list[list[object]] = []
    notes: list[str] = []
    results: dict[str, Any] = {}
    for col in columns:
        ok = True
        for level in (1, 0):
            ok &= ctx.arms_ok(data.filter(pl.col(col) == level), "subgroups", f"{col} = {level}")
        ok = ok and _split_ok(ctx, data, col)
        if not ok:
            rows += [[f"{col} = {level}", *[SUPPRESSED] * 6] for level in (1, 0)]
            continue
        try:
            results[col] = subgroups(
                data,
                end_outcomes(ctx),
                [col],
                list(cfg.covariates.prognostic),
                stratum=cfg.design.stratum,
                cluster=cfg.design.cluster,
                level=cfg.inference.level,
                min_cell=cfg.disclosure.min_cell,
                labels=labels,
            )
        except EstimationError as err:
            rows += [[f"{col} = {level}", *[NOT_ESTIMABLE] * 6] for level in (1, 0)]
            notes.append(f"{col}: not estimable: {err}")
            continue
        for r in results[col].tidy().iter_rows(named=True):
            rows.append(
                [
                    r["label"],
                    LABELS[r["outcome"].split("_share_")[0]],
                    fmt_effect(r),
                    r["control_mean"],
                    r["group_share"],
                    r["n_obs"],
                    r["dropped_covariates"],
                ]
            )
    ctx.results["subgroups"] = results
    table = ctx.add_table(
        Table.from_rows(
            "subgroups",
            f"ITT on the shares to week {cfg.outcomes.weeks} by subgroup",
            [
                "subgroup",
                "outcome",
                "effect (se)",
                "control mean",
                "share of sample",
                "N",
                "covariates left out",
            ],
            rows,
            notes=[
                ctx.n_note(),
                "Model (2) within each subgroup; covariates constant within a subgroup are left "
                "out (listed).",
                *notes,
            ],
        )
    )
    return Section(
        "subgroups",
        "Subgroups",
        [
            "The ITT of model (2) within subgroups; many subgroups invite chance findings.",
            *ctx.left_out("subgroups", WAITING_TIME),
        ],
        [table],
    )
