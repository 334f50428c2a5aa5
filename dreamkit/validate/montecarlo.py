"""Monte Carlo runner: replicate "simulate, then estimate" and summarise against the truth.

A *replication* is a function ``replicate(seed) -> list[Draw]``: it simulates one trial with
known true effects and returns, for every estimand it checks, the estimate, its standard
error, its confidence interval and the true value. :func:`run` calls it R times with
independent seeds spawned from one master seed (``numpy.random.SeedSequence``), on several
processes, with a progress bar; :func:`summarise` turns the draws into the validation table:

* bias = mean(estimate - truth); RMSE = sqrt(mean((estimate - truth)^2));
* mean SE next to the Monte Carlo SD of the estimates (a correct SE has mean SE ~ MC SD);
* coverage = share of replications whose CI contains the truth, with its Monte Carlo
  standard error sqrt(c (1 - c) / R);
* rejection rate of H0: estimand = 0 at the CI's level (the size under a null design).

A draw may instead state ``covers`` / ``rejects`` directly (a simultaneous band covers a whole
path or not; a randomisation test rejects or not without an interval); those flags then
override the interval rule.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import polars as pl
import scipy.stats
from tqdm.auto import tqdm

from dreamkit.errors import InputError
from dreamkit.executor import (
    SINGLE_THREAD_ENV,
    Executor,
    ExecutorLike,
    ProcessExecutor,
    SerialExecutor,
    get_executor,
    resolve_executor,
    spawn_seeds,
)

__all__ = ["SINGLE_THREAD_ENV", "Draw", "binomial_band", "replication_seeds", "run", "summarise"]


@dataclass(frozen=True)
class Draw:
    """One estimate of one estimand in one replication.

    ``covers`` / ``rejects`` override the interval rules ``conf_low <= truth <= conf_high`` and
    ``0 not in [conf_low, conf_high]`` when given (``None``: use the interval; an interval with a
    NaN end then counts as "not reported").
    """

    estimator: str
    estimand: str
    estimate: float
    std_error: float
    conf_low: float
    conf_high: float
    truth: float
    replication: int = -1
    covers: bool | None = None
    rejects: bool | None = None


Replicate = Callable[[int], list[Draw]]

_SCHEMA = {
    "estimator": pl.String,
    "estimand": pl.String,
    "estimate": pl.Float64,
    "std_error": pl.Float64,
    "conf_low": pl.Float64,
    "conf_high": pl.Float64,
    "truth": pl.Float64,
    "replication": pl.Int64,
    "covers": pl.Boolean,
    "rejects": pl.Boolean,
}


def replication_seeds(seed: int, n_replications: int) -> list[int]:
    """Independent per-replication seeds spawned from one master seed
    (:func:`dreamkit.executor.spawn_seeds`)."""
    return spawn_seeds(seed, n_replications)


def run(
    replicate: Replicate,
    n_replications: int,
    *,
    seed: int = 0,
    n_jobs: int = 2,
    executor: ExecutorLike = None,
    progress: bool = True,
    description: str = "Monte Carlo",
) -> pl.DataFrame:
    """Run ``replicate`` ``n_replications`` times; return all draws as one table.

    Where the replications run (:mod:`dreamkit.executor`): ``executor`` if given (a number of
    local processes, a ``dask.distributed.Client``, a scheduler address or an Executor), else
    the session executor set with :func:`dreamkit.executor.set_executor`, else ``n_jobs``
    freshly *spawned* local processes whose BLAS and polars thread pools are limited to one
    thread (:data:`SINGLE_THREAD_ENV`). ``replicate`` must be picklable (a module-level
    function or a ``functools.partial`` of one). Results are identical for any executor and
    number of workers: each replication's seed is spawned in advance from ``seed``, and draws
    are returned in replication order. Spawned workers import the calling script, so a script
    must call this under ``if __name__ == "__main__":`` (notebooks need nothing).
    """
    if n_replications < 1 or n_jobs < 1:
        raise InputError(
            f"n_replications = {n_replications}, n_jobs = {n_jobs}; both must be >= 1."
        )
    chosen = executor if executor is not None else get_executor()
    pool: Executor
    if chosen is None:
        pool = SerialExecutor() if n_jobs == 1 else ProcessExecutor(n_jobs)
    else:
        pool = resolve_executor(chosen)
    seeds = replication_seeds(seed, n_replications)
    draws: list[Draw] = []
    bar = tqdm(total=n_replications, desc=description, disable=not progress, leave=False)
    if isinstance(pool, SerialExecutor):
        for r, result in enumerate(map(replicate, seeds)):
            draws.extend(_tag(result, r))
            bar.update()
    else:
        for r, result in enumerate(pool.map(replicate, seeds)):
            draws.extend(_tag(result, r))
        bar.update(n_replications)
    bar.close()
    return pl.DataFrame([asdict(d) for d in draws], schema=_SCHEMA, orient="row")


def _tag(result: Sequence[Draw], r: int) -> list[Draw]:
    return [Draw(**{**asdict(d), "replication": r}) for d in result]


def summarise(draws: pl.DataFrame) -> pl.DataFrame:
    """Bias, RMSE, mean SE vs Monte Carlo SD, coverage (with its MC error) and rejection rate
    per (estimator, estimand), in order of first appearance.

    ``coverage`` and ``rejection_rate`` are shares of the replications that report them
    (``n_coverage``, ``n_rejection``); ``coverage_mc_se`` = sqrt(c (1 - c) / n_coverage).
    """
    error = pl.col("estimate") - pl.col("truth")
    no_interval = pl.col("conf_low").is_nan() | pl.col("conf_high").is_nan()
    inside = (pl.col("conf_low") <= pl.col("truth")) & (pl.col("truth") <= pl.col("conf_high"))
    excludes_zero = (pl.col("conf_low") > 0) | (pl.col("conf_high") < 0)
    covered = (
        pl.when(pl.col("covers").is_not_null())
        .then(pl.col("covers"))
        .when(no_interval)
        .then(None)
        .otherwise(inside)
    )
    rejected = (
        pl.when(pl.col("rejects").is_not_null())
        .then(pl.col("rejects"))
        .when(no_interval)
        .then(None)
        .otherwise(excludes_zero)
    )
    return (
        draws.with_columns(covered.alias("_covered"), rejected.alias("_rejected"))
        .group_by(["estimator", "estimand"], maintain_order=True)
        .agg(
            pl.len().alias("replications"),
            pl.col("truth").mean().alias("mean_truth"),
            error.mean().alias("bias"),
            (error**2).mean().sqrt().alias("rmse"),
            pl.col("std_error").mean().alias("mean_se"),
            pl.col("estimate").std().alias("mc_sd"),
            pl.col("_covered").count().alias("n_coverage"),
            pl.col("_covered").cast(pl.Float64).mean().alias("coverage"),
            pl.col("_rejected").count().alias("n_rejection"),
            pl.col("_rejected").cast(pl.Float64).mean().alias("rejection_rate"),
        )
        .with_columns(
            (pl.col("coverage") * (1 - pl.col("coverage")) / pl.col("n_coverage"))
            .sqrt()
            .alias("coverage_mc_se")
        )
    )


def binomial_band(nominal: float, n: int, alpha: float = 0.001) -> tuple[float, float]:
    """Exact acceptance band for an observed share when the true probability is ``nominal``.

    With ``n`` independent replications the count of successes (covering intervals, or
    rejections) is Binomial(n, nominal). The band is [a / n, b / n] with a the largest count
    such that P(X < a) <= alpha / 2 and b the smallest count with P(X > b) <= alpha / 2, so a
    correct procedure falls outside it with probability at most ``alpha`` (default 1 in
    1,000).
    """
    if not 0 < nominal < 1 or n < 1 or not 0 < alpha < 1:
        raise InputError(
            f"binomial_band(nominal={nominal}, n={n}, alpha={alpha}): need 0 < nominal < 1, "
            "n >= 1 and 0 < alpha < 1."
        )
    lower = scipy.stats.binom.ppf(alpha / 2, n, nominal)
    if scipy.stats.binom.cdf(lower, n, nominal) > alpha / 2:
        lower -= 1  # P(X <= lower - 1) <= alpha/2, so counts >= lower are accepted
    lower += 1
    upper = scipy.stats.binom.isf(alpha / 2, n, nominal)
    return max(0.0, float(lower) / n), min(1.0, float(upper) / n)
