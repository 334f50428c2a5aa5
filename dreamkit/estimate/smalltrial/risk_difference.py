r"""The risk difference between two arms with score (Newcombe) and Wald intervals.

With :math:`x_1` events among :math:`n_1` treated and :math:`x_0` among :math:`n_0` controls,
:math:`\hat p_a = x_a / n_a` and :math:`\hat d = \hat p_1 - \hat p_0`.

* **Wilson score interval** of one proportion (:math:`z = \Phi^{-1}(1 - \alpha/2)`):

  .. math:: \frac{\hat p + z^2/(2n) \pm z\sqrt{\hat p(1-\hat p)/n + z^2/(4n^2)}}{1 + z^2/n}.

* **Newcombe's hybrid score interval** (his method 10) for :math:`d`, from the Wilson limits
  :math:`(l_a, u_a)`:

  .. math:: \Big[\hat d - \sqrt{(\hat p_1 - l_1)^2 + (u_0 - \hat p_0)^2},\;
            \hat d + \sqrt{(u_1 - \hat p_1)^2 + (\hat p_0 - l_0)^2}\Big].

  It stays inside [-1, 1] and is informative with zero cells (the answer under separation);
  its test row carries the score test of :math:`d = 0` (pooled SE,
  :math:`z = \hat d / \sqrt{\bar p(1 - \bar p)(1/n_1 + 1/n_0)}`, which is Pearson's
  uncorrected chi-square, :math:`z^2 = X^2`).
* **Exact** (Chan and Zhang's exact unconditional interval,
  :mod:`dreamkit.estimate.smalltrial.exact_interval`) when the arms are small enough
  (:math:`(n_1+1)(n_0+1) \le 10^4`); its row's p is the doubled one-sided exact unconditional
  test of :math:`d = 0` (Barnard's test with the pooled statistic).
* **Wald**: :math:`\hat d \pm z\,\mathrm{se}`, :math:`\mathrm{se} = \sqrt{\hat p_1(1-\hat p_1)
  /n_1 + \hat p_0(1-\hat p_0)/n_0}`; omitted (with a note) when :math:`\mathrm{se} = 0`,
  where it would be degenerate.

Checked against statsmodels' ``confint_proportions_2indep(method="newcomb")`` and
``proportion_confint(method="wilson")``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import polars as pl
import scipy.stats
from numpy.typing import NDArray

from dreamkit.errors import InputError
from dreamkit.estimate.results import Result, check_level
from dreamkit.estimate.smalltrial.exact_interval import (
    MAX_CELLS,
    exact_rd_interval,
    exact_rd_pvalue,
)


def wilson(events: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion (module docstring)."""
    if n <= 0 or not 0 <= events <= n:
        raise InputError(f"need 0 <= events <= n and n >= 1, got events={events}, n={n}.")
    z = float(scipy.stats.norm.ppf(0.5 + check_level(level) / 2.0))
    p = events / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(centre - half), float(centre + half)


def newcombe(
    events1: int, n1: int, events0: int, n0: int, level: float = 0.95
) -> tuple[float, float]:
    """Newcombe's hybrid score interval of :math:`p_1 - p_0` (module docstring)."""
    l1, u1 = wilson(events1, n1, level)
    l0, u0 = wilson(events0, n0, level)
    p1, p0 = events1 / n1, events0 / n0
    d = p1 - p0
    return (
        float(d - np.sqrt((p1 - l1) ** 2 + (u0 - p0) ** 2)),
        float(d + np.sqrt((u1 - p1) ** 2 + (p0 - l0) ** 2)),
    )


@dataclass(frozen=True, repr=False)
class RiskDifferenceResult(Result):
    """Risk difference treated - control with Newcombe and Wald rows (module docstring).

    ``tidy()`` has one row per interval method (family column ``interval``: ``"newcombe"``,
    ``"exact"`` for small arms, then ``"wald"`` when its SE is positive), with the counts per
    arm. :attr:`vcov` is the 1 x 1 Wald variance.
    """

    events1: int
    n1: int
    events0: int
    n0: int
    level: float = 0.95
    outcome: str = ""

    family_columns: ClassVar[tuple[str, ...]] = ("interval", "outcome")

    def __post_init__(self) -> None:
        for e, n in ((self.events1, self.n1), (self.events0, self.n0)):
            if n < 1 or not 0 <= e <= n:
                raise InputError(
                    f"risk difference needs 0 <= events <= n and n >= 1 per arm, got {e}/{n}."
                )
        check_level(self.level)

    @property
    def model_name(self) -> str:
        return "risk difference"

    @property
    def estimate(self) -> float:
        return self.events1 / self.n1 - self.events0 / self.n0

    @property
    def wald_se(self) -> float:
        p1, p0 = self.events1 / self.n1, self.events0 / self.n0
        return float(np.sqrt(p1 * (1 - p1) / self.n1 + p0 * (1 - p0) / self.n0))

    @property
    def score_z(self) -> float:
        pooled = (self.events1 + self.events0) / (self.n1 + self.n0)
        se = np.sqrt(pooled * (1 - pooled) * (1 / self.n1 + 1 / self.n0))
        return float(self.estimate / se) if se > 0 else 0.0

    def _fitted_level(self) -> float:
        return self.level

    @property
    def has_exact(self) -> bool:
        """Whether the exact interval is computed (small arms)."""
        return (self.n1 + 1) * (self.n0 + 1) <= MAX_CELLS

    def _methods(self) -> list[str]:
        methods = ["newcombe"] + (["exact"] if self.has_exact else [])
        return methods + (["wald"] if self.wald_se > 0 else [])

    def _coefficients(self) -> pl.DataFrame:
        se = self.wald_se
        methods = self._methods()
        rows = len(methods)
        return pl.DataFrame(
            {
                "term": ["risk_difference"] * rows,
                "interval": methods,
                "outcome": [self.outcome] * rows,
                "estimate": [self.estimate] * rows,
                "std_error": [se] * rows,
                "df": [float("inf")] * rows,
                "events_treated": [self.events1] * rows,
                "n_treated": [self.n1] * rows,
                "events_control": [self.events0] * rows,
                "n_control": [self.n0] * rows,
            }
        )

    def tidy(
        self, level: float | None = None, *, exponentiate: bool = False, fixed_effects: bool = False
    ) -> pl.DataFrame:
        """Rows ``newcombe`` (score test, Newcombe interval), ``exact`` (exact unconditional
        test and interval, small arms) and ``wald``."""
        if exponentiate:
            raise InputError("a risk difference has no exponentiated form; use tidy().")
        lvl = self._level(level)
        out = super().tidy(lvl)
        counts = (self.events1, self.n1, self.events0, self.n0)
        z = self.score_z
        rows = {"newcombe": (z, float(2 * scipy.stats.norm.sf(abs(z))), *newcombe(*counts, lvl))}
        if self.has_exact:
            rows["exact"] = (z, exact_rd_pvalue(*counts), *exact_rd_interval(*counts, lvl))
        for name, (stat, p, lo, hi) in rows.items():
            this = pl.col("interval") == name
            out = out.with_columns(
                pl.when(this).then(pl.lit(stat)).otherwise(pl.col("statistic")).alias("statistic"),
                pl.when(this).then(pl.lit(p)).otherwise(pl.col("p_value")).alias("p_value"),
                pl.when(this).then(pl.lit(lo)).otherwise(pl.col("conf_low")).alias("conf_low"),
                pl.when(this).then(pl.lit(hi)).otherwise(pl.col("conf_high")).alias("conf_high"),
            )
        return out

    def _glance(self) -> dict[str, Any]:
        return {
            "n_obs": self.n1 + self.n0,
            "n_clusters": None,
            "vcov_type": "wald (unpooled)",
            "df": float("inf"),
            "log_likelihood": None,
        }

    def _notes(self) -> Sequence[str]:
        if self.wald_se > 0:
            return ("statistic/p of the newcombe row: score test (= uncorrected chi-square)",)
        return ("Wald row omitted: its SE is 0 (zero cells); read the Newcombe interval",)

    @property
    def vcov(self) -> NDArray[np.float64]:
        return np.array([[self.wald_se**2]])


def risk_difference(
    treated: Any, event: Any, *, level: float = 0.95, outcome: str = ""
) -> RiskDifferenceResult:
    """Risk difference of a 0/1 ``event`` between ``treated == 1`` and ``treated == 0``."""
    arm = np.asarray(treated)
    y = np.asarray(event)
    if arm.shape != y.shape or arm.ndim != 1:
        raise InputError("treated and event must be 1-D arrays of the same length.")
    if not (np.isin(arm, (0, 1)).all() and np.isin(y, (0, 1)).all()):
        raise InputError("treated and event must hold 0/1 values (no missing values).")
    n1, n0 = int((arm == 1).sum()), int((arm == 0).sum())
    if n1 == 0 or n0 == 0:
        raise InputError("both arms need persons for a risk difference.")
    return RiskDifferenceResult(
        int(y[arm == 1].sum()), n1, int(y[arm == 0].sum()), n0, level=level, outcome=outcome
    )
