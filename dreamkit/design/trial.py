"""The trial table: one row per randomised person, validated once at the entry point.

:func:`validate_trial` checks a user's trial table and returns it in dreamkit's canonical
form (column names in :mod:`dreamkit.design.columns`), deriving

* ``waiting_days`` = ``team_last_allocation - allocation_date`` in days (the course could not
  start before the team's last person was allocated), when both dates are given;
* ``allocation_week`` = ISO-week ordinal of ``allocation_date`` (week 0 of the outcomes);
* ``uwses`` = sum of the six UW-SES items (each 0-4, total 0-24), when the items are given.

Nothing is dropped: a violation raises a typed error that names the column, the offending
value (never a person identifier) and the fix.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping

import polars as pl

from dreamkit.design import columns as C
from dreamkit.errors import (
    ColumnNotFoundError,
    DuplicateError,
    EmptyInputError,
    InputError,
    TrialDesignError,
)
from dreamkit.frames import accepts_pandas
from dreamkit.register._persons import check_id_type
from dreamkit.register.calendar import weeks_of_dates

REQUIRED = (C.PERSON, C.STRATUM, C.CLUSTER, C.TREATED, C.ALLOCATION_DATE)


@accepts_pandas("trial")
def validate_trial(trial: pl.DataFrame, rename: Mapping[str, str] | None = None) -> pl.DataFrame:
    """Validate a trial table and return it in canonical form (see module docstring).

    Args:
        trial: one row per randomised person.
        rename: optional mapping from the user's column names to dreamkit's canonical names,
            e.g. ``{"pnr": "person_id", "kommune": "municipality", "hold": "team"}``.
    """
    trial = _as_polars(trial)
    if rename:
        if not isinstance(rename, Mapping):
            raise InputError(
                f"rename must map your column names to dreamkit's, e.g. {{'pnr': 'person_id'}}; "
                f"got {type(rename).__name__}."
            )
        missing = [col for col in rename if col not in trial.columns]
        if missing:
            raise ColumnNotFoundError(
                f"rename names column(s) {missing} that the trial table does not have; "
                f"its columns are {trial.columns}."
            )
        renamed = [rename.get(c, c) for c in trial.columns]
        clash = sorted({c for c in renamed if renamed.count(c) > 1})
        if clash:
            raise InputError(
                f"rename would give two columns the name(s) {clash}; drop the old column or "
                "rename it too."
            )
        trial = trial.rename(dict(rename))
    if trial.height == 0:
        raise EmptyInputError("the trial table has no rows; pass the randomised persons.")
    for col in REQUIRED:
        _require_column(trial, col)
    for col in (C.PERSON, C.STRATUM, C.CLUSTER):
        dtype = trial.schema[col]
        if dtype.is_nested() or dtype == pl.Object:
            raise InputError(
                f"column {col!r} has type {dtype}; it must hold one integer or text value per "
                "person (not lists or structs)."
            )
    if trial.schema[C.PERSON].is_float():
        check_id_type(trial[C.PERSON], column=C.PERSON, what="the trial table")
    for col in REQUIRED:
        n_null = trial[col].null_count()
        if trial.schema[col].is_float():
            n_null += int(trial[col].is_nan().sum())
        if n_null:
            raise InputError(
                f"column {col!r} has {n_null} missing value(s); every randomised person needs "
                f"a {col}. Fill them in, or remove those persons explicitly and record why."
            )
    n_dup = trial.height - trial[C.PERSON].n_unique()
    if n_dup:
        raise DuplicateError(
            f"column {C.PERSON!r} has {n_dup} duplicated person(s); the trial table needs one "
            "row per randomised person."
        )
    trial = trial.with_columns(_as_treatment(trial[C.TREATED]), _as_date(trial, C.ALLOCATION_DATE))
    trial = trial.with_columns(
        pl.Series(
            C.ALLOCATION_WEEK,
            weeks_of_dates(trial[C.ALLOCATION_DATE].to_numpy()),
            dtype=pl.Int32,
        )
    )
    if C.TEAM_LAST_ALLOCATION in trial.columns:
        trial = trial.with_columns(_as_date(trial, C.TEAM_LAST_ALLOCATION))
        trial = trial.with_columns(
            (pl.col(C.TEAM_LAST_ALLOCATION) - pl.col(C.ALLOCATION_DATE))
            .dt.total_days()
            .cast(pl.Int32)
            .alias(C.WAITING_DAYS)
        )
        n_negative = int((trial[C.WAITING_DAYS] < 0).sum())
        if n_negative:
            raise TrialDesignError(
                f"column {C.TEAM_LAST_ALLOCATION!r} is before {C.ALLOCATION_DATE!r} for "
                f"{n_negative} person(s); it must be the team's last allocation date."
            )
    if all(item in trial.columns for item in C.UWSES_ITEMS):
        trial = trial.with_columns(uwses_total(trial))
    _check_arms_within(trial, C.STRATUM)
    return trial


def uwses_total(trial: pl.DataFrame) -> pl.Series:
    """UW-SES total score: the sum of the six items, each scored 0-4 (total 0-24)."""
    for item in C.UWSES_ITEMS:
        values = trial[item]
        if not values.dtype.is_numeric() and values.dtype != pl.Null:
            raise InputError(
                f"column {item!r} has type {values.dtype}; UW-SES items are integers 0-4 "
                "(recode the answers as numbers)."
            )
        if values.dtype.is_float():
            values = values.fill_nan(None)
        given = values.drop_nulls().cast(pl.Float64)
        valid = (given >= 0) & (given <= 4)
        valid = valid & (given == given.floor())
        bad = values.drop_nulls().filter(~valid)
        if bad.len():
            raise InputError(
                f"column {item!r} has {bad.len()} value(s) outside 0-4, e.g. {bad[0]!r}; "
                "UW-SES items are scored 0 (not at all true) to 4 (exactly true)."
            )
    incomplete = pl.any_horizontal([pl.col(c).is_null() for c in C.UWSES_ITEMS])
    total = pl.when(incomplete).then(None).otherwise(pl.sum_horizontal(list(C.UWSES_ITEMS)))
    items = trial.with_columns(
        pl.col(c).fill_nan(None) for c in C.UWSES_ITEMS if trial.schema[c].is_float()
    )
    return items.select(total.cast(pl.Int16).alias(C.UWSES)).to_series()


def _require_column(trial: pl.DataFrame, col: str) -> None:
    if col not in trial.columns:
        close = difflib.get_close_matches(col, trial.columns, n=3)
        hint = f" Did you mean {close}?" if close else ""
        raise ColumnNotFoundError(
            f"the trial table has no column {col!r}.{hint} Rename your column to {col!r} or "
            "pass rename={'your_name': '" + col + "'}."
        )


def _as_polars(trial: object) -> pl.DataFrame:
    if isinstance(trial, pl.DataFrame):
        return trial
    if type(trial).__module__.startswith("pandas"):
        try:
            return pl.from_pandas(trial)
        except Exception as err:
            raise InputError(
                f"the trial table (pandas) could not be converted to polars "
                f"({type(err).__name__}); give columns of plain numbers, text or dates."
            ) from None
    raise InputError(
        f"the trial table must be a polars or pandas DataFrame, got {type(trial).__name__}."
    )


def _as_treatment(values: pl.Series) -> pl.Series:
    allowed = {0, 1}
    if values.dtype.is_float():
        frac = values.filter(values.is_finite().not_() | (values != values.floor()))
        if frac.len():
            raise InputError(
                f"column {C.TREATED!r} holds {frac.len()} non-integer value(s), e.g. "
                f"{frac[0]!r}; it must be 0 (control) or 1 (course)."
            )
    try:
        ints = values.cast(pl.Int8, strict=True)
    except pl.exceptions.InvalidOperationError:
        raise InputError(
            f"column {C.TREATED!r} must hold 0 (control) and 1 (course); it has type "
            f"{values.dtype}. Recode the arm to 0/1."
        ) from None
    bad = sorted(set(ints.unique().to_list()) - allowed)
    if bad:
        raise InputError(
            f"column {C.TREATED!r} holds value(s) {bad}; it must be 0 (control) or 1 (course)."
        )
    return ints.alias(C.TREATED)


def _as_date(trial: pl.DataFrame, col: str) -> pl.Series:
    values = trial[col]
    if values.dtype == pl.Date:
        return values
    if isinstance(values.dtype, pl.Datetime):
        return values.dt.date()
    if values.dtype == pl.String:
        parsed = values.str.to_date(strict=False)
        n_bad = parsed.null_count() - values.null_count()
        if n_bad == 0:
            return parsed
        example = values.filter(parsed.is_null() & values.is_not_null())[0]
        raise InputError(
            f"column {col!r} has {n_bad} value(s) that are not ISO dates, e.g. {example!r}; "
            "write dates as YYYY-MM-DD."
        )
    raise InputError(f"column {col!r} has type {values.dtype}; it must be a date (YYYY-MM-DD).")


def _check_arms_within(trial: pl.DataFrame, col: str) -> None:
    arms = trial.group_by(col).agg(pl.col(C.TREATED).n_unique().alias("n_arms"))
    one_arm = arms.filter(pl.col("n_arms") < 2)
    if one_arm.height:
        raise TrialDesignError(
            f"{one_arm.height} level(s) of {col!r} have only one arm (e.g. "
            f"{one_arm[col][0]!r}); the within-{col} comparison needs both arms. Merge or "
            "exclude such strata explicitly and record it in the sample flow."
        )
