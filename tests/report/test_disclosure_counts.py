"""The person counts of the descriptive and balance tables, attacked through the published CSV
files (issue 17, item 4): an adversarial trial in which only 3 controls have low self-efficacy.

The descriptive table publishes the margins of the table "self-efficacy group x arm" (all
persons, each arm, each group), the balance table its interior (each sample's persons by arm)
and the joint-test table each sample's N; the same for the waiting-time split. The attacker
reads the three CSV files, knows that the counts are non-negative integers adding up along rows
and columns, and computes for every hidden count the smallest and largest value consistent with
everything published (integer programs solved with scipy's ``milp`` directly, independently of
:mod:`dreamkit.report.disclosure`). No hidden count may be pinned to a range narrower than
``k``; the audit (``disclosure_audit.csv``) must list each hidden count of each table.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from scipy.optimize import Bounds, LinearConstraint, milp

from dreamkit.config import load_config
from dreamkit.design import columns as C
from dreamkit.pipeline import ReportResult, run_report
from dreamkit.report.disclosure import SUPPRESSED
from dreamkit.simulate import simulate_trial

K = 5
N_LOW_CONTROLS = 3
N_SMALL_SHARE = 3
SPLITS = {
    "se": (("UW-SES 0-10", "low SE"), ("UW-SES 11-24", "high SE")),
    "wait": (("wait < 7 days", "short wait"), ("wait >= 7 days", "long wait")),
}
ARMS = ("control", "course")


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> ReportResult:
    d = tmp_path_factory.mktemp("low_se_controls")
    sim = simulate_trial(seed=11, n_unmatched=0)
    trial = sim.trial.with_row_index("_i")
    controls = trial.filter(pl.col(C.TREATED) == 0)["_i"].to_list()
    low = controls[:N_LOW_CONTROLS]
    trial = trial.with_columns(
        pl.when(pl.col(C.TREATED) == 0)
        .then(pl.when(pl.col("_i").is_in(low)).then(0).otherwise(4))
        .otherwise(pl.col(item))
        .cast(pl.Int8)
        .alias(item)
        for item in C.UWSES_ITEMS
    ).drop("_i", C.UWSES)
    # and only 3 short-wait persons have a partner (a share of the "wait < 7 days" column)
    short = trial.filter(pl.col(C.WAITING_DAYS) < 7)["person_id"].to_list()[:N_SMALL_SHARE]
    trial = trial.with_columns(
        ((pl.col(C.WAITING_DAYS) >= 7) | pl.col("person_id").is_in(short))
        .cast(pl.Int8)
        .alias("partner")
    )
    trial.write_parquet(d / "trial.parquet")
    sim.wide_codes().write_parquet(d / "register.parquet")
    (d / "a.toml").write_text(
        '[input]\nsource = "files"\nregister = "register.parquet"\ntrial = "trial.parquet"\n'
        f"[disclosure]\nmin_cell = {K}\n"
        "[outcomes]\nweeks = 13\npre_weeks = 26\n[self_efficacy]\ngrid = [10]\n"
        "[inference]\nbootstrap_draws = 9\nri_draws = 9\n",
        encoding="utf-8",
    )
    return run_report(load_config(d / "a.toml"), d / "out", progress=False)


def _csv(result: ReportResult, name: str) -> pl.DataFrame:
    return pl.read_csv(result.html.parent / "tables" / f"{name}.csv", infer_schema=False)


def _published(result: ReportResult, split: str) -> dict[str, object]:
    """What the three tables publish about one split: cells (group, arm), rows, columns, total."""
    desc = _csv(result, "descriptive").filter(pl.col("variable") == "persons").row(0, named=True)
    bal = _csv(result, "balance").row(0, named=True)
    joint = {r["sample"]: r["persons"] for r in _csv(result, "balance_joint").iter_rows(named=True)}
    cells: dict[tuple[int, int], str] = {}
    rows: dict[int, list[str]] = {}
    for i, (group, sample) in enumerate(SPLITS[split]):
        pair = bal.get(sample, SUPPRESSED)
        for j in range(2):
            cells[(i, j)] = SUPPRESSED if pair == SUPPRESSED else pair.split(" / ")[j]
        rows[i] = [desc[group], joint.get(sample, SUPPRESSED)]
    all_arms = bal["all"].split(" / ") if bal["all"] != SUPPRESSED else [SUPPRESSED] * 2
    cols = {j: [desc[ARMS[j]], all_arms[j]] for j in range(2)}
    total = [desc["all"], joint.get("all", SUPPRESSED)]
    return {"cells": cells, "rows": rows, "cols": cols, "total": total}


def _ranges(
    pub: dict[str, object], n_rows: int, remainder_known: bool
) -> dict[str, tuple[float, float]]:
    """Feasible integer range of every hidden count of a groups x arms table whose groups may
    leave a remainder (persons in neither group: an extra row nobody publishes); with
    ``remainder_known`` the attacker knows it is empty (the strongest attacker here: in this
    trial every person has a UW-SES and a waiting time)."""
    # variables: cells (n_rows + 1 remainder row) x 2, rows (n_rows + 1), cols 2, total
    r = n_rows + 1
    idx_cell = {(i, j): i * 2 + j for i in range(r) for j in range(2)}
    idx_row = {i: 2 * r + i for i in range(r)}
    idx_col = {j: 3 * r + j for j in range(2)}
    idx_total = 3 * r + 2
    n = idx_total + 1
    eq: list[tuple[dict[int, float], float]] = []
    for i in range(r):
        eq.append(({**{idx_cell[(i, j)]: 1.0 for j in range(2)}, idx_row[i]: -1.0}, 0.0))
    for j in range(2):
        eq.append(({**{idx_cell[(i, j)]: 1.0 for i in range(r)}, idx_col[j]: -1.0}, 0.0))
    eq.append(({**{idx_row[i]: 1.0 for i in range(r)}, idx_total: -1.0}, 0.0))
    if remainder_known:
        eq.append(({idx_row[n_rows]: 1.0}, 0.0))
    hidden: dict[str, int] = {}

    def fix(values: list[str] | str, var: int, name: str) -> None:
        shown = [v for v in ([values] if isinstance(values, str) else values) if v != SUPPRESSED]
        if shown:
            assert len(set(shown)) == 1, f"{name}: two tables publish different counts {shown}"
            eq.append(({var: 1.0}, float(shown[0])))
        else:
            hidden[name] = var

    for (i, j), v in pub["cells"].items():  # type: ignore[attr-defined]
        fix(v, idx_cell[(i, j)], f"cell {i},{j}")
    for i, v in pub["rows"].items():  # type: ignore[attr-defined]
        fix(v, idx_row[i], f"row {i}")
    for j, v in pub["cols"].items():  # type: ignore[attr-defined]
        fix(v, idx_col[j], f"column {j}")
    fix(pub["total"], idx_total, "total")  # type: ignore[arg-type]
    a = np.zeros((len(eq), n))
    for m, (coefs, _) in enumerate(eq):
        for var, c in coefs.items():
            a[m, var] = c
    b = np.array([rhs for _, rhs in eq])
    out = {}
    for name, var in hidden.items():
        lo_hi = []
        for sign in (1.0, -1.0):
            c = np.zeros(n)
            c[var] = sign
            res = milp(
                c,
                constraints=[LinearConstraint(a, b, b)],
                integrality=np.ones(n),
                bounds=Bounds(np.zeros(n), np.full(n, 10_000.0)),
            )
            assert res.status == 0, res.message
            lo_hi.append(sign * res.fun)
        out[name] = (lo_hi[0], lo_hi[1])
    return out


def test_the_small_group_is_hidden(report: ReportResult) -> None:
    bal = _csv(report, "balance").row(0, named=True)
    assert bal["low SE"] == SUPPRESSED, "3 low-SE controls must not be published"


@pytest.mark.parametrize("split", list(SPLITS))
def test_no_hidden_person_count_is_recovered(report: ReportResult, split: str) -> None:
    pub = _published(report, split)
    ranges = _ranges(pub, 2, remainder_known=True)
    recovered = {name: rng for name, rng in ranges.items() if rng[1] - rng[0] < K}
    assert not recovered, f"{split}: recovered {recovered}"
    if split == "se":
        assert "cell 0,0" in ranges, "the 3 low-SE controls must be hidden"


def test_the_audit_lists_every_hidden_person_count(report: ReportResult) -> None:
    audit = pl.read_csv(report.html.parent / "disclosure_audit.csv", infer_schema=False)
    listed = set(zip(audit["output"].to_list(), audit["cell"].to_list(), strict=True))
    missing = []
    desc = _csv(report, "descriptive").filter(pl.col("variable") == "persons").row(0, named=True)
    for group, value in desc.items():
        if value == SUPPRESSED and ("descriptive", f"persons, {group}") not in listed:
            missing.append(("descriptive", group))
    bal = _csv(report, "balance").row(0, named=True)
    for sample, value in bal.items():
        if value == SUPPRESSED and not any(
            (out == "balance" and cell.startswith(f"persons, sample {sample}"))
            or (out == "balance" and cell == f"sample {sample}")
            for out, cell in listed
        ):
            missing.append(("balance", sample))
    for r in _csv(report, "balance_joint").iter_rows(named=True):
        if r["persons"] == SUPPRESSED and not (
            ("balance_joint", f"persons, sample {r['sample']}") in listed
            or ("balance", f"sample {r['sample']}") in listed
        ):
            missing.append(("balance_joint", r["sample"]))
    assert not missing, missing


def test_the_attacker_recovers_a_count_left_exposed() -> None:
    """The attack can fail: with one more interior count shown, the 3 controls are pinned."""
    pub = {
        "cells": {(0, 0): SUPPRESSED, (0, 1): SUPPRESSED, (1, 0): "194", (1, 1): SUPPRESSED},
        "rows": {0: ["157", SUPPRESSED], 1: ["411", "411"]},
        "cols": {0: ["197", "197"], 1: ["371", "371"]},
        "total": ["568", "568"],
    }
    ranges = _ranges(pub, 2, remainder_known=True)
    assert ranges["cell 0,0"] == (3.0, 3.0)
    assert ranges["cell 0,1"] == (154.0, 154.0)


PAIRS = {
    "arms": ("course", "control"),
    "wait": ("wait < 7 days", "wait >= 7 days"),
    "se": ("UW-SES 0-10", "UW-SES 11-24"),
}
BINARY = ("female", "partner", "higher_education", "public_job", "ordinary_job", "mental_cause",
          "work_related", "children", "prior_sick_leave", "event_emp", "event_sick")  # fmt: skip


def _share_ranges(result: ReportResult, var: str, pair: tuple[str, str]) -> dict[str, tuple]:
    """Feasible range of the count with the attribute in each group whose share is hidden:
    yes_g = share_g x persons_g where published, yes_g <= persons_g, and the groups add up
    to "all" (every person here has a waiting time and a UW-SES, so no remainder)."""
    desc = {r["variable"]: r for r in _csv(result, "descriptive").iter_rows(named=True)}
    if var not in desc:
        return {}
    persons, shares = desc["persons"], desc[var]
    cols = ["all", *pair]
    idx = {g: i for i, g in enumerate(cols)}  # yes counts; persons are fixed when shown
    n = len(cols)
    eq = [({idx["all"]: 1.0, idx[pair[0]]: -1.0, idx[pair[1]]: -1.0}, 0.0)]
    upper = np.full(n, 10_000.0)
    for g in cols:
        if persons[g] != SUPPRESSED:
            upper[idx[g]] = float(persons[g])
            if shares[g] != SUPPRESSED:
                eq.append(({idx[g]: 1.0}, float(round(float(shares[g]) * int(persons[g])))))
    a = np.zeros((len(eq), n))
    for m, (coefs, _) in enumerate(eq):
        for v, c in coefs.items():
            a[m, v] = c
    b = np.array([r for _, r in eq])
    out: dict[str, tuple] = {}
    for g in cols:
        if shares[g] != SUPPRESSED:
            continue
        lo_hi = []
        for sign in (1.0, -1.0):
            c = np.zeros(n)
            c[idx[g]] = sign
            res = milp(c, constraints=[LinearConstraint(a, b, b)], integrality=np.ones(n),
                       bounds=Bounds(np.zeros(n), upper))  # fmt: skip
            assert res.status == 0, res.message
            lo_hi.append(sign * res.fun)
        # the count without the attribute is persons - yes: recovered alike
        out[g] = (lo_hi[0], lo_hi[1])
    return out


def test_no_hidden_share_is_recovered(report: ReportResult) -> None:
    recovered, attacked = {}, 0
    for var in BINARY:
        for pair in PAIRS.values():
            for g, (lo, hi) in _share_ranges(report, var, pair).items():
                attacked += 1
                if hi - lo < K:
                    recovered[f"{var}, {g}"] = (lo, hi)
    assert attacked >= 2, "the 3 short-wait persons with a partner must be hidden"
    assert not recovered, recovered
    desc = {r["variable"]: r for r in _csv(report, "descriptive").iter_rows(named=True)}
    assert desc["partner"]["wait < 7 days"] == SUPPRESSED


def test_start_cohorts_do_not_reveal_a_small_cohort_by_subtraction() -> None:
    """The cohorts add up to the persons who started (published in the notes): one cohort of
    3 must not be recoverable as started minus the shown cohorts."""
    from types import SimpleNamespace

    from dreamkit.estimate.panel.event_study import NEVER
    from dreamkit.register.calendar import week_of_iso
    from dreamkit.report.disclosure import DisclosureLog
    from dreamkit.report.sections.observational import _cohort_table

    w = week_of_iso(2010, 10)
    e = np.array([w] * 3 + [w + 1] * 20 + [w + 2] * 30 + [NEVER] * 40)
    ctx = SimpleNamespace(
        log=DisclosureLog(K), config=SimpleNamespace(observational=SimpleNamespace(period="week"))
    )
    table = _cohort_table(ctx, e, 40)  # type: ignore[arg-type]
    shown = table.frame.filter(pl.col("start cohort") != "never started")["persons"].to_list()
    n_started = 53
    hidden = [v for v in shown if v == SUPPRESSED]
    assert len(hidden) >= 2
    rest = n_started - sum(int(v) for v in shown if v != SUPPRESSED)
    assert rest >= K  # the hidden cohorts share at least k persons: none is pinned
    cells = {e.cell for e in ctx.log.entries}
    assert len(cells) == len(hidden)
