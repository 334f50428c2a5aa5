"""The register path (blocks of mask[states]) equals the long-frame path on the same panel."""

from __future__ import annotations

import numpy as np
import polars as pl

from dreamkit.estimate.panel.event_study import event_study, event_study_register
from dreamkit.register.codemap import CodeMap
from dreamkit.register.register import Register


def test_register_path_equals_long_path() -> None:
    rng = np.random.default_rng(7)
    cm = CodeMap.default()
    n, t, first = 400, 60, 6000
    start = rng.choice([10, 20, 30, -1], size=n)
    level = rng.uniform(0.2, 0.7, n)
    rel = np.arange(t)[None, :] - start[:, None]
    p = level[:, None] + 0.15 * ((start[:, None] >= 0) & (rel >= 0))
    emp = rng.random((n, t)) < p
    states = np.where(emp, cm.employed_id, cm.not_employed_id).astype(np.uint8)
    reg = Register(
        states=states,
        person_ids=pl.Series("person_id", np.arange(n) + 100),
        first_week=first,
        codemap=cm,
    )
    muni = rng.integers(0, 12, n)
    starts = pl.DataFrame(
        {
            "person_id": np.arange(n) + 100,
            "start_week": pl.Series(np.where(start >= 0, start + first, 0)),
            "muni": muni,
        }
    ).with_columns(pl.when(pl.Series(start >= 0)).then(pl.col("start_week")).alias("start_week"))
    res = event_study_register(
        reg, "employment", starts, leads=5, lags=8, vcov={"CRV1": "muni"}, block_rows=37
    )
    long = pl.DataFrame(
        {
            "id": np.repeat(np.arange(n), t),
            "week": np.tile(np.arange(t) + first, n),
            "y": emp.ravel().astype(float),
            "start": starts["start_week"].gather(np.repeat(np.arange(n), t)),
            "muni": np.repeat(muni, t),
        }
    ).with_columns(pl.col("start").cast(pl.Int64))
    ref = event_study(
        long,
        outcome="y",
        unit="id",
        time="week",
        start="start",
        leads=5,
        lags=8,
        vcov={"CRV1": "muni"},
    )
    np.testing.assert_allclose(res.tidy()["estimate"], ref.tidy()["estimate"], atol=1e-12)
    np.testing.assert_allclose(res.tidy()["std_error"], ref.tidy()["std_error"], atol=1e-12)
    post = res.tidy().filter(pl.col("event_time") >= 0)["estimate"].to_numpy()
    assert np.all(np.abs(post - 0.15) < 0.08)


def test_person_month_panel_equals_long_path() -> None:
    from dreamkit.register.calendar import months_of_weeks

    rng = np.random.default_rng(3)
    cm = CodeMap.default()
    n, t, first = 300, 120, 6000
    start = rng.choice([30, 50, 70, -1], size=n)
    emp = rng.random((n, t)) < rng.uniform(0.2, 0.7, n)[:, None]
    states = np.where(emp, cm.employed_id, cm.not_employed_id).astype(np.uint8)
    reg = Register(
        states=states, person_ids=pl.Series("person_id", np.arange(n)), first_week=first, codemap=cm
    )
    starts = pl.DataFrame({"person_id": np.arange(n), "sw": start + first}).with_columns(
        pl.when(pl.Series(start >= 0)).then(pl.col("sw")).alias("start_week")
    )
    res = event_study_register(reg, "employment", starts, leads=3, lags=4, period="month")
    month = months_of_weeks(np.arange(first, first + t))
    wide = pl.DataFrame(
        {"id": np.repeat(np.arange(n), t), "m": np.tile(month, n), "y": emp.ravel().astype(float)}
    )
    long = wide.group_by("id", "m").agg(pl.col("y").mean()).with_columns(pl.col("m").cast(pl.Int64))
    sm = np.where(start >= 0, months_of_weeks(np.where(start >= 0, start + first, first)), -1)
    long = long.join(pl.DataFrame({"id": np.arange(n), "sm": sm.astype(np.int64)}), on="id")
    long = long.with_columns(pl.when(pl.col("sm") >= 0).then(pl.col("sm")).alias("start"))
    ref = event_study(long, outcome="y", unit="id", time="m", start="start", leads=3, lags=4)
    np.testing.assert_allclose(res.tidy()["estimate"], ref.tidy()["estimate"], atol=1e-12)
    np.testing.assert_allclose(res.tidy()["std_error"], ref.tidy()["std_error"], atol=1e-12)
    assert res.glance()["n_periods"][0] == np.unique(month).size
