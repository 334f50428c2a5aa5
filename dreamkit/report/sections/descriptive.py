"""Descriptive table: means of baseline variables and outcomes by arm, waiting time and
self-efficacy (the study's Table 3.1 layout).

Groups: all; course (T = 1); control (T = 0); short wait (waiting_days < d); long wait
(waiting_days >= d); low self-efficacy (UW-SES <= c); high (UW-SES > c). A person with a missing
UW-SES total is in neither self-efficacy group. Each cell is the group mean of the variable
over persons with a value; a binary variable's share is published only if at least k persons
have it and k lack it, any other mean only if it rests on at least k persons.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from dreamkit.design import columns as C
from dreamkit.report.context import ReportContext
from dreamkit.report.disclosure import SUPPRESSED, CountTable, DisclosureLog, protect_table
from dreamkit.report.html import Section
from dreamkit.report.plan import SELF_EFFICACY, WAITING_TIME
from dreamkit.report.tables import Table

NAME = "descriptive"


def groups(ctx: ReportContext) -> dict[str, pl.Expr]:
    """The descriptive groups as boolean expressions over the person table: "all", then pairs
    (the arms; waiting time and self-efficacy where the trial has them)."""
    d = ctx.config.design.short_wait_days
    c = ctx.config.self_efficacy.cutoff
    out = {
        "all": pl.lit(True),
        "course": pl.col(C.TREATED) == 1,
        "control": pl.col(C.TREATED) == 0,
    }
    if ctx.runs.has(WAITING_TIME):
        out[f"wait < {d} days"] = pl.col(C.WAITING_DAYS) < d
        out[f"wait >= {d} days"] = pl.col(C.WAITING_DAYS) >= d
    if ctx.runs.has(SELF_EFFICACY):
        out[f"UW-SES 0-{c}"] = pl.col(C.UWSES) <= c
        out[f"UW-SES {c + 1}-24"] = pl.col(C.UWSES) > c
    return out


#: The descriptive pairs' names in the balance tables (:func:`study_samples`).
SAMPLE_OF_SPLIT = {"wait": ("short wait", "long wait"), "se": ("low SE", "high SE")}
ARM_LABELS = ("control", "course")


@dataclass(frozen=True)
class PersonCounts:
    """The published person counts of the descriptive and balance tables, protected jointly.

    ``total``: all persons; ``arms``: control / course; ``groups``: each descriptive group of a
    split (waiting time, self-efficacy); ``cells``: (group, arm), shown in the balance table.
    Each value is the count or :data:`SUPPRESSED`. ``splits``: split -> its two groups.
    """

    total: int | str
    arms: dict[str, int | str]
    groups: dict[str, int | str]
    cells: dict[tuple[str, str], int | str]
    splits: dict[str, tuple[str, str]]


def person_counts(ctx: ReportContext) -> PersonCounts:
    """Persons by arm within each split of "all" (waiting time; self-efficacy, whose persons
    without a UW-SES form a remainder row), protected as count tables with margins.

    The descriptive table publishes the margins (all, the arms, each group), the balance tables
    the interior (each sample's persons by arm) and each sample's N: one two-way table per
    split, rows = its groups (+ the remainder), columns = the arms. Each goes through
    :func:`~dreamkit.report.disclosure.protect_table` (primary and secondary suppression until
    no hidden count is recoverable from the row and column totals). The remainder (persons
    without a value) is published nowhere, and with a remainder the balance table leaves the
    split out, so only the margins are published: those parts are unknowns of the attack from
    the start. A margin shared by the splits
    (an arm, the total) hidden in one split is hidden in all. Every hidden count is recorded
    under each table that would have shown it. Computed once per report.
    """
    cached = ctx.results.get("person_counts")
    if isinstance(cached, PersonCounts):
        return cached
    exprs = groups(ctx)
    names = list(exprs)
    splits = {
        "wait" if names[i].startswith("wait") else "se": (names[i], names[i + 1])
        for i in range(3, len(names), 2)
    }
    arm = ctx.persons[C.TREATED].to_numpy()
    by_arm = [int((arm == a).sum()) for a in (0, 1)]
    tables: dict[str, tuple[list[str], list[list[int]]]] = {"all": (["all"], [by_arm])}
    unpublished: dict[str, tuple[list[list[bool]], list[bool]]] = {}
    for split, pair in splits.items():
        member = [
            ctx.persons.select(exprs[g].fill_null(False)).to_series().to_numpy() for g in pair
        ]
        rows = list(pair)
        counts = [[int((m & (arm == a)).sum()) for a in (0, 1)] for m in member]
        rest = ~(member[0] | member[1])
        if rest.any():  # the balance table then leaves the split out: margins only
            rows.append(f"{split} without a value")
            counts.append([int((rest & (arm == a)).sum()) for a in (0, 1)])
            unpublished[split] = ([[True, True]] * 3, [False, False, True])
        tables[split] = (rows, counts)
    scratch = DisclosureLog(ctx.log.min_cell)
    published: dict[str, CountTable] = {
        split: protect_table(
            scratch,
            split,
            counts,
            rows=rows,
            columns=ARM_LABELS,
            unpublished_cells=unpublished.get(split, (None, None))[0],
            unpublished_rows=unpublished.get(split, (None, None))[1],
        )
        for split, (rows, counts) in tables.items()
    }
    col_hidden = [any(t.col_totals[j] == SUPPRESSED for t in published.values()) for j in (0, 1)]
    total: int | str = (
        SUPPRESSED if any(t.total == SUPPRESSED for t in published.values()) else sum(by_arm)
    )
    arms: dict[str, int | str] = {
        label: SUPPRESSED if col_hidden[j] else by_arm[j] for j, label in enumerate(ARM_LABELS)
    }
    group_n: dict[str, int | str] = {}
    cells: dict[tuple[str, str], int | str] = {}
    for split, pair in splits.items():
        table = published[split]
        for i, g in enumerate(pair):
            group_n[g] = table.row_totals[i]
            for j, label in enumerate(ARM_LABELS):
                cells[(g, label)] = table.cells[i][j]
    reasons = {(e.output, e.cell): e.reason for e in scratch.entries}
    _record_counts(ctx, splits, set(unpublished), reasons, total, arms, group_n, cells)
    out = PersonCounts(total, arms, group_n, cells, splits)
    ctx.results["person_counts"] = out
    return out


def _record_counts(
    ctx: ReportContext,
    splits: dict[str, tuple[str, str]],
    left_out: set[str],
    reasons: dict[tuple[str, str], str],
    total: int | str,
    arms: dict[str, int | str],
    group_n: dict[str, int | str],
    cells: dict[tuple[str, str], int | str],
) -> None:
    """Record each hidden person count under every table that would have shown it (the balance
    tables leave out the splits in ``left_out``: persons without a value)."""
    shared = "margin suppressed (small, or another split's table would reveal a cell)"

    def why(split: str, cell: str) -> str:
        return reasons.get((split, cell), shared)

    if total == SUPPRESSED:
        for split in ("all", *splits):
            if (split, "total") in reasons:
                reason = reasons[(split, "total")]
                break
        else:
            reason = shared
        ctx.log.record(NAME, "persons, all", reason)
        ctx.log.record("balance", "persons, sample all", reason)
        ctx.log.record("balance_joint", "persons, sample all", reason)
    for label, value in arms.items():
        if value == SUPPRESSED:
            cell = f"column total: {label}"
            split = next((s for s in ("all", *splits) if (s, cell) in reasons), "all")
            ctx.log.record(NAME, f"persons, {label}", why(split, cell))
            ctx.log.record("balance", f"persons, sample all, {label}", why(split, cell))
    for split, pair in splits.items():
        for g, sample in zip(pair, SAMPLE_OF_SPLIT[split], strict=True):
            if group_n[g] == SUPPRESSED:
                reason = why(split, f"row total: {g}")
                ctx.log.record(NAME, f"persons, {g}", reason)
                if split not in left_out:
                    ctx.log.record("balance_joint", f"persons, sample {sample}", reason)
            if split in left_out:
                continue
            for label in ARM_LABELS:
                if cells[(g, label)] == SUPPRESSED:
                    reason = why(split, f"{g}, {label}")
                    ctx.log.record("balance", f"persons, sample {sample}, {label}", reason)


def descriptive_variables(ctx: ReportContext) -> list[str]:
    """UW-SES, waiting time, the prognostic covariates, the subgroup indicators, the
    pre-allocation shares over all P weeks and both share outcomes at week W (those the person
    table has, as numbers)."""
    cfg = ctx.config
    p, w = cfg.outcomes.pre_weeks, cfg.outcomes.weeks
    wanted = [
        C.UWSES,
        C.WAITING_DAYS,
        *cfg.covariates.prognostic,
        *cfg.covariates.subgroups,
        f"pre_emp_{p}_1",
        f"pre_sick_{p}_1",
        f"emp_share_{w}",
        f"sick_share_{w}",
        "dur_emp",
        "event_emp",
        "dur_sick",
        "event_sick",
    ]
    return [
        c
        for c in dict.fromkeys(wanted)
        if c in ctx.persons.columns and ctx.persons[c].dtype.is_numeric()
    ]


def descriptive_section(ctx: ReportContext, variables: list[str]) -> Section:
    """Means by group for ``variables`` (columns of the person table).

    The three pairs of groups (arms, waiting time, self-efficacy) each split "all" (the
    self-efficacy pair leaves out persons without UW-SES), so a pair's cells are suppressed
    together whenever one of them, or the left-out remainder, could not be published
    (complementary suppression: "all" minus the other group would reveal it).
    """
    group_exprs = groups(ctx)
    frames = {name: ctx.persons.filter(expr.fill_null(False)) for name, expr in group_exprs.items()}
    names = list(frames)
    pairs = [names[i : i + 2] for i in range(1, len(names), 2)]
    counts = person_counts(ctx)
    shown: dict[str, object] = {
        "all": counts.total,
        "course": counts.arms["course"],
        "control": counts.arms["control"],
        **counts.groups,
    }
    rows: list[list[object]] = [["persons", *shown.values()]]
    for var in variables:
        binary = _is_binary(ctx.persons[var])
        stats: dict[str, tuple[int, int | None]] = {}
        cells: dict[str, object] = {}
        for group, frame in frames.items():
            values = frame[var].drop_nulls().cast(pl.Float64)
            cell = f"{var}, {group}"
            n_yes = int(values.sum()) if binary else None
            stats[group] = (values.len(), n_yes)
            if binary:
                ok = ctx.log.binary_share_ok(NAME, cell, int(n_yes or 0), values.len())
            else:
                ok = ctx.log.group_ok(NAME, cell, [values.len()])
            cells[group] = float(values.mean()) if ok else SUPPRESSED  # type: ignore[arg-type]
        _complement(ctx, pairs, cells, var, stats.__getitem__)
        if binary:
            _protect_shares(ctx, var, frames, pairs, cells)
        rows.append([var, *cells.values()])
    table = ctx.add_table(
        Table.from_rows(
            NAME,
            "Baseline variables and outcomes: means by arm, waiting time and self-efficacy",
            ["variable", *group_exprs],
            rows,
            notes=[ctx.n_note(clustered=False), "Binary variables: shares; others: means."],
        )
    )
    return Section(
        "descriptive",
        "Descriptive statistics",
        [
            "Means of the baseline variables and of the outcomes at the end of follow-up, by "
            + _by(ctx)
            + ".",
            *ctx.left_out(NAME, WAITING_TIME),
            *ctx.left_out(NAME, SELF_EFFICACY),
        ],
        [table],
    )


def _by(ctx: ReportContext) -> str:
    parts = ["arm"]
    if ctx.runs.has(WAITING_TIME):
        parts.append("waiting time")
    if ctx.runs.has(SELF_EFFICACY):
        parts.append("baseline self-efficacy")
    return ", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else parts[0]


def _complement(
    ctx: ReportContext,
    pairs: list[list[str]],
    cells: dict[str, object],
    var: str,
    stats: Callable[[str], tuple[int, int | None]],
) -> None:
    """Complementary suppression of each pair of groups against the "all" column, in place.

    ``stats(group)`` is (persons with a value, persons with the attribute or ``None`` for a
    non-binary variable). The remainder ``all - pair`` is publishable if it is empty or, for a
    binary variable, has 0 or at least k persons with and without the attribute, otherwise has
    at least k persons.
    """
    n_all, yes_all = stats("all")
    for pair in pairs:
        n_rest = n_all - sum(stats(g)[0] for g in pair)
        if yes_all is None:
            rest_ok = not ctx.log.small(n_rest)
        else:
            yes_rest = yes_all - sum(int(stats(g)[1] or 0) for g in pair)
            rest_ok = not (ctx.log.small(yes_rest) or ctx.log.small(n_rest - yes_rest))
        hidden = ctx.log.hide_partition(
            NAME, [f"{var}, {g}" for g in pair], [cells[g] == SUPPRESSED for g in pair], rest_ok
        )
        for g, h in zip(pair, hidden, strict=True):
            if h:
                cells[g] = SUPPRESSED


def _protect_shares(
    ctx: ReportContext,
    var: str,
    frames: dict[str, pl.DataFrame],
    pairs: list[list[str]],
    cells: dict[str, object],
) -> None:
    """Secondary suppression of a binary variable's shares, in place.

    A share x the group's persons gives the count with the attribute, so each pair of groups
    publishes the table "group x attribute (1 / 0)" whose column totals are the counts of
    "all" and whose row totals are the groups' persons with a value; the persons of "all" in
    neither group (without a UW-SES) form one more row, published nowhere (an unknown of the
    attack). The table goes through
    :func:`~dreamkit.report.disclosure.protect_table`; a group with a hidden cell or total
    loses its share, and "all" loses its share when a row total or the total is hidden.
    """
    scratch = DisclosureLog(ctx.log.min_cell)

    def counts(frame: pl.DataFrame) -> list[int]:
        values = frame[var].drop_nulls()
        return [int((values == 1).sum()), int((values == 0).sum())]

    everyone = counts(frames["all"])
    for pair in pairs:
        rows = [counts(frames[g]) for g in pair]
        rest = [everyone[r] - sum(c[r] for c in rows) for r in (0, 1)]
        names = list(pair)
        absent = [False, False]
        if any(rest):  # persons in neither group: published nowhere
            rows.append(rest)
            names.append("persons in neither group")
            absent.append(True)
        table = protect_table(
            scratch,
            NAME,
            rows,
            rows=names,
            columns=[f"{var} = 1", f"{var} = 0"],
            unpublished_cells=[[a, a] for a in absent],
            unpublished_rows=absent,
        )
        for i, g in enumerate(pair):
            hidden = table.row_totals[i] == SUPPRESSED or SUPPRESSED in table.cells[i]
            if hidden and cells[g] != SUPPRESSED:
                cells[g] = SUPPRESSED
                ctx.log.record(
                    NAME,
                    f"{var}, {g}",
                    "secondary suppression (the shares x persons of the other groups and of "
                    "all would reveal a small count)",
                )
        all_hidden = table.total == SUPPRESSED or SUPPRESSED in table.col_totals
        if all_hidden and cells["all"] != SUPPRESSED:
            cells["all"] = SUPPRESSED
            ctx.log.record(
                NAME,
                f"{var}, all",
                "secondary suppression (the groups' shares would reveal a small count)",
            )


def _is_binary(values: pl.Series) -> bool:
    if not values.dtype.is_numeric():
        return False
    present = values.drop_nulls().cast(pl.Float64)
    return present.len() > 0 and bool(((present == 0.0) | (present == 1.0)).all())
