"""Shared machinery of the mixture hazards (frailty, mass points, timing-of-events).

* :func:`maximise` -- BFGS with the analytic gradient (scipy.optimize), preconditioned by
  the finite-difference Hessian at the start, then Newton steps
  with a Hessian from central differences of the analytic gradient until the Newton
  decrement ``g' (-H)^{-1} g`` is below ``1e-9`` and the step below ``1e-6 (1 + |theta|)``.
  The final Hessian (at the last Newton point) is the bread of every covariance.
* :func:`covariance` -- ``iid``: ``(-H)^{-1}``; ``CRV1``: ``c B (sum_g S_g S_g') B`` with
  ``B = (-H)^{-1}``, ``S_g`` the score summed over the persons of cluster g and
  ``c = G/(G-1) (N-1)/(N-K)``, N the number of persons (the likelihood's independent units).
* :func:`baseline_basis` -- the baseline ``alpha_t = B_t' a`` of a resolved duration grid.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.linalg
import scipy.optimize
from numpy.typing import NDArray

from dreamkit.errors import EstimationError
from dreamkit.estimate.duration.duration_dependence import DurationGrid

Objective = Callable[[NDArray[np.float64]], tuple[float, NDArray[np.float64]]]
DECREMENT_TOL = 1e-9
STEP_TOL = 1e-6


@dataclass(frozen=True)
class Maximum:
    theta: NDArray[np.float64]
    log_likelihood: float
    hessian: NDArray[np.float64]  # of the log likelihood (negative definite)
    iterations: int
    converged: bool
    message: str


def baseline_basis(grid: DurationGrid, weeks: int) -> NDArray[np.float64]:
    """(weeks+1, n_alpha) rows ``B_t`` with ``alpha_t = B_t' a``; row 0 is zero (unused)."""
    t = np.arange(1, weeks + 1)
    if grid.is_step:
        b = np.zeros((weeks + 1, grid.n_groups))
        b[t, grid.lut[t]] = 1.0
        return b
    return np.vstack([np.zeros((1, grid.spec.degree + 1)), grid.basis(t)])


def baseline_names(grid: DurationGrid) -> list[str]:
    if grid.is_step:
        return [f"duration[{lab}]" for lab in grid.labels]
    return list(grid.basis_names)


def numerical_hessian(
    grad: Callable[[NDArray[np.float64]], NDArray[np.float64]], theta: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Central differences of an analytic gradient (step 1e-5 max(1, |theta_j|)), symmetrised."""
    p = theta.size
    h = 1e-5 * np.maximum(1.0, np.abs(theta))
    out = np.empty((p, p))
    for j in range(p):
        up, down = theta.copy(), theta.copy()
        up[j] += h[j]
        down[j] -= h[j]
        out[:, j] = (grad(up) - grad(down)) / (2.0 * h[j])
    return (out + out.T) / 2.0


def maximise(
    fun: Objective,
    theta0: NDArray[np.float64],
    scale: float,
    max_iter: int = 1000,
    at_boundary: Callable[[NDArray[np.float64]], bool] | None = None,
) -> Maximum:
    """Maximise ``fun`` (log likelihood and gradient) from ``theta0`` (module docstring).

    Never raises for non-convergence itself: the caller reads ``converged`` and raises with a
    model-specific message. If ``at_boundary(theta)`` holds after BFGS (e.g. a mass point's
    probability near 0), the Newton steps are skipped and the fit is returned unconverged.
    """

    # precondition: with theta = theta0 + T z and T' (-H0) T = I (H0 the Hessian at the start,
    # or its diagonal where H0 is not negative definite) BFGS starts from a unit-scaled problem
    hess0 = numerical_hessian(lambda th: fun(th)[1], theta0)
    try:
        upper = scipy.linalg.cholesky(-hess0, lower=False)
        t_mat = scipy.linalg.solve_triangular(upper, np.eye(theta0.size), lower=False)
    except (scipy.linalg.LinAlgError, ValueError):
        t_mat = np.diag(1.0 / np.sqrt(np.maximum(np.abs(np.diag(hess0)), 1e-8 * scale)))

    def neg(z: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
        ll, g = fun(theta0 + t_mat @ z)
        if not np.isfinite(ll):
            return np.inf, np.zeros_like(z)
        return -ll, -(t_mat.T @ g)

    res = scipy.optimize.minimize(
        neg,
        np.zeros_like(theta0),
        jac=True,
        method="BFGS",
        options={"gtol": 1e-5, "maxiter": max_iter},
    )
    res.x = theta0 + t_mat @ res.x
    theta = np.asarray(res.x, dtype=np.float64)
    ll, g = fun(theta)
    iterations = int(res.nit)
    hess = np.full((theta.size, theta.size), np.nan)
    if at_boundary is not None and at_boundary(theta):
        return Maximum(theta, ll, hess, iterations, False, "at the boundary after BFGS")
    for _ in range(20):
        iterations += 1
        hess = numerical_hessian(lambda th: fun(th)[1], theta)
        try:
            chol = scipy.linalg.cho_factor(-hess, check_finite=True)
        except (scipy.linalg.LinAlgError, ValueError):
            return Maximum(theta, ll, hess, iterations, False, "Hessian not negative definite")
        step = scipy.linalg.cho_solve(chol, g)
        decrement = float(g @ step)
        t = 1.0
        for _ in range(40):
            cand = theta + t * step
            ll_c, g_c = fun(cand)
            if np.isfinite(ll_c) and ll_c >= ll - 1e-10 * abs(ll):
                break
            t /= 2.0
        else:
            return Maximum(theta, ll, hess, iterations, False, "line search failed")
        small = np.max(np.abs(t * step)) <= STEP_TOL * (1.0 + np.max(np.abs(cand)))
        theta, ll, g = cand, ll_c, g_c
        if decrement < DECREMENT_TOL and small:
            return Maximum(theta, ll, hess, iterations, True, "converged")
        if at_boundary is not None and at_boundary(theta):
            return Maximum(theta, ll, hess, iterations, False, "at the boundary")
    return Maximum(theta, ll, hess, iterations, False, "Newton steps did not converge")


def covariance(
    hessian: NDArray[np.float64],
    scores: NDArray[np.float64] | None,
    clusters: NDArray[np.int64] | None,
    n_clusters: int,
    n_persons: int,
) -> tuple[NDArray[np.float64], float]:
    """``iid`` (``scores`` None) or ``CRV1`` covariance and its small-sample factor.

    ``scores`` are per-unit score rows (units: persons or compressed patterns nested in
    clusters) and ``clusters`` their cluster codes.
    """
    try:
        bread = np.asarray(np.linalg.inv(-hessian), dtype=np.float64)
    except np.linalg.LinAlgError:
        raise EstimationError(
            "the information matrix is singular at the estimate: a parameter is not "
            "identified (a constant covariate or a degenerate mixing distribution)."
        ) from None
    if scores is None or clusters is None:
        return (bread + bread.T) / 2.0, 1.0
    k = hessian.shape[0]
    sg = np.column_stack(
        [np.bincount(clusters, weights=scores[:, j], minlength=n_clusters) for j in range(k)]
    )
    corr = n_clusters / (n_clusters - 1.0) * (n_persons - 1.0) / (n_persons - k)
    v = corr * bread @ (sg.T @ sg) @ bread
    return (v + v.T) / 2.0, corr
