"""Invariants of the fast outcome functions on random Markov-chain registers.

Shares lie in [0, 1]; cumulative counts never decrease and grow by 0 or 1 a week; durations lie
in 1..W; an event at d means the k-week rule holds at d (resp. the state at d is outside the
set); a censored person never met the event condition up to the censoring week.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from dreamkit.outcomes import OutcomeSpec, build_outcomes
from dreamkit.register import CodeMap, Register

CODEMAP = CodeMap.default()


def markov_register(seed: int, n: int, n_weeks: int, stay: float) -> Register:
    """Persons who keep their state with probability ``stay`` and otherwise draw a new one."""
    rng = np.random.default_rng(seed)
    states = np.empty((n, n_weeks), dtype=np.uint8)
    states[:, 0] = rng.integers(0, CODEMAP.n_states, n)
    for t in range(1, n_weeks):
        move = rng.random(n) > stay
        states[:, t] = np.where(move, rng.integers(0, CODEMAP.n_states, n), states[:, t - 1])
    return Register(states, pl.Series("person_id", np.arange(n) + 10**6), 5200, CODEMAP)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    weeks=st.integers(1, 40),
    k=st.integers(1, 6),
    stay=st.floats(0.3, 0.95),
    coverage=st.sampled_from(["require", "partial"]),
)
def test_invariants(seed: int, weeks: int, k: int, stay: float, coverage: str) -> None:
    n, n_weeks = 300, 120
    register = markov_register(seed, n, n_weeks, stay)
    rng = np.random.default_rng(seed + 1)
    trial = pl.DataFrame(
        {
            "person_id": register.person_ids,
            "allocation_week": rng.integers(5200 - 10, 5200 + n_weeks + 10, n),
        }
    )
    spec = OutcomeSpec(weeks=weeks, spell_weeks=k, pre_weeks=24, pre_window_length=8)
    out = build_outcomes(register, trial, spec, coverage=coverage, chunk_size=64)  # type: ignore[arg-type]
    p = out.persons
    assert out.flow.n_input - out.flow.removed == p.height
    for prefix in spec.paths:
        shares = p.select(spec.path_columns(prefix)).to_numpy()
        ok = ~np.isnan(shares)
        assert np.all((shares[ok] >= 0) & (shares[ok] <= 1))
        counts = shares * np.arange(1, weeks + 1)
        assert np.allclose(counts[ok], np.round(counts[ok]), rtol=0, atol=1e-9)
        steps = np.diff(np.round(counts), axis=1)
        both = ok[:, 1:] & ok[:, :-1]
        assert np.all(np.isin(steps[both], (0.0, 1.0)))
        # once a share is missing, every later share is missing too
        assert np.all(np.diff(ok.astype(int), axis=1) <= 0)
    for col in [c for c in p.columns if c.startswith("pre_")]:
        v = p[col].drop_nulls().to_numpy()
        assert np.all((v >= 0) & (v <= 1))

    rows = register.rows_of(p["person_id"])
    week0 = p["allocation_week"].to_numpy() - register.first_week
    emp = CODEMAP.mask(spec.spell_set)
    sick = CODEMAP.mask(spec.exit_set)

    def state(i: int, t: int) -> int:
        return int(register.states[rows[i], week0[i] + t])

    for i, (d, e, ds, es) in enumerate(
        p.select("dur_emp", "event_emp", "dur_sick", "event_sick").iter_rows()
    ):
        if d is not None:
            assert 1 <= d <= weeks
            rule = [all(emp[state(i, u)] for u in range(t, t + k)) for t in range(1, d + 1)]
            if e == 1:
                assert rule[-1] and not any(rule[:-1])
            else:
                assert not any(rule)
        if ds is not None:
            assert 1 <= ds <= weeks
            inside = [bool(sick[state(i, t)]) for t in range(1, ds + 1)]
            if es == 1:
                assert not inside[-1] and all(inside[:-1])
            else:
                assert all(inside)
        if coverage == "require":
            # the window -P..W is covered, so only a spell longer than W can be undefined
            assert ds is not None and (d is not None or k > weeks)
            if e == 0 and d is not None:
                assert d == min(weeks, n_weeks - 1 - week0[i] - k + 1)
            if es == 0:
                assert ds == weeks
