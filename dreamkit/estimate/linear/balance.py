r"""Balance tables, model (B) of the reference study.

For every baseline variable x and every sample (all, short/long wait, low/high SE, ...):

.. math:: x_i = a\,T_i + \sum_k b_k M_{ik} + e_i,

team-clustered (CRV1 default). All variables of a sample share one design, so they are fitted
at once (:mod:`dreamkit.estimate.linear.fwl`). A star marks p < ``alpha`` (0.05 in the study);
``p_holm`` and ``p_bh`` adjust the p-values over **all rows of the table** (every variable in
every sample) by Holm (family-wise error) and Benjamini-Hochberg (false discovery rate), via
``statsmodels.stats.multitest.multipletests``.

Joint test per sample (:attr:`BalanceResult.joint`), regressing the treatment on all the
variables and the stratum fixed effects,

.. math:: T_i = \sum_j \gamma_j x_{ij} + \sum_k c_k M_{ik} + u_i,\qquad H_0: \gamma = 0:

* ``wald``: :math:`\hat\gamma'\hat V^{-1}\hat\gamma` with the cluster-robust :math:`\hat V`;
  ``f_stat`` = wald / q with p-value from F(q, G - 1) (Stata's ``test`` after ``regress,
  vce(cluster)``). Not computable when q > G - 1 (the CRV1 covariance then has rank below q;
  82 variables and 43 teams is such a case): NaN with a note.
* ``ri_p_value``: randomisation p-value of :math:`R^2 = \lVert P_{\tilde X}\tilde T\rVert^2 /
  \lVert\tilde T\rVert^2` (tildes: stratum-demeaned) over re-drawn within-team allocations
  (:func:`dreamkit.inference.randomization_inference`); exact under the sharp null of
  balance by design, whatever q and G.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl
import scipy.sparse
import scipy.stats
from numpy.typing import NDArray
from statsmodels.stats.multitest import multipletests

from dreamkit.design import columns as C
from dreamkit.errors import EstimationError, InputError
from dreamkit.estimate.linear.design_matrix import Missing, codes_of, prepare_sample
from dreamkit.estimate.linear.fwl import demean, fit_fwl
from dreamkit.estimate.results import EstimateResult, fit_rows
from dreamkit.frames import accepts_pandas

SampleSpec = pl.Expr | pl.Series


@dataclass(frozen=True, repr=False)
class BalanceResult(EstimateResult):
    """Balance table (one row per sample x variable) and :attr:`joint` (one row per sample)."""

    joint: pl.DataFrame = field(default_factory=pl.DataFrame)


def study_samples(
    *,
    short_wait_days: int = 7,
    se_cutoff: int = 10,
    waiting_days: str = C.WAITING_DAYS,
    score: str = C.UWSES,
) -> dict[str, SampleSpec]:
    """The study's five samples as polars expressions: all, short wait (< 7 days), long wait
    (>= 7 days), low SE (UW-SES 0-10) and high SE (11-24)."""
    return {
        "all": pl.lit(True),
        "short wait": pl.col(waiting_days) < short_wait_days,
        "long wait": pl.col(waiting_days) >= short_wait_days,
        "low SE": pl.col(score) <= se_cutoff,
        "high SE": pl.col(score) > se_cutoff,
    }


@accepts_pandas("data")
def balance(
    data: pl.DataFrame,
    variables: Sequence[str],
    *,
    samples: Mapping[str, SampleSpec] | None = None,
    treated: str = C.TREATED,
    stratum: str | None = C.STRATUM,
    cluster: str = C.CLUSTER,
    vcov: str = "CRV1",
    level: float = 0.95,
    alpha: float = 0.05,
    missing: Missing = "raise",
    ri_draws: int = 999,
    seed: int = 0,
) -> BalanceResult:
    """Model (B): each variable on treatment + stratum FE, in each sample, with a joint test.

    Args:
        variables: baseline variable columns (numeric; dummies for categories).
        samples: name -> boolean polars expression or Series selecting the rows; default
            ``{"all": everyone}`` (see :func:`study_samples` for the study's five).
        missing: ``"raise"``, or ``"drop"``: each variable uses the rows where it is known
            (count in column ``n_dropped``); the joint test uses rows with all known.
        ri_draws: randomisation draws for the joint test (0 skips it).

    Table columns: sample, term, variable, estimate, std_error, conf_low, conf_high, p_value,
    n_obs, n_clusters, control_mean, treated_mean, star, p_holm, p_bh, n_dropped.
    """
    if not variables:
        raise InputError("variables is empty; pass the baseline variables to compare.")
    samples = dict(samples) if samples is not None else {"all": pl.lit(True)}
    parts, joints, fits = [], [], {}
    design_cols = [treated, cluster] + ([stratum] if stratum else [])
    for name, spec in samples.items():
        sub, n_undefined = _select_sample(data, name, spec, missing)
        full = sub.height == data.height
        groups = _missing_groups(sub, variables, missing)
        for cols, kept in groups:
            smp = prepare_sample(
                kept,
                cols,
                (),
                treated=treated,
                stratum=stratum,
                cluster=cluster,
                require_both_arms=full,
                missing="raise",
            )
            fit = fit_fwl(
                smp.y,
                smp.treated,
                absorb=smp.strata,
                controls=None,
                clusters=smp.clusters,
                vcov=vcov,
                regressor_names=(treated,),
            )
            fits[f"{name}:{cols[0]}"] = fit
            t1 = smp.treated == 1
            parts.append(
                fit_rows(
                    fit,
                    level,
                    [treated],
                    cols,
                    smp.y[~t1].mean(axis=0)[None, :],
                    extra={
                        "sample": name,
                        "treated_mean": smp.y[t1].mean(axis=0),
                        "n_dropped": sub.height - kept.height + n_undefined,
                    },
                )
            )
        joint_frame = sub.select([*design_cols, *variables])
        n_joint = joint_frame.height
        joint_frame = joint_frame.drop_nulls() if missing == "drop" else joint_frame
        joints.append(
            _joint_test(
                joint_frame,
                variables,
                name,
                treated,
                stratum,
                cluster,
                vcov,
                ri_draws,
                seed,
                n_joint - joint_frame.height + n_undefined,
            )
        )
    table = pl.concat(parts, how="vertical_relaxed").rename({"outcome": "variable"})
    p = table["p_value"].to_numpy()
    ok = np.isfinite(p)
    holm, bh = np.full_like(p, np.nan), np.full_like(p, np.nan)
    if ok.any():
        holm[ok] = multipletests(p[ok], method="holm")[1]
        bh[ok] = multipletests(p[ok], method="fdr_bh")[1]
    table = table.with_columns(
        (pl.col("p_value") < alpha).alias("star"), pl.Series("p_holm", holm), pl.Series("p_bh", bh)
    ).select("sample", "term", "variable", pl.exclude("sample", "term", "variable"))
    first = next(iter(fits.values()))
    return BalanceResult(
        model="(B) balance",
        table=table,
        vcov_type=vcov,
        level=level,
        n_obs=data.height,
        n_clusters=first.n_clusters,
        notes=("p_holm and p_bh adjust over every row of the table",),
        fits=fits,
        joint=pl.concat(joints, how="vertical_relaxed"),
    )


def _select_sample(
    data: pl.DataFrame, name: str, spec: SampleSpec, missing: Missing
) -> tuple[pl.DataFrame, int]:
    """Rows of sample ``name``; rows where membership is undefined (null) raise or, with
    ``missing="drop"``, are left out and counted."""
    expr = spec if isinstance(spec, pl.Expr) else pl.lit(spec)
    mask = data.select(expr.cast(pl.Boolean).alias("_in")).to_series()
    if mask.len() == 1 and data.height != 1:
        mask = pl.repeat(mask[0], data.height, eager=True)
    n_undefined = mask.null_count()
    if n_undefined and missing == "raise":
        raise InputError(
            f"sample {name!r} is undefined for {n_undefined} row(s) (missing values in the "
            "columns that define it); fill them in or pass missing='drop'."
        )
    return data.filter(mask.fill_null(False)), n_undefined


def _missing_groups(
    sub: pl.DataFrame, variables: Sequence[str], missing: Missing
) -> list[tuple[list[str], pl.DataFrame]]:
    """Variables grouped by the rows they can use: one group without missing values, and with
    ``missing="drop"`` one more group per variable that has missing values."""
    if missing not in ("raise", "drop"):
        raise InputError(f"missing must be 'raise' or 'drop'; got {missing!r}.")
    null = sub.select(pl.col(v).is_null().sum() for v in variables).row(0)
    nan = sub.select(
        (pl.col(v).is_nan().sum() if sub.schema[v].is_float() else pl.lit(0)).alias(v)
        for v in variables
    ).row(0)
    counts = {v: int(a) + int(b) for v, a, b in zip(variables, null, nan, strict=True)}
    bad = {v: c for v, c in counts.items() if c}
    if bad and missing == "raise":
        listing = ", ".join(f"{v!r} ({c})" for v, c in bad.items())
        raise InputError(
            f"missing values in column(s) {listing}; fill them in, or pass missing='drop' "
            "(each variable then uses its known rows; counts go to column n_dropped)."
        )
    clean = [v for v in variables if v not in bad]
    groups = [(clean, sub)] if clean else []
    for v in bad:
        expr = pl.col(v).is_not_null()
        if sub.schema[v].is_float():
            expr = expr & pl.col(v).is_not_nan()
        groups.append(([v], sub.filter(expr)))
    return groups


def _joint_test(
    frame: pl.DataFrame,
    variables: Sequence[str],
    name: str,
    treated: str,
    stratum: str | None,
    cluster: str,
    vcov: str,
    ri_draws: int,
    seed: int,
    n_dropped: int,
) -> pl.DataFrame:
    t = frame[treated].cast(pl.Float64).to_numpy()
    x = frame.select(pl.col(v).cast(pl.Float64) for v in variables).to_numpy()
    st, n_st = codes_of(frame[stratum]) if stratum else (np.zeros(len(t), np.intp), 1)
    cl, _ = codes_of(frame[cluster])
    q = len(variables)
    note = ""
    wald = f_stat = p_f = np.nan
    n_cl = int(cl.max()) + 1
    try:
        fit = fit_fwl(
            t,
            x,
            absorb=st,
            controls=None,
            clusters=cl,
            vcov=vcov,
            regressor_names=tuple(variables),
        )
        g = fit.coef[:, 0]
        v = fit.vcov
        # CR2: the F(q, G - 1) reference of CRV1 (the HTZ test of Pustejovsky & Tipton 2018
        # for several constraints is not implemented); fit.df would be a per-term BM df
        df2 = n_cl - 1 if fit.vcov_type == "CR2" else fit.df
        if q > df2 or np.linalg.matrix_rank(v) < q:
            note = f"cluster-robust Wald needs q <= G - 1 ({q} variables, {n_cl} clusters)"
        else:
            wald = float(g @ np.linalg.solve(v, g))
            f_stat = wald / q
            p_f = float(scipy.stats.f.sf(f_stat, q, df2))
            if fit.vcov_type == "CR2":
                note = "CR2 Wald with an F(q, G - 1) reference (no HTZ small-sample test)"
    except EstimationError as err:
        note = f"joint regression not identified: {err}"
    ri_p = _ri_r2(t, x, st, n_st, cl, ri_draws, seed) if ri_draws else np.nan
    return pl.DataFrame(
        {
            "sample": [name],
            "n_obs": [len(t)],
            "n_variables": [q],
            "wald": [wald],
            "f_stat": [f_stat],
            "df1": [q],
            "df2": [n_cl - 1],
            "p_value": [p_f],
            "ri_p_value": [ri_p],
            "ri_draws": [ri_draws],
            "n_dropped": [n_dropped],
            "note": [note],
        }
    )


class _R2Statistic:
    """R^2 of the stratum-demeaned allocation on the demeaned variables, for (m, n) batches."""

    vectorized = True

    def __init__(self, x: NDArray[np.float64], strata: NDArray[np.intp], n_strata: int) -> None:
        xd = demean(np.array(x, dtype=np.float64, order="F"), strata, n_strata)
        u, s, _ = np.linalg.svd(xd, full_matrices=False)
        rank = int((s > 1e-10 * s[0]).sum()) if s.size and s[0] > 0 else 0
        self._u = u[:, :rank]
        self._strata = strata
        self._n_strata = n_strata
        self._counts = np.bincount(strata, minlength=n_strata).astype(np.float64)
        n = strata.shape[0]
        self._indicator = scipy.sparse.csr_array(
            (np.ones(n), (strata, np.arange(n))), shape=(n_strata, n)
        )

    def __call__(self, alloc: NDArray[np.int8]) -> NDArray[np.float64]:
        a = np.asarray(alloc, dtype=np.float64).reshape(-1, self._strata.shape[0])
        sums = (self._indicator @ a.T).T  # (m, L)
        td = a - (sums / self._counts)[:, self._strata]
        proj = td @ self._u
        return ((proj**2).sum(axis=1) / (td**2).sum(axis=1))[:, None]


def _ri_r2(
    t: NDArray[np.float64],
    x: NDArray[np.float64],
    strata: NDArray[np.intp],
    n_strata: int,
    clusters: NDArray[np.intp],
    draws: int,
    seed: int,
) -> float:
    from dreamkit.inference import randomization_inference

    stat = _R2Statistic(x, strata, n_strata)
    res = randomization_inference(
        stat, t.astype(np.int8), clusters, n_draws=draws, seed=seed, alternative="greater"
    )
    return float(res.p_value[0])
