r"""The true effects a simulation is built on, and the hazard links.

The hazard of the first exit from the sickness-duration set after allocation is

.. math::

    h_{it} = F\bigl(\alpha_t + \gamma_{k(i)} + x_i'\beta + T_i\,[\tau + \tau_{low} Low_i
             + \tau_{peer}(P_i - c) + \tau_{lock}\,1\{t \le L_i\}]\bigr),

with :math:`Low_i = 1[\mathrm{UWSES}_i \le` ``low_cutoff`` :math:`]`, :math:`P_i` the
leave-one-out share of the person's team-mates with UW-SES :math:`\le` ``peer_cutoff``,
:math:`c` = ``peer_centre`` and the lock-in end :math:`L_i = \lceil \text{waiting days}_i / 7
\rceil +` ``course_weeks`` (waiting for and attending the course). ``employment_entry`` shifts
the log-odds of every later move into ordinary employment for treated persons.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from dreamkit.errors import InputError

Link = Literal["logit", "cloglog"]
LINKS: tuple[str, ...] = ("logit", "cloglog")


@dataclass(frozen=True)
class TrueEffects:
    """True treatment effects on the link scale of the first-exit hazard (module docstring).

    Defaults resemble the reference study's pattern: a small negative average effect on
    exits, a benefit for low self-efficacy and a lock-in while waiting for and attending the
    course. :meth:`null` gives a trial without any effect.
    """

    tau: float = -0.10
    tau_low: float = 0.30
    tau_lock: float = -0.30
    tau_peer: float = 0.0
    employment_entry: float = 0.0
    low_cutoff: int = 10
    peer_cutoff: int = 8
    peer_centre: float = 0.5
    course_weeks: int = 6

    def __post_init__(self) -> None:
        for name in ("low_cutoff", "peer_cutoff"):
            value = getattr(self, name)
            if not isinstance(value, int) or not 0 <= value < 24:
                raise InputError(
                    f"TrueEffects.{name} = {value!r}; it must be an integer UW-SES cut-off in "
                    "0..23 (low = 0..cut-off)."
                )
        if not isinstance(self.course_weeks, int) or self.course_weeks < 0:
            raise InputError(
                f"TrueEffects.course_weeks = {self.course_weeks!r}; give the course length in "
                "whole weeks (>= 0)."
            )
        values = (self.tau, self.tau_low, self.tau_lock, self.tau_peer, self.employment_entry)
        if not all(np.isfinite(values)):
            raise InputError("TrueEffects: every effect must be a finite number.")

    @classmethod
    def null(cls) -> TrueEffects:
        """All effects zero (the sharp null): both potential outcomes coincide."""
        return cls(tau=0.0, tau_low=0.0, tau_lock=0.0, tau_peer=0.0, employment_entry=0.0)

    @property
    def is_null(self) -> bool:
        return not any(
            (self.tau, self.tau_low, self.tau_lock, self.tau_peer, self.employment_entry)
        )


def check_link(link: str) -> Link:
    """Validate a link name (``"logit"`` or ``"cloglog"``)."""
    if link not in LINKS:
        raise InputError(f"link = {link!r}; use 'logit' or 'cloglog'.")
    return link  # type: ignore[return-value]


def inverse_link(eta: npt.NDArray[np.floating], link: Link) -> npt.NDArray[np.floating]:
    r"""Hazard from the linear index: :math:`1/(1+e^{-\eta})` (logit) or
    :math:`1-\exp(-e^{\eta})` (complementary log-log)."""
    if link == "logit":
        return 1.0 / (1.0 + np.exp(-eta))
    return -np.expm1(-np.exp(eta))
