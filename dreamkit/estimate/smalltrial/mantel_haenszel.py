r"""The Mantel-Haenszel common odds ratio over strata, with the Robins-Breslow-Greenland SE.

For stratum :math:`s` with 2 x 2 table :math:`(a_s, b_s; c_s, d_s)` (treated with / without
the event; control with / without) and :math:`N_s` persons, :math:`R_s = a_s d_s / N_s`,
:math:`S_s = b_s c_s / N_s`, :math:`P_s = (a_s + d_s)/N_s`, :math:`Q_s = (b_s + c_s)/N_s`:

.. math::

    \hat\psi_{MH} = \frac{\sum_s R_s}{\sum_s S_s}, \qquad
    \widehat{\mathrm{Var}}(\log\hat\psi_{MH}) =
    \frac{\sum_s P_s R_s}{2 (\sum_s R_s)^2}
    + \frac{\sum_s (P_s S_s + Q_s R_s)}{2 \sum_s R_s \sum_s S_s}
    + \frac{\sum_s Q_s S_s}{2 (\sum_s S_s)^2}.

The result's estimate is :math:`\log\hat\psi_{MH}` with a normal-reference Wald test and
interval; ``tidy(exponentiate=True)`` gives the odds ratio. Checked against statsmodels'
``StratifiedTable`` (``logodds_pooled``, ``logodds_pooled_se``, ``oddsratio_pooled_confint``).

When :math:`\sum_s R_s = 0` or :math:`\sum_s S_s = 0` (no treated event or no control event
in any informative stratum: separation) the odds ratio is 0 or infinite and has no standard
error: :class:`~dreamkit.errors.EstimationError`, with the fix (the stratified exact test, or
Firth's penalised likelihood for a model). Strata with fewer than two persons are dropped and
counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import polars as pl
from numpy.typing import ArrayLike, NDArray

from dreamkit.errors import EstimationError
from dreamkit.estimate.results import Result
from dreamkit.estimate.smalltrial.contingency import _strata_tables


@dataclass(frozen=True, repr=False)
class MantelHaenszelResult(Result):
    """Mantel-Haenszel log odds ratio (module docstring); :attr:`vcov` is 1 x 1."""

    log_odds_ratio: float
    std_error: float
    n_obs: int
    n_strata: int
    n_dropped_strata: int = 0
    outcome: str = ""
    level: float = 0.95

    family_columns: ClassVar[tuple[str, ...]] = ("outcome",)

    @property
    def model_name(self) -> str:
        return "Mantel-Haenszel odds ratio"

    @property
    def ratio_name(self) -> str | None:
        return "odds_ratio"

    def _fitted_level(self) -> float:
        return self.level

    def _coefficients(self) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "term": ["treated"],
                "outcome": [self.outcome],
                "estimate": [self.log_odds_ratio],
                "std_error": [self.std_error],
                "df": [float("inf")],
                "n_strata": [self.n_strata],
            }
        )

    def _glance(self) -> dict[str, Any]:
        return {
            "n_obs": self.n_obs,
            "n_clusters": None,
            "vcov_type": "Robins-Breslow-Greenland",
            "df": float("inf"),
            "log_likelihood": None,
            "n_strata": self.n_strata,
            "n_dropped_strata": self.n_dropped_strata,
        }

    def _notes(self) -> Sequence[str]:
        notes = ["estimate is the log odds ratio; tidy(exponentiate=True) for the ratio"]
        if self.n_dropped_strata:
            notes.append(f"{self.n_dropped_strata} stratum/strata with < 2 persons dropped")
        return notes

    @property
    def vcov(self) -> NDArray[np.float64]:
        return np.array([[self.std_error**2]])


def mantel_haenszel(
    treated: ArrayLike,
    event: ArrayLike,
    stratum: ArrayLike,
    *,
    outcome: str = "",
    level: float = 0.95,
) -> MantelHaenszelResult:
    """Mantel-Haenszel common odds ratio of ``event`` for ``treated`` over ``stratum``."""
    tables = _strata_tables(treated, event, stratum)
    big = tables.sum(axis=(1, 2)) >= 2
    t = tables[big].astype(np.float64)
    a, b, c, d = t[:, 0, 0], t[:, 0, 1], t[:, 1, 0], t[:, 1, 1]
    n = t.sum(axis=(1, 2))
    r, s = a * d / n, b * c / n
    p, q = (a + d) / n, (b + c) / n
    sr, ss = float(r.sum()), float(s.sum())
    if sr == 0 or ss == 0:
        raise EstimationError(
            f"outcome {outcome!r}: the Mantel-Haenszel odds ratio is "
            f"{'0' if sr == 0 else 'infinite'} (no discordant information in any stratum: "
            "separation) and has no standard error; use the stratified exact test "
            "(stratified_exact) or Firth's penalised likelihood for a model."
        )
    var = (
        float((p * r).sum()) / (2 * sr**2)
        + float((p * s + q * r).sum()) / (2 * sr * ss)
        + float((q * s).sum()) / (2 * ss**2)
    )
    return MantelHaenszelResult(
        log_odds_ratio=float(np.log(sr / ss)),
        std_error=float(np.sqrt(var)),
        n_obs=int(t.sum()),
        n_strata=int(big.sum()),
        n_dropped_strata=int((~big).sum()),
        outcome=outcome,
        level=level,
    )
