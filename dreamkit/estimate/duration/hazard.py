"""Discrete-time hazard models: model (1) of the reference study, logit or cloglog.

For person i in stratum k, week t of the spell (t = 1..d_i) and link F (logit or cloglog),

    F(lambda_it) = alpha_t + sum_k c_k M_ik + b T_i + x_i' d,

with ``alpha_t`` a duration-dependence specification (:mod:`.duration_dependence`; 4-week
intervals by default, as in the study), stratum (municipality) fixed effects ``c_k`` (first
stratum the reference), treatment ``T_i``, covariates and interactions.

**Duration-varying treatment effects.** With ``treatment_by`` (a step specification such as
``piecewise([8, 26])``) the single ``b T_i`` is replaced by one effect per duration interval
``m`` of that specification,

    F(lambda_it) = alpha_t + sum_k c_k M_ik + sum_m b_m T_i 1{t in I_m} + x_i' d,

(terms ``treated[1-8]``, ``treated[9-26]``, ...; an interval without treated exits is merged
with its neighbour, as for the baseline). :meth:`HazardResult.constancy_test` is the Wald test
of ``b_1 = ... = b_M`` (chi-squared with M - 1 degrees of freedom, the fit's covariance), and
predicted survival follows the interval-specific effects. It is estimated by
maximum likelihood on person-periods, with team-clustered CRV1 standard errors
(:mod:`.glm`). ``exp(b)`` is an odds ratio (logit) or a hazard ratio (cloglog: the
grouped-time proportional-hazards model).

:meth:`DiscreteTimeHazard.fit` starts from one row per person (duration, event flag) and never
expands to person-weeks: persons with equal regressors and cluster form a pattern, and the
exposures and exits of every (pattern, duration interval) cell are computed directly
(sufficient statistics; exact, see :mod:`.glm`). With continuous covariates every person is
its own pattern and the cells are person x interval. :meth:`DiscreteTimeHazard.fit_person_periods`
takes an expanded person-period table (e.g. from
:func:`~dreamkit.estimate.duration.person_period.expand_spells`), compressed or not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import polars as pl
import scipy.sparse
import scipy.stats
from numpy.typing import NDArray

from dreamkit.errors import EstimationError, InputError
from dreamkit.estimate.duration import survival_prediction
from dreamkit.estimate.duration.duration_dependence import (
    DurationGrid,
    DurationSpec,
    intervals,
    resolve,
    varying_names,
)
from dreamkit.estimate.duration.person_period import (
    check_events_by_arm,
    duration_arrays,
    require_columns,
)
from dreamkit.estimate.glm import BinomialCells, CovType, Factor, GLMFit, Link, fit_binomial
from dreamkit.estimate.results import Result
from dreamkit.frames import accepts_pandas
from dreamkit.inference.working_t import working_t_critical_value, working_t_pvalue

RATIO = {"logit": "odds_ratio", "cloglog": "hazard_ratio"}


def _group(codes: Sequence[NDArray[np.int64]]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Joint group id of several code vectors; returns (inverse, index of a first member)."""
    key = np.zeros(codes[0].shape[0], dtype=np.int64) if codes else np.zeros(0, np.int64)
    for c in codes:
        n_c = int(c.max()) + 1 if c.size else 1
        n_k = int(key.max()) + 1 if key.size else 1
        if n_k * n_c >= 2**62:
            key = np.unique(key, return_inverse=True)[1].astype(np.int64)
            n_k = int(key.max()) + 1
        key = key * n_c + c
    _, first, inv = np.unique(key, return_index=True, return_inverse=True)
    return inv.astype(np.int64), first.astype(np.int64)


def _codes(s: pl.Series) -> NDArray[np.int64]:
    """Dense codes 0..L-1 in sorted order of the values."""
    return (s.rank("dense").to_numpy() - 1).astype(np.int64)


def _labels(s: pl.Series) -> tuple[str, ...]:
    return tuple(str(v) for v in s.unique().sort().to_list())


def _min_clusters_per_stratum(data: _Data) -> int | None:
    """Fewest distinct clusters in any stratum (None without strata or clusters)."""
    if data.stratum is None or data.cluster is None:
        return None
    pairs = np.unique(data.stratum * data.n_clusters + data.cluster)
    return int(np.bincount(pairs // data.n_clusters).min())


def _check_control_exits(
    grid: DurationGrid,
    tgrid: DurationGrid,
    ctrl_events: NDArray[np.float64],
    ctrl_at_risk: NDArray[np.float64],
) -> None:
    """With ``treatment_by``, a baseline interval whose treated weeks all fall in treatment
    intervals inside it is identified by the control rows alone: they need exits (of every
    type) and non-exits there, else its coefficient is infinite."""
    w = grid.lut.size - 1
    weeks = np.arange(1, w + 1)
    g_of, m_of = grid.lut[1:], tgrid.lut[1 : w + 1]
    for g in range(grid.n_groups):
        in_g = g_of == g
        inside = all(np.all(g_of[m_of == m] == g) for m in np.unique(m_of[in_g]))
        ev = ctrl_events[1:][in_g].sum(axis=0)
        r = ctrl_at_risk[1:][in_g].sum()
        if inside and (np.any(ev == 0) or ev.sum() == r):
            lo, hi = int(weeks[in_g].min()), int(weeks[in_g].max())
            raise EstimationError(
                f"duration interval weeks {lo}-{hi} has {int(ev.sum())} control exits in "
                f"{int(r)} control weeks at risk (lacking exits of some type, or non-exits), "
                "and treatment_by gives the treated their own effects inside it, so its "
                "baseline is not identified. Use coarser treatment_by intervals (or coarser "
                "duration intervals)."
            )


def combined_lut(grid: DurationGrid, tgrid: DurationGrid | None) -> tuple[NDArray[np.int64], int]:
    """Week -> joint (duration group, treatment interval) code ``g * n_t + m``, and ``n_t``."""
    if tgrid is None:
        return grid.lut.astype(np.int64), 1
    n_t = tgrid.n_groups
    comb = grid.lut.astype(np.int64) * n_t + tgrid.lut[: grid.lut.size].astype(np.int64)
    comb[0] = -1
    return comb, n_t


def exposure_cells(
    d: NDArray[np.int64],
    pattern: NDArray[np.int64],
    n_pat: int,
    comb: NDArray[np.int64],
    freq: NDArray[np.float64] | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Weeks at risk of every (pattern, week group) from durations, and the non-empty cells.

    ``exposure[p, g] = sum_{i in p} #{t <= d_i : comb[t] = g}``: a sparse pattern x duration
    count matrix times the cumulative indicator of the week groups."""
    w, n_g = int(d.max()), int(comb.max()) + 1
    onehot = np.zeros((w + 1, n_g))
    onehot[np.arange(1, w + 1), comb[1 : w + 1]] = 1.0
    cum = np.cumsum(onehot, axis=0)
    ones = np.ones(d.size) if freq is None else freq
    counts = scipy.sparse.csr_array((ones, (pattern, d)), shape=(n_pat, w + 1))
    exposure = np.asarray(counts @ cum)
    return exposure, np.flatnonzero(exposure.ravel() > 0)


def linear_predictor(
    model: DiscreteTimeHazard,
    names: Sequence[str],
    beta: NDArray[np.float64],
    grid: DurationGrid,
    tgrid: DurationGrid | None,
    stratum_labels: tuple[str, ...],
    raw: NDArray[np.float64],
    stratum: NDArray[np.int64] | None,
    periods: NDArray[np.int64],
) -> NDArray[np.float64]:
    """``eta(t | x)`` (rows x periods) of one linear index with coefficients ``beta``."""
    pos = {n: i for i, n in enumerate(names)}
    if grid.is_step:
        alpha = beta[: grid.n_groups][grid.lut[periods]]
    else:
        alpha = grid.basis(periods) @ beta[[pos[n] for n in grid.basis_names]]
    eta = np.broadcast_to(alpha, (raw.shape[0], periods.size)).copy()
    if stratum is not None:
        gam = np.array([0.0] + [beta[pos[f"{model.stratum}[{lab}]"]] for lab in stratum_labels[1:]])
        eta += gam[stratum][:, None]
    if model.dense_names:
        eta += (model.dense(raw) @ beta[[pos[n] for n in model.dense_names]])[:, None]
    if tgrid is not None:
        b_m = beta[[pos[n] for n in varying_names(str(model.treatment), tgrid)]]
        t = raw[:, model.raw_columns.index(str(model.treatment))]
        eta += t[:, None] * b_m[tgrid.lut[periods]][None, :]
    return eta


def _frequency_weights(df: pl.DataFrame, column: str | None) -> NDArray[np.float64] | None:
    """The frequency-weight column as floats (None without one); positive integers only."""
    if column is None:
        return None
    require_columns(df, [column], "durations")
    s = df[column]
    if not s.dtype.is_integer() or s.null_count() or (s.min() or 0) < 1:  # type: ignore[operator]
        raise InputError(
            f"column {column!r} must hold frequency weights: integers >= 1 without missing "
            "values (the number of persons a row stands for)."
        )
    return s.cast(pl.Float64).to_numpy()


@dataclass(frozen=True)
class _Data:
    """Validated regressors of the rows (persons or person-periods) of one fit."""

    stratum: NDArray[np.int64] | None
    stratum_labels: tuple[str, ...]
    cluster: NDArray[np.int64] | None
    n_clusters: int
    raw: NDArray[np.float64]  # (n, r) raw regressor columns


@dataclass(frozen=True)
class DiscreteTimeHazard:
    """Model (1): a discrete-time hazard with duration dependence and stratum effects.

    Args:
        link: ``"logit"`` (odds ratios) or ``"cloglog"`` (hazard ratios).
        duration_spec: the baseline ``alpha_t`` (default :func:`intervals` of 4 weeks, with
            degenerate intervals merged and reported).
        treatment: the 0/1 treatment column (``None`` for none).
        stratum: the stratum column for fixed effects (``None`` for none).
        cluster: the cluster column for CRV1 standard errors (``None``: model-based ``iid``).
        covariates: further numeric regressor columns.
        interactions: pairs of columns entering as their product, named ``"a:b"``, e.g.
            ``(("treated", "long_wait"),)``; main effects are not added automatically.
        cov_type: ``"CRV1"`` (default with a cluster), ``"CR2"`` (Bell-McCaffrey, with
            Satterthwaite degrees of freedom per coefficient: t-based p-values and
            intervals) or ``"iid"``.
        treatment_by: a step duration specification (:func:`intervals`, :func:`piecewise`,
            :func:`week_dummies`) for duration-varying treatment effects: one treatment term
            per interval (module docstring) instead of the single ``b``.
        cr2_reference: with ``cov_type="CR2"``, the reference distribution of the t-statistics
            of the terms ``tidy()`` shows: ``"satterthwaite"`` (default: t with the
            Bell-McCaffrey df) or ``"exact"``: the exact distribution of the CR2 t-statistic
            under the working model, T = Z / sqrt(sum_j lambda~_j chi2_1,j) with lambda~
            the normalised eigenvalues of the
            coefficient's Bell-McCaffrey matrix (:mod:`dreamkit.inference.working_t`; less
            conservative than the df when a few teams dominate, docs/inference.md). The
            ``df`` column keeps the Bell-McCaffrey df; duration and stratum terms keep t(df).
    """

    link: Link = "logit"
    duration_spec: DurationSpec = field(default_factory=intervals)
    treatment: str | None = "treated"
    stratum: str | None = "municipality"
    cluster: str | None = "team"
    covariates: tuple[str, ...] = ()
    interactions: tuple[tuple[str, str], ...] = ()
    cov_type: CovType | None = None
    treatment_by: DurationSpec | None = None
    cr2_reference: Literal["satterthwaite", "exact"] = "satterthwaite"

    @property
    def raw_columns(self) -> list[str]:
        cols = [self.treatment] if self.treatment else []
        for c in (*self.covariates, *(c for pair in self.interactions for c in pair)):
            if c not in cols:
                cols.append(c)
        return cols

    @property
    def _main(self) -> list[str]:
        """Main-effect columns constant over the spell (the treatment unless it varies)."""
        varying = self.treatment_by is not None
        return ([self.treatment] if self.treatment and not varying else []) + list(self.covariates)

    @property
    def dense_names(self) -> tuple[str, ...]:
        """Names of the regressors constant over the spell (main effects, then products)."""
        return tuple(self._main + [f"{a}:{b}" for a, b in self.interactions])

    def dense(self, raw: NDArray[np.float64]) -> NDArray[np.float64]:
        """Dense regressor block (main effects then products) from the raw columns."""
        pos = {c: i for i, c in enumerate(self.raw_columns)}
        main = self._main
        cols = [raw[:, pos[c]] for c in main] + [
            raw[:, pos[a]] * raw[:, pos[b]] for a, b in self.interactions
        ]
        return np.column_stack(cols) if cols else np.zeros((raw.shape[0], 0))

    def _validate(self, df: pl.DataFrame, what: str) -> _Data:
        if self.link not in ("logit", "cloglog"):
            raise InputError(f"link={self.link!r} is not supported; use 'logit' or 'cloglog'.")
        if self.treatment_by is not None:
            if not self.treatment:
                raise InputError("treatment_by needs a treatment column (treatment=...).")
            if self.treatment_by.kind == "log_polynomial":
                raise InputError(
                    "treatment_by must be a step specification (intervals, piecewise or "
                    "week_dummies), not log_polynomial."
                )
        keys = [c for c in (self.stratum, self.cluster) if c]
        require_columns(df, keys + self.raw_columns, what)
        for c in keys + self.raw_columns:
            if df[c].null_count():
                raise InputError(
                    f"column {c!r} has {df[c].null_count()} missing value(s); the hazard model "
                    "needs it for every row. Impute or remove those persons explicitly."
                )
        for c in self.raw_columns:
            if not df[c].dtype.is_numeric() and df[c].dtype != pl.Boolean:
                raise InputError(
                    f"column {c!r} has dtype {df[c].dtype}; regressors must be numeric. Code a "
                    "categorical covariate as 0/1 dummy columns."
                )
            if df[c].dtype.is_float():
                n_bad = int((~df[c].is_finite()).sum())
                if n_bad:
                    raise InputError(
                        f"column {c!r} has {n_bad} NaN or infinite value(s); the hazard model "
                        "needs a finite value for every row. Impute or remove those persons "
                        "explicitly."
                    )
        if self.treatment:
            bad = set(df[self.treatment].unique().to_list()) - {0, 1}
            if bad:
                raise InputError(
                    f"column {self.treatment!r} has value {sorted(bad)[0]!r}; treatment must "
                    "be 1 (course) or 0 (control)."
                )
        stratum = _codes(df[self.stratum]) if self.stratum else None
        labels = _labels(df[self.stratum]) if self.stratum else ()
        cluster, n_cl = None, 0
        if self.cluster:
            cluster = _codes(df[self.cluster])
            n_cl = int(cluster.max()) + 1
            if n_cl < 2:
                raise InputError(f"column {self.cluster!r} has one cluster; CRV1 needs >= 2.")
        raw = (
            df.select(pl.col(self.raw_columns).cast(pl.Float64)).to_numpy()
            if self.raw_columns
            else np.zeros((df.height, 0))
        )
        return _Data(stratum, labels, cluster, n_cl, raw)

    def _cov_type(self) -> CovType:
        if self.cr2_reference not in ("satterthwaite", "exact"):
            raise InputError(
                f"cr2_reference must be 'satterthwaite' or 'exact'; got {self.cr2_reference!r}."
            )
        if self.cov_type is not None:
            if self.cov_type in ("CRV1", "CR2") and not self.cluster:
                raise InputError(
                    f"cov_type={self.cov_type!r} needs a cluster column (cluster=...)."
                )
            return self.cov_type
        return "CRV1" if self.cluster else "iid"

    def _cells(
        self,
        data: _Data,
        grid: DurationGrid,
        group: NDArray[np.int64],
        row: NDArray[np.int64],
        events: NDArray[np.float64],
        trials: NDArray[np.float64],
        tgrid: DurationGrid | None = None,
        tgroup: NDArray[np.int64] | None = None,
    ) -> BinomialCells:
        """Cells from (duration group, source row) pairs with their events and trials;
        ``tgroup`` is each cell's treatment interval of ``tgrid`` (``treatment_by``)."""
        factors: list[Factor] = []
        dense = self.dense(data.raw[row])
        names = self.dense_names
        if tgrid is not None and tgroup is not None:
            t = data.raw[row, self.raw_columns.index(str(self.treatment))]
            varying = (tgroup[:, None] == np.arange(tgrid.n_groups)[None, :]) * t[:, None]
            dense = np.column_stack([varying, dense])
            names = varying_names(str(self.treatment), tgrid) + names
        if grid.is_step:
            factors.append(Factor("duration", group.astype(np.intp), grid.labels, False))
        else:
            dense = np.column_stack([grid.basis(grid.first_week[group]), dense])
            names = grid.basis_names + names
        if data.stratum is not None:
            factors.append(
                Factor(
                    str(self.stratum), data.stratum[row].astype(np.intp), data.stratum_labels, True
                )
            )
        cl = data.cluster[row].astype(np.intp) if data.cluster is not None else None
        return BinomialCells(events, trials, tuple(factors), dense, names, cl, data.n_clusters)

    def treatment_grid(
        self,
        data: _Data,
        grid: DurationGrid,
        weeks: NDArray[np.int64],
        events: NDArray[np.float64],
        w: int,
        *,
        person_periods: bool,
    ) -> DurationGrid | None:
        """The resolved ``treatment_by`` intervals, from the treated rows' exits and weeks at
        risk (``weeks``: durations of persons, or the period of each person-period row).
        ``events`` may have one column per exit type (competing risks)."""
        if self.treatment_by is None:
            return None
        treated = data.raw[:, self.raw_columns.index(str(self.treatment))] == 1

        def by_week(rows: NDArray[np.bool_]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
            wk, ev = weeks[rows], events[rows]
            ev2 = ev.reshape(ev.shape[0], -1)
            ev_w = np.column_stack(
                [np.bincount(wk, weights=ev2[:, j], minlength=w + 1) for j in range(ev2.shape[1])]
            ).astype(np.float64)
            n_w = np.bincount(wk, minlength=w + 1).astype(np.float64)
            at_risk = (
                n_w if person_periods else np.concatenate([[0.0], np.cumsum(n_w[::-1])[::-1][1:]])
            )
            return ev_w, at_risk

        ev_w, at_risk = by_week(treated)
        if at_risk.sum() == 0:
            raise InputError("treatment_by needs treated persons; no row has treatment 1.")
        tgrid = resolve(self.treatment_by, ev_w, at_risk)
        _check_control_exits(grid, tgrid, *by_week(~treated))
        return tgrid

    @accepts_pandas("durations")
    def fit(
        self,
        durations: pl.DataFrame,
        *,
        duration: str = "duration",
        event: str = "event",
        exit_type: str | None = None,
        exit_of_interest: object | None = None,
        weights: str | None = None,
    ) -> HazardResult:
        """Fit on one row per person: ``duration`` (weeks at risk, >= 1) and ``event`` (0/1).

        With ``exit_type`` and ``exit_of_interest`` the cause-specific hazard of that exit is
        fitted: exits of other types count as censoring in their exit week. ``weights`` names
        a column of frequency weights (positive integers): a row stands for that many persons
        with the same values, so counts of persons per (regressors, cluster, duration, event)
        (e.g. summed over the partitions of a register, :mod:`dreamkit.estimate.sufficient`)
        give exactly the fit of the persons themselves.
        """
        d, e = duration_arrays(durations, duration, event)
        freq = _frequency_weights(durations, weights)
        if freq is not None and self.treatment_by is not None:
            raise InputError(
                "weights= and treatment_by= cannot be combined; expand the weighted rows "
                "(one row per person) to fit duration-varying effects."
            )
        if exit_type is not None:
            require_columns(durations, [exit_type], "durations")
            e = (
                e.astype(bool)
                & (durations[exit_type] == exit_of_interest).fill_null(False).to_numpy()
            ).astype(np.int8)
        data = self._validate(durations, "durations")
        if self.treatment:
            check_events_by_arm(durations[self.treatment], e, self.treatment)
        w = int(d.max())
        n_d = np.bincount(d, weights=freq, minlength=w + 1).astype(np.float64)
        at_risk = np.concatenate([[0.0], np.cumsum(n_d[::-1])[::-1][1:]])
        e_freq = e.astype(np.float64) if freq is None else e * freq
        ev_w = np.bincount(d, weights=e_freq, minlength=w + 1).astype(np.float64)
        grid = resolve(self.duration_spec, ev_w, at_risk)
        tgrid = self.treatment_grid(data, grid, d, e.astype(np.float64), w, person_periods=False)

        # patterns of equal regressors and cluster, then (pattern, duration, event) counts
        keys = [c for c in (data.stratum, data.cluster) if c is not None]
        keys += [_codes(pl.Series(data.raw[:, j])) for j in range(data.raw.shape[1])]
        pattern, first = (
            _group(keys) if keys else (np.zeros(d.size, np.int64), np.zeros(1, np.int64))
        )
        n_pat = first.size
        # week groups: duration group x treatment interval (one interval without treatment_by)
        comb, n_t = combined_lut(grid, tgrid)
        exposure, flat = exposure_cells(d, pattern, n_pat, comb, freq)
        n_j = int(comb.max()) + 1
        exits = np.bincount(pattern * n_j + comb[d], weights=e_freq, minlength=n_pat * n_j).astype(
            np.float64
        )
        pat, cg = np.divmod(flat, n_j)
        cells = self._cells(
            data, grid, cg // n_t, first[pat], exits[flat], exposure.ravel()[flat], tgrid, cg % n_t
        )
        glm = fit_binomial(cells, self.link, self._cov_type())
        n_by_pattern = np.bincount(pattern, weights=freq, minlength=n_pat).astype(np.float64)
        return HazardResult(
            self,
            glm,
            grid,
            data.raw[first],
            data.stratum_labels,
            data.stratum[first] if data.stratum is not None else None,
            n_by_pattern,
            d.size if freq is None else round(float(freq.sum())),
            min_clusters_per_stratum=_min_clusters_per_stratum(data),
            treatment_grid=tgrid,
        )

    @accepts_pandas("person_periods")
    def fit_person_periods(
        self,
        person_periods: pl.DataFrame,
        *,
        period: str = "period",
        event: str = "event",
        compress: bool = True,
    ) -> HazardResult:
        """Fit on a person-period table (one row per person or spell and week at risk).

        ``period`` is the week of the spell (1, 2, ...), ``event`` the 0/1 exit flag of that
        week. Regressors may vary over periods (time-varying covariates). With ``compress``
        rows with equal (duration group, stratum, cluster, regressors) are pooled into
        binomial cells first; the estimates are the same either way. Spells are counted as
        the rows with ``period == 1``.
        """
        p_arr, e = duration_arrays(person_periods, period, event)
        data = self._validate(person_periods, "person-period")
        w = int(p_arr.max())
        at_risk = np.bincount(p_arr, minlength=w + 1).astype(np.float64)
        ev_w = np.bincount(p_arr, weights=e.astype(np.float64), minlength=w + 1).astype(np.float64)
        grid = resolve(self.duration_spec, ev_w, at_risk)
        ef = e.astype(np.float64)
        tgrid = self.treatment_grid(data, grid, p_arr, ef, w, person_periods=True)
        comb, n_t = combined_lut(grid, tgrid)
        grp = comb[p_arr].astype(np.int64)
        if compress:
            keys = [grp] + [c for c in (data.stratum, data.cluster) if c is not None]
            keys += [_codes(pl.Series(data.raw[:, j])) for j in range(data.raw.shape[1])]
            inv, first = _group(keys)
            cells = self._cells(
                data,
                grid,
                grp[first] // n_t,
                first,
                np.bincount(inv, weights=ef, minlength=first.size).astype(np.float64),
                np.bincount(inv, minlength=first.size).astype(np.float64),
                tgrid,
                grp[first] % n_t,
            )
        else:
            rows = np.arange(p_arr.size, dtype=np.int64)
            cells = self._cells(
                data, grid, grp // n_t, rows, ef, np.ones(p_arr.size), tgrid, grp % n_t
            )
        glm = fit_binomial(cells, self.link, self._cov_type())
        starts = np.flatnonzero(p_arr == 1)
        if starts.size == 0:
            raise InputError(f"no row has {period} = 1: every spell must start in period 1.")
        return HazardResult(
            self,
            glm,
            grid,
            data.raw[starts],
            data.stratum_labels,
            data.stratum[starts] if data.stratum is not None else None,
            np.ones(starts.size),
            int(starts.size),
            min_clusters_per_stratum=_min_clusters_per_stratum(data),
            treatment_grid=tgrid,
        )


@dataclass(frozen=True, repr=False)
class HazardResult(Result):
    """A fitted discrete-time hazard: estimates, covariance and predictions.

    Result protocol (:class:`~dreamkit.estimate.results.Result`): ``tidy()`` shows the
    regressors (treatment, covariates, interactions); ``tidy(fixed_effects=True)`` adds the
    duration-dependence and stratum terms; ``tidy(exponentiate=True)`` gives odds ratios
    (logit) or hazard ratios (cloglog). :attr:`vcov` is the covariance of all parameters in
    the order of ``tidy(fixed_effects=True)``. Intervals and p-values are normal (Wald z), as
    statsmodels reports for GLMs, except with ``cov_type="CR2"``: t with each coefficient's
    Bell-McCaffrey degrees of freedom (column ``df``). ``glance()``: n_obs (person-periods at
    risk), n_persons, n_events, n_clusters, vcov_type, log_likelihood, link, iterations, converged.
    """

    model: DiscreteTimeHazard
    glm: GLMFit
    grid: DurationGrid
    pattern_raw: NDArray[np.float64]
    stratum_labels: tuple[str, ...]
    pattern_stratum: NDArray[np.int64] | None
    pattern_weight: NDArray[np.float64]
    n_persons: int
    min_clusters_per_stratum: int | None = None
    treatment_grid: DurationGrid | None = None

    @property
    def model_name(self) -> str:
        return f"Discrete-time hazard ({self.glm.link})"

    @property
    def effect_names(self) -> tuple[str, ...]:
        """Terms shown by ``tidy()``: duration-varying treatment effects, then regressors."""
        varying = (
            varying_names(str(self.model.treatment), self.treatment_grid)
            if self.treatment_grid is not None
            else ()
        )
        return varying + self.model.dense_names

    @property
    def ratio_name(self) -> str:
        return RATIO[self.glm.link]

    @property
    def n_person_periods(self) -> int:
        return self.glm.n_trials

    @property
    def n_events(self) -> int:
        return self.glm.n_events

    @property
    def duration_merges(self) -> tuple[str, ...]:
        """Messages describing every merge of degenerate duration intervals."""
        return self.grid.merges

    @property
    def vcov(self) -> NDArray[np.float64]:
        return self.glm.cov

    def coef(self, term: str) -> float:
        return float(self.glm.params[self._index(term)])

    def se(self, term: str) -> float:
        return float(self.glm.std_errors[self._index(term)])

    def _index(self, term: str) -> int:
        try:
            return self.glm.names.index(term)
        except ValueError:
            raise InputError(f"no term {term!r}; terms are {list(self.glm.names)}.") from None

    def _coefficients(self) -> pl.DataFrame:
        k = len(self.glm.names)
        return pl.DataFrame(
            {
                "term": list(self.glm.names),
                "estimate": self.glm.params,
                "std_error": self.glm.std_errors,
                "df": self.glm.df if self.glm.df is not None else np.full(k, np.inf),
                "n_person_periods": np.full(k, self.n_person_periods, dtype=np.int64),
                "n_persons": np.full(k, self.n_persons, dtype=np.int64),
                "n_events": np.full(k, self.n_events, dtype=np.int64),
                "n_clusters": np.full(k, self.glm.n_clusters, dtype=np.int64),
            }
        )

    def _hidden_terms(self) -> set[str]:
        """Duration and stratum terms (shown with ``tidy(fixed_effects=True)``)."""
        return set(self.glm.names) - set(self.effect_names)

    def _reference_overrides(self, level: float) -> dict[int, tuple[float, float]]:
        """With ``cr2_reference="exact"``: p-values and critical values of the shown terms
        from the exact CR2 working-model reference (one G x G eigen-decomposition each)."""
        if self.model.cr2_reference != "exact" or self.glm.cov_type != "CR2":
            return {}
        out: dict[int, tuple[float, float]] = {}
        for term in self.effect_names:
            j = self._index(term)
            se = float(self.glm.std_errors[j])
            if not se > 0:
                continue
            lam = self.glm.gram_eigenvalues(j)
            t = float(self.glm.params[j]) / se
            out[j] = (working_t_pvalue(t, lam), working_t_critical_value(level, lam))
        return out

    def _glance(self) -> dict[str, object]:
        g = self.glm
        return {
            "n_obs": self.n_person_periods,
            "n_clusters": g.n_clusters,
            "vcov_type": (
                f"{g.cov_type} ({self.model.cluster})"
                if g.cov_type in ("CRV1", "CR2")
                else g.cov_type
            ),
            "df": self._treatment_df(),
            "log_likelihood": g.log_likelihood,
            "link": g.link,
            "duration": f"{self.grid.spec.kind} ({self.grid.n_groups} groups)",
            "fixed_effects": self.model.stratum,
            "n_persons": self.n_persons,
            "n_events": self.n_events,
            "n_cells": g.n_rows,
            "iterations": g.iterations,
            "converged": True,
        }

    def _treatment_df(self) -> float | None:
        """Bell-McCaffrey df of the treatment coefficient (CR2), else None (normal)."""
        if self.glm.df is None or not self.model.treatment:
            return None
        return float(self.glm.df[self._index(self.model.treatment)])

    def _notes(self) -> tuple[str, ...]:
        corr: tuple[str, ...] = ()
        if self.glm.cov_type == "CRV1":
            corr = (f"CRV1 small-sample factor {self.glm.correction:.4f}",)
        elif self.glm.cov_type == "CR2":
            corr = (
                (
                    "CR2 (Bell-McCaffrey); shown terms: exact working-model reference, other "
                    "terms: t with Satterthwaite df",
                )
                if self.model.cr2_reference == "exact"
                else ("CR2 (Bell-McCaffrey), t intervals with Satterthwaite df per term",)
            )
        tmerge = self.treatment_grid.merges if self.treatment_grid is not None else ()
        return (*corr, *self.grid.merges, *(f"treatment_by: {m}" for m in tmerge))

    def hazard_matrix(
        self,
        raw: NDArray[np.float64],
        stratum: NDArray[np.int64] | None,
        periods: NDArray[np.int64],
    ) -> NDArray[np.float64]:
        """Fitted hazards ``lambda(t | x)`` for rows of raw regressors (n, r) and weeks t."""
        eta = linear_predictor(
            self.model,
            self.glm.names,
            self.glm.params,
            self.grid,
            self.treatment_grid,
            self.stratum_labels,
            raw,
            stratum,
            periods,
        )
        if self.glm.link == "logit":
            return 1.0 / (1.0 + np.exp(-eta))
        return -np.expm1(-np.exp(eta))

    def predict_survival(self, periods: int | None = None, level: float = 0.95) -> pl.DataFrame:
        """Predicted survival by arm, standardised over the fitted sample, with intervals.

        ``S_a(t) = (1/N) sum_i prod_{s <= t} (1 - lambda(s | x_i, T_i = a))`` for a = 0, 1: every
        person's own stratum and covariates with the treatment set to a (interactions with
        the treatment follow). Also the average hazard ``h_a(t)``, and the delta-method SE
        and ``level`` interval of ``S_a(t)`` from the fit's covariance
        (:mod:`~dreamkit.estimate.duration.survival_prediction`). Weeks 1..``periods`` (default: the
        longest duration in the data).
        """
        return survival_prediction.predict_survival(self, periods, level)

    def survival_difference(self, periods: int | None = None, level: float = 0.95) -> pl.DataFrame:
        """``S_1(t) - S_0(t)`` with delta-method SE, interval and p-value, weeks 1..periods."""
        return survival_prediction.survival_difference(self, periods, level)

    def constancy_test(self) -> pl.DataFrame:
        """Wald test that the duration-varying treatment effects are equal, ``b_1 = ... = b_M``.

        ``W = (R b)' (R V R')^{-1} (R b)`` with ``R`` the M-1 contrasts ``b_m - b_1`` and ``V``
        the fit's covariance; chi-squared with M-1 degrees of freedom under constancy.
        Columns: ``test``, ``statistic``, ``df``, ``p_value``, ``vcov_type``.
        """
        if self.treatment_grid is None or self.treatment_grid.n_groups < 2:
            raise InputError(
                "the constancy test needs a fit with treatment_by and at least two treatment "
                "intervals; refit with e.g. treatment_by=piecewise([8, 26])."
            )
        idx = [
            self._index(n) for n in varying_names(str(self.model.treatment), self.treatment_grid)
        ]
        stat, df = wald_equal(self.glm.params, self.glm.cov, idx)
        return pl.DataFrame(
            {
                "test": ["treatment effect constant over duration"],
                "statistic": [stat],
                "df": [df],
                "p_value": [float(scipy.stats.chi2.sf(stat, df))],
                "vcov_type": [self.glm.cov_type],
            }
        )


def wald_equal(
    params: NDArray[np.float64], cov: NDArray[np.float64], idx: Sequence[int]
) -> tuple[float, int]:
    """Wald statistic and df of ``params[idx[0]] = params[idx[1]] = ...``."""
    r = np.zeros((len(idx) - 1, params.size))
    r[:, idx[0]] = -1.0
    r[np.arange(len(idx) - 1), list(idx[1:])] = 1.0
    rb = r @ params
    return float(rb @ np.linalg.solve(r @ cov @ r.T, rb)), len(idx) - 1
