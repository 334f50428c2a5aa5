"""Two-limit Tobit: derivatives, known cases, an independent likelihood, and the ranking."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import scipy.optimize
import scipy.stats

from dreamkit.errors import InputError
from dreamkit.estimate.linear.prognostic import prognostic_selection, tobit, tobit_loglik
from dreamkit.estimate.results import TIDY_LEADING


def _censored(seed: int, n: int = 400, beta=(0.3, 0.4), sigma=0.5):
    rng = np.random.default_rng(seed)
    x = np.column_stack([np.ones(n), rng.normal(size=n)])
    return np.clip(x @ np.asarray(beta) + sigma * rng.normal(size=n), 0.0, 1.0), x


def test_gradient_and_hessian_match_finite_differences():
    y, x = _censored(1)
    theta = np.array([0.2, 0.5, np.log(0.6)])
    _, grad, hess = tobit_loglik(theta, y, x)
    num_grad = scipy.optimize.approx_fprime(theta, lambda t: tobit_loglik(t, y, x)[0], 1e-7)
    np.testing.assert_allclose(grad, num_grad, rtol=1e-5, atol=1e-4)
    num_hess = np.array(
        [
            scipy.optimize.approx_fprime(theta, lambda t, i=i: tobit_loglik(t, y, x)[1][i], 1e-7)
            for i in range(3)
        ]
    )
    np.testing.assert_allclose(hess, num_hess, rtol=1e-5, atol=1e-3)


def test_without_censoring_tobit_is_normal_ols_mle():
    rng = np.random.default_rng(2)
    x = np.column_stack([np.ones(200), rng.normal(size=200)])
    y = 0.5 + 0.05 * x[:, 1] + 0.05 * rng.normal(size=200)  # all inside (0, 1)
    assert ((y > 0) & (y < 1)).all()
    fit = tobit(y, x)
    beta, *_ = np.linalg.lstsq(x, y, rcond=None)
    resid = y - x @ beta
    sigma2 = resid @ resid / len(y)
    np.testing.assert_allclose(fit.coef, beta, rtol=1e-8)
    np.testing.assert_allclose(fit.sigma**2, sigma2, rtol=1e-8)
    np.testing.assert_allclose(
        fit.std_error, np.sqrt(np.diag(sigma2 * np.linalg.inv(x.T @ x))), rtol=1e-8
    )


def test_maximum_agrees_with_an_independent_likelihood():
    y, x = _censored(3)

    def negll(t):
        mu, s = x @ t[:2], np.exp(t[2])
        lo, hi = y <= 0, y >= 1
        mid = ~(lo | hi)
        return -(
            scipy.stats.norm.logcdf(-mu[lo] / s).sum()
            + scipy.stats.norm.logsf((1 - mu[hi]) / s).sum()
            + scipy.stats.norm.logpdf(y[mid], mu[mid], s).sum()
        )

    ref = scipy.optimize.minimize(
        negll,
        [0.0, 0.0, 0.0],
        method="Nelder-Mead",
        options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 20_000},
    )
    fit = tobit(y, x)
    assert fit.n_lower > 0 and fit.n_upper > 0 and fit.converged
    np.testing.assert_allclose(-fit.loglik, ref.fun, rtol=1e-9)
    np.testing.assert_allclose(fit.params, ref.x, atol=1e-5)


def test_recovers_parameters_in_a_large_sample():
    y, x = _censored(4, n=40_000, beta=(0.2, -0.3), sigma=0.4)
    fit = tobit(y, x)
    assert np.all(np.abs(fit.coef - [0.2, -0.3]) < 4 * fit.std_error)
    assert abs(fit.sigma - 0.4) < 0.02


def test_selection_ranks_the_prognostic_variable_first():
    rng = np.random.default_rng(5)
    n = 300
    strong = rng.normal(size=n)
    y = np.clip(0.4 + 0.3 * strong + 0.3 * rng.normal(size=n), 0, 1)
    data = pl.DataFrame(
        {
            "treated": np.r_[np.zeros(200), np.ones(100)].astype(int),
            "share_81": y,
            "strong": strong,
            "noise": rng.normal(size=n),
            "const": np.ones(n),
        }
    )
    result = prognostic_selection(data, ["share_81"], ["noise", "strong", "const"])
    table = result.table
    tidy = result.tidy()
    assert tuple(tidy.columns[:7]) == TIDY_LEADING
    np.testing.assert_allclose(tidy["statistic"], table["z"], rtol=1e-12)
    np.testing.assert_allclose(tidy["p_value"], table["p_value"], rtol=1e-12)
    first = table.filter(pl.col("rank") == 1).row(0, named=True)
    assert first["variable"] == "strong" and first["n_obs"] == 200
    assert table.filter(pl.col("variable") == "const")["note"][0].startswith("no variation")
    with pytest.raises(InputError, match="outside"):
        tobit(np.array([0.5, 1.5, 0.2]), np.ones((3, 1)))
