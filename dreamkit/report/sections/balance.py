"""Balance, model (B): each baseline variable on treatment + stratum fixed effects, in the
study's five samples (:func:`dreamkit.estimate.linear.balance.balance`).

Cells show the coefficient a (star: p < 0.05) with its team-clustered standard error; the
joint-test table gives, per sample, the randomisation p-value of the joint test. A sample
whose smaller arm has fewer than k persons is suppressed whole.
"""

from __future__ import annotations

import polars as pl

from dreamkit.design import columns as C
from dreamkit.report.context import ReportContext
from dreamkit.report.disclosure import SUPPRESSED
from dreamkit.report.html import Section
from dreamkit.report.plan import SELF_EFFICACY, WAITING_TIME, baseline_variables
from dreamkit.report.sections.descriptive import SAMPLE_OF_SPLIT, person_counts
from dreamkit.report.tables import Table, fmt_effect

NAME = "balance"
Count = int | str
_PAIRS = (("short wait", "long wait"), ("low SE", "high SE"))


def balance_variables(ctx: ReportContext) -> list[str]:
    """Configured balance variables, or every numeric baseline column
    (:func:`dreamkit.report.plan.baseline_variables`)."""
    return baseline_variables(ctx.persons, ctx.randomised, ctx.config)


def balance_section(ctx: ReportContext) -> Section:
    """Balance table (variables x samples) and joint tests."""
    from dreamkit.estimate.linear.balance import balance, study_samples

    cfg = ctx.config
    samples = study_samples(
        short_wait_days=cfg.design.short_wait_days, se_cutoff=cfg.self_efficacy.cutoff
    )
    left_out = ctx.left_out(NAME, WAITING_TIME) + ctx.left_out(NAME, SELF_EFFICACY)
    for part, pair in zip((WAITING_TIME, SELF_EFFICACY), _PAIRS, strict=True):
        if not ctx.runs.has(part):
            samples = {k: v for k, v in samples.items() if k not in pair}
        elif reason := _pair_problem(ctx, [samples[k] for k in pair]):
            samples = {k: v for k, v in samples.items() if k not in pair}
            sentence = f"Without the {part}: {reason}"
            ctx.skipped[f"{NAME}: {part}"] = sentence
            left_out.append(sentence)
    variables = balance_variables(ctx)
    result = balance(
        ctx.persons,
        variables,
        samples=samples,
        stratum=cfg.design.stratum,
        cluster=cfg.design.cluster,
        ri_draws=cfg.inference.ri_draws,
        seed=cfg.inference.seed,
    )
    ctx.results["balance"] = result
    publishable = {
        name: ctx.arms_ok(ctx.persons.filter(expr.fill_null(False)), NAME, f"sample {name}")
        for name, expr in samples.items()
    }
    persons = _sample_counts(ctx, list(samples))
    table = result.tidy()
    rows: list[list[object]] = [
        [
            "persons (control / course)",
            *[
                f"{c} / {t}" if SUPPRESSED not in (c, t) and publishable[s] else SUPPRESSED
                for s, (c, t, _) in persons.items()
            ],
        ]
    ]
    for var in variables:
        row: list[object] = [var]
        for name in samples:
            hit = table.filter((pl.col("sample") == name) & (pl.col("variable") == var))
            if not publishable[name]:
                row.append(SUPPRESSED)
            else:
                r = hit.row(0, named=True)
                row.append(fmt_effect(r))
        rows.append(row)
    n_stars = int(table["star"].sum())
    main = ctx.add_table(
        Table.from_rows(
            NAME,
            "Balance (B): coefficient on treatment (standard error) by sample",
            ["variable", *samples],
            rows,
            notes=[
                ctx.n_note(),
                f"* p < 0.05: {n_stars} of {table.height} tests (about "
                f"{0.05 * table.height:.0f} expected by chance); after Holm adjustment "
                f"{int((table['p_holm'] < 0.05).sum())}, after Benjamini-Hochberg "
                f"{int((table['p_bh'] < 0.05).sum())}.",
            ],
        )
    )
    joint_rows = [
        [
            r["sample"],
            *(
                _joint_cells(r, persons[r["sample"]][2])
                if publishable[r["sample"]]
                else [SUPPRESSED] * 5
            ),
        ]
        for r in result.joint.iter_rows(named=True)
    ]
    joint = ctx.add_table(
        Table.from_rows(
            "balance_joint",
            "Balance: joint test of all variables per sample",
            ["sample", "persons", "variables", "Wald F p-value", "randomisation p-value", "note"],
            joint_rows,
            notes=[
                ctx.n_note(),
                f"Treatment regressed on all variables and {cfg.design.stratum} fixed effects; "
                "cluster-robust Wald F test (not computable with more variables than clusters "
                f"- 1) and the randomisation p-value of R^2 over {cfg.inference.ri_draws} "
                f"re-allocations within {cfg.design.cluster}s. With many variables relative to "
                "the number of clusters the cluster-robust Wald test over-rejects badly; the "
                "randomisation p-value is exact under the design.",
            ],
        )
    )
    return Section(
        "balance",
        "Balance",
        [
            "Model (B): x_i = a T_i + sum_k b_k M_ik + e_i for each baseline variable x, in the "
            f"samples {', '.join(samples)}.",
            *left_out,
        ],
        [main, joint],
    )


def _pair_problem(ctx: ReportContext, specs: list[pl.Expr | pl.Series]) -> str | None:
    """Why a pair of samples cannot be estimated (undefined for some persons, or an empty
    arm), or ``None``."""
    for spec in specs:
        member = (
            ctx.persons.select(spec.alias("_in")).to_series() if isinstance(spec, pl.Expr) else spec
        )
        if member.null_count():
            return "its samples are undefined for persons with a missing value."
        arms = ctx.persons.filter(member)[C.TREATED]
        if arms.n_unique() < 2:
            return "one of its samples has no person in an arm."
    return None


def _joint_cells(row: dict[str, object], n_shown: int | str) -> list[object]:
    n_obs = row["n_obs"] if n_shown != SUPPRESSED else SUPPRESSED
    return [n_obs, row["n_variables"], row["p_value"], row["ri_p_value"], row["note"]]


def _sample_counts(ctx: ReportContext, names: list[str]) -> dict[str, tuple[Count, Count, Count]]:
    """Each sample's (control, course, all) persons as published: the descriptive and balance
    tables' counts protected jointly (:func:`~dreamkit.report.sections.descriptive.
    person_counts`: secondary suppression against the row and column totals)."""
    counts = person_counts(ctx)
    out: dict[str, tuple[Count, Count, Count]] = {
        "all": (counts.arms["control"], counts.arms["course"], counts.total)
    }
    group_of = {
        sample: group
        for split, pair in counts.splits.items()
        for group, sample in zip(pair, SAMPLE_OF_SPLIT[split], strict=True)
    }
    for name in names:
        if name in group_of:
            g = group_of[name]
            out[name] = (
                counts.cells[(g, "control")],
                counts.cells[(g, "course")],
                counts.groups[g],
            )
    return {name: out[name] for name in names}
