r"""The ITT effect path and the discrete-time hazard from per-partition sufficient statistics.

A register (or its outcome table) too large for one machine is stored as partitions: Parquet
files of persons on a shared file system or object store, or in-memory frames. Each partition
is read by one task (on the executor, :mod:`dreamkit.executor`: this process, local processes
or Dask workers), which returns small sums; the client combines them and fits. Nothing of size
N is ever on the client, and the results equal the in-memory fits of the concatenated table
(tests: 1e-10).

**ITT path** (:func:`partitioned_effect_path`, the model of
:func:`~dreamkit.estimate.linear.itt.effect_path`): with :math:`z_i = (d_i, x_i', y_i')'`
(treatment, k covariates, W outcomes; :math:`a = 1 + k` regressors), strata s and partitions
p, pass 1 returns per partition and stratum the count :math:`n_{ps}`, the mean
:math:`\bar z_{ps}` and the pooled within co-moment
:math:`M_p = \sum_s \sum_{i \in p,s} (z_i - \bar z_{ps})_{1:a}(z_i - \bar z_{ps})'`. The
global within-stratum cross-products follow exactly (and without the cancellation of raw
moments) from the between-groups decomposition

.. math:: C = \sum_i (z_i - \bar z_{s(i)})_{1:a}(z_i - \bar z_{s(i)})'
          = \sum_p M_p + \sum_{p,s} n_{ps} (\bar z_{ps} - \bar z_s)_{1:a}
            (\bar z_{ps} - \bar z_s)',\qquad
          \bar z_s = \frac{\sum_p n_{ps}\bar z_{ps}}{\sum_p n_{ps}}.

With :math:`C = [C_{AA}\; C_{AY}]`, :math:`\hat\beta = C_{AA}^{-1} C_{AY}` (a x W) is the
stratum fixed-effects regression of every outcome on treatment and covariates;
:math:`\hat\tau = \hat\beta_{1\cdot}` and :math:`\tilde d'\tilde d = 1/(C_{AA}^{-1})_{11}`.
Pass 2 sends :math:`\bar z_s`, :math:`\hat\beta` and :math:`\hat\gamma = C_{XX}^{-1}C_{Xd}`
back to the partitions, which return per cluster the score sums

.. math:: S_{gw} = \sum_{i \in g} \tilde d_i \hat e_{iw},\quad
          \tilde d_i = (d_i - \bar d_{s(i)}) - (x_i - \bar x_{s(i)})'\hat\gamma,\quad
          \hat e_{iw} = (y_{iw} - \bar y_{s(i)w}) - (a_i - \bar a_{s(i)})'\hat\beta_{\cdot w}.

A cluster split over several partitions contributes a piece from each; the pieces are summed
by cluster id *before* the sandwich :math:`V = c\,S'S / (\tilde d'\tilde d)^2`,
:math:`c = \frac{G}{G-1}\frac{N-1}{N-K}`, K = 1 + (strata) + k (CRV1 as in ``effect_path``).

**Hazard** (:func:`partitioned_hazard`, model (1) as
:meth:`~dreamkit.estimate.duration.hazard.DiscreteTimeHazard.fit`): the binomial likelihood,
its score and Hessian depend on the persons only through the counts of persons per
(stratum, cluster, regressors, duration, event) key. Counts are additive over partitions:
each task returns its counts, the client sums them by key and fits the cells GLM with the
counts as frequency weights, which is exactly the fit of the persons.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import polars as pl
import scipy.sparse
from numpy.typing import NDArray

from dreamkit.design import columns as C
from dreamkit.errors import (
    ColumnNotFoundError,
    EstimationError,
    InputError,
    SchemaMismatchError,
    TrialDesignError,
)
from dreamkit.estimate.duration.hazard import DiscreteTimeHazard, HazardResult
from dreamkit.estimate.linear.design_matrix import outcome_weeks, resolve_outcomes
from dreamkit.estimate.linear.fwl import FWLFit
from dreamkit.estimate.linear.itt import PathResult
from dreamkit.estimate.results import fit_rows
from dreamkit.executor import ExecutorLike, imap, resolve_executor
from dreamkit.inference import crv1_factor

PartitionLike = str | Path | pl.DataFrame | pl.LazyFrame
_COUNT = "_dk_n"
_COLLINEAR_RTOL = 1e-9


# --------------------------------------------------------------------------- partitions


def as_partitions(source: Any) -> list[PartitionLike]:
    """The partitions of ``source``: a list of Parquet paths or URLs (``s3://...``, read by
    polars with credentials from the environment) or frames, a directory of ``*.parquet``
    files, or a finished chunk run (anything with ``.files``, e.g.
    :class:`~dreamkit.chunked.ChunkRun`; or ``.run.files``, e.g. ``ChunkedOutcomes``)."""
    run = getattr(source, "run", None)
    if run is not None and hasattr(run, "files"):
        source = run
    if hasattr(source, "files"):
        if getattr(source, "complete", True) is False:
            raise InputError("the chunk run is not complete; finish it before estimating.")
        source = list(source.files)
    if isinstance(source, str) and "://" in source:
        return [source]  # one object-store URL (list several for a dataset)
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_dir():
            return [path]
        files = sorted(path.glob("*.parquet"))
        if not files:
            raise InputError(f"directory {str(path)!r} holds no *.parquet partition files.")
        return list(files)
    if isinstance(source, (pl.DataFrame, pl.LazyFrame)):
        return [source]
    parts = list(source)
    if not parts:
        raise InputError("no partitions were given; pass Parquet files, frames or a chunk run.")
    for p in parts:
        if not isinstance(p, (str, Path, pl.DataFrame, pl.LazyFrame)):
            raise InputError(
                f"a partition must be a Parquet path or a polars frame, got {type(p).__name__}."
            )
    return parts


def _label(part: PartitionLike, index: int) -> str:
    return (
        f"partition {index} ({Path(part).name})"
        if isinstance(part, (str, Path))
        else f"partition {index}"
    )


def _schema(part: PartitionLike) -> dict[str, pl.DataType]:
    if isinstance(part, (str, Path)):
        return dict(pl.scan_parquet(part).collect_schema())  # the footer only
    if isinstance(part, pl.LazyFrame):
        return dict(part.collect_schema())
    return dict(part.schema)


def check_schemas(parts: Sequence[PartitionLike], needed: Sequence[str]) -> None:
    """Every partition must have the first one's columns and types (read from the Parquet
    footers only), and the first must have ``needed``; raises naming the partition."""
    first = _schema(parts[0])
    for i, part in enumerate(parts[1:], start=1):
        schema = _schema(part)
        if schema == first:
            continue
        missing = [c for c in first if c not in schema]
        extra = [c for c in schema if c not in first]
        typed = [
            f"{c!r} is {schema[c]} (not {first[c]})"
            for c in first
            if c in schema and schema[c] != first[c]
        ]
        what = "; ".join(
            ([f"lacks column(s) {missing}"] if missing else [])
            + ([f"has extra column(s) {extra}"] if extra else [])
            + typed
        )
        raise SchemaMismatchError(
            f"{_label(part, i)} has a different schema from {_label(parts[0], 0)}: {what}. "
            "Every partition of one dataset needs the same columns and types; rewrite it with "
            "the same writer (or cast the column)."
        )
    absent = [c for c in needed if c not in first]
    if absent:
        raise ColumnNotFoundError(
            f"column(s) {absent} are not in the partitions; their columns include "
            f"{list(first)[:12]}. Check the names."
        )


def _read(part: PartitionLike, columns: Sequence[str]) -> pl.DataFrame:
    cols = list(dict.fromkeys(columns))
    if isinstance(part, (str, Path)):
        return pl.read_parquet(part, columns=cols)
    if isinstance(part, pl.LazyFrame):
        return part.select(cols).collect()
    return part.select(cols)


def _check_values(frame: pl.DataFrame, columns: Sequence[str], where: str) -> None:
    """No missing values in ``columns`` (nulls, or NaN in float columns)."""
    for c in dict.fromkeys(columns):
        s = frame[c]
        n_bad = s.null_count() + (int(s.is_nan().sum()) if s.dtype.is_float() else 0)
        if n_bad:
            raise InputError(
                f"column {c!r} has {n_bad} missing value(s) in {where}; fill them in or remove "
                "those persons explicitly before estimating (recorded in the sample flow)."
            )


def _float_matrix(frame: pl.DataFrame, cols: Sequence[str], where: str) -> NDArray[np.float64]:
    bad = [c for c in cols if not (frame.schema[c].is_numeric() or frame.schema[c] == pl.Boolean)]
    if bad:
        raise InputError(
            f"column(s) {bad} in {where} are not numeric; recode them as numbers (0/1 dummies "
            "for categories)."
        )
    if not cols:
        return np.empty((frame.height, 0))
    return np.array(
        frame.select(pl.col(c).cast(pl.Float64) for c in cols).to_numpy(), dtype=np.float64
    )


# --------------------------------------------------------------------------- ITT path


@dataclass(frozen=True)
class _IttSpec:
    outcomes: tuple[str, ...]
    covariates: tuple[str, ...]
    treated: str
    stratum: str | None
    cluster: str

    @property
    def columns(self) -> list[str]:
        keys = [self.treated, self.cluster] + ([self.stratum] if self.stratum else [])
        return [*keys, *self.covariates, *self.outcomes]

    def load(
        self, part: PartitionLike, label: str
    ) -> tuple[list[Any], NDArray[np.intp], pl.Series, NDArray[np.float64]]:
        """(stratum labels, stratum codes, cluster column, z = [d, x, y]) of a partition."""
        frame = _read(part, self.columns)
        _check_values(frame, self.columns, label)
        regressors = [self.treated, *self.covariates, *self.outcomes]
        z = _float_matrix(frame, regressors, label)
        bad = np.setdiff1d(np.unique(z[:, 0]), [0.0, 1.0])
        if bad.size:
            raise InputError(
                f"column {self.treated!r} holds value {bad[0]:g} in {label}; it must be 0 or 1."
            )
        if self.stratum:
            levels = frame[self.stratum].unique().sort()
            codes = (
                pl.DataFrame({"v": frame[self.stratum]})
                .join(
                    pl.DataFrame({"v": levels, "c": np.arange(levels.len())}),
                    on="v",
                    how="left",
                    maintain_order="left",
                )["c"]
                .to_numpy()
                .astype(np.intp)
            )
            labels = levels.to_list()
        else:
            codes = np.zeros(frame.height, dtype=np.intp)
            labels = [None]
        return labels, codes, frame[self.cluster], z


@dataclass(frozen=True)
class _Moments:
    """Pass-1 sums of one partition (module docstring)."""

    strata: list[Any]
    counts: NDArray[np.float64]
    means: NDArray[np.float64]
    within: NDArray[np.float64]
    clusters: pl.Series
    control_n: float
    control_sum: NDArray[np.float64]


@dataclass(frozen=True)
class _IttPass1:
    max_batch: ClassVar[int] = 1  # one partition per executor task
    spec: _IttSpec

    def __call__(self, task: tuple[int, PartitionLike]) -> _Moments:
        index, part = task
        labels, codes, clusters, z = self.spec.load(part, _label(part, index))
        n_s = len(labels)
        counts = np.bincount(codes, minlength=n_s).astype(np.float64)
        ind = scipy.sparse.csr_array(
            (np.ones(codes.size), (codes, np.arange(codes.size))), shape=(n_s, codes.size)
        )
        means = np.asarray(ind @ z) / counts[:, None]
        control = z[:, 0] == 0.0
        a = 1 + len(self.spec.covariates)
        control_sum = z[control, a:].sum(axis=0)
        z -= means[codes]
        return _Moments(
            strata=labels,
            counts=counts,
            means=means,
            within=z[:, :a].T @ z,
            clusters=clusters.unique(),
            control_n=float(control.sum()),
            control_sum=control_sum,
        )


@dataclass(frozen=True)
class _IttPass2:
    max_batch: ClassVar[int] = 1  # one partition per executor task
    spec: _IttSpec
    strata: dict[Any, int]
    means: NDArray[np.float64]
    gamma: NDArray[np.float64]
    beta: NDArray[np.float64]

    def __call__(self, task: tuple[int, PartitionLike]) -> tuple[pl.Series, NDArray[np.float64]]:
        index, part = task
        labels, codes, clusters, z = self.spec.load(part, _label(part, index))
        rows = np.array([self.strata[v] for v in labels], dtype=np.intp)
        z -= self.means[rows][codes]
        a = 1 + len(self.spec.covariates)
        d_t = z[:, 0] - z[:, 1:a] @ self.gamma
        resid = z[:, a:] - z[:, :a] @ self.beta
        ids = clusters.unique(maintain_order=True)
        cl = (
            pl.DataFrame({"v": clusters})
            .join(
                pl.DataFrame({"v": ids, "c": np.arange(ids.len())}),
                on="v",
                how="left",
                maintain_order="left",
            )["c"]
            .to_numpy()
            .astype(np.intp)
        )
        ind = scipy.sparse.csr_array((d_t, (cl, np.arange(cl.size))), shape=(ids.len(), cl.size))
        return ids, np.asarray(ind @ resid)


@dataclass(frozen=True, repr=False)
class PartitionedPathResult(PathResult):
    """:class:`~dreamkit.estimate.linear.itt.PathResult` of a fit from partition sums.

    Estimates, the W x W covariance, intervals and bands are available; tools that need the
    person-level data in memory (wild bootstrap, randomisation inference, the pyfixest
    refit) are not: run them on a sample that fits in memory.
    """

    path_weeks: tuple[int, ...] = field(default=(), repr=False)
    n_partitions: int = 0

    @property
    def weeks(self) -> tuple[int, ...]:
        return self.path_weeks

    def _needs_data(self, what: str) -> Any:
        raise InputError(
            f"{what} needs the person-level data in memory; this path was estimated from "
            f"partition sums over {self.n_partitions} partition(s). Use effect_path on data "
            "that fit in memory for it."
        )

    def controls(self) -> NDArray[np.float64]:
        return self._needs_data("controls()")

    def wild_cluster_bootstrap(self, **kwargs: Any) -> Any:
        return self._needs_data("the wild cluster bootstrap")

    def randomization_inference(self, *, studentize: bool = True, **kwargs: Any) -> Any:
        return self._needs_data("randomisation inference")

    def pyfixest_fit(self, week: int) -> Any:
        return self._needs_data("pyfixest_fit")


def partitioned_effect_path(
    partitions: Any,
    outcomes: str | Sequence[str],
    covariates: Sequence[str] = (),
    *,
    treated: str = C.TREATED,
    stratum: str | None = C.STRATUM,
    cluster: str = C.CLUSTER,
    level: float = 0.95,
    executor: ExecutorLike = None,
    model: str | None = None,
) -> PartitionedPathResult:
    """The ITT effect path (:func:`~dreamkit.estimate.linear.itt.effect_path`, CRV1) from
    per-partition sums (module docstring), equal to the in-memory fit of all partitions.

    Args:
        partitions: Parquet files (paths), polars frames, a directory of ``*.parquet`` files,
            or a finished chunk run (e.g. :func:`~dreamkit.chunked.chunked_outcomes`); one
            row per person. Persons (and clusters) may be split over partitions in any way.
        outcomes, covariates, treated, stratum, cluster, level: as for ``effect_path``
            (missing values raise; CRV1 standard errors clustered by ``cluster``).
        executor: where the partition tasks run (:mod:`dreamkit.executor`; default the
            session executor, else this process). Results do not depend on it.

    Raises :class:`~dreamkit.errors.SchemaMismatchError` naming the partition when the
    partitions' columns or types differ (checked from the Parquet footers before any work).
    """
    pool = resolve_executor(executor)  # an unreachable scheduler fails before any work
    parts = as_partitions(partitions)
    check_schemas(parts, [])
    empty = pl.DataFrame(schema=_schema(parts[0]))
    names = resolve_outcomes(empty, outcomes)
    spec = _IttSpec(names, tuple(covariates), treated, stratum, cluster)
    check_schemas(parts, spec.columns)
    tasks = list(enumerate(parts))
    moments = pool.map(_IttPass1(spec), tasks)

    # combine: global stratum counts and means, then the within cross-products
    order = sorted({v for m in moments for v in m.strata}, key=_sort_key)
    index = {v: j for j, v in enumerate(order)}
    a, p = moments[0].within.shape
    n_s = np.zeros(len(order))
    sums = np.zeros((len(order), p))
    for m in moments:
        rows = [index[v] for v in m.strata]
        np.add.at(n_s, rows, m.counts)
        np.add.at(sums, rows, m.means * m.counts[:, None])
    means = sums / n_s[:, None]
    cross = np.zeros((a, p))
    for m in moments:
        dev = m.means - means[[index[v] for v in m.strata]]
        cross += m.within + (dev[:, :a] * m.counts[:, None]).T @ dev
    n_obs = int(n_s.sum())
    treated_share = means[:, 0]
    if np.all(treated_share <= 0) or np.all(treated_share >= 1):
        raise TrialDesignError(f"column {treated!r} has one arm only; the ITT needs both arms.")
    one_arm = int(np.sum((treated_share <= 0) | (treated_share >= 1)))
    if stratum and one_arm:
        raise TrialDesignError(
            f"{one_arm} level(s) of {stratum!r} have only one arm in the estimation sample; the "
            f"within-{stratum} comparison needs both. Merge or exclude such strata explicitly "
            "(and record it in the sample flow)."
        )
    cluster_ids = pl.concat([m.clusters for m in moments]).unique()
    n_clusters = cluster_ids.len()
    if n_clusters < 2:
        raise TrialDesignError(
            f"column {cluster!r} has {n_clusters} level; clustered standard errors need at "
            "least two clusters."
        )
    k = len(spec.covariates)
    n_params = 1 + len(order) + k
    if n_obs <= n_params:
        raise EstimationError(
            f"{n_obs} observations but {n_params} parameters (fixed effects included); the "
            "model is not identified. Use fewer controls or a larger sample."
        )
    c_aa, c_ay = cross[:, :a], cross[:, a:]
    _check_design(c_aa, spec)
    beta = np.asarray(np.linalg.solve(c_aa, c_ay), dtype=np.float64)
    gamma = np.asarray(
        np.linalg.solve(c_aa[1:, 1:], c_aa[1:, 0]) if k else np.zeros(0), dtype=np.float64
    )
    dd = float(c_aa[0, 0] - c_aa[0, 1:] @ gamma)

    # pass 2: cluster score pieces, summed by cluster id before the sandwich. The pieces are
    # added into one G x W table as they arrive (in partition order), so memory holds one
    # partition's pieces at a time, not all of them (P x G x W when every cluster spans
    # every partition).
    order_ids = cluster_ids.sort()
    position = pl.DataFrame({"v": order_ids, "g": np.arange(n_clusters, dtype=np.int64)})
    scores = np.zeros((n_clusters, len(spec.outcomes)))
    for ids, piece in imap(pool, _IttPass2(spec, index, means, gamma, beta), tasks):
        at = (
            pl.DataFrame({"v": ids})
            .join(position, on="v", how="left", maintain_order="left")["g"]
            .to_numpy()
        )
        scores[at] += piece  # ids are unique within a partition
    factor = crv1_factor(n_obs, n_params, n_clusters)
    vcov = factor * (scores.T @ scores) / dd**2
    coef = beta[:1]
    fit = FWLFit(
        coef=coef,
        vcov=vcov,
        d_tilde=np.empty((0, 1)),
        y_tilde=np.empty((0, coef.shape[1])),
        cluster_codes=None,
        n_obs=n_obs,
        n_params=n_params,
        n_clusters=n_clusters,
        vcov_type="CRV1",
        small_sample_factor=float(factor),
        df=n_clusters - 1,
    )
    control_n = sum(m.control_n for m in moments)
    control_sum = np.vstack([m.control_sum for m in moments]).sum(axis=0)
    control_means = (control_sum / control_n)[None, :]
    weeks = outcome_weeks(names)
    table = fit_rows(fit, level, [treated], names, control_means, extra={"week": list(weeks)})
    label = model or ("(2) ITT path" if covariates else "(5) ITT path, no covariates")
    return PartitionedPathResult(
        model=label,
        table=table.select("term", "outcome", "week", pl.exclude("term", "outcome", "week")),
        vcov_type="CRV1",
        level=level,
        n_obs=n_obs,
        n_clusters=n_clusters,
        notes=(f"estimated from sums over {len(parts)} partition(s)",),
        fits={"path": fit},
        fit=fit,
        sample=None,
        stratum=stratum,
        cluster=cluster,
        treated=treated,
        path_weeks=weeks,
        n_partitions=len(parts),
    )


def _sort_key(v: Any) -> tuple[bool, Any]:
    return (v is None, v)


def _check_design(c_aa: NDArray[np.float64], spec: _IttSpec) -> None:
    """Treatment and covariates must vary within strata and not be collinear."""
    names = [spec.treated, *spec.covariates]
    diag = np.diag(c_aa)
    flat = [names[j] for j in range(len(names)) if diag[j] <= 0]
    if flat:
        raise EstimationError(
            f"column(s) {flat} are constant within every stratum, so they are collinear with "
            "the stratum fixed effects; remove them."
        )
    scale = 1.0 / np.sqrt(diag)
    eig = np.linalg.eigvalsh(c_aa * np.outer(scale, scale))
    if eig[0] <= _COLLINEAR_RTOL * eig[-1]:
        raise EstimationError(
            f"the regressors {names} are collinear given the stratum fixed effects (rank "
            f"deficient within-stratum cross-products); remove a covariate."
        )


# --------------------------------------------------------------------------- hazard


@dataclass(frozen=True)
class _HazardCounts:
    max_batch: ClassVar[int] = 1  # one partition per executor task
    keys: tuple[str, ...]

    def __call__(self, task: tuple[int, PartitionLike]) -> pl.DataFrame:
        _, part = task
        return _read(part, self.keys).group_by(list(self.keys)).agg(pl.len().alias(_COUNT))


_MERGE_EVERY = 16  # partitions' cell counts merged into the running table at a time


def _merge_counts(
    cells: pl.DataFrame | None, new: list[pl.DataFrame], keys: list[str]
) -> pl.DataFrame:
    frames = ([] if cells is None else [cells]) + new  # never empty: >= 1 partition
    return (
        pl.concat(frames, how="vertical_relaxed")
        .group_by(keys)
        .agg(pl.col(_COUNT).sum().cast(pl.Int64))
    )


def partitioned_hazard(
    partitions: Any,
    model: DiscreteTimeHazard | None = None,
    *,
    duration: str = "duration",
    event: str = "event",
    exit_type: str | None = None,
    exit_of_interest: object | None = None,
    executor: ExecutorLike = None,
) -> HazardResult:
    """:meth:`DiscreteTimeHazard.fit` on a partitioned table of one row per person, from
    per-partition counts (module docstring); equal to the fit of all partitions at once.

    Args:
        partitions: as for :func:`partitioned_effect_path` (e.g. the outcome chunks).
        model: the hazard model (default: logit, 4-week intervals, stratum effects,
            treatment, CRV1 by team: the W3a form). Discrete regressors compress best; with
            continuous covariates every person is a key of its own.
        duration, event, exit_type, exit_of_interest: as for ``DiscreteTimeHazard.fit``.
        executor: where the partition tasks run (:mod:`dreamkit.executor`).
    """
    pool = resolve_executor(executor)  # an unreachable scheduler fails before any work
    model = DiscreteTimeHazard() if model is None else model
    parts = as_partitions(partitions)
    keys = [c for c in (model.stratum, model.cluster) if c] + model.raw_columns
    keys += [duration, event] + ([exit_type] if exit_type else [])
    keys = list(dict.fromkeys(keys))
    check_schemas(parts, keys)
    # counts are summed as they arrive, a few partitions at a time (integer sums: the order
    # does not matter), so memory holds the running cell table, not every partition's
    cells: pl.DataFrame | None = None
    waiting: list[pl.DataFrame] = []
    for counted in imap(pool, _HazardCounts(tuple(keys)), list(enumerate(parts))):
        waiting.append(counted)
        if len(waiting) >= _MERGE_EVERY:
            cells = _merge_counts(cells, waiting, keys)
            waiting = []
    cells = _merge_counts(cells, waiting, keys).sort(keys, nulls_last=True)
    return model.fit(
        cells,
        duration=duration,
        event=event,
        exit_type=exit_type,
        exit_of_interest=exit_of_interest,
        weights=_COUNT,
    )
