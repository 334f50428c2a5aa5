"""UW-SES low/high split and the leave-one-out peer share, against brute force."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dreamkit.design import (
    check_cutoff,
    low_self_efficacy,
    peer_low_share,
    peers_low,
    team_low_share_median,
)
from dreamkit.errors import InputError, TrialDesignError


@settings(max_examples=40, deadline=None)
@given(
    scores=st.lists(st.integers(0, 24), min_size=4, max_size=60),
    n_teams=st.integers(1, 5),
    cutoff=st.integers(0, 23),
)
def test_leave_one_out_share_equals_brute_force(scores, n_teams, cutoff):
    team = [i % n_teams for i in range(len(scores))]
    if min(np.bincount(team)) < 2:
        return
    data = pl.DataFrame({"uwses": scores, "team": team})
    share = peer_low_share(data, cutoff).to_numpy()
    for i in range(len(scores)):
        mates = [scores[j] for j in range(len(scores)) if team[j] == team[i] and j != i]
        assert share[i] == pytest.approx(np.mean([s <= cutoff for s in mates]), abs=1e-15)
    team_shares = [
        np.mean([s <= cutoff for s, t in zip(scores, team, strict=True) if t == h])
        for h in sorted(set(team))
    ]
    med = team_low_share_median(data, cutoff)
    assert med == pytest.approx(float(np.median(team_shares)))
    np.testing.assert_array_equal(peers_low(data, cutoff).to_numpy(), (share > med).astype(int))


def test_low_split_and_errors():
    data = pl.DataFrame({"uwses": [0, 8, 9, 24], "team": [1, 1, 2, 2]})
    assert low_self_efficacy(data, 8).to_list() == [1, 1, 0, 0]
    with pytest.raises(InputError, match="cut-off"):
        check_cutoff(24)
    with pytest.raises(InputError, match="missing"):
        low_self_efficacy(data.with_columns(pl.lit(None, pl.Int64).alias("uwses")), 8)
    with pytest.raises(InputError, match="outside"):
        low_self_efficacy(data.with_columns(pl.lit(30).alias("uwses")), 8)
    with pytest.raises(TrialDesignError, match="alone"):
        peer_low_share(data.with_columns(pl.Series("team", [1, 1, 1, 2])), 8)
