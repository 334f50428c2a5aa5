"""From the weekly register to analysis variables: alignment on allocation, shares,
durations, spells, pre-allocation windows, status at horizons and the sample-flow ledger.

The one-call entry point is :func:`build_outcomes`; the array functions underneath are public
for custom outcomes. Definitions and formulas: ``docs/outcomes.md``.
"""

from dreamkit.outcomes.align import UNOBSERVED, AlignedTrial, Alignment, align_trial, aligned_window
from dreamkit.outcomes.build import Outcomes, build_outcomes
from dreamkit.outcomes.destinations import exit_destinations
from dreamkit.outcomes.durations import Duration, duration_to_exit, duration_to_spell
from dreamkit.outcomes.horizons import (
    HorizonStatus,
    StatusRule,
    StatusSpec,
    month_week,
    status_at_horizons,
)
from dreamkit.outcomes.ledger import FlowStep, SampleFlow
from dreamkit.outcomes.recurrent import check_no_overlap, relapse_episodes, relapse_outcomes
from dreamkit.outcomes.shares import (
    cumulative_counts,
    cumulative_shares,
    state_paths,
    total_share,
    week_indicators,
)
from dreamkit.outcomes.spec import OutcomeSpec
from dreamkit.outcomes.spells import run_lengths, spell_table
from dreamkit.outcomes.windows import pre_window_bounds, pre_window_shares

__all__ = [
    "UNOBSERVED",
    "AlignedTrial",
    "Alignment",
    "Duration",
    "FlowStep",
    "HorizonStatus",
    "OutcomeSpec",
    "Outcomes",
    "SampleFlow",
    "StatusRule",
    "StatusSpec",
    "align_trial",
    "aligned_window",
    "build_outcomes",
    "check_no_overlap",
    "cumulative_counts",
    "cumulative_shares",
    "duration_to_exit",
    "duration_to_spell",
    "exit_destinations",
    "month_week",
    "pre_window_bounds",
    "pre_window_shares",
    "relapse_episodes",
    "relapse_outcomes",
    "run_lengths",
    "spell_table",
    "state_paths",
    "status_at_horizons",
    "total_share",
    "week_indicators",
]
