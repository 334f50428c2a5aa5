"""From a person-level polars table to checked numpy arrays: one validation point for estimators.

:func:`prepare_sample` resolves outcome columns (a list or a name prefix such as
``"emp_share_"``), checks the design columns (treatment 0/1, strata with both arms, at least
two clusters), finds missing values (an error naming each column and its count, or explicit
listwise deletion with ``missing="drop"``, recorded in the result) and encodes strata and
clusters as integer codes. Person identifiers are never read.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import polars as pl
from numpy.typing import NDArray

from dreamkit.design import columns as C
from dreamkit.errors import ColumnNotFoundError, InputError, TrialDesignError

Missing = Literal["raise", "drop"]


@dataclass(frozen=True)
class Sample:
    """An estimation sample: arrays aligned row by row with :attr:`frame`."""

    frame: pl.DataFrame
    y: NDArray[np.float64]
    outcomes: tuple[str, ...]
    weeks: tuple[int, ...]
    treated: NDArray[np.float64]
    strata: NDArray[np.intp]
    n_strata: int
    clusters: NDArray[np.intp]
    n_clusters: int
    covariates: NDArray[np.float64] | None
    covariate_names: tuple[str, ...]
    n_dropped: int
    drop_reason: str | None


def resolve_outcomes(data: pl.DataFrame, outcomes: str | Sequence[str]) -> tuple[str, ...]:
    """Outcome columns: the names given, or with one string that is not a column, every column
    ``<prefix><integer>`` ordered by the integer (e.g. ``emp_share_1 .. emp_share_81``)."""
    if isinstance(outcomes, str):
        if outcomes in data.columns:
            return (outcomes,)
        pattern = re.compile(re.escape(outcomes) + r"(\d+)$")
        found = [(int(m.group(1)), c) for c in data.columns if (m := pattern.match(c))]
        if not found:
            raise ColumnNotFoundError(
                f"no column is named {outcomes!r} or starts with it followed by a week number; "
                "pass outcome column names or a prefix such as 'emp_share_'."
            )
        return tuple(c for _, c in sorted(found))
    names = tuple(outcomes)
    if not names:
        raise InputError("outcomes is empty; pass at least one outcome column.")
    require_columns(data, names, "outcome")
    return names


def outcome_weeks(names: Sequence[str]) -> tuple[int, ...]:
    """The trailing integer of each outcome name if all have one (distinct), else 1..W."""
    found = [re.search(r"(\d+)$", n) for n in names]
    weeks = [int(m.group(1)) for m in found if m]
    if len(weeks) == len(names) and len(set(weeks)) == len(weeks):
        return tuple(weeks)
    return tuple(range(1, len(names) + 1))


def require_columns(data: pl.DataFrame, cols: Sequence[str], role: str) -> None:
    """Raise :class:`ColumnNotFoundError` for columns of ``cols`` absent from ``data``."""
    absent = [c for c in cols if c not in data.columns]
    if absent:
        raise ColumnNotFoundError(
            f"{role} column(s) {absent} are not in the table; its columns include "
            f"{data.columns[:12]}. Check the names or rename your columns."
        )


def handle_missing(
    data: pl.DataFrame, cols: Sequence[str], missing: Missing
) -> tuple[pl.DataFrame, int, str | None]:
    """Check ``cols`` for nulls and NaN; raise (default) or drop those rows and say why."""
    if missing not in ("raise", "drop"):
        raise InputError(f"missing must be 'raise' or 'drop'; got {missing!r}.")
    cols = list(dict.fromkeys(cols))
    schema = data.schema
    if not cols:
        return data, 0, None
    nulls = data.select(cols).null_count().row(0, named=True)  # null counts are metadata
    floats = [c for c in cols if schema[c].is_float()]
    nans = data.select(pl.col(floats).is_nan().sum()).row(0, named=True) if floats else {}
    bad = {c: int(nulls[c]) + int(nans.get(c, 0)) for c in cols}
    bad = {c: v for c, v in bad.items() if v}
    if not bad:
        return data, 0, None
    listing = ", ".join(f"{c!r} ({v})" for c, v in bad.items())
    if missing == "raise":
        raise InputError(
            f"missing values in column(s) {listing}; fill them in, or pass missing='drop' for "
            "listwise deletion (the number of dropped rows and the reason are recorded)."
        )
    keep = ~pl.any_horizontal([_is_missing(schema, c) for c in bad])
    kept = data.filter(keep)
    return kept, data.height - kept.height, f"listwise deletion: missing values in {listing}"


def _refuse_infinite(data: pl.DataFrame, cols: Sequence[str]) -> None:
    """Raise for infinite values: they are not missing, and no estimate can use them."""
    floats = [c for c in dict.fromkeys(cols) if data.schema[c].is_float()]
    if not floats:
        return
    counts = data.select(pl.col(c).is_infinite().sum() for c in floats).row(0, named=True)
    bad = {c: int(v) for c, v in counts.items() if v}
    if bad:
        listing = ", ".join(f"{c!r} ({v})" for c, v in bad.items())
        raise InputError(
            f"infinite values in column(s) {listing}; replace them by finite values or by "
            "missing (null) ones and decide how to treat those rows (missing='drop')."
        )


def _is_missing(schema: pl.Schema, col: str) -> pl.Expr:
    expr = pl.col(col).is_null()
    if schema[col].is_float():
        expr = expr | pl.col(col).is_nan()
    return expr


def codes_of(values: pl.Series) -> tuple[NDArray[np.intp], int]:
    """Dense integer codes 0..L-1 of a column's values (sorted order) and L."""
    codes = values.rank("dense").to_numpy().astype(np.intp) - 1
    return codes, int(codes.max()) + 1 if codes.size else 0


def as_float_matrix(data: pl.DataFrame, cols: Sequence[str], role: str) -> NDArray[np.float64]:
    """Columns as an (n, p) float64 Fortran array; non-numeric columns are an error."""
    schema = data.schema
    bad = [c for c in cols if not (schema[c].is_numeric() or schema[c] == pl.Boolean)]
    if bad:
        raise InputError(
            f"{role} column(s) {bad} are not numeric; recode them as numbers (0/1 dummies for "
            "categories)."
        )
    if not cols:
        return np.empty((data.height, 0))
    arr = data.select(pl.col(c).cast(pl.Float64) for c in cols).to_numpy()
    if arr.flags.f_contiguous and arr.flags.writeable:
        return arr
    return np.array(arr, dtype=np.float64, order="F")  # own, writable, column-major


def check_arms(frame: pl.DataFrame, treated: str, by: str) -> None:
    """Every level of ``by`` must contain both arms (TrialDesignError otherwise)."""
    arms = frame.group_by(by).agg(pl.col(treated).n_unique().alias("n_arms"))
    one = arms.filter(pl.col("n_arms") < 2).height
    if one:
        raise TrialDesignError(
            f"{one} level(s) of {by!r} have only one arm in the estimation sample; the "
            f"within-{by} comparison needs both. Merge or exclude such strata explicitly "
            "(and record it in the sample flow)."
        )


def prepare_sample(
    data: pl.DataFrame,
    outcomes: str | Sequence[str],
    covariates: Sequence[str] = (),
    *,
    treated: str = C.TREATED,
    stratum: str | None = C.STRATUM,
    cluster: str = C.CLUSTER,
    extra: Sequence[str] = (),
    missing: Missing = "raise",
    require_both_arms: bool = True,
) -> Sample:
    """Validate and encode one estimation sample (see the module docstring).

    ``extra`` names further columns that must be present and non-missing (e.g. the UW-SES
    score for the heterogeneity model); ``stratum=None`` means no fixed effects (intercept).
    """
    if data.height == 0:
        raise InputError("the table has no rows; pass one row per analysed person.")
    names = resolve_outcomes(data, outcomes)
    design = [treated, cluster] + ([stratum] if stratum else [])
    require_columns(data, design, "design")
    require_columns(data, list(covariates), "covariate")
    require_columns(data, list(extra), "required")
    used = [*design, *names, *covariates, *extra]
    _refuse_infinite(data, [*names, *covariates, *extra])
    frame, n_dropped, reason = handle_missing(data.select(list(dict.fromkeys(used))), used, missing)
    if frame.height == 0:
        raise InputError("no rows are left after removing missing values; check the data.")
    arms = frame[treated]
    if not arms.dtype.is_numeric() and arms.dtype != pl.Boolean:
        raise InputError(f"column {treated!r} must hold 0 (control) and 1 (course).")
    bad = sorted(set(arms.cast(pl.Float64).unique().to_list()) - {0.0, 1.0})
    if bad:
        raise InputError(f"column {treated!r} holds value(s) {bad}; it must be 0 or 1.")
    if arms.n_unique() < 2:
        raise TrialDesignError(f"column {treated!r} has one arm only; the ITT needs both arms.")
    if stratum and require_both_arms:
        check_arms(frame, treated, stratum)
    cl_codes, n_cl = codes_of(frame[cluster])
    if n_cl < 2:
        raise TrialDesignError(
            f"column {cluster!r} has {n_cl} level; clustered standard errors need at least two "
            "clusters (use vcov='HC1' for a one-team trial)."
        )
    if stratum:
        st_codes, n_st = codes_of(frame[stratum])
    else:
        st_codes, n_st = np.zeros(frame.height, dtype=np.intp), 1
    cov = as_float_matrix(frame, list(covariates), "covariate") if covariates else None
    return Sample(
        frame=frame,
        y=as_float_matrix(frame, names, "outcome"),
        outcomes=names,
        weeks=outcome_weeks(names),
        treated=frame[treated].cast(pl.Float64).to_numpy(),
        strata=st_codes,
        n_strata=n_st,
        clusters=cl_codes,
        n_clusters=n_cl,
        covariates=cov,
        covariate_names=tuple(covariates),
        n_dropped=n_dropped,
        drop_reason=reason,
    )


def dummies(codes: NDArray[np.intp]) -> NDArray[np.float64]:
    """One 0/1 column per code 0..L-1: ``out[i, codes[i]] = 1``, shape (n, L)."""
    out = np.zeros((codes.shape[0], int(codes.max()) + 1 if codes.size else 0))
    out[np.arange(codes.shape[0]), codes] = 1.0
    return out


def sample_controls(sample: Sample) -> NDArray[np.float64]:
    """Dense controls Z (n, L + k) of a prepared sample: one dummy per stratum level (the
    absorbed fixed effects), then the covariates."""
    strata = dummies(sample.strata)
    return strata if sample.covariates is None else np.hstack([strata, sample.covariates])
