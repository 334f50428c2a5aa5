"""A small discrete-time competing-risks DGP with known parameters (multinomial logit)."""

from __future__ import annotations

import numpy as np
import polars as pl

CAUSES = ("job", "disability", "unemployment")


def simulate_competing(
    n: int,
    seed: int = 0,
    n_teams: int = 30,
    weeks: int = 24,
    teams_per_stratum: int = 3,
    base: tuple[float, ...] = (-2.6, -3.6, -3.1),
    tau: tuple[float, ...] = (0.35, -0.3, 0.0),
    tau_late: tuple[float, ...] | None = None,
    change_week: int = 9,
    beta_x: tuple[float, ...] = (0.2, -0.1, 0.1),
) -> pl.DataFrame:
    """Persons in teams nested in strata, a 50/50 lottery, exits to J = len(base) causes with
    eta_j = base_j + 0.2 sin(t/5) + gamma_kj + tau_j T + beta_xj x (tau_late_j from
    ``change_week`` on), censored at ``weeks`` or earlier (10% random)."""
    rng = np.random.default_rng(seed)
    n_j = len(base)
    team = rng.integers(0, n_teams, n)
    stratum = team // teams_per_stratum
    treated = (rng.random(n) < 0.5).astype(np.int64)
    x = rng.normal(size=n)
    lw = (rng.random(n) < 0.5).astype(np.int64)
    gamma = rng.normal(scale=0.25, size=(n_teams // teams_per_stratum + 1, n_j))
    cens = np.where(rng.random(n) < 0.1, rng.integers(1, weeks + 1, n), weeks)
    duration = cens.copy()
    exit_type = np.full(n, "", dtype=object)
    event = np.zeros(n, dtype=np.int64)
    alive = np.ones(n, dtype=bool)
    tau = tau[:n_j]
    beta_x = beta_x[:n_j]
    late = tau if tau_late is None else tau_late[:n_j]
    for t in range(1, weeks + 1):
        eff = np.asarray(tau if t < change_week else late)
        eta = (
            np.asarray(base)[None, :]
            + 0.2 * np.sin(t / 5.0)
            + gamma[stratum]
            + treated[:, None] * eff[None, :]
            + x[:, None] * np.asarray(beta_x)[None, :]
        )
        ex = np.exp(eta)
        p = ex / (1 + ex.sum(axis=1, keepdims=True))
        u = rng.random(n)
        cum = np.cumsum(p, axis=1)
        which = (u[:, None] > cum).sum(axis=1)  # n_j means no exit
        exits = alive & (t <= cens) & (which < n_j)
        duration[exits] = t
        event[exits] = 1
        exit_type[exits] = np.asarray(CAUSES[:n_j], dtype=object)[which[exits]]
        alive &= ~exits
    index = gamma[stratum] + x[:, None] * np.asarray(beta_x)[None, :]
    return pl.DataFrame(
        {
            **{f"true_index_{c}": index[:, j] for j, c in enumerate(CAUSES[:n_j])},
            "duration": duration,
            "event": event,
            "exit_type": [v if v else None for v in exit_type],
            "team": team,
            "municipality": stratum,
            "treated": treated,
            "x": x,
            "lw": lw,
        }
    )


def true_cif(
    df: pl.DataFrame,
    arm: int,
    weeks: int,
    base: tuple[float, ...] = (-2.6, -3.6, -3.1),
    tau: tuple[float, ...] = (0.35, -0.3, 0.0),
) -> np.ndarray:
    """The standardised CIF (J, weeks) of the DGP's persons with treatment set to ``arm``
    (constant effects), from the true coefficients."""
    n_j = len(base)
    index = np.column_stack([df[f"true_index_{c}"].to_numpy() for c in CAUSES[:n_j]])
    surv = np.ones(df.height)
    cif = np.zeros((df.height, n_j))
    out = np.zeros((n_j, weeks))
    for t in range(1, weeks + 1):
        eta = np.asarray(base)[None, :] + 0.2 * np.sin(t / 5.0) + index
        eta = eta + arm * np.asarray(tau[:n_j])[None, :]
        ex = np.exp(eta)
        h = ex / (1 + ex.sum(axis=1, keepdims=True))
        cif += surv[:, None] * h
        surv = surv * (1 - h.sum(axis=1))
        out[:, t - 1] = cif.mean(axis=0)
    return out
