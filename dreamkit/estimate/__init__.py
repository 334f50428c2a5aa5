"""Estimators of the reference study.

ITT paths, balance, self-efficacy heterogeneity, peers, robustness and hazards; each is one
call returning a result with a tidy polars table. Equations: ``docs/estimators.md`` and
``docs/hazard.md``.
"""

from dreamkit.estimate.balance import balance, study_samples
from dreamkit.estimate.duration_dependence import (
    intervals,
    log_polynomial,
    piecewise,
    week_dummies,
)
from dreamkit.estimate.hazard import DiscreteTimeHazard, HazardResult
from dreamkit.estimate.heterogeneity import selfefficacy_grid
from dreamkit.estimate.itt import PathResult, effect_path
from dreamkit.estimate.peers import peer_effects
from dreamkit.estimate.person_period import expand_person_periods, expand_spells
from dreamkit.estimate.prognostic import prognostic_selection, tobit
from dreamkit.estimate.result import EstimateResult
from dreamkit.estimate.robustness import (
    group_level,
    no_covariates,
    stratum_interacted,
    subgroups,
    waiting_time_split,
)
from dreamkit.estimate.survival import cox, kaplan_meier

__all__ = [
    "DiscreteTimeHazard",
    "EstimateResult",
    "HazardResult",
    "PathResult",
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
