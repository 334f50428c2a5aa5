"""Sample flow: the outcomes ledger as a table and a CONSORT-style diagram.

Exclusion counts below the disclosure threshold are suppressed; because randomised minus
analysed is published, a second count is suppressed with it (secondary suppression), and the
running "remaining" counts between the first and the last suppressed step are hidden as well,
so no suppressed count can be recovered by subtraction.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from dreamkit.design import columns as C
from dreamkit.report.context import ReportContext
from dreamkit.report.disclosure import SUPPRESSED
from dreamkit.report.figures import Figure, new_figure
from dreamkit.report.html import Section
from dreamkit.report.tables import Table

NAME = "sample_flow"


def flow_section(ctx: ReportContext) -> Section:
    """Table and diagram of every exclusion step, its reason and its count."""
    flow = ctx.flow
    steps = [str(s) for s in flow["step"]]
    reasons = [str(r) for r in flow["reason"]]
    removed = [int(r) for r in flow["removed"]]
    remaining = [int(r) for r in flow["remaining"]]
    hidden, total_hidden = ctx.log.protect_counts(NAME, [f"excluded: {s}" for s in steps], removed)
    n_start = ctx.randomised.height
    # randomised minus analysed (analysed is published everywhere) is the exclusions' total:
    # when it is small or would reveal the hidden exclusions, hide the randomised count, and
    # every intermediate remaining count, then
    start_hidden = total_hidden or ctx.log.small(n_start - ctx.n_persons)
    if start_hidden:
        ctx.log.record(NAME, "randomised", "randomised - analysed would reveal a small count")
    marked = [i for i, h in enumerate(hidden) if h]
    first = 0 if start_hidden else (marked[0] if marked else len(steps))
    last = len(steps) - 1 if start_hidden else (marked[-1] if marked else 0)
    hidden_remaining = [first <= i < last for i in range(len(steps))]
    for i in np.flatnonzero(hidden_remaining):
        ctx.log.record(NAME, f"remaining after: {steps[i]}", "would reveal a suppressed count")
    shown_removed = [SUPPRESSED if h else r for h, r in zip(hidden, removed, strict=True)]
    shown_remaining = [
        SUPPRESSED if h else r for h, r in zip(hidden_remaining, remaining, strict=True)
    ]
    shown_start: str | int = SUPPRESSED if start_hidden else n_start
    randomised = _randomised_by_arm(ctx)
    analysed = _by_arm(ctx, ctx.persons, "analysed")
    rows: list[list[object]] = [["randomised", "", "", shown_start]]
    rows += [
        [s, r, n, m]
        for s, r, n, m in zip(steps, reasons, shown_removed, shown_remaining, strict=True)
    ]
    table = ctx.add_table(
        Table.from_rows(
            NAME,
            "Sample flow: randomised, excluded (step, reason, count), analysed",
            ["step", "reason", "excluded", "remaining"],
            rows,
            notes=[
                f"Randomised {shown_start} persons (course {randomised[1]}, control "
                f"{randomised[0]}); analysed N = {ctx.n_persons} (course {analysed[1]}, control "
                f"{analysed[0]}) in {ctx.n_clusters} {ctx.config.design.cluster}s "
                "(the clusters of the analysis)."
            ],
        )
    )
    figure = _diagram(ctx, steps, reasons, shown_removed, shown_start, randomised, analysed)
    return Section(
        "sample-flow",
        "Sample flow",
        [
            "Every step that removes persons between randomisation and analysis, with its reason "
            "and count (CONSORT style)."
        ],
        [table, figure],
    )


def _by_arm(ctx: ReportContext, frame: pl.DataFrame, what: str) -> tuple[str | int, str | int]:
    n_treated = int(frame[C.TREATED].sum())
    return (
        ctx.log.count(NAME, f"{what}, control", frame.height - n_treated),
        ctx.log.count(NAME, f"{what}, course", n_treated),
    )


def _randomised_by_arm(ctx: ReportContext) -> tuple[str | int, str | int]:
    """Randomised per arm, hidden where randomised - analysed in that arm would be small.

    Because the randomised total is published too, hiding one arm alone would leave it
    recoverable as total minus the other arm: the other arm is then hidden as well
    (complementary suppression).
    """
    shown = list(_by_arm(ctx, ctx.randomised, "randomised"))
    for arm, label in ((0, "control"), (1, "course")):
        n_randomised = int((ctx.randomised[C.TREATED] == arm).sum())
        lost = n_randomised - int((ctx.persons[C.TREATED] == arm).sum())
        if ctx.log.small(lost) and shown[arm] != SUPPRESSED:
            shown[arm] = SUPPRESSED
            ctx.log.record(NAME, f"randomised, {label}", "would reveal a small exclusion count")
    for arm, label in ((0, "control"), (1, "course")):
        if shown[1 - arm] == SUPPRESSED and shown[arm] != SUPPRESSED:
            shown[arm] = SUPPRESSED
            ctx.log.record(
                NAME, f"randomised, {label}", "total minus this arm would reveal the other arm"
            )
    return shown[0], shown[1]


def _diagram(
    ctx: ReportContext,
    steps: list[str],
    reasons: list[str],
    removed: list[str | int],
    n_start: str | int,
    randomised: tuple[str | int, str | int],
    analysed: tuple[str | int, str | int],
) -> Figure:
    fig, (ax,) = new_figure()
    ax.set_axis_off()
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    box = {"boxstyle": "round,pad=0.4", "facecolor": "#eef3f8", "edgecolor": "#345"}
    side = {"boxstyle": "round,pad=0.3", "facecolor": "#fff5e6", "edgecolor": "#a63"}
    ax.text(
        0.3,
        0.92,
        f"Randomised: {n_start}\ncourse {randomised[1]}, control {randomised[0]}",
        ha="center",
        va="center",
        bbox=box,
        fontsize=10,
    )
    ax.text(
        0.3,
        0.08,
        f"Analysed: {ctx.n_persons}\ncourse {analysed[1]}, control {analysed[0]}\n"
        f"{ctx.n_clusters} {ctx.config.design.cluster}s",
        ha="center",
        va="center",
        bbox=box,
        fontsize=10,
    )
    ax.annotate("", xy=(0.3, 0.17), xytext=(0.3, 0.85), arrowprops={"arrowstyle": "->"})
    n = max(len(steps), 1)
    for i, (step, reason, count) in enumerate(zip(steps, reasons, removed, strict=True)):
        y = 0.75 - i * 0.5 / max(n - 1, 1) if n > 1 else 0.5
        ax.annotate("", xy=(0.55, y), xytext=(0.3, y), arrowprops={"arrowstyle": "->"})
        ax.text(
            0.57,
            y,
            f"Excluded: {count}\n{step}: {reason}"[:90],
            ha="left",
            va="center",
            bbox=side,
            fontsize=8,
            wrap=True,
        )
    return ctx.add_figure(fig, NAME, "Sample flow from randomisation to analysis.")
