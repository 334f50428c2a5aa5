"""The outcome definitions of an analysis: state sets and thresholds, with the study's values.

Column names of the person table built by :func:`dreamkit.outcomes.build_outcomes`:

* ``{prefix}_share_{w}`` for every ``prefix -> set`` of ``paths`` and w = 1..W;
* ``{prefix}_share_{W}`` for every ``prefix -> set`` of ``totals`` (share over weeks 1..W);
* ``dur_emp`` / ``event_emp``: weeks to the first spell of ``spell_weeks`` weeks in
  ``spell_set`` and its event flag; ``dur_sick`` / ``event_sick``: weeks to the first week
  outside ``exit_set`` and its event flag;
* ``pre_{prefix}_{b}_{e}`` for every ``prefix -> set`` of ``pre_sets`` and pre-allocation
  window b..e weeks before allocation, plus ``pre_{prefix}_{P}_1`` over all P weeks (when
  there is more than one window).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from dreamkit.errors import InputError
from dreamkit.outcomes.windows import pre_window_bounds
from dreamkit.register.codemap import CodeMap

DUR_EMP, EVENT_EMP = "dur_emp", "event_emp"
DUR_SICK, EVENT_SICK = "dur_sick", "event_sick"


def _paths() -> dict[str, str]:
    return {"emp": "employment", "sick": "sickness"}


def _totals() -> dict[str, str]:
    return {"act_guidance": "activation_guidance", "act_firm": "activation_firm"}


@dataclass(frozen=True)
class OutcomeSpec:
    """Outcome definitions (module docstring for the column names).

    Attributes:
        weeks: W, outcomes for weeks 1..W after the allocation week (study: 81).
        paths: prefix -> state set whose cumulative share is returned for every w = 1..W
            (study: employment; sickness benefit etc. incl. disability pension and sheltered
            job).
        totals: prefix -> state set whose share is returned for w = W only (activation).
        spell_set: set of the duration-to-spell outcome (ordinary employment).
        spell_weeks: k, the minimum spell length (the study's 4-week rule).
        exit_set: set of the duration-to-exit outcome (sickness benefit etc. *without*
            disability pension and sheltered job).
        pre_weeks: P, pre-allocation weeks covered (104).
        pre_window_length: L, weeks per pre-allocation window (13).
        pre_sets: prefix -> state set of the pre-allocation shares.
    """

    weeks: int = 81
    paths: Mapping[str, str] = field(default_factory=_paths)
    totals: Mapping[str, str] = field(default_factory=_totals)
    spell_set: str = "employment"
    spell_weeks: int = 4
    exit_set: str = "sickness_duration"
    pre_weeks: int = 104
    pre_window_length: int = 13
    pre_sets: Mapping[str, str] = field(default_factory=_paths)

    def __post_init__(self) -> None:
        if self.weeks < 1:
            raise InputError(f"OutcomeSpec.weeks must be >= 1, got {self.weeks}.")
        if self.spell_weeks < 1:
            raise InputError(f"OutcomeSpec.spell_weeks must be >= 1, got {self.spell_weeks}.")
        pre_window_bounds(self.pre_weeks, self.pre_window_length)
        names = self.columns()
        if len(set(names)) != len(names):
            dup = sorted({c for c in names if names.count(c) > 1})
            raise InputError(
                f"OutcomeSpec produces duplicate column(s) {dup[:5]}; use distinct prefixes in "
                "paths, totals and pre_sets."
            )

    @property
    def first_week(self) -> int:
        """First relative week the outcomes need (-P, or 1 without pre-allocation sets)."""
        return -self.pre_weeks if self.pre_sets else 1

    def pre_windows(self) -> list[tuple[int, int]]:
        """Pre-allocation windows (b, e) in weeks before allocation, then (P, 1) if P > L."""
        if not self.pre_sets:
            return []
        bounds = pre_window_bounds(self.pre_weeks, self.pre_window_length)
        return [*bounds, (self.pre_weeks, 1)] if len(bounds) > 1 else bounds

    def path_columns(self, prefix: str) -> list[str]:
        """Columns ``{prefix}_share_1..W`` of one path set."""
        return [f"{prefix}_share_{w}" for w in range(1, self.weeks + 1)]

    def columns(self) -> list[str]:
        """All outcome columns in the order of the person table."""
        cols = [c for prefix in self.paths for c in self.path_columns(prefix)]
        cols += [f"{prefix}_share_{self.weeks}" for prefix in self.totals]
        cols += [DUR_EMP, EVENT_EMP, DUR_SICK, EVENT_SICK]
        cols += [f"pre_{p}_{b}_{e}" for p in self.pre_sets for b, e in self.pre_windows()]
        return cols

    def check_sets(self, codemap: CodeMap) -> None:
        """Check that every named set exists in the code map (raises CodeMapError if not)."""
        for name in [*self.paths.values(), *self.totals.values(), *self.pre_sets.values()]:
            codemap.mask(name)
        codemap.mask(self.spell_set)
        codemap.mask(self.exit_set)
