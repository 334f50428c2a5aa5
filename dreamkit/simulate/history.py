r"""Weeks before allocation: a background labour-market chain, then the current sick spell.

**Onset.** Person :math:`i` has been on sickness benefit for :math:`d_i` weeks at allocation
(weeks :math:`-d_i+1..0` are in category S; recruitment took place 6-19 weeks into the sick
leave): :math:`d_i \sim U\{6..19\}` with probability ``1 - long_share``, else
:math:`19 + G_i` with :math:`G_i` geometric on 1, 2, ... with mean ``long_extra_weeks``.
With probability ``lead_share`` the spell is preceded by :math:`\ell_i` weeks (geometric
on 1, 2, ..., mean ``lead_mean_weeks``) out of work (U with probability
``lead_unemployed``, else O): sick leave often starts after a job loss, which is why
employment is rare just before it.

**Background chain** (every week before the lead-in). Categories E, S, U, O with a
person-type-specific stationary distribution :math:`p` (by ``ordinary_job``) and mean spell
lengths :math:`m`: each week the person leaves the current state :math:`s` with probability
:math:`\lambda_s = 1/m_s` and draws the next state from :math:`\mu \propto p \odot \lambda`
(which may renew the same state), so :math:`p` is the chain's stationary distribution. The
chain starts from :math:`p` at the register's first week.

Calibration targets (the study's pre-allocation windows): employment 60-65% in weeks
104..27 before allocation, 43-45% in 26-14, 4-6% in 13-1; sickness etc. 11-13%, 32-35%,
86-91%.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from dreamkit.errors import InputError


@dataclass(frozen=True)
class HistoryParams:
    """Parameters of the pre-allocation history (module docstring); shares are (E, S, U, O)."""

    shares_ordinary_job: tuple[float, float, float, float] = (0.76, 0.10, 0.08, 0.06)
    shares_other: tuple[float, float, float, float] = (0.30, 0.16, 0.28, 0.26)
    spell_weeks: tuple[float, float, float, float] = (60.0, 8.0, 14.0, 16.0)
    onset_min_weeks: int = 6
    onset_max_weeks: int = 19
    long_share: float = 0.25
    long_extra_weeks: float = 6.0
    lead_share: float = 0.6
    lead_mean_weeks: float = 4.0
    lead_unemployed: float = 0.4

    def __post_init__(self) -> None:
        for name in ("shares_ordinary_job", "shares_other"):
            shares = np.asarray(getattr(self, name))
            if shares.size != 4 or (shares < 0).any() or not np.isclose(shares.sum(), 1):
                raise InputError(
                    f"HistoryParams.{name} must be 4 shares (E, S, U, O) summing to 1."
                )
        if min(self.spell_weeks) < 1:
            raise InputError("HistoryParams.spell_weeks must all be >= 1 week.")
        if not 1 <= self.onset_min_weeks <= self.onset_max_weeks:
            raise InputError("HistoryParams: need 1 <= onset_min_weeks <= onset_max_weeks.")
        if min(self.long_extra_weeks, self.lead_mean_weeks) < 1:
            raise InputError("HistoryParams: long_extra_weeks and lead_mean_weeks must be >= 1.")


@dataclass(frozen=True)
class History:
    """Per-person pre-allocation set-up."""

    onset: npt.NDArray[np.int32]  # d_i: weeks on sickness benefit at allocation
    lead: npt.NDArray[np.int32]  # weeks out of work before the spell (0 = none)
    lead_cat: npt.NDArray[np.uint8]  # category of the lead-in (U or O)
    kind: npt.NDArray[np.intp]  # 0 = ordinary job before, 1 = other
    leave: npt.NDArray[np.float64]  # (2, 4) weekly probability of leaving each state
    jump_cdf: npt.NDArray[np.float64]  # (2, 4) cumulative destination distribution mu
    start_cdf: npt.NDArray[np.float64]  # (2, 4) cumulative stationary distribution p


def draw_history(
    rng: np.random.Generator, ordinary_job: np.ndarray, params: HistoryParams
) -> History:
    """Onset, lead-in and chain parameters per person (module docstring)."""
    n = ordinary_job.size
    short = rng.integers(params.onset_min_weeks, params.onset_max_weeks + 1, n)
    long = params.onset_max_weeks + rng.geometric(1 / params.long_extra_weeks, n)
    onset = np.where(rng.random(n) < params.long_share, long, short).astype(np.int32)
    lead = rng.geometric(1 / params.lead_mean_weeks, n)
    lead = np.where(rng.random(n) < params.lead_share, lead, 0).astype(np.int32)
    lead_cat = np.where(rng.random(n) < params.lead_unemployed, 2, 3).astype(np.uint8)
    shares = np.array([params.shares_ordinary_job, params.shares_other])
    leave = np.tile(1 / np.asarray(params.spell_weeks), (2, 1))
    mu = shares * leave
    mu /= mu.sum(axis=1, keepdims=True)
    return History(
        onset=onset,
        lead=lead.astype(np.int32),
        lead_cat=lead_cat,
        kind=np.where(ordinary_job == 1, 0, 1).astype(np.intp),
        leave=leave,
        jump_cdf=np.cumsum(mu, axis=1),
        start_cdf=np.cumsum(shares, axis=1),
    )
