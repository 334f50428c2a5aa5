r"""Baseline questionnaire: UW-SES items and covariates from a latent self-efficacy.

A latent self-efficacy :math:`\theta_i \sim N(0, 1)` drives the six UW-SES items through an
ordered-probit model, :math:`y^*_{ik} = a + \lambda\theta_i + \varepsilon_{ik}`,
:math:`\varepsilon_{ik} \sim N(0,1)`, item :math:`= \#\{j : y^*_{ik} > c_j\}` with thresholds
:math:`c = (-1.5, -0.5, 0.5, 1.5)`, so each item is 0..4 and the total 0..24. With
:math:`a = -0.2, \lambda = 1.1` the total has mean about 11 and about 46% score 0-10.

Covariates (binary ones are ``Int8``, 1 = yes) come from probit/ordered-probit equations in
:math:`\theta_i` and independent noise, so several of them are correlated with
self-efficacy and (through :data:`PROGNOSIS`) with the outcome process:

====================  =====================================================================
female                woman (about 70%)
age                   years, 18-64, mean about 44
partner               lives with a partner (about 60%)
children              children under 18 at home (about 40%)
higher_education      medium or long higher education (about 30%)
public_job            last job in the public sector (about 35%)
ordinary_job          ordinary (non-subsidised) job before the sick leave (about 75%)
mental_cause          sick leave for a mental-health reason (about 45%; more with low theta)
work_related          the person sees the sickness as work-related (about 30%)
belief_in_treatment   1-5, belief that the course will help (higher with theta)
expected_return       1-5, expected time to full return: 1 < 1 month, 2 1-3 months,
                      3 3-6 months, 4 > 6 months, 5 never / do not know (lower with theta)
self_rated_health     1-5, 1 = poor ... 5 = excellent (higher with theta)
====================  =====================================================================
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

ITEM_THRESHOLDS = np.array([-1.5, -0.5, 0.5, 1.5])
ITEM_INTERCEPT = -0.2
ITEM_LOADING = 1.1

#: Covariates x of the first-exit hazard and their transformation: x = (column - centre) / scale.
PROGNOSIS: Mapping[str, tuple[float, float]] = {
    "uwses": (11.0, 5.0),
    "age": (45.0, 10.0),
    "female": (0.0, 1.0),
    "ordinary_job": (0.0, 1.0),
    "mental_cause": (0.0, 1.0),
    "belief_in_treatment": (3.0, 1.0),
    "expected_return": (3.0, 1.0),
    "self_rated_health": (3.0, 1.0),
}

BINARY = (
    "female",
    "partner",
    "children",
    "higher_education",
    "public_job",
    "ordinary_job",
    "mental_cause",
    "work_related",
)
ORDERED = ("belief_in_treatment", "expected_return", "self_rated_health")


def _probit(
    rng: np.random.Generator, theta: np.ndarray, share: float, load: float
) -> npt.NDArray[np.int8]:
    """Binary covariate 1[z + load*theta + e > 0] with marginal share ``share`` (e ~ N(0,1))."""
    from scipy.stats import norm

    cut = norm.ppf(1 - share) * np.sqrt(1 + load**2)
    return (load * theta + rng.standard_normal(theta.size) > cut).astype(np.int8)


def _ordered(
    rng: np.random.Generator, theta: np.ndarray, load: float, shift: float
) -> npt.NDArray[np.int8]:
    """Five-category ordered probit 1..5 in ``shift + load*theta + e``."""
    latent = shift + load * theta + rng.standard_normal(theta.size)
    return (1 + np.searchsorted(ITEM_THRESHOLDS, latent)).astype(np.int8)


def uwses_items(rng: np.random.Generator, theta: np.ndarray) -> npt.NDArray[np.int8]:
    """Six UW-SES items (0..4) per person, shape (n, 6)."""
    latent = ITEM_INTERCEPT + ITEM_LOADING * theta[:, None]
    latent = latent + rng.standard_normal((theta.size, 6))
    return np.searchsorted(ITEM_THRESHOLDS, latent).astype(np.int8)


def draw_baseline(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Baseline columns (module docstring): ``uwses_1..6``, ``uwses`` and the covariates."""
    theta = rng.standard_normal(n)
    items = uwses_items(rng, theta)
    out: dict[str, np.ndarray] = {f"uwses_{k + 1}": items[:, k] for k in range(6)}
    out["uwses"] = items.sum(axis=1, dtype=np.int16)
    out["female"] = _probit(rng, theta, 0.70, -0.2)
    age = np.clip(np.round(44 + 10 * rng.standard_normal(n)), 18, 64)
    out["age"] = age.astype(np.int16)
    out["partner"] = _probit(rng, theta, 0.60, 0.2)
    out["children"] = _probit(rng, theta, 0.40, 0.0)
    out["higher_education"] = _probit(rng, theta, 0.30, 0.2)
    out["public_job"] = _probit(rng, theta, 0.35, 0.0)
    out["ordinary_job"] = _probit(rng, theta, 0.75, 0.3)
    out["mental_cause"] = _probit(rng, theta, 0.45, -0.6)
    out["work_related"] = _probit(rng, theta, 0.30, -0.2)
    out["belief_in_treatment"] = _ordered(rng, theta, 0.5, 0.6)
    out["expected_return"] = _ordered(rng, theta, -0.6, 0.0)
    out["self_rated_health"] = _ordered(rng, theta, 0.6, -0.3)
    return out


def prognostic_matrix(columns: Mapping[str, np.ndarray]) -> npt.NDArray[np.float64]:
    """The hazard's covariates x (n, len(PROGNOSIS)), transformed as in :data:`PROGNOSIS`."""
    return np.column_stack(
        [
            (np.asarray(columns[name], dtype=np.float64) - c) / s
            for name, (c, s) in PROGNOSIS.items()
        ]
    )


def low_share_of_peers(team: np.ndarray, uwses: np.ndarray, cutoff: int) -> npt.NDArray[np.float64]:
    r"""Leave-one-out share of team-mates with low self-efficacy,
    :math:`P_i = (\sum_{j \in h(i)} Low_j - Low_i) / (n_{h(i)} - 1)` (0 in a one-person team)."""
    low = (uwses <= cutoff).astype(np.float64)
    n = np.bincount(team).astype(np.float64)
    total = np.bincount(team, weights=low)
    mates = n[team] - 1
    return np.divide(total[team] - low, mates, out=np.zeros_like(low), where=mates > 0)
