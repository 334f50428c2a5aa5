"""The staggered simulator: its truth tables follow the documented formulas."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from dreamkit.errors import InputError
from dreamkit.simulate.staggered import StaggeredSettings, simulate_staggered


def test_truth_follows_the_formula_without_clipping() -> None:
    s = StaggeredSettings(
        n_persons=800,
        n_periods=30,
        cohorts=(8, 14, 20),
        effect=0.1,
        heterogeneity=0.5,
        ramp=4,
        seed=2,
    )
    sim = simulate_staggered(s)
    mult = {8: 1.5, 14: 1.0, 20: 0.5}
    expected = [
        0.1 * mult[g] * min(1.0, (e + 1) / 4)
        for g, e in zip(sim.att["cohort"], sim.att["event_time"], strict=True)
    ]
    np.testing.assert_allclose(sim.att["att"], expected, atol=1e-12)
    n_g = {g: int((sim.start == g).sum()) for g in mult}
    th = sim.theta.filter(pl.col("event_time") == 5)["att"][0]
    cells = {g: 0.1 * mult[g] for g in mult}  # all past the ramp at e = 5
    assert th == pytest.approx(sum(n_g[g] * cells[g] for g in mult) / sum(n_g.values()))


def test_selection_on_level_and_reproducible() -> None:
    a = simulate_staggered(n_persons=4000, selection=1.5, seed=4)
    b = simulate_staggered(n_persons=4000, selection=1.5, seed=4)
    assert np.array_equal(a.y, b.y) and np.array_equal(a.start, b.start)
    never = a.start < 0
    assert a.level[~never].mean() < a.level[never].mean() - 0.03
    early = a.start == min(a.settings.cohorts)
    late = a.start == max(a.settings.cohorts)
    assert a.level[early].mean() < a.level[late].mean()
    long = a.to_long()
    assert long.height == a.y.size and long["start"].null_count() == never.sum() * a.y.shape[1]


def test_settings_are_checked() -> None:
    with pytest.raises(InputError, match="cohorts"):
        StaggeredSettings(n_periods=10, cohorts=(12,))
    with pytest.raises(InputError, match="never_share"):
        StaggeredSettings(never_share=1.0)
