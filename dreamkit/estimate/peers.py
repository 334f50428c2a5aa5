r"""Peer composition, model (4) of the reference study.

Cells: own self-efficacy (Low_i = 1{UW-SES <= ``cutoff``}, default 0-8 as in the study's
table) x peers (PeersLow_i = 1 when the leave-one-out share of team-mates with
UW-SES <= ``peer_cutoff`` exceeds the median over teams, :mod:`dreamkit.design.peers`).

* four-cell version: one effect per cell,
  :math:`Y_i = \sum_{c=1}^4 \tau_c T_i 1\{c_i = c\} + \text{cell terms} + X_i'\delta + e_i`;
* restricted version: the two high-SE cells share one effect (three effects).

Cell terms are municipality fixed effects plus cell dummies (``interact_strata=False``,
default) or municipality x cell fixed effects (``True``, as in model 3). Team-clustered.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from dreamkit.design import columns as C
from dreamkit.design.peers import peers_low, team_low_share_median
from dreamkit.design.selfefficacy import low_self_efficacy
from dreamkit.estimate.cells import check_cells, fit_cells, group_means
from dreamkit.estimate.design_matrix import Missing, prepare_sample
from dreamkit.estimate.result import EstimateResult, fit_rows

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
) -> EstimateResult:
    """Model (4), both versions. The peer share is computed on the analysed sample's teams.

    Table columns: version ("four-cell", "restricted"), group (cell), term, outcome,
    estimate, std_error, ci_low, ci_high, p_value, n_obs, n_clusters, control_mean,
    group_share; plus ``peer_threshold`` (the median used).
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
    return EstimateResult(
        model="(4) peer composition",
        table=table,
        vcov_type=vcov,
        level=level,
        n_obs=sample.y.shape[0],
        n_clusters=sample.n_clusters,
        n_dropped=sample.n_dropped,
        drop_reason=sample.drop_reason,
        fits=fits,
    )
