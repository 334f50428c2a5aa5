r"""Activation outcomes: the ITT of model (2) on the share of weeks 1..W in each activation set.

For each set of ``[outcomes].activation_sets`` the code map knows (the study: guidance and
firm-based activation under sickness benefit), :math:`Y_i` is the share of weeks 1..W in the
set and

.. math:: Y_i = \tau T_i + \sum_k b_k M_{ik} + X_i'd + e_i,

estimated by :func:`dreamkit.estimate.linear.itt.effect_path` (stratum fixed effects, prognostic
covariates, standard errors clustered by the randomisation cluster). An outcome without
variation (e.g. nobody in the analysed sample has an activation week) has no effect to
estimate: its row says so. The control mean gives the controls' person-weeks in the set,
``W n_0 mean``, which is shown only if it and the person-weeks outside the set are 0 or at
least k; the table is published only if both arms have at least k persons.
"""

from __future__ import annotations

import polars as pl

from dreamkit.design import columns as C
from dreamkit.report.context import ReportContext
from dreamkit.report.disclosure import SUPPRESSED
from dreamkit.report.html import Section
from dreamkit.report.plan import activation_outcomes
from dreamkit.report.sections.paths import arms_publishable
from dreamkit.report.tables import NOT_ESTIMABLE, Table, fmt_effect

NAME = "activation"
TITLE = "Activation outcomes"


def activation_section(ctx: ReportContext) -> Section:
    """One row per activation set: effect (se), CI, control mean, N, clusters."""
    from dreamkit.estimate.linear.itt import effect_path

    cfg = ctx.config
    w = cfg.outcomes.weeks
    if not arms_publishable(ctx, NAME):
        return ctx.skip(NAME, TITLE, "Suppressed: an arm of the analysed sample is too small.")
    rows: list[list[object]] = []
    notes: list[str] = []
    results = {}
    for prefix, name in activation_outcomes(cfg).items():
        column = f"{prefix}_share_{w}"
        if column not in ctx.persons.columns:
            notes.append(f"{name}: the code map has no such set or state; not reported.")
            continue
        values = ctx.persons[column].drop_nulls().cast(pl.Float64).to_numpy()
        if values.size == 0 or values.min() == values.max():
            rows.append([name, NOT_ESTIMABLE, "", "", "", ctx.n_persons, ctx.n_clusters])
            notes.append(
                f"{name}: every analysed person has the same share of weeks in it "
                f"({values.max() if values.size else 0.0:.3f}), so there is no effect to estimate."
            )
            continue
        res = effect_path(
            ctx.persons,
            [column],
            list(cfg.covariates.prognostic),
            stratum=cfg.design.stratum,
            cluster=cfg.design.cluster,
            level=cfg.inference.level,
        )
        results[name] = res
        r = res.tidy().row(0, named=True)
        g = res.glance().row(0, named=True)
        rows.append(
            [
                name,
                fmt_effect(r),
                r["conf_low"],
                r["conf_high"],
                _control_mean(ctx, column, float(r["control_mean"])),
                g["n_obs"],
                g["n_clusters"],
            ]
        )
    ctx.results[NAME] = results
    level = cfg.inference.level
    table = ctx.add_table(
        Table.from_rows(
            f"{NAME}_effects",
            f"ITT effect on the share of weeks 1..{w} in activation, model (2)",
            [
                "activation set",
                "effect (se)",
                f"{level:.0%} CI low",
                f"{level:.0%} CI high",
                "control mean",
                "N",
                "clusters",
            ],
            rows,
            notes=[
                ctx.n_note(),
                f"Covariates: {', '.join(cfg.covariates.prognostic) or 'none'}. * p < 0.05 "
                "(CRV1 t).",
                *notes,
            ],
        )
    )
    return Section(
        NAME,
        TITLE,
        [f"Model (2) at week {w} for the share of weeks in each activation set of the code map."],
        [table],
    )


def _control_mean(ctx: ReportContext, column: str, mean: float) -> object:
    """The control mean, or suppressed when the controls' person-weeks in or out of the set
    number 1..k-1."""
    w = ctx.config.outcomes.weeks
    controls = ctx.persons.filter(pl.col(C.TREATED) == 0)
    weeks_in = round(float(controls[column].fill_null(0.0).sum()) * w)
    weeks_out = controls.height * w - weeks_in
    if ctx.log.small(weeks_in) or ctx.log.small(weeks_out):
        ctx.log.record(
            NAME,
            f"control mean, {column}",
            f"1-{ctx.log.min_cell - 1} control person-weeks in or out of the set",
        )
        return SUPPRESSED
    return mean
