"""Self-efficacy heterogeneity, model (3), over the cut-off grid; peer composition, model (4).

Both use the end-of-follow-up shares (employment and sickness share to week W). A cut-off is
published only if each of its four cells (low/high x course/control) has at least k persons;
the peer model only if each of its eight cells (own low/high x peers low/high x arm) has.
Estimates come from :func:`dreamkit.estimate.linear.heterogeneity.selfefficacy_grid` and
:func:`dreamkit.estimate.linear.peers.peer_effects`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from dreamkit.design import columns as C
from dreamkit.errors import EstimationError
from dreamkit.report.context import ReportContext
from dreamkit.report.disclosure import SUPPRESSED
from dreamkit.report.figures import new_figure
from dreamkit.report.html import Section
from dreamkit.report.plots import draw_cutoffs
from dreamkit.report.tables import NOT_ESTIMABLE, Table, fmt_effect

LABELS = {"emp": "employment share", "sick": "sickness share"}


def end_outcomes(ctx: ReportContext) -> list[str]:
    """The two share outcomes at week W."""
    w = ctx.config.outcomes.weeks
    return [f"{prefix}_share_{w}" for prefix in LABELS]


def _cells_ok(
    ctx: ReportContext, output: str, cell: str, groups: np.ndarray, n_groups: int
) -> bool:
    """Every group 0..n_groups-1 has at least k persons in each arm."""
    treated = ctx.persons[C.TREATED].to_numpy()
    sizes = [
        int(((groups == g) & (treated == arm)).sum()) for g in range(n_groups) for arm in (0, 1)
    ]
    return ctx.log.group_ok(output, cell, sizes)


def _band_ok(
    ctx: ReportContext, output: str, cell: str, scores: np.ndarray, a: int, b: int
) -> bool:
    """Whether two low groups (UW-SES <= a and <= b) may both be published: the persons with
    ``min(a, b) < UW-SES <= max(a, b)`` (their difference, revealed by the group shares x N and
    the control means) number 0 or at least k in each arm."""
    lo, hi = min(a, b), max(a, b)
    treated = ctx.persons[C.TREATED].to_numpy()
    band = (scores > lo) & (scores <= hi)
    if any(ctx.log.small(int((band & (treated == arm)).sum())) for arm in (0, 1)):
        ctx.log.record(
            output,
            cell,
            f"1-{ctx.log.min_cell - 1} persons of an arm have UW-SES {lo + 1}-{hi}: the low "
            f"groups at cut-offs {lo} and {hi} differ by them",
        )
        return False
    return True


def _nested_cutoffs(ctx: ReportContext, scores: np.ndarray, cutoffs: list[int]) -> list[int]:
    """The cut-offs kept, ascending, so that the low group of each differs from that of every
    other kept one, and from the descriptive and balance tables' low group (UW-SES <= the
    ``[self_efficacy] cutoff``), by 0 or >= k persons per arm."""
    kept: list[int] = []
    reference = ctx.config.self_efficacy.cutoff
    for c in sorted(cutoffs):
        if all(
            _band_ok(ctx, "selfefficacy", f"cut-off {c}", scores, other, c)
            for other in (*kept, reference)
        ):
            kept.append(c)
    return kept


def selfefficacy_section(ctx: ReportContext) -> Section:
    """Model (3) table per outcome and the effect-by-cut-off figure."""
    from dreamkit.estimate.linear.heterogeneity import selfefficacy_grid

    cfg = ctx.config
    scores = ctx.persons[C.UWSES].to_numpy()
    cutoffs = [
        c
        for c in cfg.self_efficacy.grid
        if _cells_ok(ctx, "selfefficacy", f"cut-off {c}", (scores > c).astype(int), 2)
    ]
    cutoffs = _nested_cutoffs(ctx, scores, cutoffs)
    suppressed = [c for c in cfg.self_efficacy.grid if c not in cutoffs]
    items: list[Any] = []
    results, notes, failed = {}, [], []
    for c in cutoffs:
        try:
            results[c] = selfefficacy_grid(
                ctx.persons,
                end_outcomes(ctx),
                list(cfg.covariates.prognostic),
                cutoffs=[c],
                stratum=cfg.design.stratum,
                cluster=cfg.design.cluster,
                level=cfg.inference.level,
                min_cell=cfg.disclosure.min_cell,
            )
        except EstimationError as err:
            failed.append(c)
            notes.append(f"cut-off {c}: not estimable: {err}")
    if not results:
        return Section("self-efficacy", "Heterogeneity by self-efficacy", ["No cut-off left."])
    ctx.results["selfefficacy"] = results
    table = pl.concat([r.tidy() for r in results.values()], how="vertical_relaxed")
    few_cluster = _grid_few_cluster(ctx, sorted(results))
    n_obs = int(next(iter(results.values())).glance()["n_obs"][0])
    fig, axes = new_figure(ncols=2)
    for ax, (prefix, label), outcome in zip(axes, LABELS.items(), end_outcomes(ctx), strict=True):
        rows: list[list[object]] = []
        series: dict[str, tuple[list[float], list[float], list[float]]] = {}
        for c in cfg.self_efficacy.grid:
            if c in suppressed or c in failed:
                rows.append([c, *[SUPPRESSED if c in suppressed else NOT_ESTIMABLE] * 10])
                continue
            part = table.filter((pl.col("cutoff") == c) & (pl.col("outcome") == outcome))
            cells: list[object] = [c]
            for group in ("low", "high"):
                r = part.filter(pl.col("group") == group).row(0, named=True)
                cells += [
                    r["group_range"],
                    fmt_effect(r),
                    r["control_mean"],
                ]
                est = series.setdefault(group, ([], [], []))
                est[0].append(r["estimate"])
                est[1].append(r["conf_low"])
                est[2].append(r["conf_high"])
            r = part.filter(pl.col("group") == "low - high").row(0, named=True)
            cells += [fmt_effect(r), *few_cluster.get((c, outcome), ("", ""))]
            share = part.filter(pl.col("group") == "low")["group_share"][0]
            cells.insert(4, share)
            rows.append(cells)
        items.append(
            ctx.add_table(
                Table.from_rows(
                    f"selfefficacy_{prefix}",
                    f"Model (3): effect on the {label} to week {cfg.outcomes.weeks} by "
                    "self-efficacy cut-off",
                    [
                        "cut-off",
                        "low range",
                        "low: effect (se)",
                        "low: control mean",
                        "low: share of sample",
                        "high range",
                        "high: effect (se)",
                        "high: control mean",
                        "low - high (se)",
                        "low - high: WCB p",
                        "low - high: RI p",
                    ],
                    rows,
                    notes=[
                        ctx.n_note(n_obs),
                        "Covariates: the prognostic ones.",
                        _few_cluster_note(ctx),
                        *notes,
                    ],
                )
            )
        )
        x = list(results)
        draw_cutoffs(
            ax,
            x,
            {
                "low (0-c)": _arrays(series["low"]),
                "high (c+1-24)": _arrays(series["high"]),
            },
            title=f"{label.capitalize()} to week {cfg.outcomes.weeks}",
        )
    items.append(
        ctx.add_figure(
            fig,
            "selfefficacy",
            f"Effect by self-efficacy cut-off with {cfg.inference.level:.0%} confidence intervals.",
        )
    )
    return Section(
        "self-efficacy",
        "Heterogeneity by self-efficacy",
        [
            "Model (3): Y_i = Low_i (tau1 T_i + sum_k b1_k M_ik) + High_i (tau2 T_i + sum_k "
            "b2_k M_ik) + X_i'd + e_i, clustered by team, for each cut-off c (low = UW-SES 0-c)."
        ],
        items,
    )


def peers_section(ctx: ReportContext) -> Section:
    """Model (4): the four-cell and the restricted peer-composition table."""
    from dreamkit.design.peers import peers_low
    from dreamkit.design.selfefficacy import low_self_efficacy
    from dreamkit.estimate.linear.peers import peer_effects

    cfg = ctx.config
    low = low_self_efficacy(ctx.persons, cfg.peers.low_cutoff).to_numpy()
    plow = peers_low(ctx.persons, cfg.peers.peer_cutoff, cluster=cfg.design.cluster).to_numpy()
    title = "Peer composition"
    if not _cells_ok(ctx, "peers", "own SE x peers x arm cells", 2 * low + plow, 4):
        return Section("peers", title, ["Suppressed: a cell has fewer than k persons."])
    scores = ctx.persons[C.UWSES].to_numpy()
    published = [*ctx.results.get("selfefficacy", {}), cfg.self_efficacy.cutoff]
    if not all(
        _band_ok(
            ctx,
            "peers",
            f"low SE (0-{cfg.peers.low_cutoff}) vs cut-off {c}",
            scores,
            cfg.peers.low_cutoff,
            c,
        )
        for c in published
    ):
        return Section(
            "peers",
            title,
            ["Suppressed: with the self-efficacy table it would reveal fewer than k persons."],
        )
    try:
        result = peer_effects(
            ctx.persons,
            end_outcomes(ctx),
            list(cfg.covariates.prognostic),
            cutoff=cfg.peers.low_cutoff,
            peer_cutoff=cfg.peers.peer_cutoff,
            stratum=cfg.design.stratum,
            cluster=cfg.design.cluster,
            level=cfg.inference.level,
            min_cell=cfg.disclosure.min_cell,
        )
        wcb = result.wild_cluster_bootstrap(
            ctx.config.inference.bootstrap_draws, seed=ctx.config.inference.seed
        )
        ri = result.randomization_inference(
            ctx.config.inference.ri_draws, seed=ctx.config.inference.seed
        )
    except EstimationError as err:
        # a sub-analysis the estimator refuses is reported as such, never filled in
        return Section("peers", title, [f"Not estimable: {err}"])
    ctx.results["peers"] = result
    ctx.results["peers_wcb"], ctx.results["peers_ri"] = wcb, ri
    both = wcb.join(ri, on=["version", "contrast", "outcome"], suffix="_ri")
    p_values = {
        (v, c, y): (p, q)
        for v, c, y, p, q in both.select(
            "version", "contrast", "outcome", "p_value", "p_value_ri"
        ).rows()
    }
    table = result.tidy()
    rows: list[list[object]] = []
    for r in table.iter_rows(named=True):
        prefix = r["outcome"].split("_share_")[0]
        rows.append(
            [
                r["version"],
                r["group"],
                LABELS[prefix],
                fmt_effect(r),
                r["control_mean"],
                r["group_share"],
                *p_values.get((r["version"], r["group"], r["outcome"]), ("", "")),
            ]
        )
    threshold = float(table["peer_threshold"][0])
    out = ctx.add_table(
        Table.from_rows(
            "peers",
            f"Model (4): effects by own self-efficacy (low = UW-SES 0-{cfg.peers.low_cutoff}) "
            "and peers' self-efficacy",
            [
                "version",
                "cell",
                "outcome",
                "effect (se)",
                "control mean",
                "share of sample",
                "WCB p",
                "RI p",
            ],
            rows,
            notes=[
                ctx.n_note(int(result.glance()["n_obs"][0])),
                _few_cluster_note(ctx),
                f"Peers low: leave-one-out share of team-mates with UW-SES 0-"
                f"{cfg.peers.peer_cutoff} above the median over teams ({threshold:.3f}).",
            ],
        )
    )
    return Section(
        "peers",
        title,
        [
            "Model (4): treatment x own low self-efficacy x low-self-efficacy peers; the "
            "restricted version sets the two high-self-efficacy cells equal."
        ],
        [out],
    )


def _grid_few_cluster(
    ctx: ReportContext, cutoffs: list[int]
) -> dict[tuple[int, str], tuple[float, float]]:
    """Few-cluster p-values of tau_low - tau_high per (cut-off, outcome): the restricted wild
    cluster bootstrap and randomisation inference over the published cut-offs jointly
    (:meth:`GridResult.wild_cluster_bootstrap`, :meth:`GridResult.randomization_inference`)."""
    from dreamkit.estimate.linear.heterogeneity import selfefficacy_grid

    cfg = ctx.config
    grid = selfefficacy_grid(
        ctx.persons,
        end_outcomes(ctx),
        list(cfg.covariates.prognostic),
        cutoffs=cutoffs,
        stratum=cfg.design.stratum,
        cluster=cfg.design.cluster,
        level=cfg.inference.level,
        min_cell=cfg.disclosure.min_cell,
    )
    wcb = grid.wild_cluster_bootstrap(cfg.inference.bootstrap_draws, seed=cfg.inference.seed)
    ri = grid.randomization_inference(cfg.inference.ri_draws, seed=cfg.inference.seed)
    ctx.results["selfefficacy_wcb"], ctx.results["selfefficacy_ri"] = wcb, ri
    both = wcb.join(ri, on=["cutoff", "outcome"], suffix="_ri")
    return {
        (int(c), str(y)): (float(p), float(q))
        for c, y, p, q in both.select("cutoff", "outcome", "p_value", "p_value_ri").rows()
    }


def _few_cluster_note(ctx: ReportContext) -> str:
    inf = ctx.config.inference
    return (
        f"Few-cluster p-values: WCB = restricted wild cluster bootstrap "
        f"({inf.bootstrap_draws} Rademacher draws over {ctx.config.design.cluster}s); RI = "
        f"randomisation inference ({inf.ri_draws} re-allocations within "
        f"{ctx.config.design.cluster}s). Romano-Wolf adjusted p-values are in the results."
    )


def _arrays(series: tuple[list[float], list[float], list[float]]) -> tuple[Any, Any, Any]:
    return tuple(np.asarray(s, dtype=np.float64) for s in series)  # type: ignore[return-value]
