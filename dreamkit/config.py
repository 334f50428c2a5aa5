"""The TOML analysis configuration of a dreamkit report, validated strictly in one place.

An analysis configuration says where the data come from (a synthetic trial from the simulator,
or a DREAM-style register file plus a trial table), how outcomes are defined (state sets, the
follow-up window W), which covariates, cut-offs and clusters the models use, how inference is
run (bootstrap draws, randomisation-inference draws, band level, seed) and the disclosure
threshold. Every key has a documented default (the reference study's choices), so an empty file
is a valid configuration. Unknown keys, wrong types and missing files raise
:class:`~dreamkit.errors.ConfigError` with a one-line message that names the key, e.g.
``[outcomes].weeks must be an integer, got "81"``.

:data:`EXAMPLE` is an annotated example (``dreamkit config --example`` prints it).
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from dreamkit.errors import ConfigError

#: The study's four prognostic baseline covariates X of model (2).
PROGNOSTIC_COVARIATES = ("belief_in_treatment", "expected_return", "ordinary_job", "pre_sick_104_1")
#: The study's subgroup indicators (binary baseline columns).
SUBGROUPS = (
    "female",
    "age_50plus",
    "partner",
    "higher_education",
    "pre_sick_above_median",
    "pre_emp_above_median",
    "public_job",
    "ordinary_job",
    "mental_cause",
    "work_related",
)


@dataclass(frozen=True)
class InputConfig:
    """``[input]``: where the register and the trial table come from."""

    source: str = "synthetic"  # "synthetic" or "files"
    register: Path | None = None  # DREAM-style register file (Parquet or CSV), source = "files"
    register_format: str = "wide"  # "wide" (y_YYWW columns) or "long" (person, week, code)
    trial: Path | None = None  # trial table file (Parquet or CSV), source = "files"
    employment: Path | None = None  # employment table (person, month|week, employed)
    employment_unit: str = "month"  # "month" (Thursday rule) or "week": the table's time unit
    first_week: str | None = None  # register span, e.g. "y_0801"; default: the file's span
    last_week: str | None = None
    codemap: Path | None = None  # code-map TOML; None = the shipped DREAM-style default
    person: str = "person_id"  # person-identifier column in both files
    # the trial table's column names -> dreamkit's names (as validate_trial(rename=...)),
    # e.g. {pnr = "person_id", kommune = "municipality", hold = "team"}
    rename: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SyntheticConfig:
    """``[synthetic]``: the simulated reference trial used when ``source = "synthetic"``."""

    seed: int = 20150801
    n_unmatched: int = 12  # trial persons absent from the register (the study had 12)


@dataclass(frozen=True)
class DesignConfig:
    """``[design]``: strata, clusters and the waiting-time split."""

    stratum: str = "municipality"
    cluster: str = "team"
    short_wait_days: int = 7  # "short wait" = waiting_days < short_wait_days


@dataclass(frozen=True)
class OutcomesConfig:
    """``[outcomes]``: the follow-up window and the code-map state sets behind each outcome."""

    weeks: int = 81  # W: outcomes for weeks 1..W after allocation
    employment_set: str = "employment"
    sickness_set: str = "sickness"  # share outcome: includes disability pension, sheltered job
    sickness_duration_set: str = "sickness_duration"  # duration outcome: excludes them
    # activation outcomes (share of weeks 1..W), each reported when the code map knows it
    activation_sets: tuple[str, ...] = ("activation_guidance", "activation_firm")
    spell_weeks: int = 4  # employment spell of at least this many consecutive weeks
    pre_weeks: int = 104  # pre-allocation windows cover weeks pre_weeks..1 before allocation
    pre_window_length: int = 13  # in windows of this many weeks (104-92, ..., 13-1)


@dataclass(frozen=True)
class CovariatesConfig:
    """``[covariates]``: prognostic covariates X, balance variables and subgroup indicators."""

    prognostic: tuple[str, ...] = PROGNOSTIC_COVARIATES
    balance: tuple[str, ...] = ()  # empty = every numeric baseline column of the trial table
    subgroups: tuple[str, ...] = SUBGROUPS


@dataclass(frozen=True)
class SelfEfficacyConfig:
    """``[self_efficacy]``: UW-SES (0-24) cut-offs; "low" = score <= cutoff."""

    cutoff: int = 10  # descriptive tables: low 0-10, high 11-24
    grid: tuple[int, ...] = (6, 7, 8, 9, 10, 11, 12, 13, 14)  # model (3): low 0-c, high c+1-24


@dataclass(frozen=True)
class PeersConfig:
    """``[peers]``: model (4); own "low" cut-off and the cut-off behind the peer share."""

    low_cutoff: int = 8  # Table 3.6: low = UW-SES 0-8
    peer_cutoff: int = 8  # low-SE definition used for the leave-one-out peer share


@dataclass(frozen=True)
class InferenceConfig:
    """``[inference]``: few-cluster inference settings."""

    bootstrap_draws: int = 999  # wild cluster bootstrap replications B
    ri_draws: int = 999  # randomisation-inference draws (within-team re-allocations)
    level: float = 0.95  # pointwise and simultaneous (sup-t) band level
    seed: int = 1


@dataclass(frozen=True)
class DisclosureConfig:
    """``[disclosure]``: cells with fewer than ``min_cell`` persons are suppressed."""

    min_cell: int = 5


#: Annotation of ``[horizons].months`` (an int list that may be empty; its own converter).
Months = tuple[int, ...]
#: Annotation of ``[horizons].success`` (status name -> code-map sets; its own converter).
StatusSets = dict[str, tuple[str, ...]]


@dataclass(frozen=True)
class HorizonsConfig:
    """``[horizons]``: status at horizons after allocation and binary outcomes (optional).

    ``months`` empty (the default) leaves the section out. ``success`` maps status names, in
    hierarchy order (first match wins), to code-map sets; empty = one status named after
    ``[outcomes].employment_set``. ``weeks_in_set``: consecutive weeks in the set, ending in
    the horizon week, that a status needs (1 = the state held in the horizon week)."""

    months: Months = ()
    success: StatusSets = field(default_factory=dict)
    weeks_in_set: int = 1


#: The estimators the observational section can run.
OBSERVATIONAL_ESTIMATORS = ("twfe", "callaway_santanna", "sun_abraham")


@dataclass(frozen=True)
class ObservationalConfig:
    """``[observational]``: the optional observational comparison by programme start.

    Without ``starts`` the section is skipped. ``starts`` is a CSV or Parquet file with one row
    per person: ``person`` id, ``start`` (week ordinal, week label column as dates, or null for
    never-started) and, if ``cluster`` is set, the cluster column (default: cluster by person).
    """

    starts: Path | None = None  # CSV or Parquet; None = section skipped
    person: str = "person_id"  # person-id column of the starts file
    start: str = "start_week"  # start column: week ordinal or date; null = never started
    cluster: str | None = None  # cluster column of the starts file; None = by person
    state_set: str = "employment"  # outcome: 1 while in this code-map set or state
    leads: int = 8
    lags: int = 26
    period: str = "week"  # "week" or "month"
    estimators: tuple[str, ...] = OBSERVATIONAL_ESTIMATORS


@dataclass(frozen=True)
class Config:
    """A validated analysis configuration (see module docstring)."""

    input: InputConfig = field(default_factory=InputConfig)
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)
    design: DesignConfig = field(default_factory=DesignConfig)
    outcomes: OutcomesConfig = field(default_factory=OutcomesConfig)
    covariates: CovariatesConfig = field(default_factory=CovariatesConfig)
    self_efficacy: SelfEfficacyConfig = field(default_factory=SelfEfficacyConfig)
    peers: PeersConfig = field(default_factory=PeersConfig)
    inference: InferenceConfig = field(default_factory=InferenceConfig)
    disclosure: DisclosureConfig = field(default_factory=DisclosureConfig)
    horizons: HorizonsConfig = field(default_factory=HorizonsConfig)
    observational: ObservationalConfig = field(default_factory=ObservationalConfig)


_SECTIONS: dict[str, type] = {f.name: f.default_factory for f in fields(Config)}  # type: ignore[misc]


def load_config(path: str | Path | None = None) -> Config:
    """Read and validate a TOML analysis configuration; ``None`` gives the defaults."""
    if path is None:
        return Config()
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} does not exist; pass an existing .toml file")
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path.name} is not valid TOML: {err}") from None
    return parse_config(doc, base_dir=path.parent)


def parse_config(doc: Mapping[str, Any], base_dir: str | Path = ".") -> Config:
    """Validate a parsed TOML document; relative paths are taken relative to ``base_dir``."""
    unknown = sorted(set(doc) - set(_SECTIONS))
    if unknown:
        raise ConfigError(
            f"unknown section [{unknown[0]}]; allowed sections are "
            + ", ".join(f"[{s}]" for s in _SECTIONS)
        )
    sections: dict[str, Any] = {}
    for name, cls in _SECTIONS.items():
        table = doc.get(name, {})
        if not isinstance(table, Mapping):
            raise ConfigError(f"[{name}] must be a table, got {_show(table)}")
        sections[name] = _parse_section(name, cls, table, Path(base_dir))
    config = Config(**sections)
    _check_consistency(config)
    return config


def _parse_section(name: str, cls: type, table: Mapping[str, Any], base_dir: Path) -> Any:
    allowed = {f.name: f for f in fields(cls)}
    for key in table:
        if key not in allowed:
            raise ConfigError(
                f"[{name}].{key} is not a known key; allowed keys are {', '.join(allowed)}"
            )
    values: dict[str, Any] = {}
    for key, value in table.items():
        where = f"[{name}].{key}"
        kind = str(allowed[key].type)
        values[key] = _CONVERTERS[kind](where, value, base_dir)
        check = _CHECKS.get(where)
        if check is not None:
            check(where, values[key])
    return cls(**values)


def _show(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    return repr(value)


def _as_int(where: str, value: Any, _: Path) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{where} must be an integer, got {_show(value)}")
    return value


def _as_float(where: str, value: Any, _: Path) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{where} must be a number, got {_show(value)}")
    return float(value)


def _as_str(where: str, value: Any, _: Path) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where} must be a non-empty string, got {_show(value)}")
    return value


def _as_path(where: str, value: Any, base_dir: Path) -> Path:
    text = _as_str(where, value, base_dir)
    path = Path(text) if Path(text).is_absolute() else base_dir / text
    if not path.is_file():
        raise ConfigError(f"{where} names a file that does not exist: {_show(str(path))}")
    return path


def _as_str_tuple(where: str, value: Any, base_dir: Path) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise ConfigError(f"{where} must be a list of strings, got {_show(value)}")
    items = tuple(_as_str(f"{where}[{i}]", v, base_dir) for i, v in enumerate(value))
    if len(set(items)) != len(items):
        raise ConfigError(f"{where} lists a name twice; give each name once")
    return items


def _as_rename(where: str, value: Any, base_dir: Path) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise ConfigError(
            f'{where} must be a table of column names, e.g. {{ pnr = "person_id" }}, '
            f"got {_show(value)}"
        )
    out = {
        _as_str(f"{where} key", key, base_dir): _as_str(f"{where}.{key}", v, base_dir)
        for key, v in value.items()
    }
    targets = list(out.values())
    twice = sorted({t for t in targets if targets.count(t) > 1})
    if twice:
        raise ConfigError(f"{where} maps two columns to {twice[0]!r}; map one column to each name")
    return out


def _as_int_tuple(where: str, value: Any, base_dir: Path) -> tuple[int, ...]:
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{where} must be a non-empty list of integers, got {_show(value)}")
    return tuple(_as_int(f"{where}[{i}]", v, base_dir) for i, v in enumerate(value))


def _as_months(where: str, value: Any, base_dir: Path) -> tuple[int, ...]:
    if not isinstance(value, list):
        raise ConfigError(f"{where} must be a list of integers (months), got {_show(value)}")
    months = tuple(_as_int(f"{where}[{i}]", v, base_dir) for i, v in enumerate(value))
    if len(set(months)) != len(months):
        raise ConfigError(f"{where} lists a horizon twice; give each horizon once")
    return months


def _as_status_sets(where: str, value: Any, base_dir: Path) -> dict[str, tuple[str, ...]]:
    if not isinstance(value, Mapping):
        raise ConfigError(
            f"{where} must be a table of status names -> code-map sets, e.g. "
            f'{{ self_support = ["employment"] }}, got {_show(value)}'
        )
    out = {}
    for key, sets in value.items():
        name = _as_str(f"{where} key", key, base_dir)
        items = _as_str_tuple(f"{where}.{name}", sets, base_dir)
        if not items:
            raise ConfigError(f'{where}.{name} names no set; give e.g. ["employment"]')
        out[name] = items
    return out


_CONVERTERS: dict[str, Callable[[str, Any, Path], Any]] = {
    "int": _as_int,
    "float": _as_float,
    "str": _as_str,
    "str | None": _as_str,
    "Path | None": _as_path,
    "tuple[str, ...]": _as_str_tuple,
    "tuple[int, ...]": _as_int_tuple,
    "dict[str, str]": _as_rename,
    "Months": _as_months,
    "StatusSets": _as_status_sets,
}


def _one_of(*allowed: str) -> Callable[[str, Any], None]:
    def check(where: str, value: Any) -> None:
        if value not in allowed:
            raise ConfigError(
                f"{where} must be one of {', '.join(map(_show, allowed))}, got {_show(value)}"
            )

    return check


def _between(low: float, high: float) -> Callable[[str, Any], None]:
    def check(where: str, value: Any) -> None:
        values = value if isinstance(value, tuple) else (value,)
        for v in values:
            if not low <= v <= high:
                raise ConfigError(f"{where} must lie in [{low:g}, {high:g}], got {_show(v)}")

    return check


def _subset_of(*allowed: str) -> Callable[[str, Any], None]:
    def check(where: str, value: Any) -> None:
        if not value:
            raise ConfigError(f"{where} must name at least one of {', '.join(map(_show, allowed))}")
        for v in value:
            if v not in allowed:
                raise ConfigError(
                    f"{where} must list some of {', '.join(map(_show, allowed))}, got {_show(v)}"
                )

    return check


def _week_label(where: str, value: Any) -> None:
    from dreamkit.errors import WeekLabelError
    from dreamkit.register.labels import week_of_value

    try:
        week_of_value(value, column=where)
    except WeekLabelError:
        raise ConfigError(
            f'{where} must be a week label such as "y_0801" (or YYYYWW, or a date '
            f"YYYY-MM-DD), got {_show(value)}"
        ) from None


_CHECKS: dict[str, Callable[[str, Any], None]] = {
    "[input].first_week": _week_label,
    "[input].last_week": _week_label,
    "[input].source": _one_of("synthetic", "files"),
    "[input].register_format": _one_of("wide", "long"),
    "[input].employment_unit": _one_of("month", "week"),
    "[synthetic].n_unmatched": _between(0, 10_000),
    "[synthetic].seed": _between(0, 2**63 - 1),
    "[design].short_wait_days": _between(1, 365),
    "[outcomes].weeks": _between(1, 520),
    "[outcomes].spell_weeks": _between(1, 52),
    "[outcomes].pre_weeks": _between(1, 520),
    "[outcomes].pre_window_length": _between(1, 520),
    "[self_efficacy].cutoff": _between(0, 23),
    "[self_efficacy].grid": _between(0, 23),
    "[peers].low_cutoff": _between(0, 23),
    "[peers].peer_cutoff": _between(0, 23),
    "[inference].bootstrap_draws": _between(9, 1_000_000),
    "[inference].ri_draws": _between(9, 1_000_000),
    "[inference].level": _between(0.5, 0.999),
    "[inference].seed": _between(0, 2**63 - 1),
    "[disclosure].min_cell": _between(1, 1000),
    "[horizons].months": _between(1, 120),
    "[horizons].weeks_in_set": _between(1, 52),
    "[observational].leads": _between(1, 520),
    "[observational].lags": _between(0, 520),
    "[observational].period": _one_of("week", "month"),
    "[observational].estimators": _subset_of(*OBSERVATIONAL_ESTIMATORS),
}


def _check_consistency(config: Config) -> None:
    inp = config.input
    if inp.source == "files":
        for key in ("register", "trial"):
            if getattr(inp, key) is None:
                raise ConfigError(f'[input].{key} is required when [input].source = "files"')
    elif any(
        p is not None
        for p in (inp.register, inp.trial, inp.employment, inp.first_week, inp.last_week)
    ):
        raise ConfigError(
            "[input].register, trial, employment, first_week and last_week are only read when "
            '[input].source = "files"; set source or remove them'
        )
    out = config.outcomes
    if out.pre_weeks % out.pre_window_length:
        raise ConfigError(
            f"[outcomes].pre_weeks ({out.pre_weeks}) must be a multiple of "
            f"[outcomes].pre_window_length ({out.pre_window_length})"
        )


EXAMPLE = """\
# dreamkit analysis configuration (TOML). Every key is optional: the defaults below are the
# reference study's choices. Run it with:  dreamkit report --config analysis.toml --out report
# Relative paths are read relative to this file.

[input]
source = "synthetic"            # "synthetic" (simulated reference trial) or "files"
# register = "dream.parquet"    # DREAM-style register (Parquet or CSV); needed for "files"
# register_format = "wide"      # "wide": y_YYWW code columns (+ branche_YYYY_MM employment)
#                               # "long": person, week, code rows
# employment = "employment.parquet"  # employment table (person, month, employed), for a
#                               # long register, or for a wide one without branche_ columns
# employment_unit = "month"     # "month" (a week takes its Thursday's month) or "week"
#                               # (then the table's columns are person, week, employed)
# first_week = "y_0801"         # register span (a long file only lists coded weeks, so give
# last_week = "y_1252"          # the span it covers); default: first and last week in the file
# trial = "trial.parquet"       # trial table; required: person_id, municipality, team,
#                               # treated, allocation_date; optional: team_last_allocation
#                               # (waiting-time split), uwses_1..uwses_6 (self-efficacy), ...
# codemap = "my_codemap.toml"   # code map; default: dreamkit's DREAM-style map (check it!)
person = "person_id"            # person-identifier column (never printed in any output)
# rename = { pnr = "person_id", kommune = "municipality", hold = "team", arm = "treated",
#            randdato = "allocation_date" }   # your trial-table names -> dreamkit's names

[synthetic]
seed = 20150801                 # the simulated trial is reproducible from this seed
n_unmatched = 12                # trial persons missing from the register (sample-flow demo)

[design]
stratum = "municipality"        # randomisation stratum (fixed effects)
cluster = "team"                # randomisation cluster (standard errors, bootstrap, RI blocks)
short_wait_days = 7             # short wait = fewer than 7 days to the team's last allocation

[outcomes]
weeks = 81                      # W: outcomes in weeks 1..W after the allocation week
employment_set = "employment"   # code-map state sets behind each outcome
sickness_set = "sickness"
sickness_duration_set = "sickness_duration"
activation_sets = ["activation_guidance", "activation_firm"]  # reported if the code map has them
spell_weeks = 4                 # duration to the first employment spell of >= 4 weeks
pre_weeks = 104                 # pre-allocation windows: weeks 104..1 before allocation,
pre_window_length = 13          # in 13-week windows (104-92, ..., 13-1)

[covariates]
prognostic = ["belief_in_treatment", "expected_return", "ordinary_job", "pre_sick_104_1"]
balance = []                    # empty: every numeric baseline variable of the trial table
subgroups = ["female", "age_50plus", "partner", "higher_education", "pre_sick_above_median",
             "pre_emp_above_median", "public_job", "ordinary_job", "mental_cause",
             "work_related"]

[self_efficacy]
cutoff = 10                     # UW-SES 0-24: low = 0-10, high = 11-24 (descriptive tables)
grid = [6, 7, 8, 9, 10, 11, 12, 13, 14]   # model (3): low 0-c vs high (c+1)-24

[peers]
low_cutoff = 8                  # model (4): own low self-efficacy = UW-SES 0-8
peer_cutoff = 8                 # cut-off behind the leave-one-out share of low-SE team-mates

[inference]
bootstrap_draws = 999           # wild cluster bootstrap (Webb/Rademacher weights, null imposed)
ri_draws = 999                  # randomisation inference: re-allocations within teams
level = 0.95                    # pointwise and simultaneous (sup-t) band level
seed = 1

[disclosure]
min_cell = 5                    # suppress every cell built from fewer than 5 persons

[horizons]                      # optional: status at horizons and binary outcomes
months = []                     # e.g. [6, 12, 18]; empty: the section is left out
# success = { self_support = ["employment"] }  # status -> code-map sets (first match wins);
#                               # default: one status, [outcomes].employment_set
weeks_in_set = 1                # consecutive weeks in the set ending in the horizon week

[observational]                 # optional: non-randomised comparison by programme start
# starts = "starts.csv"         # one row per person: person_id, start_week (week ordinal or
#                               # date; empty = never started); without it the section is skipped
person = "person_id"            # person-id column of the starts file
start = "start_week"            # start column
# cluster = "team"              # cluster column of the starts file (default: by person)
state_set = "employment"        # outcome: 1 in the weeks the person is in this set
leads = 8                       # event window: 8 periods before the start ...
lags = 26                       # ... to 26 after (end bins pool the rest)
period = "week"                 # "week" or "month"
estimators = ["twfe", "callaway_santanna", "sun_abraham"]
"""
