r"""Effect paths, model (2): :math:`\tau_w` for w = 1..W on the employment and sickness shares.

Estimates and team-clustered (CRV1) standard errors come from
:func:`dreamkit.estimate.itt.effect_path`; the simultaneous band is the plug-in sup-t band from
the W x W covariance; p-values are given three ways (CRV1 t, wild cluster bootstrap with the
null imposed, randomisation inference re-drawing the allocation within teams), plus the
Romano-Wolf step-down p-value over the W weeks from the randomisation draws of the
studentised statistic. A path is published only if both arms have at least k persons.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from dreamkit.report.context import ReportContext
from dreamkit.report.figures import new_figure
from dreamkit.report.html import Section
from dreamkit.report.plots import draw_path
from dreamkit.report.tables import Table

OUTCOMES = {"emp": "ordinary employment", "sick": "sickness benefit etc."}
REPORT_WEEKS = (1, 4, 8, 13, 26, 39, 45, 52, 65, 78)


@dataclass(frozen=True)
class PathInference:
    """One outcome's path with every kind of inference the report shows."""

    path: Any  # dreamkit.estimate.itt.PathResult
    band: Any  # dreamkit.inference.Band (plug-in sup-t)
    bootstrap: Any  # dreamkit.inference.WildBootstrapResult
    randomization: Any  # dreamkit.inference.RandomizationResult (studentised)
    romano_wolf: np.ndarray


def fit_paths(ctx: ReportContext) -> dict[str, PathInference]:
    """Model (2) for both share outcomes with bands, bootstrap, RI and Romano-Wolf."""
    from dreamkit.estimate.itt import effect_path
    from dreamkit.inference import romano_wolf

    cfg = ctx.config
    inf = cfg.inference
    out: dict[str, PathInference] = {}
    for prefix in OUTCOMES:
        path = effect_path(
            ctx.persons,
            f"{prefix}_share_",
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


def arms_publishable(ctx: ReportContext, name: str) -> bool:
    """Both arms of the analysed sample have at least k persons."""
    return ctx.arms_ok(ctx.persons, name, "arms of the analysed sample")


def paths_section(ctx: ReportContext) -> Section:
    """Effect-path tables (selected weeks; every week in CSV) and the two-panel figure."""
    paths = fit_paths(ctx)
    ctx.results["paths"] = paths
    level = ctx.config.inference.level
    if not arms_publishable(ctx, "effect_paths"):
        return Section("effect-paths", "Effect paths", ["Suppressed: an arm is too small."])
    items: list[Any] = []
    fig, axes = new_figure(ncols=2)
    for ax, (prefix, label) in zip(axes, OUTCOMES.items(), strict=True):
        res = paths[prefix]
        frame = path_frame(res)
        frame.write_csv(_all_weeks_path(ctx, prefix))
        shown = frame.filter(pl.col("week").is_in(report_weeks(ctx.config.outcomes.weeks)))
        items.append(
            ctx.add_table(
                Table.from_rows(
                    f"effect_path_{prefix}",
                    f"ITT effect on the share of weeks 1..w in {label}, model (2)",
                    list(shown.columns),
                    [list(r) for r in shown.iter_rows()],
                    notes=[
                        ctx.n_note(res.path.n_obs),
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
            res.path.weeks,
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
            "the simultaneous band covers the whole path with the stated probability."
        ],
        items,
    )


def report_weeks(weeks: int) -> list[int]:
    """Weeks shown in the HTML tables: the study's milestones up to W, and W."""
    return sorted({w for w in REPORT_WEEKS if w < weeks} | {weeks})


def path_frame(res: PathInference) -> pl.DataFrame:
    """Every week of one path with its CIs, band and p-values (numbers, not strings)."""
    tidy = res.path.tidy()
    return pl.DataFrame(
        {
            "week": np.asarray(res.path.weeks, dtype=np.int64),
            "estimate": tidy["estimate"].to_numpy(),
            "std_error": tidy["std_error"].to_numpy(),
            "ci_low": tidy["ci_low"].to_numpy(),
            "ci_high": tidy["ci_high"].to_numpy(),
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
