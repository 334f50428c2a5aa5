"""The reference study's definitions on constructed registers, and the output layouts agree.

Expected values follow from the construction of each register, not from earlier runs.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from dreamkit.outcomes import (
    build_outcomes,
    cumulative_counts,
    cumulative_shares,
    spell_table,
    state_paths,
)
from dreamkit.register import CodeMap, Register

CODEMAP = CodeMap.default()
FIRST = 5000
ALLOC = FIRST + 110  # week 0 in column 110: weeks -110..149 are observed


def register_of(rows: dict[str, list[tuple[int, int, str]]], n_weeks: int = 260) -> Register:
    """Rows filled with no_transfer, then (first, last, state) runs in relative weeks."""
    states = np.full((len(rows), n_weeks), CODEMAP.not_employed_id, dtype=np.uint8)
    for i, runs in enumerate(rows.values()):
        for first, last, state in runs:
            lo, hi = max(ALLOC - FIRST + first, 0), ALLOC - FIRST + last + 1
            states[i, lo:hi] = CODEMAP.state_id(state)
    return Register(states, pl.Series("person_id", list(rows)), FIRST, CODEMAP)


def trial_of(register: Register) -> pl.DataFrame:
    return pl.DataFrame(
        {"person_id": register.person_ids, "allocation_week": [ALLOC] * register.n_persons}
    )


def test_disability_pension_counts_as_sickness_share_but_ends_the_duration() -> None:
    register = register_of(
        {
            "pension": [(-200, 200, "disability_pension")],
            "sick": [(-200, 30, "sickness_benefit"), (31, 200, "sheltered_job")],
            "clarif": [(-200, 200, "job_clarification")],
        }
    )
    p = build_outcomes(register, trial_of(register)).persons
    sick = p.select([f"sick_share_{w}" for w in range(1, 82)]).to_numpy()
    assert np.all(sick == 1.0)  # all three are in the share set every week
    assert p["dur_sick"].to_list() == [1, 31, 81]
    assert p["event_sick"].to_list() == [1, 1, 0]
    assert p["pre_sick_104_1"].to_list() == [1.0, 1.0, 1.0]
    assert np.all(p.select([f"emp_share_{w}" for w in range(1, 82)]).to_numpy() == 0.0)


def test_four_week_rule_and_share_paths() -> None:
    register = register_of(
        {
            "short_then_long": [(5, 7, "ordinary_employment"), (10, 13, "ordinary_employment")],
            "late": [(80, 90, "ordinary_employment")],
            "never": [(3, 5, "ordinary_employment")],
            "before": [(-13, -1, "ordinary_employment"), (-52, -40, "sickness_benefit")],
        }
    )
    p = build_outcomes(register, trial_of(register)).persons
    assert p["dur_emp"].to_list() == [10, 80, 81, 81]
    assert p["event_emp"].to_list() == [1, 1, 0, 0]
    w = np.arange(1, 82)
    employed = {
        "short_then_long": ((w >= 5) & (w <= 7)) | ((w >= 10) & (w <= 13)),
        "late": w >= 80,
        "never": (w >= 3) & (w <= 5),
        "before": np.zeros(81, dtype=bool),
    }
    shares = p.select([f"emp_share_{t}" for t in w]).to_numpy()
    for i, name in enumerate(employed):
        assert np.array_equal(shares[i], np.cumsum(employed[name]) / w)
    before = p.row(3, named=True)
    assert before["pre_emp_13_1"] == 1.0 and before["pre_emp_26_14"] == 0.0
    assert before["pre_sick_52_40"] == 1.0 and before["pre_sick_104_1"] == 13 / 104


def test_activation_totals() -> None:
    register = register_of({"a": [(1, 9, "activation_guidance"), (10, 36, "activation_firm")]})
    p = build_outcomes(register, trial_of(register)).persons
    assert p["act_guidance_share_81"][0] == 9 / 81
    assert p["act_firm_share_81"][0] == 27 / 81
    assert p["sick_share_81"][0] == 36 / 81  # activation under sickness benefit is in the set


def test_layouts_agree() -> None:
    rng = np.random.default_rng(3)
    states = rng.choice(
        [CODEMAP.employed_id, CODEMAP.state_id("sickness_benefit"), 0], size=(30, 200)
    ).astype(np.uint8)
    register = Register(states, pl.Series("person_id", np.arange(30)), FIRST, CODEMAP)
    trial = pl.DataFrame(
        {"person_id": np.arange(30), "allocation_week": rng.integers(FIRST + 104, FIRST + 119, 30)}
    )
    out = build_outcomes(register, trial)
    wide = state_paths(register, trial, "employment", prefix="emp")
    assert wide.drop("person_id").equals(out.persons.select(out.spec.path_columns("emp")))
    long = state_paths(register, trial, "sickness", prefix="sick", layout="long")
    paths = out.paths_long()
    assert long["sick_share"].equals(paths["sick_share"])
    assert paths["week"].to_list()[:3] == [1, 2, 3] and paths.height == 30 * 81
    ind = state_paths(register, trial, "employment", kind="indicator", weeks=5)
    shares = out.persons.select([f"emp_share_{w}" for w in range(1, 6)]).to_numpy()
    counts = np.cumsum(ind.drop("person_id").to_numpy(), axis=1)
    assert np.array_equal(counts / np.arange(1, 6), shares)
    spells = spell_table(register, trial)
    per_person = spells.group_by("person_id").agg(pl.col("length").sum())
    assert set(per_person["length"].to_list()) == {81}
    emp_weeks = (
        spells.filter(pl.col("state") == "ordinary_employment")
        .group_by("person_id")
        .agg(pl.col("length").sum())
        .sort("person_id")
    )
    joined = emp_weeks.join(out.persons, on="person_id")
    assert np.array_equal(joined["length"].to_numpy() / 81, joined["emp_share_81"].to_numpy())


def test_cumulative_counts_match_shares_and_never_decrease() -> None:
    rng = np.random.default_rng(11)
    window = rng.integers(0, CODEMAP.n_states, size=(50, 30)).astype(np.uint8)
    window[:5, 20:] = 255  # register ends early for five persons
    mask = CODEMAP.mask("sickness")
    counts = cumulative_counts(window, mask)
    shares = cumulative_shares(window, mask)
    assert np.all(np.diff(counts, axis=1) >= 0)
    ok = ~np.isnan(shares)
    assert np.array_equal((counts / np.arange(1, 31))[ok], shares[ok])
    assert np.array_equal(ok, np.cumprod(window != 255, axis=1).astype(bool))
