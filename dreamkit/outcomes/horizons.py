r"""Status at horizons after allocation: the state held in a horizon week, N-week rules, success
definitions as code-map sets and a status hierarchy.

**Horizons.** Relative week :math:`t` of person :math:`i` is calendar week :math:`a_i + t`
(:mod:`dreamkit.outcomes.align`; week 0 is the allocation week). A horizon is a relative week
:math:`h`. Horizons given in calendar months are converted by one of two documented rules:

* ``month_rule="fixed"`` (default): month :math:`m` is relative week

  .. math:: h(m) = \left\lfloor \frac{365.25}{7 \cdot 12}\, m + \tfrac12 \right\rfloor
            = \left\lfloor \frac{1461\, m + 168}{336} \right\rfloor

  (an average month of 4.348 weeks, rounded half up, in exact integer arithmetic): 6, 12, 18,
  24 months are weeks 26, 52, 78, 104. The same week for everybody.
* ``month_rule="calendar"``: :math:`h_i(m) = w(d_i + m\text{ months}) - a_i`, the ISO week
  that contains the allocation date :math:`d_i` plus :math:`m` calendar months (the day is
  clipped to the month's last day: 31 January + 1 month = 28/29 February). Needs
  ``allocation_date``; it differs from the fixed rule by at most one week.

**Rules.** A :class:`StatusRule` names a set :math:`A` (a union of code-map states and named
sets), a run length :math:`N` (default 1) and a window :math:`w`. With
:math:`x_{it} = 1[s_{it} \in A]` (or :math:`1[s_{it} \notin A]` for ``outside=True``, e.g.
"left cash benefit by any route"), the rule holds at horizon :math:`h` when

.. math:: \exists\, e \in \{h - w + 1, \dots, h\}:\quad x_{i,e-N+1} = \dots = x_{i,e} = 1,
          \qquad e - N + 1 \ge 1,

i.e. :math:`N` consecutive weeks in the set that end in the horizon week (``within=None``,
:math:`w = 1`), in one of the last :math:`w` weeks up to the horizon (``within=w``), or at any
week since allocation (``within="allocation"``, :math:`w = h - N + 1`). Weeks of the run lie
after allocation (week 1 on). With :math:`N = 1, w = 1` it is the state held in the horizon week.

**Hierarchy.** A :class:`StatusSpec` orders its rules; a person's status at a horizon is the
*first* rule in that order that holds (first match wins), else ``other``. Each rule's own
indicator is reported too, regardless of the hierarchy.

**Follow-up.** A person is followed up to horizon :math:`h` when the register covers every week
the rules read, :math:`\min_r (h - w_r - N_r + 2)` .. :math:`h` (with the calendar rule,
person-specific). Persons not followed up are excluded from that horizon and counted in its
:class:`~dreamkit.outcomes.ledger.SampleFlow` with the reason
``"not followed up to horizon <label> (relative week <h>)"``; never dropped silently. With
``sample="common"`` every horizon uses the persons followed up to all horizons (the pilot's
"those who had reached 18 months"), with one ledger.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import polars as pl

from dreamkit.design import columns as C
from dreamkit.errors import ColumnNotFoundError, ConfigError, EmptyInputError, InputError
from dreamkit.outcomes.align import OnMissing, align_trial, aligned_window
from dreamkit.outcomes.ledger import SampleFlow
from dreamkit.register.calendar import weeks_of_dates
from dreamkit.register.codemap import CodeMap
from dreamkit.register.register import Register

MonthRule = Literal["fixed", "calendar"]
Unit = Literal["weeks", "months"]
Sample = Literal["per_horizon", "common"]
Within = int | Literal["allocation"] | None
CHUNK = 1 << 16  # persons per block of the window computation


def month_week(months: int) -> int:
    r"""Relative week of ``months`` months after allocation by the fixed rule (module doc):
    :math:`\lfloor (1461 m + 168) / 336 \rfloor`."""
    m = int(months)
    if m < 1:
        raise InputError(f"a horizon of {months} month(s) is not after allocation; give m >= 1.")
    return (1461 * m + 168) // 336


def add_months(days: npt.NDArray[np.datetime64], months: int) -> npt.NDArray[np.datetime64]:
    """Dates plus ``months`` calendar months, the day clipped to the target month's end."""
    d = np.asarray(days, dtype="datetime64[D]")
    month0 = d.astype("datetime64[M]")
    day = (d - month0.astype("datetime64[D]")).astype(np.int64)
    target = month0 + np.timedelta64(int(months), "M")
    length = ((target + np.timedelta64(1, "M")).astype("datetime64[D]")) - target.astype(
        "datetime64[D]"
    )
    day = np.minimum(day, length.astype(np.int64) - 1)
    return target.astype("datetime64[D]") + day.astype("timedelta64[D]")


@dataclass(frozen=True)
class StatusRule:
    """One status: N consecutive weeks in (or outside) a union of code-map states/sets.

    Attributes:
        name: the status label (a column name of the output).
        states: code-map state names and/or named sets; their union is the set :math:`A`.
        weeks: :math:`N`, consecutive weeks required (1 = the state held in the week).
        within: None (the run ends at the horizon), an int :math:`w` (ends in the last
            :math:`w` weeks up to the horizon) or ``"allocation"`` (ends at any week since
            allocation).
        outside: count weeks *outside* :math:`A` (e.g. "left cash benefit by any route").
            Every other state counts, including ``unknown`` codes and ``out_of_scope``
            (emigration, death); list those in ``states`` if leaving that way is no success.
    """

    name: str
    states: tuple[str, ...]
    weeks: int = 1
    within: Within = None
    outside: bool = False

    def __post_init__(self) -> None:
        if not self.name or not isinstance(self.name, str):
            raise ConfigError(f"a status rule needs a non-empty name, got {self.name!r}.")
        if isinstance(self.states, str):
            object.__setattr__(self, "states", (self.states,))
        else:
            object.__setattr__(self, "states", tuple(self.states))
        if not self.states:
            raise ConfigError(f"status {self.name!r} names no states; give e.g. ['employment'].")
        if not isinstance(self.weeks, int) or self.weeks < 1:
            raise ConfigError(f"status {self.name!r}: weeks = {self.weeks!r}; give N >= 1.")
        w = self.within
        if not (w is None or w == "allocation" or (isinstance(w, int) and w >= 1)):
            raise ConfigError(
                f"status {self.name!r}: within = {w!r}; give None (run ends at the horizon), "
                "an int >= 1 or 'allocation'."
            )

    def mask(self, codemap: CodeMap) -> npt.NDArray[np.bool_]:
        """Boolean table over state ids: the set :math:`A` (its complement if ``outside``)."""
        members: set[str] = set()
        for name in self.states:
            members |= codemap.members(name)
        m = codemap.mask(members)
        return ~m if self.outside else m

    def span(self, horizon: int) -> int:
        """Weeks read before and including the horizon: :math:`w + N - 1`."""
        if self.within == "allocation":
            return horizon
        return (1 if self.within is None else int(self.within)) + self.weeks - 1


def _rule(name: str, value: Any) -> StatusRule:
    if isinstance(value, StatusRule):
        return value
    if isinstance(value, str | list | tuple):
        return StatusRule(name, tuple(value) if not isinstance(value, str) else (value,))
    if isinstance(value, Mapping):
        extra = set(value) - {"states", "weeks", "within", "outside", "name"}
        if extra:
            raise ConfigError(
                f"status {name!r}: unknown key(s) {sorted(extra)}; allowed are states, weeks, "
                "within, outside."
            )
        if "states" not in value:
            raise ConfigError(f"status {name!r} needs a 'states' list.")
        return StatusRule(
            name,
            tuple(value["states"]) if not isinstance(value["states"], str) else (value["states"],),
            weeks=value.get("weeks", 1),
            within=value.get("within"),
            outside=bool(value.get("outside", False)),
        )
    raise ConfigError(
        f"status {name!r}: give a list of state/set names or a table with 'states', got "
        f"{type(value).__name__}."
    )


@dataclass(frozen=True)
class StatusSpec:
    """Ordered status rules (the hierarchy: first match wins) and the label of the rest.

    Build it from data with :meth:`from_mapping` (name -> list of set names, or name -> table
    with ``states``, ``weeks``, ``within``, ``outside``; the mapping's order is the
    hierarchy) or :meth:`from_toml` (``[[status]]`` tables, in file order, and an optional
    top-level ``other = "..."``).
    """

    rules: tuple[StatusRule, ...]
    other: str = "other"

    def __post_init__(self) -> None:
        object.__setattr__(self, "rules", tuple(self.rules))
        if not self.rules:
            raise ConfigError("a StatusSpec needs at least one rule.")
        names = [r.name for r in self.rules]
        if len(set(names)) != len(names) or self.other in names:
            raise ConfigError(
                f"status names {names} and other={self.other!r} must be distinct; rename one."
            )

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any], other: str = "other") -> StatusSpec:
        """Rules from ``{name: [sets...]}`` or ``{name: {"states": [...], "weeks": 4}}``."""
        return cls(tuple(_rule(k, v) for k, v in mapping.items()), other=other)

    @classmethod
    def from_toml(cls, source: str | Path) -> StatusSpec:
        """Rules from a TOML file path or TOML text (``[[status]]`` tables in order)."""
        text = source
        if isinstance(source, Path) or (
            isinstance(source, str) and "\n" not in source and source.endswith(".toml")
        ):
            path = Path(source)
            if not path.is_file():
                raise ConfigError(f"status file {str(path)!r} does not exist; give a valid path.")
            text = path.read_text(encoding="utf-8")
        try:
            doc = tomllib.loads(str(text))
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"status definitions: invalid TOML ({err}); fix the file.") from None
        extra = set(doc) - {"status", "other"}
        if extra:
            raise ConfigError(
                f"status definitions: unknown top-level key(s) {sorted(extra)}; allowed are "
                "[[status]] tables and other."
            )
        tables = doc.get("status", [])
        if not isinstance(tables, list) or not all(isinstance(t, Mapping) for t in tables):
            raise ConfigError("status definitions: write each rule as a [[status]] table.")
        rules = []
        for t in tables:
            if "name" not in t:
                raise ConfigError("status definitions: every [[status]] table needs a name.")
            rules.append(_rule(str(t["name"]), t))
        return cls(tuple(rules), other=str(doc.get("other", "other")))

    @property
    def labels(self) -> list[str]:
        """Status labels in hierarchy order, then ``other``."""
        return [*(r.name for r in self.rules), self.other]


@dataclass(frozen=True)
class Horizon:
    """A horizon: its label, the value given and the unit (weeks or months)."""

    label: str
    value: int
    unit: Unit


def _horizons(horizons: Sequence[int] | Mapping[str, int], unit: Unit) -> list[Horizon]:
    if unit not in ("weeks", "months"):
        raise InputError(f"unit must be 'weeks' or 'months', got {unit!r}.")
    suffix = "m" if unit == "months" else "w"
    items = (
        list(horizons.items())
        if isinstance(horizons, Mapping)
        else [(f"{v}{suffix}", v) for v in horizons]
    )
    if not items:
        raise InputError("give at least one horizon, e.g. horizons=[6, 12, 18], unit='months'.")
    out = []
    for label, value in items:
        if not isinstance(value, int | np.integer) or value < 1:
            raise InputError(f"horizon {label!r} = {value!r}; horizons are integers >= 1.")
        out.append(Horizon(str(label), int(value), unit))
    if len({h.label for h in out}) != len(out):
        raise InputError("horizon labels must be distinct.")
    return out


def horizon_weeks(
    trial: pl.DataFrame, horizon: Horizon, month_rule: MonthRule = "fixed"
) -> npt.NDArray[np.int64]:
    """Relative week of ``horizon`` per person of ``trial`` (module docstring)."""
    n = trial.height
    if horizon.unit == "weeks":
        return np.full(n, horizon.value, dtype=np.int64)
    if month_rule == "fixed":
        return np.full(n, month_week(horizon.value), dtype=np.int64)
    if month_rule != "calendar":
        raise InputError(f"month_rule must be 'fixed' or 'calendar', got {month_rule!r}.")
    if C.ALLOCATION_DATE not in trial.columns:
        raise ColumnNotFoundError(
            f"month_rule='calendar' needs column {C.ALLOCATION_DATE!r}; use month_rule='fixed' "
            "or add the allocation dates."
        )
    days = trial[C.ALLOCATION_DATE].cast(pl.Date).to_numpy().astype("datetime64[D]")
    start = weeks_of_dates(days).astype(np.int64)
    return weeks_of_dates(add_months(days, horizon.value)).astype(np.int64) - start


def rule_holds(
    window: npt.NDArray[np.uint8],
    mask: npt.NDArray[np.bool_],
    weeks: int,
    first_allowed: npt.NDArray[np.int64],
) -> npt.NDArray[np.bool_]:
    """Whether N consecutive in-set weeks end at some column ``>= first_allowed + N - 1``.

    ``window`` holds the weeks up to the horizon (last column = horizon week); columns before
    ``first_allowed`` (per person) are outside the rule's weeks and never count.
    """
    n, width = window.shape
    lut = np.zeros(256, dtype=bool)  # UNOBSERVED (255) is never in the set
    lut[: mask.size] = mask
    x = lut[window]
    cols = np.arange(width)
    x &= cols[None, :] >= first_allowed[:, None]
    c = np.zeros((n, width + 1), dtype=np.int32)
    np.cumsum(x, axis=1, out=c[:, 1:])
    if weeks > width:
        return np.zeros(n, dtype=bool)
    run = (c[:, weeks:] - c[:, :-weeks]) == weeks  # run ending at column weeks-1..width-1
    return run.any(axis=1)


@dataclass(frozen=True, eq=False)
class HorizonStatus:
    """Result of :func:`status_at_horizons`.

    Attributes:
        persons: the trial rows kept after matching to the register, then per horizon
            ``week_<label>`` (relative week, Int32), ``<rule>_<label>`` (Int8 0/1 per rule)
            and ``status_<label>`` (String, the hierarchy's status); the horizon columns are
            null for persons not followed up to that horizon (counted in its ledger).
        flows: ledger per horizon label (one shared object with ``sample="common"``).
        horizons: table label, value, unit, week (the fixed week; null for the calendar rule).
        spec: the status definitions.
    """

    persons: pl.DataFrame
    flows: Mapping[str, SampleFlow]
    horizons: pl.DataFrame
    spec: StatusSpec
    month_rule: MonthRule = "fixed"
    trial_columns: tuple[str, ...] = field(default=())

    def __repr__(self) -> str:
        n = {k: f.remaining for k, f in self.flows.items()}
        return f"HorizonStatus({self.persons.height} persons, analysed per horizon {n})"

    def at(self, label: str) -> pl.DataFrame:
        """Persons followed up to horizon ``label`` with columns ``week``, one per rule and
        ``status`` (the horizon suffix removed)."""
        if label not in self.flows:
            raise InputError(f"no horizon {label!r}; horizons are {list(self.flows)}.")
        cols = {f"week_{label}": "week", f"status_{label}": "status"}
        cols |= {f"{r.name}_{label}": r.name for r in self.spec.rules}
        out = self.persons.filter(pl.col(f"status_{label}").is_not_null())
        out = out.select(*self.trial_columns, *(pl.col(k).alias(v) for k, v in cols.items()))
        self.flows[label].check(out.height)
        return out

    def flow_table(self) -> pl.DataFrame:
        """The ledgers stacked with a leading ``horizon`` column (``"all"`` for the one
        shared ledger of ``sample="common"``)."""
        flows = list(self.flows.items())
        if len({id(f) for _, f in flows}) == 1 and len(flows) > 1:
            flows = [("all", flows[0][1])]
        return pl.concat([f.table().select(pl.lit(k).alias("horizon"), pl.all()) for k, f in flows])


def _columns(spec: StatusSpec, label: str) -> list[str]:
    return [f"week_{label}", *(f"{r.name}_{label}" for r in spec.rules), f"status_{label}"]


def _reason(h: Horizon, weeks: npt.NDArray[np.int64]) -> str:
    lo, hi = int(weeks.min(initial=0)), int(weeks.max(initial=0))
    week = f"relative week {lo}" if lo == hi else f"relative weeks {lo}..{hi}"
    return (
        f"not followed up to horizon {h.label} ({week}): the register does not cover every "
        "week the status rules read"
    )


def _first_weeks(spec: StatusSpec, weeks: npt.NDArray[np.int64]) -> list[npt.NDArray[np.int64]]:
    """Per rule and person: the first relative week the rule reads (never before week 1)."""
    out = []
    for r in spec.rules:
        if r.within == "allocation":
            out.append(np.ones_like(weeks))
        else:
            out.append(np.maximum(weeks - r.span(0) + 1, 1))
    return out


def _continue(base: SampleFlow) -> SampleFlow:
    """A copy of a ledger (the horizons branch from the same earlier steps)."""
    return SampleFlow(base.n_input, list(base.steps))


def status_at_horizons(
    register: Register,
    trial: pl.DataFrame,
    spec: StatusSpec | Mapping[str, Any],
    horizons: Sequence[int] | Mapping[str, int],
    *,
    unit: Unit = "months",
    month_rule: MonthRule = "fixed",
    sample: Sample = "per_horizon",
    on_missing: OnMissing = "error",
    flow: SampleFlow | None = None,
) -> HorizonStatus:
    r"""Status of every person at each horizon after allocation (module docstring).

    Args:
        register: weekly state register.
        trial: one row per person with ``person_id`` and ``allocation_week`` (or
            ``allocation_date``); other columns (arm, pair, stratum) are carried over.
        spec: a :class:`StatusSpec`, or a mapping name -> set names (hierarchy in mapping
            order) passed to :meth:`StatusSpec.from_mapping`.
        horizons: values in ``unit`` (labels ``"6m"``, ``"26w"``), or a mapping label -> value.
        unit: ``"months"`` or ``"weeks"``.
        month_rule: ``"fixed"`` (week :math:`\lfloor (1461 m + 168)/336 \rfloor`) or
            ``"calendar"`` (the ISO week holding allocation date + m months).
        sample: ``"per_horizon"`` (each horizon: the persons followed up to it) or ``"common"``
            (every horizon: the persons followed up to all of them).
        on_missing: persons absent from the register: ``"error"`` or ``"exclude"`` (counted).
        flow: ledger of earlier exclusions to continue (each horizon continues a copy).

    Raises:
        EmptyInputError: nobody is followed up to a horizon (the fix: a shorter horizon, or a
            longer register).
        InputError: a horizon shorter than a rule's run of N weeks.
    """
    spec = spec if isinstance(spec, StatusSpec) else StatusSpec.from_mapping(spec)
    if sample not in ("per_horizon", "common"):
        raise InputError(f"sample must be 'per_horizon' or 'common', got {sample!r}.")
    if month_rule not in ("fixed", "calendar"):
        raise InputError(f"month_rule must be 'fixed' or 'calendar', got {month_rule!r}.")
    hs = _horizons(horizons, unit)
    codemap = register.codemap
    masks = [r.mask(codemap) for r in spec.rules]
    produced = [c for h in hs for c in _columns(spec, h.label)]
    produced += ["week", "status", *(r.name for r in spec.rules)]  # the columns of .at()
    clash = [c for c in produced if c in trial.columns]
    if clash:
        raise InputError(
            f"the trial table already has column(s) {clash[:5]}; rename them or the horizons."
        )
    base = SampleFlow(trial.height) if flow is None else flow
    aligned = align_trial(
        register, trial, first=1, last=1, on_missing=on_missing, coverage="partial", flow=base
    )
    kept, alignment = aligned.trial, aligned.alignment
    lo, hi = alignment.observed_bounds()
    labels = pl.Series("status", spec.labels, dtype=pl.String)
    columns: dict[str, pl.Series] = {}
    followed: dict[str, npt.NDArray[np.bool_]] = {}
    hweeks: dict[str, npt.NDArray[np.int64]] = {}
    for h in hs:
        weeks = horizon_weeks(kept, h, month_rule)
        for r in spec.rules:
            if (weeks < r.weeks).any():
                raise InputError(
                    f"horizon {h.label!r} (relative week {int(weeks.min())}) is shorter than the "
                    f"{r.weeks}-week run of status {r.name!r}; the run would start before "
                    "allocation. Use a later horizon or fewer weeks."
                )
        firsts = _first_weeks(spec, weeks)
        first_needed = np.minimum.reduce(firsts)
        followed[h.label] = (lo <= first_needed) & (hi >= weeks)
        hweeks[h.label] = weeks
        width = int((weeks - first_needed).max(initial=0)) + 1
        held = [np.zeros(kept.height, dtype=bool) for _ in spec.rules]
        for start in range(0, kept.height, CHUNK):  # bounded memory: a block of persons
            part = slice(start, min(start + CHUNK, kept.height))
            # column j of the window is relative week weeks_i - width + 1 + j
            window = aligned_window(
                register.states,
                alignment.rows[part],
                alignment.offsets[part] + weeks[part],
                1 - width,
                0,
            )
            for r, m, first, out in zip(spec.rules, masks, firsts, held, strict=True):
                out[part] = rule_holds(window, m, r.weeks, first[part] - (weeks[part] - width + 1))
        status = np.full(kept.height, len(spec.rules), dtype=np.int64)
        for j in reversed(range(len(spec.rules))):
            status[held[j]] = j
        columns[f"week_{h.label}"] = pl.Series(f"week_{h.label}", weeks, dtype=pl.Int32)
        for r, x in zip(spec.rules, held, strict=True):
            columns[f"{r.name}_{h.label}"] = pl.Series(f"{r.name}_{h.label}", x, dtype=pl.Int8)
        columns[f"status_{h.label}"] = labels.gather(status).alias(f"status_{h.label}")
    flows: dict[str, SampleFlow] = {}
    if sample == "common":
        common = _continue(base)
        remaining = np.ones(kept.height, dtype=bool)
        for h in hs:
            now = remaining & followed[h.label]
            common.exclude(
                f"follow-up {h.label}", _reason(h, hweeks[h.label]), int((remaining & ~now).sum())
            )
            remaining = now
        keep = {h.label: remaining for h in hs}
        flows = {h.label: common for h in hs}
    else:
        keep = followed
        for h in hs:
            f = _continue(base)
            f.exclude(
                f"follow-up {h.label}",
                _reason(h, hweeks[h.label]),
                int((~followed[h.label]).sum()),
            )
            flows[h.label] = f
    for h in hs:
        if not keep[h.label].any():
            raise EmptyInputError(
                f"nobody is followed up to horizon {h.label!r} (relative week "
                f"{int(hweeks[h.label].min())}); the register ends too early. Use a shorter "
                "horizon or a longer register."
            )
        undefined = np.flatnonzero(~keep[h.label])
        if undefined.size:
            for name in _columns(spec, h.label):
                columns[name] = columns[name].scatter(undefined, None)
    persons = kept.hstack(list(columns.values()))
    fixed = [
        h.value if h.unit == "weeks" else (month_week(h.value) if month_rule == "fixed" else None)
        for h in hs
    ]
    table = pl.DataFrame(
        {
            "label": [h.label for h in hs],
            "value": [h.value for h in hs],
            "unit": [h.unit for h in hs],
            "week": fixed,
        },
        schema={"label": pl.String, "value": pl.Int64, "unit": pl.String, "week": pl.Int64},
    )
    return HorizonStatus(persons, flows, table, spec, month_rule, tuple(kept.columns))
