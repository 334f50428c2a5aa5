"""Timing-of-events: the fit against an independent implementation of the same joint
likelihood (plain arrays over spells and weeks, no grid), differentiated by autograd
(exact gradient and Hessian) and maximised by scipy.optimize."""

from __future__ import annotations

import autograd
import autograd.numpy as anp
import numpy as np
import polars as pl
import pytest
import scipy.optimize
from autograd.scipy.special import logsumexp

from dreamkit.estimate.duration.duration_dependence import intervals
from dreamkit.estimate.duration.timing import TimingOfEvents
from dreamkit.simulate.durations import simulate_timing_of_events

WIDTH = 12  # two baseline intervals per hazard over 24 weeks: 12 parameters in all


def _plain_loglik(df: pl.DataFrame, theta: np.ndarray, link: str) -> np.ndarray:
    """sum_i log sum_kl pi_kl [exit part | v_e = k] [entry part | v_p = l], written out with
    (person, week) arrays. theta = (exit baseline (2), exit:x, programme, entry baseline
    (2), entry:x, m_e, m_p, q_01, q_10, q_11), q_00 = 0."""
    a_e, b_e, delta = theta[0:2], theta[2], theta[3]
    a_p, b_p = theta[4:6], theta[6]
    m_e, m_p = theta[7], theta[8]
    q = anp.concatenate([anp.zeros(1), theta[9:12]])
    log_pi = q - logsumexp(q)
    rows = np.column_stack(
        [df["duration"], df["event"], df["x"], df["entry"].fill_null(0)]  # entry 0: none by d
    ).astype(np.int64)
    uniq, count = np.unique(rows, axis=0, return_counts=True)  # equal spells: one term
    d, e, x, tp = uniq[:, 0], uniq[:, 1], uniq[:, 2].astype(float), uniq[:, 3]
    weeks = int(d.max())
    t = np.arange(1, weeks + 1)[None, :]
    group = (t - 1) // WIDTH
    entered = tp[:, None] > 0
    treated = entered & (t > tp[:, None])
    last = t == d[:, None]
    in_spell = t <= d[:, None]
    entry_risk = np.where(entered, t <= tp[:, None], in_spell)  # weeks at risk of entry
    entry_week = entered & (t == tp[:, None])

    def log_h_and_1mh(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if link == "logit":
            return -anp.logaddexp(0.0, -z), -anp.logaddexp(0.0, z)
        return anp.log(-anp.expm1(-anp.exp(z))), -anp.exp(z)

    terms = []
    for ve, vp, lp in ((0.0, 0.0, 0), (0.0, m_p, 1), (m_e, 0.0, 2), (m_e, m_p, 3)):
        lh, l1 = log_h_and_1mh(a_e[group] + b_e * x[:, None] + ve + delta * treated)
        exit_part = anp.where(in_spell, anp.where(last & (e[:, None] == 1), lh, l1), 0.0)
        lh, l1 = log_h_and_1mh(a_p[group] + b_p * x[:, None] + vp)
        entry_part = anp.where(entry_risk, anp.where(entry_week, lh, l1), 0.0)
        terms.append(log_pi[lp] + exit_part.sum(axis=1) + entry_part.sum(axis=1))
    return anp.dot(count, logsumexp(anp.stack(terms, axis=1), axis=1))


@pytest.mark.parametrize("link", ["cloglog", "logit"])
def test_equals_independent_scipy_fit(link: str) -> None:
    """Estimates to 1e-5, log likelihood to 1e-10 and iid SEs to 1e-4 against the plain
    likelihood maximised by scipy.optimize (BFGS with autograd's exact gradient from a
    perturbed start, then Newton steps with autograd's exact Hessian). The SE tolerance
    covers dreamkit's Hessian, central differences of its analytic gradient."""
    df = simulate_timing_of_events(6000, delta=0.4, weeks=24, seed=3)
    model = TimingOfEvents(
        link=link,  # type: ignore[arg-type]
        covariates=("x",),
        duration_spec=intervals(WIDTH),
        entry_spec=intervals(WIDTH),
        cluster=None,
        cov_type="iid",
    )
    fit = model.fit(df)
    assert fit.glance()["n_points"][0] == 4 and not fit.data.grid_e.merges
    assert len(fit.names) == 12

    def nll(th: np.ndarray) -> np.ndarray:
        return -_plain_loglik(df, th, link)

    grad, hessian = autograd.grad(nll), autograd.hessian(nll)
    assert -nll(fit.params) == pytest.approx(fit.log_likelihood, rel=1e-10)
    start = fit.params + np.random.default_rng(0).normal(scale=0.05, size=12)
    est = scipy.optimize.minimize(nll, start, jac=grad, method="BFGS", options={"gtol": 1e-6}).x
    for _ in range(3):
        est = est - np.linalg.solve(hessian(est), grad(est))
    assert np.abs(grad(est)).max() < 1e-6
    np.testing.assert_allclose(fit.params, est, atol=1e-5)
    cov = np.linalg.inv(hessian(est))
    np.testing.assert_allclose(np.sqrt(np.diag(fit.vcov)), np.sqrt(np.diag(cov)), rtol=1e-4)
