"""Keyword entry points on data frames: :func:`logit`, :func:`probit`, :func:`binary_model`.

Columns become regressors as follows:

* text, categorical, enum and boolean columns, and any column named in ``categorical`` or
  ``reference``, are factors: one 0/1 dummy per level except the reference level (the first
  level -- enum order, else sorted -- unless ``reference={"col": "level"}`` names another).
  Every level present is kept, so a "don't know" answer is a level of its own; it is never
  turned into a missing value.
* other numeric columns enter as they are.

Missing values (null, or NaN in a float column) in the outcome, a regressor, the stratum or
the cluster column raise :class:`~dreamkit.errors.InputError` naming the column and the
count; ``missing="drop"`` runs a complete-case analysis instead and reports the persons
dropped per column (``glance()["n_dropped"]`` and the summary's notes).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import polars as pl
from numpy.typing import NDArray

from dreamkit.errors import ColumnNotFoundError, InputError
from dreamkit.estimate.binary.fit import (
    BinaryLink,
    BinaryResult,
    VcovType,
    dense_codes,
    fit_cells,
    group_rows,
)
from dreamkit.estimate.results import check_level

Missing = Literal["raise", "drop"]


@dataclass(frozen=True)
class Variable:
    """A regressor column: a factor (codes into ``levels``, ``reference`` the index of the
    reference level) or a numeric column (``values``)."""

    name: str
    codes: NDArray[np.intp] | None
    levels: tuple[str, ...]
    reference: int
    values: NDArray[np.float64] | None
    key: NDArray[np.intp]  # codes 0..n_key-1 of the distinct values (for compression)
    n_key: int

    @property
    def is_factor(self) -> bool:
        return self.codes is not None

    @property
    def kept(self) -> list[int]:
        return [j for j in range(len(self.levels)) if j != self.reference]

    @property
    def column_names(self) -> list[str]:
        if not self.is_factor:
            return [self.name]
        return [f"{self.name}[{self.levels[j]}]" for j in self.kept]

    def matrix(self, rows: NDArray[np.intp] | None = None) -> NDArray[np.float64]:
        """The column(s) of this regressor for all persons or the persons ``rows``."""
        if self.codes is None:
            assert self.values is not None
            v = self.values if rows is None else self.values[rows]
            return v[:, None]
        c = self.codes if rows is None else self.codes[rows]
        return (c[:, None] == np.asarray(self.kept)[None, :]).astype(np.float64)


@dataclass(frozen=True)
class Prepared:
    """Complete cases of one analysis: outcome, regressors, stratum and cluster codes."""

    y: NDArray[np.float64]
    variables: Mapping[str, Variable]
    stratum: NDArray[np.intp] | None
    stratum_name: str | None
    stratum_labels: tuple[str, ...]
    cluster: NDArray[np.intp] | None
    n_clusters: int
    cluster_order: tuple[NDArray[np.intp] | None, NDArray[np.intp]] | None
    weights: NDArray[np.float64] | None
    n_input: int
    n_dropped: int
    notes: tuple[str, ...]

    @property
    def n(self) -> int:
        return int(self.y.shape[0])


def to_polars(data: Any) -> pl.DataFrame:
    """A polars frame from polars or pandas input (converted once)."""
    if isinstance(data, pl.DataFrame):
        return data
    if isinstance(data, pl.LazyFrame):
        return data.collect()
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover
        pd = None
    if pd is not None and isinstance(data, pd.DataFrame):
        return pl.from_pandas(data)
    raise InputError(f"data must be a polars or pandas DataFrame, not {type(data).__name__}.")


def _is_text(dtype: pl.DataType) -> bool:
    return dtype in (pl.String, pl.Categorical, pl.Boolean) or isinstance(
        dtype, (pl.Enum, pl.Categorical)
    )


def _null_mask(s: pl.Series) -> NDArray[np.bool_]:
    mask = s.is_null()
    if s.dtype.is_float():
        mask = mask | s.is_nan().fill_null(True)
    return np.asarray(mask.to_numpy(), dtype=bool)


def _dense_codes(s: pl.Series) -> tuple[NDArray[np.intp], tuple[str, ...]]:
    """Codes 0..L-1 and labels of a column's present values (enum order, else sorted)."""
    if isinstance(s.dtype, pl.Enum):
        phys = s.to_physical().to_numpy().astype(np.intp)
        cats = s.dtype.categories.to_list()
        present = np.flatnonzero(np.bincount(phys, minlength=len(cats)))
        remap = np.full(len(cats), -1, dtype=np.intp)
        remap[present] = np.arange(present.size)
        return remap[phys], tuple(str(cats[j]) for j in present)
    if s.dtype == pl.Categorical:
        s = s.cast(pl.String)
    if s.dtype.is_integer():
        codes, uniq = dense_codes(s.to_numpy(), s.name)
        return codes, tuple(str(v) for v in uniq.tolist())
    codes = (s.rank("dense").to_numpy() - 1).astype(np.intp)
    levels = tuple(str(v) for v in s.unique().sort().to_list())
    return codes, levels


def prepare(
    data: Any,
    outcome: str,
    columns: Sequence[str],
    *,
    stratum: str | None = None,
    cluster: str | None = None,
    reference: Mapping[str, Any] | None = None,
    categorical: Sequence[str] = (),
    missing: Missing = "raise",
    weights: str | None = None,
) -> Prepared:
    """Validate and encode the columns of an analysis on one complete-case sample."""
    df = to_polars(data)
    reference = dict(reference or {})
    cols = list(dict.fromkeys(columns))
    used = [outcome, *cols, *(c for c in (stratum, cluster, weights) if c)]
    absent = [c for c in dict.fromkeys(used) if c not in df.columns]
    if absent:
        raise ColumnNotFoundError(f"columns {absent} are not in the data; it has {df.columns}.")
    unknown_ref = [c for c in reference if c not in df.columns]
    if unknown_ref:
        raise ColumnNotFoundError(
            f"reference names columns {unknown_ref} that are not in the data (a typo?)."
        )
    reference = {c: v for c, v in reference.items() if c in cols}  # one dict for many models
    if missing not in ("raise", "drop"):
        raise InputError(f"missing={missing!r}; use 'raise' or 'drop'.")
    if df.height == 0:
        raise InputError("the data have no rows.")
    masks = {c: _null_mask(df[c]) for c in dict.fromkeys(used)}
    counts = {c: int(m.sum()) for c, m in masks.items() if m.any()}
    n_input = df.height
    notes: list[str] = []
    n_dropped = 0
    if counts:
        if missing == "raise":
            c, k = next(iter(counts.items()))
            raise InputError(
                f"column {c!r} has {k} missing values (all columns with missing values: "
                f"{counts}). Pass missing='drop' for a complete-case analysis (the persons "
                "dropped are counted and reported), or recode them as a level of their own "
                '(e.g. "don\'t know").'
            )
        keep = ~np.logical_or.reduce(list(masks.values()))
        n_dropped = int((~keep).sum())
        df = df.filter(pl.Series(keep))
        notes.append(
            f"{n_dropped} of {n_input} persons dropped for missing values (complete cases); "
            f"missing per column: {counts}"
        )
        if df.height == 0:
            raise InputError(f"no complete cases are left (missing per column: {counts}).")
    if cluster:
        # persons sorted by cluster once (row order does not change any estimate)
        df = df.sort(cluster, maintain_order=True)
    ys = df[outcome]
    if ys.dtype == pl.Boolean:
        y = ys.cast(pl.Float64).to_numpy()
    elif ys.dtype.is_numeric():
        y = ys.cast(pl.Float64).to_numpy()
    else:
        raise InputError(
            f"outcome {outcome!r} has type {ys.dtype}; code it 0/1, e.g. "
            f"pl.col({outcome!r}) == 'yes'."
        )
    bad = np.setdiff1d(np.unique(y), [0.0, 1.0])
    if bad.size:
        raise InputError(
            f"outcome {outcome!r} has values {bad[:5].tolist()} besides 0 and 1; dichotomise "
            f"it first, e.g. (pl.col({outcome!r}) >= cut-off)."
        )
    variables: dict[str, Variable] = {}
    for c in cols:
        s = df[c]
        if c in reference or c in categorical or _is_text(s.dtype):
            codes, levels = _dense_codes(s)
            if len(levels) < 2:
                raise InputError(
                    f"column {c!r} has a single level {levels} in the sample; drop it."
                )
            ref = 0
            if c in reference:
                want = str(reference[c])
                if want not in levels:
                    raise InputError(
                        f"reference level {reference[c]!r} of column {c!r} does not exist; "
                        f"its levels are {list(levels)}."
                    )
                ref = levels.index(want)
            variables[c] = Variable(c, codes, levels, ref, None, codes, len(levels))
        elif s.dtype.is_numeric():
            values = s.cast(pl.Float64).to_numpy()
            key, uniq = dense_codes(values, c)
            variables[c] = Variable(c, None, (), 0, values, key, len(uniq))
        else:
            raise InputError(
                f"column {c!r} has type {s.dtype}; use a numeric, text or categorical column."
            )
    st_codes: NDArray[np.intp] | None = None
    st_labels: tuple[str, ...] = ()
    if stratum:
        st_codes, st_labels = _dense_codes(df[stratum])
    cl_codes = _dense_codes(df[cluster])[0] if cluster else None
    w = None
    if weights:
        w = df[weights].cast(pl.Float64).to_numpy()
        if np.any(w <= 0) or np.any(w % 1 != 0):
            raise InputError(f"weights column {weights!r} must hold positive integers.")
    order: tuple[NDArray[np.intp] | None, NDArray[np.intp]] | None = None
    if cl_codes is not None:  # sorted above: the cluster sums of every model are sequential
        order = (None, np.concatenate([[0], np.cumsum(np.bincount(cl_codes))]).astype(np.intp))
    return Prepared(
        y=y,
        variables=variables,
        stratum=st_codes,
        stratum_name=stratum,
        stratum_labels=st_labels,
        cluster=cl_codes,
        n_clusters=0 if cl_codes is None else int(cl_codes.max()) + 1,
        cluster_order=order,
        weights=w,
        n_input=n_input,
        n_dropped=n_dropped,
        notes=tuple(notes),
    )


def design(
    prep: Prepared,
    terms: Sequence[str],
    interactions: Sequence[tuple[str, str]] = (),
    rows: NDArray[np.intp] | None = None,
) -> tuple[NDArray[np.float64], list[str], dict[str, list[int]]]:
    """``X`` (intercept first) of all persons or of the persons ``rows``, its column names
    and the term groups of ``terms`` (and of the products ``a:b`` of two terms' columns)."""
    n = prep.n if rows is None else rows.shape[0]
    blocks: list[NDArray[np.float64]] = [np.ones((n, 1))]
    names = ["Intercept"]
    groups: dict[str, list[int]] = {}
    for t in terms:
        v = prep.variables[t]
        cols = v.column_names
        groups[t] = list(range(len(names), len(names) + len(cols)))
        blocks.append(v.matrix(rows))
        names += cols
    for a, b in interactions:
        va, vb = prep.variables[a], prep.variables[b]
        ma, mb = va.matrix(rows), vb.matrix(rows)
        start = len(names)
        for i, na in enumerate(va.column_names):
            for j, nb in enumerate(vb.column_names):
                blocks.append((ma[:, i] * mb[:, j])[:, None])
                names.append(f"{na}:{nb}")
        groups[f"{a}:{b}"] = list(range(start, len(names)))
    return np.hstack(blocks), names, groups


def fit_prepared(
    prep: Prepared,
    terms: Sequence[str],
    *,
    link: BinaryLink = "logit",
    vcov: VcovType | None = None,
    level: float = 0.95,
    interactions: Sequence[tuple[str, str]] = (),
) -> BinaryResult:
    """Fit one model on a prepared sample (the ladder and elimination share one sample).

    Persons are grouped into cells by the exact mixed-radix code of their regressors'
    values and stratum (no sort when the code space is small), and ``X`` is built for the
    cells only."""
    parts = [(prep.variables[t].key, prep.variables[t].n_key) for t in dict.fromkeys(terms)]
    if prep.stratum is not None:
        parts.append((prep.stratum, len(prep.stratum_labels)))
    key = np.zeros(prep.n, dtype=np.int64)
    span = 1
    for codes, size in parts:
        if span * size >= 2**62:
            key = dense_codes(key, "key")[0].astype(np.int64)
            span = int(key.max()) + 1
        key = key * size + codes
        span *= size
    first, inv = group_rows(key)
    xc, names, groups = design(prep, terms, interactions, rows=first)
    return fit_cells(
        prep.y,
        np.ones(prep.n) if prep.weights is None else prep.weights,
        inv,
        xc,
        names,
        link=link,
        fe_cells=None if prep.stratum is None else prep.stratum[first],
        fe_name=prep.stratum_name or "stratum",
        fe_labels=prep.stratum_labels,
        cluster=prep.cluster,
        n_clusters=prep.n_clusters,
        vcov=vcov or ("CRV1" if prep.cluster is not None else "iid"),
        term_groups=groups,
        level=check_level(level),
        notes=prep.notes,
        n_dropped=prep.n_dropped,
        cluster_order=prep.cluster_order,
    )


def _as_list(x: str | Sequence[str] | None) -> list[str]:
    if x is None:
        return []
    return [x] if isinstance(x, str) else list(x)


def binary_model(
    data: Any,
    outcome: str,
    exposures: str | Sequence[str] = (),
    covariates: str | Sequence[str] = (),
    *,
    link: BinaryLink = "logit",
    stratum: str | None = None,
    cluster: str | None = None,
    vcov: VcovType | None = None,
    reference: Mapping[str, Any] | None = None,
    categorical: Sequence[str] = (),
    interactions: Sequence[tuple[str, str]] = (),
    missing: Missing = "raise",
    weights: str | None = None,
    level: float = 0.95,
) -> BinaryResult:
    """A binary-outcome regression of ``outcome`` (0/1) on exposures and covariates.

    ``P(y_i = 1) = F(a + x_i' b + gamma_stratum)``; see :mod:`dreamkit.estimate.binary.fit`
    for the model, the covariances and the marginal effects, and the module docstring for
    how columns become regressors and how missing values are handled.

    Args:
        data: polars or pandas frame, one row per person.
        outcome: the 0/1 (or boolean) outcome column.
        exposures, covariates: regressor columns (exposures first in the tables).
        link: ``"logit"`` (odds ratios), ``"probit"`` or ``"cloglog"``.
        stratum: column whose levels get fixed effects (dummies in the likelihood).
        cluster: column of clusters (e.g. team or job centre) for CRV1 standard errors.
        vcov: ``"CRV1"`` (default with ``cluster``) or ``"iid"``.
        reference: reference level per factor, ``{"illness": "physical"}``.
        categorical: numeric columns to treat as factors.
        interactions: pairs of terms entering also as products (named ``"a[x]:b[y]"``).
        missing: ``"raise"`` (default) or ``"drop"`` (complete cases, reported).
        weights: a frequency-weight column (positive integers).
        level: default interval level.
    """
    ex, cov = _as_list(exposures), _as_list(covariates)
    terms = list(dict.fromkeys([*ex, *cov]))
    if not terms:
        raise InputError("give at least one exposure or covariate.")
    for a, b in interactions:
        for t in (a, b):
            if t not in terms:
                raise InputError(f"interaction term {t!r} must also be an exposure or covariate.")
    prep = prepare(
        data,
        outcome,
        terms,
        stratum=stratum,
        cluster=cluster,
        reference=reference,
        categorical=categorical,
        missing=missing,
        weights=weights,
    )
    return fit_prepared(prep, terms, link=link, vcov=vcov, level=level, interactions=interactions)


def logit(
    data: Any,
    outcome: str,
    exposures: str | Sequence[str] = (),
    covariates: str | Sequence[str] = (),
    **kwargs: Any,
) -> BinaryResult:
    """Logistic regression (odds ratios via ``tidy(exponentiate=True)``); the arguments are
    those of :func:`binary_model`."""
    return binary_model(data, outcome, exposures, covariates, link="logit", **kwargs)


def probit(
    data: Any,
    outcome: str,
    exposures: str | Sequence[str] = (),
    covariates: str | Sequence[str] = (),
    **kwargs: Any,
) -> BinaryResult:
    """Probit regression; the arguments are those of :func:`binary_model`."""
    return binary_model(data, outcome, exposures, covariates, link="probit", **kwargs)
