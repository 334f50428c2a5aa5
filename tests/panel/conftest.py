"""Small staggered panels shared by the panel-estimator tests."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest


def make_panel(
    n: int = 300, t: int = 20, seed: int = 1, cohorts=(5, 8, 12, 15, -1)
) -> pl.DataFrame:
    """Long panel: id, t, y, start (null: never treated), g (a person-level cluster)."""
    rng = np.random.default_rng(seed)
    start = rng.choice(np.array(cohorts), size=n)
    g = rng.integers(0, 25, n)
    ids = np.repeat(np.arange(n), t)
    tt = np.tile(np.arange(t), n)
    st = np.repeat(start, t)
    eff = np.where((st >= 0) & (tt >= st), (tt - st + 1) / 5.0, 0.0)
    y = rng.normal(size=n * t) + np.repeat(rng.normal(size=n), t) + 0.1 * tt + 0.5 * eff
    return pl.DataFrame({"id": ids, "t": tt, "y": y, "s": st, "g": np.repeat(g, t)}).with_columns(
        pl.when(pl.col("s") >= 0).then(pl.col("s")).alias("start")
    )


@pytest.fixture
def panel() -> pl.DataFrame:
    return make_panel()
