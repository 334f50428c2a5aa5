"""One call: validate the estimators on a scenario by Monte Carlo.

:func:`validate` runs R replications of :func:`dreamkit.validate.replicate.replicate` for a
:class:`~dreamkit.validate.scenarios.Scenario` (on ``n_jobs`` processes, reproducible from
``seed``) and returns the draws with their summary (bias, RMSE, mean SE, Monte Carlo SD,
coverage with its Monte Carlo error, rejection rate; see
:func:`dreamkit.validate.montecarlo.summarise`).
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass

import polars as pl

from dreamkit.errors import InputError
from dreamkit.executor import ExecutorLike
from dreamkit.validate.montecarlo import run, summarise
from dreamkit.validate.replicate import replicate
from dreamkit.validate.scenarios import SCENARIOS, Scenario


@dataclass(frozen=True, eq=False)
class Validation:
    """Result of :func:`validate`: every draw, the summary table and the wall time."""

    scenario: Scenario
    n_replications: int
    seed: int
    draws: pl.DataFrame
    summary: pl.DataFrame
    seconds: float

    def __repr__(self) -> str:
        return (
            f"Validation({self.scenario.name}: R={self.n_replications}, seed={self.seed}, "
            f"{self.summary.height} estimator x estimand rows, {self.seconds:.1f} s)"
        )


def validate(
    scenario: Scenario | str,
    n_replications: int,
    *,
    seed: int = 0,
    n_jobs: int = 2,
    executor: ExecutorLike = None,
    progress: bool = True,
) -> Validation:
    """Monte Carlo validation of ``scenario`` (a :class:`Scenario` or a key of
    :data:`~dreamkit.validate.scenarios.SCENARIOS`) with ``n_replications`` replications.

    ``executor`` (a ``dask.distributed.Client``, a number of local processes, ...; see
    :mod:`dreamkit.executor`) overrides ``n_jobs``; the draws do not depend on it."""
    if isinstance(scenario, str):
        if scenario not in SCENARIOS:
            raise InputError(
                f"unknown scenario {scenario!r}; use one of {sorted(SCENARIOS)} or a Scenario."
            )
        scenario = SCENARIOS[scenario]
    start = time.perf_counter()
    draws = run(
        functools.partial(replicate, scenario),
        n_replications,
        seed=seed,
        n_jobs=n_jobs,
        executor=executor,
        progress=progress,
        description=scenario.name,
    )
    seconds = time.perf_counter() - start
    return Validation(scenario, n_replications, seed, draws, summarise(draws), seconds)
