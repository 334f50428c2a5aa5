"""Kaplan-Meier curves, log-rank tests and a Cox model for durations in weeks (via lifelines).

* Kaplan-Meier: ``S(t) = prod_{s <= t} (1 - d_s / n_s)`` with ``d_s`` exits in week s and
  ``n_s`` persons at risk at the start of week s (duration >= s); pointwise CIs are lifelines'
  exponential Greenwood intervals. One curve per group (arm, waiting time, ...).
* Log-rank: lifelines' ``multivariate_logrank_test`` of equal hazards across the groups
  (chi-squared with groups - 1 degrees of freedom).
* Cox: ``lambda(t | x) = lambda_0(t) exp(b T + c' M + x' d)``, lifelines' ``CoxPHFitter``
  (Efron ties), strata as dummies (proportional, like model (1)) or as separate baselines,
  and cluster-robust sandwich standard errors when a cluster column is given.

Results are polars tables with counts only; identifiers never leave this module.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import polars as pl
from lifelines import CoxPHFitter, KaplanMeierFitter
from lifelines.exceptions import ConvergenceError
from lifelines.statistics import multivariate_logrank_test

from dreamkit.errors import EstimationError, InputError
from dreamkit.estimate.duration.person_period import (
    check_events_by_arm,
    duration_arrays,
    require_columns,
)


@dataclass(frozen=True)
class KaplanMeierResult:
    """Kaplan-Meier curves by group, with the log-rank test across groups.

    ``curves``: group, week, survival, conf_low, conf_high, at_risk (start of the week), events,
    censored; one row per group and week 0..max. ``logrank``: statistic, df, p_value (``None``
    with a single group).
    """

    curves: pl.DataFrame
    logrank: dict[str, float] | None
    by: str | None

    def at_risk_table(self, weeks: Sequence[int]) -> pl.DataFrame:
        """Number at risk at the start of each of ``weeks``, one row per group (wide)."""
        rows = self.curves.filter(pl.col("week").is_in(list(weeks)))
        return rows.pivot(on="week", index="group", values="at_risk", sort_columns=True)


def kaplan_meier(
    data: pl.DataFrame,
    *,
    duration: str = "duration",
    event: str = "event",
    by: str | None = "treated",
    level: float = 0.95,
) -> KaplanMeierResult:
    """Kaplan-Meier curves of ``duration``/``event`` by the groups of column ``by``."""
    d, e = duration_arrays(data, duration, event)
    if by is not None:
        require_columns(data, [by], "durations")
        if data[by].null_count():
            raise InputError(f"column {by!r} has missing values; every person needs a group.")
        groups = data[by].to_numpy()
    else:
        groups = np.zeros(d.size, dtype=np.int64)
    weeks = np.arange(0, int(d.max()) + 1)
    frames = []
    for g in np.unique(groups):
        sel = groups == g
        km = KaplanMeierFitter(alpha=1 - level).fit(d[sel], e[sel], timeline=weeks)
        ci = km.confidence_interval_survival_function_.to_numpy()
        at_risk = (d[sel][None, :] >= np.maximum(weeks, 1)[:, None]).sum(axis=1)
        ev = np.bincount(d[sel], weights=e[sel], minlength=weeks.size)[: weeks.size]
        cens = np.bincount(d[sel], weights=1 - e[sel], minlength=weeks.size)[: weeks.size]
        frames.append(
            pl.DataFrame(
                {
                    "group": np.full(weeks.size, str(g)),
                    "week": weeks,
                    "survival": km.survival_function_.to_numpy()[:, 0],
                    "conf_low": ci[:, 0],
                    "conf_high": ci[:, 1],
                    "at_risk": at_risk.astype(np.int64),
                    "events": ev.astype(np.int64),
                    "censored": cens.astype(np.int64),
                }
            )
        )
    test = None
    if np.unique(groups).size > 1:
        lr = multivariate_logrank_test(d, groups, e)
        test = {
            "statistic": float(lr.test_statistic),
            "df": float(lr.degrees_of_freedom),
            "p_value": float(lr.p_value),
        }
    return KaplanMeierResult(pl.concat(frames), test, by)


def cox(
    data: pl.DataFrame,
    *,
    duration: str = "duration",
    event: str = "event",
    treatment: str = "treated",
    covariates: Sequence[str] = (),
    stratum: str | None = "municipality",
    strata_as: Literal["dummies", "baseline"] = "dummies",
    cluster: str | None = "team",
    level: float = 0.95,
) -> pl.DataFrame:
    """Cox proportional-hazards fit (lifelines, Efron ties); tidy table of the regressors.

    With ``strata_as="dummies"`` the strata enter as dummies (first stratum the reference),
    the continuous-time analogue of model (1) with a cloglog link; ``"baseline"`` gives each
    stratum its own baseline hazard. A ``cluster`` gives lifelines' cluster-robust SEs.
    """
    d, e = duration_arrays(data, duration, event)
    cols = [treatment, *covariates]
    require_columns(data, cols + [c for c in (stratum, cluster) if c], "durations")
    frame = (
        data.select(cols)
        .cast(pl.Float64)
        .with_columns(pl.Series("_T", d.astype(np.float64)), pl.Series("_E", e.astype(np.int64)))
    )
    strata_arg = None
    if stratum is not None:
        s = data[stratum].cast(pl.String)
        if strata_as == "dummies":
            dummies = s.to_dummies(separator="=", drop_first=True).cast(pl.Float64)
            frame = frame.with_columns(dummies.get_columns())
        else:
            frame = frame.with_columns(s.alias("_stratum"))
            strata_arg = ["_stratum"]
    if cluster is not None:
        frame = frame.with_columns(data[cluster].rank("dense").cast(pl.Int64).alias("_cluster"))
    if not e.any():
        raise EstimationError(
            f"column {event!r} has no events among {e.size} persons; a Cox model needs events."
        )
    check_events_by_arm(data[treatment], e, treatment)
    try:
        cph = CoxPHFitter(alpha=1 - level).fit(
            frame.to_pandas(),
            duration_col="_T",
            event_col="_E",
            strata=strata_arg,
            cluster_col="_cluster" if cluster is not None else None,
        )
    except ConvergenceError:
        raise EstimationError(
            "the Cox fit (lifelines) did not converge (typically collinear regressors or a "
            "stratum without events); drop constant covariates or merge strata."
        ) from None
    summ = cph.summary.loc[cols]
    lo, hi = f"coef lower {level * 100:g}%", f"coef upper {level * 100:g}%"
    return pl.DataFrame(
        {
            "term": cols,
            "estimate": summ["coef"].to_numpy(),
            "std_error": summ["se(coef)"].to_numpy(),
            "p_value": summ["p"].to_numpy(),
            "conf_low": summ[lo].to_numpy(),
            "conf_high": summ[hi].to_numpy(),
            "hazard_ratio": np.exp(summ["coef"].to_numpy()),
            "hazard_ratio_low": np.exp(summ[lo].to_numpy()),
            "hazard_ratio_high": np.exp(summ[hi].to_numpy()),
            "n_persons": np.full(len(cols), d.size, dtype=np.int64),
            "n_events": np.full(len(cols), int(e.sum()), dtype=np.int64),
        }
    )
