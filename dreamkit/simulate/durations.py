r"""Small duration DGPs with unobserved heterogeneity and known parameters.

The full register simulator (:func:`~dreamkit.simulate.simulate_trial`) draws the first exit
with one shared uniform stream per person-week for several worlds; a frailty there would
change that stream. These two DGPs produce person-level duration tables directly (one row
per person), for the frailty and timing-of-events estimators and their Monte Carlo checks.

**Frailty** (:func:`simulate_frailty_durations`): persons in ``n_teams`` teams, a 50/50
treatment lottery, one binary covariate ``x`` (probability 0.5); each person draws
:math:`v_i \sim \Gamma(1/\sigma^2, \sigma^2)` (mean 1, variance :math:`\sigma^2`; :math:`v_i = 1`
when :math:`\sigma^2 = 0`) and leaves in week t with

.. math:: \lambda_{it} = 1 - \exp\{-v_i \exp(\alpha_t + \tau T_i + \beta x_i)\},

or, with ``link="logit"``, :math:`\operatorname{logit}\lambda_{it} = \ln v_i + \alpha_t +
\tau T_i + \beta x_i` (the same draws; only the hazard function differs), and
:math:`\alpha_t` constant within 4-week blocks (``alpha_t = base - 0.3 log(block start)``) so
that :func:`~dreamkit.estimate.duration.duration_dependence.intervals` (width 4) is correctly
specified; censoring after ``weeks``. Columns: team, treated, x, duration, event, frailty.

**Timing of events** (:func:`simulate_timing_of_events`): two hazards per week of the spell,
programme entry and exit to work (cloglog),

.. math::

    \theta_p(t) = 1 - \exp\{-\exp(\alpha^p + \beta_p x_i + v_p)\},\quad
    \theta_e(t) = 1 - \exp\{-\exp(\alpha^e_t + \beta_e x_i + v_e
                  + \delta(t - t_p)\,1\{t > t_p\})\},

with :math:`(v_e, v_p)` from 2 x 2 mass points ``{0, m_e} x {0, m_p}`` with joint probabilities
``probs`` (positively associated by default: persons with a low exit hazard enter the
programme sooner -- selection the model must undo). In each week the entry is drawn first
among persons not yet in the programme; the programme shifts the exit hazard from the week
after entry (no anticipation). ``delta`` is one number, or a tuple of effects for bands of
time since entry separated by ``effect_cuts`` (e.g. ``delta=(-0.3, 0.4)``,
``effect_cuts=(4,)``: lock-in in weeks 1-4 after entry, a gain later). Columns: team, x,
duration, event, entry (week of programme entry, null if none before the exit or censoring).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from dreamkit.errors import InputError


def block_alpha(weeks: int, base: float = -2.6, width: int = 4) -> np.ndarray:
    """The frailty DGP's baseline alpha_t for t = 1..weeks (constant within blocks)."""
    start = ((np.arange(1, weeks + 1) - 1) // width) * width + 1
    return base - 0.3 * np.log(start)


def simulate_frailty_durations(
    n: int,
    *,
    frailty_variance: float = 0.0,
    effect: float = 0.4,
    beta_x: float = -0.3,
    weeks: int = 80,
    base: float = -2.6,
    n_teams: int = 50,
    seed: int = 0,
    link: str = "cloglog",
) -> pl.DataFrame:
    """Durations with gamma frailty of known variance (module docstring)."""
    if frailty_variance < 0:
        raise InputError(f"frailty_variance={frailty_variance}; a variance is >= 0.")
    if link not in ("cloglog", "logit"):
        raise InputError(f"link={link!r}; use 'cloglog' or 'logit'.")
    rng = np.random.default_rng(seed)
    team = rng.integers(0, n_teams, n)
    treated = (rng.random(n) < 0.5).astype(np.int8)
    x = (rng.random(n) < 0.5).astype(np.int8)
    if frailty_variance > 0:
        v = rng.gamma(1.0 / frailty_variance, frailty_variance, n)
    else:
        v = np.ones(n)
    alpha = block_alpha(weeks, base)
    scale = v * np.exp(effect * treated + beta_x * x)
    duration = np.full(n, weeks, dtype=np.int32)
    event = np.zeros(n, dtype=np.int8)
    alive = np.ones(n, dtype=bool)
    for t in range(1, weeks + 1):
        if link == "logit":
            odds = scale * np.exp(alpha[t - 1])
            h = odds / (1.0 + odds)
        else:
            h = -np.expm1(-scale * np.exp(alpha[t - 1]))
        exits = alive & (rng.random(n) < h)
        duration[exits] = t
        event[exits] = 1
        alive &= ~exits
    return pl.DataFrame(
        {
            "team": team.astype(np.int32),
            "treated": treated,
            "x": x,
            "duration": duration,
            "event": event,
            "frailty": v,
        }
    )


def simulate_timing_of_events(
    n: int,
    *,
    delta: float | tuple[float, ...] = 0.4,
    effect_cuts: tuple[int, ...] = (),
    weeks: int = 52,
    alpha_exit: float = -3.0,
    alpha_entry: float = -3.2,
    beta_exit: float = 0.3,
    beta_entry: float = 0.2,
    m_exit: float = -1.0,
    m_entry: float = 0.8,
    probs: tuple[float, float, float, float] = (0.35, 0.15, 0.15, 0.35),
    n_teams: int = 50,
    seed: int = 0,
) -> pl.DataFrame:
    """Spells with programme entry and exit (module docstring). ``probs`` are the joint
    probabilities of (v_e, v_p) = (0, 0), (0, m_p), (m_e, 0), (m_e, m_p). The exit baseline is
    constant within 4-week blocks (``alpha_exit - 0.2 log(block start)``), the entry baseline
    constant."""
    deltas = np.atleast_1d(np.asarray(delta, dtype=np.float64))
    if deltas.size != len(effect_cuts) + 1:
        raise InputError(
            f"delta has {deltas.size} value(s) but effect_cuts={effect_cuts} makes "
            f"{len(effect_cuts) + 1} bands of time since entry; give one delta per band."
        )
    p = np.asarray(probs, dtype=np.float64)
    if p.size != 4 or (p < 0).any() or not np.isclose(p.sum(), 1.0):
        raise InputError("probs must be 4 joint probabilities summing to 1.")
    rng = np.random.default_rng(seed)
    team = rng.integers(0, n_teams, n)
    x = (rng.random(n) < 0.5).astype(np.int8)
    group = np.searchsorted(np.cumsum(p), rng.random(n), side="right").clip(0, 3)
    v_e = np.where(group >= 2, m_exit, 0.0)
    v_p = np.where(group % 2 == 1, m_entry, 0.0)
    a_e = block_alpha(weeks, alpha_exit) + 0.1 * np.log(
        ((np.arange(1, weeks + 1) - 1) // 4) * 4 + 1
    )
    entry = np.zeros(n, dtype=np.int64)  # 0: not (yet) entered
    duration = np.full(n, weeks, dtype=np.int32)
    event = np.zeros(n, dtype=np.int8)
    alive = np.ones(n, dtype=bool)
    cuts = np.asarray(effect_cuts, dtype=np.int64)
    for t in range(1, weeks + 1):
        h_p = -np.expm1(-np.exp(alpha_entry + beta_entry * x + v_p))
        new = alive & (entry == 0) & (rng.random(n) < h_p)
        entry[new] = t
        since = t - entry
        treated = (entry > 0) & (since >= 1)
        band = np.searchsorted(cuts, since, side="left")
        eff = np.where(treated, deltas[np.clip(band, 0, deltas.size - 1)], 0.0)
        h_e = -np.expm1(-np.exp(a_e[t - 1] + beta_exit * x + v_e + eff))
        exits = alive & (rng.random(n) < h_e)
        duration[exits] = t
        event[exits] = 1
        alive &= ~exits
    return pl.DataFrame(
        {
            "team": team.astype(np.int32),
            "x": x,
            "duration": duration,
            "event": event,
            "entry": pl.Series(np.where(entry > 0, entry, 0), dtype=pl.Int32).replace(0, None),
        }
    )
