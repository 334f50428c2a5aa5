"""The trial table: canonical columns, validation, UW-SES scoring, peer composition and
stratified pairwise allocation for small trials."""

from dreamkit.design.allocation import (
    PairwiseAllocation,
    pairwise_allocation,
    proportional_pairs,
)
from dreamkit.design.peers import peer_low_share, peers_low, team_low_share_median
from dreamkit.design.selfefficacy import (
    DEFAULT_CUTOFFS,
    UWSES_MAX,
    check_cutoff,
    low_self_efficacy,
    uwses_total,
)
from dreamkit.design.trial import validate_trial

__all__ = [
    "DEFAULT_CUTOFFS",
    "UWSES_MAX",
    "PairwiseAllocation",
    "check_cutoff",
    "low_self_efficacy",
    "pairwise_allocation",
    "peer_low_share",
    "peers_low",
    "proportional_pairs",
    "team_low_share_median",
    "uwses_total",
    "validate_trial",
]
