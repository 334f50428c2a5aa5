"""Binomial GLM (logit, probit, complementary log-log) by Newton/IRLS on grouped data, with CRV1.

Each row c is a cell of ``m_c`` Bernoulli trials with ``y_c`` successes that share the
regressors ``x_c``; one row per person-week is the special case ``m_c = 1``. With
``mu = F^{-1}(eta)``, ``eta_c = x_c' beta`` and

* logit: ``mu = 1 / (1 + exp(-eta))``;
* cloglog: ``mu = 1 - exp(-exp(eta))`` (the grouped-time version of a proportional hazard),
* probit: ``mu = Phi(eta)`` (standard normal cdf; log ``Phi`` by ``scipy.special.log_ndtr``
  so that the tails stay finite),

the log likelihood ``l(beta) = sum_c y_c log mu_c + (m_c - y_c) log(1 - mu_c)`` is the sum of
the person-week Bernoulli log likelihoods (binomial coefficients omitted), and its score
``sum_c x_c s_c`` and Hessian ``-sum_c x_c x_c' w_c`` are linear in ``(y_c, m_c)``. So the
cell counts are sufficient statistics: the compressed and the person-week fits have the same
estimates, Hessian and -- when the cluster is part of the cell key -- the same per-cluster
scores, hence the same clustered covariance.

The design is kept structured instead of dense: categorical factors (duration intervals,
strata) enter as integer codes and ``X'WX`` is assembled from weighted ``bincount`` sums, so
50M rows with ~150 columns never become a 50M x 150 matrix.

Fitting: Newton steps with the observed Hessian (Fisher scoring when the observed Hessian is
not positive definite), step-halving whenever the log likelihood falls, starting from the
pooled rate of each level of the first factor (the duration groups). Convergence requires a
relative log-likelihood change below ``tol`` and a step below ``tol`` relative to
``1 + max|beta|``, or below 1e-6 for a full Newton step (quadratic convergence then leaves
an error of order 1e-12). A collinear design, non-convergence or a fitted ``|eta| > 30``
(hazards numerically 0 or 1, i.e. quasi-separation) raises
:class:`~dreamkit.errors.EstimationError`.

Covariance (``H`` = observed information ``sum_c w_c x_c x_c'`` at the estimate):

* ``"CRV1"``: ``V = c H^{-1} (sum_g S_g S_g') H^{-1}``, ``S_g = sum_{c in g} x_c s_c``,
  ``c = G/(G-1) * (N-1)/(N-K)`` with N the number of person-periods (``sum m_c``), K the number
  of parameters and G the number of clusters. This is statsmodels' ``GLM(...).fit(
  cov_type="cluster")`` with its default ``use_correction=True`` (which also uses the observed
  Hessian as bread).
* ``"iid"``: ``V = I^{-1}`` with ``I`` the expected information, statsmodels' default
  ``nonrobust`` covariance for a binomial GLM (equal to ``H^{-1}`` for the canonical logit).
* ``"CR2"``: Bell-McCaffrey on the GLM's weighted least-squares form at the estimate (as
  clubSandwich for ``glm``): with the IRLS (Fisher) weights ``w_c``, ``Xw = W^{1/2} X``, the
  weighted working residuals ``e_c = s_c / sqrt(w_c)`` and ``B = (X'WX)^{-1}``,
  ``V = B (sum_g Xw_g' A_g e_g e_g' A_g Xw_g) B`` with ``A_g = (I - H_gg)^{+1/2}``,
  ``H = Xw B Xw'`` (Moore-Penrose inverse square root, eigenvalues <= 1e-10 taken as 0).
  No further factor; t reference with the Bell-McCaffrey (Satterthwaite) df of each
  coefficient, ``(tr G)^2 / tr(G^2)``, ``G_gh = a_g'(I - H)_gh a_h``, ``a_g = A_g Xw_g B e_j``.
  For logit ``B`` is the CRV1 bread; for cloglog it is the expected, not the observed,
  information (the two agree at the estimate up to sampling error).

  Cells: a cell of ``m_c`` identical person-periods (same regressors, same cluster) with
  per-period weight ``w_c / m_c`` spans, inside its cluster's block, the direction
  ``1_{m_c} / sqrt(m_c)``; with ``U`` the orthonormal cell-membership matrix,
  ``H_gg = U K U'`` where ``K = W_c^{1/2} X_c B X_c' W_c^{1/2}`` is the hat block of the cells
  with the cell weights ``w_c``. So ``(I - H_gg)^{+1/2} = (I - UU') + U (I - K)^{+1/2} U'``,
  ``Xw_g`` and the person-period residuals' cell sums lie in the range of ``U``, and the
  person-period CR2 covariance and df equal those computed on the cells with
  ``Xw_c = sqrt(w_c) x_c`` and ``e_c = s_c / sqrt(w_c)`` (tests check it against a dense
  person-period implementation). Cost: O(C_g p^2) per cluster of C_g cells (low-rank
  adjustment, :func:`~dreamkit.inference.linalg.cr2_adjustment`) plus O(p^4) for the df of
  all p coefficients.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import scipy.linalg
import scipy.special
from numpy.typing import NDArray

from dreamkit.errors import EstimationError, InputError
from dreamkit.inference.linalg import apply_adjustment, cr2_adjustment

Link = Literal["logit", "cloglog", "probit"]
CovType = Literal["CRV1", "CR2", "iid"]
ETA_MAX = 30.0
# probit: Phi(-7.5) = 3e-14, about the tail probability of logit at |eta| = 30
ETA_MAX_LINK = {"logit": ETA_MAX, "cloglog": ETA_MAX, "probit": 7.5}
NEWTON_STEP_TOL = 1e-6  # a full Newton step this small leaves an error of order 1e-12


@dataclass(frozen=True)
class Factor:
    """A categorical regressor: ``codes`` in 0..len(labels)-1; level 0 is dropped if
    ``reference`` (it is then absorbed by another factor's full set of levels)."""

    name: str
    codes: NDArray[np.intp]
    labels: tuple[str, ...]
    reference: bool

    @property
    def n_levels(self) -> int:
        return len(self.labels)

    @property
    def kept(self) -> NDArray[np.intp]:
        return np.arange(1 if self.reference else 0, self.n_levels)

    @property
    def column_names(self) -> list[str]:
        return [f"{self.name}[{self.labels[j]}]" for j in self.kept]


@dataclass(frozen=True)
class BinomialCells:
    """Grouped binomial data: ``events`` successes out of ``trials`` per row, regressors as
    factors plus a dense block, and optional cluster codes (0..n_clusters-1) per row."""

    events: NDArray[np.float64]
    trials: NDArray[np.float64]
    factors: tuple[Factor, ...]
    dense: NDArray[np.float64]
    dense_names: tuple[str, ...]
    clusters: NDArray[np.intp] | None = None
    n_clusters: int = 0

    @property
    def names(self) -> list[str]:
        out: list[str] = []
        for f in self.factors:
            out += f.column_names
        return out + list(self.dense_names)

    @property
    def n_params(self) -> int:
        return sum(len(f.kept) for f in self.factors) + self.dense.shape[1]


class _Structured:
    """Products with the structured design ``X = [D_1 ... D_F, Z]`` (D_f factor dummies).

    All factors are combined into one joint code (at most a few hundred thousand
    combinations of duration groups and strata), so every product needs one weighted
    ``bincount`` over the rows per vector, then only small sums over the joint table.
    """

    def __init__(self, cells: BinomialCells) -> None:
        self.f = cells.factors
        self.z = np.asfortranarray(cells.dense)  # columns contiguous for the per-column sums
        self.sizes = [len(f.kept) for f in self.f] + [self.z.shape[1]]
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)])
        self.p = int(self.offsets[-1])
        self.n_joint = int(np.prod([f.n_levels for f in self.f])) if self.f else 1
        if self.n_joint > 2**26:
            raise InputError(
                f"{self.n_joint} combinations of factor levels; use coarser duration groups."
            )
        joint = np.zeros(cells.events.shape[0], dtype=np.intp)
        stride = 1
        self.levels: list[NDArray[np.intp]] = []  # level of factor f in each joint combination
        for f in reversed(self.f):
            joint += f.codes.astype(np.intp) * stride
            self.levels.insert(0, (np.arange(self.n_joint) // stride) % f.n_levels)
            stride *= f.n_levels
        self.joint = joint

    def block(self, k: int) -> slice:
        return slice(int(self.offsets[k]), int(self.offsets[k + 1]))

    def _table(self, v: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.bincount(self.joint, weights=v, minlength=self.n_joint).astype(np.float64)

    def eta(self, beta: NDArray[np.float64]) -> NDArray[np.float64]:
        out = self.z @ beta[self.block(len(self.f))]
        if self.f:
            table = np.zeros(self.n_joint)
            for k, f in enumerate(self.f):
                full = np.zeros(f.n_levels)
                full[f.kept] = beta[self.block(k)]
                table += full[self.levels[k]]
            out += table[self.joint]
        return out

    def xt(self, v: NDArray[np.float64]) -> NDArray[np.float64]:
        out = np.empty(self.p)
        if self.f:
            table = self._table(v)
            for k, f in enumerate(self.f):
                sums = np.bincount(self.levels[k], weights=table, minlength=f.n_levels)
                out[self.block(k)] = sums[f.kept]
        out[self.block(len(self.f))] = self.z.T @ v
        return out

    def xtwx(self, w: NDArray[np.float64]) -> NDArray[np.float64]:
        h = np.zeros((self.p, self.p))
        nf = len(self.f)
        zb = self.block(nf)
        if self.f:
            t_w = self._table(w)
            t_z = [self._table(w * self.z[:, j]) for j in range(self.z.shape[1])]
            for a, fa in enumerate(self.f):
                ba, la = self.block(a), self.levels[a]
                diag = np.bincount(la, weights=t_w, minlength=fa.n_levels)[fa.kept]
                h[ba, ba] = np.diag(diag)
                for b in range(a + 1, nf):
                    fb = self.f[b]
                    cross = np.bincount(
                        la * fb.n_levels + self.levels[b],
                        weights=t_w,
                        minlength=fa.n_levels * fb.n_levels,
                    ).reshape(fa.n_levels, fb.n_levels)[np.ix_(fa.kept, fb.kept)]
                    h[ba, self.block(b)] = cross
                    h[self.block(b), ba] = cross.T
                for j, tz in enumerate(t_z):
                    col = np.bincount(la, weights=tz, minlength=fa.n_levels)[fa.kept]
                    h[ba, zb.start + j] = col
                    h[zb.start + j, ba] = col
        if self.z.shape[1]:
            h[zb, zb] = (self.z * w[:, None]).T @ self.z
        return h

    def rows(self, idx: NDArray[np.intp]) -> NDArray[np.float64]:
        """The dense design rows ``X[idx]`` (len(idx), p)."""
        out = np.zeros((idx.size, self.p))
        for k, f in enumerate(self.f):
            pos = np.full(f.n_levels, -1, dtype=np.intp)
            pos[f.kept] = np.arange(f.kept.size)
            col = pos[f.codes[idx]]
            ok = np.flatnonzero(col >= 0)
            out[ok, int(self.offsets[k]) + col[ok]] = 1.0
        out[:, self.block(len(self.f))] = self.z[idx]
        return out

    def cluster_sums(self, s: NDArray[np.float64], g: NDArray[np.intp], n_g: int) -> NDArray:
        """``S[g] = sum_{c in g} x_c s_c``, shape (G, p)."""
        out = np.empty((n_g, self.p))
        for k, f in enumerate(self.f):
            idx = g.astype(np.int64) * f.n_levels + f.codes
            sums = np.bincount(idx, weights=s, minlength=n_g * f.n_levels)
            out[:, self.block(k)] = sums.reshape(n_g, f.n_levels)[:, f.kept]
        zb = self.block(len(self.f))
        for j in range(self.z.shape[1]):
            out[:, zb.start + j] = np.bincount(g, weights=s * self.z[:, j], minlength=n_g)
        return out


def link_parts(
    link: Link, eta: NDArray[np.float64], y: NDArray[np.float64], m: NDArray[np.float64]
) -> tuple[float, NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Log likelihood, score factors s, observed weights w_obs and expected weights w_exp."""
    if link == "logit":
        mu = scipy.special.expit(eta)
        ll = float(y @ eta - m @ np.logaddexp(0.0, eta))
        s = y - m * mu
        w = m * mu * (1.0 - mu)
        return ll, s, w, w
    if link == "probit":
        # lambda1 = phi/Phi(eta), lambda0 = phi/Phi(-eta) in logs: finite far in the tails
        log_phi = -0.5 * eta * eta - 0.5 * np.log(2.0 * np.pi)
        log_p1, log_p0 = scipy.special.log_ndtr(eta), scipy.special.log_ndtr(-eta)
        ll = float(y @ log_p1 + (m - y) @ log_p0)
        lam1, lam0 = np.exp(log_phi - log_p1), np.exp(log_phi - log_p0)
        s = y * lam1 - (m - y) * lam0
        # -d2l/deta2 per cell; both terms are >= 0 (the probit likelihood is log-concave)
        w_obs = y * lam1 * (eta + lam1) + (m - y) * lam0 * (lam0 - eta)
        w_exp = m * lam1 * lam0  # m phi^2 / (Phi (1 - Phi))
        return ll, s, w_obs, w_exp
    ee = np.exp(eta)
    mu = -np.expm1(-ee)
    ll = float(y @ np.log(mu) - (m - y) @ ee)
    r = ee / mu  # d eta-score factor: dl/deta = (y - m mu) exp(eta) / mu
    s = (y - m * mu) * r
    one_mu = np.exp(-ee)
    w_exp = m * ee * r * one_mu
    w_obs = m * ee - y * r + y * r * r * one_mu
    return ll, s, w_obs, w_exp


def crv1(
    hessian: NDArray[np.float64], cluster_scores: NDArray[np.float64], n_obs: float
) -> tuple[NDArray[np.float64], float]:
    """CRV1 sandwich ``c H^{-1} (sum_g S_g S_g') H^{-1}`` and its factor
    ``c = G/(G-1) * (N-1)/(N-K)`` (statsmodels' ``cov_type="cluster"`` default correction).

    ``hessian`` is the observed information ``H`` (K x K), ``cluster_scores`` the per-cluster
    score sums ``S_g`` (G x K) and ``n_obs`` the number of Bernoulli trials N.
    """
    n_g, k = cluster_scores.shape
    bread = np.linalg.inv(hessian)
    corr = n_g / (n_g - 1.0) * (n_obs - 1.0) / (n_obs - k)
    sandwich = corr * bread @ (cluster_scores.T @ cluster_scores) @ bread
    return np.asarray((sandwich + sandwich.T) / 2, dtype=np.float64), corr


def _solve_pd(h: NDArray[np.float64], b: NDArray[np.float64]) -> NDArray[np.float64] | None:
    try:
        c = scipy.linalg.cho_factor(h, check_finite=False)
    except scipy.linalg.LinAlgError:
        return None
    return np.asarray(scipy.linalg.cho_solve(c, b, check_finite=False))


def _check_rank(x: _Structured, m: NDArray[np.float64], names: list[str]) -> None:
    """Raise if ``X'X`` (weighted by trials) is numerically singular, naming the culprits."""
    h = x.xtwx(m)
    scale = np.sqrt(np.diag(h))
    if np.any(scale == 0):
        raise EstimationError(f"column {names[int(np.argmin(scale))]!r} is zero in every row.")
    vals, vecs = np.linalg.eigh(h / np.outer(scale, scale))
    if vals[0] < 1e-10 * vals[-1]:
        involved = [names[j] for j in np.flatnonzero(np.abs(vecs[:, 0]) > 0.1)]
        raise EstimationError(
            f"the design is collinear: columns {involved} are linearly dependent (a covariate "
            "is constant, duplicates another, or is absorbed by the duration or stratum "
            "dummies). Remove one of them."
        )


def _check_identified(cells: BinomialCells) -> None:
    """Every factor level needs at least one trial, one success and one failure."""
    for f in cells.factors:
        ev = np.bincount(f.codes, weights=cells.events, minlength=f.n_levels)
        tr = np.bincount(f.codes, weights=cells.trials, minlength=f.n_levels)
        for j in f.kept:
            if tr[j] == 0 or ev[j] == 0 or ev[j] == tr[j]:
                what = "no rows" if tr[j] == 0 else ("no events" if ev[j] == 0 else "only events")
                raise EstimationError(
                    f"{f.name} level {f.labels[j]!r} has {what} ({int(ev[j])} events in "
                    f"{int(tr[j])} periods at risk), so its coefficient is not identified "
                    f"(separation). Merge that {f.name} level with another one, or drop it "
                    "explicitly and record why."
                )


@dataclass(frozen=True)
class GLMBMParts:
    r"""Pieces of the Bell-McCaffrey matrix of every coefficient j (CR2):
    :math:`\Gamma^{(j)} = \mathrm{diag}(\delta^{(j)}) - P_jBP_j'` with ``delta`` (G, p),
    ``z`` (G, p, p) whose ``[:, :, j]`` is :math:`P_j` (rows :math:`z_g^{(j)\prime}`) and
    ``bread`` :math:`B` (p, p) (see :func:`_cr2`)."""

    delta: NDArray[np.float64]
    z: NDArray[np.float64]
    bread: NDArray[np.float64]

    def gram(self, j: int) -> NDArray[np.float64]:
        """The G x G Bell-McCaffrey matrix of coefficient j."""
        pj = self.z[:, :, j]
        return np.asarray(np.diag(self.delta[:, j]) - pj @ self.bread @ pj.T, dtype=np.float64)


@dataclass(frozen=True)
class GLMFit:
    """Estimates of a binomial GLM and their covariance."""

    params: NDArray[np.float64]
    cov: NDArray[np.float64]
    names: tuple[str, ...]
    link: Link
    cov_type: CovType
    log_likelihood: float
    iterations: int
    n_rows: int
    n_trials: int
    n_events: int
    n_clusters: int
    correction: float
    hessian: NDArray[np.float64] | None = None  # observed information at the estimate
    df: NDArray[np.float64] | None = None
    bm: GLMBMParts | None = None
    _eigenvalues: dict[int, NDArray[np.float64]] = field(
        default_factory=dict, repr=False, compare=False
    )

    @property
    def std_errors(self) -> NDArray[np.float64]:
        return np.sqrt(np.diag(self.cov))

    def gram_eigenvalues(self, j: int) -> NDArray[np.float64]:
        """Eigenvalues of the Bell-McCaffrey matrix of coefficient j (CR2 only): the exact
        working-model reference of its t-statistic (:mod:`dreamkit.inference.working_t`).
        One G x G eigen-decomposition, computed once per coefficient and kept."""
        if self.bm is None:
            raise InputError("Γ eigenvalues exist for cov_type='CR2' fits only.")
        if j not in self._eigenvalues:
            gram = self.bm.gram(j)
            lam = np.asarray(np.linalg.eigvalsh((gram + gram.T) / 2.0), dtype=np.float64)
            lam.setflags(write=False)
            self._eigenvalues[j] = lam
        return self._eigenvalues[j]


def fit_binomial(
    cells: BinomialCells,
    link: Link = "logit",
    cov_type: CovType = "CRV1",
    tol: float = 1e-10,
    max_iter: int = 100,
) -> GLMFit:
    """Maximum-likelihood binomial GLM on grouped cells (see the module docstring)."""
    y, m = cells.events, cells.trials
    if y.shape != m.shape or np.any(y < 0) or np.any(y > m) or np.any(m <= 0):
        raise InputError("cells need 0 <= events <= trials and trials > 0 in every row.")
    if cov_type not in ("CRV1", "CR2", "iid"):
        raise InputError(f"cov_type={cov_type!r} is not supported; use 'CRV1', 'CR2' or 'iid'.")
    if cov_type != "iid" and (cells.clusters is None or cells.n_clusters < 2):
        raise InputError(f"cov_type={cov_type!r} needs cluster codes with at least 2 clusters.")
    if link not in ("logit", "cloglog", "probit"):
        raise InputError(f"link={link!r} is not supported; use 'logit', 'probit' or 'cloglog'.")
    _check_identified(cells)
    x = _Structured(cells)
    n_trials = float(m.sum())
    if x.p >= n_trials:
        raise EstimationError(f"{x.p} parameters but only {int(n_trials)} periods at risk.")

    _check_rank(x, m, cells.names)
    # start: weighted least squares of F(rate) on X, the rate pooled within the levels of the
    # first factor (the duration groups): alpha_j = F(rate_j) and zero slopes when it is full
    if cells.factors:
        codes = cells.factors[0].codes
        rate = np.bincount(codes, weights=y) / np.bincount(codes, weights=m)
        mu0 = np.clip(rate[codes], 1e-6, 1 - 1e-6)
    else:
        mu0 = np.full(y.shape, min(max(float(y.sum()) / n_trials, 1e-6), 1 - 1e-6))
    if link == "logit":
        z0 = np.log(mu0 / (1 - mu0))
    elif link == "probit":
        z0 = scipy.special.ndtri(mu0)
    else:
        z0 = np.log(-np.log1p(-mu0))
    w0 = m * mu0 * (1 - mu0)
    beta = _solve_pd(x.xtwx(w0), x.xt(w0 * z0))
    if beta is None:
        raise EstimationError("the starting weighted least-squares system is singular.")
    eta = x.eta(beta)
    ll, s, w_obs, w_exp = link_parts(link, eta, y, m)
    converged = False
    iterations = 0
    while iterations < max_iter:
        iterations += 1
        score = x.xt(s)
        step = _solve_pd(x.xtwx(w_obs), score)
        newton = step is not None
        if step is None:
            step = _solve_pd(x.xtwx(w_exp), score)
        if step is None:
            raise EstimationError(
                "the information matrix became singular during the fit: fitted hazards reached "
                "0 or 1 in some cells (quasi-separation). Find the covariate pattern with only "
                "exits or only non-exits and coarsen or drop that covariate."
            )
        t = 1.0
        for _ in range(40):
            cand = beta + t * step
            eta_c = x.eta(cand)
            parts = link_parts(link, eta_c, y, m)
            if np.isfinite(parts[0]) and parts[0] >= ll - 1e-12 * abs(ll):
                break
            t /= 2
        else:
            raise EstimationError("step-halving failed: the likelihood cannot be increased.")
        step_tol = NEWTON_STEP_TOL if (newton and t == 1.0) else tol
        small_step = np.max(np.abs(t * step)) <= step_tol * (1 + np.max(np.abs(cand)))
        small_change = abs(parts[0] - ll) <= tol * (abs(parts[0]) + 1.0)
        beta, eta = cand, eta_c
        ll, s, w_obs, w_exp = parts
        if small_step and small_change:
            converged = True
            break
    if not converged:
        raise EstimationError(
            f"IRLS did not converge in {max_iter} iterations; this usually means "
            "(quasi-)separation: some covariate pattern has only exits or only non-exits."
        )
    if np.max(np.abs(eta)) > ETA_MAX_LINK[link]:
        raise EstimationError(
            f"fitted linear predictor reaches |eta| = {np.max(np.abs(eta)):.1f}: some cells have "
            "hazard numerically 0 or 1 (quasi-separation). Coarsen the covariates or merge "
            "the cells that have only exits or only non-exits."
        )
    hessian = x.xtwx(w_obs)
    df = None
    bm: GLMBMParts | None = None
    if cov_type == "iid":
        cov = np.asarray(np.linalg.inv(x.xtwx(w_exp)), dtype=np.float64)
        corr = 1.0
        n_g = 0
    elif cov_type == "CR2":
        assert cells.clusters is not None
        n_g = cells.n_clusters
        cov, df, bm = _cr2(x, w_exp, s, cells.clusters, n_g)
        corr = 1.0
    else:
        assert cells.clusters is not None
        n_g = cells.n_clusters
        sg = x.cluster_sums(s, cells.clusters, n_g)
        cov, corr = crv1(hessian, sg, n_trials)
    return GLMFit(
        params=beta,
        cov=cov,
        names=tuple(cells.names),
        link=link,
        cov_type=cov_type,
        log_likelihood=ll,
        iterations=iterations,
        n_rows=len(y),
        n_trials=round(n_trials),
        n_events=round(float(y.sum())),
        n_clusters=n_g,
        correction=corr,
        hessian=hessian,
        df=df,
        bm=bm,
    )


def _cr2(
    x: _Structured,
    w: NDArray[np.float64],
    s: NDArray[np.float64],
    clusters: NDArray[np.intp],
    n_g: int,
) -> tuple[NDArray[np.float64], NDArray[np.float64], GLMBMParts]:
    """CR2 covariance, Bell-McCaffrey df of every coefficient (module docstring) and the
    pieces of the Bell-McCaffrey matrices (:class:`GLMBMParts`).

    Per cluster: the low-rank adjustment of its cells (``cr2_adjustment``, O(C_g p^2)), the
    score ``Xw_g' A_g e_g`` and, for every coefficient j, ``a_g = A_g Xw_g B e_j``. With
    ``delta_g = a_g'a_g`` and ``z_g = Xw_g'a_g``, ``Gamma = diag(delta) - P B P'``
    (``P`` the G x p matrix of the ``z_g'``), so ``tr Gamma = sum delta - sum z_g'Bz_g`` and
    ``tr Gamma^2 = sum delta^2 - 2 sum delta_g z_g'Bz_g + tr((B S)^2)``, ``S = P'P``: no
    G x G matrix.
    """
    bread = np.linalg.inv(x.xtwx(w))
    bread = (bread + bread.T) / 2
    sw = np.sqrt(w)
    resid = s / sw
    order = np.argsort(clusters, kind="stable")
    bounds = np.searchsorted(clusters[order], np.arange(n_g + 1))
    p = x.p
    scores = np.empty((n_g, p))
    delta = np.empty((n_g, p))  # a_g^(j)' a_g^(j)
    quad = np.empty((n_g, p))  # z_g^(j)' B z_g^(j)
    gram = np.zeros((p, p, p))  # [j] = sum_g z_g^(j) z_g^(j)'
    zs = np.empty((n_g, p, p))  # [g] = z_g: column j is z_g^(j)
    for g in range(n_g):
        rows = order[bounds[g] : bounds[g + 1]]
        xg = x.rows(rows) * sw[rows, None]
        u, kk = cr2_adjustment(xg, bread)
        scores[g] = xg.T @ apply_adjustment(u, kk, resid[rows])
        a_g = apply_adjustment(u, kk, xg @ bread)  # column j: a_g for coefficient j
        delta[g] = (a_g * a_g).sum(axis=0)
        z = xg.T @ a_g  # (p, p): column j is z_g^(j)
        zs[g] = z
        quad[g] = ((bread @ z) * z).sum(axis=0)
        gram += np.einsum("aj,bj->jab", z, z)
    cov = bread @ (scores.T @ scores) @ bread
    bs = np.einsum("ab,jbc->jac", bread, gram)
    frob = np.einsum("jab,jba->j", bs, bs)
    trace = delta.sum(axis=0) - quad.sum(axis=0)
    trace2 = (delta**2).sum(axis=0) - 2.0 * (delta * quad).sum(axis=0) + frob
    with np.errstate(divide="ignore", invalid="ignore"):
        df = np.where(trace2 > 0, trace**2 / trace2, np.nan)
    return (
        np.asarray((cov + cov.T) / 2, dtype=np.float64),
        np.asarray(df, dtype=np.float64),
        GLMBMParts(delta=delta, z=zs, bread=bread),
    )
