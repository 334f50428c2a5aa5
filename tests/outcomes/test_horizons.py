"""Status at horizons against a brute-force pure-Python implementation on random registers.

The brute force reads one register cell at a time (``register.states[row, column]``) and checks
the module docstring's definition literally: for each end week e of the window, are the N
weeks e-N+1..e all in the set (all after allocation)? The first rule that holds is the status;
a person is followed up when every week the rules read lies inside the register.
"""

from __future__ import annotations

import calendar
import datetime as dt

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dreamkit.errors import ConfigError, EmptyInputError, InputError
from dreamkit.outcomes import SampleFlow
from dreamkit.outcomes.horizons import (
    StatusRule,
    StatusSpec,
    add_months,
    month_week,
    status_at_horizons,
)
from dreamkit.register import CodeMap, Register
from dreamkit.register.calendar import EPOCH

CODEMAP = CodeMap.default()
FIRST_WEEK = 5200


def markov_register(seed: int, n: int, n_weeks: int, stay: float) -> Register:
    rng = np.random.default_rng(seed)
    states = np.empty((n, n_weeks), dtype=np.uint8)
    states[:, 0] = rng.integers(0, CODEMAP.n_states, n)
    for t in range(1, n_weeks):
        move = rng.random(n) > stay
        states[:, t] = np.where(move, rng.integers(0, CODEMAP.n_states, n), states[:, t - 1])
    return Register(states, pl.Series("person_id", np.arange(n) + 10**6), FIRST_WEEK, CODEMAP)


def brute_month_week(d: dt.date, months: int) -> int:
    """Relative week of d + months calendar months (pure Python, calendar module)."""
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    day = min(d.day, calendar.monthrange(year, month)[1])
    return (dt.date(year, month, day) - EPOCH).days // 7 - (d - EPOCH).days // 7


def brute(
    register: Register,
    row: int,
    week0: int,
    h: int,
    rules: list[StatusRule],
) -> tuple[bool, list[bool], str]:
    """(followed up, per-rule indicator, status) of one person (column of week 0 given)."""
    n_cols = register.states.shape[1]
    held, first_needed = [], h
    for r in rules:
        members = set()
        for name in r.states:
            members |= set(CODEMAP.members(name))
        ids = {CODEMAP.state_id(s) for s in members}
        if r.within is None:
            ends = [h]
        elif r.within == "allocation":
            ends = list(range(1, h + 1))
        else:
            ends = list(range(h - int(r.within) + 1, h + 1))
        ok = False
        for e in ends:
            weeks = list(range(e - r.weeks + 1, e + 1))
            if weeks[0] < 1:
                continue
            first_needed = min(first_needed, weeks[0])
            inside = all(0 <= week0 + t < n_cols for t in weeks)
            if inside and all(
                (int(register.states[row, week0 + t]) in ids) != r.outside for t in weeks
            ):
                ok = True
        held.append(ok)
    followed = 0 <= week0 + first_needed and week0 + h < n_cols
    status = next((r.name for r, x in zip(rules, held, strict=True) if x), "other")
    return followed, held, status


state_names = st.sampled_from(list(CODEMAP.states[:-1]) + list(CODEMAP.sets))
rule_strategy = st.builds(
    lambda states, weeks, within, outside: (states, weeks, within, outside),
    st.lists(state_names, min_size=1, max_size=3, unique=True),
    st.integers(1, 4),
    st.one_of(st.none(), st.integers(1, 6), st.just("allocation")),
    st.booleans(),
)


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    raw_rules=st.lists(rule_strategy, min_size=1, max_size=3),
    horizons=st.lists(st.integers(4, 40), min_size=1, max_size=3, unique=True),
    stay=st.floats(0.4, 0.95),
    sample=st.sampled_from(["per_horizon", "common"]),
)
def test_weeks_match_brute_force(
    seed: int, raw_rules: list, horizons: list[int], stay: float, sample: str
) -> None:
    n, n_weeks = 40, 60
    register = markov_register(seed, n, n_weeks, stay)
    rules = [
        StatusRule(f"r{j}", tuple(s), weeks=w, within=within, outside=o)
        for j, (s, w, within, o) in enumerate(raw_rules)
    ]
    spec = StatusSpec(tuple(rules))
    rng = np.random.default_rng(seed + 1)
    alloc = rng.integers(FIRST_WEEK - 3, FIRST_WEEK + n_weeks - 5, n)
    alloc[0] = FIRST_WEEK  # at least one person followed up to every horizon (<= 40 < 60)
    trial = pl.DataFrame({"person_id": register.person_ids, "allocation_week": alloc})
    out = status_at_horizons(
        register,
        trial,
        spec,
        horizons,
        unit="weeks",
        sample=sample,  # type: ignore[arg-type]
    )
    expected: dict[int, list[tuple[bool, list[bool], str]]] = {}
    for h in horizons:
        rows = []
        for i in range(n):
            rows.append(brute(register, i, int(alloc[i] - FIRST_WEEK), h, rules))
        expected[h] = rows
    followed_all = [all(expected[h][i][0] for h in horizons) for i in range(n)]
    for h in horizons:
        label = f"{h}w"
        status = out.persons[f"status_{label}"].to_list()
        keep = [expected[h][i][0] if sample == "per_horizon" else followed_all[i] for i in range(n)]
        for i in range(n):
            if not keep[i]:
                assert status[i] is None
                continue
            assert status[i] == expected[h][i][2]
            for j, r in enumerate(rules):
                assert out.persons[f"{r.name}_{label}"][i] == int(expected[h][i][1][j])
        analysed = out.at(label)
        assert analysed.height == sum(keep)
        assert out.flows[label].remaining == sum(keep)
        assert out.flows[label].n_input == n
        assert set(analysed.columns) >= {"week", "status", *(r.name for r in rules)}
    table = out.flow_table()
    assert table.filter(pl.col("removed") > 0)["reason"].str.contains("not followed up").all()


def test_fixed_month_rule() -> None:
    assert [month_week(m) for m in (1, 6, 12, 18, 24, 60)] == [4, 26, 52, 78, 104, 261]
    for m in range(1, 200):
        # the rule's definition in floats: round half up of m * 365.25 / 84
        assert month_week(m) == int(np.floor(m * 365.25 / 84 + 0.5))
    with pytest.raises(InputError):
        month_week(0)


@settings(max_examples=40, deadline=None)
@given(
    day=st.dates(dt.date(1995, 1, 1), dt.date(2030, 12, 31)),
    months=st.integers(1, 60),
)
def test_calendar_month_rule(day: dt.date, months: int) -> None:
    got = add_months(np.array([day], dtype="datetime64[D]"), months)[0]
    y, m = divmod(day.month - 1 + months, 12)
    want = dt.date(day.year + y, m + 1, min(day.day, calendar.monthrange(day.year + y, m + 1)[1]))
    assert got == np.datetime64(want)
    # within one week of the fixed rule
    assert abs(brute_month_week(day, months) - month_week(months)) <= 1


def test_calendar_rule_in_status() -> None:
    register = markov_register(3, 30, 130, 0.8)
    rng = np.random.default_rng(0)
    days = np.datetime64("1999-09-06") + rng.integers(0, 60, 30).astype("timedelta64[D]")
    trial = pl.DataFrame(
        {"person_id": register.person_ids, "allocation_date": days.astype("datetime64[ms]")}
    ).with_columns(pl.col("allocation_date").cast(pl.Date))
    # 1999-09-06 is week ordinal 5201 (first_week 5200)
    spec = {"emp": ["employment"]}
    out = status_at_horizons(register, trial, spec, [6, 12], month_rule="calendar")
    for i, d in enumerate(trial["allocation_date"].to_list()):
        assert out.persons["week_6m"][i] == brute_month_week(d, 6)
    with pytest.raises(Exception, match="allocation_date"):
        status_at_horizons(
            register,
            trial.with_columns(allocation_week=pl.lit(5201)).drop("allocation_date"),
            spec,
            [6],
            month_rule="calendar",
        )


def test_horizon_beyond_follow_up() -> None:
    register = markov_register(1, 10, 30, 0.8)
    trial = pl.DataFrame(
        {"person_id": register.person_ids, "allocation_week": [FIRST_WEEK] * 5 + [5215] * 5}
    )
    out = status_at_horizons(register, trial, {"emp": ["employment"]}, [10, 20], unit="weeks")
    assert out.flows["10w"].remaining == 10
    assert out.flows["20w"].remaining == 5
    step = out.flows["20w"].steps[-1]
    assert step.removed == 5 and "not followed up to horizon 20w" in step.reason
    assert str(register.person_ids[0]) not in step.reason
    with pytest.raises(EmptyInputError, match="nobody is followed up"):
        status_at_horizons(register, trial, {"emp": ["employment"]}, [40], unit="weeks")
    common = status_at_horizons(
        register, trial, {"emp": ["employment"]}, [10, 20], unit="weeks", sample="common"
    )
    assert common.at("10w").height == 5
    assert common.flows["10w"] is common.flows["20w"]
    # a ledger of earlier exclusions is continued, not modified
    flow = SampleFlow(12)
    flow.exclude("consent", "withdrew consent", 2)
    out = status_at_horizons(
        register, trial, {"emp": ["employment"]}, [20], unit="weeks", flow=flow
    )
    assert out.flows["20w"].n_input == 12 and out.flows["20w"].remaining == 5
    assert len(flow.steps) == 1  # horizons branch from a copy; the caller's ledger is unchanged
    # persons absent from the register are counted too (on_missing="exclude")
    extra = pl.DataFrame({"person_id": [7], "allocation_week": [FIRST_WEEK]})
    out = status_at_horizons(
        register,
        pl.concat([trial, extra]),
        {"emp": ["employment"]},
        [20],
        unit="weeks",
        on_missing="exclude",
    )
    assert [s.step for s in out.flows["20w"].steps] == ["not in register", "follow-up 20w"]
    assert out.flows["20w"].remaining == 5


def test_specs_from_data() -> None:
    text = """
other = "still_on_benefit"
[[status]]
name = "self_support"
states = ["employment", "education", "sickness_benefit_flexjob"]
weeks = 4
[[status]]
name = "left_benefit"
states = ["cash_benefit", "sickness_duration"]
outside = true
"""
    spec = StatusSpec.from_toml(text)
    assert spec.labels == ["self_support", "left_benefit", "still_on_benefit"]
    assert spec.rules[0].weeks == 4 and spec.rules[1].outside
    same = StatusSpec.from_mapping(
        {
            "self_support": {
                "states": ["employment", "education", "sickness_benefit_flexjob"],
                "weeks": 4,
            },
            "left_benefit": {"states": ["cash_benefit", "sickness_duration"], "outside": True},
        },
        other="still_on_benefit",
    )
    assert same == spec
    with pytest.raises(ConfigError, match="unknown key"):
        StatusSpec.from_mapping({"a": {"states": ["employment"], "week": 4}})
    with pytest.raises(ConfigError, match="distinct"):
        StatusSpec.from_mapping({"other": ["employment"]})
    with pytest.raises(ConfigError):
        StatusRule("a", ("employment",), weeks=0)
    register = markov_register(2, 5, 40, 0.8)
    trial = pl.DataFrame({"person_id": register.person_ids, "allocation_week": [FIRST_WEEK] * 5})
    with pytest.raises(Exception, match="neither a set nor a state"):
        status_at_horizons(register, trial, {"x": ["no_such_state"]}, [4], unit="weeks")
    with pytest.raises(InputError, match="shorter than"):
        status_at_horizons(
            register, trial, {"x": {"states": ["employment"], "weeks": 8}}, [4], unit="weeks"
        )


def test_blocks_of_persons_give_the_same_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    import dreamkit.outcomes.horizons as H

    register = markov_register(9, 50, 80, 0.7)
    rng = np.random.default_rng(9)
    trial = pl.DataFrame(
        {"person_id": register.person_ids, "allocation_week": rng.integers(5195, 5240, 50)}
    )
    spec = {
        "a": {"states": ["employment"], "weeks": 3, "within": "allocation"},
        "b": {"states": ["sickness"], "outside": True},
    }
    whole = status_at_horizons(register, trial, spec, [10, 30], unit="weeks")
    monkeypatch.setattr(H, "CHUNK", 7)
    blocks = status_at_horizons(register, trial, spec, [10, 30], unit="weeks")
    assert whole.persons.equals(blocks.persons)
