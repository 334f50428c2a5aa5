r"""Linear-algebra kernels shared by the bootstrap, the randomisation tests and the estimators.

Public: the FWL building blocks are used by :mod:`dreamkit.estimate` as well.

* :func:`control_basis` gives an orthonormal basis ``Q`` (n x r) of the column space of the
  controls ``Z``, so that the annihilator is ``M_Z w = w - Q (Q'w)`` and rank-deficient
  controls (e.g. an intercept next to a full set of stratum dummies) are handled by dropping
  the redundant directions instead of failing.
* :func:`annihilate` applies it: :math:`M_Z a = a - QQ'a`.
* :func:`treatment_residual` gives the partialled treatment :math:`\tilde d = M_Z d` and
  :math:`\tilde d'\tilde d`, refusing a treatment the controls absorb.
* :func:`crv1_factor` is the CRV1 small-sample factor :math:`c = \frac{G}{G-1}\frac{N-1}{N-K}`.
* :func:`cluster_cross_products` gives per-cluster cross products ``A_g' B_g``.
* :func:`cluster_indicator` builds the sparse cluster indicator ``C`` (G x n), so that
  ``(C @ A)[g] = sum_{i in g} A[i]``.
* :func:`cr2_adjustment` gives the CR2 (Bell-McCaffrey) adjustment
  :math:`(I - H_{gg})^{+1/2}` of a cluster in low-rank form, and :func:`apply_adjustment`
  applies it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.linalg
import scipy.sparse
from numpy.typing import NDArray

from dreamkit.errors import EstimationError

#: Eigenvalues of I - H_gg (all in [0, 1]) at or below this count as 0 in the CR2 adjustment.
CR2_EIG_TOL = 1e-10


def control_basis(z: NDArray[np.float64]) -> NDArray[np.float64]:
    """Orthonormal basis of col(Z) from a column-pivoted QR; shape (n, rank(Z)).

    The rank is the number of pivots with ``|R_jj| > max(n, k) * eps * |R_11|`` (the
    ``numpy.linalg.matrix_rank`` rule applied to the pivoted R).
    """
    n, k = z.shape
    if k == 0:
        return np.zeros((n, 0))
    q, r, _ = scipy.linalg.qr(z, mode="economic", pivoting=True)
    diag = np.abs(np.diag(r))
    if diag.size == 0 or diag[0] == 0.0:
        return np.zeros((n, 0))
    tol = max(n, k) * np.finfo(np.float64).eps * diag[0]
    rank = int((diag > tol).sum())
    return np.ascontiguousarray(q[:, :rank])


def annihilate(q: NDArray[np.float64], a: NDArray[np.float64]) -> NDArray[np.float64]:
    """Residual of ``a`` (n,) or (n, m) after projection on col(Q): ``M_Z a = a - Q Q'a``."""
    fitted = q @ (q.T @ a)
    return np.subtract(a, fitted, out=fitted)


def crv1_factor(n_obs: int, n_params: int, n_clusters: int) -> float:
    r"""CRV1 small-sample factor :math:`c = \frac{G}{G-1}\frac{N-1}{N-K}` for N observations,
    K parameters and G clusters; the cluster-robust covariance is
    :math:`c\,A^{-1}(\sum_g s_g s_g')A^{-1}`."""
    return n_clusters / (n_clusters - 1) * (n_obs - 1) / (n_obs - n_params)


def cluster_indicator(codes: NDArray[np.intp], n_groups: int) -> scipy.sparse.csr_array:
    """Sparse G x n indicator ``C[g, i] = 1{i in g}``; ``C @ A`` gives within-cluster sums."""
    n = codes.shape[0]
    return scipy.sparse.csr_array(
        (np.ones(n), (codes, np.arange(n))), shape=(n_groups, n), dtype=np.float64
    )


def cluster_cross_products(
    codes: NDArray[np.intp],
    n_groups: int,
    left: Sequence[NDArray[np.float64]],
    right: Sequence[NDArray[np.float64]],
) -> NDArray[np.float64]:
    """Per-cluster cross products ``out[g] = L_g' R_g``, shape (G, p, m).

    ``L`` (n, p) and ``R`` (n, m) are given as sequences of column blocks ((n,) or (n, k)
    arrays) that are joined cluster by cluster, so neither the joined n x p and n x m
    matrices nor any n x p x m temporary is formed.
    """
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(n_groups + 1))
    width_l = sum(1 if a.ndim == 1 else a.shape[1] for a in left)
    width_r = sum(1 if a.ndim == 1 else a.shape[1] for a in right)
    out = np.empty((n_groups, width_l, width_r))
    for g in range(n_groups):
        rows = order[bounds[g] : bounds[g + 1]]
        lg = np.column_stack([a[rows] for a in left])
        rg = np.column_stack([a[rows] for a in right])
        out[g] = lg.T @ rg
    return out


def treatment_residual(
    q: NDArray[np.float64], d: NDArray[np.float64], name: str = "d"
) -> tuple[NDArray[np.float64], float]:
    """FWL-partialled treatment ``d~ = M_Z d`` and ``d~'d~``; error if the controls absorb it."""
    d_tilde = annihilate(q, d)
    dd = float(d_tilde @ d_tilde)
    if dd <= 1e-12 * max(1.0, float(d @ d)):
        raise EstimationError(
            f"{name} is (almost) collinear with the controls Z: nothing of it is left after "
            "partialling out Z. Check that treatment varies within strata."
        )
    return d_tilde, dd


def cr2_adjustment(
    z: NDArray[np.float64], b: NDArray[np.float64], tol: float = CR2_EIG_TOL
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    r"""Low-rank CR2 adjustment of one cluster: ``(U, K)`` with
    :math:`(I - H_{gg})^{+1/2} = I + U K U'`.

    ``H_gg = Z B Z'`` is the cluster's block of a hat (projection) matrix, so its eigenvalues
    lie in [0, 1]; Z (n_g x p) are the cluster's rows of the design, B (p x p) symmetric.
    With the thin SVD :math:`Z = USV'` (rank r), :math:`H_{gg} = UMU'`, :math:`M = SV'BVS`
    (r x r), hence :math:`(I - H_{gg})^{+1/2} = (I - UU') + U(I - M)^{+1/2}U'`: directions
    outside the column space of :math:`Z_g` keep eigenvalue 1. ``+1/2`` is the symmetric
    Moore-Penrose inverse square root: eigenvalues of :math:`I - M` at or below ``tol`` count
    as 0 (a cluster that alone identifies a parameter). Cost O(n_g p^2), never n_g x n_g.
    """
    n, p = z.shape
    if n == 0 or p == 0:
        return np.zeros((n, 0)), np.zeros((0, 0))
    u, sv, vt = np.linalg.svd(z, full_matrices=False)
    if sv[0] == 0.0:
        return np.zeros((n, 0)), np.zeros((0, 0))
    keep = sv > max(n, p) * np.finfo(np.float64).eps * sv[0]
    u, sv, vt = u[:, keep], sv[keep], vt[keep]
    m = sv[:, None] * (vt @ b @ vt.T) * sv[None, :]
    vals, vecs = np.linalg.eigh(np.eye(sv.size) - (m + m.T) / 2.0)
    inv = np.zeros_like(vals)
    ok = vals > tol
    inv[ok] = 1.0 / np.sqrt(vals[ok])
    k = (vecs * inv) @ vecs.T - np.eye(sv.size)
    return np.asarray(u, dtype=np.float64), np.asarray(k, dtype=np.float64)


def apply_adjustment(
    u: NDArray[np.float64], k: NDArray[np.float64], x: NDArray[np.float64]
) -> NDArray[np.float64]:
    """:math:`(I + UKU')x` for the pair of :func:`cr2_adjustment`."""
    return np.asarray(x + u @ (k @ (u.T @ x)), dtype=np.float64)
