"""A tidy result type shared by the linear estimators.

Every estimator returns an :class:`EstimateResult` (or a subclass) whose :attr:`table` is a
polars DataFrame with at least the columns of :data:`TIDY_COLUMNS` plus model-specific ones
(``week``, ``cutoff``, ``group``, ``group_share``, ...), and whose :attr:`fits` hold the
fitted :class:`~dreamkit.estimate.linear.fwl.FWLFit` objects underneath, keyed by a label.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
import scipy.stats

from dreamkit.estimate.linear.fwl import FWLFit

TIDY_COLUMNS = (
    "term",
    "estimate",
    "std_error",
    "conf_low",
    "conf_high",
    "p_value",
    "n_obs",
    "n_clusters",
    "control_mean",
)


@dataclass(frozen=True)
class EstimateResult:
    """Estimates as a tidy table, with the sample bookkeeping that produced them."""

    model: str
    table: pl.DataFrame
    vcov_type: str
    level: float
    n_obs: int
    n_clusters: int
    n_dropped: int = 0
    drop_reason: str | None = None
    notes: tuple[str, ...] = ()
    fits: Mapping[str, FWLFit] = field(default_factory=dict, repr=False)

    def tidy(self) -> pl.DataFrame:
        """The estimates table (one row per term and outcome/week/cut-off/group)."""
        return self.table

    def __repr__(self) -> str:
        dropped = f", {self.n_dropped} rows dropped ({self.drop_reason})" if self.n_dropped else ""
        return (
            f"{type(self).__name__}({self.model}: {self.table.height} rows, N={self.n_obs}, "
            f"{self.n_clusters} clusters, {self.vcov_type}{dropped})"
        )


def fit_rows(
    fit: FWLFit,
    level: float,
    terms: Sequence[str],
    outcomes: Sequence[str],
    control_means: np.ndarray,
    extra: Mapping[str, Any] | None = None,
) -> pl.DataFrame:
    """Tidy rows for every (term j, outcome w) of ``fit``: term-major, outcomes inner.

    ``control_means`` has shape (m, W) (the control mean that goes with each coefficient);
    ``extra`` adds constant or per-row (length m*W) columns.
    """
    m, n_out = fit.coef.shape
    p, lo, hi = fit.inference(level)
    cols: dict[str, Any] = {
        "term": np.repeat(np.asarray(terms, dtype=object), n_out).tolist(),
        "outcome": list(outcomes) * m,
        "estimate": fit.coef.ravel(),
        "std_error": fit.std_error.ravel(),
        "conf_low": lo.ravel(),
        "conf_high": hi.ravel(),
        "p_value": p.ravel(),
        "n_obs": np.full(m * n_out, fit.n_obs, dtype=np.int64),
        "n_clusters": np.full(m * n_out, fit.n_clusters, dtype=np.int64),
        "control_mean": np.asarray(control_means, dtype=np.float64).ravel(),
    }
    for key, value in (extra or {}).items():
        if isinstance(value, (list, tuple, np.ndarray)):
            cols[key] = list(value)
        else:
            cols[key] = [value] * (m * n_out)
    return pl.DataFrame(cols)


def contrast_row(
    fit: FWLFit,
    level: float,
    weights: Sequence[float],
    w: int,
    term: str,
    outcome: str,
    extra: Mapping[str, Any] | None = None,
) -> pl.DataFrame:
    """One tidy row for the linear combination weights' coef[:, w] with its t-based CI."""
    c = np.asarray(weights, dtype=np.float64)
    est = float(c @ fit.coef[:, w])
    se = float(np.sqrt(c @ fit.vcov_at(w) @ c))
    q = scipy.stats.t.ppf(0.5 + level / 2.0, fit.df)
    p = float(2.0 * scipy.stats.t.sf(abs(est / se), fit.df)) if se > 0 else float("nan")
    row: dict[str, Any] = {
        "term": [term],
        "outcome": [outcome],
        "estimate": [est],
        "std_error": [se],
        "conf_low": [est - q * se],
        "conf_high": [est + q * se],
        "p_value": [p],
        "n_obs": [fit.n_obs],
        "n_clusters": [fit.n_clusters],
        "control_mean": [float("nan")],
    }
    for key, value in (extra or {}).items():
        row[key] = [value]
    return pl.DataFrame(row)
