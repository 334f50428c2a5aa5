r"""Status at horizons after allocation and binary outcomes (optional; ``[horizons]``).

For each horizon of ``[horizons].months`` (relative week :math:`h(m) = \lfloor (1461 m +
168)/336 \rfloor`, the fixed month rule of :mod:`dreamkit.outcomes.horizons`), every analysed
person's status is the first status of ``[horizons].success`` whose code-map sets hold for
``weeks_in_set`` consecutive weeks ending in the horizon week, else ``other``
(:func:`dreamkit.outcomes.status_at_horizons`). Persons the register does not follow up to a
horizon are excluded from it and counted in the table notes.

Table 1 (``horizons_status``): per horizon and arm the persons analysed, the number and
percentage in each status, Pearson's chi-square and Fisher's exact p-value of each status
against the rest and of the whole 2 x k status distribution
(:func:`dreamkit.estimate.smalltrial.horizon_tables`). Counts of 1..k-1 persons are
suppressed, with secondary suppression inside an arm (the statuses partition the arm's N);
p-values are shown only when both arms have at least k persons.

Table 2 (``horizons_logit``): for the first success status :math:`y_{ih} = 1[\text{status}_{ih}
= s_1]`, the logit model with stratum fixed effects

.. math:: P(y_{ih} = 1) = \Lambda(\alpha + \beta T_i + \gamma_{s(i)}),

with standard errors clustered by the randomisation cluster (CRV1): the odds ratio
:math:`e^{\beta}` with its Wald interval and p-value, and the average marginal effect of
:math:`T` (the risk difference :math:`n^{-1}\sum_i [\Lambda(\hat\alpha + \hat\beta +
\hat\gamma_{s(i)}) - \Lambda(\hat\alpha + \hat\gamma_{s(i)})]`, delta-method SE). A model the
data do not identify (separation) gives a "not estimable" row with the estimator's reason.
"""

from __future__ import annotations

import re
import warnings

import polars as pl

from dreamkit.design import columns as C
from dreamkit.errors import EstimationError, InferenceWarning
from dreamkit.outcomes.horizons import StatusRule, StatusSpec, month_week
from dreamkit.report.context import ReportContext
from dreamkit.report.disclosure import SUPPRESSED
from dreamkit.report.html import Section
from dreamkit.report.tables import NOT_ESTIMABLE, Table, fmt, fmt_effect

NAME = "horizons"
TITLE = "Status at horizons and binary outcomes"


def status_spec(ctx: ReportContext) -> tuple[StatusSpec | None, list[str]]:
    """The status hierarchy of ``[horizons]`` restricted to statuses whose sets the code map
    knows, and a note per status left out (``None`` when none is left)."""
    cfg = ctx.config
    success = dict(cfg.horizons.success) or {
        cfg.outcomes.employment_set: (cfg.outcomes.employment_set,)
    }
    codemap = ctx.register.codemap
    known = set(codemap.sets) | set(codemap.states)
    rules, notes = [], []
    for name, sets in success.items():
        missing = [s for s in sets if s not in known]
        if missing:
            notes.append(
                f"Status {name!r}: the code map has no set or state {missing[0]!r}; left out "
                "(fix [horizons].success)."
            )
            continue
        rules.append(StatusRule(name, tuple(sets), weeks=cfg.horizons.weeks_in_set))
    if not rules:
        return None, notes
    return StatusSpec(tuple(rules)), notes


def horizons_section(ctx: ReportContext) -> Section:
    """Table 1 (status by arm with chi-square and Fisher p) and Table 2 (logit OR and risk
    difference of the first success status) at every configured horizon."""
    from dreamkit.estimate.smalltrial import horizon_tables
    from dreamkit.outcomes import status_at_horizons

    cfg = ctx.config
    if ctx.register is None:
        return ctx.skip(NAME, TITLE, "Skipped: the report was given no register to read.")
    spec, spec_notes = status_spec(ctx)
    if spec is None:
        return ctx.skip(
            NAME,
            TITLE,
            "Skipped: no success status of [horizons].success is a set or state of the code "
            f"map. {' '.join(spec_notes)}",
        )
    stratum, cluster = cfg.design.stratum, cfg.design.cluster
    keep = [C.PERSON, C.ALLOCATION_WEEK, C.TREATED, stratum, cluster]
    trial = ctx.persons.select(list(dict.fromkeys(c for c in keep if c in ctx.persons.columns)))
    status = status_at_horizons(ctx.register, trial, spec, list(cfg.horizons.months), unit="months")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InferenceWarning)  # separation: the note says it
        tests = horizon_tables(
            status, pair=None, stratum=None, level=cfg.inference.level, exact_rd=False
        )
    ctx.results[NAME] = {"status": status, "tests": tests}
    rows1: list[list[object]] = []
    rows2: list[list[object]] = []
    notes: list[str] = list(spec_notes)
    first = spec.rules[0].name
    fits: dict[str, object] = {}
    for label in status.flows:
        frame = status.at(label)
        week = month_week(int(label.removesuffix("m")))
        n1 = int(frame[C.TREATED].sum())
        n0 = frame.height - n1
        out1 = f"{NAME}_status"
        shown_n1 = ctx.log.count(out1, f"{label}: N treated", n1)
        shown_n0 = ctx.log.count(out1, f"{label}: N control", n0)
        excluded = ctx.n_persons - frame.height
        if SUPPRESSED in (shown_n1, shown_n0):  # the total minus the other arm would reveal it
            ctx.log.record(out1, f"{label}: N analysed, not followed up", "secondary suppression")
            n_text, excluded_text = SUPPRESSED, SUPPRESSED
        else:
            n_text = str(frame.height)
            excluded_text = str(ctx.log.count(out1, f"{label}: not followed up", excluded))
        notes.append(
            f"Horizon {label} (relative week {week}): {n_text} persons analysed, "
            f"{excluded_text} not followed up to it excluded."
        )
        arms_ok = ctx.arms_ok(frame, out1, f"{label}: p-values")
        table = tests[label]
        counts = {
            arm: [
                int(frame.filter((pl.col(C.TREATED) == t) & (pl.col("status") == s)).height)
                for s in spec.labels
            ]
            for arm, t in (("treated", 1), ("control", 0))
        }
        hidden = {
            arm: (
                [True] * len(spec.labels)
                if ctx.log.too_few(n)
                else ctx.log.suppress_with_total(
                    out1, [f"{label}: {s}, {arm}" for s in spec.labels], counts[arm]
                )
            )
            for arm, n in (("treated", n1), ("control", n0))
        }
        if arms_ok and any(any(h) for h in hidden.values()):
            # given the arms' N, a test's p-value is a function of the hidden counts
            ctx.log.record(out1, f"{label}: p-values", "a count they are computed from is hidden")
            arms_ok = False
        for j, s in enumerate(spec.labels):
            r = table.filter(pl.col("outcome") == f"status={s}").row(0, named=True)
            cells: list[object] = [label, s]
            for arm, n, shown_n in (("treated", n1, shown_n1), ("control", n0, shown_n0)):
                e = counts[arm][j]
                assert e == r[f"events_{arm}"]
                if hidden[arm][j]:
                    cells += [shown_n, SUPPRESSED, SUPPRESSED]
                else:
                    cells += [shown_n, e, round(100.0 * e / n, 1)]
            p = [r["p_chi2"], r["p_fisher"]] if arms_ok else [SUPPRESSED, SUPPRESSED]
            rows1.append(cells + p)
        k = table.filter(pl.col("outcome").str.starts_with("status (")).row(0, named=True)
        p = [k["p_chi2"], k["p_fisher"]] if arms_ok else [SUPPRESSED, SUPPRESSED]
        rows1.append([label, k["outcome"], shown_n1, "", "", shown_n0, "", "", *p])
        rows2.append(_logit_row(ctx, frame, label, first, fits))
    ctx.results[NAME]["logit"] = fits
    level = cfg.inference.level
    t1 = ctx.add_table(
        Table.from_rows(
            out1,
            "Status at horizons after allocation, by arm",
            [
                "horizon",
                "status",
                "N treated",
                "n treated",
                "% treated",
                "N control",
                "n control",
                "% control",
                "chi-square p",
                "Fisher p",
            ],
            rows1,
            notes=[
                ctx.n_note(clustered=False),
                f"Status: the first of {', '.join(spec.labels[:-1])} whose code-map sets hold "
                f"for {cfg.horizons.weeks_in_set} consecutive week(s) ending in the horizon "
                f"week, else {spec.other}. Month m is relative week floor((1461 m + 168)/336).",
                "p-values: Pearson chi-square (no continuity correction) and Fisher's exact "
                "test of each status against the rest; the last row per horizon tests the "
                "whole status distribution (2 x k). They treat persons as independent "
                f"(the clustering by {cluster} is ignored); the logit below accounts for it.",
                *notes,
            ],
        )
    )
    t2 = ctx.add_table(
        Table.from_rows(
            f"{NAME}_logit",
            f"Logit of status {first!r} at each horizon on treatment",
            [
                "horizon",
                "odds ratio",
                f"{level:.0%} CI low",
                f"{level:.0%} CI high",
                "p",
                "risk difference (se)",
                "N",
                "clusters",
            ],
            rows2,
            notes=[
                ctx.n_note(),
                "Logit with fixed effects as dummies in the likelihood; CRV1 standard errors. "
                "Odds ratio with its Wald interval; risk difference: average marginal effect "
                "of treatment (delta method). Per horizon, N counts the persons followed up to "
                "it. * p < 0.05.",
            ],
        )
    )
    return Section(
        NAME,
        TITLE,
        [
            f"Status at {', '.join(status.flows)} after allocation by arm, and the logit odds "
            f"ratio and risk difference of status {first!r}."
        ],
        [t1, t2],
    )


def _logit_row(
    ctx: ReportContext, frame: pl.DataFrame, label: str, outcome: str, fits: dict[str, object]
) -> list[object]:
    """One row of Table 2: OR (CI), p, risk difference (se), N, clusters; or why not."""
    from dreamkit.estimate.models import logit

    cfg = ctx.config
    output = f"{NAME}_logit"
    n_yes = int(frame[outcome].sum())
    if not ctx.arms_ok(frame, output, label) or not ctx.log.binary_share_ok(
        output, label, n_yes, frame.height
    ):
        return [label, SUPPRESSED, "", "", "", "", "", ""]
    try:
        res = logit(
            f"{outcome} ~ {C.TREATED} | {cfg.design.stratum}",
            frame,
            vcov={"CRV1": cfg.design.cluster},
            level=cfg.inference.level,
        )
        odds = res.tidy(exponentiate=True).filter(pl.col("term") == C.TREATED).row(0, named=True)
        rd = res.risk_difference(C.TREATED).row(0, named=True)
    except EstimationError as err:
        return [label, f"{NOT_ESTIMABLE}: {_without_counts(str(err))}", "", "", "", "", "", ""]
    fits[label] = res
    g = res.glance().row(0, named=True)
    return [
        label,
        fmt(odds["estimate"]),
        odds["conf_low"],
        odds["conf_high"],
        odds["p_value"],
        fmt_effect(rd),
        g["n_obs"],
        g["n_clusters"],
    ]


def _without_counts(message: str) -> str:
    """An estimator's reason without its parenthesised counts (e.g. "(0 events among 3
    persons)"), which could show a cell of fewer than k persons."""
    return re.sub(r"\s*\([^()]*\d[^()]*\)", "", message)
