r"""Discrete-time hazards with unobserved heterogeneity: gamma frailty and mass points.

Person i with regressors :math:`x_i` (treatment, covariates, stratum dummies) leaves in week
t of the spell, given survival to t and an unobserved factor, with hazard

.. math::

    \text{cloglog:}\quad \lambda_{it}(v) = 1 - \exp\{-v\, e^{\alpha_t + x_i'\beta}\},
    \qquad
    \text{logit:}\quad \operatorname{logit} \lambda_{it}(m) = \alpha_t + x_i'\beta + m,

with :math:`\alpha_t` a duration-dependence specification
(:mod:`~dreamkit.estimate.duration.duration_dependence`). A spell with duration
:math:`d_i` and exit flag :math:`e_i` contributes :math:`S_i(d_i - 1) - S_i(d_i)` (exit in week
:math:`d_i`) or :math:`S_i(d_i)` (censored after week :math:`d_i`), with :math:`S_i` the
survival function *marginal* over the unobserved factor.

**Gamma frailty** (``frailty="gamma"``, as Stata's ``pgmhaz8``, Jenkins 1995):
:math:`v \sim \Gamma(1/\sigma^2, \sigma^2)` (mean 1, variance :math:`\sigma^2`). With the
integrated hazard :math:`H_i(t) = \sum_{s \le t} e^{\alpha_s + x_i'\beta}` the conditional survival
is :math:`e^{-v H_i(t)}` and its gamma expectation (the Laplace transform) is closed form,

.. math::

    S_i(t) = \bigl(1 + \sigma^2 H_i(t)\bigr)^{-1/\sigma^2},

which tends to :math:`e^{-H_i(t)}` (no frailty) as :math:`\sigma^2 \to 0`. The parameters are
:math:`(\alpha, \beta, \ln\sigma^2)`.

For the **logit link** (:math:`\operatorname{logit}\lambda_{it}(v) = \alpha_t + x_i'\beta + \ln v`)
the gamma integral has no closed form. With :math:`c_{it} = e^{\alpha_t + x_i'\beta}`,
:math:`1 - \lambda_{it}(v) = 1/(1 + v c_{it})` and the spell contributes

.. math::

    L_i = \int_0^\infty \prod_{t \le d_i} (1 + v c_{it})^{-1}\,(v c_{id_i})^{e_i}\,
          g(v; \sigma^2)\, dv,

computed by quadrature in :math:`s = \ln v` (:func:`gamma_nodes`): the substitution
:math:`s = \tau(z - e^{-z})`, :math:`\tau = \sigma/\sqrt{1+\sigma^2}`, and the trapezoid rule
on ``n_nodes`` (default 181) equally spaced z in [-9, 12]. The integrand is analytic in a strip
around the real s axis (the nearest singularities of :math:`\ln(1 + e^{s + \eta})` are at
distance :math:`\pi`), so the trapezoid rule converges geometrically; the map makes the
slow left tail of the gamma in s (:math:`\propto e^{s/\sigma^2}`, long for large
:math:`\sigma^2`) double-exponential in z and gives the peak (width :math:`\sigma` for small
:math:`\sigma^2`) width O(1). Checked against ``scipy.integrate.quad``: relative error below
``4e-12`` for :math:`\sigma^2 \in [10^{-4}, 20]`, spells of 1-60 weeks and weekly hazards up to
0.5, below ``2e-10`` up to hazards of 0.73 (docs/frailty.md has the table). (Generalized
Gauss-Laguerre in :math:`u = v/\sigma^2`, the textbook choice, fails here: with 40 nodes its
relative error is ``3e-2`` at :math:`\sigma^2 = 5` for weekly hazards near 0.07 and ``0.4`` at
:math:`\sigma^2 = 1` for hazards near 0.5, because the integrand varies on the scale
:math:`v \sim 1/\sum_t c_{it}` near the density's singular end.) The nodes :math:`s_j` and
weights :math:`w_j` are smooth functions of :math:`\sigma^2` with fixed z, so the quadrature is
a mixture with points :math:`s_j` and probabilities :math:`w_j`: the mass-point code gives the
likelihood, and the chain rule through :math:`s_j(\sigma^2), w_j(\sigma^2)` gives the exact
gradient of the computed likelihood (no finite differences). Fitted variances above 50
(outside the checked range) raise :class:`~dreamkit.errors.EstimationError`.

**Mass points** (``frailty="discrete"``, Heckman and Singer 1984, as Stata's ``hshaz``):
the intercept is shifted by :math:`m_k` with probability :math:`p_k`, k = 1..K (K = 2..4),
:math:`m_1 = 0` (the baseline :math:`\alpha_t` carries the level) and
:math:`p_k = e^{q_k} / \sum_j e^{q_j}`, :math:`q_1 = 0`:

.. math::

    L_i = \sum_k p_k \prod_{t < d_i} \{1 - \lambda_{it}(m_k)\}\,
          \lambda_{id_i}(m_k)^{e_i} \{1 - \lambda_{id_i}(m_k)\}^{1 - e_i},

for the logit or the cloglog link (with :math:`v = e^{m}`). The parameters are
:math:`(\alpha, \beta, m_2..m_K, q_2..q_K)`.

**Compression.** Persons with the same regressors form a pattern; persons of a pattern with
the same (duration, exit flag) have the same likelihood term, so the log likelihood is a
weighted sum over (pattern, duration, exit) cells -- exact, like the cells of :mod:`.hazard`.
The cluster splits the patterns only for the one evaluation of the per-cluster scores of
the CRV1 covariance. For the cloglog gamma model the integrated hazard factorises,
:math:`H_i(t) = e^{x_i'\beta} A(t)`, so one pass over the cells suffices; the mass-point model
and the logit gamma model work on (pattern x week x point or node) arrays (their size is
checked).

**Fitting** (:mod:`.mixture_fit`): start from the no-frailty model (fitted first, by
:class:`~dreamkit.estimate.duration.hazard.DiscreteTimeHazard`, which also gives the
likelihood-ratio test; mass points from ``m = (-1, 1, -2)``, then ``(1, -1, 2)`` and
``(-2, 1.5, -0.7)`` until one start reaches an interior maximum), BFGS with the analytic
gradient, then Newton steps with a finite-difference Hessian of the analytic gradient.
Covariance: ``iid`` (inverse of minus the Hessian) or ``CRV1`` (sandwich with per-cluster
score sums, factor :math:`G/(G-1)\cdot(N-1)/(N-K)`, N persons).

**Boundaries.** If the score of :math:`\sigma^2` at :math:`\sigma^2 = 0` (evaluated at the
no-frailty estimates; for the logit link :func:`logit_gamma_score_at_zero`) is not positive,
or the fitted :math:`\sigma^2` is below ``1e-6``, the
frailty variance is at its boundary: the fit returned is the no-frailty model with
:math:`\sigma^2 = 0` (the constrained maximum), its ``ln_frailty_variance`` row has no standard
error, and :class:`~dreamkit.errors.FrailtyBoundaryWarning` reports the likelihood-ratio test
against the no-frailty model with the boundary (chi-bar-squared) p-value
:math:`\tfrac12 P(\chi^2_1 > LR)`. A mixing distribution whose probabilities go to zero
(:math:`p_k < 10^{-4}`), whose points collapse (:math:`|m_k - m_j| < 10^{-3}`) or drift to the
boundary (:math:`|m_k| > 8`, a hazard multiplier below 0.0003), or whose likelihood is flat
in some direction (Hessian not negative definite) raises
:class:`~dreamkit.errors.MixtureBoundaryError` or :class:`~dreamkit.errors.EstimationError`
naming the fix: fit with fewer points.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import polars as pl
import scipy.sparse
import scipy.special
import scipy.stats
from numpy.typing import NDArray

from dreamkit.errors import (
    EstimationError,
    FrailtyBoundaryWarning,
    InputError,
    MixtureBoundaryError,
)
from dreamkit.estimate.duration.duration_dependence import DurationGrid, DurationSpec, intervals
from dreamkit.estimate.duration.hazard import DiscreteTimeHazard, HazardResult, _codes, _group
from dreamkit.estimate.duration.mixture_fit import (
    baseline_basis,
    baseline_names,
    covariance,
    maximise,
)
from dreamkit.estimate.duration.person_period import duration_arrays
from dreamkit.estimate.glm import CovType, Link
from dreamkit.estimate.results import Result

Frailty = Literal["gamma", "discrete"]
MAX_CELLS_X_WEEKS = 60_000_000
P_MIN, COLLAPSE, M_MAX, SIGMA2_MIN = 1e-4, 1e-3, 8.0, 1e-6
SERIES_X = 1e-3
DEFAULT_NODES, MIN_NODES, MAX_NODES = 181, 41, 2001
Z_LEFT, Z_RIGHT = -9.0, 12.0
SIGMA2_MAX_QUADRATURE = 50.0
MASS_POINT_STARTS = ((-1.0, 1.0, -2.0), (1.0, -1.0, 2.0), (-2.0, 1.5, -0.7))


@dataclass(frozen=True)
class _Problem:
    """Compressed data of one fit: patterns (P), cells (pattern, duration, exit) and design."""

    basis: NDArray[np.float64]  # (W+1, n_alpha)
    x: NDArray[np.float64]  # (P, k_x) regressors of each pattern
    cell_pattern: NDArray[np.int64]
    cell_duration: NDArray[np.int64]
    cell_event: NDArray[np.float64]
    cell_weight: NDArray[np.float64]
    pattern_cluster: NDArray[np.int64] | None
    n_clusters: int
    names: tuple[str, ...]
    x_names: tuple[str, ...]
    start: NDArray[np.float64]
    no_frailty: HazardResult
    grid: DurationGrid
    n_persons: int
    n_events: int
    n_person_weeks: int

    @property
    def n_alpha(self) -> int:
        return self.basis.shape[1]

    @property
    def weeks(self) -> int:
        return self.basis.shape[0] - 1

    @property
    def n_patterns(self) -> int:
        return self.x.shape[0]


@dataclass(frozen=True)
class FrailtyHazard:
    """A discrete-time hazard with gamma frailty or a discrete mixing distribution.

    Args:
        frailty: ``"gamma"`` (closed-form marginal likelihood for cloglog, Gauss-Laguerre
            quadrature for logit) or ``"discrete"`` (``n_points`` mass points).
        n_points: number of mass points for ``"discrete"`` (2..4).
        n_nodes: quadrature nodes of the gamma integral for the logit link (default 181;
            see the module docstring for its accuracy; unused otherwise).
        link: ``"cloglog"`` (hazard ratios; default) or ``"logit"`` (odds ratios).
        duration_spec, treatment, stratum, cluster, covariates, cov_type: as for
            :class:`~dreamkit.estimate.duration.hazard.DiscreteTimeHazard` (stratum fixed
            effects enter as dummies; regressors are time-constant).
    """

    frailty: Frailty = "gamma"
    n_points: int = 2
    n_nodes: int = DEFAULT_NODES
    link: Link = "cloglog"
    duration_spec: DurationSpec = field(default_factory=intervals)
    treatment: str | None = "treated"
    stratum: str | None = "municipality"
    cluster: str | None = "team"
    covariates: tuple[str, ...] = ()
    cov_type: CovType | None = None

    def _base(self) -> DiscreteTimeHazard:
        return DiscreteTimeHazard(
            link=self.link,
            duration_spec=self.duration_spec,
            treatment=self.treatment,
            stratum=self.stratum,
            cluster=self.cluster,
            covariates=self.covariates,
            cov_type=self.cov_type,
        )

    def _check(self) -> None:
        if self.frailty not in ("gamma", "discrete"):
            raise InputError(f"frailty={self.frailty!r}; use 'gamma' or 'discrete'.")
        if self.link not in ("cloglog", "logit"):
            raise InputError(f"link={self.link!r}; use 'cloglog' or 'logit'.")
        if not MIN_NODES <= self.n_nodes <= MAX_NODES:
            raise InputError(
                f"n_nodes={self.n_nodes}; the gamma quadrature (logit link) needs "
                f"{MIN_NODES}..{MAX_NODES} nodes (default {DEFAULT_NODES})."
            )
        if self.frailty == "discrete" and not 2 <= self.n_points <= 4:
            raise InputError(f"n_points={self.n_points}; use 2, 3 or 4 mass points.")

    def fit(
        self, durations: pl.DataFrame, *, duration: str = "duration", event: str = "event"
    ) -> FrailtyResult:
        """Fit on one row per person: ``duration`` (weeks at risk, >= 1) and ``event`` (0/1)."""
        self._check()
        if not isinstance(durations, pl.DataFrame):
            durations = pl.from_pandas(durations)
        prob = _prepare(self._base(), durations, duration, event)
        cov_type: CovType = self._base()._cov_type()
        by_cluster = None
        if cov_type == "CRV1":
            by_cluster = _prepare(
                self._base(), durations, duration, event, with_cluster=True, h0=prob.no_frailty
            )
        if self.frailty == "gamma":
            return _fit_gamma(self, prob, cov_type, by_cluster)
        return _fit_discrete(self, prob, cov_type, by_cluster)


def _prepare(
    base: DiscreteTimeHazard,
    df: pl.DataFrame,
    duration: str,
    event: str,
    *,
    with_cluster: bool = False,
    h0: HazardResult | None = None,
) -> _Problem:
    """Compress to (pattern, duration, exit) cells; patterns split by cluster only if
    ``with_cluster`` (needed for per-cluster scores, not for the likelihood)."""
    if h0 is None:
        h0 = base.fit(df, duration=duration, event=event)
    d, e = duration_arrays(df, duration, event)
    data = base._validate(df, "durations")
    w = int(d.max())
    cl_key = data.cluster if with_cluster else None
    keys = [c for c in (data.stratum, cl_key) if c is not None]
    keys += [_codes(pl.Series(data.raw[:, j])) for j in range(data.raw.shape[1])]
    pattern, first = _group(keys) if keys else (np.zeros(d.size, np.int64), np.zeros(1, np.int64))
    blocks: list[NDArray[np.float64]] = []
    x_names: list[str] = []
    if data.stratum is not None:
        levels = len(data.stratum_labels)
        dummies = np.zeros((first.size, levels))
        dummies[np.arange(first.size), data.stratum[first]] = 1.0
        blocks.append(dummies[:, 1:])
        x_names += [f"{base.stratum}[{lab}]" for lab in data.stratum_labels[1:]]
    blocks.append(base.dense(data.raw[first]))
    x_names += list(base.dense_names)
    x = np.column_stack(blocks) if blocks else np.zeros((first.size, 0))
    names = tuple(baseline_names(h0.grid) + x_names)
    start = np.array([h0.coef(n) for n in names])
    key = (pattern * (w + 1) + d) * 2 + e
    uniq, counts = np.unique(key, return_counts=True)
    cp, rem = np.divmod(uniq, 2 * (w + 1))
    return _Problem(
        basis=baseline_basis(h0.grid, w),
        x=x,
        cell_pattern=cp.astype(np.int64),
        cell_duration=(rem // 2).astype(np.int64),
        cell_event=(rem % 2).astype(np.float64),
        cell_weight=counts.astype(np.float64),
        pattern_cluster=cl_key[first] if cl_key is not None else None,
        n_clusters=data.n_clusters,
        names=names,
        x_names=tuple(x_names),
        start=start,
        no_frailty=h0,
        grid=h0.grid,
        n_persons=int(d.size),
        n_events=int(e.sum()),
        n_person_weeks=int(d.sum()),
    )


# ----------------------------------------------------------------------------- gamma frailty


def _log_surv(h: NDArray[np.float64], s2: float) -> tuple[NDArray, NDArray, NDArray]:
    """log S(H) = -log(1 + s2 H)/s2 and its derivatives in H and in ln s2."""
    xx = s2 * h
    log_s = -np.log1p(xx) / s2
    d_h = -1.0 / (1.0 + xx)
    # d log S / d ln s2 = (log1p(x) - x/(1+x)) / s2, a series for small x (cancellation)
    small = xx < SERIES_X
    series = s2 * h * h * (0.5 - 2.0 * xx / 3.0 + 0.75 * xx**2 - 0.8 * xx**3)
    with np.errstate(divide="ignore", invalid="ignore"):
        exact = (np.log1p(xx) - xx / (1.0 + xx)) / s2
    d_v = np.where(small, series, exact)
    return log_s, d_h, d_v


def gamma_loglik(
    prob: _Problem, theta: NDArray[np.float64], per_pattern: bool = False
) -> tuple[float, NDArray[np.float64], NDArray[np.float64] | None]:
    """Log likelihood, gradient (and per-pattern scores) of the gamma-frailty cloglog model;
    ``theta = (a, beta, ln sigma^2)``."""
    na, kx = prob.n_alpha, prob.x.shape[1]
    a, b, lv = theta[:na], theta[na : na + kx], float(theta[-1])
    s2 = float(np.exp(lv))
    alpha = prob.basis @ a
    ea = np.exp(alpha)
    ea[0] = 0.0
    big_a = np.cumsum(ea)
    ca = np.cumsum(ea[:, None] * prob.basis, axis=0)
    ex = np.exp(prob.x @ b)
    cp, cd, ev, w = prob.cell_pattern, prob.cell_duration, prob.cell_event, prob.cell_weight
    ec = ex[cp]
    h1 = ec * big_a[cd]
    h0 = ec * big_a[cd - 1]
    l1, g1, v1 = _log_surv(h1, s2)
    l0, g0, v0 = _log_surv(h0, s2)
    r = np.exp(l1 - l0)
    one_r = -np.expm1(l1 - l0)
    event = ev > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        ll_c = np.where(event, l0 + np.log(one_r), l1)
        gh0 = np.where(event, g0 / one_r, 0.0)
        gh1 = np.where(event, -r * g1 / one_r, g1)
        gv = np.where(event, (v0 - r * v1) / one_r, v1)
    ll = float(w @ ll_c)
    s_xb = gh0 * h0 + gh1 * h1  # d ll / d (x'beta) per cell
    m0, m1 = w * ec * gh0, w * ec * gh1
    n_w = prob.weeks + 1
    by_week = np.bincount(cd - 1, weights=m0, minlength=n_w) + np.bincount(
        cd, weights=m1, minlength=n_w
    )
    sx = np.bincount(cp, weights=w * s_xb, minlength=prob.n_patterns)
    grad = np.concatenate([by_week @ ca, prob.x.T @ sx, [float(w @ gv)]])
    if not per_pattern:
        return ll, grad, None
    m = scipy.sparse.csr_array(
        (np.concatenate([m0, m1]), (np.concatenate([cp, cp]), np.concatenate([cd - 1, cd]))),
        shape=(prob.n_patterns, n_w),
    )
    scores = np.column_stack(
        [
            np.asarray(m @ ca),
            prob.x * sx[:, None],
            np.bincount(cp, weights=w * gv, minlength=prob.n_patterns),
        ]
    )
    return ll, grad, scores


def gamma_score_at_zero(prob: _Problem, theta0: NDArray[np.float64]) -> float:
    """d ll / d sigma^2 at sigma^2 = 0 (no-frailty estimates ``theta0 = (a, beta)``):
    ``log S = -H + sigma^2 H^2/2 + O(sigma^4)``."""
    na, kx = prob.n_alpha, prob.x.shape[1]
    ea = np.exp(prob.basis @ theta0[:na])
    ea[0] = 0.0
    big_a = np.cumsum(ea)
    ec = np.exp(prob.x @ theta0[na : na + kx])[prob.cell_pattern]
    h1, h0 = ec * big_a[prob.cell_duration], ec * big_a[prob.cell_duration - 1]
    r = np.exp(h0 - h1)
    event = prob.cell_event > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(event, (h0**2 / 2 - r * h1**2 / 2) / -np.expm1(h0 - h1), h1**2 / 2)
    return float(prob.cell_weight @ s)


def _fit_gamma(
    model: FrailtyHazard, prob: _Problem, cov_type: CovType, by_cluster: _Problem | None
) -> FrailtyResult:
    ll0 = prob.no_frailty.glm.log_likelihood
    quad = model.link != "cloglog"
    if quad:
        _check_size(prob, by_cluster, model.n_nodes, "quadrature nodes")
        score0 = logit_gamma_score_at_zero(prob, prob.start)
    else:
        score0 = gamma_score_at_zero(prob, prob.start)
    names = (*prob.names, "ln_frailty_variance")
    if score0 > 0:

        def fun(th: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
            if quad:
                ll, g, _ = gamma_quadrature_loglik(prob, th, model.link, model.n_nodes)
            else:
                ll, g, _ = gamma_loglik(prob, th)
            return ll, g

        theta0 = np.concatenate([prob.start, [np.log(0.1)]])
        best = maximise(fun, theta0, float(prob.n_persons))
        if not best.converged:
            if best.theta[-1] < np.log(SIGMA2_MIN):
                return _boundary(model, prob, cov_type, names, ll0)
            raise EstimationError(
                f"the gamma-frailty hazard did not converge ({best.message}; frailty variance "
                f"{np.exp(best.theta[-1]):.3g}). Try a coarser duration specification or fewer "
                "covariates; check the no-frailty model first."
            )
        if np.exp(best.theta[-1]) < SIGMA2_MIN:
            return _boundary(model, prob, cov_type, names, ll0)
        if quad and np.exp(best.theta[-1]) > SIGMA2_MAX_QUADRATURE:
            raise EstimationError(
                f"the gamma-frailty logit hazard estimates a frailty variance of "
                f"{np.exp(best.theta[-1]):.3g}, beyond the range in which its quadrature is "
                f"checked (<= {SIGMA2_MAX_QUADRATURE:g}): the data put most persons at "
                "(almost) zero hazard. Check the duration specification and the event coding, "
                "or use frailty='discrete' (mass points)."
            )
        cov, corr = _cov(
            prob,
            best.hessian,
            cov_type,
            by_cluster,
            best.theta,
            "gamma_quadrature" if quad else "gamma",
            model.n_nodes,
            model.link,
        )
        lr = max(2.0 * (best.log_likelihood - ll0), 0.0)
        return FrailtyResult(
            model=model,
            names=names,
            params=best.theta,
            cov=cov,
            vcov_type=cov_type,
            correction=corr,
            log_likelihood=best.log_likelihood,
            ll_no_frailty=ll0,
            lr_statistic=lr,
            lr_p_value=0.5 * float(scipy.stats.chi2.sf(lr, 1)),
            boundary=False,
            iterations=best.iterations,
            problem=prob,
        )
    return _boundary(model, prob, cov_type, names, ll0)


def _boundary(
    model: FrailtyHazard, prob: _Problem, cov_type: CovType, names: tuple[str, ...], ll0: float
) -> FrailtyResult:
    """sigma^2 = 0: the no-frailty estimates with a warning and the boundary LR test."""
    warnings.warn(
        "the gamma frailty variance is estimated at its boundary (0): the no-frailty model "
        "fits as well (likelihood-ratio statistic 0, boundary p-value 0.5). The returned "
        "estimates are the no-frailty hazard's; report that model, or check the duration "
        "specification (a too coarse baseline can hide or mimic frailty).",
        FrailtyBoundaryWarning,
        stacklevel=3,
    )
    h0 = prob.no_frailty
    k = len(prob.names)
    cov = np.full((k + 1, k + 1), np.nan)
    order = [h0.glm.names.index(n) for n in prob.names]
    cov[:k, :k] = h0.glm.cov[np.ix_(order, order)]
    return FrailtyResult(
        model=model,
        names=names,
        params=np.concatenate([prob.start, [-np.inf]]),
        cov=cov,
        vcov_type=cov_type,
        correction=h0.glm.correction,
        log_likelihood=ll0,
        ll_no_frailty=ll0,
        lr_statistic=0.0,
        lr_p_value=0.5,
        boundary=True,
        iterations=h0.glm.iterations,
        problem=prob,
    )


def _cov(
    prob: _Problem,
    hessian: NDArray[np.float64],
    cov_type: CovType,
    by_cluster: _Problem | None,
    theta: NDArray[np.float64],
    kind: str,
    n_points: int = 1,
    link: Link = "cloglog",
) -> tuple[NDArray[np.float64], float]:
    """iid, or CRV1 from the per-pattern scores of the cluster-split compression
    (``n_points``: mass points, or quadrature nodes for ``kind="gamma_quadrature"``)."""
    if cov_type == "iid" or by_cluster is None:
        return covariance(hessian, None, None, 0, prob.n_persons)
    if kind == "gamma":
        _, _, scores = gamma_loglik(by_cluster, theta, per_pattern=True)
    elif kind == "gamma_quadrature":
        _, _, scores = gamma_quadrature_loglik(by_cluster, theta, link, n_points, True)
    else:
        _, _, scores = discrete_loglik(by_cluster, theta, n_points, link, per_pattern=True)
    assert scores is not None and by_cluster.pattern_cluster is not None
    return covariance(
        hessian, scores, by_cluster.pattern_cluster, by_cluster.n_clusters, prob.n_persons
    )


# ------------------------------------------------------------------------------ mass points


def _link_terms(
    link: Link, eta: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """c = -log(1 - h), c' , log h and (log h)' as functions of the index eta."""
    if link == "logit":
        c = np.logaddexp(0.0, eta)
        c1 = scipy.special.expit(eta)
        return c, c1, eta - c, 1.0 - c1
    ee = np.exp(eta)
    with np.errstate(divide="ignore"):
        lh = np.log(-np.expm1(-ee))
    return ee, ee, lh, ee * np.exp(-ee) / -np.expm1(-ee)


def _mixture_terms(
    prob: _Problem,
    a: NDArray[np.float64],
    b: NDArray[np.float64],
    m: NDArray[np.float64],
    log_pi: NDArray[np.float64],
    link: Link,
) -> tuple[float, NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """The likelihood of a K-point mixture with shifts ``m`` and log probabilities ``log_pi``
    (unconstrained), and its derivatives: d ll / d eta summed over points (P, W), over weeks
    (P, K) (= d ll / d m_k per pattern), and the posterior weights summed per pattern (P, K)
    (= d ll / d log_pi_k per pattern)."""
    k = m.size
    alpha = (prob.basis @ a)[1:]
    xb = prob.x @ b
    eta = alpha[None, :, None] + xb[:, None, None] + m[None, None, :]  # (P, W, K)
    c, c1, lh, lh1 = _link_terms(link, eta)
    n_p, n_w = prob.n_patterns, prob.weeks
    cum = np.concatenate([np.zeros((n_p, 1, k)), np.cumsum(c, axis=1)], axis=1)  # (P, W+1, K)
    cp, cd, ev, w = prob.cell_pattern, prob.cell_duration, prob.cell_event, prob.cell_weight
    at_d = (cp, cd - 1)
    event = ev[:, None] > 0
    log_l = -cum[cp, cd - 1] + np.where(event, lh[at_d], -c[at_d])  # (cells, K)
    joint = log_l + log_pi[None, :]
    ll_cell = scipy.special.logsumexp(joint, axis=1)
    post = np.exp(joint - ll_cell[:, None])
    ll = float(w @ ll_cell)
    wp = w[:, None] * post
    # weights of (pattern, week, point): at risk after week s, exit / censoring in week s
    flat = ((cp * n_w + (cd - 1))[:, None] * k + np.arange(k)[None, :]).ravel()
    size = n_p * n_w * k
    exit_w = np.bincount(flat, weights=(wp * ev[:, None]).ravel(), minlength=size)
    cens_w = np.bincount(flat, weights=(wp * (1.0 - ev)[:, None]).ravel(), minlength=size)
    exit_w = exit_w.reshape(n_p, n_w, k)
    cens_w = cens_w.reshape(n_p, n_w, k)
    ends = exit_w + cens_w
    later = np.cumsum(ends[:, ::-1], axis=1)[:, ::-1] - ends  # persons with d > s
    g = -(later + cens_w) * c1 + exit_w * lh1  # d ll / d eta[p, s, k]
    post_pk = ends.sum(axis=1)
    return ll, g.sum(axis=2), g.sum(axis=1), post_pk


def discrete_loglik(
    prob: _Problem, theta: NDArray[np.float64], n_points: int, link: Link, per_pattern: bool = False
) -> tuple[float, NDArray[np.float64], NDArray[np.float64] | None]:
    """Log likelihood, gradient (and per-pattern scores) of the mass-point model;
    ``theta = (a, beta, m_2..m_K, q_2..q_K)``."""
    na, kx, k = prob.n_alpha, prob.x.shape[1], n_points
    a, b = theta[:na], theta[na : na + kx]
    m = np.concatenate([[0.0], theta[na + kx : na + kx + k - 1]])
    q = np.concatenate([[0.0], theta[na + kx + k - 1 :]])
    log_pi = q - scipy.special.logsumexp(q)
    ll, g_pw, g_pk, post_pk = _mixture_terms(prob, a, b, m, log_pi, link)
    g_p = g_pw.sum(axis=1)
    # softmax: d ll / d q_j = sum of posteriors - n p_j
    q_p = post_pk - post_pk.sum(axis=1, keepdims=True) * np.exp(log_pi)[None, :]
    grad = np.concatenate(
        [g_pw.sum(axis=0) @ prob.basis[1:], prob.x.T @ g_p, g_pk.sum(axis=0)[1:], q_p.sum(0)[1:]]
    )
    if not per_pattern:
        return ll, grad, None
    scores = np.column_stack(
        [g_pw @ prob.basis[1:], prob.x * g_p[:, None], g_pk[:, 1:], q_p[:, 1:]]
    )
    return ll, grad, scores


# --------------------------------------------------------- gamma frailty by quadrature (logit)


def _log_norm(k: float) -> float:
    """``k ln k - k - lgamma(k)`` (Stirling series for large k, where the terms cancel)."""
    if k > 1e3:
        return 0.5 * np.log(k / (2.0 * np.pi)) - 1.0 / (12.0 * k) + 1.0 / (360.0 * k**3)
    return float(k * np.log(k) - k - scipy.special.gammaln(k))


def _log_minus_digamma(k: float) -> float:
    """``ln k - digamma(k)`` (asymptotic series for large k)."""
    if k > 1e3:
        return 1.0 / (2.0 * k) + 1.0 / (12.0 * k**2) - 1.0 / (120.0 * k**4)
    return float(np.log(k) - scipy.special.digamma(k))


def gamma_nodes(
    s2: float, n_nodes: int
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    r"""Quadrature rule for :math:`E\,f(v)`, v mean-one gamma of variance ``s2``, and its exact
    derivatives in :math:`\lambda = \ln\sigma^2` (module docstring).

    In :math:`s = \ln v` the density is
    :math:`p(s) = k^k/\Gamma(k)\, e^{k(s - e^s)}`, :math:`k = 1/\sigma^2`. The substitution
    :math:`s = \tau (z - e^{-z})`, :math:`\tau = \sigma/\sqrt{1 + \sigma^2}`, makes the left
    tail (:math:`p \propto e^{ks}`, slow for large :math:`\sigma^2`) decay double-exponentially
    in z, and scales the peak (width :math:`\sigma` in s for small :math:`\sigma^2`) to width
    O(1) in z. The trapezoid rule on ``n_nodes`` fixed nodes
    :math:`z_j \in [Z_L, Z_R] = [-9, 12]` (step h) gives points :math:`s_j` and weights
    :math:`w_j = h\, s'(z_j)\, p(s_j)`; nodes with :math:`w_j < e^{-60} \max w` are dropped.

    Returns ``(s_j, ln w_j, d s_j / d lambda, d ln w_j / d lambda)``.
    """
    k = 1.0 / s2
    z = np.linspace(Z_LEFT, Z_RIGHT, n_nodes)
    h = (Z_RIGHT - Z_LEFT) / (n_nodes - 1)
    tau = float(np.sqrt(s2 / (1.0 + s2)))
    ez = np.exp(-z)
    s = tau * (z - ez)
    shape_term = s - np.expm1(s)  # s - e^s + 1
    log_w = np.log(h * tau) + np.log1p(ez) + _log_norm(k) + k * shape_term
    keep = log_w > log_w.max() - 60.0
    dlt = 0.5 / (1.0 + s2)  # d ln tau / d lambda
    d_s = s * dlt
    d_log_w = dlt - k * (_log_minus_digamma(k) + shape_term) - k * np.expm1(s) * d_s
    return s[keep], log_w[keep], d_s[keep], d_log_w[keep]


def gamma_quadrature_loglik(
    prob: _Problem,
    theta: NDArray[np.float64],
    link: Link,
    n_nodes: int,
    per_pattern: bool = False,
) -> tuple[float, NDArray[np.float64], NDArray[np.float64] | None]:
    """Log likelihood, exact gradient (and per-pattern scores) of the gamma-frailty model by
    ``n_nodes``-point quadrature (:func:`gamma_nodes`);
    ``theta = (a, beta, ln sigma^2)``. The quadrature is a mixture with points
    ``ln v_j(sigma^2)`` and probabilities ``w_j(sigma^2)``, so the mass-point machinery gives
    the likelihood and the chain rule through the nodes gives the ``ln sigma^2`` score."""
    na, kx = prob.n_alpha, prob.x.shape[1]
    a, b = theta[:na], theta[na : na + kx]
    log_v, log_w, d_lv, d_lw = gamma_nodes(float(np.exp(theta[-1])), n_nodes)
    ll, g_pw, g_pk, post_pk = _mixture_terms(prob, a, b, log_v, log_w, link)
    g_p = g_pw.sum(axis=1)
    s_v = g_pk @ d_lv + post_pk @ d_lw  # d ll / d ln sigma^2 per pattern
    grad = np.concatenate([g_pw.sum(axis=0) @ prob.basis[1:], prob.x.T @ g_p, [s_v.sum()]])
    if not per_pattern:
        return ll, grad, None
    scores = np.column_stack([g_pw @ prob.basis[1:], prob.x * g_p[:, None], s_v])
    return ll, grad, scores


def logit_gamma_score_at_zero(prob: _Problem, theta0: NDArray[np.float64]) -> float:
    r"""d ll / d sigma^2 at sigma^2 = 0 for the logit link (no-frailty ``theta0 = (a, beta)``).

    With :math:`\ell(v)` the log of the conditional likelihood and :math:`E(v-1)^2 = \sigma^2`,
    :math:`E(v-1)^3 = O(\sigma^4)`: :math:`\partial \ln L / \partial\sigma^2 |_0 =
    (\ell'' + \ell'^2)/2` at v = 1, i.e.
    :math:`[\sum_{t \le d} h_t^2 - e + (e - \sum_{t \le d} h_t)^2]/2` with :math:`h_t` the
    no-frailty logit hazards."""
    na, kx = prob.n_alpha, prob.x.shape[1]
    alpha = (prob.basis @ theta0[:na])[1:]
    h = scipy.special.expit(alpha[None, :] + (prob.x @ theta0[na : na + kx])[:, None])
    zero = np.zeros((prob.n_patterns, 1))
    s1 = np.concatenate([zero, np.cumsum(h, axis=1)], axis=1)
    s2 = np.concatenate([zero, np.cumsum(h * h, axis=1)], axis=1)
    cp, cd, e = prob.cell_pattern, prob.cell_duration, prob.cell_event
    s = (s2[cp, cd] - e + (e - s1[cp, cd]) ** 2) / 2.0
    return float(prob.cell_weight @ s)


def _check_size(prob: _Problem, by_cluster: _Problem | None, k: int, what: str) -> None:
    size = max(prob.n_patterns, by_cluster.n_patterns if by_cluster else 0) * prob.weeks * k
    if size > MAX_CELLS_X_WEEKS:
        raise InputError(
            f"{prob.n_patterns} covariate patterns x {prob.weeks} weeks x {k} {what} = "
            f"{size} terms; the model works on that array. Coarsen continuous "
            "covariates into groups (or drop the cluster from the pattern with cov_type='iid')."
        )


def _fit_discrete(
    model: FrailtyHazard, prob: _Problem, cov_type: CovType, by_cluster: _Problem | None
) -> FrailtyResult:
    k, link = model.n_points, model.link
    _check_size(prob, by_cluster, k, "mass points")
    ll0 = prob.no_frailty.glm.log_likelihood
    names = (
        *prob.names,
        *(f"mass_point[{j}]" for j in range(2, k + 1)),
        *(f"logit_prob[{j}]" for j in range(2, k + 1)),
    )

    def fun(th: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
        ll, g, _ = discrete_loglik(prob, th, k, link)
        return ll, g

    def at_boundary(th: NDArray[np.float64]) -> bool:
        m, p = mass_points_of(th, len(prob.names), k)
        gaps = np.abs(m[:, None] - m[None, :])[np.triu_indices(k, 1)]
        return bool(p.min() < P_MIN or gaps.min() < COLLAPSE or np.abs(m).max() > M_MAX)

    # several starts (mixture likelihoods have local maxima): the first interior maximum;
    # if none, the error of the attempt with the highest likelihood
    attempts = []
    for m0 in MASS_POINT_STARTS:
        theta0 = np.concatenate([prob.start, np.asarray(m0[: k - 1]), np.zeros(k - 1)])
        best = maximise(fun, theta0, float(prob.n_persons), at_boundary=at_boundary)
        if best.converged and not at_boundary(best.theta):
            break
        attempts.append(best)
    else:
        best = max(attempts, key=lambda b: b.log_likelihood)
    _check_points(best.theta, prob, k, best.converged, best.message)
    cov, corr = _cov(prob, best.hessian, cov_type, by_cluster, best.theta, "discrete", k, link)
    lr = max(2.0 * (best.log_likelihood - ll0), 0.0)
    return FrailtyResult(
        model=model,
        names=names,
        params=best.theta,
        cov=cov,
        vcov_type=cov_type,
        correction=corr,
        log_likelihood=best.log_likelihood,
        ll_no_frailty=ll0,
        lr_statistic=lr,
        lr_p_value=float("nan"),  # no standard reference distribution (unidentified nuisance)
        boundary=False,
        iterations=best.iterations,
        problem=prob,
    )


def mass_points_of(theta: NDArray[np.float64], n_alpha_x: int, k: int) -> tuple[NDArray, NDArray]:
    """(locations m_1..m_K with m_1 = 0, probabilities p_1..p_K) from a parameter vector."""
    m = np.concatenate([[0.0], theta[n_alpha_x : n_alpha_x + k - 1]])
    q = np.concatenate([[0.0], theta[n_alpha_x + k - 1 : n_alpha_x + 2 * k - 2]])
    return m, np.exp(q - scipy.special.logsumexp(q))


def check_mass_points(m: NDArray, p: NDArray, converged: bool, message: str, what: str) -> None:
    """Raise :class:`MixtureBoundaryError` for a degenerate mixing distribution."""
    k = m.size
    fix = (
        f"Fit with n_points={k - 1}"
        if k > 2
        else "The data show no heterogeneity of this kind: use the model without it"
    )
    gaps = np.abs(m[:, None] - m[None, :])[np.triu_indices(k, 1)]
    if p.min() < P_MIN:
        raise MixtureBoundaryError(
            f"{what}: a mass point's probability went to {p.min():.2g} (boundary). {fix}."
        )
    if gaps.min() < COLLAPSE:
        raise MixtureBoundaryError(
            f"{what}: two mass points collapsed into one (distance {gaps.min():.2g}). {fix}."
        )
    if np.abs(m).max() > M_MAX:
        raise MixtureBoundaryError(
            f"{what}: a mass point drifted to {m[np.argmax(np.abs(m))]:.1f} on the log-hazard "
            f"scale (a group that never or always exits; boundary). {fix}, or model that group "
            "explicitly."
        )
    if not converged:
        raise EstimationError(
            f"{what} did not converge ({message}). {fix}, or coarsen the duration grid."
        )


def _check_points(
    theta: NDArray[np.float64], prob: _Problem, k: int, converged: bool, message: str
) -> None:
    m, p = mass_points_of(theta, len(prob.names), k)
    check_mass_points(m, p, converged, message, f"the {k}-point mixing distribution")


# ----------------------------------------------------------------------------------- result


@dataclass(frozen=True, repr=False)
class FrailtyResult(Result):
    """A fitted hazard with unobserved heterogeneity (result protocol).

    ``tidy()`` shows the regressors and the heterogeneity parameters (``ln_frailty_variance``,
    or ``mass_point[k]`` and ``logit_prob[k]``); ``tidy(fixed_effects=True)`` adds the
    baseline and stratum terms; ``exponentiate=True`` gives hazard ratios (cloglog) or odds
    ratios (logit) -- and the frailty variance itself for ``ln_frailty_variance``.
    :attr:`vcov` is in the order of ``tidy(fixed_effects=True)``. ``glance()``: n_obs
    (persons), n_person_weeks, n_cells, log_likelihood, ll_no_frailty, lr_statistic,
    lr_p_value (gamma: boundary chi-bar-squared), frailty_variance, n_points, boundary,
    converged.
    """

    model: FrailtyHazard
    names: tuple[str, ...]
    params: NDArray[np.float64]
    cov: NDArray[np.float64]
    vcov_type: str
    correction: float
    log_likelihood: float
    ll_no_frailty: float
    lr_statistic: float
    lr_p_value: float
    boundary: bool
    iterations: int
    problem: _Problem

    @property
    def model_name(self) -> str:
        what = (
            "gamma frailty"
            if self.model.frailty == "gamma"
            else f"{self.model.n_points} mass points"
        )
        return f"Discrete-time hazard ({self.model.link}, {what})"

    @property
    def ratio_name(self) -> str:
        return "hazard_ratio" if self.model.link == "cloglog" else "odds_ratio"

    @property
    def vcov(self) -> NDArray[np.float64]:
        return self.cov

    @property
    def no_frailty(self) -> HazardResult:
        """The model without heterogeneity (fitted first; its estimates are the start)."""
        return self.problem.no_frailty

    @property
    def frailty_variance(self) -> float | None:
        if self.model.frailty != "gamma":
            return None
        return float(np.exp(self.params[-1]))

    @property
    def mass_points(self) -> pl.DataFrame:
        """Locations ``m_k`` (log-hazard shifts, ``m_1 = 0``) and probabilities ``p_k``."""
        if self.model.frailty != "discrete":
            raise InputError("mass_points: this is a gamma-frailty fit; see frailty_variance.")
        m, p = mass_points_of(self.params, len(self.problem.names), self.model.n_points)
        return pl.DataFrame({"point": np.arange(1, m.size + 1), "location": m, "probability": p})

    def coef(self, term: str) -> float:
        return float(self.params[self._index(term)])

    def se(self, term: str) -> float:
        i = self._index(term)
        return float(np.sqrt(self.cov[i, i]))

    def _index(self, term: str) -> int:
        try:
            return self.names.index(term)
        except ValueError:
            raise InputError(f"no term {term!r}; terms are {list(self.names)}.") from None

    def _coefficients(self) -> pl.DataFrame:
        k = len(self.names)
        return pl.DataFrame(
            {
                "term": list(self.names),
                "estimate": self.params,
                "std_error": np.sqrt(np.diag(self.cov)),
                "df": np.full(k, np.inf),
            }
        )

    def _hidden_terms(self) -> set[str]:
        """Baseline and stratum terms (shown with ``tidy(fixed_effects=True)``)."""
        return set(self.problem.names) - set(self.model._base().dense_names)

    def _glance(self) -> dict[str, Any]:
        p = self.problem
        return {
            "n_obs": p.n_persons,
            "n_clusters": p.n_clusters if self.vcov_type == "CRV1" else None,
            "vcov_type": self.vcov_type,
            "df": None,
            "log_likelihood": self.log_likelihood,
            "link": self.model.link,
            "frailty": self.model.frailty,
            "frailty_variance": self.frailty_variance
            if not self.boundary
            else (0.0 if self.model.frailty == "gamma" else None),
            "n_points": self.model.n_points if self.model.frailty == "discrete" else None,
            "n_nodes": self.model.n_nodes
            if self.model.frailty == "gamma" and self.model.link != "cloglog"
            else None,
            "ll_no_frailty": self.ll_no_frailty,
            "lr_statistic": self.lr_statistic,
            "lr_p_value": self.lr_p_value,
            "boundary": self.boundary,
            "n_person_weeks": p.n_person_weeks,
            "n_events": p.n_events,
            "n_cells": int(p.cell_weight.size),
            "iterations": self.iterations,
            "converged": True,
        }

    def _notes(self) -> tuple[str, ...]:
        notes = []
        if self.vcov_type == "CRV1":
            notes.append(f"CRV1 small-sample factor {self.correction:.4f}")
        if self.boundary:
            notes.append("frailty variance at its boundary 0: estimates are the no-frailty model")
        return (*notes, *self.problem.grid.merges)
