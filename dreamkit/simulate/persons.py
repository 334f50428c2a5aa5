"""Per-person inputs of the weekly loop, shared by trials and population registers."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from dreamkit.simulate.baseline import low_share_of_peers, prognostic_matrix
from dreamkit.simulate.effects import TrueEffects
from dreamkit.simulate.engine import Persons
from dreamkit.simulate.history import HistoryParams, draw_history
from dreamkit.simulate.process import ProcessParams


def make_persons(
    rng: np.random.Generator,
    *,
    alloc_col: npt.NDArray[np.int64],
    baseline: Mapping[str, np.ndarray],
    team: np.ndarray,
    municipality: np.ndarray,
    waiting_days: np.ndarray,
    effects: TrueEffects,
    process: ProcessParams,
    history: HistoryParams,
) -> tuple[Persons, npt.NDArray[np.float64]]:
    r"""The loop's inputs and the municipality effects :math:`\gamma_k`.

    ``eta`` = :math:`\gamma_k + x'\beta`; ``effect`` = :math:`\tau + \tau_{low} Low_i +
    \tau_{peer} (P_i - c)`; lock-in end :math:`L_i = \lceil \text{waiting days}/7 \rceil +`
    ``course_weeks``.
    """
    n = team.size
    xb = prognostic_matrix(baseline) @ np.asarray(process.beta)
    gamma = rng.normal(0.0, process.stratum_sd, int(municipality.max()) + 1)
    uwses = np.asarray(baseline["uwses"])
    low = (uwses <= effects.low_cutoff).astype(np.float64)
    peers = low_share_of_peers(team, uwses, effects.peer_cutoff)
    effect = effects.tau + effects.tau_low * low + effects.tau_peer * (peers - effects.peer_centre)
    lock_end = -(-np.asarray(waiting_days, dtype=np.int64) // 7) + effects.course_weeks
    persons = Persons(
        alloc_col=alloc_col,
        history=draw_history(rng, np.asarray(baseline["ordinary_job"]), history),
        eta=gamma[municipality] + xb,
        effect=effect,
        tau_lock=effects.tau_lock,
        lock_end=lock_end,
        shift=process.kappa * xb,
        employment_entry=effects.employment_entry,
        flexjob=rng.random(n) < process.share_flexjob,
        job_clarification=rng.random(n) < process.share_job_clarification,
        resource_course=rng.random(n) < process.share_resource_course,
    )
    return persons, gamma
