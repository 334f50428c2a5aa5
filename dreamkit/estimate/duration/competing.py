r"""Competing risks: the discrete-time multinomial-logit hazard of all exits jointly.

For person :math:`i` at risk in week :math:`t` of the spell and exit types
:math:`j = 1, \dots, J` (no exit the reference),

.. math::

    \lambda_{ij}(t) = P(\text{exit } j \text{ in } t \mid \text{at risk})
    = \frac{\exp \eta_{ij}(t)}{1 + \sum_{k=1}^J \exp \eta_{ik}(t)}, \qquad
    \eta_{ij}(t) = \alpha_{j,g(t)} + c_{j,k(i)} + b_j T_i + x_i' \delta_j,

with cause-specific duration intervals :math:`\alpha_{jg}`, stratum effects :math:`c_{jk}`,
treatment effects :math:`b_j` (optionally duration-varying, :math:`b_{j,m(t)}`, with
``treatment_by``) and covariates. :math:`e^{b_j}` is a relative-risk ratio: the ratio by arm of
the odds of exit :math:`j` against staying. All :math:`J` equations are estimated in one
maximum-likelihood fit, so the estimates of different exits have one joint covariance
(CRV1 by team or model-based ``iid``).

**Cells.** The log likelihood
:math:`\ell = \sum_c \bigl[\sum_j y_{cj}\eta_{cj} - m_c \log(1 + \sum_k e^{\eta_{ck}})\bigr]`
depends on the person-weeks only through the at-risk count :math:`m_c` and the exit counts
:math:`y_{cj}` of every cell :math:`c` of identical regressors (persons with equal stratum,
cluster and regressors, times the duration interval), as for the binary hazard
(:mod:`.hazard`); with the cluster in the cell key the per-cluster scores are exact too.
Newton's method with the analytic Hessian
:math:`-\partial^2\ell/\partial\beta_j\partial\beta_k' = \sum_c m_c \pi_{cj}
(\delta_{jk} - \pi_{ck}) x_c x_c'` (the log likelihood is concave), step-halving, and the
convergence rule of :mod:`dreamkit.estimate.glm`.

**Covariance.** ``iid``: the inverse information. ``CRV1``:
:math:`c\,H^{-1}(\sum_g S_g S_g')H^{-1}` with :math:`S_g` the stacked cause scores of cluster
:math:`g` and :math:`c = G/(G-1)\cdot(N-1)/(N-K)` (N person-weeks, K = J p parameters), what
statsmodels' ``MNLogit(...).fit(cov_type="cluster")`` computes.

**Cumulative incidence.** For arm :math:`a`, standardised over the fitted sample,

.. math::

    \bar F_{aj}(t) = \sum_i w_i \sum_{s \le t} S_i(s-1)\,\lambda_{ij}(s), \qquad
    S_i(s) = \prod_{u \le s}\bigl(1 - \textstyle\sum_k \lambda_{ik}(u)\bigr),

with :math:`T_i = a`. With :math:`f_{ij}(s) = S_i(s-1)\lambda_{ij}(s)`,
:math:`\Lambda_{ik}(s) = \sum_{u \le s}\lambda_{ik}(u)` and :math:`z_i(s)` the regressors of week
:math:`s`, the gradient with respect to the coefficients :math:`\beta_k` of exit :math:`k` is

.. math::

    \frac{\partial \bar F_{aj}(t)}{\partial \beta_k} = \sum_i w_i \sum_{s \le t} f_{ij}(s)
    \Bigl[(\delta_{jk} - \lambda_{ik}(s))\,z_i(s) - \sum_{u < s} \lambda_{ik}(u)\,z_i(u)\Bigr];

for regressors constant over the spell the bracket is :math:`(\delta_{jk} - \Lambda_{ik}(s))
z_i`. The delta method gives the standard errors; intervals are formed on the
:math:`\log(-\log F)` scale (as lifelines does for Aalen-Johansen) and differences
:math:`\bar F_{1j}(t) - \bar F_{0j}(t)` have normal intervals.

**Bad input.** An exit type with no exits (a declared cause, or one left with none in a
stratum or among the treated) has an infinite maximum-likelihood coefficient: the fit raises
:class:`~dreamkit.errors.EstimationError` naming it, with the fix (merge it with another
exit type). Duration intervals are merged until every exit type has exits in every interval.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl
import scipy.linalg
import scipy.sparse
import scipy.stats
from numpy.typing import NDArray

from dreamkit.errors import EstimationError, InferenceWarning, InputError
from dreamkit.estimate.duration.duration_dependence import (
    DurationGrid,
    DurationSpec,
    intervals,
    resolve,
    varying_names,
)
from dreamkit.estimate.duration.hazard import (
    DiscreteTimeHazard,
    _codes,
    _group,
    _min_clusters_per_stratum,
    combined_lut,
    exposure_cells,
    linear_predictor,
    wald_equal,
)
from dreamkit.estimate.duration.person_period import duration_arrays, require_columns
from dreamkit.estimate.duration.survival_prediction import MIN_CLUSTERS_PER_STRATUM
from dreamkit.estimate.glm import (
    ETA_MAX,
    NEWTON_STEP_TOL,
    BinomialCells,
    CovType,
    _check_rank,
    _Structured,
)
from dreamkit.estimate.results import Result, check_level
from dreamkit.parallel import row_blocks

BLOCK = 1 << 14


@dataclass(frozen=True)
class MultinomialFit:
    """Estimates of a multinomial-logit hazard on cells: ``params`` cause-major (cause j's
    ``p`` coefficients in the order of ``names``), their joint covariance."""

    params: NDArray[np.float64]
    cov: NDArray[np.float64]
    names: tuple[str, ...]
    causes: tuple[str, ...]
    cov_type: CovType
    log_likelihood: float
    iterations: int
    n_rows: int
    n_trials: int
    n_events: tuple[int, ...]
    n_clusters: int
    correction: float

    @property
    def n_params(self) -> int:
        return len(self.names)

    def block(self, j: int) -> NDArray[np.float64]:
        """Coefficients of exit type ``j``."""
        p = self.n_params
        return self.params[j * p : (j + 1) * p]


def _check_identified(
    cells: BinomialCells, exits: NDArray[np.float64], causes: Sequence[str]
) -> None:
    """Every factor level and 0/1 regressor needs exits of every type and non-exits."""
    m = cells.trials
    total = exits.sum(axis=1)
    for f in cells.factors:
        tr = np.bincount(f.codes, weights=m, minlength=f.n_levels)
        ev = np.column_stack(
            [
                np.bincount(f.codes, weights=exits[:, j], minlength=f.n_levels)
                for j in range(len(causes))
            ]
        )
        for lev in f.kept:
            for j, cause in enumerate(causes):
                if ev[lev, j] == 0:
                    raise EstimationError(
                        f"{f.name} level {f.labels[lev]!r} has no exits of type {cause!r} "
                        f"({int(tr[lev])} periods at risk), so its coefficient for that exit is "
                        f"not identified. Merge exit type {cause!r} with another exit type, or "
                        f"merge that {f.name} level with another one."
                    )
            if ev[lev].sum() == tr[lev]:
                raise EstimationError(
                    f"{f.name} level {f.labels[lev]!r} has only exits ({int(tr[lev])} periods "
                    "at risk): its coefficients are not identified. Merge that level."
                )
    for c, name in enumerate(cells.dense_names):
        col = cells.dense[:, c]
        if not np.all((col == 0) | (col == 1)) or not col.any():
            continue
        for j, cause in enumerate(causes):
            if exits[col == 1, j].sum() == 0:
                raise EstimationError(
                    f"no exits of type {cause!r} among the periods with {name} = 1, so the "
                    f"coefficient of {name} for that exit is minus infinity. Merge exit type "
                    f"{cause!r} with another exit type (or coarsen the treatment intervals)."
                )
        if total[col == 1].sum() == m[col == 1].sum():
            raise EstimationError(f"only exits among the periods with {name} = 1 (separation).")


def fit_multinomial(
    cells: BinomialCells,
    exits: NDArray[np.float64],
    causes: Sequence[str],
    cov_type: CovType = "CRV1",
    tol: float = 1e-10,
    max_iter: int = 100,
) -> MultinomialFit:
    """Maximum-likelihood multinomial logit on cells (module docstring).

    ``cells`` holds the design (factors, dense block, clusters) and the at-risk counts
    ``trials``; ``exits`` (cells x J) the exits of each type. Raises
    :class:`~dreamkit.errors.EstimationError` when the fit does not converge.
    """
    y = np.asarray(exits, dtype=np.float64)
    m = cells.trials
    n_j = len(causes)
    if y.shape != (m.size, n_j) or np.any(y < 0) or np.any(y.sum(axis=1) > m) or np.any(m <= 0):
        raise InputError("cells need exits >= 0 with their sum <= periods at risk > 0.")
    if cov_type == "CRV1" and (cells.clusters is None or cells.n_clusters < 2):
        raise InputError("cov_type='CRV1' needs cluster codes with at least 2 clusters.")
    _check_identified(cells, y, causes)
    x = _Structured(cells)
    p = x.p
    k = n_j * p
    n_trials = float(m.sum())
    if k >= n_trials:
        raise EstimationError(f"{k} parameters but only {int(n_trials)} periods at risk.")
    _check_rank(x, m, cells.names)

    def evaluate(
        beta: NDArray[np.float64],
    ) -> tuple[float, NDArray[np.float64], NDArray[np.float64]]:
        eta = np.column_stack([x.eta(beta[j * p : (j + 1) * p]) for j in range(n_j)])
        lse = np.logaddexp.reduce(np.column_stack([np.zeros(m.size), eta]), axis=1)
        ll = float(np.sum(y * eta) - m @ lse)
        return ll, eta, np.exp(eta - lse[:, None])

    def information(pi: NDArray[np.float64]) -> NDArray[np.float64]:
        info = np.empty((k, k))
        for j in range(n_j):
            for q in range(j, n_j):
                w = m * pi[:, j] * ((1.0 if j == q else 0.0) - pi[:, q])
                b = x.xtwx(w)
                info[j * p : (j + 1) * p, q * p : (q + 1) * p] = b
                info[q * p : (q + 1) * p, j * p : (j + 1) * p] = b.T
        return info

    beta = np.zeros(k)
    if cells.factors and not cells.factors[0].reference:  # start from the pooled rates
        f = cells.factors[0]
        y_lev = np.column_stack(
            [np.bincount(f.codes, weights=y[:, j], minlength=f.n_levels) for j in range(n_j)]
        )
        stay = np.bincount(f.codes, weights=m, minlength=f.n_levels) - y_lev.sum(axis=1)
        for j in range(n_j):
            beta[j * p : j * p + f.n_levels] = np.log(y_lev[:, j] / stay)
    ll, eta, pi = evaluate(beta)
    converged, iterations = False, 0
    while iterations < max_iter:
        iterations += 1
        score = np.concatenate([x.xt(y[:, j] - m * pi[:, j]) for j in range(n_j)])
        try:
            chol = scipy.linalg.cho_factor(information(pi), check_finite=False)
        except scipy.linalg.LinAlgError:
            raise EstimationError(
                "the information matrix became singular during the fit: fitted exit "
                "probabilities reached 0 or 1 (quasi-separation). Merge exit types or coarsen "
                "the covariates."
            ) from None
        step = scipy.linalg.cho_solve(chol, score, check_finite=False)
        t = 1.0
        for _ in range(40):
            cand = beta + t * step
            parts = evaluate(cand)
            if np.isfinite(parts[0]) and parts[0] >= ll - 1e-12 * abs(ll):
                break
            t /= 2
        else:
            raise EstimationError("step-halving failed: the likelihood cannot be increased.")
        step_tol = NEWTON_STEP_TOL if t == 1.0 else tol
        small_step = np.max(np.abs(t * step)) <= step_tol * (1 + np.max(np.abs(cand)))
        small_change = abs(parts[0] - ll) <= tol * (abs(parts[0]) + 1.0)
        beta = cand
        ll, eta, pi = parts
        if small_step and small_change:
            converged = True
            break
    if not converged:
        raise EstimationError(
            f"Newton's method did not converge in {max_iter} iterations; this usually means "
            "(quasi-)separation: some covariate pattern has no exits of one type. Merge exit "
            "types or coarsen the covariates."
        )
    if np.max(np.abs(eta)) > ETA_MAX:
        raise EstimationError(
            f"fitted linear predictor reaches |eta| = {np.max(np.abs(eta)):.1f}: some cells have "
            "exit probabilities numerically 0 (quasi-separation). Merge exit types or coarsen "
            "the covariates."
        )
    bread = np.linalg.inv(information(pi))
    if cov_type == "iid":
        cov, corr, n_g = bread, 1.0, 0
    else:
        assert cells.clusters is not None
        n_g = cells.n_clusters
        sg = np.hstack(
            [x.cluster_sums(y[:, j] - m * pi[:, j], cells.clusters, n_g) for j in range(n_j)]
        )
        corr = n_g / (n_g - 1.0) * (n_trials - 1.0) / (n_trials - k)
        cov = corr * bread @ (sg.T @ sg) @ bread
    return MultinomialFit(
        params=beta,
        cov=np.asarray((cov + cov.T) / 2, dtype=np.float64),
        names=tuple(cells.names),
        causes=tuple(causes),
        cov_type=cov_type,
        log_likelihood=ll,
        iterations=iterations,
        n_rows=m.size,
        n_trials=round(n_trials),
        n_events=tuple(round(float(v)) for v in y.sum(axis=0)),
        n_clusters=n_g,
        correction=corr,
    )


def _cause_codes(
    types: pl.Series, event: NDArray[np.int8], causes: Sequence[object] | None, column: str
) -> tuple[NDArray[np.int64], tuple[str, ...]]:
    """Exit-type code 0..J-1 of every spell with an event (-1 for censored spells)."""
    has = event == 1
    ev_types = types.filter(pl.Series(has))
    if ev_types.null_count():
        raise InputError(
            f"column {column!r} is missing for {ev_types.null_count()} spell(s) with an event; "
            "every exit needs an exit type."
        )
    present = ev_types.unique().sort().to_list()
    declared = list(present) if causes is None else list(causes)
    if len(set(declared)) != len(declared):
        raise InputError(f"causes={declared!r} lists an exit type twice.")
    unknown = [v for v in present if v not in declared]
    if unknown:
        raise InputError(
            f"column {column!r} has exit type {unknown[0]!r}, which is not among causes="
            f"{declared!r}. Add it to causes, or recode it into one of them (merge exit types)."
        )
    codes = np.full(types.len(), -1, dtype=np.int64)
    for j, v in enumerate(declared):
        hit = (types == v).fill_null(False).to_numpy() & has
        if not hit.any():
            raise EstimationError(
                f"exit type {v!r} has no exits in the data, so its hazard is not identified "
                "(its coefficients are minus infinity). Merge it with another exit type "
                f"(recode {column!r}) or leave it out of causes."
            )
        codes[hit] = j
    return codes, tuple(str(v) for v in declared)


@dataclass(frozen=True)
class CompetingRisksHazard:
    """The multinomial-logit hazard of all exits jointly (module docstring).

    Args:
        duration_spec: cause-specific baselines ``alpha_jt`` (default 4-week intervals; an
            interval lacking exits of any type is merged with its neighbour and reported).
        treatment, stratum, cluster, covariates, interactions, cov_type: as for
            :class:`~dreamkit.estimate.duration.hazard.DiscreteTimeHazard`.
        treatment_by: a step duration specification for duration-varying treatment effects
            ``b_{j,m(t)}`` per exit type.
        causes: the exit types to model, in order (default: the distinct exit types of the
            spells with an event, sorted). A declared type without exits raises.
    """

    duration_spec: DurationSpec = field(default_factory=intervals)
    treatment: str | None = "treated"
    stratum: str | None = "municipality"
    cluster: str | None = "team"
    covariates: tuple[str, ...] = ()
    interactions: tuple[tuple[str, str], ...] = ()
    cov_type: CovType | None = None
    treatment_by: DurationSpec | None = None
    causes: tuple[object, ...] | None = None

    @property
    def index_model(self) -> DiscreteTimeHazard:
        """The linear index of every exit type, as a (logit) binary hazard specification."""
        return DiscreteTimeHazard(
            link="logit",
            duration_spec=self.duration_spec,
            treatment=self.treatment,
            stratum=self.stratum,
            cluster=self.cluster,
            covariates=self.covariates,
            interactions=self.interactions,
            cov_type=self.cov_type,
            treatment_by=self.treatment_by,
        )

    def fit(
        self,
        durations: pl.DataFrame,
        *,
        duration: str = "duration",
        event: str = "event",
        exit_type: str = "exit_type",
    ) -> CompetingRisksResult:
        """Fit on one row per person: ``duration`` (weeks at risk), ``event`` (0/1) and
        ``exit_type`` (the exit of spells with an event; ignored for censored spells)."""
        if not isinstance(durations, pl.DataFrame):
            durations = pl.from_pandas(durations)
        d, e = duration_arrays(durations, duration, event)
        require_columns(durations, [exit_type], "durations")
        codes, labels = _cause_codes(durations[exit_type], e, self.causes, exit_type)
        n_j = len(labels)
        onehot = np.zeros((d.size, n_j))
        onehot[np.flatnonzero(codes >= 0), codes[codes >= 0]] = 1.0
        index = self.index_model
        data = index._validate(durations, "durations")
        cov_type = index._cov_type()
        w = int(d.max())
        n_d = np.bincount(d, minlength=w + 1).astype(np.float64)
        at_risk = np.concatenate([[0.0], np.cumsum(n_d[::-1])[::-1][1:]])
        ev_w = np.column_stack(
            [np.bincount(d, weights=onehot[:, j], minlength=w + 1) for j in range(n_j)]
        ).astype(np.float64)
        grid = resolve(self.duration_spec, ev_w, at_risk)
        tgrid = index.treatment_grid(data, grid, d, onehot, w, person_periods=False)
        keys = [c for c in (data.stratum, data.cluster) if c is not None]
        keys += [_codes(pl.Series(data.raw[:, j])) for j in range(data.raw.shape[1])]
        pattern, first = (
            _group(keys) if keys else (np.zeros(d.size, np.int64), np.zeros(1, np.int64))
        )
        n_pat = first.size
        comb, n_t = combined_lut(grid, tgrid)
        exposure, flat = exposure_cells(d, pattern, n_pat, comb)
        n_c = int(comb.max()) + 1
        exits = np.column_stack(
            [
                np.bincount(pattern * n_c + comb[d], weights=onehot[:, j], minlength=n_pat * n_c)[
                    flat
                ]
                for j in range(n_j)
            ]
        ).astype(np.float64)
        pat, cg = np.divmod(flat, n_c)
        cells = index._cells(
            data,
            grid,
            cg // n_t,
            first[pat],
            exits.sum(axis=1),
            exposure.ravel()[flat],
            tgrid,
            cg % n_t,
        )
        fit = fit_multinomial(cells, exits, labels, cov_type)
        return CompetingRisksResult(
            self,
            fit,
            grid,
            tgrid,
            data.raw[first],
            data.stratum_labels,
            data.stratum[first] if data.stratum is not None else None,
            np.bincount(pattern, minlength=n_pat).astype(np.float64),
            d.size,
            _min_clusters_per_stratum(data),
        )


@dataclass(frozen=True, repr=False)
class CompetingRisksResult(Result):
    """A fitted competing-risks hazard (result protocol, family column ``exit``).

    ``tidy()`` shows the treatment and covariate terms of every exit type;
    ``tidy(fixed_effects=True)`` adds the duration and stratum terms, in the order of
    :attr:`vcov` (exit-major: all terms of the first exit type, then the second, ...).
    ``tidy(exponentiate=True)`` gives relative-risk ratios.
    """

    model: CompetingRisksHazard
    fit: MultinomialFit
    grid: DurationGrid
    treatment_grid: DurationGrid | None
    pattern_raw: NDArray[np.float64]
    stratum_labels: tuple[str, ...]
    pattern_stratum: NDArray[np.int64] | None
    pattern_weight: NDArray[np.float64]
    n_persons: int
    min_clusters_per_stratum: int | None = None

    family_columns = ("exit",)

    @property
    def model_name(self) -> str:
        return f"Competing-risks hazard (multinomial logit, {len(self.causes)} exits)"

    @property
    def ratio_name(self) -> str:
        return "relative_risk_ratio"

    @property
    def causes(self) -> tuple[str, ...]:
        return self.fit.causes

    @property
    def vcov(self) -> NDArray[np.float64]:
        return self.fit.cov

    @property
    def effect_names(self) -> tuple[str, ...]:
        """Terms shown by ``tidy()``: duration-varying treatment effects, then regressors."""
        index = self.model.index_model
        varying = (
            varying_names(str(index.treatment), self.treatment_grid)
            if self.treatment_grid is not None
            else ()
        )
        return varying + index.dense_names

    def _index(self, term: str, exit: object) -> int:
        if str(exit) not in self.causes:
            raise InputError(f"no exit type {exit!r}; exit types are {list(self.causes)}.")
        if term not in self.fit.names:
            raise InputError(f"no term {term!r}; terms are {list(self.fit.names)}.")
        return self.causes.index(str(exit)) * self.fit.n_params + self.fit.names.index(term)

    def coef(self, term: str, exit: object) -> float:
        """Coefficient of ``term`` in the equation of exit type ``exit``."""
        return float(self.fit.params[self._index(term, exit)])

    def se(self, term: str, exit: object) -> float:
        return float(np.sqrt(self.fit.cov[(i := self._index(term, exit)), i]))

    def _coefficients(self) -> pl.DataFrame:
        n_j, p = len(self.causes), self.fit.n_params
        return pl.DataFrame(
            {
                "term": list(self.fit.names) * n_j,
                "exit": [c for c in self.causes for _ in range(p)],
                "estimate": self.fit.params,
                "std_error": np.sqrt(np.diag(self.fit.cov)),
                "df": np.full(n_j * p, np.inf),
                "n_events": np.repeat(np.asarray(self.fit.n_events, dtype=np.int64), p),
                "n_person_periods": np.full(n_j * p, self.fit.n_trials, dtype=np.int64),
                "n_clusters": np.full(n_j * p, self.fit.n_clusters, dtype=np.int64),
            }
        )

    def _hidden_terms(self) -> set[str]:
        """Duration and stratum terms (shown with ``tidy(fixed_effects=True)``)."""
        return set(self._coefficients()["term"].to_list()) - set(self.effect_names)

    def _glance(self) -> dict[str, object]:
        f = self.fit
        return {
            "n_obs": f.n_trials,
            "n_clusters": f.n_clusters,
            "vcov_type": f.cov_type,
            "df": None,
            "log_likelihood": f.log_likelihood,
            "exits": ", ".join(self.causes),
            "n_events": sum(f.n_events),
            "duration": f"{self.grid.spec.kind} ({self.grid.n_groups} groups)",
            "fixed_effects": self.model.stratum,
            "n_persons": self.n_persons,
            "n_cells": f.n_rows,
            "iterations": f.iterations,
            "converged": True,
        }

    def _notes(self) -> tuple[str, ...]:
        corr = (
            (f"CRV1 small-sample factor {self.fit.correction:.4f}",)
            if self.fit.cov_type == "CRV1"
            else ()
        )
        tmerge = self.treatment_grid.merges if self.treatment_grid is not None else ()
        return (*corr, *self.grid.merges, *(f"treatment_by: {m}" for m in tmerge))

    def hazards(
        self,
        raw: NDArray[np.float64],
        stratum: NDArray[np.int64] | None,
        periods: NDArray[np.int64],
        params: NDArray[np.float64] | None = None,
    ) -> NDArray[np.float64]:
        """Exit probabilities ``lambda_j(t | x)``, shape (rows, periods, J)."""
        beta = self.fit.params if params is None else params
        p, index = self.fit.n_params, self.model.index_model
        eta = np.stack(
            [
                linear_predictor(
                    index,
                    self.fit.names,
                    beta[j * p : (j + 1) * p],
                    self.grid,
                    self.treatment_grid,
                    self.stratum_labels,
                    raw,
                    stratum,
                    periods,
                )
                for j in range(len(self.causes))
            ],
            axis=2,
        )
        lse = np.logaddexp(0.0, np.logaddexp.reduce(eta, axis=2))
        return np.asarray(np.exp(eta - lse[:, :, None]))

    def _weeks(self, periods: int | Sequence[int] | None) -> NDArray[np.int64]:
        last = self.grid.lut.size - 1
        if periods is None:
            return np.arange(1, last + 1)
        if isinstance(periods, (int, np.integer)):
            if not 1 <= int(periods) <= last:
                raise InputError(f"periods={periods} is outside the observed weeks 1..{last}.")
            return np.arange(1, int(periods) + 1)
        weeks = np.asarray(sorted({int(v) for v in periods}), dtype=np.int64)
        if weeks.size == 0 or weeks[0] < 1 or weeks[-1] > last:
            raise InputError(f"horizons {list(weeks)} must lie in the observed weeks 1..{last}.")
        return weeks

    def arm_cif(
        self, arm: int, weeks: NDArray[np.int64], params: NDArray[np.float64] | None = None
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Standardised CIF of every exit for ``arm`` at weeks 1..max(weeks), shape (J, T),
        and its gradient (J, T, K) with respect to all parameters (module docstring)."""
        index = self.model.index_model
        if not index.treatment:
            raise InputError("cumulative incidence by arm needs a model with a treatment column.")
        tcol = index.raw_columns.index(index.treatment)
        n_j, p = len(self.causes), self.fit.n_params
        n_t = int(weeks.max())
        grid_weeks = np.arange(1, n_t + 1)
        w = self.pattern_weight / self.pattern_weight.sum()
        n_s = len(self.stratum_labels)
        by_stratum = self.pattern_stratum is not None and n_s > 1
        names = index.dense_names
        cif = np.zeros((n_j, n_t))
        a_vec = np.zeros((n_j, n_j, n_t))
        m_mat = np.zeros((n_j, n_j, n_t, n_t))
        dense_g = np.zeros((n_j, n_j, n_t, len(names)))
        strat_g = np.zeros((n_j, n_j, n_s, n_t))
        for part in row_blocks(w.size, BLOCK):
            raw = self.pattern_raw[part].copy()
            raw[:, tcol] = arm
            stratum = None if self.pattern_stratum is None else self.pattern_stratum[part]
            h = self.hazards(raw, stratum, grid_weeks, params)
            surv = np.cumprod(1.0 - h.sum(axis=2), axis=1)
            lag = np.concatenate([np.ones((surv.shape[0], 1)), surv[:, :-1]], axis=1)
            f = lag[:, :, None] * h
            big_f = np.cumsum(f, axis=1)
            cum_h = np.cumsum(h, axis=1)
            wp = w[part]
            cif += np.einsum("i,itj->jt", wp, big_f)
            dense = index.dense(raw) if names else None
            members = (
                scipy.sparse.csr_array(
                    (np.ones(stratum.size), (stratum, np.arange(stratum.size))),
                    shape=(n_s, stratum.size),
                )
                if by_stratum and stratum is not None
                else None
            )
            for j in range(n_j):
                for k in range(n_j):
                    delta = 1.0 if j == k else 0.0
                    c = wp[:, None] * np.cumsum(f[:, :, j] * (delta - cum_h[:, :, k]), axis=1)
                    if dense is not None:
                        dense_g[j, k] += c.T @ dense
                    if members is not None:
                        strat_g[j, k] += members @ c
                    a_vec[j, k] += wp @ (
                        f[:, :, j] * (delta - h[:, :, k]) + h[:, :, k] * big_f[:, :, j]
                    )
                    m_mat[j, k] += (wp[:, None] * big_f[:, :, j]).T @ h[:, :, k]
        pos = {n: i for i, n in enumerate(self.fit.names)}
        grad = np.zeros((n_j, n_t, n_j * p))
        for j in range(n_j):
            for k in range(n_j):
                g = np.zeros((n_t, p))
                a_m = np.tril(a_vec[j, k][None, :] - m_mat[j, k])  # (t, u), u <= t
                if self.grid.is_step:
                    g[:, : self.grid.n_groups] = (
                        a_m @ np.eye(self.grid.n_groups)[self.grid.lut[grid_weeks]]
                    )
                else:
                    cols = [pos[n] for n in self.grid.basis_names]
                    g[:, cols] = a_m @ self.grid.basis(grid_weeks)
                if by_stratum:
                    cols = [pos[f"{index.stratum}[{lab}]"] for lab in self.stratum_labels[1:]]
                    g[:, cols] = strat_g[j, k, 1:].T
                if names:
                    g[:, [pos[n] for n in names]] = dense_g[j, k]
                tg = self.treatment_grid
                if tg is not None:
                    cols = [pos[n] for n in varying_names(str(index.treatment), tg)]
                    g[:, cols] = arm * (a_m @ np.eye(tg.n_groups)[tg.lut[grid_weeks]])
                grad[j, :, k * p : (k + 1) * p] = g
        sel = weeks - 1
        return cif[:, sel], grad[:, sel, :]

    def _warn_if_few_teams(self) -> None:
        fewest = self.min_clusters_per_stratum
        if self.fit.cov_type == "CRV1" and fewest is not None and fewest < MIN_CLUSTERS_PER_STRATUM:
            warnings.warn(
                f"a stratum of this fit holds only {fewest} team(s): CRV1 understates the "
                "variance of the stratum effects, so intervals of predicted cumulative "
                "incidence are too narrow; refit with cov_type='iid' for the curves' intervals "
                "(see dreamkit.estimate.duration.survival_prediction).",
                InferenceWarning,
                stacklevel=3,
            )

    def predict_cif(
        self, periods: int | Sequence[int] | None = None, level: float = 0.95
    ) -> pl.DataFrame:
        """Standardised cumulative incidence of every exit by arm with delta-method intervals.

        ``periods``: the last week (weeks 1..periods), a list of horizons, or ``None`` (all
        observed weeks). Columns: ``period``, ``arm``, ``exit``, ``cif``, ``cif_se``,
        ``cif_low``, ``cif_high`` (interval on the log(-log) scale).
        """
        z = float(scipy.stats.norm.ppf(0.5 + check_level(level) / 2))
        weeks = self._weeks(periods)
        self._warn_if_few_teams()
        frames = []
        for arm in (0, 1):
            cif, grad = self.arm_cif(arm, weeks)
            for j, cause in enumerate(self.causes):
                est = cif[j]
                se = np.sqrt(np.einsum("tp,pq,tq->t", grad[j], self.fit.cov, grad[j]))
                scale = np.abs(np.log(est))
                with np.errstate(divide="ignore", invalid="ignore"):
                    half = z * se / (est * scale)
                theta = np.log(scale)
                frames.append(
                    pl.DataFrame(
                        {
                            "period": weeks,
                            "arm": np.full(weeks.size, arm),
                            "exit": [cause] * weeks.size,
                            "cif": est,
                            "cif_se": se,
                            "cif_low": np.exp(-np.exp(theta + half)),
                            "cif_high": np.exp(-np.exp(theta - half)),
                        }
                    )
                )
        return pl.concat(frames)

    def cif_difference(
        self, horizons: int | Sequence[int] | None = None, level: float = 0.95
    ) -> pl.DataFrame:
        """``F_1j(t) - F_0j(t)`` for every exit at the ``horizons`` (default: every week), with
        delta-method SE (joint covariance of both arms), normal interval and p-value.
        Columns: ``exit``, ``period``, ``difference``, ``std_error``, ``conf_low``,
        ``conf_high``, ``p_value``."""
        z = float(scipy.stats.norm.ppf(0.5 + check_level(level) / 2))
        weeks = self._weeks(horizons)
        self._warn_if_few_teams()
        f0, g0 = self.arm_cif(0, weeks)
        f1, g1 = self.arm_cif(1, weeks)
        frames = []
        for j, cause in enumerate(self.causes):
            diff, g = f1[j] - f0[j], g1[j] - g0[j]
            se = np.sqrt(np.einsum("tp,pq,tq->t", g, self.fit.cov, g))
            frames.append(
                pl.DataFrame(
                    {
                        "exit": [cause] * weeks.size,
                        "period": weeks,
                        "difference": diff,
                        "std_error": se,
                        "conf_low": diff - z * se,
                        "conf_high": diff + z * se,
                        "p_value": 2 * scipy.stats.norm.sf(np.abs(diff) / se),
                    }
                )
            )
        return pl.concat(frames)

    def constancy_test(self) -> pl.DataFrame:
        """Wald tests that each exit's duration-varying treatment effects are equal
        (chi-squared, M-1 df each; ``treatment_by`` fits). Columns: ``exit``, ``statistic``,
        ``df``, ``p_value``, ``vcov_type``."""
        tg = self.treatment_grid
        if tg is None or tg.n_groups < 2:
            raise InputError(
                "the constancy test needs a fit with treatment_by and at least two treatment "
                "intervals; refit with e.g. treatment_by=piecewise([8, 26])."
            )
        rows = []
        terms = varying_names(str(self.model.treatment), tg)
        for cause in self.causes:
            stat, df = wald_equal(
                self.fit.params, self.fit.cov, [self._index(t, cause) for t in terms]
            )
            rows.append((cause, stat, df, float(scipy.stats.chi2.sf(stat, df))))
        return pl.DataFrame(
            {
                "exit": [r[0] for r in rows],
                "statistic": [r[1] for r in rows],
                "df": [r[2] for r in rows],
                "p_value": [r[3] for r in rows],
                "vcov_type": [self.fit.cov_type] * len(rows),
            }
        )


def aalen_johansen(
    durations: pl.DataFrame,
    *,
    duration: str = "duration",
    event: str = "event",
    exit_type: str = "exit_type",
    by: str | None = "treated",
    causes: Sequence[object] | None = None,
    level: float = 0.95,
) -> pl.DataFrame:
    r"""Nonparametric (Aalen-Johansen) cumulative incidence of every exit type, by arm.

    In week :math:`t` with :math:`n_t` persons at risk, :math:`d_t` exits of any type and
    :math:`d_{jt}` of type :math:`j`,

    .. math::

        \hat F_j(t) = \sum_{s \le t} \hat S(s-1)\,\frac{d_{js}}{n_s}, \qquad
        \hat S(s) = \prod_{u \le s} \Bigl(1 - \frac{d_u}{n_u}\Bigr)

    (:math:`\hat S` the all-cause Kaplan-Meier curve). Exits of the same week are tied by
    construction in weekly data; the estimator treats them as simultaneous, which is the
    Aalen-Johansen estimator of the discrete-time model (the saturated multinomial hazard
    :math:`d_{jt}/n_t`). lifelines' ``AalenJohansenFitter`` computes the same formula but,
    when exits of different types share a time, first jitters the times randomly (by
    ``jitter_level``), which breaks the ties in a random order and changes the estimate; with
    its tie check switched off it equals this function exactly (tests). The variance is
    lifelines' (Collett's Greenwood-type formula),

    .. math::

        \widehat{\mathrm{Var}}\,\hat F_j(t) = \sum_{s \le t} (\hat F_j(t) - \hat F_j(s))^2
        \frac{d_s}{n_s(n_s - d_s)} + \sum_{s \le t} \hat S(s-1)^2
        \frac{d_{js}(n_s - d_{js})}{n_s^3} - 2 \sum_{s \le t} (\hat F_j(t) - \hat F_j(s))
        \hat S(s-1)\frac{d_{js}}{n_s^2},

    with the interval on the :math:`\log(-\log F)` scale. Returns one row per (arm, exit,
    week 1..longest duration of the arm): ``arm`` (the value of ``by``; 0 without ``by``),
    ``exit``, ``period``, ``at_risk``, ``n_exits`` (of this type), ``n_events`` (all types),
    ``cif``, ``cif_se``, ``cif_low``, ``cif_high``.
    """
    if not isinstance(durations, pl.DataFrame):
        durations = pl.from_pandas(durations)
    d, e = duration_arrays(durations, duration, event)
    require_columns(durations, [exit_type] + ([by] if by else []), "durations")
    codes, labels = _cause_codes(durations[exit_type], e, causes, exit_type)
    z = float(scipy.stats.norm.ppf(0.5 + check_level(level) / 2))
    if by is not None:
        if durations[by].null_count():
            raise InputError(f"column {by!r} has missing values; every person needs an arm.")
        arms = durations[by].to_numpy()
        arm_values = np.unique(arms)
    else:
        arms = np.zeros(d.size)
        arm_values = np.zeros(1)
    frames = []
    for a in arm_values:
        sel = arms == a
        dd, cc = d[sel], codes[sel]
        w = int(dd.max())
        n_w = np.bincount(dd, minlength=w + 1)[1:].astype(np.float64)
        at_risk = np.cumsum(n_w[::-1])[::-1]
        exits = np.column_stack(
            [np.bincount(dd[cc == j], minlength=w + 1)[1:] for j in range(len(labels))]
        ).astype(np.float64)
        d_all = exits.sum(axis=1)
        surv = np.cumprod(1.0 - d_all / at_risk)
        lag = np.concatenate([[1.0], surv[:-1]])
        with np.errstate(divide="ignore", invalid="ignore"):
            c1 = np.where(d_all > 0, d_all / (at_risk * (at_risk - d_all)), 0.0)
        for j, cause in enumerate(labels):
            dj = exits[:, j]
            cif = np.cumsum(lag * dj / at_risk)
            diff = np.tril(cif[:, None] - cif[None, :])  # (t, s): F(t) - F(s), s <= t
            c2 = np.cumsum(lag**2 * dj * (at_risk - dj) / at_risk**3)
            c3 = lag * dj / at_risk**2
            with np.errstate(invalid="ignore"):
                var = (diff**2) @ c1 + c2 - 2 * diff @ c3
            se = np.sqrt(np.maximum(var, 0.0))
            scale = np.abs(np.log(cif))
            with np.errstate(divide="ignore", invalid="ignore"):
                half = z * se / (cif * scale)
                theta = np.log(scale)
            frames.append(
                pl.DataFrame(
                    {
                        "arm": np.full(w, a),
                        "exit": [cause] * w,
                        "period": np.arange(1, w + 1),
                        "at_risk": at_risk.astype(np.int64),
                        "n_exits": dj.astype(np.int64),
                        "n_events": d_all.astype(np.int64),
                        "cif": cif,
                        "cif_se": se,
                        "cif_low": np.exp(-np.exp(theta + half)),
                        "cif_high": np.exp(-np.exp(theta - half)),
                    }
                )
            )
    return pl.concat(frames)
