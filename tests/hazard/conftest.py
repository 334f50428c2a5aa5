"""A small self-contained discrete-time duration DGP with known parameters."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import polars as pl
import pytest


def true_alpha(weeks: int, base: float = -2.5) -> np.ndarray:
    """The DGP's baseline alpha_t, t = 1..weeks."""
    return base + 0.4 * np.sin(np.arange(1, weeks + 1) / 5.0)


def simulate_durations(
    n: int,
    link: str = "logit",
    tau: float = -0.3,
    beta_x: float = 0.2,
    seed: int = 0,
    n_teams: int = 40,
    weeks: int = 30,
    base: float = -2.5,
    teams_per_stratum: int = 2,
) -> pl.DataFrame:
    """Persons in teams nested in strata (``teams_per_stratum``), a 60/40 lottery within team,
    hazard F^{-1}(alpha_t + gamma_k + tau T + beta_x x + 0.1 lw) in weeks 1..weeks, censored
    at ``weeks``; plus 10% random earlier censoring. Column ``true_index`` holds each
    person's gamma_k + beta_x x + 0.1 lw (the truth of standardised predictions)."""
    rng = np.random.default_rng(seed)
    team = rng.integers(0, n_teams, n)
    stratum = team // teams_per_stratum
    treated = (rng.random(n) < 0.6).astype(np.int64)
    x = rng.normal(size=n)
    lw = (rng.random(n) < 0.5).astype(np.int64)
    alpha = true_alpha(weeks, base)
    gamma = rng.normal(scale=0.3, size=n_teams // teams_per_stratum + 1)
    cens = np.where(rng.random(n) < 0.1, rng.integers(1, weeks + 1, n), weeks)
    duration = cens.copy()
    event = np.zeros(n, dtype=np.int64)
    alive = np.ones(n, dtype=bool)
    for t in range(1, weeks + 1):
        eta = alpha[t - 1] + gamma[stratum] + tau * treated + beta_x * x + 0.1 * lw
        h = 1 / (1 + np.exp(-eta)) if link == "logit" else -np.expm1(-np.exp(eta))
        exits = alive & (t <= cens) & (rng.random(n) < h)
        duration[exits] = t
        event[exits] = 1
        alive &= ~exits
    return pl.DataFrame(
        {
            "duration": duration,
            "event": event,
            "team": team,
            "municipality": stratum,
            "treated": treated,
            "x": x,
            "lw": lw,
            "true_index": gamma[stratum] + beta_x * x + 0.1 * lw,
        }
    )


@pytest.fixture
def simulate() -> Callable[..., pl.DataFrame]:
    return simulate_durations


def _fd_crv1_se(
    person_loglik: Callable[[np.ndarray], np.ndarray],
    theta: np.ndarray,
    cluster: np.ndarray,
    cov: np.ndarray,
) -> np.ndarray:
    """CRV1 standard errors from per-person scores by central differences of a per-person
    log likelihood (clusters coded 0..G-1): the independent reference for the clustered SEs
    of the likelihood-based hazards, ``c (H^-1 S'S H^-1)`` with c = G/(G-1) (n-1)/(n-k)."""
    from statsmodels.tools.numdiff import approx_fprime

    jac = approx_fprime(theta, person_loglik, centered=True)
    g = int(cluster.max()) + 1
    sg = np.vstack([jac[cluster == c].sum(axis=0) for c in range(g)])
    n, k = jac.shape
    c = g / (g - 1) * (n - 1) / (n - k)
    return np.sqrt(np.diag(c * cov @ sg.T @ sg @ cov))


@pytest.fixture
def fd_crv1_se() -> Callable[..., np.ndarray]:
    """:func:`_fd_crv1_se` (test modules cannot import conftest in importlib mode)."""
    return _fd_crv1_se
