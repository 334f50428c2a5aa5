"""The Kaplan-Meier at-risk table attacked through the published CSV files (issue 17, item 4).

An adversarial tiny trial: two municipalities of the simulated trial (45 persons, 16 controls),
followed for 52 weeks, so that the at-risk counts fall to a few persons per arm. Between two
checkpoints the at-risk count of an arm drops by the exits in that window (the only censoring
is at the end of follow-up), so the attacker differences consecutive published counts, bounds
each hidden count by its published neighbours, and also uses the persons per arm and the event
shares per arm of the descriptive table (persons without an exit at the end = the last at-risk
count minus the last week's exits) and the hazard table's exits and persons of all persons
(events summed over the arms). The feasible range of every hidden count and of every drop is
computed with integer programs (scipy ``milp``); a drop of 1..k-1 exits may not be pinned to a
range narrower than ``k``, nor may any hidden count. The audit lists each hidden at-risk cell.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from scipy.optimize import Bounds, LinearConstraint, milp

from dreamkit.config import load_config
from dreamkit.pipeline import ReportResult, run_report
from dreamkit.report.disclosure import SUPPRESSED
from dreamkit.simulate import simulate_trial

K = 5
DURATIONS = {
    "exit to ordinary employment": "event_emp",
    "exit from sickness benefit etc.": "event_sick",
}
ARMS = ("control", "course")


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> ReportResult:
    d = tmp_path_factory.mktemp("km_tiny")
    sim = simulate_trial(seed=11, n_unmatched=0)
    trial = sim.trial.filter(pl.col("municipality") <= 2)
    trial.write_parquet(d / "trial.parquet")
    sim.wide_codes().join(trial.select("person_id"), on="person_id").write_parquet(
        d / "register.parquet"
    )
    (d / "a.toml").write_text(
        '[input]\nsource = "files"\nregister = "register.parquet"\ntrial = "trial.parquet"\n'
        f"[disclosure]\nmin_cell = {K}\n"
        "[outcomes]\nweeks = 52\npre_weeks = 26\n[self_efficacy]\ngrid = [10]\n"
        "[inference]\nbootstrap_draws = 9\nri_draws = 9\n",
        encoding="utf-8",
    )
    return run_report(load_config(d / "a.toml"), d / "out", progress=False)


def _csv(result: ReportResult, name: str) -> pl.DataFrame:
    return pl.read_csv(result.html.parent / "tables" / f"{name}.csv", infer_schema=False)


def _attack(result: ReportResult, title: str) -> dict[str, tuple[float, float]]:
    """Feasible range of each hidden at-risk count and of each drop, for one duration."""
    risk = _csv(result, "km_at_risk").filter(pl.col("duration") == title)
    weeks = [c for c in risk.columns if c.startswith("week ")]
    desc = {r["variable"]: r for r in _csv(result, "descriptive").iter_rows(named=True)}
    hazard = (
        _csv(result, "hazard")
        .filter((pl.col("exit") == title) & (pl.col("sample") == "all"))
        .row(0, named=True)
    )
    t = len(weeks)
    var = {(a, j): a * (t + 1) + j for a in range(2) for j in range(t + 1)}  # j = t: no exit
    n = 2 * (t + 1)
    eq: list[tuple[dict[int, float], float]] = []
    le: list[dict[int, float]] = []  # sum <= 0
    for a, arm in enumerate(ARMS):
        row = risk.filter(pl.col("arm") == arm).row(0, named=True)
        for j in range(t):
            le.append({var[(a, j + 1)]: 1.0, var[(a, j)]: -1.0})  # non-increasing
            if row[weeks[j]] != SUPPRESSED:
                eq.append(({var[(a, j)]: 1.0}, float(row[weeks[j]])))
        size, share = desc["persons"][arm], desc[DURATIONS[title]][arm]
        if SUPPRESSED not in (size, share):
            exits = round(float(share) * int(size))
            eq.append(({var[(a, t)]: 1.0}, float(int(size) - exits)))
        if size != SUPPRESSED:
            eq.append(({var[(a, 0)]: 1.0}, float(size)))
    if hazard["exits"] not in (SUPPRESSED, "not estimable"):
        # exits of all = sum over arms of (week-0 count - persons without an exit)
        coefs = {var[(0, 0)]: 1.0, var[(1, 0)]: 1.0, var[(0, t)]: -1.0, var[(1, t)]: -1.0}
        eq.append((coefs, float(hazard["exits"])))
    if hazard["persons"] not in (SUPPRESSED, "not estimable"):
        eq.append(({var[(0, 0)]: 1.0, var[(1, 0)]: 1.0}, float(hazard["persons"])))

    def matrix(rows: list[dict[int, float]]) -> np.ndarray:
        m = np.zeros((len(rows), n))
        for i, coefs in enumerate(rows):
            for v, c in coefs.items():
                m[i, v] = c
        return m

    constraints = [
        LinearConstraint(matrix([c for c, _ in eq]), [r for _, r in eq], [r for _, r in eq]),
        LinearConstraint(matrix(le), -np.inf, 0.0),
    ]

    def bounds(objective: dict[int, float]) -> tuple[float, float]:
        out = []
        for sign in (1.0, -1.0):
            c = np.zeros(n)
            for v, x in objective.items():
                c[v] = sign * x
            res = milp(c, constraints=constraints, integrality=np.ones(n),
                       bounds=Bounds(np.zeros(n), np.full(n, 10_000.0)))  # fmt: skip
            assert res.status == 0, res.message
            out.append(sign * res.fun)
        return out[0], out[1]

    found: dict[str, tuple[float, float]] = {}
    for a, arm in enumerate(ARMS):
        row = risk.filter(pl.col("arm") == arm).row(0, named=True)
        for j in range(t):
            if row[weeks[j]] == SUPPRESSED:
                found[f"{arm}, {weeks[j]}"] = bounds({var[(a, j)]: 1.0})
            end = "no exit" if j == t - 1 else weeks[j + 1]
            found[f"{arm}, drop {weeks[j]} to {end}"] = bounds(
                {var[(a, j)]: 1.0, var[(a, j + 1)]: -1.0}
            )
    return found


def _recovered(found: dict[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
    """A hidden count pinned to fewer than k values, or a drop known to be 1..k-1 (or pinned
    to a range narrower than k that holds such a value)."""
    out = {}
    for name, (lo, hi) in found.items():
        if "drop" in name:
            exact_ok = lo == hi and (lo == 0 or lo >= K)
            if hi - lo < K and not exact_ok and not lo >= K:
                out[name] = (lo, hi)
        elif hi - lo < K:
            out[name] = (lo, hi)
    return out


def test_the_tiny_trial_has_small_at_risk_counts(report: ReportResult) -> None:
    risk = _csv(report, "km_at_risk")
    assert (
        risk.select(pl.all().exclude("duration", "arm")) == SUPPRESSED
    ).sum_horizontal().sum() >= 4


@pytest.mark.parametrize("title", list(DURATIONS))
def test_no_exit_count_is_recovered_from_the_at_risk_table(
    report: ReportResult, title: str
) -> None:
    found = _attack(report, title)
    assert any(not k.split(", ")[1].startswith("drop") for k in found), "nothing hidden"
    assert not _recovered(found), _recovered(found)


def test_the_audit_lists_every_hidden_at_risk_count(report: ReportResult) -> None:
    audit = pl.read_csv(report.html.parent / "disclosure_audit.csv", infer_schema=False)
    listed = set(audit.filter(pl.col("output") == "km_at_risk")["cell"].to_list())
    risk = _csv(report, "km_at_risk")
    weeks = [c for c in risk.columns if c.startswith("week ")]
    missing = [
        f"{r['duration']}, {r['arm']}, {w}"
        for r in risk.iter_rows(named=True)
        for w in weeks
        if r[w] == SUPPRESSED and f"{r['duration']}, {r['arm']}, {w}" not in listed
    ]
    assert not missing, missing
    # only published rows are listed (the waiting-time curves publish no at-risk table)
    cells = {f"{r['duration']}, {r['arm']}, {w}" for r in risk.iter_rows(named=True) for w in weeks}
    extra = sorted(listed - cells)
    assert not extra, extra


def test_the_attacker_recovers_a_small_drop() -> None:
    """The criterion can fail: a drop pinned to 3 exits, a hidden count pinned to 2 values."""
    assert _recovered({"control, drop week 13 to week 26": (3.0, 3.0)})
    assert _recovered({"control, week 26": (10.0, 11.0)})
    assert not _recovered({"control, drop week 13 to week 26": (0.0, 0.0)})
    assert not _recovered({"control, drop week 13 to week 26": (6.0, 6.0)})
