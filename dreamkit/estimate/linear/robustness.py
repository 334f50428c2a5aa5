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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl
from numpy.typing import NDArray

from dreamkit.design import columns as C
from dreamkit.errors import InputError
from dreamkit.estimate.linear.cells import check_cells
from dreamkit.estimate.linear.contrast_inference import (
    AdjustMethod,
    DrawSource,
    NullDraws,
    adjusted_table,
    bootstrap_method,
    check_source,
)
from dreamkit.estimate.linear.design_matrix import (
    Missing,
    Sample,
    codes_of,
    dummies,
    handle_missing,
    outcome_weeks,
    prepare_sample,
    require_columns,
    resolve_outcomes,
    sample_controls,
)
from dreamkit.estimate.linear.fwl import fit_fwl
from dreamkit.estimate.linear.itt import PathResult, effect_path, fit_sample
from dreamkit.estimate.results import EstimateResult, fit_rows
from dreamkit.frames import accepts_pandas
from dreamkit.inference import (
    WildBootstrapResult,
    control_basis,
    crv1_factor,
    fwl_statistic,
    randomization_inference,
    wild_cluster_bootstrap,
)
from dreamkit.inference.wild_bootstrap import WeightType

_ROW = "__dreamkit_row"


@dataclass(frozen=True, repr=False)
class SubgroupsResult(EstimateResult):
    """Subgroup ITTs with joint multiple-testing adjustment across subgroups.

    :attr:`samples` holds each subgroup's estimation sample (keys ``"col=level"`` in table
    order), :attr:`positions` its rows as positions in the union of all subgroups' rows, and
    :attr:`union_treated` / :attr:`union_clusters` (team codes) the arms and teams there.
    """

    samples: Mapping[str, Sample] = field(default_factory=dict, repr=False)
    positions: Mapping[str, NDArray[np.intp]] = field(default_factory=dict, repr=False)
    union_treated: NDArray[np.float64] | None = field(default=None, repr=False)
    union_clusters: NDArray[np.intp] | None = field(default=None, repr=False)

    def adjusted_pvalues(
        self,
        method: AdjustMethod = "romano-wolf",
        *,
        draws: DrawSource = "randomization",
        n_draws: int = 999,
        B: int = 999,
        weights: WeightType = "rademacher",
        seed: int = 0,
    ) -> pl.DataFrame:
        r"""Subgroup p-values adjusted across all rows (subgroups x outcomes) of :attr:`table`.

        The statistic of subgroup s is its CRV1 t (model (2) within s). Joint null draws keep
        the dependence between overlapping and complementary subgroups:

        * ``"randomization"``: one set of allocations re-drawn within teams on the union of
          the subgroups' rows (each team keeps its number treated), applied to every
          subgroup; :math:`p = (1 + \#)/(1 + R)` (Monte Carlo) or :math:`\#/M` (exact);
        * ``"bootstrap"``: the restricted wild cluster bootstrap of every subgroup with one
          weight per team shared by all subgroups (each subgroup is fitted on the union with
          the rows outside it set to zero in y, T and Z, which leaves its estimate, its scores
          and its bootstrap p-value unchanged; the t's are rescaled to the subgroup's own CRV1
          small-sample factor), :math:`p = B^{-1}\#\{|t^*| \ge |t|\}`.

        ``p_adjusted``: Romano-Wolf step-down max-T or Westfall-Young step-down min-P over
        the family; ``p_holm`` and ``p_bh`` from the marginal p-values. Columns: group, level,
        label, outcome, estimate, t_stat, p_value, p_adjusted, p_holm, p_bh, method, draws.
        """
        check_source(draws)
        assert self.union_treated is not None and self.union_clusters is not None
        if draws == "randomization":
            ri = randomization_inference(
                _JointStatistic(self.samples, self.positions),
                self.union_treated,
                self.union_clusters,
                n_draws=n_draws,
                seed=seed,
            )
            null = NullDraws.from_randomization(ri)
        else:
            t_parts, d_parts, p_parts = [], [], []
            for key, sample in self.samples.items():
                res, scale = self._padded_bootstrap(key, sample, B, weights, seed)
                t_parts.append(res.t_stat * scale)
                d_parts.append(res.t_boot * scale)
                p_parts.append(res.p_value)
            null = NullDraws(
                np.concatenate(t_parts),
                np.hstack(d_parts),
                np.concatenate(p_parts),
                bootstrap_method(res),
                res.n_boot,
                plus_one=False,
            )
        keys = self.table.select("group", "level", "label", "outcome").to_dict(as_series=False)
        return adjusted_table(keys, self.table["estimate"].to_numpy(), null, method)

    def _padded_bootstrap(
        self, key: str, sample: Sample, B: int, weights: WeightType, seed: int
    ) -> tuple[WildBootstrapResult, float]:
        """WCR of one subgroup on the zero-padded union, and the factor turning its t's into
        the subgroup's own CRV1 t's: sqrt(c_union / c_subgroup)."""
        assert self.union_clusters is not None
        pos = self.positions[key]
        n_union, n_sub = self.union_clusters.shape[0], sample.y.shape[0]
        z = sample_controls(sample)
        y_pad = np.zeros((n_union, sample.y.shape[1]))
        d_pad = np.zeros(n_union)
        z_pad = np.zeros((n_union, z.shape[1]))
        y_pad[pos], d_pad[pos], z_pad[pos] = sample.y, sample.treated, z
        res = wild_cluster_bootstrap(
            y_pad, d_pad, z_pad, self.union_clusters, B=B, weights=weights, seed=seed
        )
        own = crv1_factor(n_sub, 1 + control_basis(z).shape[1], sample.n_clusters)
        return res, float(np.sqrt(res.small_sample_factor / own))


class _JointStatistic:
    """CRV1 t of every subgroup (and outcome) for allocations of the union's rows."""

    vectorized = True

    def __init__(
        self, samples: Mapping[str, Sample], positions: Mapping[str, NDArray[np.intp]]
    ) -> None:
        self._parts = [
            (
                positions[key],
                fwl_statistic(s.y, sample_controls(s), s.clusters, studentize=True),
            )
            for key, s in samples.items()
        ]

    def __call__(self, allocations: NDArray[np.int8]) -> NDArray[np.float64]:
        return np.hstack([stat(allocations[:, pos]) for pos, stat in self._parts])


@accepts_pandas("data")
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


@accepts_pandas("data")
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

    Table columns: term ("treated"), outcome, estimate, std_error, conf_low, conf_high, p_value,
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
    strata = dummies(sample.strata)[:, :-1]
    centred = strata - strata.mean(axis=0)
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
        extra={"week": list(sample.weeks) * d.shape[1]},
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
        fixed_effects=stratum,
    )


@accepts_pandas("data")
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
    table = fit_rows(
        fit,
        level,
        ["treated share"],
        names,
        means,
        extra={"week": list(outcome_weeks(names)), "n_persons": frame.height},
    )
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


@accepts_pandas("data")
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
) -> SubgroupsResult:
    """ITT within each level (1 and 0) of each binary column in ``by``.

    ``labels`` optionally names the levels, e.g. ``{"female": ("women", "men")}``. A
    subgroup x arm cell below ``min_cell`` persons is an error. With ``missing="drop"`` the
    rows where the subgroup column is missing are left out of that column's subgroups
    (counted in ``n_dropped``).

    Table columns: group (column), level (1/0), label, term, outcome, estimate, std_error,
    conf_low, conf_high, p_value, n_obs, n_clusters, control_mean, group_share, n_dropped,
    dropped_covariates. The returned :class:`SubgroupsResult` adds
    ``.adjusted_pvalues()`` (Romano-Wolf / Westfall-Young, Holm, Benjamini-Hochberg).
    """
    if not by:
        raise InputError("by is empty; pass binary subgroup columns such as ['female'].")
    require_columns(data, list(by), "subgroup")
    if _ROW in data.columns:
        raise InputError(f"column {_ROW!r} is reserved for row bookkeeping; rename it.")
    indexed = data.with_row_index(_ROW)
    parts, fits, samples = [], {}, {}
    for col in by:
        sub, n_col_dropped, _ = handle_missing(indexed, [col], missing)
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
                extra=[_ROW],
                missing=missing,
                require_both_arms=False,
            )
            fit = fit_sample(sample, vcov)
            fits[f"{col}={lvl}"] = fit
            samples[f"{col}={lvl}"] = sample
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
    row_ids = {k: s.frame[_ROW].to_numpy().astype(np.intp) for k, s in samples.items()}
    union = np.unique(np.concatenate(list(row_ids.values())))
    union_frame = data[union]
    return SubgroupsResult(
        model="subgroups",
        table=table,
        vcov_type=vcov,
        level=level,
        n_obs=data.height,
        n_clusters=int(data[cluster].n_unique()),
        fits=fits,
        samples=samples,
        positions={k: np.searchsorted(union, r) for k, r in row_ids.items()},
        union_treated=union_frame[treated].cast(pl.Float64).to_numpy(),
        union_clusters=codes_of(union_frame[cluster])[0],
    )


@accepts_pandas("data")
def waiting_time_split(
    data: pl.DataFrame,
    outcomes: str | Sequence[str],
    covariates: Sequence[str] = (),
    *,
    days: int = 7,
    waiting_days: str = C.WAITING_DAYS,
    **kwargs: object,
) -> SubgroupsResult:
    """ITT for short (waiting_days < ``days``) and long waits; see :func:`subgroups`."""
    require_columns(data, [waiting_days], "waiting-time")
    col = f"short_wait_{days}d"
    frame = data.with_columns((pl.col(waiting_days) < days).cast(pl.Int8).alias(col))
    labels = {col: (f"short wait (< {days} days)", f"long wait ({days}+ days)")}
    return subgroups(frame, outcomes, [col], covariates, labels=labels, **kwargs)  # type: ignore[arg-type]
