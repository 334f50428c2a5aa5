r"""Effect paths, model (2): :math:`\tau_w` for w = 1..W on the employment and sickness shares.

Estimates and team-clustered (CRV1) standard errors come from
:func:`dreamkit.estimate.linear.itt.effect_path`; the simultaneous band is the plug-in sup-t
band from the W x W covariance; p-values are given three ways (CRV1 t, wild cluster bootstrap
with the null imposed, randomisation inference re-drawing the allocation within teams), plus the
Romano-Wolf step-down p-value over the W weeks from the randomisation draws of the studentised
statistic. A path is published only if both arms have at least k persons.

The control means of the cumulative shares give the controls' person-weeks in the state,
``w n_0 mean_w``; two published weeks reveal their difference, the person-weeks in the state
(and out of it) between them, which must be 0 or at least k, else the later week's control
mean is suppressed. Week W's control mean is public anyway (descriptive table), so the last
shown week before it must also satisfy the rule against W.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from dreamkit.design import columns as C
from dreamkit.report.context import ReportContext
from dreamkit.report.disclosure import SUPPRESSED
from dreamkit.report.figures import new_figure
from dreamkit.report.files import write_csv_atomic
from dreamkit.report.html import Section
from dreamkit.report.plots import draw_path
from dreamkit.report.tables import Table

OUTCOMES = {"emp": "ordinary employment", "sick": "sickness benefit etc."}
REPORT_WEEKS = (1, 4, 8, 13, 26, 39, 45, 52, 65, 78)


@dataclass(frozen=True)
class PathInference:
    """One outcome's path with every kind of inference the report shows."""

    path: Any  # dreamkit.estimate.linear.itt.PathResult
    band: Any  # dreamkit.inference.Band (plug-in sup-t)
    bootstrap: Any  # dreamkit.inference.WildBootstrapResult
    randomization: Any  # dreamkit.inference.RandomizationResult (studentised)
    romano_wolf: np.ndarray


def fit_paths(ctx: ReportContext) -> dict[str, PathInference]:
    """Model (2) for both share outcomes with bands, bootstrap, RI and Romano-Wolf."""
    from dreamkit.estimate.linear.itt import effect_path
    from dreamkit.inference import romano_wolf

    cfg = ctx.config
    inf = cfg.inference
    out: dict[str, PathInference] = {}
    for prefix in OUTCOMES:
        weeks = varying_weeks(ctx, prefix)
        if not weeks:
            continue
        path = effect_path(
            ctx.persons,
            [f"{prefix}_share_{w}" for w in weeks],
            list(cfg.covariates.prognostic),
            stratum=cfg.design.stratum,
            cluster=cfg.design.cluster,
            level=inf.level,
        )
        band = path.sup_t_band(inf.level, seed=inf.seed)
        boot = path.wild_cluster_bootstrap(B=inf.bootstrap_draws, seed=inf.seed, level=inf.level)
        ri = path.randomization_inference(n_draws=inf.ri_draws, seed=inf.seed)
        rw = romano_wolf(ri.statistic, ri.draws)
        out[prefix] = PathInference(path, band, boot, ri, rw)
    return out


def varying_weeks(ctx: ReportContext, prefix: str) -> list[int]:
    """Weeks w = 1..W whose share ``{prefix}_share_w`` differs between analysed persons.

    In a week where it does not (e.g. week 1 employment when everyone is on sick leave at
    allocation) tau_w = 0 with standard error 0 by construction: no band, bootstrap or
    randomisation p-value is defined there, so the path covers the other weeks."""
    w = ctx.config.outcomes.weeks
    columns = [f"{prefix}_share_{k}" for k in range(1, w + 1)]
    spread = ctx.persons.select(
        [(pl.col(c).max() - pl.col(c).min()).alias(c) for c in columns]
    ).row(0)
    return [k for k, d in zip(range(1, w + 1), spread, strict=True) if d is not None and d > 0]


def constant_outcome(ctx: ReportContext, prefix: str) -> str | None:
    """The sentence saying which weeks of an outcome have no effect (the share is the same for
    every analysed person), or ``None`` when every week varies."""
    w = ctx.config.outcomes.weeks
    weeks = varying_weeks(ctx, prefix)
    if not weeks:
        return (
            f"The share of weeks in {OUTCOMES[prefix]} is the same for every analysed person in "
            f"weeks 1..{w}: no effect path (check the code map's set and the employment data)."
        )
    if len(weeks) < w:
        fixed = sorted(set(range(1, w + 1)) - set(weeks))
        return (
            f"The share of weeks in {OUTCOMES[prefix]} is the same for every analysed person in "
            f"week(s) {_ranges(fixed)}, so tau_w = 0 there by construction; its path, band and "
            "p-values cover the other weeks."
        )
    return None


def _ranges(weeks: list[int]) -> str:
    """``[1, 2, 3, 7]`` -> ``"1-3, 7"``."""
    parts: list[str] = []
    start = prev = weeks[0]
    for w in [*weeks[1:], None]:
        if w is not None and w == prev + 1:
            prev = w
            continue
        parts.append(f"{start}-{prev}" if prev > start else f"{start}")
        if w is not None:
            start = prev = w
    return ", ".join(parts)


def arms_publishable(ctx: ReportContext, name: str) -> bool:
    """Both arms of the analysed sample have at least k persons."""
    return ctx.arms_ok(ctx.persons, name, "arms of the analysed sample")


def paths_section(ctx: ReportContext) -> Section:
    """Effect-path tables (selected weeks; every week in CSV) and the two-panel figure."""
    paths = fit_paths(ctx)
    level = ctx.config.inference.level
    if not paths:
        sentences = [constant_outcome(ctx, p) or "" for p in OUTCOMES]
        return ctx.skip("effect-paths", "Effect paths", "Not estimable: " + " ".join(sentences))
    ctx.results["paths"] = paths
    if not arms_publishable(ctx, "effect_paths"):
        return Section("effect-paths", "Effect paths", ["Suppressed: an arm is too small."])
    items: list[Any] = []
    missing = [s for s in (constant_outcome(ctx, p) for p in OUTCOMES) if s is not None]
    if missing:
        ctx.skipped["effect-paths: weeks"] = " ".join(missing)
    fig, axes = new_figure(ncols=len(paths))
    labels = [(p, label) for p, label in OUTCOMES.items() if p in paths]
    for ax, (prefix, label) in zip(axes, labels, strict=True):
        res = paths[prefix]
        frame = path_frame(res)
        keep = control_means_shown(ctx, prefix, frame["week"].to_numpy())
        frame = frame.with_columns(
            pl.when(pl.Series(keep)).then(pl.col("control_mean")).alias("control_mean")
        )
        write_csv_atomic(frame, _all_weeks_path(ctx, prefix))
        shown = frame.filter(pl.col("week").is_in(report_weeks(ctx.config.outcomes.weeks)))
        items.append(
            ctx.add_table(
                Table.from_rows(
                    f"effect_path_{prefix}",
                    f"ITT effect on the share of weeks 1..w in {label}, model (2)",
                    list(shown.columns),
                    [[SUPPRESSED if v is None else v for v in r] for r in shown.iter_rows()],
                    notes=[
                        ctx.n_note(int(res.path.glance()["n_obs"][0])),
                        f"Covariates: {', '.join(ctx.config.covariates.prognostic)}. "
                        f"Pointwise {level:.0%} CI from CRV1; simultaneous {level:.0%} band "
                        f"(plug-in sup-t, critical value {res.band.critical_value:.3f}). "
                        f"p-values: CRV1 t; wild cluster bootstrap (WCR, "
                        f"{res.bootstrap.n_boot} draws); randomisation inference "
                        f"({res.randomization.draws.shape[0]} within-team re-allocations); "
                        "Romano-Wolf over all weeks. Every week: "
                        f"tables/{_all_weeks_path(ctx, prefix).name}.",
                    ],
                )
            )
        )
        draw_path(
            ax,
            frame["week"].to_numpy(),
            res.band.estimate,
            (res.band.pointwise_lower, res.band.pointwise_upper),
            (res.band.lower, res.band.upper),
            title=f"Share of weeks in {label}",
            level=level,
        )
    items.append(
        ctx.add_figure(
            fig,
            "effect_paths",
            "ITT effect paths with pointwise (dark) and simultaneous sup-t (light) bands.",
        )
    )
    return Section(
        "effect-paths",
        "Effect paths",
        [
            "Model (2): Y_iw = tau_w T_i + sum_k b_kw M_ik + X_i'd_w + e_iw for w = 1.."
            f"{ctx.config.outcomes.weeks}, standard errors clustered by "
            f"{ctx.config.design.cluster}. Pointwise bands invite reading noise as effects; "
            "the simultaneous band covers the whole path with the stated probability.",
            *missing,
        ],
        items,
    )


def control_means_shown(ctx: ReportContext, prefix: str, weeks: np.ndarray) -> np.ndarray:
    """Mask of the weeks whose control mean may be published (module docstring).

    With ``c_w`` the controls in the state in week w (``w share_w - (w-1) share_{w-1}`` summed
    over controls), walking the weeks a control mean is shown when the person-weeks in and out
    of the state since the last shown week (or week 0) are each 0 or at least k; then shown
    weeks are dropped from the end until the gap to week W passes too.
    """
    controls = ctx.persons.filter(pl.col(C.TREATED) == 0)
    shares = np.column_stack(
        [controls[f"{prefix}_share_{w}"].fill_null(0.0).to_numpy() for w in weeks]
    )
    cumulative = np.rint(shares * weeks[None, :]).sum(axis=0)  # person-weeks in the state
    in_state = np.diff(np.r_[0.0, cumulative])
    out_state = controls.height * np.diff(np.r_[0, weeks]) - in_state
    keep = np.zeros(weeks.size, dtype=bool)
    last = -1

    def gap_ok(a: int, b: int) -> bool:  # weeks a+1..b (indices)
        return not (
            ctx.log.small(int(in_state[a + 1 : b + 1].sum()))
            or ctx.log.small(int(out_state[a + 1 : b + 1].sum()))
        )

    for i in range(weeks.size):
        if gap_ok(last, i):
            keep[i], last = True, i
    end = weeks.size - 1
    shown = [int(j) for j in np.flatnonzero(keep[:end])]
    while shown and not gap_ok(shown[-1], end):
        keep[shown.pop()] = False
    keep[end] = True
    for j in np.flatnonzero(~keep):
        ctx.log.record(
            f"effect_path_{prefix}",
            f"control mean, week {int(weeks[j])}",
            f"the change from the previous shown week counts 1-{ctx.log.min_cell - 1} "
            "control person-weeks in or out of the state",
        )
    return keep


def report_weeks(weeks: int) -> list[int]:
    """Weeks shown in the HTML tables: the study's milestones up to W, and W."""
    return sorted({w for w in REPORT_WEEKS if w < weeks} | {weeks})


def path_frame(res: PathInference) -> pl.DataFrame:
    """Every week of one path with its CIs, band and p-values (numbers, not strings)."""
    tidy = res.path.tidy()
    return pl.DataFrame(
        {
            "week": tidy["week"].cast(pl.Int64).to_numpy(),
            "estimate": tidy["estimate"].to_numpy(),
            "std_error": tidy["std_error"].to_numpy(),
            "conf_low": tidy["conf_low"].to_numpy(),
            "conf_high": tidy["conf_high"].to_numpy(),
            "band_low": res.band.lower,
            "band_high": res.band.upper,
            "p_crv1": tidy["p_value"].to_numpy(),
            "p_wild": res.bootstrap.p_value,
            "p_ri": res.randomization.p_value,
            "p_romano_wolf": res.romano_wolf,
            "control_mean": tidy["control_mean"].to_numpy(),
        }
    )


def _all_weeks_path(ctx: ReportContext, prefix: str) -> Any:
    directory = ctx.out_dir / "tables"
    directory.mkdir(parents=True, exist_ok=True)
    return directory / f"effect_path_{prefix}_all_weeks.csv"
