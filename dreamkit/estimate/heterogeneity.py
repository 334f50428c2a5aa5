r"""Heterogeneity by self-efficacy, model (3) of the reference study.

For a cut-off c, Low_i = 1{UW-SES_i <= c} and High_i = 1 - Low_i, and

.. math:: Y_i = Low_i(\tau_1 T_i + \sum_k b_{1k} M_{ik})
          + High_i(\tau_2 T_i + \sum_k b_{2k} M_{ik}) + X_i'\delta + e_i,

team-clustered (municipality fixed effects interacted with the group; covariates common).
Fitted over a grid of cut-offs (default c = 6..14: low 0-6 ... 0-14, high 7-24 ... 15-24),
with each group's control mean and share of the sample, and the contrast
:math:`\tau_1 - \tau_2` with SE :math:`\sqrt{V_{11} + V_{22} - 2V_{12}}` from the same
cluster-robust covariance.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import polars as pl

from dreamkit.design import columns as C
from dreamkit.design.selfefficacy import DEFAULT_CUTOFFS, UWSES_MAX, check_cutoff
from dreamkit.errors import InputError
from dreamkit.estimate.cells import check_cells, fit_cells, group_means
from dreamkit.estimate.design_matrix import Missing, prepare_sample
from dreamkit.estimate.result import EstimateResult, contrast_row, fit_rows


def selfefficacy_grid(
    data: pl.DataFrame,
    outcomes: str | Sequence[str],
    covariates: Sequence[str] = (),
    *,
    cutoffs: Iterable[int] = DEFAULT_CUTOFFS,
    score: str = C.UWSES,
    treated: str = C.TREATED,
    stratum: str | None = C.STRATUM,
    cluster: str = C.CLUSTER,
    vcov: str = "CRV1",
    level: float = 0.95,
    min_cell: int = 5,
    missing: Missing = "raise",
) -> EstimateResult:
    """Model (3) for every cut-off in ``cutoffs`` (low = score 0..c, high = c+1..24).

    Table columns: cutoff, group ("low", "high", "low - high"), group_range ("0-6", ...),
    term, outcome, estimate, std_error, ci_low, ci_high, p_value, n_obs, n_clusters,
    control_mean, group_share. Plot effect against cut-off from the "low"/"high" rows.
    A cell (group x arm) with fewer than ``min_cell`` persons is an error.
    """
    cuts = sorted({check_cutoff(c) for c in cutoffs})
    if not cuts:
        raise InputError("cutoffs is empty; pass at least one cut-off in 0..23.")
    sample = prepare_sample(
        data,
        outcomes,
        covariates,
        treated=treated,
        stratum=stratum,
        cluster=cluster,
        extra=[score],
        missing=missing,
    )
    scores = sample.frame[score].cast(pl.Float64).to_numpy()
    if ((scores < 0) | (scores > UWSES_MAX)).any():
        raise InputError(f"column {score!r} has values outside 0..{UWSES_MAX}; pass UW-SES totals.")
    parts, fits = [], {}
    for c in cuts:
        cells = (scores > c).astype(np.intp)  # 0 = low, 1 = high
        names = ("low", "high")
        check_cells(sample.treated, cells, names, min_cell, f"cut-off {c}")
        fit = fit_cells(sample, cells, names, (0, 1), interact_strata=True, vcov=vcov)
        fits[f"cutoff {c}"] = fit
        means, shares = group_means(sample, cells, (0, 1))
        n_out = len(sample.outcomes)
        ranges = (f"0-{c}", f"{c + 1}-{UWSES_MAX}")
        parts.append(
            fit_rows(
                fit,
                level,
                [f"{treated}:low", f"{treated}:high"],
                sample.outcomes,
                means,
                extra={
                    "cutoff": c,
                    "group": [g for g in names for _ in range(n_out)],
                    "group_range": [r for r in ranges for _ in range(n_out)],
                    "group_share": np.repeat(shares, n_out),
                },
            )
        )
        for w, outcome in enumerate(sample.outcomes):
            parts.append(
                contrast_row(
                    fit,
                    level,
                    (1.0, -1.0),
                    w,
                    f"{treated}:low - {treated}:high",
                    outcome,
                    extra={
                        "cutoff": c,
                        "group": "low - high",
                        "group_range": "",
                        "group_share": float("nan"),
                    },
                )
            )
    table = pl.concat(parts, how="vertical_relaxed").select(
        "cutoff",
        "group",
        "group_range",
        "term",
        "outcome",
        pl.exclude("cutoff", "group", "group_range", "term", "outcome"),
    )
    return EstimateResult(
        model="(3) heterogeneity by self-efficacy",
        table=table.sort("cutoff", "outcome", maintain_order=True),
        vcov_type=vcov,
        level=level,
        n_obs=sample.y.shape[0],
        n_clusters=sample.n_clusters,
        n_dropped=sample.n_dropped,
        drop_reason=sample.drop_reason,
        fits=fits,
    )
