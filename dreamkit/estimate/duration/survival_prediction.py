r"""Predicted survival by arm from a fitted discrete-time hazard, with delta-method intervals.

For arm :math:`a`, the survival curve standardised over the fitted sample (every person's own
stratum and covariates, the treatment set to :math:`a`) is

.. math::

    \bar S_a(t) = \sum_i w_i \prod_{s \le t} \bigl(1 - \lambda(s \mid x_i, T_i = a)\bigr),
    \qquad \lambda = F^{-1}(\eta_{is}), \quad \eta_{is} = z_{is}'\beta,

with :math:`w_i` the persons' shares (with duration-varying treatment effects,
``treatment_by``, the treatment term of week :math:`s` is :math:`b_{m(s)} a`). Its gradient
with respect to the hazard coefficients is

.. math::

    \frac{\partial \bar S_a(t)}{\partial \beta} = \sum_i w_i S_{it}
    \sum_{s \le t} \frac{\partial \log(1 - \lambda_{is})}{\partial \eta_{is}}\, z_{is},
    \qquad \frac{\partial \log(1-\lambda)}{\partial \eta} =
    \begin{cases} -\lambda & \text{logit} \\ \log(1 - \lambda) & \text{cloglog,} \end{cases}

and the delta method gives :math:`\operatorname{Var}\bar S_a(t) = g' V g` with :math:`V` the
fit's covariance (CRV1 by team by default). Intervals for :math:`\bar S_a(t)` are formed on the
complementary log-log scale, :math:`\theta = \log(-\log \bar S)` with
:math:`\operatorname{se}(\theta) = \operatorname{se}(\bar S) / (\bar S\,|\log \bar S|)`, and
transformed back, so they stay inside (0, 1). The difference :math:`\bar S_1(t) - \bar S_0(t)`
has gradient :math:`g_1 - g_0` and a normal interval. Critical values are normal, as for the
hazard coefficients.

**Strata with few teams.** The curves depend on the stratum effects. A stratum effect's
cluster scores sum to zero within its stratum (its first-order condition), so with CRV1 its
variance is estimated from the spread of only :math:`G_k` cluster scores around zero and is
biased downwards when strata hold few teams (:math:`G_k` = 1-2 in the reference study's
municipalities). In a known-truth simulation with 2 teams per stratum
(``benchmarks/survival_interval_coverage.py``) the 95% intervals of :math:`\bar S_1(t)`
covered 0.875-0.920 with CRV1 and 0.930-0.945 with the model-based (``iid``) covariance; with
10 or 30 teams per stratum CRV1 covered 0.925-0.970. The functions warn
(:class:`~dreamkit.errors.InferenceWarning`) when a CRV1 fit has a stratum with fewer than
:data:`MIN_CLUSTERS_PER_STRATUM` teams; refit with ``cov_type="iid"`` for the curves then.
"""

from __future__ import annotations

import warnings
from typing import Protocol

import numpy as np
import polars as pl
import scipy.stats
from numpy.typing import NDArray

from dreamkit.errors import InferenceWarning, InputError
from dreamkit.estimate.duration.duration_dependence import DurationGrid, varying_names
from dreamkit.estimate.glm import GLMFit
from dreamkit.inference._checks import check_level
from dreamkit.parallel import row_blocks


class _HazardModel(Protocol):
    """What the prediction needs of a hazard model's specification."""

    @property
    def treatment(self) -> str | None: ...
    @property
    def stratum(self) -> str | None: ...
    @property
    def raw_columns(self) -> list[str]: ...
    @property
    def dense_names(self) -> tuple[str, ...]: ...
    def dense(self, raw: NDArray[np.float64]) -> NDArray[np.float64]: ...


class HazardResult(Protocol):
    """What the prediction needs of a fitted hazard (structural, so this module does not
    import :mod:`dreamkit.estimate.duration.hazard`, which imports it)."""

    @property
    def model(self) -> _HazardModel: ...
    @property
    def glm(self) -> GLMFit: ...
    @property
    def grid(self) -> DurationGrid: ...
    @property
    def pattern_raw(self) -> NDArray[np.float64]: ...
    @property
    def pattern_weight(self) -> NDArray[np.float64]: ...
    @property
    def pattern_stratum(self) -> NDArray[np.int64] | None: ...
    @property
    def stratum_labels(self) -> tuple[str, ...]: ...
    @property
    def min_clusters_per_stratum(self) -> int | None: ...
    @property
    def treatment_grid(self) -> DurationGrid | None: ...
    def hazard_matrix(
        self,
        raw: NDArray[np.float64],
        stratum: NDArray[np.int64] | None,
        periods: NDArray[np.int64],
    ) -> NDArray[np.float64]: ...


MIN_CLUSTERS_PER_STRATUM = 5
BLOCK = 1 << 15  # persons (patterns) per block of the sums


def _warn_if_few_teams(result: HazardResult) -> None:
    """Warn when cluster-robust intervals of the curves are known to be too narrow (module
    docstring); CR2 shares the problem: a team that alone identifies a stratum effect
    contributes nothing to that effect's variance under either estimator."""
    fewest = result.min_clusters_per_stratum
    kind = result.glm.cov_type
    if kind in ("CRV1", "CR2") and fewest is not None and fewest < MIN_CLUSTERS_PER_STRATUM:
        warnings.warn(
            f"a stratum of this fit holds only {fewest} team(s): {kind} understates the variance "
            "of the stratum effects, so intervals of predicted survival are too narrow; refit "
            "with cov_type='iid' for the curves' intervals (see "
            "dreamkit.estimate.duration.survival_prediction).",
            InferenceWarning,
            stacklevel=4,
        )


def _periods(result: HazardResult, periods: int | None) -> NDArray[np.int64]:
    """Weeks 1..periods (default: the longest duration in the data), checked."""
    last = int(periods or result.grid.lut.size - 1)
    if last < 1 or last > result.grid.lut.size - 1:
        raise InputError(
            f"periods={last} is outside the observed weeks 1..{result.grid.lut.size - 1}."
        )
    return np.arange(1, last + 1)


def _z(level: float) -> float:
    return float(scipy.stats.norm.ppf(0.5 + check_level(level) / 2))


def arm_survival(
    result: HazardResult, arm: int, weeks: NDArray[np.int64], block: int = BLOCK
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Average hazard, standardised survival and its gradient (weeks x parameters) for ``arm``.

    Every sum runs over persons (patterns), so it is accumulated over blocks of ``block``
    patterns: the working memory is a few (block x weeks) arrays however large the sample.
    """
    model, glm, grid = result.model, result.glm, result.grid
    if not model.treatment:
        raise InputError("predicted survival by arm needs a model with a treatment column.")
    treatment = model.raw_columns.index(model.treatment)
    w = result.pattern_weight / result.pattern_weight.sum()
    n_weeks, n_strata = weeks.size, len(result.stratum_labels)
    by_stratum = result.pattern_stratum is not None and n_strata > 1
    mean_hazard, mean_survival = np.zeros(n_weeks), np.zeros(n_weeks)
    inner = np.zeros((n_weeks, n_weeks))  # (t, s): sum_i w_i S_it dlog_is
    per_stratum = np.zeros((n_strata, n_weeks))
    dense_grad = np.zeros((n_weeks, len(model.dense_names)))
    for part in row_blocks(w.size, block):
        raw = result.pattern_raw[part].copy()
        raw[:, treatment] = arm
        stratum = None if result.pattern_stratum is None else result.pattern_stratum[part]
        hazard = result.hazard_matrix(raw, stratum, weeks)
        survival = np.cumprod(1.0 - hazard, axis=1)
        dlog = -hazard if glm.link == "logit" else np.log1p(-hazard)
        mean_hazard += w[part] @ hazard
        mean_survival += w[part] @ survival
        weighted = w[part, None] * survival
        inner += weighted.T @ dlog
        # terms constant over the spell: sum_i w_i S_it (sum_s<=t dlog_is) z_i
        through = weighted * np.cumsum(dlog, axis=1)
        if by_stratum and stratum is not None:
            np.add.at(per_stratum, stratum, through)
        if model.dense_names:
            dense_grad += through.T @ model.dense(raw)
    pos = {name: j for j, name in enumerate(glm.names)}
    grad = np.zeros((n_weeks, len(glm.names)))
    # duration terms: sum_s<=t inner[t, s] B[s, :]
    if grid.is_step:
        grad[:, : grid.n_groups] = np.tril(inner) @ np.eye(grid.n_groups)[grid.lut[weeks]]
    else:
        grad[:, [pos[n] for n in grid.basis_names]] = np.tril(inner) @ grid.basis(weeks)
    if by_stratum:
        cols = [pos[f"{model.stratum}[{lab}]"] for lab in result.stratum_labels[1:]]
        grad[:, cols] = per_stratum[1:].T
    if model.dense_names:
        grad[:, [pos[n] for n in model.dense_names]] = dense_grad
    tg = result.treatment_grid
    if tg is not None:  # duration-varying treatment: T_i = arm in the weeks of interval m
        cols = [pos[n] for n in varying_names(str(model.treatment), tg)]
        grad[:, cols] = arm * (np.tril(inner) @ np.eye(tg.n_groups)[tg.lut[weeks]])
    return mean_hazard, mean_survival, grad


def _se(grad: NDArray[np.float64], cov: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.sqrt(np.einsum("tp,pq,tq->t", grad, cov, grad))


def predict_survival(
    result: HazardResult, periods: int | None = None, level: float = 0.95
) -> pl.DataFrame:
    """Standardised survival by arm (module docstring) with delta-method intervals.

    Columns: ``period``, ``arm``, ``hazard`` (average hazard), ``survival``, ``survival_se``,
    ``survival_low``, ``survival_high``.
    """
    z, weeks = _z(level), _periods(result, periods)
    _warn_if_few_teams(result)
    frames = []
    for arm in (0, 1):
        hazard, survival, grad = arm_survival(result, arm, weeks)
        se = _se(grad, result.glm.cov)
        scale = np.abs(np.log(survival))
        with np.errstate(divide="ignore", invalid="ignore"):
            half = z * se / (survival * scale)
        theta = np.log(scale)
        frames.append(
            pl.DataFrame(
                {
                    "period": weeks,
                    "arm": np.full(weeks.size, arm),
                    "hazard": hazard,
                    "survival": survival,
                    "survival_se": se,
                    "survival_low": np.exp(-np.exp(theta + half)),
                    "survival_high": np.exp(-np.exp(theta - half)),
                }
            )
        )
    return pl.concat(frames)


def survival_difference(
    result: HazardResult, periods: int | None = None, level: float = 0.95
) -> pl.DataFrame:
    """:math:`\\bar S_1(t) - \\bar S_0(t)` with its delta-method SE, normal interval and
    two-sided p-value. Columns: ``period``, ``difference``, ``std_error``, ``conf_low``,
    ``conf_high``, ``p_value``."""
    z, weeks = _z(level), _periods(result, periods)
    _warn_if_few_teams(result)
    _, s0, g0 = arm_survival(result, 0, weeks)
    _, s1, g1 = arm_survival(result, 1, weeks)
    diff, se = s1 - s0, _se(g1 - g0, result.glm.cov)
    return pl.DataFrame(
        {
            "period": weeks,
            "difference": diff,
            "std_error": se,
            "conf_low": diff - z * se,
            "conf_high": diff + z * se,
            "p_value": 2 * scipy.stats.norm.sf(np.abs(diff) / se),
        }
    )
