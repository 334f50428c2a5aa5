r"""Few-cluster inference for cell contrasts (models 3, 4) and joint multiple testing.

A cells model (:mod:`dreamkit.estimate.linear.cells`) has effect groups e = 1..E with regressors
:math:`D_{ie} = T_i 1\{e(c_i) = e\}` and controls :math:`Z_0` (cell terms: stratum x cell
dummies, or stratum dummies plus cell dummies; then covariates):

.. math:: Y_i = D_i'\tau + Z_{0i}'\gamma + e_i.

**Wild cluster bootstrap of a contrast** :math:`\theta = c'\tau`. Take the E x E matrix A equal
to the identity with row j replaced by c, j the position of the largest :math:`|c_j|` (A is
invertible because :math:`c_j \ne 0`). Then :math:`D\tau = (DA^{-1})(A\tau)` and component j of
:math:`A\tau` is :math:`\theta`: the coefficient on column j of :math:`DA^{-1}`, with the other
columns of :math:`DA^{-1}` moved into the controls, is :math:`\hat\theta` (the same fit, so
the same estimate and CRV1 standard error). For model (3), c = (1, -1) gives
:math:`\tau_1 T L + \tau_2 T H = \tau_2 T + (\tau_1 - \tau_2) T L`: the regressor is
:math:`T\cdot Low` and T joins the controls. The restricted wild bootstrap
(:func:`dreamkit.inference.wild_cluster_bootstrap`, ``impose_null=True``) of that coefficient
imposes :math:`\theta = 0` only, and its CI comes by test inversion.

**Randomisation inference of contrasts.** :class:`ContrastStatistic` maps an allocation
:math:`\mathbf{d}` (re-drawn within teams by :func:`dreamkit.inference.randomization_inference`;
cells are baseline attributes and stay fixed) to
:math:`c'\hat\tau(\mathbf{d})` with
:math:`\hat\tau(\mathbf{d}) = (\tilde D'\tilde D)^{-1}\tilde D'\tilde y`,
:math:`\tilde D = M_{Z_0} D(\mathbf{d})`, for many contrasts, outcomes and designs (e.g. all
cut-offs) at once, so every statistic sees the same allocations and the draws are joint.

**Joint multiple testing.** :func:`adjusted_columns` turns observed statistics (K,) and their
joint null draws (B, K) into Romano-Wolf (or Westfall-Young min-P) adjusted p-values plus
Holm and Benjamini-Hochberg columns (:mod:`dreamkit.inference.multiple_testing`);
:class:`NullDraws` carries such draws from either source and :func:`adjusted_table` makes the
tidy table. For a family of cell contrasts (:data:`ContrastFamily`, models 3 and 4)
:func:`family_wild_bootstrap` and :func:`family_randomization` give every row with its
Romano-Wolf p-value across the family.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import polars as pl
from numpy.typing import ArrayLike, NDArray

from dreamkit.errors import EstimationError, InputError
from dreamkit.estimate.linear.design_matrix import Sample, dummies
from dreamkit.inference import (
    RandomizationResult,
    WildBootstrapResult,
    adjust_pvalues,
    annihilate,
    control_basis,
    randomization_inference,
    romano_wolf,
    westfall_young,
    wild_cluster_bootstrap,
)

AdjustMethod = Literal["romano-wolf", "westfall-young"]
DrawSource = Literal["bootstrap", "randomization"]
_CHUNK_ELEMENTS = 4_000_000


@dataclass(frozen=True, eq=False)
class CellDesign:
    """A cells model in dense form: outcomes, effect groups, controls Z0 and clusters."""

    y: NDArray[np.float64]
    treated: NDArray[np.float64]
    groups: NDArray[np.intp]
    n_groups: int
    controls: NDArray[np.float64]
    clusters: NDArray[np.intp]
    outcomes: tuple[str, ...]

    def regressors(self, treated: NDArray[np.float64] | None = None) -> NDArray[np.float64]:
        """D (n, E): ``treated`` (default the observed arm) times each effect-group dummy."""
        t = self.treated if treated is None else treated
        d = np.zeros((t.shape[0], self.n_groups))
        d[np.arange(t.shape[0]), self.groups] = t
        return d

    def reparametrised(self, weights: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """(d, Z): the regressor whose coefficient is c'tau, and the controls [D A^-1 rest, Z0]."""
        c = contrast_vector(weights, self.n_groups)
        j = int(np.argmax(np.abs(c)))
        a = np.eye(self.n_groups)
        a[j] = c
        new = np.asarray(np.linalg.solve(a.T, self.regressors().T).T, dtype=np.float64)  # DA^-1
        rest = np.delete(new, j, axis=1)
        return new[:, j], np.hstack([rest, self.controls])


def cell_design(
    sample: Sample,
    cells: NDArray[np.intp],
    n_cells: int,
    effect_groups: Sequence[int],
    *,
    interact_strata: bool,
) -> CellDesign:
    """Dense version of :func:`dreamkit.estimate.linear.cells.fit_cells`'s design (same column
    space: stratum x cell dummies, or stratum dummies plus cell dummies 2..C; then covariates)."""
    if interact_strata:
        combined = np.unique(sample.strata * n_cells + cells, return_inverse=True)[1]
        blocks = [dummies(combined.reshape(-1))]
    else:
        blocks = [dummies(sample.strata), dummies(cells)[:, 1:]]
    if sample.covariates is not None:
        blocks.append(sample.covariates)
    groups = np.asarray(effect_groups, dtype=np.intp)[cells]
    return CellDesign(
        y=sample.y,
        treated=sample.treated,
        groups=groups,
        n_groups=int(max(effect_groups)) + 1,
        controls=np.hstack(blocks),
        clusters=sample.clusters,
        outcomes=sample.outcomes,
    )


def contrast_vector(weights: ArrayLike, n_groups: int) -> NDArray[np.float64]:
    """Contrast weights c (E,), checked: right length, finite, not all zero."""
    c = np.asarray(weights, dtype=np.float64).reshape(-1)
    if c.shape[0] != n_groups or not np.isfinite(c).all() or not np.any(c):
        raise InputError(
            f"contrast weights must be {n_groups} finite numbers, not all zero (one per effect "
            f"group); got {c.shape[0]} value(s)."
        )
    return c


class ContrastStatistic:
    r"""Vectorised contrasts :math:`c'\hat\tau(\mathbf{d})` of one or more cells designs.

    ``items`` pairs each :class:`CellDesign` (all on the same persons, in the same order) with
    a (C, E) matrix of contrast weights. Calling it with (m, n) allocations returns
    (m, K), K = sum over items of C x W, ordered item, contrast, outcome.
    """

    vectorized = True

    def __init__(self, items: Sequence[tuple[CellDesign, ArrayLike]]) -> None:
        if not items:
            raise InputError("no contrasts given; pass at least one (design, weights) pair.")
        self._parts = []
        for design, weights in items:
            w = np.atleast_2d(np.asarray(weights, dtype=np.float64))
            for row in w:
                contrast_vector(row, design.n_groups)
            q = control_basis(design.controls)
            self._parts.append((design, w, q, annihilate(q, design.y)))

    def __call__(self, allocations: NDArray[np.int8]) -> NDArray[np.float64]:
        alloc = np.asarray(allocations, dtype=np.float64)
        alloc = alloc.reshape(-1, alloc.shape[-1])
        out = []
        for design, w, q, y_tilde in self._parts:
            n_groups = design.n_groups
            step = max(1, _CHUNK_ELEMENTS // (alloc.shape[1] * n_groups))
            pieces = []
            for s in range(0, alloc.shape[0], step):
                a = alloc[s : s + step]  # (m, n)
                m = a.shape[0]
                d = np.zeros((a.shape[1], m, n_groups))
                d[np.arange(a.shape[1]), :, design.groups] = a.T
                dt = annihilate(q, d.reshape(a.shape[1], m * n_groups)).reshape(d.shape)
                gram = np.einsum("nme,nmf->mef", dt, dt)
                cross = np.einsum("nme,nw->mew", dt, y_tilde)
                raw = (d.reshape(a.shape[1], m * n_groups) ** 2).sum(axis=0)
                if (np.einsum("mee->me", gram).ravel() <= 1e-10 * np.maximum(raw, 1.0)).any():
                    raise EstimationError(
                        "a re-drawn allocation leaves an effect group without treated or "
                        "without control persons inside its cells, so its effect is not "
                        "identified; merge small cells (e.g. another cut-off) before "
                        "randomisation inference."
                    )
                tau = np.linalg.solve(gram, cross)  # (m, E, W)
                pieces.append(np.einsum("ce,mew->mcw", w, tau).reshape(m, -1))
            out.append(np.vstack(pieces))
        return np.hstack(out)


def contrast_wild_bootstrap(
    design: CellDesign, contrast: ArrayLike, **kwargs: Any
) -> WildBootstrapResult:
    """Wild cluster bootstrap of c'tau (``contrast`` = c) for every outcome, on the
    reparametrised design; ``kwargs`` go to :func:`dreamkit.inference.wild_cluster_bootstrap`."""
    d, z = design.reparametrised(contrast)
    return wild_cluster_bootstrap(design.y, d, z, design.clusters, **kwargs)


def contrast_randomization(
    items: Sequence[tuple[CellDesign, ArrayLike]], **kwargs: Any
) -> RandomizationResult:
    """Randomisation test of all contrasts of ``items`` with one set of allocations re-drawn
    within teams; ``kwargs`` go to :func:`dreamkit.inference.randomization_inference`."""
    design = items[0][0]
    return randomization_inference(
        ContrastStatistic(items), design.treated, design.clusters, **kwargs
    )


def adjusted_columns(
    t_obs: ArrayLike,
    t_draws: ArrayLike,
    p_value: ArrayLike,
    *,
    method: AdjustMethod,
    plus_one: bool,
) -> dict[str, NDArray[np.float64]]:
    """``p_adjusted`` (Romano-Wolf step-down max-T, or Westfall-Young step-down min-P) from
    joint null draws, and ``p_holm``, ``p_bh`` from the marginal p-values; the family is all K
    statistics."""
    if method == "romano-wolf":
        adjusted = romano_wolf(t_obs, t_draws, plus_one=plus_one)
    elif method == "westfall-young":
        adjusted = westfall_young(t_obs, t_draws, method="minp", plus_one=plus_one)
    else:
        raise InputError(f"method must be 'romano-wolf' or 'westfall-young'; got {method!r}.")
    return {
        "p_adjusted": np.asarray(adjusted, dtype=np.float64),
        "p_holm": adjust_pvalues(p_value, "holm"),
        "p_bh": adjust_pvalues(p_value, "fdr_bh"),
    }


def check_source(draws: str) -> None:
    """``draws`` must name a source of joint null draws."""
    if draws not in ("bootstrap", "randomization"):
        raise InputError(f"draws must be 'bootstrap' or 'randomization'; got {draws!r}.")


def bootstrap_method(res: WildBootstrapResult) -> str:
    """Label such as ``"WCR rademacher"`` (``" (full enumeration)"`` when enumerated)."""
    kind = "WCR" if res.impose_null else "WCU"
    return f"{kind} {res.weights}" + (" (full enumeration)" if res.full_enumeration else "")


def randomization_method(res: RandomizationResult) -> str:
    """Label ``"randomization (exact)"`` or ``"randomization (Monte Carlo)"``."""
    return f"randomization ({'exact' if res.exact else 'Monte Carlo'})"


@dataclass(frozen=True, eq=False)
class NullDraws:
    """Observed statistics (K,), their joint null draws (B, K) and marginal p-values (K,),
    with the method label, the number of draws used and whether the adjustment counts the
    observed statistic (``plus_one``: Monte Carlo randomisation)."""

    t_obs: NDArray[np.float64]
    t_draws: NDArray[np.float64]
    p_value: NDArray[np.float64]
    label: str
    n_draws: int
    plus_one: bool

    @classmethod
    def from_bootstrap(cls, res: WildBootstrapResult) -> NullDraws:
        r"""The bootstrap t's of a wild cluster bootstrap (:math:`p = B^{-1}\#\{|t^*| \ge |t|\}`,
        so the observed t is not counted)."""
        return cls(res.t_stat, res.t_boot, res.p_value, bootstrap_method(res), res.n_boot, False)

    @classmethod
    def from_randomization(cls, res: RandomizationResult) -> NullDraws:
        """The re-drawn statistics of a randomisation test (observed counted unless exact)."""
        label = randomization_method(res)
        return cls(res.statistic, res.draws, res.p_value, label, res.draws.shape[0], not res.exact)


def adjusted_table(
    keys: Mapping[str, Sequence[Any]],
    estimate: ArrayLike,
    draws: NullDraws,
    method: AdjustMethod,
) -> pl.DataFrame:
    """The rows of :func:`inference_table` with the t statistic and the adjusted p-values of
    :func:`adjusted_columns` over the family of all rows. Columns: the key columns, estimate,
    t_stat, p_value, p_adjusted, p_holm, p_bh, method (``"<label>; <method>"``), draws."""
    adj = adjusted_columns(
        draws.t_obs, draws.t_draws, draws.p_value, method=method, plus_one=draws.plus_one
    )
    return inference_table(
        keys,
        estimate,
        draws.p_value,
        None,
        None,
        f"{draws.label}; {method}",
        draws.n_draws,
        extra={"t_stat": draws.t_obs, **adj},
    ).select(
        *keys,
        "estimate",
        "t_stat",
        "p_value",
        "p_adjusted",
        "p_holm",
        "p_bh",
        "method",
        "draws",
    )


#: A family of contrasts: per cells design, its contrasts as (key columns' values, weights c).
ContrastFamily = Sequence[tuple[CellDesign, Sequence[tuple[Mapping[str, Any], ArrayLike]]]]


def family_wild_bootstrap(family: ContrastFamily, **kwargs: Any) -> pl.DataFrame:
    """Restricted wild cluster bootstrap (:func:`contrast_wild_bootstrap`, ``impose_null=True``)
    of every contrast of ``family``, for every outcome; ``kwargs`` go to
    :func:`dreamkit.inference.wild_cluster_bootstrap` (one seed, hence one set of cluster
    weights, for all). Rows of :func:`inference_table` ordered design, contrast, outcome (the
    key columns, then ``outcome``), plus ``p_romano_wolf``: Romano-Wolf across all rows from
    the joint bootstrap t's."""
    runs = [
        (
            _family_keys(design, [key]),
            contrast_wild_bootstrap(design, c, impose_null=True, **kwargs),
        )
        for design, contrasts in family
        for key, c in contrasts
    ]
    parts = [
        inference_table(
            keys,
            res.estimate,
            res.p_value,
            res.conf_low,
            res.conf_high,
            bootstrap_method(res),
            res.n_boot,
        )
        for keys, res in runs
    ]
    adj = adjusted_columns(
        np.concatenate([res.t_stat for _, res in runs]),
        np.hstack([res.t_boot for _, res in runs]),
        np.concatenate([res.p_value for _, res in runs]),
        method="romano-wolf",
        plus_one=False,
    )
    return pl.concat(parts).with_columns(pl.Series("p_romano_wolf", adj["p_adjusted"]))


def family_randomization(family: ContrastFamily, **kwargs: Any) -> pl.DataFrame:
    """Randomisation test of every contrast of ``family`` with one set of allocations
    (:func:`contrast_randomization`; ``kwargs`` go to
    :func:`dreamkit.inference.randomization_inference`). Rows as
    :func:`family_wild_bootstrap` (conf_low, conf_high NaN), ``p_romano_wolf`` from the joint
    draws."""
    keys: dict[str, list[Any]] = {}
    for design, contrasts in family:
        for name, values in _family_keys(design, [key for key, _ in contrasts]).items():
            keys.setdefault(name, []).extend(values)
    items = [(design, np.array([c for _, c in contrasts])) for design, contrasts in family]
    res = contrast_randomization(items, **kwargs)
    adj = adjusted_columns(
        res.statistic, res.draws, res.p_value, method="romano-wolf", plus_one=not res.exact
    )
    return inference_table(
        keys,
        res.statistic,
        res.p_value,
        None,
        None,
        randomization_method(res),
        res.draws.shape[0],
        extra={"p_romano_wolf": adj["p_adjusted"]},
    )


def _family_keys(design: CellDesign, keys: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
    """Key columns for ``keys`` x the design's outcomes (contrast-major), then ``outcome``."""
    n_out = len(design.outcomes)
    out: dict[str, list[Any]] = {name: [] for name in keys[0]} | {"outcome": []}
    for key in keys:
        for name, value in key.items():
            out[name] += [value] * n_out
        out["outcome"] += list(design.outcomes)
    return out


def inference_table(
    keys: Mapping[str, Sequence[Any]],
    estimate: ArrayLike,
    p_value: ArrayLike,
    conf_low: ArrayLike | None,
    conf_high: ArrayLike | None,
    method: str,
    draws: int,
    extra: Mapping[str, ArrayLike] | None = None,
) -> pl.DataFrame:
    """Tidy rows: the key columns, then estimate, p_value, conf_low, conf_high (NaN when the method
    gives no interval), method, draws, and ``extra`` columns."""
    est = np.asarray(estimate, dtype=np.float64).reshape(-1)
    nan = np.full(est.shape[0], np.nan)
    cols: dict[str, Any] = {k: list(v) for k, v in keys.items()}
    cols |= {
        "estimate": est,
        "p_value": np.asarray(p_value, dtype=np.float64).reshape(-1),
        "conf_low": nan if conf_low is None else np.asarray(conf_low, dtype=np.float64).reshape(-1),
        "conf_high": nan
        if conf_high is None
        else np.asarray(conf_high, dtype=np.float64).reshape(-1),
        "method": [method] * est.shape[0],
        "draws": np.full(est.shape[0], draws, dtype=np.int64),
    }
    for key, value in (extra or {}).items():
        cols[key] = np.asarray(value).reshape(-1)
    return pl.DataFrame(cols)
