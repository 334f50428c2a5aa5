"""Survival and hazards: Kaplan-Meier curves by arm and model (1), the discrete-time hazard.

Durations (from :mod:`dreamkit.outcomes`): weeks to the first ordinary-employment spell of at
least k weeks (``dur_emp``/``event_emp``) and weeks to the first week off sickness benefit etc.
(``dur_sick``/``event_sick``), right-censored at W. Curves come from
:func:`dreamkit.estimate.survival.kaplan_meier`, the hazard from
:class:`dreamkit.estimate.hazard.DiscreteTimeHazard` (4-week duration intervals, municipality
fixed effects, team-clustered), in all persons and by waiting time, with logit and cloglog
links. Curves stop where fewer than k persons are at risk; at-risk counts below k are
suppressed.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from dreamkit.design import columns as C
from dreamkit.errors import EstimationError
from dreamkit.report.context import ReportContext
from dreamkit.report.disclosure import SUPPRESSED
from dreamkit.report.figures import Figure, new_figure
from dreamkit.report.html import Section
from dreamkit.report.plots import draw_survival
from dreamkit.report.tables import NOT_ESTIMABLE, Table, fmt

DURATIONS = {
    "emp": ("dur_emp", "event_emp", "exit to ordinary employment", "not yet employed"),
    "sick": ("dur_sick", "event_sick", "exit from sickness benefit etc.", "still on benefit"),
}
ARMS = {0: "control", 1: "course"}


def survival_section(ctx: ReportContext) -> Section:
    """Kaplan-Meier figures (by arm; by arm and waiting time), at-risk table, hazard table."""
    d = ctx.config.design.short_wait_days
    long_wait = (pl.col(C.WAITING_DAYS) >= d).cast(pl.Int8)
    by_arm = {"control": pl.col(C.TREATED) == 0, "course": pl.col(C.TREATED) == 1}
    by_wait = {
        f"{arm}, wait {'>=' if w else '<'} {d} days": (pl.col(C.TREATED) == t) & (long_wait == w)
        for t, arm in ARMS.items()
        for w in (0, 1)
    }
    at_risk_rows: list[list[object]] = []
    figure = _km_figure(ctx, by_arm, "kaplan_meier", "by arm", at_risk_rows)
    figure_wait = _km_figure(ctx, by_wait, "kaplan_meier_wait", "by arm and waiting time", [])
    at_risk = ctx.add_table(
        Table.from_rows(
            "km_at_risk",
            "Persons at risk at the start of the week, by arm",
            ["duration", "arm", *[f"week {w}" for w in _checkpoints(ctx)]],
            at_risk_rows,
            notes=[ctx.n_note(clustered=False)],
        )
    )
    hazard = _hazard_table(ctx)
    return Section(
        "survival",
        "Survival and hazards",
        [
            "Kaplan-Meier curves of the two durations, and model (1): logit(lambda_it) "
            "= alpha_t + b T_i + sum_k c_k M_ik on person-weeks, alpha_t by 4-week intervals "
            "(intervals without exits merged), standard errors clustered by "
            f"{ctx.config.design.cluster}."
        ],
        [figure, figure_wait, at_risk, hazard],
    )


def _checkpoints(ctx: ReportContext) -> list[int]:
    return list(range(0, ctx.config.outcomes.weeks + 1, 13))


def _km_figure(
    ctx: ReportContext,
    groups: dict[str, pl.Expr],
    name: str,
    what: str,
    at_risk_rows: list[list[object]],
) -> Figure:
    """One panel per duration, one curve per group, truncated where < k are at risk; appends
    the groups' publishable at-risk counts to ``at_risk_rows``."""
    from dreamkit.estimate.survival import kaplan_meier

    labels = list(groups)
    code = pl.coalesce(
        [pl.when(expr).then(pl.lit(i)) for i, expr in enumerate(groups.values())]
    ).alias("_km_group")
    data = ctx.persons.with_columns(code)
    fig, axes = new_figure(ncols=2)
    results: dict[str, Any] = {}
    for ax, (key, (dur, event, title, ylabel)) in zip(axes, DURATIONS.items(), strict=True):
        km = kaplan_meier(data, duration=dur, event=event, by="_km_group")
        results[key] = km
        curves = []
        for i, label in enumerate(labels):
            curve = km.curves.filter(pl.col("group").cast(pl.String) == str(i)).sort("week")
            horizon = ctx.log.at_risk_horizon(curve["at_risk"].to_numpy())
            if horizon < curve.height:
                ctx.log.record(
                    name,
                    f"{title}, {label}, weeks {int(curve['week'][horizon])}+",
                    f"fewer than {ctx.log.min_cell} persons at risk: curve stops",
                )
            curves.append((label, curve["week"][:horizon], curve["survival"][:horizon]))
            row: list[object] = [title, label]
            for week in _checkpoints(ctx):
                hit = curve.filter(pl.col("week") == week)["at_risk"]
                n = int(hit[0]) if hit.len() else 0
                row.append(ctx.log.count("km_at_risk", f"{title}, {label}, week {week}", n))
            at_risk_rows.append(row)
        logrank = km.logrank or {}
        draw_survival(
            ax,
            curves,
            title=f"{title} (log-rank p = {fmt(logrank.get('p_value'))})",
            ylabel=f"share {ylabel}",
        )
    ctx.results[name] = results
    return ctx.add_figure(
        fig, name, f"Kaplan-Meier curves {what} (each stops where < k persons are at risk)."
    )


def _hazard_table(ctx: ReportContext) -> Table:
    from dreamkit.estimate.hazard import DiscreteTimeHazard

    cfg = ctx.config
    d = cfg.design.short_wait_days
    samples = {
        "all": pl.lit(True),
        f"wait < {d} days": pl.col(C.WAITING_DAYS) < d,
        f"wait >= {d} days": pl.col(C.WAITING_DAYS) >= d,
    }
    rows: list[list[object]] = []
    notes: list[str] = []
    fits: dict[str, Any] = {}
    for key, (dur, event, title, _) in DURATIONS.items():
        for sample, expr in samples.items():
            data = ctx.persons.filter(expr)
            if not ctx.arms_ok(data, "hazard", f"{title}, {sample}"):
                rows.append([title, sample, *[SUPPRESSED] * 6])
                continue
            cells: list[object] = [title, sample]
            try:
                for link in ("logit", "cloglog"):
                    model = DiscreteTimeHazard(
                        link=link, stratum=cfg.design.stratum, cluster=cfg.design.cluster
                    )
                    res = model.fit(data, duration=dur, event=event)
                    fits[f"{key}:{sample}:{link}"] = res
                    cells.append(f"{fmt(res.coef(C.TREATED))} ({fmt(res.se(C.TREATED))})")
            except EstimationError as err:
                if sample == "all":
                    raise
                rows.append([title, sample, *[NOT_ESTIMABLE] * 6])
                notes.append(f"{title}, {sample}: not estimable: {err}")
                continue
            res = fits[f"{key}:{sample}:logit"]
            cells += [
                res.n_person_periods,
                ctx.log.count("hazard", f"{title}, {sample}, events", res.n_events),
                data.height,
                res.glm.n_clusters,
            ]
            rows.append(cells)
    ctx.results["hazard"] = fits
    return ctx.add_table(
        Table.from_rows(
            "hazard",
            "Discrete-time hazard, model (1): coefficient on treatment (standard error)",
            [
                "exit",
                "sample",
                "logit b (se)",
                "cloglog b (se)",
                "person-weeks",
                "exits",
                "persons",
                "clusters",
            ],
            rows,
            notes=[
                ctx.n_note(),
                "4-week duration intervals; exp(b) is an odds ratio (logit) or a hazard "
                "ratio (cloglog).",
                *notes,
            ],
        )
    )
