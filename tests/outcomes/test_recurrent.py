"""Relapse episodes after a lasting return to work: equal to a brute-force per-person loop
on small random state arrays (hypothesis), consistent with duration_to_spell, and the
relapse hazard on the repeated-events person-periods equals statsmodels GLM clustered by
person."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st

from dreamkit.errors import InputError, OverlappingSpellsError
from dreamkit.estimate.duration.duration_dependence import intervals
from dreamkit.estimate.duration.hazard import DiscreteTimeHazard
from dreamkit.estimate.duration.person_period import expand_spells
from dreamkit.outcomes.align import UNOBSERVED
from dreamkit.outcomes.durations import duration_to_spell
from dreamkit.outcomes.recurrent import check_no_overlap, relapse_episodes, relapse_outcomes

# states: 0 other, 1 work (A), 2 sickness (B), 3 unemployment (neither)
WORK = np.array([False, True, False, False])
SICK = np.array([False, False, True, False])


def brute(states: list[int], k: int) -> list[tuple[int, int, int, int]]:
    """(return_week, start, length, event) of every episode, by the module's definition."""
    h = 0
    while h < len(states) and states[h] != UNOBSERVED:
        h += 1
    out: list[tuple[int, int, int, int]] = []
    t = 1
    while True:
        r = next(
            (c for c in range(t, h - k + 2) if all(states[c - 1 + j] == 1 for j in range(k))),
            None,
        )
        if r is None or r + k > h:
            return out
        start = r + k
        u = next((c for c in range(start, h + 1) if states[c - 1] == 2), None)
        if u is None:
            out.append((r, start, h - start + 1, 0))
            return out
        out.append((r, start, u - start + 1, 1))
        t = u + 1


def random_window(seed: int, n: int, width: int, stay: float, gaps: bool) -> np.ndarray:
    rng = np.random.default_rng(seed)
    w = np.empty((n, width), dtype=np.uint8)
    w[:, 0] = rng.integers(0, 4, n)
    for t in range(1, width):
        move = rng.random(n) > stay
        w[:, t] = np.where(move, rng.integers(0, 4, n), w[:, t - 1])
    if gaps:  # the register ends early (or starts late) for some persons
        cut = rng.integers(0, width + 1, n)
        w[np.arange(width)[None, :] >= cut[:, None]] = UNOBSERVED
        late = rng.random(n) < 0.1
        w[late, 0] = UNOBSERVED
    return w


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    width=st.integers(1, 40),
    k=st.integers(1, 5),
    stay=st.floats(0.3, 0.95),
    gaps=st.booleans(),
)
def test_equals_brute_force(seed: int, width: int, k: int, stay: float, gaps: bool) -> None:
    window = random_window(seed, 30, width, stay, gaps)
    ep = relapse_episodes(window, WORK, SICK, k)
    for i in range(window.shape[0]):
        mine = ep.filter(pl.col("row") == i)
        assert mine["episode"].to_list() == list(range(1, mine.height + 1))
        got = list(
            zip(
                mine["return_week"].to_list(),
                mine["start"].to_list(),
                mine["length"].to_list(),
                mine["event"].to_list(),
                strict=True,
            )
        )
        assert got == brute(window[i].tolist(), k)
    horizons = sorted({1, width, max(1, width // 2)})
    out = relapse_outcomes(window, WORK, SICK, k, horizons=horizons)
    assert out.height == window.shape[0]
    for i in range(window.shape[0]):
        eps = brute(window[i].tolist(), k)
        row = out.row(i, named=True)
        assert row["returned"] == bool(eps)
        if eps:
            assert (row["return_week"], row["relapse_weeks"], row["relapse_event"]) == (
                eps[0][0],
                eps[0][2],
                bool(eps[0][3]),
            )
        else:
            assert row["return_week"] is None and row["relapse_weeks"] is None
        states = window[i].tolist()
        for hz in horizons:
            n_rel = sum(1 for r, s, ln, e in eps if e and s + ln - 1 <= hz)
            assert row[f"n_relapses_{hz}"] == n_rel
            obs = [x for x in states[:hz]]
            h = next((j for j, x in enumerate(obs) if x == UNOBSERVED), len(obs))
            starts = sum(1 for j in range(h) if obs[j] == 2 and (j == 0 or obs[j - 1] != 2))
            assert row[f"n_sick_spells_{hz}"] == starts
    # the first return is the study's duration to a lasting spell in the work set
    if width >= k:
        dur = duration_to_spell(window, WORK, weeks=width - k + 1, k=k)
        first = ep.filter(pl.col("episode") == 1)
        rows = first["row"].to_numpy()
        assert np.all(dur.event[rows])
        np.testing.assert_array_equal(dur.weeks[rows], first["return_week"].to_numpy())


def test_relapse_hazard_clustered_by_person() -> None:
    window = random_window(7, 600, 60, 0.85, gaps=False)
    ep = relapse_episodes(window, WORK, SICK, k=3)
    assert ep["episode"].max() > 1  # repeated events
    rng = np.random.default_rng(1)
    persons = pl.DataFrame({"person_id": np.arange(600) + 5000, "treated": rng.integers(0, 2, 600)})
    spells = ep.join(persons.with_row_index("row"), on="row")
    spells = spells.with_columns((pl.col("episode") > 1).cast(pl.Int8).alias("later"))
    check_no_overlap(spells, start="start", length="length")
    pp = expand_spells(spells, keep=["treated", "later"])
    model = DiscreteTimeHazard(
        duration_spec=intervals(5),
        stratum=None,
        cluster="person_id",
        covariates=("later",),
    )
    res = model.fit_person_periods(pp)
    assert res.n_persons == ep.height  # spells, counted by their first period
    per = pp["period"].to_numpy()
    grp = np.unique(res.grid.lut[per], return_inverse=True)[1]
    x = np.column_stack(
        [
            (grp[:, None] == np.arange(grp.max() + 1)[None, :]).astype(float),
            pp["treated"].to_numpy(),
            pp["later"].to_numpy(),
        ]
    )
    sm_fit = sm.GLM(pp["event"].to_numpy().astype(float), x, family=sm.families.Binomial()).fit(
        cov_type="cluster", cov_kwds={"groups": pp["person_id"].to_numpy()}, tol=1e-13
    )
    np.testing.assert_allclose(res.glm.params, sm_fit.params, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(res.glm.std_errors, sm_fit.bse, rtol=1e-6)
    assert res.glm.n_clusters == pp["person_id"].n_unique()


def test_bad_input() -> None:
    spells = pl.DataFrame(
        {"person_id": [1, 1, 2], "start": [1, 4, 1], "length": [5, 2, 3], "event": [1, 0, 0]}
    )
    with pytest.raises(OverlappingSpellsError, match="1 spell"):
        check_no_overlap(spells)
    with pytest.raises(OverlappingSpellsError, match="must not overlap"):
        expand_spells(spells)
    with pytest.raises(InputError, match="both the work and the sickness set"):
        relapse_episodes(np.zeros((2, 5), np.uint8), WORK, WORK)
    with pytest.raises(InputError, match="horizon 9"):
        relapse_outcomes(np.zeros((2, 5), np.uint8), WORK, SICK, horizons=[9])
