"""Design: the reference teams, within-team randomisation, waiting-time calibration."""

from __future__ import annotations

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from dreamkit.design import columns as C
from dreamkit.design.trial import validate_trial
from dreamkit.simulate import REFERENCE_TEAM_SIZES, SimulatedTrial, TeamDesign, simulate_trial
from dreamkit.simulate.design import randomise


def _matched(sim: SimulatedTrial) -> pl.DataFrame:
    return sim.trial.filter(pl.Series(sim.register.rows_of(sim.trial[C.PERSON]) >= 0))


def test_reference_design_counts(reference: SimulatedTrial) -> None:
    t = _matched(reference)
    assert t.height == 568
    assert int(t[C.TREATED].sum()) == 371
    assert t[C.CLUSTER].n_unique() == 43
    assert t[C.STRATUM].n_unique() == 26
    teams_per_muni = t.group_by(C.STRATUM).agg(pl.col(C.CLUSTER).n_unique())[C.CLUSTER]
    assert sorted(teams_per_muni.value_counts()["count"].to_list()) == [9, 17]


def test_reference_team_sizes_are_the_published_ones(reference: SimulatedTrial) -> None:
    sizes = (
        _matched(reference)
        .group_by(C.CLUSTER)
        .agg((pl.col(C.TREATED) == 0).sum().alias("c"), (pl.col(C.TREATED) == 1).sum().alias("t"))
    )
    got = sorted(zip(sizes["c"].to_list(), sizes["t"].to_list(), strict=True))
    assert got == sorted(REFERENCE_TEAM_SIZES)


def test_unmatched_persons_are_in_the_trial_but_not_the_register(reference: SimulatedTrial) -> None:
    rows = reference.register.rows_of(reference.trial[C.PERSON])
    assert reference.trial.height == 580
    assert int((rows < 0).sum()) == 12
    assert reference.register.n_persons == 568


def test_general_design_randomises_sixty_percent_within_teams() -> None:
    sim = simulate_trial(TeamDesign(n_teams=60, mean_team_size=14), seed=2)
    counts = sim.trial.group_by(C.CLUSTER).agg(
        pl.len().alias("n"), pl.col(C.TREATED).cast(pl.Int64).sum().alias("t")
    )
    n, t = counts["n"].to_numpy(), counts["t"].to_numpy()
    assert np.array_equal(t, np.clip(np.round(0.6 * n), 1, n - 1))
    assert abs(n.mean() - 14) < 1.5  # 60 Poisson team sizes: SD of the mean about 0.45


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(2, 30), min_size=1, max_size=20), st.integers(0, 2**32 - 1))
def test_randomise_keeps_the_counts_per_team(sizes: list[int], seed: int) -> None:
    size = np.array(sizes)
    n_treated = np.random.default_rng(seed).integers(1, size)
    treated = randomise(size, n_treated, np.random.default_rng(seed))
    team = np.repeat(np.arange(size.size), size)
    assert np.array_equal(np.bincount(team, weights=treated).astype(int), n_treated)


def test_waiting_time_calibration(large: SimulatedTrial) -> None:
    # targets: mean about 19 days, 42% < 7, 63% <= 14, 20% > 30 days. With ~7,000 persons
    # in 500 teams the sampling SD of a share is about 0.01 (team clustering included), so
    # the bands below (+-0.06, +-3 days) test the calibration, not the noise.
    wait = large.trial[C.WAITING_DAYS].to_numpy()
    assert abs(wait.mean() - 19) < 3
    assert abs(np.mean(wait < 7) - 0.415) < 0.06
    assert abs(np.mean(wait <= 14) - 0.63) < 0.06
    assert abs(np.mean(wait > 30) - 0.20) < 0.06


def test_waiting_days_are_days_to_the_teams_last_allocation(reference: SimulatedTrial) -> None:
    t = reference.trial
    last = t.group_by(C.CLUSTER).agg(pl.col(C.ALLOCATION_DATE).max().alias("m"))
    joined = t.join(last, on=C.CLUSTER)
    assert (joined["m"] == joined[C.TEAM_LAST_ALLOCATION]).all()
    checked = validate_trial(t)
    assert (checked[C.WAITING_DAYS] == t[C.WAITING_DAYS]).all()
    assert (checked[C.ALLOCATION_WEEK] == t[C.ALLOCATION_WEEK]).all()
    assert (checked[C.UWSES] == t[C.UWSES]).all()
