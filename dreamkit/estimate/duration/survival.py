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
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
import polars as pl
from lifelines import CoxPHFitter, KaplanMeierFitter
from lifelines.exceptions import ConvergenceError
from lifelines.statistics import multivariate_logrank_test
from numpy.typing import NDArray

from dreamkit.errors import EstimationError, InputError
from dreamkit.estimate.duration.person_period import (
    check_events_by_arm,
    duration_arrays,
    require_columns,
)
from dreamkit.estimate.results import Result, check_level
from dreamkit.frames import accepts_pandas


@dataclass(frozen=True, repr=False)
class KaplanMeierResult(Result):
    r"""Kaplan-Meier curves by group, with the log-rank test across groups.

    ``curves``: group, week, survival, conf_low, conf_high, at_risk (start of the week), events,
    censored; one row per group and week 0..max. ``logrank``: statistic, df, p_value (``None``
    with a single group).

    Result protocol: ``tidy()`` has one row per group and week with term ``"survival"``, the
    estimate :math:`\hat S(t)`, its Greenwood standard error
    :math:`\hat S(t)\sqrt{\sum_{s\le t} d_s/(n_s(n_s-d_s))}` and lifelines' exponential
    Greenwood interval (not a symmetric Wald interval; statistic and p-value are empty);
    :attr:`vcov` is the Greenwood covariance
    :math:`\mathrm{Cov}(\hat S(t), \hat S(u)) = \hat S(t)\hat S(u)\sum_{s\le\min(t,u)}
    d_s/(n_s(n_s-d_s))` within a group and 0 across groups (independent samples).
    """

    curves: pl.DataFrame
    logrank: dict[str, float] | None
    by: str | None
    level: float = 0.95

    family_columns = ("group", "week")

    @property
    def model_name(self) -> str:
        return f"Kaplan-Meier{f' by {self.by}' if self.by else ''}"

    def _greenwood(self) -> NDArray[np.float64]:
        """Cumulative Greenwood sums per row (NaN where the curve reached 0)."""
        c = self.curves
        n, d = c["at_risk"].to_numpy().astype(float), c["events"].to_numpy().astype(float)
        with np.errstate(divide="ignore", invalid="ignore"):
            term = np.where(d > 0, d / (n * (n - d)), 0.0)
        g = c["group"].to_numpy()
        out = np.empty(term.size)
        for key in np.unique(g):
            sel = g == key
            out[sel] = np.cumsum(term[sel])
        return out

    def _coefficients(self) -> pl.DataFrame:
        s = self.curves["survival"].to_numpy()
        return pl.DataFrame(
            {
                "term": ["survival"] * s.size,
                "group": self.curves["group"],
                "week": self.curves["week"],
                "estimate": s,
                "std_error": s * np.sqrt(self._greenwood()),
                "df": np.full(s.size, np.inf),
            }
        )

    def tidy(
        self, level: float | None = None, *, exponentiate: bool = False, fixed_effects: bool = False
    ) -> pl.DataFrame:
        """Curves in the protocol's columns; ``level`` other than the fitted one refits
        nothing and raises (the intervals are lifelines' exponential Greenwood ones)."""
        if exponentiate:
            raise InputError(
                "Kaplan-Meier survival is not a log-scale estimate; drop exponentiate."
            )
        if level is not None and check_level(level) != self.level:
            raise InputError(
                f"these curves were computed at level={self.level}; call kaplan_meier(..., "
                f"level={level}) for other intervals."
            )
        coefs = self._coefficients()
        c = self.curves
        return pl.DataFrame(
            {
                "term": coefs["term"],
                "estimate": coefs["estimate"],
                "std_error": coefs["std_error"],
                "statistic": np.full(c.height, np.nan),
                "p_value": np.full(c.height, np.nan),
                "conf_low": c["conf_low"],
                "conf_high": c["conf_high"],
                "group": c["group"],
                "week": c["week"],
                "at_risk": c["at_risk"],
                "events": c["events"],
                "censored": c["censored"],
            }
        )

    def _fitted_level(self) -> float:
        return self.level

    def _glance(self) -> dict[str, object]:
        c = self.curves.filter(pl.col("week") == 0)
        lr = self.logrank or {}
        return {
            "n_obs": int(self.curves["events"].sum()) + int(self.curves["censored"].sum()),
            "n_clusters": None,
            "vcov_type": "Greenwood",
            "n_events": int(self.curves["events"].sum()),
            "n_groups": c.height,
            "logrank_statistic": lr.get("statistic"),
            "logrank_p_value": lr.get("p_value"),
        }

    @property
    def vcov(self) -> NDArray[np.float64]:
        s = self.curves["survival"].to_numpy()
        gw = self._greenwood()
        g = self.curves["group"].to_numpy()
        same = g[:, None] == g[None, :]
        return np.where(same, np.outer(s, s) * np.minimum.outer(gw, gw), 0.0)

    def at_risk_table(self, weeks: Sequence[int]) -> pl.DataFrame:
        """Number at risk at the start of each of ``weeks``, one row per group (wide)."""
        rows = self.curves.filter(pl.col("week").is_in(list(weeks)))
        return rows.pivot(on="week", index="group", values="at_risk", sort_columns=True)


@accepts_pandas("data")
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
    return KaplanMeierResult(pl.concat(frames), test, by, level)


@dataclass(frozen=True, repr=False)
class CoxResult(Result):
    """A Cox proportional-hazards fit (lifelines' ``CoxPHFitter``) in the result protocol.

    ``tidy()``: the regressors (treatment and covariates; stratum dummies are not shown) with
    normal Wald intervals; ``tidy(exponentiate=True)`` gives hazard ratios. :attr:`vcov` is
    lifelines' covariance of the shown regressors (cluster-robust sandwich with a cluster).
    :attr:`fitter` is the lifelines fitter.
    """

    fitter: Any
    terms: tuple[str, ...]
    n_obs: int
    n_events: int
    cluster: str | None
    level: float = 0.95
    frame: Any = field(default=None, repr=False)  # the pandas frame lifelines was fitted on

    @property
    def ratio_name(self) -> str:
        return "hazard_ratio"

    @property
    def model_name(self) -> str:
        return "Cox proportional hazards (Efron ties)"

    def _fitted_level(self) -> float:
        return self.level

    def _coefficients(self) -> pl.DataFrame:
        summ = self.fitter.summary.loc[list(self.terms)]
        k = len(self.terms)
        return pl.DataFrame(
            {
                "term": list(self.terms),
                "estimate": summ["coef"].to_numpy(),
                "std_error": summ["se(coef)"].to_numpy(),
                "df": np.full(k, np.inf),
                "n_persons": np.full(k, self.n_obs, dtype=np.int64),
                "n_events": np.full(k, self.n_events, dtype=np.int64),
            }
        )

    def _glance(self) -> dict[str, object]:
        return {
            "n_obs": self.n_obs,
            "n_clusters": None,
            "vcov_type": f"CRV ({self.cluster})" if self.cluster else "iid",
            "df": None,
            "log_likelihood": float(self.fitter.log_likelihood_),
            "n_events": self.n_events,
            "concordance": float(self.fitter.concordance_index_),
        }

    @property
    def vcov(self) -> NDArray[np.float64]:
        """The covariance behind lifelines' reported standard errors: without a cluster the
        inverse information; with one lifelines' cluster sandwich (per-cluster sums of its
        delta-beta residuals), recomputed on the normalised design exactly as its ``fit`` does
        (lifelines keeps only the diagonal; tests check that diagonal against its SEs)."""
        names = list(self.fitter.params_.index)
        idx = [names.index(t) for t in self.terms]
        if self.cluster is None or self.frame is None:
            v = np.asarray(self.fitter.variance_matrix_, dtype=np.float64)
        else:
            from lifelines import utils

            f = self.fitter
            x, t, e, w, _, _, _ = f._preprocess_dataframe(self.frame)
            x_norm = pd.DataFrame(
                utils.normalize(x.values, f._norm_mean.values, f._norm_std.values),
                index=x.index,
                columns=x.columns,
            )
            v = np.asarray(f._compute_sandwich_estimator(x_norm, t, e, w), dtype=np.float64)
        return v[np.ix_(idx, idx)]


@accepts_pandas("data")
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
) -> CoxResult:
    """Cox proportional-hazards fit (lifelines, Efron ties) of the regressors.

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
    pdf = frame.to_pandas()
    try:
        cph = CoxPHFitter(alpha=1 - level).fit(
            pdf,
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
    return CoxResult(cph, tuple(cols), d.size, int(e.sum()), cluster, level, pdf)
