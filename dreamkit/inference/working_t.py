r"""The exact null distribution of a CR2 t-statistic under its working model.

With the CR2 (Bell-McCaffrey) variance :math:`\hat V = \sum_g (a_g'\hat e)^2` of a contrast
:math:`c'\hat\beta` of a least-squares fit and normal errors with the working covariance
:math:`\sigma^2 I`, the residuals :math:`\hat e = (I - H)y` are independent of
:math:`c'\hat\beta`, :math:`E\hat V = \operatorname{Var}(c'\hat\beta)` (CR2 is unbiased under
the working model) and :math:`\hat V/E\hat V = \sum_j\tilde\lambda_j\chi^2_{1,j}` with
:math:`\tilde\lambda = \lambda/\sum\lambda`, λ the eigenvalues of the G x G matrix
:math:`\Gamma_{gh} = a_g'(I - H)_{gh}a_h` (:class:`~dreamkit.estimate.linear.fwl.BMParts`).
Hence, exactly,

.. math:: T = \frac{c'(\hat\beta - \beta)}{\sqrt{\hat V}}
   \;\sim\; \frac{Z}{\sqrt{\sum_j\tilde\lambda_j\chi^2_{1,j}}},
   \qquad P(|T| > t) = P\Big(\chi^2_{1,0} - t^2\sum_j\tilde\lambda_j\chi^2_{1,j} > 0\Big).

The Bell-McCaffrey / Satterthwaite df :math:`\nu = (\sum\lambda)^2/\sum\lambda^2` replaces the
denominator by :math:`\chi^2_\nu/\nu` with the same first two moments. When a few eigenvalues
dominate and many small ones follow (a few large clusters and many small ones), that
approximation puts too much mass near 0 and the t(ν) test is conservative; this module
computes the distribution itself. It is the reference of clubSandwich's
``coef_test(test = "saddlepoint")`` (McCaffrey & Bell 2006, a saddlepoint approximation to
the same probability), here evaluated exactly by Imhof's (1961) inversion formula for a
linear combination of independent :math:`\chi^2_1` variables,

.. math:: P\Big(\sum_j w_j\chi^2_{1,j} > 0\Big) = \frac12 + \frac1\pi\int_0^\infty
   \frac{\sin\theta(u)}{u\,\rho(u)}\,du,\quad
   \theta(u) = \tfrac12\sum_j\arctan(w_ju),\quad \rho(u) = \prod_j(1 + w_j^2u^2)^{1/4}.

With all k eigenvalues equal, :math:`T\sim t_k` exactly (a check in the tests).
"""

from __future__ import annotations

import math

import numpy as np
import scipy.integrate
import scipy.optimize
import scipy.stats
from numpy.typing import ArrayLike, NDArray

from dreamkit.errors import EstimationError, InputError

#: Eigenvalues at or below this share of the largest count as 0.
EIG_RTOL = 1e-12
_QUAD_EPS = 1e-11


def _weights(eigenvalues: ArrayLike) -> NDArray[np.float64]:
    lam = np.asarray(eigenvalues, dtype=np.float64).ravel()
    if lam.size == 0 or not np.all(np.isfinite(lam)) or lam.max() <= 0:
        raise InputError(
            "the working-model t reference needs finite eigenvalues with a positive largest "
            f"one; got {lam.size} values (max {lam.max() if lam.size else 'none'})."
        )
    lam = lam[lam > EIG_RTOL * lam.max()]
    return lam / lam.sum()


def _imhof_positive(w: NDArray[np.float64]) -> float:
    """P(sum_j w_j chi2_1 > 0) by Imhof's formula (module docstring)."""

    w = w / float(np.abs(w).max())  # the probability is scale-free; largest |w| = 1

    def integrand(u: float) -> float:
        wu = w * u
        theta = 0.5 * float(np.arctan(wu).sum())
        log_rho = 0.25 * float(np.log1p(wu * wu).sum())
        return math.sin(theta) * math.exp(-log_rho) / u

    # the integrand is O(1) on [0, 1] and decays at least like u^(-3/2) beyond
    total = 0.0
    for lo, hi in ((0.0, 1.0), (1.0, 100.0), (100.0, np.inf)):
        val, err = scipy.integrate.quad(
            integrand, lo, hi, limit=500, epsabs=_QUAD_EPS, epsrel=_QUAD_EPS
        )
        if not np.isfinite(val) or err > 1e-7:
            raise EstimationError(
                f"Imhof integral did not converge (estimate {val:.3g}, error {err:.2g})."
            )
        total += val
    # absolute error < 1e-7 by the check above (about 1e-11 in practice); p = 1/2 + I / pi
    return float(min(max(0.5 + total / math.pi, 0.0), 1.0))


def working_t_pvalue(t: float, eigenvalues: ArrayLike) -> float:
    r"""Two-sided p-value :math:`P(|T| > |t|)` of :math:`T = Z/\sqrt{\sum\tilde\lambda_j
    \chi^2_{1,j}}` (module docstring); ``eigenvalues``: those of Γ (any positive scale)."""
    lam = _weights(eigenvalues)
    if not np.isfinite(t):
        return 0.0 if abs(t) == np.inf else float("nan")
    if t == 0.0:
        return 1.0
    return _imhof_positive(np.concatenate([[1.0], -(t * t) * lam]))


def working_t_critical_value(level: float, eigenvalues: ArrayLike) -> float:
    """The q with :math:`P(|T| > q) = 1 - level`: intervals ``estimate +- q * std_error``."""
    if not 0.0 < level < 1.0:
        raise InputError(f"level must lie in (0, 1); got {level}.")
    lam = _weights(eigenvalues)
    alpha = 1.0 - level
    # |T| is stochastically larger than |Z| (E Q = 1, Jensen) at usual levels and smaller than
    # |Z| / sqrt(max lam * chi2_1) = |Cauchy| / sqrt(max lam): a bracket for the root
    lo = 0.5 * float(scipy.stats.norm.ppf(1.0 - alpha / 2.0))
    hi = 1.01 * float(scipy.stats.t.ppf(1.0 - alpha / 2.0, 1)) / math.sqrt(float(lam.max()))
    return float(
        scipy.optimize.brentq(
            lambda q: working_t_pvalue(q, lam) - alpha, lo, hi, xtol=1e-12, rtol=1e-12
        )
    )
