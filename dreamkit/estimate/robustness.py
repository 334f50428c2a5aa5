r"""Robustness models (5)-(7), subgroup effects and waiting-time splits.

* (5) :func:`no_covariates`: model (2) without X.
* (6) :func:`stratum_interacted` (Imbens & Rubin 2015, p. 205): with centred stratum dummies
  :math:`\dot M_{ik} = M_{ik} - \bar M_k` (k = 1..K-1),

  .. math:: Y_i = \tau T_i + \sum_{k<K}\gamma_k T_i\dot M_{ik} + \sum_k b_k M_{ik}
            + X_i'\delta + e_i;

  without covariates :math:`\hat\tau = \sum_k (n_k/n)(\bar Y_{1k} - \bar Y_{0k})`, the
  sample-size-weighted average of the stratum effects. Team-clustered.
* (7) :func:`group_level`: collapse to team x arm groups g; regress the group mean outcome on
  the group's treated share, its municipality shares (one dropped; with an intercept) and the
  group means of the covariates, unweighted, HC1 standard errors (N = number of groups).
* :func:`subgroups`: the ITT of model (2) within the rows where a binary column is 1, and
  where it is 0, for any list of columns; :func:`waiting_time_split`: short (< ``days``) and
  long waits. Strata with one arm inside a subgroup are kept (they identify only their fixed
  effect); a covariate constant inside a subgroup is left out and listed in
  ``dropped_covariates``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from dreamkit.design import columns as C
from dreamkit.errors import InputError
from dreamkit.estimate.cells import check_cells
from dreamkit.estimate.design_matrix import (
    Missing,
    handle_missing,
    prepare_sample,
    require_columns,
    resolve_outcomes,
)
from dreamkit.estimate.fwl import fit_fwl
from dreamkit.estimate.itt import PathResult, effect_path, fit_sample
from dreamkit.estimate.result import EstimateResult, fit_rows


def no_covariates(
    data: pl.DataFrame,
    outcomes: str | Sequence[str],
    *,
    treated: str = C.TREATED,
    stratum: str | None = C.STRATUM,
    cluster: str = C.CLUSTER,
    vcov: str = "CRV1",
    level: float = 0.95,
    missing: Missing = "raise",
) -> PathResult:
    """Model (5): the ITT path with stratum fixed effects only."""
    return effect_path(
        data,
        outcomes,
        (),
        treated=treated,
        stratum=stratum,
        cluster=cluster,
        vcov=vcov,
        level=level,
        missing=missing,
        model="(5) ITT path, no covariates",
    )


def stratum_interacted(
    data: pl.DataFrame,
    outcomes: str | Sequence[str],
    covariates: Sequence[str] = (),
    *,
    treated: str = C.TREATED,
    stratum: str = C.STRATUM,
    cluster: str = C.CLUSTER,
    vcov: str = "CRV1",
    level: float = 0.95,
    missing: Missing = "raise",
) -> EstimateResult:
    """Model (6): tau with treatment interacted with centred stratum dummies.

    Table columns: term ("treated"), outcome, estimate, std_error, ci_low, ci_high, p_value,
    n_obs, n_clusters, control_mean.
    """
    sample = prepare_sample(
        data,
        outcomes,
        covariates,
        treated=treated,
        stratum=stratum,
        cluster=cluster,
        missing=missing,
    )
    n = sample.y.shape[0]
    dummies = np.zeros((n, sample.n_strata))
    dummies[np.arange(n), sample.strata] = 1.0
    centred = dummies[:, :-1] - dummies[:, :-1].mean(axis=0)
    d = np.column_stack([sample.treated, sample.treated[:, None] * centred])
    fit = fit_fwl(
        sample.y,
        d,
        absorb=sample.strata,
        controls=sample.covariates,
        clusters=sample.clusters,
        vcov=vcov,
        regressor_names=(
            treated,
            *(f"{treated} x stratum {k}" for k in range(sample.n_strata - 1)),
        ),
        control_names=sample.covariate_names,
    )
    control = sample.treated == 0
    rows = fit_rows(
        fit,
        level,
        [treated] * d.shape[1],
        sample.outcomes,
        np.tile(sample.y[control].mean(axis=0), (d.shape[1], 1)),
    )
    return EstimateResult(
        model="(6) stratum-interacted (Imbens-Rubin)",
        table=rows.head(len(sample.outcomes)),
        vcov_type=vcov,
        level=level,
        n_obs=fit.n_obs,
        n_clusters=fit.n_clusters,
        n_dropped=sample.n_dropped,
        drop_reason=sample.drop_reason,
        fits={"interacted": fit},
    )


def group_level(
    data: pl.DataFrame,
    outcomes: str | Sequence[str],
    covariates: Sequence[str] = (),
    *,
    treated: str = C.TREATED,
    stratum: str = C.STRATUM,
    cluster: str = C.CLUSTER,
    level: float = 0.95,
    missing: Missing = "raise",
) -> EstimateResult:
    """Model (7): team x arm group means on treated share, municipality shares and mean
    covariates; HC1 (robust) standard errors; ``n_obs`` = ``n_clusters`` = number of groups.

    Table columns as :func:`no_covariates` rows plus ``n_persons``; ``control_mean`` is the
    mean over control groups of the group means.
    """
    names = resolve_outcomes(data, outcomes)
    require_columns(data, [treated, stratum, cluster, *covariates], "design/covariate")
    used = [treated, stratum, cluster, *names, *covariates]
    frame, n_dropped, reason = handle_missing(data.select(used), used, missing)
    strata = sorted(frame[stratum].unique().to_list())
    share_cols = [(pl.col(stratum) == s).mean().alias(f"_share_{k}") for k, s in enumerate(strata)]
    groups = (
        frame.group_by(cluster, treated)
        .agg(
            pl.col(treated).cast(pl.Float64).mean().alias("_treated_share"),
            *[pl.col(c).cast(pl.Float64).mean() for c in [*names, *covariates]],
            *share_cols,
            pl.len().alias("_n"),
        )
        .sort(cluster, treated)
    )
    if groups.height < 3:
        raise InputError(f"only {groups.height} team x arm groups; model (7) needs more.")
    shares = groups.select(f"_share_{k}" for k in range(1, len(strata))).to_numpy()
    cov = groups.select(covariates).to_numpy() if covariates else np.empty((groups.height, 0))
    controls = np.hstack([shares, cov])
    y = groups.select(names).to_numpy()
    d = groups["_treated_share"].to_numpy()
    fit = fit_fwl(
        y,
        d,
        absorb=None,
        controls=controls if controls.shape[1] else None,
        clusters=None,
        vcov="HC1",
        regressor_names=("treated share",),
        control_names=(*(f"share of stratum {k}" for k in range(1, len(strata))), *covariates),
    )
    means = y[d == 0].mean(axis=0)[None, :]
    table = fit_rows(fit, level, ["treated share"], names, means, extra={"n_persons": frame.height})
    return EstimateResult(
        model="(7) team x arm group level",
        table=table,
        vcov_type="HC1",
        level=level,
        n_obs=groups.height,
        n_clusters=groups.height,
        n_dropped=n_dropped,
        drop_reason=reason,
        fits={"groups": fit},
    )


def subgroups(
    data: pl.DataFrame,
    outcomes: str | Sequence[str],
    by: Sequence[str],
    covariates: Sequence[str] = (),
    *,
    treated: str = C.TREATED,
    stratum: str | None = C.STRATUM,
    cluster: str = C.CLUSTER,
    vcov: str = "CRV1",
    level: float = 0.95,
    min_cell: int = 5,
    missing: Missing = "raise",
    labels: dict[str, tuple[str, str]] | None = None,
) -> EstimateResult:
    """ITT within each level (1 and 0) of each binary column in ``by``.

    ``labels`` optionally names the levels, e.g. ``{"female": ("women", "men")}``. A
    subgroup x arm cell below ``min_cell`` persons is an error. With ``missing="drop"`` the
    rows where the subgroup column is missing are left out of that column's subgroups
    (counted in ``n_dropped``).

    Table columns: group (column), level (1/0), label, term, outcome, estimate, std_error,
    ci_low, ci_high, p_value, n_obs, n_clusters, control_mean, group_share, n_dropped,
    dropped_covariates.
    """
    if not by:
        raise InputError("by is empty; pass binary subgroup columns such as ['female'].")
    require_columns(data, list(by), "subgroup")
    parts, fits = [], {}
    for col in by:
        sub, n_col_dropped, _ = handle_missing(data, [col], missing)
        values = sub[col].cast(pl.Float64)
        bad = sorted(set(values.unique().to_list()) - {0.0, 1.0})
        if bad:
            raise InputError(
                f"subgroup column {col!r} holds value(s) {bad[:5]}; it must be 0/1 (or "
                "boolean). Recode it, e.g. age 50+ as (age >= 50)."
            )
        for lvl in (1, 0):
            rows = sub.filter(values == float(lvl))
            name = (labels or {}).get(col, (f"{col} = 1", f"{col} = 0"))[1 - lvl]
            arms = rows[treated].cast(pl.Float64).to_numpy() if rows.height else np.array([])
            check_cells(arms, np.zeros(len(arms), np.intp), [name], min_cell, f"subgroup {col}")
            kept_cov = [c for c in covariates if rows[c].n_unique() > 1]
            sample = prepare_sample(
                rows,
                outcomes,
                kept_cov,
                treated=treated,
                stratum=stratum,
                cluster=cluster,
                missing=missing,
                require_both_arms=False,
            )
            fit = fit_sample(sample, vcov)
            fits[f"{col}={lvl}"] = fit
            means = sample.y[sample.treated == 0].mean(axis=0)[None, :]
            parts.append(
                fit_rows(
                    fit,
                    level,
                    [treated],
                    sample.outcomes,
                    means,
                    extra={
                        "group": col,
                        "level": lvl,
                        "label": name,
                        "group_share": rows.height / sub.height,
                        "n_dropped": n_col_dropped + sample.n_dropped,
                        "dropped_covariates": ", ".join(c for c in covariates if c not in kept_cov),
                    },
                )
            )
    table = pl.concat(parts, how="vertical_relaxed").select(
        "group",
        "level",
        "label",
        "term",
        "outcome",
        pl.exclude("group", "level", "label", "term", "outcome"),
    )
    return EstimateResult(
        model="subgroups",
        table=table,
        vcov_type=vcov,
        level=level,
        n_obs=data.height,
        n_clusters=int(data[cluster].n_unique()),
        fits=fits,
    )


def waiting_time_split(
    data: pl.DataFrame,
    outcomes: str | Sequence[str],
    covariates: Sequence[str] = (),
    *,
    days: int = 7,
    waiting_days: str = C.WAITING_DAYS,
    **kwargs: object,
) -> EstimateResult:
    """ITT for short (waiting_days < ``days``) and long waits; see :func:`subgroups`."""
    require_columns(data, [waiting_days], "waiting-time")
    col = f"short_wait_{days}d"
    frame = data.with_columns((pl.col(waiting_days) < days).cast(pl.Int8).alias(col))
    labels = {col: (f"short wait (< {days} days)", f"long wait ({days}+ days)")}
    return subgroups(frame, outcomes, [col], covariates, labels=labels, **kwargs)  # type: ignore[arg-type]
