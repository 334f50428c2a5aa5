"""Observational programme comparisons on the person-period panel (``docs/observational.md``).

Event studies with person and period effects (:func:`event_study`, and
:func:`event_study_register` straight from the register's state array), heterogeneity-robust
staggered difference-in-differences (:func:`callaway_santanna`, :func:`sun_abraham`) and
dynamic matching on register histories (:func:`match_histories`).
"""

from dreamkit.estimate.panel.event_study import (
    EventStudyResult,
    event_study,
    event_study_register,
)
from dreamkit.estimate.panel.matching import MatchResult, match_histories
from dreamkit.estimate.panel.staggered import StaggeredResult, callaway_santanna, sun_abraham

__all__ = [
    "EventStudyResult",
    "MatchResult",
    "StaggeredResult",
    "callaway_santanna",
    "event_study",
    "event_study_register",
    "match_histories",
    "sun_abraham",
]
