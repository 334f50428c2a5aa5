"""Which report sections run on a given trial, and, for those that cannot, why.

The report needs only the five columns :func:`dreamkit.design.trial.validate_trial` requires
(person, stratum, cluster, arm, allocation date) and the code map's three outcome sets. Every
other part runs when its inputs exist and is otherwise left out with one sentence saying why:

* the **waiting-time split** (descriptive groups, balance samples, Kaplan-Meier curves and
  hazards by waiting time, the waiting-time subgroup) needs ``waiting_days``, which
  :func:`~dreamkit.design.trial.validate_trial` derives from ``team_last_allocation`` (or a
  ``waiting_days`` column mapped in ``[input].rename``);
* the **self-efficacy groups and models** (descriptive and balance groups, model (3), the peer
  model (4)) need the UW-SES total ``uwses`` (derived from ``uwses_1..uwses_6``);
* the **activation outcomes** need the code map to know the ``[outcomes].activation_sets``;
* **balance** and the **prognostic Tobit** need at least one numeric baseline variable;
* **subgroups** need at least one 0/1 subgroup column (or the waiting-time split);
* **status at horizons and binary outcomes** needs ``[horizons].months`` (empty by default)
  and the code-map sets of its success statuses (checked when the section runs);
* the prognostic covariates X and subgroup columns of the reference study (the defaults) that a
  trial table lacks are left out with a note; columns named in the configuration itself must
  exist (:class:`~dreamkit.errors.ConfigError` otherwise).

A model that exists but is not identified on the data (an estimator raises
:class:`~dreamkit.errors.EstimationError`) is reported as not estimable with the estimator's
reason, in its section; no section stops the report. :func:`make_plan` is what
``dreamkit config --check`` prints and what the sections consult.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import polars as pl

from dreamkit.config import PROGNOSTIC_COVARIATES, SUBGROUPS, Config
from dreamkit.design import columns as C
from dreamkit.errors import ConfigError

#: (section id, title) in report order.
SECTION_TITLES: tuple[tuple[str, str], ...] = (
    ("sample-flow", "Sample flow"),
    ("descriptive", "Descriptive statistics"),
    ("balance", "Balance"),
    ("prognostic", "Prognostic covariates"),
    ("survival", "Survival and hazards"),
    ("effect-paths", "Effect paths"),
    ("activation", "Activation outcomes"),
    ("self-efficacy", "Heterogeneity by self-efficacy"),
    ("peers", "Peer composition"),
    ("robustness", "Robustness"),
    ("subgroups", "Subgroups"),
    ("horizons", "Status at horizons and binary outcomes"),
    ("observational", "Observational comparison (programme starts)"),
)

#: Why the observational section does not run without a starts file.
NO_STARTS = (
    "no programme starts given ([observational].starts); this section serves non-randomised "
    "comparisons."
)

#: Optional parts of several sections, with the sections that use them.
WAITING_TIME = "waiting-time split"
SELF_EFFICACY = "self-efficacy groups"
PART_USERS = {
    WAITING_TIME: "descriptive, balance, survival, subgroups",
    SELF_EFFICACY: "descriptive, balance",
}

_DESIGN = {
    C.PERSON,
    C.STRATUM,
    C.CLUSTER,
    C.TREATED,
    C.ALLOCATION_DATE,
    C.TEAM_LAST_ALLOCATION,
    C.ALLOCATION_WEEK,
}


@dataclass(frozen=True)
class Plan:
    """What runs: ``skip`` maps section ids that do not run to the reason, ``parts`` maps
    optional parts left out to the reason; ``notes`` are sentences for the report preamble."""

    skip: dict[str, str]
    parts: dict[str, str]
    notes: tuple[str, ...] = ()

    def runs(self, section: str) -> bool:
        return section not in self.skip

    def has(self, part: str) -> bool:
        return part not in self.parts

    def lines(self) -> list[str]:
        """Human-readable plan, one line per section and per left-out part."""
        out = []
        for sid, title in SECTION_TITLES:
            reason = self.skip.get(sid)
            out.append(
                f"  runs:     {title}" if reason is None else f"  skipped:  {title}: {reason}"
            )
        for part, reason in self.parts.items():
            out.append(f"  left out: {part} (in {PART_USERS[part]}): {reason}")
        out += [f"  note:     {n}" for n in self.notes]
        return out


def waiting_reason(persons: pl.DataFrame) -> str | None:
    """Why the waiting-time split cannot run, or ``None``."""
    if C.WAITING_DAYS not in persons.columns:
        return (
            "the trial table has no waiting-time column (team_last_allocation, or waiting_days); "
            "provide one or map yours in [input].rename."
        )
    if not persons[C.WAITING_DAYS].dtype.is_numeric():
        return f"the waiting-time column {C.WAITING_DAYS!r} is not numeric (days); recode it."
    if persons[C.WAITING_DAYS].null_count() == persons.height:
        return "the waiting-time column has no values."
    return None


def self_efficacy_reason(persons: pl.DataFrame) -> str | None:
    """Why the UW-SES groups and models cannot run, or ``None``."""
    if C.UWSES not in persons.columns:
        return (
            "the trial table has no UW-SES score (uwses_1..uwses_6, or uwses); provide them or "
            "map yours in [input].rename."
        )
    if not persons[C.UWSES].dtype.is_numeric():
        return f"the UW-SES score {C.UWSES!r} is not numeric (0-24); recode it."
    if persons[C.UWSES].null_count() == persons.height:
        return "the UW-SES score has no values."
    return None


def activation_outcomes(config: Config) -> dict[str, str]:
    """Activation outcome prefix -> code-map set (``activation_guidance`` -> ``act_guidance``)."""
    return {
        "act_" + name.removeprefix("activation_"): name for name in config.outcomes.activation_sets
    }


def baseline_variables(
    persons: pl.DataFrame, randomised: pl.DataFrame, config: Config
) -> list[str]:
    """Configured balance variables, or every numeric baseline column: the trial table's
    numeric columns without missing values and the pre-allocation window shares, leaving out
    design columns and exact linear combinations of other variables (the UW-SES items beside
    their total, the share over all P weeks beside its windows), which would make the joint
    test unidentified."""
    if config.covariates.balance:
        return list(config.covariates.balance)
    p = config.outcomes.pre_weeks
    design = _DESIGN | {config.design.stratum, config.design.cluster}
    excluded = design | set(C.UWSES_ITEMS) | {f"pre_emp_{p}_1", f"pre_sick_{p}_1"}
    trial_cols = [
        c
        for c, dtype in randomised.schema.items()
        if c not in excluded
        and dtype.is_numeric()
        and c in persons.columns
        and persons[c].null_count() == 0
    ]
    pre = [
        c
        for c in persons.columns
        if c.startswith(("pre_emp_", "pre_sick_")) and c not in excluded and c[-1].isdigit()
    ]
    return trial_cols + [c for c in pre if c not in trial_cols]


def _is_binary(values: pl.Series) -> bool:
    if not values.dtype.is_numeric():
        return False
    present = values.drop_nulls().cast(pl.Float64)
    return present.len() > 0 and bool(((present == 0.0) | (present == 1.0)).all())


def _is_complete_number(values: pl.Series) -> bool:
    numeric = values.dtype.is_numeric() or values.dtype == pl.Boolean
    return numeric and values.null_count() == 0


def resolve_columns(persons: pl.DataFrame, config: Config) -> tuple[Config, list[str]]:
    """The configuration with the reference study's default covariates and subgroups that the
    data lack (or hold in another coding) left out, and a note per omission. Columns the
    configuration names itself (not the defaults) must exist, prognostic covariates must be
    numeric and subgroups coded 0/1: :class:`ConfigError` otherwise."""
    cov = config.covariates
    notes: list[str] = []
    named = {
        "[design].stratum": [config.design.stratum],
        "[design].cluster": [config.design.cluster],
        "[covariates].balance": list(cov.balance),
    }
    if cov.prognostic != PROGNOSTIC_COVARIATES:
        named["[covariates].prognostic"] = list(cov.prognostic)
    if cov.subgroups != SUBGROUPS:
        named["[covariates].subgroups"] = list(cov.subgroups)
    for key, cols in named.items():
        missing = [c for c in cols if c not in persons.columns]
        if missing:
            raise ConfigError(
                f"{key} names column {missing[0]!r}, which the analysis table does not have; "
                "fix the name or map your column in [input].rename"
            )
    wanted = cov.prognostic
    if wanted == PROGNOSTIC_COVARIATES:  # the study's pre-allocation sick share over all P weeks
        p = config.outcomes.pre_weeks
        wanted = tuple(f"pre_sick_{p}_1" if c == "pre_sick_104_1" else c for c in wanted)
    prognostic = _usable(
        persons,
        wanted,
        _is_complete_number,
        "[covariates].prognostic",
        "numeric without missing values",
        notes,
        explicit=cov.prognostic != PROGNOSTIC_COVARIATES,
    )
    subgroups = _usable(
        persons,
        cov.subgroups,
        _is_binary,
        "[covariates].subgroups",
        "0/1",
        notes,
        explicit=cov.subgroups != SUBGROUPS,
    )
    covariates = replace(cov, prognostic=prognostic, subgroups=subgroups)
    return replace(config, covariates=covariates), notes


def _usable(
    persons: pl.DataFrame,
    wanted: tuple[str, ...],
    ok: Callable[[pl.Series], bool],
    key: str,
    coding: str,
    notes: list[str],
    *,
    explicit: bool,
) -> tuple[str, ...]:
    """The columns of ``wanted`` the analysis can use. An explicitly configured column in
    another coding is a ConfigError; a reference-study default that is absent or in another
    coding is left out with a note."""
    bad = [c for c in wanted if c in persons.columns and not ok(persons[c])]
    if bad and explicit:
        raise ConfigError(
            f"{key} names column {bad[0]!r}, which is not {coding}; recode it or remove it "
            "from the list"
        )
    used = tuple(c for c in wanted if c in persons.columns and c not in bad)
    left = [c for c in wanted if c not in used]
    if left:
        what = "Prognostic covariates" if "prognostic" in key else "Subgroups"
        notes.append(
            f"{what}: the reference study's {', '.join(left)} are not in the trial table (or "
            f"not {coding}) and are left out (set {key}); used: {', '.join(used) or 'none'}."
        )
    return used


def make_plan(
    persons: pl.DataFrame,
    randomised: pl.DataFrame,
    config: Config,
    notes: tuple[str, ...] = (),
) -> Plan:
    """The sections and parts that run on this analysis table (module docstring)."""
    parts: dict[str, str] = {}
    skip: dict[str, str] = {}
    wait = waiting_reason(persons)
    if wait is not None:
        parts[WAITING_TIME] = wait
    se = self_efficacy_reason(persons)
    if se is not None:
        parts[SELF_EFFICACY] = se
        skip["self-efficacy"] = se
        skip["peers"] = se
    variables = baseline_variables(persons, randomised, config)
    with_nulls = [
        c
        for c, dtype in randomised.schema.items()
        if dtype.is_numeric()
        and c in persons.columns
        and c not in variables
        and persons[c].null_count()
    ]
    if with_nulls and not config.covariates.balance:
        notes = (
            *notes,
            f"Balance and prognostic screening leave out {', '.join(with_nulls)}: missing "
            "values (list them in [covariates].balance after filling them in).",
        )
    if not variables:
        reason = "the analysis table has no numeric baseline variable."
        skip["balance"] = reason
        skip["prognostic"] = reason
    w = config.outcomes.weeks
    missing_sets = [
        name
        for prefix, name in activation_outcomes(config).items()
        if f"{prefix}_share_{w}" not in persons.columns
    ]
    if not config.outcomes.activation_sets:
        skip["activation"] = "[outcomes].activation_sets is empty."
    elif len(missing_sets) == len(config.outcomes.activation_sets):
        skip["activation"] = (
            f"the code map has no set or state {missing_sets[0]!r}; add it to the code map or "
            "set [outcomes].activation_sets."
        )
    if not config.horizons.months:
        skip["horizons"] = "no horizons configured ([horizons].months)."
    if not config.covariates.subgroups and wait is not None:
        skip["subgroups"] = "no 0/1 subgroup column and no waiting-time column."
    if config.observational.starts is None:
        skip["observational"] = NO_STARTS
    return Plan(skip, parts, notes)
