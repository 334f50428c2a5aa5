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
from dreamkit.report.tables import Table, fmt_effect

NAME = "balance"
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
    publishable = {}
    sizes = {}
    for name, expr in samples.items():
        members = ctx.persons.filter(expr.fill_null(False))
        n1 = int(members[C.TREATED].sum())
        sizes[name] = (members.height - n1, n1)
        publishable[name] = ctx.arms_ok(members, NAME, f"sample {name}")
    counts_shown = _complementary(ctx, publishable, list(samples))
    table = result.tidy()
    rows: list[list[object]] = [
        [
            "persons (control / course)",
            *[f"{c} / {t}" if counts_shown[s] else SUPPRESSED for s, (c, t) in sizes.items()],
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
                _joint_cells(r, counts_shown[r["sample"]])
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


def _joint_cells(row: dict[str, object], count_shown: bool) -> list[object]:
    n_obs = row["n_obs"] if count_shown else SUPPRESSED
    return [n_obs, row["n_variables"], row["p_value"], row["ri_p_value"], row["note"]]


def _complementary(
    ctx: ReportContext, publishable: dict[str, bool], names: list[str]
) -> dict[str, bool]:
    """Which samples' person counts may be shown: the waiting-time and the self-efficacy pair
    each split "all", so when one sample of a pair is suppressed, "all" minus the other would
    give its (small) arm sizes, and the other's counts are suppressed too."""
    shown = dict(publishable)
    for pair in [list(p) for p in _PAIRS if all(s in names for s in p)]:
        hidden = ctx.log.hide_partition(
            NAME, [f"persons, sample {s}" for s in pair], [not shown[s] for s in pair], True
        )
        shown.update({s: not h for s, h in zip(pair, hidden, strict=True)})
    return shown
