"""Monte Carlo on the staggered simulator: CS and SA are unbiased for theta(e) and cover; the
TWFE event study is biased under heterogeneous, growing effects (docs/observational.md).

The default run uses 6 draws (a smoke version: mean errors of CS/SA within 4 Monte Carlo SEs
of zero); the slow run uses 60 draws and also checks coverage and the TWFE bias.
"""

from __future__ import annotations

import warnings

import numpy as np
import polars as pl
import pytest

from dreamkit.estimate.panel.event_study import event_study
from dreamkit.estimate.panel.staggered import callaway_santanna, sun_abraham
from dreamkit.simulate.staggered import simulate_staggered

EVENTS = [0, 3, 6, 9]


def _draws(reps: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    out: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {"twfe": [], "cs": [], "sa": []}
    kw = {
        "outcome": "y",
        "unit": "person_id",
        "time": "period",
        "start": "start",
        "vcov": {"CRV1": "municipality"},
    }
    for seed in range(reps):
        sim = simulate_staggered(
            n_persons=3000,
            n_periods=40,
            cohorts=(10, 16, 22, 28),
            heterogeneity=1.0,
            ramp=12,
            never_share=0.05,
            seed=1000 + seed,
        )
        long = sim.to_long()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fits = {
                "twfe": event_study(long, leads=8, lags=12, **kw),
                "cs": callaway_santanna(long, **kw),
                "sa": sun_abraham(long, **kw),
            }
        for name, fit in fits.items():
            t = (
                fit.tidy()
                .filter(pl.col("event_time").is_in(EVENTS))
                .join(sim.theta, on="event_time")
            )
            err = (t["estimate"] - t["att"]).to_numpy()
            cov = ((t["conf_low"] <= t["att"]) & (t["att"] <= t["conf_high"])).to_numpy()
            out[name].append((err, cov))
    return {k: (np.array([e for e, _ in v]), np.array([c for _, c in v])) for k, v in out.items()}


def _unbiased(err: np.ndarray) -> bool:
    mcse = err.std(axis=0, ddof=1) / np.sqrt(err.shape[0])
    return bool(np.all(np.abs(err.mean(axis=0)) < 4 * mcse))


def test_cs_sa_unbiased_smoke() -> None:
    d = _draws(6)
    assert _unbiased(d["cs"][0]) and _unbiased(d["sa"][0])


@pytest.mark.slow
def test_cs_sa_unbiased_and_cover_twfe_biased() -> None:
    d = _draws(60)
    for name in ("cs", "sa"):
        err, cov = d[name]
        assert _unbiased(err)
        assert np.all(cov.mean(axis=0) > 0.82)
    twfe = d["twfe"][0].mean(axis=0)
    assert np.all(twfe > 0.005)
