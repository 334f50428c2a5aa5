r"""Wild cluster bootstrap for the treatment coefficient, W outcomes at once.

Model, for each outcome w = 1..W with a shared design:

.. math:: y_{iw} = \tau_w d_i + Z_i'\gamma_w + e_{iw},

``Z`` the controls (stratum dummies and covariates), clusters g = 1..G. By FWL,
:math:`\hat\tau_w = \tilde d'y_w / \tilde d'\tilde d` with :math:`\tilde d = M_Z d`, and the CRV1
standard error is

.. math:: \widehat{se}_w^2 = c\,\frac{\sum_g s_{gw}^2}{(\tilde d'\tilde d)^2},\quad
          s_{gw} = \sum_{i\in g} \tilde d_i \hat e_{iw},\quad
          c = \frac{G}{G-1}\,\frac{N-1}{N-K},

K = 1 + rank(Z). The bootstrap (Cameron, Gelbach & Miller 2008; Roodman et al. 2019, "WCR11"
and "WCU11") draws one weight :math:`v_{gb}` per cluster and replication, shared by all
outcomes, and builds :math:`y^*_{iw} = \hat y^{base}_{iw} + v_{g(i)b}\, r_{iw}`:

* restricted (WCR, ``impose_null=True``): base = fit of y on Z alone (the null
  :math:`\tau_w = 0` imposed), :math:`r = M_Z y`;
* unrestricted (WCU): base = the full fit, :math:`r = \hat e`.

Each bootstrap sample is re-estimated with the CRV1 formula; the bootstrap t is
:math:`t^*_{bw} = (\tau^*_{bw} - \tau^{base}_w) / se^*_{bw}` with :math:`\tau^{base} = 0` (WCR)
or :math:`\hat\tau` (WCU). Everything is linear in the weights, so with cluster-level sums
(:math:`c_{gw} = \tilde d_g' r_{gw}`, :math:`P_g = \tilde d_g' Q_g`,
:math:`A_{hw} = Q_h' r_{hw}`, Q an orthonormal basis of col(Z)) the bootstrap cluster scores
are

.. math:: s^*_{gwb} = v_{gb} c_{gw} - P_g \sum_h A_{hw} v_{hb}
          - \tilde d_g'\tilde d_g \,\frac{\sum_h v_{hb} c_{hw}}{\tilde d'\tilde d},

computed for all b and w as matrix products (chunks of replications), with no loop over
replications or outcomes.

p-values: symmetric :math:`p_w = B^{-1}\#\{b: |t^*_{bw}| \ge |\hat t_w|\}` or equal-tailed
:math:`2\min(B^{-1}\#\{t^* \le \hat t\}, B^{-1}\#\{t^* \ge \hat t\})`. Ties (which full
enumeration produces: v = 1 reproduces the sample) count as at least as extreme, so the test
is conservative; the ``wildboottest`` package counts only strictly larger draws.

Confidence intervals: WCR by test inversion — the restricted scores are linear in the
hypothesised value :math:`\tau_0`, :math:`s^*(\tau_0) = s^*_0 - \tau_0 s^*_1`, so
:math:`p(\tau_0)` is cheap to evaluate and the interval ends are found by bisection, with the
same weight draws for every :math:`\tau_0`; WCU by percentile-t,
:math:`\hat\tau \mp q\,\widehat{se}`. An end is infinite when no :math:`\tau_0` is rejected
(possible with very few clusters).

Weights are drawn exactly as the ``wildboottest`` package draws them
(``numpy.random.default_rng(seed)``, a G x B matrix filled cluster by cluster), and with
Rademacher weights and :math:`2^G \le B` all :math:`2^G` sign vectors are enumerated instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from dreamkit.errors import InputError
from dreamkit.executor import Executor, ExecutorLike, SerialExecutor, resolve_executor
from dreamkit.inference._checks import (
    as_codes,
    as_controls,
    as_outcomes,
    as_vector,
    check_level,
    check_positive_int,
)
from dreamkit.inference.linalg import (
    annihilate,
    cluster_cross_products,
    control_basis,
    crv1_factor,
    treatment_residual,
)

WeightType = Literal["rademacher", "webb"]
PType = Literal["symmetric", "equal-tailed"]

_WEIGHT_VALUES: dict[str, NDArray[np.float64]] = {
    "rademacher": np.array([-1.0, 1.0]),
    "webb": np.concatenate([-np.sqrt(np.array([3.0, 2.0, 1.0]) / 2), np.sqrt([0.5, 1.0, 1.5])]),
}
_TIE_RTOL = 1e-9
_CHUNK_ELEMENTS = 4_000_000
_BISECTION_STEPS = 60


@dataclass(frozen=True, eq=False)
class WildBootstrapResult:
    """Wild cluster bootstrap of the treatment coefficient for W outcomes.

    All per-outcome arrays have shape (W,), also when a single outcome vector was passed.
    ``t_boot`` has shape (B, W): row b is replication b, shared weights across outcomes.
    """

    estimate: NDArray[np.float64]
    std_error: NDArray[np.float64]
    t_stat: NDArray[np.float64]
    p_value: NDArray[np.float64]
    conf_low: NDArray[np.float64]
    conf_high: NDArray[np.float64]
    t_boot: NDArray[np.float64]
    n_obs: int
    n_clusters: int
    n_boot: int
    weights: str
    impose_null: bool
    full_enumeration: bool
    p_type: str
    level: float
    small_sample_factor: float

    def __repr__(self) -> str:
        return (
            f"WildBootstrapResult({'WCR' if self.impose_null else 'WCU'}, {self.weights} "
            f"weights, B={self.n_boot}{' (full enumeration)' if self.full_enumeration else ''}, "
            f"W={self.estimate.shape[0]} outcomes, N={self.n_obs}, G={self.n_clusters})"
        )


def draw_cluster_weights(
    n_clusters: int, n_boot: int, weights: WeightType = "rademacher", seed: int = 0
) -> tuple[NDArray[np.float64], bool]:
    """Bootstrap weights as a (G, B) matrix, and whether they are a full enumeration.

    Rademacher: v = +-1 with probability 1/2. Webb: v in {+-sqrt(1/2), +-1, +-sqrt(3/2)}, each
    with probability 1/6 (mean 0, variance 1). With Rademacher weights and 2^G <= B, the
    2^G sign vectors are returned in ``itertools.product([-1, 1], repeat=G)`` order (B becomes
    2^G). Otherwise the draws reproduce ``wildboottest``'s
    ``default_rng(seed).choice(values, G * B).reshape(G, B)``.
    """
    if weights not in _WEIGHT_VALUES:
        raise InputError(f"weights must be 'rademacher' or 'webb'; got {weights!r}.")
    if weights == "rademacher" and n_clusters < 63 and 2**n_clusters <= n_boot:
        b = np.arange(2**n_clusters)
        shifts = np.arange(n_clusters - 1, -1, -1)[:, None]
        signs = 2.0 * ((b[None, :] >> shifts) & 1) - 1.0
        return signs.astype(np.float64), True
    values = _WEIGHT_VALUES[weights]
    idx = np.random.default_rng(seed).integers(0, values.shape[0], size=n_clusters * n_boot)
    return values[idx].reshape(n_clusters, n_boot), False


def wild_cluster_bootstrap(
    y: ArrayLike,
    d: ArrayLike,
    Z: ArrayLike | None,
    clusters: ArrayLike,
    *,
    B: int = 999,
    weights: WeightType = "rademacher",
    impose_null: bool = True,
    seed: int = 0,
    p_type: PType = "symmetric",
    level: float = 0.95,
    executor: ExecutorLike = None,
) -> WildBootstrapResult:
    """Wild cluster bootstrap (WCR11 or WCU11) for the coefficient on ``d``, W outcomes at once.

    Parameters
    ----------
    y : (n,) or (n, W) outcomes.
    d : (n,) treatment (any numeric regressor of interest).
    Z : (n, k) controls, e.g. stratum dummies and covariates; ``None`` means an intercept
        only. Include the intercept (or a full set of stratum dummies) yourself; redundant
        columns are dropped (K counts rank(Z)).
    clusters : (n,) cluster labels (teams).
    B : number of replications (replaced by 2^G under full Rademacher enumeration).
    weights : ``"rademacher"`` or ``"webb"`` (preferred with fewer than about 12 clusters).
    impose_null : True for WCR (tau = 0 imposed, CI by test inversion), False for WCU
        (CI percentile-t; use these draws for sup-t bands).
    seed : seed of ``numpy.random.default_rng``.
    p_type : ``"symmetric"`` (|t|) or ``"equal-tailed"``.
    level : confidence level of ``conf_low``/``conf_high``.
    executor : where blocks of replications are computed (:mod:`dreamkit.executor`; default
        the session executor, else this process). The weights are drawn here from ``seed``
        and the blocks are fixed by G and W alone, so results are identical for every
        executor and number of workers. The work is cluster-level (G x B), so distributing
        it pays only for very many replications or clusters.
    """
    pool = resolve_executor(executor)
    y_mat, _ = as_outcomes(y, "y")
    n = y_mat.shape[0]
    d_vec = as_vector(d, n, "d")
    z_mat = as_controls(Z, n, "Z")
    codes, n_clusters = as_codes(clusters, n, "clusters")
    n_boot = check_positive_int(B, "B")
    level = check_level(level)
    if p_type not in ("symmetric", "equal-tailed"):
        raise InputError(f"p_type must be 'symmetric' or 'equal-tailed'; got {p_type!r}.")
    if n_clusters < 2:
        raise InputError(f"clusters has {n_clusters} level; the cluster bootstrap needs >= 2.")

    q = control_basis(z_mat)
    n_params = 1 + q.shape[1]
    if n <= n_params:
        raise InputError(f"{n} rows but {n_params} parameters; more rows are needed.")
    ssc = crv1_factor(n, n_params, n_clusters)
    d_tilde, dd = treatment_residual(q, d_vec)

    u_restricted = annihilate(q, y_mat)
    estimate = d_tilde @ u_restricted / dd
    cross = cluster_cross_products(codes, n_clusters, (d_tilde, q), (u_restricted, d_tilde))
    n_out = y_mat.shape[1]
    c1 = cross[:, 0, n_out]  # (G,) d~_g'd~_g
    p_mat = cross[:, 1:, n_out]  # (G, r) d~_g'Q_g
    scores = cross[:, 0, :n_out] - np.outer(c1, estimate)  # (G, W) unrestricted scores
    std_error = np.sqrt(ssc * (scores**2).sum(axis=0)) / dd
    t_stat = estimate / std_error

    a0 = cross[:, 1:, :n_out]  # (G, r, W) Q_g'u_g
    if impose_null:
        c0 = cross[:, 0, :n_out]
    else:  # residuals e = u - d~ tau: c0 = d~_g'e_g, A = Q_g'e_g
        c0 = scores
        a0 = a0 - p_mat[:, :, None] * estimate[None, None, :]
    v, full_enum = draw_cluster_weights(n_clusters, n_boot, weights, seed)
    sums = _bootstrap_sums(c0, a0, c1, p_mat, dd, v, need_slope=impose_null, executor=pool)
    t_boot = (sums.num0 / np.sqrt(ssc * sums.ss00)).T

    p_value = _p_values(t_boot.T, t_stat[:, None], p_type)
    if impose_null:
        conf_low, conf_high = _invert(sums, estimate, std_error, ssc, 1.0 - level, p_type)
    else:
        conf_low, conf_high = _percentile_t(t_boot, estimate, std_error, level, p_type)
    return WildBootstrapResult(
        estimate=estimate,
        std_error=std_error,
        t_stat=t_stat,
        p_value=p_value,
        conf_low=conf_low,
        conf_high=conf_high,
        t_boot=t_boot,
        n_obs=n,
        n_clusters=n_clusters,
        n_boot=v.shape[1],
        weights=weights,
        impose_null=impose_null,
        full_enumeration=full_enum,
        p_type=p_type,
        level=level,
        small_sample_factor=ssc,
    )


@dataclass(frozen=True)
class _Sums:
    """Per-replication sums; (W, B) unless noted. Slope terms only for WCR."""

    num0: NDArray[np.float64]  # sum_h v_h c_hw
    ss00: NDArray[np.float64]  # sum_g s0_g^2
    ss01: NDArray[np.float64] | None  # sum_g s0_g s1_g
    num1: NDArray[np.float64] | None  # (B,) sum_h v_h dd_h
    ss11: NDArray[np.float64] | None  # (B,) sum_g s1_g^2


def _bootstrap_sums(
    c0: NDArray[np.float64],
    a0: NDArray[np.float64],
    c1: NDArray[np.float64],
    p_mat: NDArray[np.float64],
    dd: float,
    v: NDArray[np.float64],
    *,
    need_slope: bool,
    executor: Executor | None = None,
) -> _Sums:
    """Bootstrap numerators and squared-score sums, vectorised over replications and outcomes.

    Inputs are cluster-level: ``c0`` (G, W) = d~_g'r_g, ``a0`` (G, r, W) = Q_g'r_g for the
    bootstrap residuals r, ``c1`` (G,) = d~_g'd~_g, ``p_mat`` (G, r) = d~_g'Q_g, weights ``v``
    (G, B). ``s0`` are the bootstrap cluster scores built from r; ``s1`` those built from d~
    itself (minus the derivative of the restricted scores with respect to tau_0). Blocks of
    replications are independent and run on ``executor`` (default: here).
    """
    n_clusters, n_boot = v.shape
    n_out = c0.shape[1]
    block = _SumsBlock(
        np.ascontiguousarray(c0.T),  # (W, G)
        np.ascontiguousarray(a0.transpose(2, 1, 0)),  # (W, r, G)
        c1,
        p_mat,
        dd,
        need_slope,
    )
    chunk = max(1, _CHUNK_ELEMENTS // max(1, n_out * n_clusters))
    blocks = [v[:, s : min(s + chunk, n_boot)] for s in range(0, n_boot, chunk)]
    pool = SerialExecutor() if executor is None else executor
    parts = pool.map(block, blocks)
    num0 = np.hstack([p[0] for p in parts])
    ss00 = np.hstack([p[1] for p in parts])
    if not need_slope:
        return _Sums(num0=num0, ss00=ss00, ss01=None, num1=None, ss11=None)
    return _Sums(
        num0=num0,
        ss00=ss00,
        ss01=np.hstack([p[2] for p in parts]),
        num1=np.concatenate([p[3] for p in parts]),
        ss11=np.concatenate([p[4] for p in parts]),
    )


@dataclass(frozen=True)
class _SumsBlock:
    """The sums of one block of replications (picklable, so blocks can go to workers)."""

    c0: NDArray[np.float64]  # (W, G)
    a0: NDArray[np.float64]  # (W, r, G)
    c1: NDArray[np.float64]
    p_mat: NDArray[np.float64]
    dd: float
    need_slope: bool

    def __call__(self, vc: NDArray[np.float64]) -> tuple[NDArray[np.float64], ...]:
        c0, a0, c1, p_mat, dd = self.c0, self.a0, self.c1, self.p_mat, self.dd
        num = c0 @ vc  # (W, b)
        s0 = c0[:, :, None] * vc[None] - p_mat @ (a0 @ vc) - c1[None, :, None] * (num / dd)[:, None]
        ss00 = np.einsum("wgb,wgb->wb", s0, s0)
        if not self.need_slope:
            return num, ss00
        num1 = c1 @ vc
        s1 = c1[:, None] * vc - p_mat @ (p_mat.T @ vc) - np.outer(c1, num1 / dd)
        return num, ss00, np.einsum("wgb,gb->wb", s0, s1), num1, (s1**2).sum(axis=0)


def _p_values(t_boot: NDArray, t_obs: NDArray, p_type: str) -> NDArray[np.float64]:
    """p-values from draws (W, B) against observed t (W, 1); ties count as extreme."""
    if p_type == "symmetric":
        abs_obs = np.abs(t_obs)
        return np.mean(np.abs(t_boot) >= abs_obs * (1.0 - _TIE_RTOL), axis=1)
    tol = _TIE_RTOL * np.abs(t_obs)
    lower = np.mean(t_boot <= t_obs + tol, axis=1)
    upper = np.mean(t_boot >= t_obs - tol, axis=1)
    return np.minimum(1.0, 2.0 * np.minimum(lower, upper))


def _p_at(
    sums: _Sums,
    tau0: NDArray[np.float64],
    estimate: NDArray[np.float64],
    std_error: NDArray[np.float64],
    ssc: float,
    p_type: str,
) -> NDArray[np.float64]:
    """WCR p-value of H0: tau_w = tau0_w for every outcome, with the stored weight draws."""
    assert sums.ss01 is not None and sums.num1 is not None and sums.ss11 is not None
    t0 = tau0[:, None]
    num = sums.num0 - t0 * sums.num1[None, :]
    ss = sums.ss00 - 2.0 * t0 * sums.ss01 + t0**2 * sums.ss11[None, :]
    t_boot = num / np.sqrt(ssc * np.maximum(ss, 0.0))
    t_obs = ((estimate - tau0) / std_error)[:, None]
    return _p_values(t_boot, t_obs, p_type)


def _invert(
    sums: _Sums,
    estimate: NDArray[np.float64],
    std_error: NDArray[np.float64],
    ssc: float,
    alpha: float,
    p_type: str,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Interval {tau0: p(tau0) > alpha} by outward search then bisection on each side."""
    ends = []
    for sign in (-1.0, 1.0):
        inner = estimate.copy()
        step = 2.0 * std_error
        outer = estimate + sign * step
        rejected = _p_at(sums, outer, estimate, std_error, ssc, p_type) <= alpha
        for _ in range(40):
            if rejected.all():
                break
            step = np.where(rejected, step, 2.0 * step)
            outer = np.where(rejected, outer, estimate + sign * step)
            rejected = _p_at(sums, outer, estimate, std_error, ssc, p_type) <= alpha
        for _ in range(_BISECTION_STEPS):
            mid = 0.5 * (inner + outer)
            rej_mid = _p_at(sums, mid, estimate, std_error, ssc, p_type) <= alpha
            outer = np.where(rej_mid, mid, outer)
            inner = np.where(rej_mid, inner, mid)
        ends.append(np.where(rejected, 0.5 * (inner + outer), sign * np.inf))
    return ends[0], ends[1]


def _percentile_t(
    t_boot: NDArray[np.float64],
    estimate: NDArray[np.float64],
    std_error: NDArray[np.float64],
    level: float,
    p_type: str,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """WCU percentile-t interval from centred bootstrap t draws (B, W)."""
    if p_type == "symmetric":
        crit = np.quantile(np.abs(t_boot), level, axis=0)
        return estimate - crit * std_error, estimate + crit * std_error
    alpha = 1.0 - level
    q_lo, q_hi = np.quantile(t_boot, [alpha / 2, 1 - alpha / 2], axis=0)
    return estimate - q_hi * std_error, estimate - q_lo * std_error
