r"""Weeks after allocation: the first exit from sickness benefit etc., then a Markov chain.

**First exit.** Everyone is in category S (the sickness-duration set) in the allocation week.
In week :math:`t = 1, 2, \dots` a person still in the first spell leaves it with probability

.. math::

    h_{it} = F\bigl(\alpha_t + \gamma_{k(i)} + x_i'\beta + T_i\,[\tau + \tau_{low} Low_i
             + \tau_{peer}(P_i - c) + \tau_{lock}\,1\{t \le L_i\}]\bigr),
    \qquad \alpha_t = \alpha_0 + \alpha_1 \log t,

:math:`F` the logistic or complementary log-log function, :math:`\gamma_k \sim N(0,`
``stratum_sd`` :math:`^2)` one draw per municipality and :math:`x_i` the columns of
:data:`dreamkit.simulate.baseline.PROGNOSIS` (UW-SES total, age, female, ordinary job, mental
cause, belief in treatment, expected return, self-rated health; centred and scaled there)
with coefficients ``beta``. The event is ``u_it < h_it`` with one uniform per person-week, so
the discrete-time hazard model with exactly these regressors (week dummies or the smooth
:math:`\alpha_t`, municipality dummies, :math:`x`, :math:`T`) is correctly specified.

**Destination** of the first exit: E, U, O or D (disability pension) with probabilities
``destination`` whose E log-odds are shifted by :math:`\kappa x_i'\beta +
T_i\,\delta_E` (:math:`\delta_E` = ``TrueEffects.employment_entry``); the other
probabilities are rescaled to fill the rest.

**Later weeks** follow a weekly Markov chain over E, S, U, O, D with move probabilities
``moves[from][to]`` (staying takes the rest; D is absorbing). Moves into E from S, U or O
have their log-odds shifted by the same :math:`\kappa x_i'\beta + T_i\,\delta_E`, so
prognosis and treatment also act on re-employment; a return to S (relapse) starts a new
sickness spell that no longer follows the first-exit hazard.

**Detailed states.** An S week is sickness benefit, after 22 weeks of the spell job
clarification (for ``share_job_clarification`` of persons) and after 52 weeks a resource
course (``share_resource_course``); ``share_flexjob`` of persons get sickness benefit in a
flex job throughout; any S week except flex job is an activation week (guidance with
probability ``p_activation_guidance``, firm-based with ``p_activation_firm``). A U week is
activation of the insured unemployed with probability ``p_unemployment_activation``. Each O
spell is cash benefit, education, leave or no transfer with probabilities ``other_states``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from dreamkit.errors import InputError
from dreamkit.simulate.baseline import PROGNOSIS

_MOVES = (
    (0.0, 0.020, 0.015, 0.008, 0.0),  # from E: to E, S, U, O, D
    (0.015, 0.0, 0.010, 0.010, 0.003),  # from S
    (0.025, 0.012, 0.0, 0.012, 0.0),  # from U
    (0.012, 0.010, 0.010, 0.0, 0.0),  # from O
    (0.0, 0.0, 0.0, 0.0, 0.0),  # from D (absorbing)
)


@dataclass(frozen=True)
class ProcessParams:
    """Parameters of the post-allocation process (module docstring); defaults are calibrated
    to the study: about 20% never leave sickness benefit etc. by week 81, about half have no
    4-week employment spell by week 81."""

    alpha0: float = -2.9
    alpha1: float = -0.30
    beta: tuple[float, ...] = (0.45, -0.15, -0.05, 0.35, -0.25, 0.10, -0.20, 0.10)
    stratum_sd: float = 0.25
    kappa: float = 1.0
    destination: tuple[float, float, float, float] = (0.33, 0.24, 0.30, 0.13)  # E, U, O, D
    moves: tuple[tuple[float, ...], ...] = _MOVES
    share_flexjob: float = 0.03
    share_job_clarification: float = 0.7
    share_resource_course: float = 0.15
    p_activation_guidance: float = 0.10
    p_activation_firm: float = 0.04
    p_unemployment_activation: float = 0.15
    other_states: tuple[float, float, float, float] = (0.45, 0.08, 0.12, 0.35)  # CB ED LV NT
    covariates: tuple[str, ...] = field(default=tuple(PROGNOSIS), init=False)

    def __post_init__(self) -> None:
        if len(self.beta) != len(PROGNOSIS):
            raise InputError(
                f"ProcessParams.beta has {len(self.beta)} coefficients; give one per "
                f"covariate {tuple(PROGNOSIS)}."
            )
        moves = np.asarray(self.moves, dtype=np.float64)
        if moves.shape != (5, 5) or (moves < 0).any() or (moves.sum(axis=1) >= 1).any():
            raise InputError(
                "ProcessParams.moves must be 5 x 5 move probabilities (E, S, U, O, D) with "
                "row sums below 1 (staying takes the rest)."
            )
        for name in ("destination", "other_states"):
            shares = np.asarray(getattr(self, name))
            if shares.size != 4 or (shares < 0).any() or not np.isclose(shares.sum(), 1):
                raise InputError(f"ProcessParams.{name} must be 4 probabilities summing to 1.")

    def alpha(self, weeks: int) -> npt.NDArray[np.float64]:
        r""":math:`\alpha_t = \alpha_0 + \alpha_1 \log t` for :math:`t = 1..` ``weeks``."""
        return self.alpha0 + self.alpha1 * np.log(np.arange(1, weeks + 1))


def shift_odds(p: np.ndarray, shift: np.ndarray) -> npt.NDArray[np.float64]:
    """Probabilities with log-odds shifted: expit(logit(p) + shift); 0 stays 0."""
    p = np.asarray(p, dtype=np.float64)
    with np.errstate(divide="ignore"):
        logit = np.log(p) - np.log1p(-p)
    return np.where(p > 0, 1 / (1 + np.exp(-(logit + shift))), 0.0)


def destination_cdf(params: ProcessParams, shift: np.ndarray) -> npt.NDArray[np.float64]:
    """(n, 4) cumulative destination probabilities over E, U, O, D (module docstring)."""
    base = np.asarray(params.destination)
    p_e = shift_odds(np.full(shift.size, base[0]), shift)
    rest = base[1:] / base[1:].sum() * (1 - p_e)[:, None]
    return np.cumsum(np.column_stack([p_e, rest]), axis=1)


def entry_to_employment(params: ProcessParams, shift: np.ndarray) -> npt.NDArray[np.float64]:
    """(n, 5) probability of a move into E from each category (E's own entry unused)."""
    moves = np.asarray(params.moves)
    return shift_odds(moves[None, :, 0], shift[:, None])
