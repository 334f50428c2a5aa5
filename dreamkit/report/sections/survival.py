"""Survival and hazards: Kaplan-Meier curves by arm and model (1), the discrete-time hazard.

Durations (from :mod:`dreamkit.outcomes`): weeks to the first ordinary-employment spell of at
least k weeks (``dur_emp``/``event_emp``) and weeks to the first week off sickness benefit etc.
(``dur_sick``/``event_sick``), right-censored at W. Curves come from
:func:`dreamkit.estimate.duration.survival.kaplan_meier`, the hazard from
:class:`dreamkit.estimate.duration.hazard.DiscreteTimeHazard` (4-week duration intervals,
municipality fixed effects, team-clustered), in all persons and by waiting time, with logit and
cloglog links. Curves stop where fewer than k persons are at risk and step only by pooled jumps
of at least k events; at-risk counts below k, or differing from the previous shown one (starting
from the group size) by fewer than k, are suppressed."""

from __future__ import annotations

from typing import Any

import polars as pl

from dreamkit.design import columns as C
from dreamkit.errors import EstimationError
from dreamkit.report.context import ReportContext
from dreamkit.report.disclosure import SUPPRESSED
from dreamkit.report.figures import Figure, new_figure
from dreamkit.report.html import Section
from dreamkit.report.plan import WAITING_TIME
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
    figures = [_km_figure(ctx, by_arm, "kaplan_meier", "by arm", at_risk_rows)]
    if ctx.runs.has(WAITING_TIME):
        figures.append(
            _km_figure(ctx, by_wait, "kaplan_meier_wait", "by arm and waiting time", None)
        )
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
            f"{ctx.config.design.cluster}.",
            *ctx.left_out("survival", WAITING_TIME),
        ],
        [*figures, at_risk, hazard],
    )


def _checkpoints(ctx: ReportContext) -> list[int]:
    return list(range(0, ctx.config.outcomes.weeks + 1, 13))


def _km_figure(
    ctx: ReportContext,
    groups: dict[str, pl.Expr],
    name: str,
    what: str,
    at_risk_rows: list[list[object]] | None,
) -> Figure:
    """One panel per duration, one curve per group, truncated where < k are at risk; appends
    the groups' publishable at-risk counts to ``at_risk_rows`` (``None``: the groups' at-risk
    counts are not published, so nothing is suppressed or audited for them)."""
    from dreamkit.estimate.duration.survival import kaplan_meier

    labels = list(groups)
    code = pl.coalesce(
        [pl.when(expr).then(pl.lit(i)) for i, expr in enumerate(groups.values())]
    ).alias("_km_group")
    data = ctx.persons.with_columns(code)
    fig, axes = new_figure(ncols=2)
    results: dict[str, Any] = {}
    published: dict[str, Any] = {}
    for ax, (key, (dur, event, title, ylabel)) in zip(axes, DURATIONS.items(), strict=True):
        km = kaplan_meier(data, duration=dur, event=event, by="_km_group")
        results[key] = km
        tidy = km.tidy().rename({"estimate": "survival"})
        curves = []
        for i, label in enumerate(labels):
            curve = tidy.filter(pl.col("group").cast(pl.String) == str(i)).sort("week")
            horizon = ctx.log.at_risk_horizon(curve["at_risk"].to_numpy())
            if horizon < curve.height:
                ctx.log.record(
                    name,
                    f"{title}, {label}, weeks {int(curve['week'][horizon])}+",
                    f"fewer than {ctx.log.min_cell} persons at risk: curve stops",
                )
            week = curve["week"].to_numpy()[:horizon]
            shown = ctx.log.pooled_steps(
                curve["survival"].to_numpy()[:horizon], curve["events"].to_numpy()[:horizon]
            )
            if (shown != curve["survival"].to_numpy()[:horizon]).any():
                ctx.log.record(
                    name,
                    f"{title}, {label}",
                    f"steps of fewer than {ctx.log.min_cell} events pooled into later steps",
                )
            curves.append((label, week, shown))
            published[f"{key}: {label}"] = (week, shown)
            if at_risk_rows is not None:
                at_risk_rows.append(_at_risk_row(ctx, data, i, curve, title, label, event))
        logrank_p = km.glance()["logrank_p_value"][0]
        draw_survival(
            ax,
            curves,
            title=f"{title} (log-rank p = {fmt(logrank_p)})",
            ylabel=f"share {ylabel}",
        )
    ctx.results[name] = results
    ctx.results[f"{name}_published"] = published
    return ctx.add_figure(
        fig, name, f"Kaplan-Meier curves {what} (each stops where < k persons are at risk)."
    )


def _at_risk_row(
    ctx: ReportContext,
    data: pl.DataFrame,
    i: int,
    curve: pl.DataFrame,
    title: str,
    label: str,
    event: str,
) -> list[object]:
    """The published at-risk counts of group ``i`` at the checkpoints: none below k, none
    differing from the previous shown one (from the group size) by 1..k-1, and the last shown
    one not differing from the persons without an exit (published through the event shares)
    by 1..k-1; every hidden count is recorded."""
    row: list[object] = [title, label]
    previous = int((data["_km_group"] == i).sum())  # the group size
    for week_c in _checkpoints(ctx):
        hit = curve.filter(pl.col("week") == week_c)["at_risk"]
        n = int(hit[0]) if hit.len() else 0
        cell = f"{title}, {label}, week {week_c}"
        if not ctx.log.small(n) and not ctx.log.differences_ok(previous, n):
            ctx.log.record(
                "km_at_risk",
                cell,
                f"differs from the previous shown count by fewer than {ctx.log.min_cell}",
            )
            row.append(SUPPRESSED)
            continue
        shown_n = ctx.log.count("km_at_risk", cell, n)
        if shown_n != SUPPRESSED:
            previous = n
        row.append(shown_n)
    # the event shares by arm give the persons without an event at W: the last shown
    # count must differ from them by 0 or >= k too
    members = data.filter(pl.col("_km_group") == i)
    n_end = members.height - int(members[event].sum())
    for j in range(len(row) - 1, 1, -1):
        if row[j] == SUPPRESSED:
            continue
        if ctx.log.differences_ok(n_end, int(row[j])):  # type: ignore[call-overload]
            break
        ctx.log.record(
            "km_at_risk",
            f"{title}, {label}, week {_checkpoints(ctx)[j - 2]}",
            f"differs from the persons without an exit by fewer than {ctx.log.min_cell}",
        )
        row[j] = SUPPRESSED
    return row


def _complement_wait_rows(
    ctx: ReportContext, rows: list[list[object]], samples: dict[str, pl.Expr]
) -> None:
    """Complementary suppression of the two waiting-time rows against the "all" row, in place.

    The waiting-time samples split all persons, so "all" minus a shown row gives the other
    row's persons and exits: when a row is not shown (suppressed or not estimable) and its
    exits (or persons) number 1..k-1, the other row's exits (or persons, person-weeks and
    exits) are suppressed too.
    """
    names = list(samples)[1:]
    labels = {4: "person-weeks", 5: "exits", 6: "persons"}
    for _, event, title, _ in DURATIONS.values():
        index = {str(r[1]): i for i, r in enumerate(rows) if r[0] == title}
        for hidden, other in (names, names[::-1]):
            row, other_row = rows[index[hidden]], rows[index[other]]
            if row[5] not in (SUPPRESSED, NOT_ESTIMABLE):
                continue
            data = ctx.persons.filter(samples[hidden])
            persons, exits = data.height, int(data[event].sum())
            columns = [4, 5, 6] if ctx.log.small(persons) else [5] if ctx.log.small(exits) else []
            for col in columns:
                if other_row[col] not in (SUPPRESSED, NOT_ESTIMABLE):
                    other_row[col] = SUPPRESSED
                    ctx.log.record(
                        "hazard",
                        f"{title}, {other}, {labels[col]}",
                        f"complementary suppression (all minus this row would reveal {hidden})",
                    )


def _hazard_table(ctx: ReportContext) -> Table:
    from dreamkit.estimate.duration.hazard import DiscreteTimeHazard

    cfg = ctx.config
    d = cfg.design.short_wait_days
    samples = {"all": pl.lit(True)}
    if ctx.runs.has(WAITING_TIME):
        samples[f"wait < {d} days"] = pl.col(C.WAITING_DAYS) < d
        samples[f"wait >= {d} days"] = pl.col(C.WAITING_DAYS) >= d
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
                    b = res.tidy().filter(pl.col("term") == C.TREATED).row(0, named=True)
                    cells.append(f"{fmt(b['estimate'])} ({fmt(b['std_error'])})")
            except EstimationError as err:
                rows.append([title, sample, *[NOT_ESTIMABLE] * 6])
                notes.append(f"{title}, {sample}: not estimable: {err}")
                continue
            g = fits[f"{key}:{sample}:logit"].glance().row(0, named=True)
            cells += [
                g["n_obs"],
                ctx.log.count("hazard", f"{title}, {sample}, events", g["n_events"]),
                data.height,
                g["n_clusters"],
            ]
            rows.append(cells)
    if len(samples) > 1:
        _complement_wait_rows(ctx, rows, samples)
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
