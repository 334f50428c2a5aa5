r"""Planning inputs from a user's own data: ICC, base rate, outcome SD and covariate R^2.

A trial is planned from the register's pre-period: the persons a new trial would recruit,
an outcome measured before allocation that stands in for the trial outcome (e.g. the
employment share in weeks 26..14 before allocation, ``pre_emp_26_14`` of
:func:`dreamkit.outcomes.build_outcomes`), their clusters (teams or job centres) and
baseline covariates (e.g. earlier pre-allocation windows). :func:`planning_inputs` returns

* ``mean`` (the base rate of a 0/1 outcome) and ``sd`` (:math:`\sqrt{\sum(y-\bar y)^2/(n-1)}`);
* the one-way ANOVA estimator of the intra-cluster correlation for unequal cluster sizes
  (Donner 1986),

  .. math:: \hat\rho = \frac{MSB - MSW}{MSB + (n_0 - 1)\,MSW},\quad
            n_0 = \frac{N - \sum_j n_j^2 / N}{G - 1},

  :math:`MSB = \sum_j n_j(\bar y_j - \bar y)^2/(G-1)`,
  :math:`MSW = \sum_j\sum_i (y_{ij} - \bar y_j)^2/(N-G)`; a negative estimate (less variation
  between clusters than chance gives) is clipped at 0, with a warning and a note;
* cluster count, mean size :math:`\bar m` and the coefficient of variation of sizes;
* ``r2``: the share of the outcome variance (beyond the strata fixed effects, if any)
  explained by the covariates, :math:`1 - RSS(\text{strata} + X)/RSS(\text{strata})`, for
  individually randomised designs; ``r2_within``: the same beyond the *cluster* fixed
  effects, :math:`1 - RSS(\text{clusters} + X)/RSS(\text{clusters})`, the share that
  matters for a within-cluster allocation (whose variance is the within-cluster one).

:meth:`PlanningInputs.power_kwargs` passes them on to the analytic functions.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
from numpy.typing import ArrayLike, NDArray

from dreamkit.design import columns as C
from dreamkit.errors import ColumnNotFoundError, DreamkitWarning, InputError


@dataclass(frozen=True)
class ICCEstimate:
    """One-way ANOVA ICC (module docstring); ``icc`` is clipped at 0, ``icc_raw`` is not."""

    icc: float
    icc_raw: float
    msb: float
    msw: float
    n0: float
    n_obs: int
    n_clusters: int


def icc_anova(y: ArrayLike, clusters: ArrayLike, *, warn: bool = True) -> ICCEstimate:
    """The one-way ANOVA intra-cluster correlation of ``y`` with cluster labels ``clusters``."""
    values = np.asarray(y, dtype=np.float64)
    if values.ndim != 1 or values.size < 3:
        raise InputError("y must be a vector of at least 3 outcomes.")
    if not np.isfinite(values).all():
        raise InputError(
            f"y has {int((~np.isfinite(values)).sum())} missing or infinite values; drop "
            "those persons first (or fill them) and say so in the sample flow."
        )
    labels = np.asarray(clusters)
    if labels.shape != values.shape:
        raise InputError("clusters must have one label per outcome (same length as y).")
    _, codes = np.unique(labels, return_inverse=True)
    sizes = np.bincount(codes).astype(np.float64)
    g, n = sizes.size, values.size
    if g < 2 or n <= g:
        raise InputError(
            f"{g} clusters for {n} persons; the ICC needs at least 2 clusters and more "
            "persons than clusters."
        )
    means = np.bincount(codes, weights=values) / sizes
    grand = values.mean()
    msb = float((sizes * (means - grand) ** 2).sum() / (g - 1))
    msw = float(((values - means[codes]) ** 2).sum() / (n - g))
    n0 = float((n - (sizes**2).sum() / n) / (g - 1))
    denom = msb + (n0 - 1.0) * msw
    raw = (msb - msw) / denom if denom > 0 else 0.0
    if raw < 0 and warn:
        warnings.warn(
            f"the ANOVA ICC estimate is {raw:.4f} < 0 (less variation between clusters than "
            "chance gives); it is clipped at 0. Plan with a small positive ICC from "
            "comparable studies if you expect clustering.",
            DreamkitWarning,
            stacklevel=2,
        )
    return ICCEstimate(max(raw, 0.0), float(raw), msb, msw, n0, n, g)


@dataclass(frozen=True)
class PlanningInputs:
    """Planning inputs estimated from data (module docstring)."""

    outcome: str
    n_obs: int
    mean: float
    sd: float
    icc: float
    icc_raw: float
    n_clusters: int
    cluster_size: float
    cv: float
    r2: float
    r2_within: float
    covariates: tuple[str, ...]
    notes: tuple[str, ...]

    def power_kwargs(self, design: str = "within_cluster") -> dict[str, float | str]:
        """Keyword arguments for :func:`dreamkit.power.power_mean` and friends: ``sd``,
        ``design``, ``icc``, ``cluster_size``, ``cv`` and the R^2 that fits ``design``
        (``r2_within`` for ``"within_cluster"``, else ``r2``)."""
        r2 = self.r2_within if design == "within_cluster" else self.r2
        return {
            "sd": self.sd,
            "design": design,
            "icc": self.icc,
            "cluster_size": self.cluster_size,
            "cv": self.cv,
            "r2": max(r2, 0.0),
        }

    def summary(self) -> str:
        lines = [
            f"Planning inputs for {self.outcome!r} ({self.n_obs} persons, "
            f"{self.n_clusters} clusters)",
            f"  mean (base rate)       {self.mean:.4f}",
            f"  SD                     {self.sd:.4f}",
            f"  ICC (ANOVA)            {self.icc:.4f}"
            + (f"  (raw {self.icc_raw:.4f}, clipped)" if self.icc_raw < 0 else ""),
            f"  mean cluster size      {self.cluster_size:.2f}",
            f"  CV of cluster sizes    {self.cv:.3f}",
            f"  R^2 of covariates      {self.r2:.4f}  (within clusters {self.r2_within:.4f})",
            f"  covariates             {', '.join(self.covariates) or '(none)'}",
        ]
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (
            f"PlanningInputs({self.outcome!r}: mean={self.mean:.3g}, sd={self.sd:.3g}, "
            f"icc={self.icc:.3g}, clusters={self.n_clusters}, m={self.cluster_size:.3g}, "
            f"cv={self.cv:.3g}, r2={self.r2:.3g})"
        )

    def to_frame(self) -> pl.DataFrame:
        """One row with every input."""
        row = {k: getattr(self, k) for k in self.__dataclass_fields__ if k not in ("notes",)}
        row["covariates"] = ", ".join(self.covariates)
        row["notes"] = " ".join(self.notes)
        return pl.DataFrame([row])


def planning_inputs(
    data: pl.DataFrame,
    outcome: str,
    *,
    cluster: str = C.CLUSTER,
    covariates: Sequence[str] = (),
    stratum: str | None = None,
) -> PlanningInputs:
    """Estimate planning inputs of ``outcome`` from a person table (module docstring).

    Args:
        data: one row per person (polars or pandas), e.g. ``build_outcomes(...).persons``
            or any table with a cluster column.
        outcome: the outcome column (a pre-allocation window such as ``pre_emp_26_14``).
        cluster: the cluster column (teams, job centres).
        covariates: baseline covariate columns for the R^2 (e.g. earlier windows).
        stratum: optional stratum column (municipality) absorbed before ``r2``.

    Persons with a missing outcome, cluster or covariate are an error (say which to drop in
    your sample flow).
    """
    if not isinstance(data, pl.DataFrame):
        try:
            data = pl.from_pandas(data)
        except (TypeError, ValueError, ImportError):
            raise InputError(
                "data must be a polars or pandas DataFrame with one row per person."
            ) from None
    cols = [outcome, cluster, *covariates] + ([stratum] if stratum else [])
    missing_cols = [c for c in cols if c not in data.columns]
    if missing_cols:
        raise ColumnNotFoundError(
            f"column(s) {missing_cols} not found; the table has {data.columns[:12]}"
            f"{' ...' if data.width > 12 else ''}. Pass the names with outcome=, cluster=, "
            "covariates=, stratum=."
        )
    frame = data.select(cols)
    nulls = {c: int(frame[c].null_count()) for c in cols if frame[c].null_count()}
    if nulls:
        raise InputError(
            f"missing values in {nulls}; drop those persons first (and record it in the "
            "sample flow) or fill them."
        )
    y = frame[outcome].cast(pl.Float64).to_numpy()
    est = icc_anova(y, frame[cluster].to_numpy(), warn=False)
    _, codes = np.unique(frame[cluster].to_numpy(), return_inverse=True)
    sizes = np.bincount(codes).astype(np.float64)
    cv = float(sizes.std(ddof=0) / sizes.mean())
    x = (
        frame.select([pl.col(c).cast(pl.Float64) for c in covariates]).to_numpy()
        if covariates
        else np.empty((y.size, 0))
    )
    strata = (
        np.unique(frame[stratum].to_numpy(), return_inverse=True)[1]
        if stratum
        else np.zeros(y.size, dtype=np.intp)
    )
    notes = []
    if est.icc_raw < 0:
        notes.append(f"ANOVA ICC {est.icc_raw:.4f} < 0 clipped at 0.")
        warnings.warn(
            f"{outcome}: the ANOVA ICC estimate is {est.icc_raw:.4f} < 0; it is clipped at 0 "
            "(see PlanningInputs.notes). Plan with a small positive ICC from comparable "
            "studies if you expect clustering.",
            DreamkitWarning,
            stacklevel=2,
        )
    return PlanningInputs(
        outcome=outcome,
        n_obs=int(y.size),
        mean=float(y.mean()),
        sd=float(y.std(ddof=1)),
        icc=est.icc,
        icc_raw=est.icc_raw,
        n_clusters=est.n_clusters,
        cluster_size=float(sizes.mean()),
        cv=cv,
        r2=partial_r2(y, x, strata),
        r2_within=partial_r2(y, x, codes),
        covariates=tuple(covariates),
        notes=tuple(notes),
    )


def _demean(a: NDArray[np.float64], codes: NDArray[np.intp]) -> NDArray[np.float64]:
    counts = np.bincount(codes).astype(np.float64)
    if a.ndim == 1:
        return a - (np.bincount(codes, weights=a) / counts)[codes]
    return np.column_stack([_demean(a[:, j], codes) for j in range(a.shape[1])])


def partial_r2(y: NDArray[np.float64], x: NDArray[np.float64], groups: NDArray[np.intp]) -> float:
    """:math:`1 - RSS(\\text{groups} + X) / RSS(\\text{groups})`: the share of the variance left
    after group fixed effects that the covariates X explain (0 without covariates)."""
    yd = _demean(y, groups)
    tss = float(yd @ yd)
    if x.shape[1] == 0 or tss <= 0:
        return 0.0
    xd = _demean(x, groups)
    coef, *_ = np.linalg.lstsq(xd, yd, rcond=None)
    resid = yd - xd @ coef
    value = 1.0 - float(resid @ resid) / tss
    return value if math.isfinite(value) else 0.0
