r"""Simulation-based power: simulate the trial, run the real estimator, count rejections.

For every effect size and replication r = 1..R, :func:`simulate_power` draws one trial from a
model and tests :math:`H_0: \tau = 0` at level :math:`\alpha` with the estimators dreamkit's
ITT analysis uses (on the same arrays, via the same functions):

* ``"crv1"``: the FWL estimate with stratum fixed effects and covariates
  (:func:`dreamkit.estimate.linear.fwl.fit_fwl`, the core of ``effect_path``), team-clustered
  CRV1 standard error, two-sided t test with G - 1 degrees of freedom;
* ``"ri"``: randomisation inference of the sharp null re-drawing the allocation within teams
  (studentised statistic, ``n_ri`` draws, :math:`p = (1 + \#)/(1 + R_{RI})`);
* ``"wcb"``: the restricted wild cluster bootstrap (Webb weights, ``n_boot`` draws).

The power estimate is the rejection rate :math:`\hat\pi = k/R` with a Wilson (or
Clopper-Pearson) band (:mod:`dreamkit.power.result`).

**Seeds.** Replication r gets the seed sequence ``SeedSequence(seed, spawn_key=(0,))``'s
r-th child, the same for every effect size (common random numbers: the power curve is
smooth in the effect), and everything in it (trial, RI draws, bootstrap weights) is drawn
from that child. Results are therefore identical for any number of processes or any
executor, and a run with R replications extends one with fewer.

**Models.** :class:`ReferenceTrialModel` simulates the reference trial (teams in
municipalities, 60/40 lottery within teams) with the light simulator of
:mod:`dreamkit.power.light` (or the full register simulator, ``simulator="full"``); its effect
parameter is a treatment shift of the simulator's hazard (``TrueEffects.tau`` by default),
and the effect reported is the true average effect on the analysed outcome, from both
potential outcomes with common random numbers. :class:`NormalClusterModel` draws a Gaussian
random-intercept outcome :math:`y_{ij} = \delta T_{ij} + u_j + e_{ij}` for which the analytic
formulas are exact, so analytic and simulated power can be compared.
"""

from __future__ import annotations

import functools
import math
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, Literal, NamedTuple, Protocol, TypeVar

import numpy as np
import polars as pl
import scipy.stats
from numpy.typing import NDArray

from dreamkit.errors import InputError
from dreamkit.estimate.linear.fwl import fit_fwl
from dreamkit.inference import fwl_statistic, randomization_inference, wild_cluster_bootstrap
from dreamkit.power.analytic import check_alpha, power_mean
from dreamkit.power.light import OUTCOMES, simulate_outcomes
from dreamkit.power.planning import icc_anova, partial_r2
from dreamkit.power.result import COLUMNS, PowerResult, rejection_band
from dreamkit.simulate import HistoryParams, ProcessParams, ReferenceDesign, TeamDesign, TrueEffects

Test = Literal["crv1", "ri", "wcb"]
TESTS: dict[str, str] = {
    "crv1": "CRV1 t",
    "ri": "randomisation inference",
    "wcb": "wild cluster bootstrap (WCR, Webb)",
}

T = TypeVar("T")
R = TypeVar("R")

#: Environment of spawned workers: one thread each (BLAS and polars), as in dreamkit.validate.
SINGLE_THREAD_ENV = {
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "POLARS_MAX_THREADS": "1",
}


class SimTrial(NamedTuple):
    """What the estimators need from one simulated trial (numpy arrays, one row a person)."""

    y: NDArray[np.float64]
    treated: NDArray[np.int8]
    strata: NDArray[np.intp] | None  # absorbed fixed effects (None: intercept)
    clusters: NDArray[np.intp]
    covariates: NDArray[np.float64] | None


class PowerModel(Protocol):
    """A data-generating process for :func:`simulate_power`."""

    @property
    def label(self) -> str: ...

    def draw(self, value: float, seed: np.random.SeedSequence) -> SimTrial: ...

    def true_effect(self, value: float, seed: np.random.SeedSequence) -> float: ...

    def analytic_power(
        self,
        effect: NDArray[np.float64],
        alpha: float,
        seed: np.random.SeedSequence,
        parameters: Sequence[float] = (),
    ) -> NDArray[np.float64] | None: ...

    def check_tests(self, tests: Sequence[str]) -> None: ...


# ---- models -------------------------------------------------------------------------------


@dataclass(frozen=True)
class NormalClusterModel:
    r"""Gaussian random-intercept trial: :math:`y_{ij} = \delta T_{ij} + u_j + e_{ij}`,
    :math:`u_j \sim N(0, \rho\sigma^2)`, :math:`e_{ij} \sim N(0, (1-\rho)\sigma^2)`.

    Cluster sizes are fixed: ``cluster_size`` for all when ``cv = 0``, else the
    :math:`(j - 1/2)/G` quantiles of a gamma distribution with that mean and CV (rounded,
    at least 2). ``allocation="within_cluster"``: in each cluster
    :math:`\mathrm{round}(p\,n_j)` persons (at least 1, at most :math:`n_j - 1`) treated,
    ``"cluster"``: :math:`\mathrm{round}(pG)` whole clusters treated. Both are analysed with
    an intercept and CRV1 by cluster. (Within clusters, :math:`u_j` cancels from the contrast
    and from the cluster scores because every cluster has about the same treated share;
    cluster fixed effects would give the same estimate but CRV1 would count them in its
    small-sample factor :math:`(N-1)/(N-K)`, which inflates the SE by a few percent.)
    """

    n_clusters: int = 40
    cluster_size: float = 10.0
    icc: float = 0.05
    sd: float = 1.0
    cv: float = 0.0
    share_treated: float = 0.5
    allocation: Literal["within_cluster", "cluster"] = "within_cluster"
    sizes: tuple[int, ...] = field(default=(), init=False)

    def __post_init__(self) -> None:
        if not isinstance(self.n_clusters, int) or self.n_clusters < 4:
            raise InputError(f"n_clusters = {self.n_clusters!r}; give an integer >= 4.")
        if self.cluster_size < 2 or self.sd <= 0 or self.cv < 0:
            raise InputError("NormalClusterModel: need cluster_size >= 2, sd > 0 and cv >= 0.")
        power_mean(0.0, self.sd, 100.0, design="cluster", icc=self.icc)  # checks icc
        if not 0 < self.share_treated < 1:
            raise InputError(f"share_treated = {self.share_treated!r} is outside (0, 1).")
        if self.allocation not in ("within_cluster", "cluster"):
            raise InputError(
                f"allocation = {self.allocation!r}; use 'within_cluster' or 'cluster'."
            )
        g = self.n_clusters
        if self.cv == 0:
            sizes = np.full(g, round(self.cluster_size))
        else:
            shape = 1.0 / self.cv**2
            q = scipy.stats.gamma.ppf(
                (np.arange(g) + 0.5) / g, shape, scale=self.cluster_size / shape
            )
            sizes = np.maximum(np.round(q), 2)
        object.__setattr__(self, "sizes", tuple(int(s) for s in sizes))

    @property
    def label(self) -> str:
        return (
            f"Gaussian {self.allocation} trial, {self.n_clusters} clusters of mean size "
            f"{self.mean_size:.3g} (CV {self.size_cv:.2f}), ICC {self.icc}"
        )

    @property
    def mean_size(self) -> float:
        return float(np.mean(self.sizes))

    @property
    def size_cv(self) -> float:
        return float(np.std(self.sizes) / np.mean(self.sizes))

    def _treated_counts(self) -> NDArray[np.int64]:
        sizes = np.asarray(self.sizes)
        return np.clip(np.round(self.share_treated * sizes), 1, sizes - 1).astype(np.int64)

    def draw(self, value: float, seed: np.random.SeedSequence) -> SimTrial:
        rng = np.random.default_rng(seed)
        sizes = np.asarray(self.sizes)
        g = sizes.size
        cl = np.repeat(np.arange(g), sizes)
        u = rng.normal(0.0, self.sd * math.sqrt(self.icc), g)
        e = rng.normal(0.0, self.sd * math.sqrt(1.0 - self.icc), cl.size)
        if self.allocation == "within_cluster":
            key = cl + rng.random(cl.size)
            rank = np.empty(cl.size, dtype=np.int64)
            rank[np.argsort(key)] = np.arange(cl.size)
            start = np.repeat(np.cumsum(sizes) - sizes, sizes)
            treated = ((rank - start) < np.repeat(self._treated_counts(), sizes)).astype(np.int8)
        else:
            g1 = min(max(round(self.share_treated * g), 1), g - 1)
            arm = np.zeros(g, dtype=np.int8)
            arm[rng.permutation(g)[:g1]] = 1
            treated = arm[cl]
        y = value * treated + u[cl] + e
        return SimTrial(y, treated, None, cl.astype(np.intp), None)

    def true_effect(self, value: float, seed: np.random.SeedSequence) -> float:
        return float(value)

    def analytic_power(
        self,
        effect: NDArray[np.float64],
        alpha: float,
        seed: np.random.SeedSequence,
        parameters: Sequence[float] = (),
    ) -> NDArray[np.float64]:
        """:func:`~dreamkit.power.power_mean` with the model's design (exact for it)."""
        sizes = np.asarray(self.sizes)
        n = float(sizes.sum())
        if self.allocation == "within_cluster":
            share = float(self._treated_counts().sum()) / n
        else:
            share = min(max(round(self.share_treated * sizes.size), 1), sizes.size - 1) / sizes.size
        return np.asarray(
            power_mean(
                effect,
                self.sd,
                n,
                design=self.allocation,
                share_treated=share,
                icc=self.icc,
                cluster_size=self.mean_size,
                cv=self.size_cv,
                alpha=alpha,
            ),
            dtype=np.float64,
        )

    def check_tests(self, tests: Sequence[str]) -> None:
        if "ri" in tests and self.allocation == "cluster":
            raise InputError(
                "tests=('ri',) re-draws the allocation within clusters, which a cluster-"
                "randomised design does not have; use 'crv1' or 'wcb'."
            )


@dataclass(frozen=True)
class ReferenceTrialModel:
    """The reference trial for simulated power (module docstring).

    Attributes:
        design: :class:`ReferenceDesign` (the study's 43 teams, 568 persons) or
            :class:`TeamDesign`.
        outcome: ``"emp_share"`` (share of weeks 1..``week`` in ordinary employment),
            ``"sick_share"``, ``"emp_status"`` (employed in week ``week``) or
            ``"sick_status"``.
        week: the analysed horizon.
        covariates: baseline covariates of the ITT model (columns of the simulated baseline
            survey; with ``simulator="full"`` any column of the outcome table, e.g.
            ``pre_sick_104_1``).
        parameter: the :class:`TrueEffects` field the effect values set (``"tau"``: shift
            of the log-odds of leaving sickness benefit; ``"employment_entry"``: of moving
            into employment); every other effect is 0.
        simulator: ``"light"`` (default, :mod:`dreamkit.power.light`) or ``"full"``
            (:func:`dreamkit.simulate.simulate_trial` + :func:`dreamkit.outcomes.build_outcomes`).
        calibration_trials: light trials (both potential worlds) for the true effect and
            the analytic planning inputs.
    """

    design: ReferenceDesign | TeamDesign = field(default_factory=ReferenceDesign)
    outcome: str = "emp_share"
    week: int = 81
    covariates: tuple[str, ...] = ()
    parameter: str = "tau"
    simulator: Literal["light", "full"] = "light"
    link: str = "logit"
    process: ProcessParams = field(default_factory=ProcessParams)
    history: HistoryParams = field(default_factory=HistoryParams)
    calibration_trials: int = 20

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise InputError(f"outcome = {self.outcome!r}; use one of {OUTCOMES}.")
        if self.parameter not in ("tau", "employment_entry"):
            raise InputError(f"parameter = {self.parameter!r}; use 'tau' or 'employment_entry'.")
        if self.simulator not in ("light", "full"):
            raise InputError(f"simulator = {self.simulator!r}; use 'light' or 'full'.")
        if not 1 <= self.week <= 81 and self.simulator == "full":
            raise InputError(f"week = {self.week}; the full simulator's outcomes cover 1..81.")
        if self.calibration_trials < 1:
            raise InputError("calibration_trials must be >= 1.")

    @property
    def label(self) -> str:
        return (
            f"reference trial ({self.simulator} simulator), {self.outcome} week {self.week}, "
            f"effect parameter {self.parameter}"
        )

    def effects(self, value: float) -> TrueEffects:
        """TrueEffects with ``parameter`` = value and every other effect 0."""
        if self.parameter == "tau":
            return replace(TrueEffects.null(), tau=float(value))
        return replace(TrueEffects.null(), employment_entry=float(value))

    def draw(self, value: float, seed: np.random.SeedSequence) -> SimTrial:
        if self.simulator == "full":
            return self._draw_full(value, seed)
        trial = simulate_outcomes(
            self.design,
            self.effects(value),
            week=self.week,
            seed=seed,
            link=self.link,
            process=self.process,
            history=self.history,
        )
        x = None
        if self.covariates:
            missing = [c for c in self.covariates if c not in trial.baseline]
            if missing:
                raise InputError(
                    f"covariates {missing} are not in the light simulator's baseline survey "
                    f"({sorted(trial.baseline)}); use simulator='full' for register-based ones."
                )
            x = np.column_stack([trial.baseline[c] for c in self.covariates]).astype(np.float64)
        return SimTrial(
            np.asarray(trial.outcomes[self.outcome], dtype=np.float64),
            trial.treated,
            trial.municipality.astype(np.intp),
            trial.team.astype(np.intp),
            x,
        )

    def _draw_full(self, value: float, seed: np.random.SeedSequence) -> SimTrial:
        from dreamkit.outcomes import build_outcomes
        from dreamkit.simulate import simulate_trial

        sim = simulate_trial(
            self.design,
            self.effects(value),
            seed=int(seed.generate_state(1)[0]),
            link=self.link,
            process=self.process,
            history=self.history,
        )
        persons = build_outcomes(sim.register, sim.trial).persons
        y = full_outcome(persons, self.outcome, self.week)
        x = (
            persons.select([pl.col(c).cast(pl.Float64) for c in self.covariates]).to_numpy()
            if self.covariates
            else None
        )
        return SimTrial(
            y,
            persons["treated"].to_numpy().astype(np.int8),
            np.unique(persons["municipality"].to_numpy(), return_inverse=True)[1],
            np.unique(persons["team"].to_numpy(), return_inverse=True)[1],
            x,
        )

    def calibrate(self, value: float, seed: np.random.SeedSequence) -> Calibration:
        """Summary of ``calibration_trials`` light trials with both potential worlds (common
        random numbers; cached per model, value and seed)."""
        entropy = seed.entropy
        key: int | tuple[int, ...] = (
            entropy if isinstance(entropy, int) else tuple(int(x) for x in (entropy or ()))
        )
        return _calibrate(self, float(value), tuple(seed.spawn_key), key)

    def true_effect(self, value: float, seed: np.random.SeedSequence) -> float:
        """Average effect on the outcome, :math:`E[Y(1) - Y(0)]`, over ``calibration_trials``
        light trials with both potential worlds (common random numbers)."""
        return 0.0 if value == 0 else self.calibrate(value, seed).effect

    def analytic_power(
        self,
        effect: NDArray[np.float64],
        alpha: float,
        seed: np.random.SeedSequence,
        parameters: Sequence[float] = (),
    ) -> NDArray[np.float64]:
        r"""Analytic within-team power of dreamkit's CRV1 t test, from calibration trials.

        Inputs: the control SD :math:`\sigma_0`, team ICC and within-team R^2 of the
        covariates from null trials; the treated arm's SD
        :math:`\sigma_1(\delta) = \sigma_0 + b\delta` with the slope b fitted (through
        the origin) to the calibration trials of ``parameters`` (a treatment that raises
        the employment share also raises its spread); and CRV1's small-sample factor
        :math:`c = \frac{G}{G-1}\frac{N-1}{N-K}` (K = treatment + municipality levels +
        covariates), which multiplies the variance the test uses. Power is
        :func:`~dreamkit.power.power_mean` (design ``"within_cluster"``, t with G - 1 df)
        with both SDs times :math:`\sqrt c`.
        """
        null = self.calibrate(0.0, seed)
        points = [self.calibrate(v, seed) for v in parameters if v != 0]
        deltas = np.array([p.effect for p in points])
        rises = np.array([p.sd_treated - null.sd_control for p in points])
        slope = float(deltas @ rises / (deltas @ deltas)) if points and deltas @ deltas > 0 else 0.0
        k = 1 + null.n_strata + len(self.covariates)
        c = null.n_clusters / (null.n_clusters - 1) * (null.n - 1) / (null.n - k)
        out = np.empty(np.shape(effect), dtype=np.float64)
        for i, delta in enumerate(np.asarray(effect, dtype=np.float64).reshape(-1)):
            sd1 = max(null.sd_control + slope * delta, 1e-9)
            out.reshape(-1)[i] = float(
                power_mean(
                    delta,
                    null.sd_control * math.sqrt(c),
                    null.n,
                    design="within_cluster",
                    share_treated=null.share_treated,
                    icc=null.icc,
                    cluster_size=null.n / null.n_clusters,
                    r2=null.r2_within,
                    alpha=alpha,
                    sd_treated=sd1 * math.sqrt(c),
                )
            )
        return out

    def check_tests(self, tests: Sequence[str]) -> None:
        return None


@dataclass(frozen=True)
class Calibration:
    """Calibration trials of one effect value: the true effect and the planning inputs."""

    effect: float
    sd_control: float
    sd_treated: float
    icc: float
    r2_within: float
    n: float
    n_clusters: float
    n_strata: float
    share_treated: float


@functools.lru_cache(maxsize=128)
def _calibrate(
    model: ReferenceTrialModel,
    value: float,
    spawn_key: tuple[int, ...],
    entropy: int | tuple[int, ...],
) -> Calibration:
    seed = np.random.SeedSequence(entropy, spawn_key=spawn_key)
    trials = [
        simulate_outcomes(
            model.design,
            model.effects(value),
            week=model.week,
            seed=s,
            link=model.link,
            process=model.process,
            history=model.history,
            both_worlds=True,
        )
        for s in children(seed, model.calibration_trials)
    ]
    y0 = [t.outcomes[model.outcome][0] for t in trials]
    y1 = [t.outcomes[model.outcome][1] for t in trials]
    r2 = [
        partial_r2(
            y,
            np.column_stack([t.baseline[c] for c in model.covariates]).astype(np.float64),
            t.team.astype(np.intp),
        )
        for y, t in zip(y0, trials, strict=True)
        if model.covariates
    ]
    return Calibration(
        effect=float(np.mean(np.concatenate(y1) - np.concatenate(y0))),
        sd_control=float(np.mean([np.std(y, ddof=1) for y in y0])),
        sd_treated=float(np.mean([np.std(y, ddof=1) for y in y1])),
        icc=float(
            np.mean([icc_anova(y, t.team, warn=False).icc for y, t in zip(y0, trials, strict=True)])
        ),
        r2_within=float(np.mean(r2)) if r2 else 0.0,
        n=float(np.mean([t.n for t in trials])),
        n_clusters=float(np.mean([t.team.max() + 1 for t in trials])),
        n_strata=float(np.mean([t.municipality.max() + 1 for t in trials])),
        share_treated=float(np.mean([t.treated.mean() for t in trials])),
    )


def full_outcome(persons: pl.DataFrame, outcome: str, week: int) -> NDArray[np.float64]:
    """The outcome of the full outcome table: ``{emp,sick}_share_{w}``, or the status in week
    w from the cumulative shares, :math:`w\\,s_w - (w-1)\\,s_{w-1}`."""
    prefix, kind = outcome.split("_")
    share = persons[f"{prefix}_share_{week}"].to_numpy().astype(np.float64)
    if kind == "share":
        return share
    if week == 1:
        return share
    before = persons[f"{prefix}_share_{week - 1}"].to_numpy().astype(np.float64)
    return np.asarray(np.round(week * share - (week - 1) * before), dtype=np.float64)


# ---- one replication ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Config:
    tests: tuple[str, ...]
    alpha: float
    n_ri: int
    n_boot: int


def analyse(
    trial: SimTrial,
    tests: Sequence[str],
    alpha: float,
    *,
    n_ri: int = 199,
    n_boot: int = 199,
    seed: np.random.SeedSequence | None = None,
) -> dict[str, float]:
    """Estimate and test one trial: ``estimate``, ``std_error`` (CRV1) and, per test, 1.0 if
    it rejects :math:`\\tau = 0` at ``alpha`` (module docstring)."""
    fit = fit_fwl(
        trial.y,
        trial.treated.astype(np.float64),
        absorb=trial.strata,
        controls=trial.covariates,
        clusters=trial.clusters,
        vcov="CRV1",
    )
    est = float(fit.coef[0, 0])
    se = float(fit.std_error[0, 0])
    out = {"estimate": est, "std_error": se}
    if "crv1" in tests:
        p = 2.0 * scipy.stats.t.sf(abs(est / se), fit.df) if se > 0 else 1.0
        out["crv1"] = float(p <= alpha)
    if "ri" in tests or "wcb" in tests:
        seeds = children(seed or np.random.SeedSequence(0), 2)
        z = _controls(trial)
        if "ri" in tests:
            stat = fwl_statistic(trial.y, z, trial.clusters, studentize=True)
            ri = randomization_inference(
                stat,
                trial.treated,
                trial.clusters,
                n_draws=n_ri,
                seed=int(seeds[0].generate_state(1)[0]),
            )
            out["ri"] = float(ri.p_value[0] <= alpha)
        if "wcb" in tests:
            wb = wild_cluster_bootstrap(
                trial.y,
                trial.treated,
                z,
                trial.clusters,
                B=n_boot,
                weights="webb",
                impose_null=True,
                seed=int(seeds[1].generate_state(1)[0]),
            )
            out["wcb"] = float(wb.p_value[0] <= alpha)
    return out


def _controls(trial: SimTrial) -> NDArray[np.float64]:
    """Z = [stratum dummies (or an intercept), covariates]."""
    n = trial.y.size
    if trial.strata is None:
        z = np.ones((n, 1))
    else:
        z = np.zeros((n, int(trial.strata.max()) + 1))
        z[np.arange(n), trial.strata] = 1.0
    return z if trial.covariates is None else np.hstack([z, trial.covariates])


def _run_chunk(task: tuple[PowerModel, float, list[np.random.SeedSequence], _Config]) -> Any:
    """Replications of one effect value: an (r, 2 + len(tests)) array and trial sizes."""
    model, value, seeds, config = task
    rows, sizes = [], []
    for child in seeds:
        sim_seed, test_seed = children(child, 2)
        trial = model.draw(value, sim_seed)
        res = analyse(
            trial,
            config.tests,
            config.alpha,
            n_ri=config.n_ri,
            n_boot=config.n_boot,
            seed=test_seed,
        )
        rows.append([res["estimate"], res["std_error"], *(res[t] for t in config.tests)])
        sizes.append((trial.y.size, int(trial.clusters.max()) + 1))
    return np.asarray(rows, dtype=np.float64), np.asarray(sizes, dtype=np.float64)


# ---- the parallel map (one place to swap in another executor) ------------------------------


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def parallel_map(
    fn: Callable[[T], R],
    items: Iterable[T],
    *,
    processes: int = 1,
    executor: Executor | None = None,
) -> list[R]:
    """``[fn(x) for x in items]`` in order: on ``executor`` if given (anything with a
    ``map`` like ``concurrent.futures.Executor``, e.g. a Dask client's executor), else on
    ``processes`` freshly spawned single-threaded worker processes (1: in this process).

    ``fn`` and the items must be picklable for processes; a script must call this under
    ``if __name__ == "__main__":``.
    """
    tasks = list(items)
    if executor is not None:
        return list(executor.map(fn, tasks))
    if processes == 1 or len(tasks) <= 1:
        return [fn(t) for t in tasks]
    context = multiprocessing.get_context("spawn")
    with (
        _environment(SINGLE_THREAD_ENV),
        ProcessPoolExecutor(max_workers=processes, mp_context=context) as pool,
    ):
        return list(pool.map(fn, tasks))


# ---- the runner ---------------------------------------------------------------------------


def replication_seeds(seed: int, n_replications: int) -> list[np.random.SeedSequence]:
    """Seed sequences of replications 0..R-1 (the same for every effect size; a longer run
    extends a shorter one)."""
    return children(np.random.SeedSequence(seed, spawn_key=(0,)), n_replications)


def children(seq: np.random.SeedSequence, k: int) -> list[np.random.SeedSequence]:
    """The first k children of ``seq``, as ``seq.spawn(k)`` on a fresh copy would give them,
    without changing ``seq`` (``spawn`` counts the children it has handed out, so the same
    object would give different children on a second call, or in another process)."""
    return [
        np.random.SeedSequence(seq.entropy, spawn_key=(*seq.spawn_key, i), pool_size=seq.pool_size)
        for i in range(k)
    ]


def simulate_power(
    model: PowerModel,
    effects: Sequence[float],
    *,
    n_replications: int = 200,
    tests: Sequence[str] = ("crv1",),
    alpha: float = 0.05,
    n_ri: int = 199,
    n_boot: int = 199,
    seed: int = 0,
    processes: int = 1,
    executor: Executor | None = None,
    chunk_size: int | None = None,
    interval: str = "wilson",
    level: float = 0.95,
    analytic: bool = True,
) -> PowerResult:
    """Power by simulation for each effect value (module docstring).

    Args:
        model: :class:`ReferenceTrialModel`, :class:`NormalClusterModel` or any
            :class:`PowerModel`.
        effects: effect values of the model (its parameter; e.g. ``tau`` on the hazard's
            link scale for the reference trial, the mean difference for the Gaussian model).
        n_replications: R trials per effect value.
        tests: any of ``"crv1"``, ``"ri"``, ``"wcb"``.
        alpha: level of every test.
        n_ri, n_boot: randomisation draws and bootstrap replications per trial.
        seed: master seed (module docstring).
        processes, executor: where the replications run (:func:`parallel_map`).
        interval, level: the Monte Carlo band of each rejection rate (``"wilson"`` or
            ``"clopper-pearson"``).
        analytic: add the model's analytic power at the true effects and as a dense curve.

    Returns a :class:`PowerResult`; ``effect`` is the true average effect on the outcome.
    """
    values = [float(v) for v in effects]
    if not values or not all(math.isfinite(v) for v in values):
        raise InputError("effects must be a non-empty sequence of finite effect values.")
    if not isinstance(n_replications, int) or n_replications < 1:
        raise InputError(f"n_replications = {n_replications!r}; give an integer >= 1.")
    if not isinstance(processes, int) or processes < 1:
        raise InputError(f"processes = {processes!r}; give an integer >= 1.")
    unknown = [t for t in tests if t not in TESTS]
    if unknown or not tests:
        raise InputError(f"tests = {tuple(tests)!r}; use a non-empty subset of {tuple(TESTS)}.")
    if n_ri < 19 or n_boot < 19:
        raise InputError(
            f"n_ri = {n_ri}, n_boot = {n_boot}; give at least 19 (199 or more for a usable "
            "p-value at alpha = 0.05)."
        )
    alpha_ = check_alpha(alpha)
    rejection_band(0, 1, level=level, interval=interval)  # validates level and interval
    model.check_tests(tests)
    config = _Config(tuple(tests), alpha_, int(n_ri), int(n_boot))

    seeds = replication_seeds(seed, n_replications)
    size = chunk_size or max(1, min(100, math.ceil(n_replications / (4 * processes))))
    chunks = [seeds[s : s + size] for s in range(0, n_replications, size)]
    tasks = [(model, v, c, config) for v in values for c in chunks]
    results = parallel_map(_run_chunk, tasks, processes=processes, executor=executor)

    calibration = np.random.SeedSequence(seed, spawn_key=(1,))
    truths = [model.true_effect(v, calibration) for v in values]
    rows: list[dict[str, Any]] = []
    per_value = len(chunks)
    for i, (value, truth) in enumerate(zip(values, truths, strict=True)):
        parts = results[i * per_value : (i + 1) * per_value]
        draws = np.vstack([p[0] for p in parts])
        sizes = np.vstack([p[1] for p in parts])
        for j, test in enumerate(config.tests):
            k = int(draws[:, 2 + j].sum())
            low, high = rejection_band(k, n_replications, level=level, interval=interval)
            rows.append(
                {
                    "effect": truth,
                    "n": float(sizes[:, 0].mean()),
                    "clusters": float(sizes[:, 1].mean()),
                    "power": k / n_replications,
                    "power_low": float(low),
                    "power_high": float(high),
                    "method": TESTS[test],
                    "parameter": value,
                    "replications": n_replications,
                    "rejections": k,
                    "mean_estimate": float(draws[:, 0].mean()),
                    "sd_estimate": float(draws[:, 0].std(ddof=1)) if n_replications > 1 else None,
                    "mean_se": float(draws[:, 1].mean()),
                }
            )
    curve = None
    if analytic:
        truth_arr = np.asarray(truths)
        grid = np.linspace(min(0.0, truth_arr.min()), max(0.0, truth_arr.max()), 101)
        both = model.analytic_power(np.r_[truth_arr, grid], alpha_, calibration, values)
        if both is not None:
            at, line = both[: truth_arr.size], both[truth_arr.size :]
            for value, truth, p in zip(values, truths, at, strict=True):
                rows.append(
                    {
                        "effect": truth,
                        "n": rows[0]["n"],
                        "clusters": rows[0]["clusters"],
                        "power": float(p),
                        "power_low": float(p),
                        "power_high": float(p),
                        "method": "analytic",
                        "parameter": value,
                    }
                )
            curve = pl.DataFrame(
                {"effect": grid, "power": line, "method": ["analytic"] * grid.size}
            )
    schema = {
        "effect": pl.Float64,
        "n": pl.Float64,
        "clusters": pl.Float64,
        "power": pl.Float64,
        "power_low": pl.Float64,
        "power_high": pl.Float64,
        "method": pl.String,
        "parameter": pl.Float64,
        "replications": pl.Int64,
        "rejections": pl.Int64,
        "mean_estimate": pl.Float64,
        "sd_estimate": pl.Float64,
        "mean_se": pl.Float64,
    }
    table = pl.DataFrame(rows, schema=schema).select(*COLUMNS, pl.exclude(COLUMNS))
    return PowerResult(
        table=table,
        curve=curve,
        title=f"{model.label}; alpha = {alpha_}",
        level=level,
        interval=interval,
    )
