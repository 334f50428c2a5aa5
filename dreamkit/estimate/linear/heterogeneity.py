r"""Heterogeneity by self-efficacy, model (3) of the reference study.

For a cut-off c, Low_i = 1{UW-SES_i <= c} and High_i = 1 - Low_i, and

.. math:: Y_i = Low_i(\tau_1 T_i + \sum_k b_{1k} M_{ik})
          + High_i(\tau_2 T_i + \sum_k b_{2k} M_{ik}) + X_i'\delta + e_i,

team-clustered (municipality fixed effects interacted with the group; covariates common).
Fitted over a grid of cut-offs (default c = 6..14: low 0-6 ... 0-14, high 7-24 ... 15-24),
with each group's control mean and share of the sample, and the contrast
:math:`\tau_1 - \tau_2` with SE :math:`\sqrt{V_{11} + V_{22} - 2V_{12}}` from the same
cluster-robust covariance.

Few-cluster inference for the contrast (:class:`GridResult`):
:meth:`GridResult.wild_cluster_bootstrap` (restricted wild cluster bootstrap of the
reparametrised model
:math:`\tau_2 T_i + (\tau_1 - \tau_2) T_i Low_i + \dots`, CI by test inversion) and
:meth:`GridResult.randomization_inference` (the allocation re-drawn within teams, statistic
:math:`\hat\tau_1 - \hat\tau_2`), both with Romano-Wolf p-values across the grid
(cut-offs x outcomes) from the joint draws; see :mod:`dreamkit.estimate.linear.contrast_inference`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl
from numpy.typing import NDArray

from dreamkit.design import columns as C
from dreamkit.design.selfefficacy import DEFAULT_CUTOFFS, UWSES_MAX, check_cutoff
from dreamkit.errors import InputError
from dreamkit.estimate.linear.cells import check_cells, fit_cells, group_means
from dreamkit.estimate.linear.contrast_inference import (
    CellDesign,
    ContrastFamily,
    cell_design,
    family_randomization,
    family_wild_bootstrap,
)
from dreamkit.estimate.linear.design_matrix import Missing, Sample, prepare_sample
from dreamkit.estimate.results import EstimateResult, contrast_row, fit_rows
from dreamkit.frames import accepts_pandas
from dreamkit.inference.wild_bootstrap import PType, WeightType

LOW_MINUS_HIGH = (1.0, -1.0)


@dataclass(frozen=True, repr=False)
class GridResult(EstimateResult):
    """Model (3) over the cut-off grid, with few-cluster inference for tau_low - tau_high.

    :attr:`sample` is the estimation sample and :attr:`scores` its UW-SES totals, so that
    each cut-off's design can be rebuilt (:meth:`cell_design`).
    """

    sample: Sample | None = field(default=None, repr=False)
    scores: NDArray[np.float64] | None = field(default=None, repr=False)
    cutoffs: tuple[int, ...] = ()

    def cell_design(self, cutoff: int) -> CellDesign:
        """The dense design of cut-off ``cutoff`` (cells low = 0, high = 1; two effects)."""
        if cutoff not in self.cutoffs:
            raise InputError(f"cut-off {cutoff} is not in this grid; it has {self.cutoffs}.")
        assert self.sample is not None and self.scores is not None
        cells = (self.scores > cutoff).astype(np.intp)
        return cell_design(self.sample, cells, 2, (0, 1), interact_strata=True)

    def wild_cluster_bootstrap(
        self,
        B: int = 999,
        *,
        weights: WeightType = "rademacher",
        seed: int = 0,
        p_type: PType = "symmetric",
        level: float | None = None,
    ) -> pl.DataFrame:
        """Restricted wild cluster bootstrap (WCR) of tau_low - tau_high per cut-off and outcome.

        Same seed, hence the same team weights, for every cut-off: ``p_romano_wolf`` adjusts
        across all rows (cut-offs x outcomes) from the joint bootstrap t's. Rows sorted as
        :attr:`table`. Columns: cutoff,
        outcome, estimate, p_value, conf_low, conf_high (test inversion at ``level``, default the
        grid's), method, draws, p_romano_wolf.
        """
        return family_wild_bootstrap(
            self._family(),
            B=B,
            weights=weights,
            seed=seed,
            p_type=p_type,
            level=self.level if level is None else level,
        ).sort("cutoff", "outcome", maintain_order=True)

    def randomization_inference(
        self,
        n_draws: int = 999,
        *,
        seed: int = 0,
        exact_if_at_most: int | None = None,
    ) -> pl.DataFrame:
        """Two-sided randomisation test of tau_low - tau_high per cut-off and outcome.

        The allocation is re-drawn within teams (each team keeps its number treated) and the
        statistic is the estimated contrast; one set of allocations serves every cut-off and
        outcome, so ``p_romano_wolf`` adjusts across all rows from the joint draws. Columns as
        :meth:`wild_cluster_bootstrap` (conf_low, conf_high are NaN).
        """
        return family_randomization(
            self._family(), n_draws=n_draws, seed=seed, exact_if_at_most=exact_if_at_most
        ).sort("cutoff", "outcome", maintain_order=True)

    def _family(self) -> ContrastFamily:
        """tau_low - tau_high at every cut-off, keyed by ``cutoff``."""
        return [(self.cell_design(c), [({"cutoff": c}, LOW_MINUS_HIGH)]) for c in self.cutoffs]


@accepts_pandas("data")
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
) -> GridResult:
    """Model (3) for every cut-off in ``cutoffs`` (low = score 0..c, high = c+1..24).

    Table columns: cutoff, group ("low", "high", "low - high"), group_range ("0-6", ...),
    term, outcome, estimate, std_error, conf_low, conf_high, p_value, n_obs, n_clusters,
    control_mean, group_share. Plot effect against cut-off from the "low"/"high" rows.
    A cell (group x arm) with fewer than ``min_cell`` persons is an error. The returned
    :class:`GridResult` also offers ``.wild_cluster_bootstrap()`` and
    ``.randomization_inference()`` for the "low - high" contrasts.
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
    return GridResult(
        model="(3) heterogeneity by self-efficacy",
        table=table.sort("cutoff", "outcome", maintain_order=True),
        vcov_type=vcov,
        level=level,
        n_obs=sample.y.shape[0],
        n_clusters=sample.n_clusters,
        n_dropped=sample.n_dropped,
        drop_reason=sample.drop_reason,
        fits=fits,
        sample=sample,
        scores=scores,
        cutoffs=tuple(cuts),
    )
