r"""Prognostic covariate selection by two-limit Tobit regressions.

The study chose its covariates X by regressing control-group outcome shares (which pile up at
0 and 1) on one baseline variable at a time with a Tobit model censored at both ends:

.. math:: y_i^* = \beta_0 + \beta_1 x_i + \varepsilon_i,\quad
          \varepsilon_i \sim N(0, \sigma^2),\quad y_i = \min(\max(y_i^*, L), U),

with log-likelihood, :math:`\mu_i = \beta_0 + \beta_1 x_i`,

.. math:: \ell = \sum_{y_i \le L}\log\Phi\Big(\frac{L-\mu_i}{\sigma}\Big)
          + \sum_{y_i \ge U}\log\Phi\Big(\frac{\mu_i-U}{\sigma}\Big)
          + \sum_{L<y_i<U}\Big[\log\phi\Big(\frac{y_i-\mu_i}{\sigma}\Big) - \log\sigma\Big].

:func:`tobit` maximises it over :math:`(\beta, \log\sigma)` by trust-region Newton with the
analytic gradient and Hessian; standard errors from the inverse observed information.
:func:`prognostic_selection` fits one Tobit per outcome and variable on the control group and
ranks the variables within each outcome by the likelihood-ratio statistic against the
constant-only Tobit (1 degree of freedom, so the same order as its p-value).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
import scipy.optimize
import scipy.special
import scipy.stats
from numpy.typing import ArrayLike, NDArray

from dreamkit.design import columns as C
from dreamkit.errors import EstimationError, InputError
from dreamkit.estimate.linear.design_matrix import require_columns, resolve_outcomes
from dreamkit.estimate.results import Result
from dreamkit.frames import accepts_pandas


@dataclass(frozen=True)
class TobitFit:
    """Estimates (beta..., log sigma), covariance, log-likelihood and censoring counts."""

    params: NDArray[np.float64]
    cov: NDArray[np.float64]
    loglik: float
    n_obs: int
    n_lower: int
    n_upper: int
    converged: bool

    @property
    def coef(self) -> NDArray[np.float64]:
        return self.params[:-1]

    @property
    def sigma(self) -> float:
        return float(np.exp(self.params[-1]))

    @property
    def std_error(self) -> NDArray[np.float64]:
        return np.sqrt(np.diag(self.cov))[:-1]


def _pieces(
    theta: NDArray[np.float64],
    y: NDArray[np.float64],
    x: NDArray[np.float64],
    lower: float,
    upper: float,
) -> tuple[
    float,
    NDArray[np.float64],
    NDArray[np.float64],
    NDArray[np.float64],
    NDArray[np.float64],
    NDArray[np.float64],
    NDArray[np.float64],
]:
    """Log-likelihood and per-row derivatives in (mu, s = log sigma)."""
    beta, s = theta[:-1], theta[-1]
    mu = x @ beta
    inv = np.exp(-s)
    lo, hi = y <= lower, y >= upper
    mid = ~(lo | hi)
    ll = np.empty_like(y)
    d_mu, d_s = np.empty_like(y), np.empty_like(y)
    h_mm, h_ms, h_ss = np.empty_like(y), np.empty_like(y), np.empty_like(y)
    r = (y[mid] - mu[mid]) * inv
    ll[mid] = -0.5 * r**2 - s - 0.5 * np.log(2 * np.pi)
    d_mu[mid], d_s[mid] = r * inv, r**2 - 1.0
    h_mm[mid], h_ms[mid], h_ss[mid] = -(inv**2), -2.0 * r * inv, -2.0 * r**2
    for side, sign, bound in ((lo, -1.0, lower), (hi, 1.0, upper)):
        v = sign * (mu[side] - bound) * inv  # log Phi(v); dv/dmu = -sign... see module
        logcdf = scipy.special.log_ndtr(v)
        k = np.exp(-0.5 * v**2 - 0.5 * np.log(2 * np.pi) - logcdf)  # phi(v)/Phi(v)
        ll[side] = logcdf
        d_mu[side] = sign * k * inv
        d_s[side] = -v * k
        h_mm[side] = -(inv**2) * k * (v + k)
        h_ms[side] = sign * inv * k * (v * (v + k) - 1.0)
        h_ss[side] = v * k * (1.0 - v * (v + k))
    return float(ll.sum()), mu, d_mu, d_s, h_mm, h_ms, h_ss


def tobit_loglik(
    theta: ArrayLike, y: ArrayLike, x: ArrayLike, lower: float = 0.0, upper: float = 1.0
) -> tuple[float, NDArray[np.float64], NDArray[np.float64]]:
    """Log-likelihood, gradient and Hessian at theta = (beta, log sigma); x has the constant."""
    th = np.asarray(theta, dtype=np.float64)
    xm = np.asarray(x, dtype=np.float64)
    ll, _, d_mu, d_s, h_mm, h_ms, h_ss = _pieces(th, np.asarray(y, np.float64), xm, lower, upper)
    grad = np.append(xm.T @ d_mu, d_s.sum())
    k = xm.shape[1]
    hess = np.empty((k + 1, k + 1))
    hess[:k, :k] = (xm * h_mm[:, None]).T @ xm
    hess[:k, k] = hess[k, :k] = xm.T @ h_ms
    hess[k, k] = h_ss.sum()
    return ll, grad, hess


def tobit(y: ArrayLike, x: ArrayLike, *, lower: float = 0.0, upper: float = 1.0) -> TobitFit:
    """Two-limit Tobit of y on x (n, k) (include a constant column) by maximum likelihood."""
    yv = np.asarray(y, dtype=np.float64)
    xm = np.asarray(x, dtype=np.float64)
    xm = xm[:, None] if xm.ndim == 1 else xm
    if not lower < upper:
        raise InputError(f"lower ({lower}) must be below upper ({upper}).")
    if not (np.isfinite(yv).all() and np.isfinite(xm).all()):
        raise InputError("y and x must be finite; remove or fill missing values first.")
    if ((yv < lower - 1e-12) | (yv > upper + 1e-12)).any():
        raise InputError(f"y has values outside [{lower}, {upper}]; it must be censored data.")
    n_lower, n_upper = int((yv <= lower).sum()), int((yv >= upper).sum())
    if n_lower + n_upper == len(yv) and len(np.unique(yv)) < 2:
        raise EstimationError(
            "every observation sits at the same limit; the Tobit is not identified."
        )
    beta0, *_ = np.linalg.lstsq(xm, yv, rcond=None)
    sd = float(np.std(yv - xm @ beta0)) or 0.1 * (upper - lower)
    theta0 = np.append(beta0, np.log(sd))

    def f(t: NDArray[np.float64]) -> float:
        return -tobit_loglik(t, yv, xm, lower, upper)[0]

    def g(t: NDArray[np.float64]) -> NDArray[np.float64]:
        return -tobit_loglik(t, yv, xm, lower, upper)[1]

    def h(t: NDArray[np.float64]) -> NDArray[np.float64]:
        return -tobit_loglik(t, yv, xm, lower, upper)[2]

    res = scipy.optimize.minimize(
        f, theta0, jac=g, hess=h, method="trust-exact", options={"gtol": 1e-10, "maxiter": 500}
    )
    ll, grad, hess = tobit_loglik(res.x, yv, xm, lower, upper)
    try:
        cov = np.asarray(np.linalg.inv(-hess), dtype=np.float64)
    except np.linalg.LinAlgError:
        raise EstimationError("the Tobit information matrix is singular (collinear x?).") from None
    converged = bool(np.max(np.abs(grad)) < 1e-6 * max(1.0, abs(ll)))
    return TobitFit(res.x, cov, ll, len(yv), n_lower, n_upper, converged)


@dataclass(frozen=True, repr=False)
class PrognosticResult(Result):
    """The Tobit screen of :func:`prognostic_selection` in the result protocol.

    :attr:`table` is the ranking (one row per outcome and variable). ``tidy()``: term = the
    variable, family column ``outcome``, the Tobit slope with its normal Wald test and
    interval, then sigma, log-likelihood, LR statistic and p-value, counts, rank and note.
    :attr:`vcov`: the squared standard errors on the diagonal; every row is a separate fit, so
    covariances between rows are NaN (not estimated).
    """

    table: pl.DataFrame

    family_columns = ("outcome",)

    @property
    def model_name(self) -> str:
        return "Prognostic selection (Tobit on controls, censored at the bounds)"

    def _coefficients(self) -> pl.DataFrame:
        t = self.table
        return t.select(
            pl.col("variable").alias("term"),
            "outcome",
            "estimate",
            "std_error",
            pl.lit(float("inf")).alias("df"),
            pl.exclude("variable", "outcome", "estimate", "std_error", "z", "p_value"),
        )

    def _glance(self) -> dict[str, object]:
        return {
            "n_obs": int(self.table["n_obs"].to_numpy().max(initial=0)),
            "n_clusters": None,
            "vcov_type": "iid (Tobit ML)",
            "df": None,
            "log_likelihood": None,
            "n_fits": self.table.height,
        }

    @property
    def vcov(self) -> NDArray[np.float64]:
        se = self.table["std_error"].to_numpy().astype(np.float64)
        v = np.full((se.size, se.size), np.nan)
        np.fill_diagonal(v, se**2)
        return v


@accepts_pandas("data")
def prognostic_selection(
    data: pl.DataFrame,
    outcomes: str | Sequence[str],
    variables: Sequence[str],
    *,
    treated: str = C.TREATED,
    lower: float = 0.0,
    upper: float = 1.0,
) -> PrognosticResult:
    """Tobit of each control-group outcome on each variable (with a constant), ranked.

    Rows with a missing value of the variable (or outcome) are left out of that regression and
    counted in ``n_dropped``. Columns: outcome, variable, estimate, std_error, z, p_value,
    sigma, loglik, lr_stat, lr_p_value, n_obs, n_lower, n_upper, n_dropped, converged, rank
    (1 = most prognostic within the outcome), note.
    """
    names = resolve_outcomes(data, outcomes)
    require_columns(data, [treated, *variables], "variable")
    ctrl = data.filter(pl.col(treated) == 0)
    if ctrl.height == 0:
        raise InputError(f"no control persons ({treated!r} == 0); the selection uses controls.")
    rows = []
    for outcome in names:
        for var in variables:
            pair = ctrl.select(pl.col(outcome).cast(pl.Float64), pl.col(var).cast(pl.Float64))
            pair = pair.filter(pl.all_horizontal(pl.all().is_not_null() & pl.all().is_not_nan()))
            y, xv = pair[outcome].to_numpy(), pair[var].to_numpy()
            row = {
                "outcome": outcome,
                "variable": var,
                "n_obs": len(y),
                "n_dropped": ctrl.height - len(y),
                "note": "",
            }
            if len(y) < 3 or np.ptp(xv) == 0:
                row["note"] = "no variation in the variable among controls"
                rows.append(row)
                continue
            full = tobit(y, np.column_stack([np.ones(len(y)), xv]), lower=lower, upper=upper)
            null = tobit(y, np.ones((len(y), 1)), lower=lower, upper=upper)
            z = full.coef[1] / full.std_error[1]
            lr = max(2.0 * (full.loglik - null.loglik), 0.0)
            row.update(
                estimate=full.coef[1],
                std_error=full.std_error[1],
                z=z,
                p_value=2.0 * scipy.stats.norm.sf(abs(z)),
                sigma=full.sigma,
                loglik=full.loglik,
                lr_stat=lr,
                lr_p_value=scipy.stats.chi2.sf(lr, 1),
                n_lower=full.n_lower,
                n_upper=full.n_upper,
                converged=full.converged and null.converged,
            )
            rows.append(row)
    schema = {
        "outcome": pl.String,
        "variable": pl.String,
        "estimate": pl.Float64,
        "std_error": pl.Float64,
        "z": pl.Float64,
        "p_value": pl.Float64,
        "sigma": pl.Float64,
        "loglik": pl.Float64,
        "lr_stat": pl.Float64,
        "lr_p_value": pl.Float64,
        "n_obs": pl.Int64,
        "n_lower": pl.Int64,
        "n_upper": pl.Int64,
        "n_dropped": pl.Int64,
        "converged": pl.Boolean,
        "note": pl.String,
    }
    table = pl.DataFrame(rows, schema=schema)
    rank = pl.col("lr_stat").rank("ordinal", descending=True).over("outcome").cast(pl.Int64)
    return PrognosticResult(
        table.with_columns(rank.alias("rank")).select(
            *[c for c in schema if c != "note"], "rank", "note"
        )
    )
