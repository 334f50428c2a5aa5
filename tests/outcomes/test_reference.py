"""The fast outcome functions equal a slow, obviously-correct pure-Python reference exactly.

The reference reads one person at a time straight from the register row and the calendar:
``state(t)`` is the state of relative week t, or None outside the register. Hypothesis
generates random registers (runs of random states so that long spells occur), allocation
weeks near and beyond the register's edges, persons missing from the register, small W, k and
pre-window layouts, and random chunk sizes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dreamkit.outcomes import OutcomeSpec, build_outcomes, spell_table, week_indicators
from dreamkit.outcomes.spec import DUR_EMP, DUR_SICK, EVENT_EMP, EVENT_SICK
from dreamkit.register import CodeMap, Register

CODEMAP = CodeMap.default()
PALETTE = [
    CODEMAP.state_id(s)
    for s in (
        "no_transfer",
        "ordinary_employment",
        "sickness_benefit",
        "disability_pension",
        "sheltered_job",
        "activation_guidance",
        "activation_firm",
        "job_clarification",
        "unemployment_insurance",
        "unknown",
    )
]
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ---- the reference ------------------------------------------------------------------------
@dataclass
class Person:
    row: list[int] | None  # the register row (None: not in the register)
    first_week: int
    allocation: int

    def state(self, t: int) -> int | None:
        if self.row is None:
            return None
        col = self.allocation + t - self.first_week
        return self.row[col] if 0 <= col < len(self.row) else None

    def last_observed(self) -> int:
        """h: last week of the unbroken observed run that starts at week 1 (week 1 observed)."""
        h = 1
        while self.state(h + 1) is not None:
            h += 1
        return h


def members(name: str) -> set[int]:
    return {CODEMAP.state_id(s) for s in CODEMAP.members(name)}


def ref_share(p: Person, a: set[int], t0: int, t1: int) -> float | None:
    """Share of weeks t0..t1 in a; None if any of them is unobserved."""
    values = [p.state(t) for t in range(t0, t1 + 1)]
    if any(v is None for v in values):
        return None
    return sum(1 for v in values if v in a) / len(values)


def ref_spell(p: Person, a: set[int], weeks: int, k: int) -> tuple[int | None, int | None]:
    if p.state(1) is None:
        return None, None
    censor = min(weeks, p.last_observed() - k + 1)
    if censor < 1:
        return None, None
    for t in range(1, censor + 1):
        if all(p.state(u) in a for u in range(t, t + k)):
            return t, 1
    return censor, 0


def ref_exit(p: Person, a: set[int], weeks: int) -> tuple[int | None, int | None]:
    if p.state(1) is None:
        return None, None
    censor = min(weeks, p.last_observed())
    for t in range(1, censor + 1):
        if p.state(t) not in a:
            return t, 1
    return censor, 0


def ref_row(p: Person, spec: OutcomeSpec) -> dict[str, object]:
    out: dict[str, object] = {}
    for prefix, name in spec.paths.items():
        for w in range(1, spec.weeks + 1):
            out[f"{prefix}_share_{w}"] = ref_share(p, members(name), 1, w)
    for prefix, name in spec.totals.items():
        out[f"{prefix}_share_{spec.weeks}"] = ref_share(p, members(name), 1, spec.weeks)
    out[DUR_EMP], out[EVENT_EMP] = ref_spell(
        p, members(spec.spell_set), spec.weeks, spec.spell_weeks
    )
    out[DUR_SICK], out[EVENT_SICK] = ref_exit(p, members(spec.exit_set), spec.weeks)
    for prefix, name in spec.pre_sets.items():
        for b, e in spec.pre_windows():
            out[f"pre_{prefix}_{b}_{e}"] = ref_share(p, members(name), -b, -e)
    return out


def ref_spells(p: Person, first: int, last: int) -> list[tuple[int, int, int, bool, bool]]:
    """(start, end, state, left_censored, right_censored) of every run in first..last."""
    runs: list[tuple[int, int, int, bool, bool]] = []
    t = first
    while t <= last:
        s = p.state(t)
        if s is None:
            t += 1
            continue
        start = t
        while t + 1 <= last and p.state(t + 1) == s:
            t += 1
        before, after = p.state(start - 1), p.state(t + 1)
        runs.append((start, t, s, before in (None, s), after in (None, s)))
        t += 1
    return runs


# ---- random inputs ------------------------------------------------------------------------
@st.composite
def registers(draw: st.DrawFn) -> tuple[Register, pl.DataFrame, list[Person]]:
    n_reg = draw(st.integers(1, 7))
    n_weeks = draw(st.integers(1, 45))
    first_week = draw(st.integers(4000, 6000))
    rows = []
    for _ in range(n_reg):
        row: list[int] = []
        while len(row) < n_weeks:
            row += [draw(st.sampled_from(PALETTE))] * draw(st.integers(1, 8))
        rows.append(row[:n_weeks])
    register = Register(
        np.array(rows, dtype=np.uint8),
        pl.Series("person_id", [1000 + 7 * i for i in range(n_reg)], dtype=pl.Int64),
        first_week,
        CODEMAP,
    )
    in_register = draw(st.lists(st.integers(0, n_reg - 1), min_size=1, unique=True))
    n_absent = draw(st.integers(0, 2))
    ids = [1000 + 7 * i for i in in_register] + [5 + i for i in range(n_absent)]
    allocation = [
        draw(st.integers(first_week - 30, first_week + n_weeks + 30)) for _ in range(len(ids))
    ]
    persons = [
        Person(rows[i] if i is not None else None, first_week, a)
        for i, a in zip([*in_register, *[None] * n_absent], allocation, strict=True)
    ]
    order = draw(st.permutations(range(len(ids))))
    trial = pl.DataFrame(
        {
            "person_id": pl.Series([ids[j] for j in order], dtype=pl.Int64),
            "allocation_week": pl.Series([allocation[j] for j in order], dtype=pl.Int32),
            "treated": [j % 2 for j in order],
        }
    )
    return register, trial, [persons[j] for j in order]


@st.composite
def specs(draw: st.DrawFn) -> OutcomeSpec:
    length = draw(st.integers(1, 4))
    pre_sets = draw(st.sampled_from([{}, {"emp": "employment", "sick": "sickness"}]))
    return OutcomeSpec(
        weeks=draw(st.integers(1, 20)),
        spell_weeks=draw(st.integers(1, 5)),
        pre_weeks=length * draw(st.integers(1, 4)),
        pre_window_length=length,
        pre_sets=pre_sets,
    )


def as_python(value: object) -> object:
    return None if value is None else value


# ---- the checks ---------------------------------------------------------------------------
@SETTINGS
@given(data=registers(), spec=specs(), chunk=st.integers(1, 5), threads=st.integers(1, 3))
def test_partial_coverage_equals_reference(
    data: tuple[Register, pl.DataFrame, list[Person]], spec: OutcomeSpec, chunk: int, threads: int
) -> None:
    register, trial, persons = data
    out = build_outcomes(
        register,
        trial,
        spec,
        on_missing="exclude",
        coverage="partial",
        chunk_size=chunk,
        threads=threads,
    )
    kept = [p for p in persons if p.row is not None]
    assert out.persons.height == len(kept)
    assert out.flow.table()["removed"].to_list() == [len(persons) - len(kept)]
    assert out.persons["person_id"].to_list() == [
        pid for pid, p in zip(trial["person_id"], persons, strict=True) if p.row is not None
    ]
    got = out.persons.select(spec.columns()).rows(named=True)
    for row, p in zip(got, kept, strict=True):
        assert row == ref_row(p, spec)


@SETTINGS
@given(data=registers(), spec=specs(), chunk=st.integers(1, 5), threads=st.integers(1, 3))
def test_required_coverage_drops_and_equals_reference(
    data: tuple[Register, pl.DataFrame, list[Person]], spec: OutcomeSpec, chunk: int, threads: int
) -> None:
    register, trial, persons = data
    out = build_outcomes(
        register, trial, spec, on_missing="exclude", chunk_size=chunk, threads=threads
    )
    found = [p for p in persons if p.row is not None]
    covered = [
        p
        for p in found
        if all(p.state(t) is not None for t in range(spec.first_week, spec.weeks + 1))
    ]
    flow = out.flow.table()
    assert flow["removed"].to_list() == [len(persons) - len(found), len(found) - len(covered)]
    assert flow["remaining"][-1] == out.persons.height == len(covered)
    got = out.persons.select(spec.columns()).rows(named=True)
    for row, p in zip(got, covered, strict=True):
        assert row == ref_row(p, spec)


@SETTINGS
@given(
    data=registers(),
    bounds=st.tuples(st.integers(-40, 40), st.integers(0, 30)),
)
def test_spells_equal_reference(
    data: tuple[Register, pl.DataFrame, list[Person]], bounds: tuple[int, int]
) -> None:
    register, trial, persons = data
    first, last = bounds[0], bounds[0] + bounds[1]
    table = spell_table(register, trial, first=first, last=last, on_missing="exclude")
    expected = []
    for pid, p in zip(trial["person_id"], persons, strict=True):
        if p.row is None:
            continue
        for start, end, state, left, right in ref_spells(p, first, last):
            expected.append((pid, start, end, CODEMAP.states[state], end - start + 1, left, right))
    assert table.rows() == expected


@SETTINGS
@given(
    members=st.sets(st.integers(0, CODEMAP.n_states - 1)),
    cells=st.lists(
        st.one_of(st.integers(0, CODEMAP.n_states - 1), st.just(255)), min_size=1, max_size=60
    ),
)
def test_set_membership_equals_a_plain_lookup(members: set[int], cells: list[int]) -> None:
    """Range comparisons and the table fallback both equal ``cell in A`` (255 never is)."""
    mask = np.zeros(CODEMAP.n_states, dtype=bool)
    mask[list(members)] = True
    window = np.array(cells, dtype=np.uint8).reshape(1, -1)
    expected = [c in members and c != 255 for c in cells]
    assert week_indicators(window, mask)[0].tolist() == expected
    assert week_indicators(window, ~mask)[0].tolist() == [
        c not in members and c != 255 for c in cells
    ]
