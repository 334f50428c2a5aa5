r"""The person-level outcome table of a trial: one call from register and trial table.

:func:`build_outcomes` aligns every person's register row on their allocation week, records
every exclusion in a :class:`~dreamkit.outcomes.ledger.SampleFlow`, and computes, for the
definitions of an :class:`~dreamkit.outcomes.spec.OutcomeSpec`,

* cumulative share paths :math:`\text{share}_{iw} = \frac1w\sum_{t=1}^w 1[s_{it}\in A]`,
  w = 1..W (:mod:`dreamkit.outcomes.shares`);
* the duration to the first k-week spell and the duration to exit, with event flags
  (:mod:`dreamkit.outcomes.durations`);
* pre-allocation window shares (:mod:`dreamkit.outcomes.windows`).

It works in chunks of persons, so memory beyond the output is bounded by the chunk: per chunk
one ``uint8`` window of weeks :math:`-P..W+k-1`, boolean set tests and float64 counts. Chunks
run on ``threads`` threads (all cores by default); each fills its own rows of the output, so
the result does not depend on the number of threads. The
output holds float64 shares (8 bytes per person and week per path set), ``Int32`` durations
and ``Int8`` event flags (1 = event, 0 = censored); values that the register cannot define
(only with ``coverage="partial"``) are null.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import polars as pl

from dreamkit.design import columns as C
from dreamkit.errors import InputError
from dreamkit.frames import accepts_pandas
from dreamkit.outcomes.align import Alignment, Coverage, OnMissing, align_trial
from dreamkit.outcomes.durations import Duration, duration_to_exit, duration_to_spell
from dreamkit.outcomes.ledger import SampleFlow
from dreamkit.outcomes.shares import cumulative_shares, total_share
from dreamkit.outcomes.spec import DUR_EMP, DUR_SICK, EVENT_EMP, EVENT_SICK, OutcomeSpec
from dreamkit.outcomes.windows import pre_window_shares
from dreamkit.parallel import for_each_block, resolve_threads
from dreamkit.register.register import Register

CHUNK = 1 << 16  # largest chunk of persons per thread step
MIN_CHUNK = 1 << 10


@dataclass(frozen=True, eq=False)
class Outcomes:
    """Result of :func:`build_outcomes`.

    Attributes:
        persons: one row per analysed person: the trial columns, then the outcome columns of
            ``spec`` (names in :mod:`dreamkit.outcomes.spec`).
        flow: the sample-flow ledger from the trial table to ``persons``.
        spec: the outcome definitions used.
    """

    persons: pl.DataFrame
    flow: SampleFlow
    spec: OutcomeSpec

    def __repr__(self) -> str:
        return (
            f"Outcomes({self.persons.height} persons x {self.persons.width} columns, "
            f"W={self.spec.weeks}, {self.flow!r})"
        )

    def paths_long(self) -> pl.DataFrame:
        """Share paths in long form: ``person_id``, ``week`` (1..W), ``{prefix}_share``."""
        n, weeks = self.persons.height, self.spec.weeks
        ids = self.persons[C.PERSON]
        cols: dict[str, pl.Series] = {
            C.PERSON: ids.gather(np.repeat(np.arange(n), weeks)),
            "week": pl.Series("week", np.tile(np.arange(1, weeks + 1, dtype=np.int16), n)),
        }
        for prefix in self.spec.paths:
            values = self.persons.select(self.spec.path_columns(prefix)).to_numpy()
            cols[f"{prefix}_share"] = pl.Series(values.ravel(), nan_to_null=True)
        return pl.DataFrame(cols)


@accepts_pandas("trial")
def build_outcomes(
    register: Register,
    trial: pl.DataFrame,
    spec: OutcomeSpec | None = None,
    *,
    on_missing: OnMissing = "error",
    coverage: Coverage = "require",
    flow: SampleFlow | None = None,
    chunk_size: int | None = None,
    threads: int | None = None,
) -> Outcomes:
    """Build the person-level outcome table and its sample-flow ledger.

    Args:
        register: weekly state register.
        trial: one row per person with ``person_id`` and ``allocation_week`` (or
            ``allocation_date``); its other columns are carried over.
        spec: outcome definitions; the reference study's by default.
        on_missing: persons absent from the register: ``"error"`` raises
            :class:`~dreamkit.errors.MissingPersonsError`; ``"exclude"`` records them in the
            ledger (step ``"not in register"``) and drops them.
        coverage: ``"require"`` (default) drops, and records, persons whose register does not
            cover relative weeks -P..W (1..W without pre-allocation sets); ``"partial"``
            keeps them with null outcomes wherever the register cannot define them (shares
            whose weeks are not all observed; durations censored at the last observed week).
        flow: ledger of earlier exclusions to continue (extended in place); its remaining
            count must equal the trial's rows.
        chunk_size: persons per chunk (bounds the working memory per thread); None = an
            equal share per thread, between 1,024 and 65,536 persons.
        threads: threads that compute chunks in parallel; None = all available cores.
    """
    spec = OutcomeSpec() if spec is None else spec
    if chunk_size is not None and chunk_size < 1:
        raise InputError(f"chunk_size must be >= 1, got {chunk_size}.")
    n_threads = resolve_threads(threads)
    spec.check_sets(register.codemap)
    clash = [c for c in spec.columns() if c in trial.columns]
    if clash:
        raise InputError(
            f"the trial table already has outcome column(s) {clash[:5]}; drop or rename them "
            "before building outcomes."
        )
    aligned = align_trial(
        register,
        trial,
        first=spec.first_week,
        last=spec.weeks,
        on_missing=on_missing,
        coverage=coverage,
        flow=flow,
    )
    n = aligned.alignment.n_persons
    if chunk_size is None:
        chunk_size = min(CHUNK, max(MIN_CHUNK, -(-n // n_threads)))
    columns = _compute(aligned.alignment, spec, chunk_size, n_threads, nulls=coverage == "partial")
    persons = aligned.trial.hstack([columns[name] for name in spec.columns()])
    aligned.flow.check(persons.height)
    return Outcomes(persons, aligned.flow, spec)


def _shares(name: str, values: npt.NDArray[np.float64], nulls: bool) -> pl.Series:
    """Float64 share column (no copy); with ``nulls``, NaN (undefined share) becomes null."""
    return pl.Series(name, values, nan_to_null=nulls and bool(np.isnan(values).any()))


def _duration(names: tuple[str, str], result: Duration) -> list[pl.Series]:
    """Duration (Int32) and event (Int8) columns, null where the duration is undefined."""
    weeks = pl.Series(names[0], result.weeks, dtype=pl.Int32)
    event = pl.Series(names[1], result.event.astype(np.int8), dtype=pl.Int8)
    undefined = np.flatnonzero(~result.defined)
    if undefined.size:
        weeks = weeks.scatter(undefined, None)
        event = event.scatter(undefined, None)
    return [weeks, event]


def _compute(
    alignment: Alignment, spec: OutcomeSpec, chunk_size: int, threads: int, nulls: bool
) -> dict[str, pl.Series]:
    """Outcome columns, filled chunk by chunk of persons (``nulls``: partial coverage)."""
    codemap = alignment.register.codemap
    n, weeks, k = alignment.n_persons, spec.weeks, spec.spell_weeks
    first, last = spec.first_week, spec.weeks + spec.spell_weeks - 1
    week1 = 1 - first  # column of relative week 1 in the chunk window
    paths = {p: (codemap.mask(s), np.empty((weeks, n))) for p, s in spec.paths.items()}
    totals = {p: (codemap.mask(s), np.empty(n)) for p, s in spec.totals.items()}
    pre = {
        p: (codemap.mask(s), np.empty((len(spec.pre_windows()), n)))
        for p, s in spec.pre_sets.items()
    }
    spell_mask, exit_mask = codemap.mask(spec.spell_set), codemap.mask(spec.exit_set)
    length = spec.pre_window_length
    n_windows = spec.pre_weeks // length
    emp = Duration(np.empty(n, np.int32), np.empty(n, bool), np.empty(n, bool))
    sick = Duration(np.empty(n, np.int32), np.empty(n, bool), np.empty(n, bool))

    def fill(part: slice) -> None:
        window = alignment.window(first, last, part)
        post = window[:, week1 : week1 + weeks]
        for mask, out in paths.values():
            cumulative_shares(post, mask, out=out[:, part])
        for mask, out_total in totals.values():
            out_total[part] = total_share(post, mask)
        for target, result in (
            (emp, duration_to_spell(window[:, week1:], spell_mask, weeks, k)),
            (sick, duration_to_exit(post, exit_mask, weeks)),
        ):
            for dest, src in zip(target, result, strict=True):
                dest[part] = src
        for mask, out in pre.values():
            _, total = pre_window_shares(
                window[:, : spec.pre_weeks], mask, length, out=out[:n_windows, part]
            )
            if out.shape[0] > n_windows:
                out[-1, part] = total

    for_each_block(fill, n, chunk_size, threads)
    columns: list[pl.Series] = []
    for prefix, (_, out) in paths.items():
        names = spec.path_columns(prefix)
        columns += [_shares(c, v, nulls) for c, v in zip(names, out, strict=True)]
    for prefix, (_, out_total) in totals.items():
        columns.append(_shares(f"{prefix}_share_{weeks}", out_total, nulls))
    columns += _duration((DUR_EMP, EVENT_EMP), emp) + _duration((DUR_SICK, EVENT_SICK), sick)
    for prefix, (_, out) in pre.items():
        names = [f"pre_{prefix}_{b}_{e}" for b, e in spec.pre_windows()]
        columns += [_shares(c, v, nulls) for c, v in zip(names, out, strict=True)]
    return {s.name: s for s in columns}
