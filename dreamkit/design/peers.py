r"""Peer composition: the leave-one-out share of team-mates with low self-efficacy.

For person i in team h with :math:`n_h` members and low-SE indicator :math:`L_j`,

.. math:: P_i = \frac{\sum_{j\in h} L_j - L_i}{n_h - 1},

the share of i's team-mates (everyone in the team but i) with low self-efficacy.
``PeersLow_i = 1{P_i > m}`` with m by default the median over teams of the team shares
:math:`\bar L_h = \sum_{j\in h} L_j / n_h` (one value per team; 0.54 in the study), or a given
threshold.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from dreamkit.design import columns as C
from dreamkit.design.selfefficacy import low_self_efficacy
from dreamkit.errors import TrialDesignError


def peer_low_share(
    data: pl.DataFrame,
    cutoff: int = 8,
    *,
    score: str = C.UWSES,
    cluster: str = C.CLUSTER,
) -> pl.Series:
    """Leave-one-out share of team-mates with ``score <= cutoff`` (Float64 ``peer_low_share``)."""
    low = low_self_efficacy(data, cutoff, score)
    frame = pl.DataFrame({"team": data[cluster], "low": low.cast(pl.Float64)})
    sums = frame.select(
        pl.col("low").sum().over("team").alias("s"), pl.len().over("team").alias("n")
    )
    singles = int((sums["n"] < 2).sum())
    if singles:
        raise TrialDesignError(
            f"{singles} person(s) are alone in their {cluster!r}; a leave-one-out peer share "
            "needs at least two members per team."
        )
    share = (sums["s"] - frame["low"]) / (sums["n"] - 1)
    return share.cast(pl.Float64).alias("peer_low_share")


def team_low_share_median(
    data: pl.DataFrame, cutoff: int = 8, *, score: str = C.UWSES, cluster: str = C.CLUSTER
) -> float:
    """Median over teams of the team share with low self-efficacy (one value per team)."""
    low = low_self_efficacy(data, cutoff, score).cast(pl.Float64)
    shares = (
        pl.DataFrame({"team": data[cluster], "low": low}).group_by("team").agg(pl.col("low").mean())
    )
    return float(np.median(shares["low"].to_numpy()))


def peers_low(
    data: pl.DataFrame,
    cutoff: int = 8,
    *,
    threshold: float | None = None,
    score: str = C.UWSES,
    cluster: str = C.CLUSTER,
) -> pl.Series:
    """PeersLow (Int8): 1 when the leave-one-out low-SE share exceeds ``threshold``
    (default: :func:`team_low_share_median`)."""
    share = peer_low_share(data, cutoff, score=score, cluster=cluster)
    m = (
        team_low_share_median(data, cutoff, score=score, cluster=cluster)
        if threshold is None
        else threshold
    )
    return (share > m).cast(pl.Int8).alias("peers_low")
