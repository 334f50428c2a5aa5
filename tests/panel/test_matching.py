"""Matching on register histories.

* The k-d tree nearest neighbours equal a brute-force Mahalanobis search (scipy ``cdist``
  with the inverse covariance) on continuous features: same indices, distances to 1e-10.
* With random starts (no selection) the matched effect path recovers the simulator's known
  effects (|z| < 4 at every week) and the pre-period path is flat; with selection on the
  pre-period level, matching shrinks the standardised differences.
* Bad input: history before the register starts, no common support (typed errors), partial
  support (warning).
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import scipy.spatial

from dreamkit.errors import DreamkitWarning, InputError
from dreamkit.estimate.panel.matching import mahalanobis_nearest, match_histories
from dreamkit.simulate.staggered import simulate_staggered


def test_nearest_equals_brute_force() -> None:
    rng = np.random.default_rng(0)
    xc = rng.normal(size=(400, 3)) @ np.array([[1, 0.5, 0], [0, 1, 0.3], [0, 0, 2.0]])
    xp = rng.normal(size=(50, 3))
    idx, dist = mahalanobis_nearest(xp, xc, ratio=2)
    vi = np.linalg.inv(np.cov(xc, rowvar=False) + 1e-8 * np.eye(3))
    full = scipy.spatial.distance.cdist(xp, xc, metric="mahalanobis", VI=vi)
    ref = np.argsort(full, axis=1)[:, :2]
    np.testing.assert_array_equal(idx, ref)
    np.testing.assert_allclose(dist, np.take_along_axis(full, ref, axis=1), atol=1e-10)


def _setup(selection: float, seed: int = 5):  # type: ignore[no-untyped-def]
    sim = simulate_staggered(
        n_persons=3000,
        n_periods=60,
        cohorts=(30, 36),
        seed=seed,
        selection=selection,
        never_share=0.6,
        heterogeneity=0.0,
    )
    reg, persons = sim.to_register()
    part = persons.filter(pl.col("start_week").is_not_null())
    return sim, reg, part


@pytest.mark.filterwarnings("ignore::dreamkit.errors.InferenceWarning")
@pytest.mark.parametrize("pool", ["never", "not_yet"])
def test_recovers_truth_without_selection(pool: str) -> None:
    sim, reg, part = _setup(selection=0.0)
    res = match_histories(
        reg,
        part,
        outcome="employment",
        pre_weeks=26,
        window=13,
        horizon=20,
        lead=10,
        ratio=3,
        bootstrap=200,
        pool=pool,
    )
    tidy = res.tidy().join(sim.theta.rename({"event_time": "week"}), on="week", how="left")
    post = tidy.filter(pl.col("week") >= 0)
    z = ((post["estimate"] - post["att"]) / post["std_error"]).to_numpy()
    assert np.all(np.abs(z) < 4)
    pre = tidy.filter(pl.col("week") < 0)
    assert np.all(np.abs((pre["estimate"] / pre["std_error"]).to_numpy()) < 4)
    g = res.glance()
    assert g["n_matched"][0] == part.height and g["n_entry_weeks"][0] == 2


@pytest.mark.filterwarnings("ignore::dreamkit.errors.InferenceWarning")
def test_balance_improves_under_selection() -> None:
    _, reg, part = _setup(selection=1.5)
    with pytest.warns(DreamkitWarning):  # pscore caliper drops a few participants
        res = match_histories(
            reg,
            part,
            outcome="employment",
            pre_weeks=26,
            window=13,
            horizon=10,
            method="pscore",
            caliper=0.01,
            bootstrap=50,
        )
    bal = res.balance
    assert np.all(np.abs(bal["std_diff_before"].to_numpy()) > 0.2)
    assert np.all(np.abs(bal["std_diff_after"].to_numpy()) < 0.1)
    maha = match_histories(
        reg, part, outcome="employment", pre_weeks=26, window=13, horizon=10, bootstrap=50
    )
    assert np.all(
        np.abs(maha.balance["std_diff_after"].to_numpy())
        < np.abs(maha.balance["std_diff_before"].to_numpy())
    )


def test_bad_input() -> None:
    _, reg, part = _setup(selection=0.0)
    with pytest.raises(InputError, match="before it"):
        match_histories(reg, part, outcome="employment", pre_weeks=52, window=13, horizon=5)
    with pytest.raises(InputError, match="follow-up"):
        match_histories(reg, part, outcome="employment", pre_weeks=26, window=13, horizon=40)
    with pytest.raises(InputError, match="no common support"):
        match_histories(
            reg, part, outcome="employment", pre_weeks=26, window=13, horizon=5, caliper=-1.0
        )
