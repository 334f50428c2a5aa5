r"""Peer composition, model (4) of the reference study.

Cells: own self-efficacy (Low_i = 1{UW-SES <= ``cutoff``}, default 0-8 as in the study's
table) x peers (PeersLow_i = 1 when the leave-one-out share of team-mates with
UW-SES <= ``peer_cutoff`` exceeds the median over teams, :mod:`dreamkit.design.peers`).

* four-cell version: one effect per cell,
  :math:`Y_i = \sum_{c=1}^4 \tau_c T_i 1\{c_i = c\} + \text{cell terms} + X_i'\delta + e_i`;
* restricted version: the two high-SE cells share one effect (three effects).

Cell terms are municipality fixed effects plus cell dummies (``interact_strata=False``,
default) or municipality x cell fixed effects (``True``, as in model 3). Team-clustered.

Few-cluster inference (:class:`PeerResult`) for every cell effect and the peer contrasts
(:data:`CONTRASTS`): :meth:`PeerResult.wild_cluster_bootstrap` (restricted wild cluster
bootstrap of each single coefficient or contrast, reparametrised) and
:meth:`PeerResult.randomization_inference` (allocation re-drawn within teams), with
Romano-Wolf p-values across all of them; see :mod:`dreamkit.estimate.linear.contrast_inference`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl
from numpy.typing import NDArray

from dreamkit.design import columns as C
from dreamkit.design.peers import peers_low, team_low_share_median
from dreamkit.design.selfefficacy import low_self_efficacy
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
from dreamkit.estimate.results import EstimateResult, fit_rows
from dreamkit.frames import accepts_pandas
from dreamkit.inference.wild_bootstrap import PType, WeightType

CELLS = (
    "low SE, low-SE peers",
    "low SE, high-SE peers",
    "high SE, low-SE peers",
    "high SE, high-SE peers",
)
_VERSIONS = {
    "four-cell": ((0, 1, 2, 3), CELLS),
    "restricted": ((0, 1, 2, 2), (*CELLS[:2], "high SE")),
}
PEER_CONTRAST_LOW = "low SE: low-SE peers - high-SE peers"
PEER_CONTRAST_HIGH = "high SE: low-SE peers - high-SE peers"
#: Per version: (name, weights over the version's effects): every cell effect, then the peer
#: contrasts (effect with low-SE peers minus effect with high-SE peers, within own SE).
CONTRASTS: dict[str, tuple[tuple[str, tuple[float, ...]], ...]] = {
    "four-cell": (
        *((name, tuple(float(i == j) for i in range(4))) for j, name in enumerate(CELLS)),
        (PEER_CONTRAST_LOW, (1.0, -1.0, 0.0, 0.0)),
        (PEER_CONTRAST_HIGH, (0.0, 0.0, 1.0, -1.0)),
    ),
    "restricted": (
        *(
            (name, tuple(float(i == j) for i in range(3)))
            for j, name in enumerate(_VERSIONS["restricted"][1])
        ),
        (PEER_CONTRAST_LOW, (1.0, -1.0, 0.0)),
    ),
}


@dataclass(frozen=True, repr=False)
class PeerResult(EstimateResult):
    """Model (4) with few-cluster inference for its cell effects and peer contrasts.

    :attr:`sample` is the estimation sample and :attr:`cells` each person's cell (0..3 in
    the order of :data:`CELLS`), so that each version's design can be rebuilt.
    """

    sample: Sample | None = field(default=None, repr=False)
    cells: NDArray[np.intp] | None = field(default=None, repr=False)
    interact_strata: bool = False

    def cell_design(self, version: str) -> CellDesign:
        """The dense design of ``version`` ("four-cell" or "restricted")."""
        if version not in _VERSIONS:
            raise InputError(f"version must be one of {tuple(_VERSIONS)}; got {version!r}.")
        assert self.sample is not None and self.cells is not None
        groups = _VERSIONS[version][0]
        return cell_design(
            self.sample, self.cells, len(CELLS), groups, interact_strata=self.interact_strata
        )

    def wild_cluster_bootstrap(
        self,
        B: int = 999,
        *,
        weights: WeightType = "rademacher",
        seed: int = 0,
        p_type: PType = "symmetric",
        level: float | None = None,
    ) -> pl.DataFrame:
        """Restricted wild cluster bootstrap (WCR) of each row of :data:`CONTRASTS`.

        Each single coefficient or contrast is the coefficient of one regressor after
        reparametrisation; the same seed (so the same team weights) serves every contrast, and
        ``p_romano_wolf`` adjusts across all rows (versions x contrasts x outcomes). Columns:
        version, contrast, outcome, estimate, p_value, conf_low, conf_high, method, draws,
        p_romano_wolf.
        """
        return family_wild_bootstrap(
            self._family(),
            B=B,
            weights=weights,
            seed=seed,
            p_type=p_type,
            level=self.level if level is None else level,
        )

    def randomization_inference(
        self, n_draws: int = 999, *, seed: int = 0, exact_if_at_most: int | None = None
    ) -> pl.DataFrame:
        """Two-sided randomisation tests of every row of :data:`CONTRASTS` (sharp null).

        The allocation is re-drawn within teams (each keeps its number treated; cells are
        baseline attributes and stay fixed); the statistic is the estimated effect or
        contrast. One set of allocations serves all rows, so ``p_romano_wolf`` adjusts across
        them from the joint draws. Columns as :meth:`wild_cluster_bootstrap` (conf_low, conf_high
        NaN).
        """
        return family_randomization(
            self._family(), n_draws=n_draws, seed=seed, exact_if_at_most=exact_if_at_most
        )

    def _family(self) -> ContrastFamily:
        """Every row of :data:`CONTRASTS`, keyed by ``version`` and ``contrast``."""
        return [
            (
                self.cell_design(version),
                [({"version": version, "contrast": name}, c) for name, c in contrasts],
            )
            for version, contrasts in CONTRASTS.items()
        ]


@accepts_pandas("data")
def peer_effects(
    data: pl.DataFrame,
    outcomes: str | Sequence[str],
    covariates: Sequence[str] = (),
    *,
    cutoff: int = 8,
    peer_cutoff: int = 8,
    peer_threshold: float | None = None,
    score: str = C.UWSES,
    treated: str = C.TREATED,
    stratum: str | None = C.STRATUM,
    cluster: str = C.CLUSTER,
    interact_strata: bool = False,
    vcov: str = "CRV1",
    level: float = 0.95,
    min_cell: int = 5,
    missing: Missing = "raise",
) -> PeerResult:
    """Model (4), both versions. The peer share is computed on the analysed sample's teams.

    Table columns: version ("four-cell", "restricted"), group (cell), term, outcome,
    estimate, std_error, conf_low, conf_high, p_value, n_obs, n_clusters, control_mean,
    group_share; plus ``peer_threshold`` (the median used). The returned :class:`PeerResult`
    also offers ``.wild_cluster_bootstrap()`` and ``.randomization_inference()``.
    """
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
    frame = sample.frame
    low = low_self_efficacy(frame, cutoff, score).to_numpy()

    threshold = (
        team_low_share_median(frame, peer_cutoff, score=score, cluster=cluster)
        if peer_threshold is None
        else float(peer_threshold)
    )
    plow = peers_low(frame, peer_cutoff, threshold=threshold, score=score, cluster=cluster)
    cells = (2 * (1 - low) + (1 - plow.to_numpy())).astype(np.intp)
    check_cells(sample.treated, cells, CELLS, min_cell, "peer cells")
    parts, fits = [], {}
    n_out = len(sample.outcomes)
    for version, (groups, names) in _VERSIONS.items():
        fit = fit_cells(sample, cells, CELLS, groups, interact_strata=interact_strata, vcov=vcov)
        fits[version] = fit
        means, shares = group_means(sample, cells, groups)
        parts.append(
            fit_rows(
                fit,
                level,
                [f"{treated}:{g}" for g in names],
                sample.outcomes,
                means,
                extra={
                    "version": version,
                    "group": [g for g in names for _ in range(n_out)],
                    "group_share": np.repeat(shares, n_out),
                    "peer_threshold": threshold,
                },
            )
        )
    table = pl.concat(parts, how="vertical_relaxed").select(
        "version", "group", "term", "outcome", pl.exclude("version", "group", "term", "outcome")
    )
    return PeerResult(
        model="(4) peer composition",
        table=table,
        vcov_type=vcov,
        level=level,
        n_obs=sample.y.shape[0],
        n_clusters=sample.n_clusters,
        n_dropped=sample.n_dropped,
        drop_reason=sample.drop_reason,
        fits=fits,
        sample=sample,
        cells=cells,
        interact_strata=interact_strata,
    )
