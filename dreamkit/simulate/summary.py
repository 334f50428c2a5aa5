"""A plain-text summary of a simulated trial (counts and shares only, never identifiers)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from dreamkit.design import columns as C

if TYPE_CHECKING:
    from dreamkit.register.register import Register
    from dreamkit.simulate.truth import Truth

WINDOW = 13
N_WINDOWS = 8


def pre_window_shares(trial: pl.DataFrame, reg: Register, state_set: str) -> np.ndarray:
    """(persons, 8) shares of weeks in ``state_set`` in windows 104-92, ..., 13-1 before
    allocation, for the trial's persons found in the register, in trial order."""
    rows = reg.rows_of(trial[C.PERSON])
    weeks = trial[C.ALLOCATION_WEEK].to_numpy()[rows >= 0]
    start = weeks - WINDOW * N_WINDOWS - reg.first_week
    cols = start[:, None] + np.arange(WINDOW * N_WINDOWS)[None, :]
    inset = reg.codemap.mask(state_set)[reg.states[rows[rows >= 0][:, None], cols]]
    return inset.reshape(-1, N_WINDOWS, WINDOW).mean(axis=2)


def summarise(
    trial: pl.DataFrame, reg: Register, truth: Truth, *, seed: int, link: str, low_cutoff: float
) -> str:
    """Counts by arm, teams, municipalities, waiting time, UW-SES, pre-window shares by arm."""
    matched = reg.rows_of(trial[C.PERSON]) >= 0
    t = trial.filter(matched)
    arm = t[C.TREATED].to_numpy()
    wait = t[C.WAITING_DAYS].to_numpy()
    uwses = t[C.UWSES].to_numpy()
    lines = [
        f"Simulated trial (seed {seed}, {link} link)",
        f"  randomised {trial.height}, not in the register {int((~matched).sum())}, "
        f"analysed {t.height}: course {int(arm.sum())}, control {int((arm == 0).sum())}",
        f"  {t[C.CLUSTER].n_unique()} teams in {t[C.STRATUM].n_unique()} municipalities; "
        f"persons per team {t.height / t[C.CLUSTER].n_unique():.1f}",
        f"  waiting days: mean {wait.mean():.1f}; < 7 days {np.mean(wait < 7):.0%}, "
        f"<= 14 days {np.mean(wait <= 14):.0%}, > 30 days {np.mean(wait > 30):.0%}",
        f"  UW-SES: mean {uwses.mean():.1f}; low (<= {low_cutoff}) "
        f"{np.mean(uwses <= low_cutoff):.0%}",
        "  pre-allocation shares (weeks before allocation)   control  course",
    ]
    for state_set in ("employment", "sickness"):
        shares = pre_window_shares(trial, reg, state_set)  # matched persons in trial order
        for k in range(N_WINDOWS):
            hi = WINDOW * (N_WINDOWS - k)
            lo = hi - WINDOW + 1
            c, tr = shares[arm == 0, k].mean(), shares[arm == 1, k].mean()
            lines.append(f"    {state_set:<10} {hi:>3}-{lo:<3}{'':>26}{c:7.2f} {tr:7.2f}")
    lines.append(
        f"  true effect on the employment share to week 81: "
        f"{truth.effect('employment_share', 81):+.3f}; "
        f"sickness share: {truth.effect('sickness_share', 81):+.3f}"
    )
    return "\n".join(lines)
