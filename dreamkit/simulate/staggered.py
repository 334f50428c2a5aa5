r"""A non-randomised programme with staggered starts and known cohort x period effects.

Persons :math:`i` live in municipalities :math:`m(i)` and have a persistent employment level
:math:`a_i = \bar a + u_{m(i)} + v_i` (clipped to ``level_range``); calendar periods add
:math:`\lambda_t`. Untreated employment is :math:`Y_{it}(0) \sim \text{Bernoulli}(p^0_{it})`,
:math:`p^0_{it} = a_i + \lambda_t`, independently over periods.

**Selection on pre-period history.** Who starts, and when, depends on the standardised level
:math:`z_i` (the expected pre-period employment share, which the register's pre-windows
reveal): :math:`P(\text{ever}) = \text{expit}(\text{logit}(1-\pi_\infty) - \gamma z_i)` and,
among starters, cohort :math:`g_r` (rank :math:`r = 0..R-1`, earliest first) with probability
:math:`\propto \exp(-\gamma z_i (1 - r/(R-1)))`: low-employment persons start more often and
earlier. A naive participant/non-participant comparison is biased, but trends are parallel by
construction (selection is on the level, not on transitory shocks), so difference-in-
differences and event studies are unbiased.

**Effects that vary by cohort and event time.** From start :math:`g`, at event time
:math:`e = t - g \ge 0`, :math:`p^1_{it} = p^0_{it} + \tau_{g,e}` with
:math:`\tau_{g,e} = \tau\, m_g\, \min(1, (e+1)/\rho)`, :math:`m_g = 1 + h(1 - 2r/(R-1))`
(earlier cohorts gain more when :math:`h > 0`; ramp :math:`\rho` periods). Probabilities are
clipped to [0, 1] and the truth is computed from the clipped ones:

.. math::

    \text{ATT}(g,t) = \frac{1}{n_g}\sum_{i: G_i=g} (p^1_{it} - p^0_{it}), \qquad
    \theta(e) = \sum_g \frac{n_g\,1[g+e \in \text{panel}]}{\sum_{g'} n_{g'} 1[g'+e \in
    \text{panel}]}\, \text{ATT}(g, g+e),

the conditional (on the persons drawn) average effects that the estimators target.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import polars as pl

from dreamkit.errors import InputError
from dreamkit.register.codemap import CodeMap
from dreamkit.register.register import Register


@dataclass(frozen=True)
class StaggeredSettings:
    """Parameters of :func:`simulate_staggered` (module docstring for the symbols)."""

    n_persons: int = 2000
    n_periods: int = 40
    cohorts: tuple[int, ...] = (10, 16, 22, 28)
    never_share: float = 0.3  # pi_infinity at z = 0
    n_municipalities: int = 30
    mean_level: float = 0.4
    municipality_sd: float = 0.05
    person_sd: float = 0.1
    level_range: tuple[float, float] = (0.15, 0.65)  # with lambda_t and tau: no clipping
    period_amplitude: float = 0.08  # lambda_t = amplitude * sin(2 pi t / 26) + trend
    period_trend: float = 0.002
    effect: float = 0.10  # tau
    heterogeneity: float = 0.8  # h
    ramp: int = 4  # rho
    selection: float = 1.0  # gamma
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.cohorts or any(g < 1 or g >= self.n_periods for g in self.cohorts):
            raise InputError(
                f"cohorts {self.cohorts} must be start periods inside 1..{self.n_periods - 1}."
            )
        if len(set(self.cohorts)) != len(self.cohorts):
            raise InputError(f"cohorts {self.cohorts} repeat a start period.")
        if not 0.0 <= self.never_share < 1.0:
            raise InputError(f"never_share={self.never_share} must be in [0, 1).")
        if self.n_persons < 2 or self.ramp < 1:
            raise InputError("need n_persons >= 2 and ramp >= 1.")


@dataclass
class StaggeredPanel:
    """A simulated panel: outcomes, starts, clusters and the true effects.

    ``y`` is persons x periods (uint8 0/1); ``start`` the start period (-1: never treated);
    ``att`` the true ATT(g, t) (columns cohort, period, event_time, n, att) and ``theta`` the
    true event-time path (event_time, att).
    """

    y: npt.NDArray[np.uint8]
    start: npt.NDArray[np.int64]
    municipality: npt.NDArray[np.int64]
    level: npt.NDArray[np.float64]
    att: pl.DataFrame
    theta: pl.DataFrame
    settings: StaggeredSettings = field(repr=False)

    def to_long(self) -> pl.DataFrame:
        """One row per person-period: person_id, period, y, start (null: never), municipality."""
        n, t = self.y.shape
        start = pl.Series("start", self.start).set(pl.Series(self.start < 0), None)
        return pl.DataFrame(
            {
                "person_id": np.repeat(np.arange(n, dtype=np.int64), t),
                "period": np.tile(np.arange(t, dtype=np.int64), n),
                "y": self.y.ravel().astype(np.float64),
                "start": start.gather(np.repeat(np.arange(n), t)),
                "municipality": np.repeat(self.municipality, t),
            }
        )

    def to_register(self, first_week: int = 5000) -> tuple[Register, pl.DataFrame]:
        """The panel as a register (``ordinary_employment`` / ``no_transfer`` states of the
        default code map, week ordinals from ``first_week``) and the persons table
        (person_id, start_week: null for never-starters, municipality)."""
        cm = CodeMap.default()
        states = np.where(self.y == 1, cm.employed_id, cm.not_employed_id).astype(np.uint8)
        n = self.y.shape[0]
        reg = Register(
            states=states,
            person_ids=pl.Series("person_id", np.arange(n, dtype=np.int64)),
            first_week=first_week,
            codemap=cm,
        )
        start = pl.Series("start_week", self.start + first_week).set(
            pl.Series(self.start < 0), None
        )
        persons = pl.DataFrame(
            {
                "person_id": np.arange(n, dtype=np.int64),
                "start_week": start,
                "municipality": self.municipality,
            }
        )
        return reg, persons

    def persons(self) -> pl.DataFrame:
        """One row per person: person_id, start (null: never), municipality, level."""
        start = pl.Series("start", self.start).set(pl.Series(self.start < 0), None)
        return pl.DataFrame(
            {
                "person_id": np.arange(self.y.shape[0], dtype=np.int64),
                "start": start,
                "municipality": self.municipality,
                "level": self.level,
            }
        )


def _expit(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return np.asarray(1.0 / (1.0 + np.exp(-x)), dtype=np.float64)


def simulate_staggered(settings: StaggeredSettings | None = None, **kw: object) -> StaggeredPanel:
    """Draw a :class:`StaggeredPanel` (module docstring); keywords override ``settings``."""
    s = settings or StaggeredSettings()
    if kw:
        s = StaggeredSettings(**{**s.__dict__, **kw})
    rng = np.random.default_rng(s.seed)
    n, t_n = s.n_persons, s.n_periods
    muni = rng.integers(0, s.n_municipalities, n).astype(np.int64)
    u = rng.normal(0.0, s.municipality_sd, s.n_municipalities)
    level = np.clip(s.mean_level + u[muni] + rng.normal(0.0, s.person_sd, n), *s.level_range)
    t = np.arange(t_n)
    lam = s.period_amplitude * np.sin(2 * np.pi * t / 26.0) + s.period_trend * (t - t_n / 2)
    z = (level - level.mean()) / (level.std() or 1.0)
    # selection on the (pre-period) level
    p_ever = _expit(np.log((1 - s.never_share) / max(s.never_share, 1e-9)) - s.selection * z)
    ever = rng.random(n) < p_ever
    cohorts = np.array(sorted(s.cohorts), dtype=np.int64)
    r_n = cohorts.size
    tilt = 1.0 - np.arange(r_n) / max(r_n - 1, 1)
    logits = -s.selection * z[:, None] * tilt[None, :]
    prob = np.exp(logits - logits.max(axis=1, keepdims=True))
    prob /= prob.sum(axis=1, keepdims=True)
    pick = (rng.random(n)[:, None] > np.cumsum(prob, axis=1)).sum(axis=1)
    start = np.where(ever, cohorts[np.minimum(pick, r_n - 1)], -1).astype(np.int64)
    # potential outcomes
    p0 = np.clip(level[:, None] + lam[None, :], 0.0, 1.0)
    mult = 1.0 + s.heterogeneity * (1.0 - 2.0 * np.arange(r_n) / max(r_n - 1, 1))
    rank = np.searchsorted(cohorts, start)
    rel = t[None, :] - start[:, None]
    treated = (start[:, None] >= 0) & (rel >= 0)
    tau = np.where(
        treated,
        s.effect * mult[np.minimum(rank, r_n - 1)][:, None] * np.minimum(1.0, (rel + 1) / s.ramp),
        0.0,
    )
    p1 = np.clip(p0 + tau, 0.0, 1.0)
    p = np.where(treated, p1, p0)
    y = (rng.random((n, t_n)) < p).astype(np.uint8)
    # truth
    rows = []
    for g in cohorts:
        members = start == g
        ng = int(members.sum())
        if ng == 0:
            continue
        diff = (p1[members] - p0[members]).mean(axis=0)
        for tt in range(g, t_n):
            rows.append((int(g), tt, tt - int(g), ng, float(diff[tt])))
    att = pl.DataFrame(
        rows,
        schema={
            "cohort": pl.Int64,
            "period": pl.Int64,
            "event_time": pl.Int64,
            "n": pl.Int64,
            "att": pl.Float64,
        },
        orient="row",
    )
    theta = (
        att.group_by("event_time")
        .agg(((pl.col("att") * pl.col("n")).sum() / pl.col("n").sum()).alias("att"))
        .sort("event_time")
    )
    return StaggeredPanel(y, start, muni, level, att, theta, s)
