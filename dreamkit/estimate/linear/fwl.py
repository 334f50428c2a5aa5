r"""Shared-design least squares by Frisch-Waugh-Lovell, with cluster-robust covariances.

Model, for outcomes w = 1..W sharing one design,

.. math:: y_{iw} = D_i'\tau_w + \alpha_{s(i)w} + X_i'\delta_w + e_{iw},

D (n x m) the regressors of interest (usually m = 1: the treatment T), :math:`\alpha_s` absorbed
fixed effects (one factor s, e.g. the municipality; without one, an intercept) and X (n x k)
controls. The design is factored once:

1. demean D, Y and X within levels of s (one pass of group sums);
2. orthonormalise the demeaned X (pivoted QR; a collinear control is an error naming it) and
   project it out: :math:`\tilde D = M D`, :math:`\tilde Y = M Y` with :math:`M = I - P_{FE,X}`;
3. :math:`\hat\tau = (\tilde D'\tilde D)^{-1}\tilde D'\tilde Y` (m x W) and residuals
   :math:`\hat e = \tilde Y - \tilde D\hat\tau`, identical (FWL) to the full regression.

Covariance of :math:`\mathrm{vec}(\hat\tau)` (index j*W + w) over all outcomes at once, with
:math:`A = (\tilde D'\tilde D)^{-1}`, N rows, G clusters and K = m + (levels of s) + rank(X)
parameters (fixed effects counted in full):

* ``"CRV1"``: :math:`c\,\sum_g u_g u_g'` with :math:`u_g = A\,\tilde D_g'\hat e_g`,
  :math:`c = \frac{G}{G-1}\frac{N-1}{N-K}` (statsmodels ``cov_type="cluster"`` with dummies;
  pyfixest ``ssc(k_fixef="full")``);
* ``"HC1"``: the same with every row its own cluster and :math:`c = N/(N-K)`;
* ``"CRV3"``: the cluster jackknife :math:`\frac{G-1}{G}\sum_g(\hat\tau_{(g)}-\hat\tau)
  (\hat\tau_{(g)}-\hat\tau)'`, :math:`\hat\tau_{(g)}` the estimate without cluster g (all
  fixed effects and controls re-estimated), centred at the full-sample estimate (MacKinnon,
  Nielsen & Webb 2023). Each :math:`\hat\tau_{(g)}` comes from cluster-local cross-products:
  on the full sample :math:`\tilde D` and :math:`\tilde Y` are orthogonal to the controls, so
  leaving out g only perturbs the blocks of the strata g touches and of X.
* ``"CR2"``: the bias-reduced linearisation of Bell & McCaffrey (2002),
  :math:`\sum_g u_g u_g'` with :math:`u_g = A\,\tilde D_g'\,\mathcal A_g\hat e_g` and
  :math:`\mathcal A_g = (I - H_{gg})^{+1/2}`, :math:`H_{gg}` the cluster-g block of the hat
  matrix of the FULL design [D, stratum dummies, X] (no further factor). By FWL
  :math:`H = P_F + QQ' + \tilde D A\tilde D'` (:math:`P_F` the stratum averaging matrix,
  :math:`1/n_s` within stratum s; Q the orthonormal basis of the demeaned controls), so every
  block needs only the rows of cluster g, and in low-rank form
  (:func:`~dreamkit.inference.linalg.cr2_adjustment`: :math:`H_{gg} = Z_gBZ_g'` with
  :math:`Z_g` the n_g x (strata of g + k + m) design rows) it costs O(n_g r^2), never
  n_g x n_g. ``+1/2`` is the Moore-Penrose inverse square root (eigenvalues of
  :math:`I - H_{gg}` at or below 1e-10 are treated as 0, as clubSandwich does):
  :math:`(I - H_{gg})v = 0` means the zero-extended v lies in the column space of the design,
  so :math:`v'\hat e_g = 0` and any symmetric choice on that null space gives the same
  covariance (it happens whenever a cluster alone holds a stratum, e.g. a municipality with
  one team).

Degrees of freedom for t-based p-values and intervals: G - 1 (CRV1, CRV3), N - K (HC1); for
CR2 the Bell-McCaffrey / Satterthwaite df of each contrast c of the regressors (Imbens &
Kolesar 2016; clubSandwich's ``"Satterthwaite"`` for one constraint, working model
:math:`\sigma^2 I`): with :math:`a_g = \mathcal A_g\tilde D_g A c` and the G x G matrix
:math:`\Gamma_{gh} = a_g'(I - H)_{gh}a_h`,
:math:`\nu = (\operatorname{tr}\Gamma)^2/\operatorname{tr}(\Gamma^2)` (the eigenvalue form
:math:`(\sum\lambda)^2/\sum\lambda^2`). It depends on the design only, so it is the same for
all W outcomes.

With ``cr2_reference="exact"`` the CR2 p-values and intervals instead use the exact distribution
of the t-statistic under the same working model (normal errors, :math:`\sigma^2 I`):
:math:`Z/\sqrt{\sum_j\tilde\lambda_j\chi^2_{1,j}}` with :math:`\tilde\lambda` the normalised
eigenvalues of Γ (:mod:`dreamkit.inference.working_t`; clubSandwich's saddlepoint test of the
same probability, here computed exactly). The Satterthwaite df matches only its first two
moments and is conservative when a few clusters dominate Γ (docs/inference.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.linalg
import scipy.sparse
import scipy.stats
from numpy.typing import NDArray

from dreamkit.errors import EstimationError, InputError
from dreamkit.inference import crv1_factor
from dreamkit.inference.linalg import apply_adjustment, cr2_adjustment
from dreamkit.inference.working_t import working_t_critical_value, working_t_pvalue

VcovType = Literal["CRV1", "CR2", "CRV3", "HC1"]
VCOV_TYPES: tuple[str, ...] = ("CRV1", "CR2", "CRV3", "HC1")
CR2Reference = Literal["satterthwaite", "exact"]
CR2_REFERENCES: tuple[str, ...] = ("satterthwaite", "exact")

_COLLINEAR_RTOL = 1e-9
_CHUNK_ELEMENTS = 8_000_000


@dataclass(frozen=True)
class BMParts:
    r"""The Bell-McCaffrey matrix :math:`\Gamma = \mathrm{diag}(\delta) - Z'Z` of a contrast c
    of the regressors, kept in low-rank pieces per regressor j (G x G is never formed):
    ``diag`` (G, m, m) :math:`a_g^{(j)\prime}a_g^{(l)}`; the stratum rows of Z as a sparse
    pattern ``f_rows``/``f_cols`` (stratum, cluster) with values ``f_vals`` (nnz, m); the
    dense rows ``dense`` (k + m, G, m). Then :math:`\operatorname{tr}\Gamma = \sum\delta -
    \|Z\|^2` and :math:`\operatorname{tr}\Gamma^2 = \sum\delta^2 - 2\sum_g\delta_g\|z_g\|^2 +
    \|ZZ'\|_F^2`.
    """

    diag: NDArray[np.float64]
    f_rows: NDArray[np.intp]
    f_cols: NDArray[np.intp]
    f_vals: NDArray[np.float64]
    dense: NDArray[np.float64]
    n_levels: int

    def df(self, weights: NDArray[np.float64]) -> float:
        """Bell-McCaffrey degrees of freedom of the contrast ``weights`` (m,)."""
        c = np.asarray(weights, dtype=np.float64)
        n_g = self.diag.shape[0]
        delta = np.einsum("gjl,j,l->g", self.diag, c, c)
        fs = scipy.sparse.csr_array(
            (self.f_vals @ c, (self.f_rows, self.f_cols)), shape=(self.n_levels, n_g)
        )
        r = self.dense @ c  # (k + m, G)
        col = np.asarray((fs * fs).sum(axis=0)).ravel() + (r * r).sum(axis=0)
        ff = (fs @ fs.T).toarray() if self.n_levels <= 2000 else None
        fr = fs @ r.T
        f_part = float((ff * ff).sum()) if ff is not None else float((fs @ fs.T).power(2).sum())
        frob = f_part + 2.0 * float((fr * fr).sum()) + float(((r @ r.T) ** 2).sum())
        trace = float(delta.sum() - col.sum())
        trace2 = float((delta**2).sum() - 2.0 * (delta * col).sum() + frob)
        return trace**2 / trace2 if trace2 > 0 else float("nan")

    def gram(self, weights: NDArray[np.float64]) -> NDArray[np.float64]:
        r"""The G x G matrix :math:`\Gamma = \mathrm{diag}(\delta) - Z'Z` of the contrast
        ``weights`` (m,); its eigenvalues give the exact working-model distribution of the
        CR2 t-statistic (:mod:`dreamkit.inference.working_t`). O(G^2 (k + m) + G * nnz)."""
        c = np.asarray(weights, dtype=np.float64)
        n_g = self.diag.shape[0]
        delta = np.einsum("gjl,j,l->g", self.diag, c, c)
        fs = scipy.sparse.csr_array(
            (self.f_vals @ c, (self.f_rows, self.f_cols)), shape=(self.n_levels, n_g)
        )
        r = self.dense @ c
        zz = np.asarray((fs.T @ fs).toarray()) + r.T @ r
        return np.diag(delta) - zz


@dataclass(frozen=True)
class FWLFit:
    r"""A fitted shared-design regression; arrays are views the caller must not modify.

    ``coef`` (m, W); ``vcov`` (m*W, m*W) of vec(coef) in order j*W + w; ``d_tilde`` (n, m)
    and ``y_tilde`` (n, W) the partialled regressors and outcomes; ``cluster_codes`` (n,) in
    0..G-1 (None for HC1 without clusters). ``df``: the t degrees of freedom (CR2: the
    smallest of ``df_terms``, the Bell-McCaffrey df of each regressor); ``bm`` (CR2 only)
    the pieces from which :meth:`df_for` gives the df of any contrast of the regressors.
    ``cr2_reference`` (CR2 only): ``"satterthwaite"`` (t with the Bell-McCaffrey df) or
    ``"exact"`` (the exact distribution of the t-statistic under the working model,
    :mod:`dreamkit.inference.working_t`; the ``df`` fields still hold the Bell-McCaffrey df).
    """

    coef: NDArray[np.float64]
    vcov: NDArray[np.float64]
    d_tilde: NDArray[np.float64]
    y_tilde: NDArray[np.float64]
    cluster_codes: NDArray[np.intp] | None
    n_obs: int
    n_params: int
    n_clusters: int
    vcov_type: str
    small_sample_factor: float
    df: float
    df_terms: NDArray[np.float64] | None = None
    bm: BMParts | None = None
    cr2_reference: CR2Reference = "satterthwaite"

    @property
    def resid(self) -> NDArray[np.float64]:
        """Residuals (n, W), computed on demand: y~ - d~ coef."""
        return self.y_tilde - self.d_tilde @ self.coef

    @property
    def std_error(self) -> NDArray[np.float64]:
        """Standard errors, shape (m, W)."""
        m, w = self.coef.shape
        return np.sqrt(np.clip(np.diag(self.vcov), 0.0, None)).reshape(m, w)

    def vcov_of(self, j: int) -> NDArray[np.float64]:
        """W x W covariance of regressor j's coefficients across outcomes."""
        w = self.coef.shape[1]
        return self.vcov[j * w : (j + 1) * w, j * w : (j + 1) * w]

    def vcov_at(self, w: int) -> NDArray[np.float64]:
        """m x m covariance of the coefficients of outcome w."""
        n_out = self.coef.shape[1]
        idx = np.arange(self.coef.shape[0]) * n_out + w
        return self.vcov[np.ix_(idx, idx)]

    @property
    def df_by_term(self) -> NDArray[np.float64]:
        """Degrees of freedom of each regressor's t reference, shape (m,)."""
        if self.df_terms is not None:
            return self.df_terms
        return np.full(self.coef.shape[0], float(self.df))

    def df_for(self, weights: NDArray[np.float64] | tuple[float, ...]) -> float:
        """Degrees of freedom for the contrast ``weights`` (m,) of the regressors (the same for
        every outcome): Bell-McCaffrey for CR2, else :attr:`df`."""
        if self.bm is None:
            return float(self.df)
        return self.bm.df(np.asarray(weights, dtype=np.float64))

    @property
    def exact_reference(self) -> bool:
        """True when p-values and intervals use the exact working-model reference (CR2)."""
        return self.bm is not None and self.cr2_reference == "exact"

    def gram_eigenvalues(
        self, weights: NDArray[np.float64] | tuple[float, ...]
    ) -> NDArray[np.float64]:
        """Eigenvalues of the Bell-McCaffrey matrix Γ of the contrast ``weights`` (m,) of the
        regressors (CR2 only); the same for every outcome."""
        if self.bm is None:
            raise InputError("Γ eigenvalues exist for vcov='CR2' fits only.")
        gram = self.bm.gram(np.asarray(weights, dtype=np.float64))
        return np.asarray(np.linalg.eigvalsh((gram + gram.T) / 2.0), dtype=np.float64)

    def critical_value(
        self, level: float, weights: NDArray[np.float64] | tuple[float, ...]
    ) -> float:
        """Two-sided critical value of the t-statistic of the contrast ``weights`` (m,):
        the exact working-model quantile with ``cr2_reference="exact"``, else t(:meth:`df_for`)."""
        if self.exact_reference:
            return working_t_critical_value(level, self.gram_eigenvalues(weights))
        return float(scipy.stats.t.ppf(0.5 + level / 2.0, self.df_for(weights)))

    def p_value(self, t: float, weights: NDArray[np.float64] | tuple[float, ...]) -> float:
        """Two-sided p-value of the t-statistic ``t`` of the contrast ``weights`` (m,)."""
        if not np.isfinite(t):
            return float("nan")
        if self.exact_reference:
            return working_t_pvalue(t, self.gram_eigenvalues(weights))
        return float(2.0 * scipy.stats.t.sf(abs(t), self.df_for(weights)))

    def exact_reference_values(
        self, level: float
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """(p_value (m, W), critical value (m,)) from the exact CR2 working-model reference
        of each regressor (:mod:`dreamkit.inference.working_t`): the two-sided p-value of
        t = b / se(b) and the q with P(|T| > q) = 1 - level under the working model."""
        with np.errstate(divide="ignore", invalid="ignore"):
            t = self.coef / self.std_error
        m = self.coef.shape[0]
        p = np.full(t.shape, np.nan)
        q = np.empty(m)
        for j in range(m):
            lam = self.gram_eigenvalues(np.eye(m)[j])
            q[j] = working_t_critical_value(level, lam)
            for w in np.flatnonzero(np.isfinite(t[j])):
                p[j, w] = working_t_pvalue(float(t[j, w]), lam)
        return p, q

    def inference(
        self, level: float
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """(p_value, conf_low, conf_high), each (m, W), from t with each regressor's degrees of
        freedom (:attr:`df_by_term`), or with ``cr2_reference="exact"`` from the exact
        working-model reference of each regressor (:mod:`dreamkit.inference.working_t`)."""
        se = self.std_error
        if self.exact_reference:
            p, q = self.exact_reference_values(level)
            return p, self.coef - q[:, None] * se, self.coef + q[:, None] * se
        with np.errstate(divide="ignore", invalid="ignore"):
            t = self.coef / se
        df = self.df_by_term[:, None]
        p = 2.0 * scipy.stats.t.sf(np.abs(t), df)
        q = scipy.stats.t.ppf(0.5 + level / 2.0, df)
        return p, self.coef - q * se, self.coef + q * se


def demean(a: NDArray[np.float64], codes: NDArray[np.intp], n_levels: int) -> NDArray[np.float64]:
    """Subtract group means of each column of ``a`` (n, p) in place and return it."""
    counts = np.bincount(codes, minlength=n_levels).astype(np.float64)
    for j in range(a.shape[1]):
        col = a[:, j]
        col -= (np.bincount(codes, weights=col, minlength=n_levels) / counts)[codes]
    return a


def fit_fwl(
    y: NDArray[np.float64],
    d: NDArray[np.float64],
    *,
    absorb: NDArray[np.intp] | None,
    controls: NDArray[np.float64] | None,
    clusters: NDArray[np.intp] | None,
    vcov: str = "CRV1",
    regressor_names: tuple[str, ...] | None = None,
    control_names: tuple[str, ...] | None = None,
    overwrite_y: bool = False,
    cr2_reference: str = "satterthwaite",
) -> FWLFit:
    """Fit y (n, W) on d (n, m), absorbed codes and controls; see the module docstring.

    ``absorb``: integer codes 0..L-1 of the fixed-effect factor, or None for an intercept.
    ``clusters``: integer codes 0..G-1 (needed for CRV1/CR2/CRV3). With ``overwrite_y`` the
    outcome array is partialled in place (saves one n x W copy). ``cr2_reference`` (CR2
    only): ``"satterthwaite"`` (t with the Bell-McCaffrey df) or ``"exact"`` (the exact
    working-model distribution of the t-statistic; :mod:`dreamkit.inference.working_t`).
    """
    if vcov not in VCOV_TYPES:
        raise InputError(f"vcov must be one of {VCOV_TYPES}; got {vcov!r}.")
    if cr2_reference not in CR2_REFERENCES:
        raise InputError(f"cr2_reference must be one of {CR2_REFERENCES}; got {cr2_reference!r}.")
    y = np.asarray(y, dtype=np.float64)
    y = y[:, None] if y.ndim == 1 else y
    d = np.asarray(d, dtype=np.float64)
    d = d[:, None] if d.ndim == 1 else d
    n, m = d.shape
    d_names = regressor_names or tuple(f"d{j}" for j in range(m))
    codes = np.zeros(n, dtype=np.intp) if absorb is None else np.asarray(absorb, dtype=np.intp)
    n_levels = int(codes.max()) + 1 if n else 0
    if vcov != "HC1" and clusters is None:
        raise InputError(f"vcov={vcov!r} needs cluster codes; pass the team column.")

    y_t = y if overwrite_y else y.copy(order="F")
    demean(y_t, codes, n_levels)
    d_t = demean(d.copy(order="F"), codes, n_levels)
    q, x_dm = _control_basis(controls, codes, n_levels, control_names)
    if q is not None:
        _annihilate(q, y_t)
        _annihilate(q, d_t)
    dd = d_t.T @ d_t
    _check_regressors(d, d_t, dd, d_names)
    a_inv = np.asarray(np.linalg.inv(dd), dtype=np.float64)
    coef = a_inv @ (d_t.T @ y_t)
    n_params = m + n_levels + (0 if q is None else q.shape[1])
    if n <= n_params:
        raise EstimationError(
            f"{n} observations but {n_params} parameters (fixed effects included); the model "
            "is not identified. Use fewer controls or a larger sample."
        )

    df_terms: NDArray[np.float64] | None = None
    bm: BMParts | None = None
    df: float
    if vcov == "HC1":
        meat = _meat_rows(d_t, y_t, coef)
        n_clusters = len(np.unique(clusters)) if clusters is not None else n
        factor = n / (n - n_params)
        cov = factor * _sandwich(a_inv, meat, coef.shape[1])
        df = n - n_params
    else:
        assert clusters is not None
        cl = np.asarray(clusters, dtype=np.intp)
        n_clusters = int(cl.max()) + 1
        if n_clusters < 2:
            raise InputError(f"the cluster variable has {n_clusters} level; {vcov} needs >= 2.")
        df = n_clusters - 1
        if vcov == "CR2":
            scores, bm = _cr2(coef, a_inv, d_t, y_t, q, codes, n_levels, cl, n_clusters)
            factor = 1.0
            cov = _sandwich(a_inv, scores.T @ scores, coef.shape[1])
            df_terms = np.array([bm.df(np.eye(m)[j]) for j in range(m)])
            df = float(df_terms.min())
        elif vcov == "CRV1":
            scores = _scores_clusters(d_t, y_t, coef, cl, n_clusters)
            factor = crv1_factor(n, n_params, n_clusters)
            cov = factor * _sandwich(a_inv, scores.T @ scores, coef.shape[1])
        else:
            dev = _jackknife(coef, d_t, y_t, x_dm, codes, n_levels, cl, n_clusters)
            factor = (n_clusters - 1) / n_clusters
            cov = factor * (dev.T @ dev)
    return FWLFit(
        coef=coef,
        vcov=cov,
        d_tilde=d_t,
        y_tilde=y_t,
        cluster_codes=None if clusters is None else np.asarray(clusters, dtype=np.intp),
        n_obs=n,
        n_params=n_params,
        n_clusters=n_clusters,
        vcov_type=vcov,
        small_sample_factor=float(factor),
        df=float(df),
        df_terms=df_terms,
        bm=bm,
        cr2_reference="exact" if cr2_reference == "exact" else "satterthwaite",
    )


def _control_basis(
    controls: NDArray[np.float64] | None,
    codes: NDArray[np.intp],
    n_levels: int,
    names: tuple[str, ...] | None,
) -> tuple[NDArray[np.float64] | None, NDArray[np.float64] | None]:
    """Orthonormal basis of the demeaned controls, and the demeaned controls themselves."""
    if controls is None or controls.shape[1] == 0:
        return None, None
    x = demean(np.array(controls, dtype=np.float64, order="F"), codes, n_levels)
    names = names or tuple(f"x{j}" for j in range(x.shape[1]))
    norms = np.sqrt((np.asarray(controls, dtype=np.float64) ** 2).sum(axis=0))
    flat = [
        names[j] for j in range(x.shape[1]) if np.linalg.norm(x[:, j]) <= 1e-12 * max(norms[j], 1)
    ]
    if flat:
        raise EstimationError(
            f"covariate(s) {flat} are constant within every stratum, so they are collinear "
            "with the stratum fixed effects; remove them."
        )
    scale = np.sqrt((x**2).sum(axis=0))
    _, r, piv = scipy.linalg.qr(x / scale, mode="economic", pivoting=True)
    diag = np.abs(np.diag(r))
    rank = int((diag > _COLLINEAR_RTOL * diag[0]).sum())
    if rank < x.shape[1]:
        dropped = [names[j] for j in piv[rank:]]
        raise EstimationError(
            f"covariate(s) {dropped} are linear combinations of the other covariates and the "
            f"stratum fixed effects (rank {rank} of {x.shape[1]}); remove them."
        )
    q, _ = np.linalg.qr(x)
    return np.ascontiguousarray(q), x  # C order: tall-skinny BLAS products are fastest


def _annihilate(q: NDArray[np.float64], a: NDArray[np.float64]) -> None:
    """a <- (I - q q') a in place, in column chunks."""
    step = max(1, _CHUNK_ELEMENTS // max(a.shape[0], 1))
    for s in range(0, a.shape[1], step):
        block = a[:, s : s + step]
        block -= q @ (q.T @ block)


def _check_regressors(
    d: NDArray[np.float64],
    d_t: NDArray[np.float64],
    dd: NDArray[np.float64],
    names: tuple[str, ...],
) -> None:
    raw = np.sqrt((d**2).sum(axis=0))
    left = np.sqrt(np.diag(dd))
    gone = [names[j] for j in range(d.shape[1]) if left[j] <= _COLLINEAR_RTOL * max(raw[j], 1.0)]
    if gone:
        raise EstimationError(
            f"regressor(s) {gone} have no variation left after the fixed effects and covariates "
            "(e.g. all treated or all control within every stratum); the effect is not "
            "identified."
        )
    if d.shape[1] > 1:
        scale = 1.0 / left
        eig = np.linalg.eigvalsh(dd * np.outer(scale, scale))
        if eig[0] <= _COLLINEAR_RTOL * eig[-1]:
            raise EstimationError(
                f"regressors {list(names)} are collinear given the fixed effects and covariates "
                "(an empty cell?); the effects are not separately identified."
            )


def _meat_rows(
    d_t: NDArray[np.float64], y_t: NDArray[np.float64], coef: NDArray[np.float64]
) -> NDArray[np.float64]:
    """sum_i s_i s_i' with row scores s_i[j*W + w] = d~_ij e_iw, in row chunks."""
    n, n_out = y_t.shape
    m = d_t.shape[1]
    meat = np.zeros((m * n_out, m * n_out))
    step = max(1, _CHUNK_ELEMENTS // max(m * n_out, 1))
    for s in range(0, n, step):
        dc = d_t[s : s + step]
        ec = y_t[s : s + step] - dc @ coef
        sc = (dc[:, :, None] * ec[:, None, :]).reshape(dc.shape[0], m * n_out)
        meat += sc.T @ sc
    return meat


def _scores_clusters(
    d_t: NDArray[np.float64],
    y_t: NDArray[np.float64],
    coef: NDArray[np.float64],
    cl: NDArray[np.intp],
    n_clusters: int,
) -> NDArray[np.float64]:
    """Cluster score sums (G, m*W): s_g[j*W + w] = sum_{i in g} d~_ij e_iw, computed as
    sum_g d~_j y~_w - sum_l (sum_g d~_j d~_l) coef[l, w] without forming the residuals."""
    n, n_out = y_t.shape
    m = d_t.shape[1]
    indicator = scipy.sparse.csr_array((np.ones(n), (cl, np.arange(n))), shape=(n_clusters, n))
    step = max(1, _CHUNK_ELEMENTS // max(n, 1))
    dd_g = indicator @ (d_t[:, :, None] * d_t[:, None, :]).reshape(n, m * m)  # (G, m*m)
    dd_g = dd_g.reshape(n_clusters, m, m)
    blocks = []
    for j in range(m):
        dj = d_t[:, [j]]
        dy = np.hstack([indicator @ (dj * y_t[:, s : s + step]) for s in range(0, n_out, step)])
        blocks.append(dy - dd_g[:, j, :] @ coef)
    return np.hstack(blocks)


def _sandwich(
    a_inv: NDArray[np.float64], meat: NDArray[np.float64], n_out: int
) -> NDArray[np.float64]:
    """(A kron I_W) meat (A kron I_W)'."""
    bread = np.kron(a_inv, np.eye(n_out))
    return bread @ meat @ bread.T


def _jackknife(
    coef: NDArray[np.float64],
    d_t: NDArray[np.float64],
    y_t: NDArray[np.float64],
    x_dm: NDArray[np.float64] | None,
    codes: NDArray[np.intp],
    n_levels: int,
    cl: NDArray[np.intp],
    n_clusters: int,
) -> NDArray[np.float64]:
    r"""Leave-one-cluster-out deviations vec(tau_(g) - tau), shape (G, m*W).

    With controls Z = [stratum dummies F, demeaned X], full-sample orthogonality
    (Z'D~ = 0, Z'Y~ = 0) gives, on the sample without g,
    Z'D~ = -Z_g'D~_g, Z'Y~ = -Z_g'Y~_g and Z'Z = blockdiag(n_s - n_gs) (+) X'X - Z_g'Z_g
    restricted to the strata g touches and X (other strata decouple). Then
    tau_(g) = (D~'D~_(g) - a'P a)^{-1} (D~'Y~_(g) - a'P b), P = (Z'Z_(g))^{-1}.
    """
    m, n_out = coef.shape
    counts = np.bincount(codes, minlength=n_levels).astype(np.float64)
    dd_full = d_t.T @ d_t
    dy_full = d_t.T @ y_t
    xx_full = None if x_dm is None else x_dm.T @ x_dm
    order = np.argsort(cl, kind="stable")
    bounds = np.searchsorted(cl[order], np.arange(n_clusters + 1))
    dev = np.empty((n_clusters, m * n_out))
    for g in range(n_clusters):
        rows = order[bounds[g] : bounds[g + 1]]
        dg, yg, sg = d_t[rows], y_t[rows], codes[rows]
        strata, inv = np.unique(sg, return_inverse=True)
        left = counts[strata] - np.bincount(inv, minlength=len(strata))
        keep = left > 0
        f_g = np.zeros((len(rows), len(strata)))
        f_g[np.arange(len(rows)), inv] = 1.0
        f_g = f_g[:, keep]
        if x_dm is None:
            z_g = f_g
            zz = np.diag(left[keep])
        else:
            xg = x_dm[rows]
            assert xx_full is not None
            z_g = np.hstack([f_g, xg])
            zz = -(z_g.T @ z_g)
            n_f = f_g.shape[1]
            zz[:n_f, :n_f] = np.diag(left[keep])
            zz[n_f:, n_f:] += xx_full
        a = -(z_g.T @ dg)
        b = -(z_g.T @ yg)
        sol_a, sol_b = _solve_sym(zz, a), _solve_sym(zz, b)
        lhs = dd_full - dg.T @ dg - a.T @ sol_a
        rhs = dy_full - dg.T @ yg - a.T @ sol_b
        try:
            tau_g = np.linalg.solve(lhs, rhs)
        except np.linalg.LinAlgError:
            raise EstimationError(
                f"leaving out cluster number {g} (of {n_clusters}) leaves the effect "
                "unidentified (e.g. it holds all treated persons of a cell); CRV3 cannot be "
                "computed: use vcov='CRV1'."
            ) from None
        dev[g] = (tau_g - coef).ravel()
    return dev


def _cr2(
    coef: NDArray[np.float64],
    a_inv: NDArray[np.float64],
    d_t: NDArray[np.float64],
    y_t: NDArray[np.float64],
    q: NDArray[np.float64] | None,
    codes: NDArray[np.intp],
    n_levels: int,
    cl: NDArray[np.intp],
    n_clusters: int,
) -> tuple[NDArray[np.float64], BMParts]:
    r"""CR2 cluster scores (G, m*W) and the pieces of the Bell-McCaffrey df.

    Per cluster g (rows only of g): :math:`H_{gg} = Z_gBZ_g'` with
    :math:`Z_g = [F_g, Q_g, \tilde D_g]` (dummies of the strata g touches, controls basis,
    partialled regressors) and :math:`B = \mathrm{diag}(1/n_s)\oplus I\oplus A`;
    :math:`\mathcal A_g = (I - H_{gg})^{+1/2}` in low-rank form
    (:func:`~dreamkit.inference.linalg.cr2_adjustment`), scores
    :math:`(\mathcal A_g\tilde D_g)'\hat E_g` and :math:`a_g = \mathcal A_g\tilde D_gA`
    (n_g, m). :math:`\Gamma = \mathrm{diag}(a_g'a_g) - Z'Z` with the columns
    :math:`z_g = [N^{-1/2}F_g'a_g;\ Q_g'a_g;\ L'\tilde D_g'a_g]` (:math:`A = LL'`): the three
    projections of H (:class:`BMParts`).
    """
    m, n_out = coef.shape
    counts = np.bincount(codes, minlength=n_levels).astype(np.float64)
    order = np.argsort(cl, kind="stable")
    bounds = np.searchsorted(cl[order], np.arange(n_clusters + 1))
    chol = np.linalg.cholesky(a_inv)
    k = 0 if q is None else q.shape[1]
    scores = np.empty((n_clusters, m * n_out))
    diag = np.zeros((n_clusters, m, m))
    dense = np.zeros((k + m, n_clusters, m))
    f_rows: list[NDArray[np.intp]] = []
    f_cols: list[NDArray[np.intp]] = []
    f_vals: list[NDArray[np.float64]] = []
    for g in range(n_clusters):
        rows = order[bounds[g] : bounds[g + 1]]
        dg = d_t[rows]
        strata, inv = np.unique(codes[rows], return_inverse=True)
        fg = np.zeros((rows.size, strata.size))
        fg[np.arange(rows.size), inv] = 1.0
        blocks = [fg, dg] if q is None else [fg, q[rows], dg]
        b = scipy.linalg.block_diag(np.diag(1.0 / counts[strata]), np.eye(k), a_inv)
        u, kk = cr2_adjustment(np.hstack(blocks), b)
        ad = apply_adjustment(u, kk, dg)  # (n_g, m)
        scores[g] = (ad.T @ (y_t[rows] - dg @ coef)).ravel()
        a_g = ad @ a_inv
        diag[g] = a_g.T @ a_g
        f_rows.append(strata)
        f_cols.append(np.full(strata.size, g, dtype=np.intp))
        f_vals.append((fg.T @ a_g) / np.sqrt(counts[strata])[:, None])
        if q is not None:
            dense[:k, g, :] = q[rows].T @ a_g
        dense[k:, g, :] = chol.T @ (dg.T @ a_g)
    parts = BMParts(
        diag=diag,
        f_rows=np.concatenate(f_rows),
        f_cols=np.concatenate(f_cols),
        f_vals=np.vstack(f_vals),
        dense=dense,
        n_levels=n_levels,
    )
    return scores, parts


def _solve_sym(a: NDArray[np.float64], b: NDArray[np.float64]) -> NDArray[np.float64]:
    if a.shape[0] == 0:
        return np.zeros_like(b)
    return np.asarray(scipy.linalg.solve(a, b, assume_a="sym"))
