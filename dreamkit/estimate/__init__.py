"""Estimators of the reference study.

ITT paths, balance, self-efficacy heterogeneity, peers, robustness and hazards; each is one
call returning a result with a tidy polars table. Equations: ``docs/estimators.md`` and
``docs/hazard.md``.
"""

from dreamkit.estimate.duration.competing import (
    CompetingRisksHazard,
    CompetingRisksResult,
    aalen_johansen,
)
from dreamkit.estimate.duration.duration_dependence import (
    intervals,
    log_polynomial,
    piecewise,
    week_dummies,
)
from dreamkit.estimate.duration.hazard import DiscreteTimeHazard, HazardResult
from dreamkit.estimate.duration.person_period import expand_person_periods, expand_spells
from dreamkit.estimate.duration.survival import cox, kaplan_meier
from dreamkit.estimate.linear.balance import balance, study_samples
from dreamkit.estimate.linear.heterogeneity import selfefficacy_grid
from dreamkit.estimate.linear.itt import PathResult, effect_path
from dreamkit.estimate.linear.peers import peer_effects
from dreamkit.estimate.linear.prognostic import prognostic_selection, tobit
from dreamkit.estimate.linear.robustness import (
    group_level,
    no_covariates,
    stratum_interacted,
    subgroups,
    waiting_time_split,
)
from dreamkit.estimate.results import EstimateResult

__all__ = [
    "CompetingRisksHazard",
    "CompetingRisksResult",
    "DiscreteTimeHazard",
    "EstimateResult",
    "HazardResult",
    "PathResult",
    "aalen_johansen",
    "balance",
    "cox",
    "effect_path",
    "expand_person_periods",
    "expand_spells",
    "group_level",
    "intervals",
    "kaplan_meier",
    "log_polynomial",
    "no_covariates",
    "peer_effects",
    "piecewise",
    "prognostic_selection",
    "selfefficacy_grid",
    "stratum_interacted",
    "study_samples",
    "subgroups",
    "tobit",
    "waiting_time_split",
    "week_dummies",
]
