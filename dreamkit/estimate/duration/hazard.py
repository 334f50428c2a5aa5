"""Discrete-time hazard models: model (1) of the reference study, logit or cloglog.

For person i in stratum k, week t of the spell (t = 1..d_i) and link F (logit or cloglog),

    F(lambda_it) = alpha_t + sum_k c_k M_ik + b T_i + x_i' d,

with ``alpha_t`` a duration-dependence specification (:mod:`.duration_dependence`; 4-week
intervals by default, as in the study), stratum (municipality) fixed effects ``c_k`` (first
stratum the reference), treatment ``T_i``, covariates and interactions. It is estimated by
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

import numpy as np
import polars as pl
import scipy.sparse
import scipy.stats
from numpy.typing import NDArray

from dreamkit.errors import InputError
from dreamkit.estimate.duration import survival_prediction
from dreamkit.estimate.duration.duration_dependence import (
    DurationGrid,
    DurationSpec,
    intervals,
    resolve,
)
from dreamkit.estimate.duration.person_period import duration_arrays, require_columns
from dreamkit.estimate.glm import BinomialCells, CovType, Factor, GLMFit, Link, fit_binomial
from dreamkit.estimate.results import Result
from dreamkit.frames import accepts_pandas

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
    """

    link: Link = "logit"
    duration_spec: DurationSpec = field(default_factory=intervals)
    treatment: str | None = "treated"
    stratum: str | None = "municipality"
    cluster: str | None = "team"
    covariates: tuple[str, ...] = ()
    interactions: tuple[tuple[str, str], ...] = ()
    cov_type: CovType | None = None

    @property
    def raw_columns(self) -> list[str]:
        cols = [self.treatment] if self.treatment else []
        for c in (*self.covariates, *(c for pair in self.interactions for c in pair)):
            if c not in cols:
                cols.append(c)
        return cols

    @property
    def dense_names(self) -> tuple[str, ...]:
        main = ([self.treatment] if self.treatment else []) + list(self.covariates)
        return tuple(main + [f"{a}:{b}" for a, b in self.interactions])

    def dense(self, raw: NDArray[np.float64]) -> NDArray[np.float64]:
        """Dense regressor block (main effects then products) from the raw columns."""
        pos = {c: i for i, c in enumerate(self.raw_columns)}
        main = ([self.treatment] if self.treatment else []) + list(self.covariates)
        cols = [raw[:, pos[c]] for c in main] + [
            raw[:, pos[a]] * raw[:, pos[b]] for a, b in self.interactions
        ]
        return np.column_stack(cols) if cols else np.zeros((raw.shape[0], 0))

    def _validate(self, df: pl.DataFrame, what: str) -> _Data:
        if self.link not in ("logit", "cloglog"):
            raise InputError(f"link={self.link!r} is not supported; use 'logit' or 'cloglog'.")
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
    ) -> BinomialCells:
        """Cells from (duration group, source row) pairs with their events and trials."""
        factors: list[Factor] = []
        dense = self.dense(data.raw[row])
        names = self.dense_names
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

    @accepts_pandas("durations")
    def fit(
        self,
        durations: pl.DataFrame,
        *,
        duration: str = "duration",
        event: str = "event",
        exit_type: str | None = None,
        exit_of_interest: object | None = None,
    ) -> HazardResult:
        """Fit on one row per person: ``duration`` (weeks at risk, >= 1) and ``event`` (0/1).

        With ``exit_type`` and ``exit_of_interest`` the cause-specific hazard of that exit is
        fitted: exits of other types count as censoring in their exit week.
        """
        d, e = duration_arrays(durations, duration, event)
        if exit_type is not None:
            require_columns(durations, [exit_type], "durations")
            e = (
                e.astype(bool)
                & (durations[exit_type] == exit_of_interest).fill_null(False).to_numpy()
            ).astype(np.int8)
        data = self._validate(durations, "durations")
        w = int(d.max())
        n_d = np.bincount(d, minlength=w + 1).astype(np.float64)
        at_risk = np.concatenate([[0.0], np.cumsum(n_d[::-1])[::-1][1:]])
        ev_w = np.bincount(d, weights=e.astype(np.float64), minlength=w + 1).astype(np.float64)
        grid = resolve(self.duration_spec, ev_w, at_risk)

        # patterns of equal regressors and cluster, then (pattern, duration, event) counts
        keys = [c for c in (data.stratum, data.cluster) if c is not None]
        keys += [_codes(pl.Series(data.raw[:, j])) for j in range(data.raw.shape[1])]
        pattern, first = (
            _group(keys) if keys else (np.zeros(d.size, np.int64), np.zeros(1, np.int64))
        )
        n_pat = first.size
        n_j = grid.n_groups
        # cum[t, j] = number of weeks 1..t that fall into duration group j
        onehot = np.zeros((w + 1, n_j))
        onehot[np.arange(1, w + 1), grid.lut[1:]] = 1.0
        cum = np.cumsum(onehot, axis=0)
        counts = scipy.sparse.csr_array((np.ones(d.size), (pattern, d)), shape=(n_pat, w + 1))
        exposure = np.asarray(counts @ cum)
        exits = np.bincount(
            pattern * n_j + grid.lut[d], weights=e.astype(np.float64), minlength=n_pat * n_j
        ).astype(np.float64)
        flat = np.flatnonzero(exposure.ravel() > 0)
        pat, grp = np.divmod(flat, n_j)
        cells = self._cells(data, grid, grp, first[pat], exits[flat], exposure.ravel()[flat])
        glm = fit_binomial(cells, self.link, self._cov_type())
        n_by_pattern = np.bincount(pattern, minlength=n_pat).astype(np.float64)
        return HazardResult(
            self,
            glm,
            grid,
            data.raw[first],
            data.stratum_labels,
            data.stratum[first] if data.stratum is not None else None,
            n_by_pattern,
            d.size,
            min_clusters_per_stratum=_min_clusters_per_stratum(data),
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
        grp = grid.lut[p_arr].astype(np.int64)
        ef = e.astype(np.float64)
        if compress:
            keys = [grp] + [c for c in (data.stratum, data.cluster) if c is not None]
            keys += [_codes(pl.Series(data.raw[:, j])) for j in range(data.raw.shape[1])]
            inv, first = _group(keys)
            cells = self._cells(
                data,
                grid,
                grp[first],
                first,
                np.bincount(inv, weights=ef, minlength=first.size).astype(np.float64),
                np.bincount(inv, minlength=first.size).astype(np.float64),
            )
        else:
            rows = np.arange(p_arr.size, dtype=np.int64)
            cells = self._cells(data, grid, grp, rows, ef, np.ones(p_arr.size))
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

    @property
    def model_name(self) -> str:
        return f"Discrete-time hazard ({self.glm.link})"

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

    def tidy(
        self,
        level: float | None = None,
        *,
        exponentiate: bool = False,
        fixed_effects: bool = False,
    ) -> pl.DataFrame:
        """One row per regressor (the protocol's columns, then n_person_periods, n_persons,
        n_events, n_clusters); duration and stratum terms only with ``fixed_effects``."""
        out = super().tidy(level, exponentiate=exponentiate)
        if fixed_effects:
            return out
        return out.filter(pl.col("term").is_in(list(self.model.dense_names)))

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
            corr = ("CR2 (Bell-McCaffrey), t intervals with Satterthwaite df per term",)
        return (*corr, *self.grid.merges)

    def hazard_matrix(
        self,
        raw: NDArray[np.float64],
        stratum: NDArray[np.int64] | None,
        periods: NDArray[np.int64],
    ) -> NDArray[np.float64]:
        """Fitted hazards ``lambda(t | x)`` for rows of raw regressors (n, r) and weeks t."""
        pos = {n: i for i, n in enumerate(self.glm.names)}
        beta = self.glm.params
        if self.grid.is_step:
            alpha = beta[: self.grid.n_groups][self.grid.lut[periods]]
        else:
            idx = [pos[n] for n in self.grid.basis_names]
            alpha = self.grid.basis(periods) @ beta[idx]
        eta = np.broadcast_to(alpha, (raw.shape[0], periods.size)).copy()
        if stratum is not None:
            gam = np.array(
                [0.0]
                + [beta[pos[f"{self.model.stratum}[{lab}]"]] for lab in self.stratum_labels[1:]]
            )
            eta += gam[stratum][:, None]
        if self.model.dense_names:
            b = beta[[pos[n] for n in self.model.dense_names]]
            eta += (self.model.dense(raw) @ b)[:, None]
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
