r"""One Monte Carlo replication: simulate a trial with known effects, run the estimators, and
return one :class:`~dreamkit.validate.montecarlo.Draw` per (estimator, estimand).

Estimands and the truth each interval is compared with (W = 81, level 95%):

* **ITT path** (model 2, stratum FE, the study's four covariates, team-clustered CRV1,
  t intervals with G - 1 df): :math:`\tau_w` at the scenario's weeks and the path mean
  :math:`\bar\tau = W^{-1}\sum_w \tau_w` (SE :math:`\sqrt{1'V1}/W` from the W x W
  covariance), against the true *sample* effect (SATE) of the analysed persons,
  :math:`\Delta(w)` (:mod:`dreamkit.validate.truth`).
* **sup-t band** (plug-in, from the CRV1 covariance): covers when every true
  :math:`\Delta(w)`, w = 1..W, lies in the band; rejects when the band excludes 0 at some w.
* **self-efficacy** (model 3 at the simulator's ``low_cutoff``): the low and high effects and
  low - high on the week-W share, against the SATE of the low / high persons and their
  difference.
* **peers** (model 4, four-cell version, own and peer cut-off ``peer_cutoff``, median peer
  threshold): the contrast "low SE with low-SE peers" - "low SE with high-SE peers" on the
  week-W employment share, against the difference of the two cells' SATEs.
* **hazard** (model 1, exit from sickness benefit etc., stratum FE, the simulator's eight
  covariates, CRV1, normal intervals), on a separate trial simulated with a homogeneous
  effect and the estimator's link: the link-scale :math:`\tau`, with the correct log-t
  baseline and with the study's 4-week intervals. Unless ``hazard_both_links``, each
  replication checks one link, chosen by a fair coin from its seed (about R/2 replications
  per link; the tables report the count).
* **few-cluster tools** (on the checked weeks and the path mean): CRV3 (t intervals), CR2
  (Bell-McCaffrey, t intervals with the Bell-McCaffrey / Satterthwaite df, and again with
  the exact working-model critical value of :mod:`dreamkit.inference.working_t`), the
  restricted wild cluster bootstrap (WCR, Webb weights, intervals by test inversion; SATE),
  and randomisation inference of the sharp null with the studentised statistic, re-drawing
  the allocation within teams (a rejection only; no interval).

CIs built for the population effect are conservative for the SATE (the SATE does not vary
with the potential outcomes drawn), so coverage of the SATE may exceed 95%.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import scipy.stats
from numpy.typing import NDArray

from dreamkit.design import columns as C
from dreamkit.design.peers import peers_low
from dreamkit.errors import EstimationError
from dreamkit.estimate.duration.duration_dependence import intervals, log_polynomial
from dreamkit.estimate.duration.hazard import DiscreteTimeHazard
from dreamkit.estimate.linear.heterogeneity import selfefficacy_grid
from dreamkit.estimate.linear.itt import PathResult, effect_path
from dreamkit.estimate.linear.peers import peer_effects
from dreamkit.estimate.results import contrast_row
from dreamkit.inference import (
    fwl_statistic,
    randomization_inference,
    wild_cluster_bootstrap,
)
from dreamkit.inference.working_t import working_t_critical_value
from dreamkit.outcomes import build_outcomes
from dreamkit.simulate import simulate_trial
from dreamkit.validate.montecarlo import Draw
from dreamkit.validate.scenarios import (
    HAZARD_COVARIATES,
    PATHS,
    STUDY_COVARIATES,
    Scenario,
)
from dreamkit.validate.truth import SampleTruth

LEVEL = 0.95
WEEKS = 81
HAZARD_LINKS = ("logit", "cloglog")
CR2_LABEL = "ITT, CR2 (Bell-McCaffrey df)"
CR2_EXACT_LABEL = "ITT, CR2 (exact working-model t)"
_NAN = float("nan")


def replicate(scenario: Scenario, seed: int) -> list[Draw]:
    """All draws of one replication of ``scenario`` (module docstring for the estimands).

    Use ``functools.partial(replicate, scenario)`` as the replication function of
    :func:`dreamkit.validate.montecarlo.run`.
    """
    seeds = [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(seed).spawn(6)]
    sim = simulate_trial(scenario.design, scenario.effects, seed=seeds[0])
    persons = build_outcomes(sim.register, sim.trial).persons
    truth = SampleTruth.of(sim, persons, WEEKS)
    draws: list[Draw] = []
    for prefix in scenario.paths:
        true_path = truth.path(prefix)
        crv1 = effect_path(persons, f"{prefix}_share_", STUDY_COVARIATES)
        draws += _path_draws(crv1, "ITT, CRV1", PATHS[prefix], true_path, scenario.weeks)
        if scenario.band:
            draws.append(_band_draw(crv1, PATHS[prefix], true_path, scenario, seeds[3]))
        if scenario.few_cluster_tools:
            crv3 = effect_path(persons, f"{prefix}_share_", STUDY_COVARIATES, vcov="CRV3")
            draws += _path_draws(crv3, "ITT, CRV3", PATHS[prefix], true_path, scenario.weeks)
            cr2 = effect_path(persons, f"{prefix}_share_", STUDY_COVARIATES, vcov="CR2")
            draws += _path_draws(cr2, CR2_LABEL, PATHS[prefix], true_path, scenario.weeks)
            draws += _cr2_exact_draws(cr2, PATHS[prefix], true_path, scenario.weeks)
            draws += _resampling_draws(crv1, PATHS[prefix], true_path, scenario, seeds[4:6])
    if scenario.subgroups:
        draws += _selfefficacy_draws(persons, truth, scenario)
        draws += _peer_draws(persons, truth, scenario)
    if scenario.hazard_tau is not None:
        links = HAZARD_LINKS if scenario.hazard_both_links else (HAZARD_LINKS[seeds[2] % 2],)
        for link in links:
            draws += _hazard_draws(scenario, link, seeds[1])
    return draws


def replicate_cluster_robust(scenario: Scenario, seed: int) -> list[Draw]:
    """Only the analytic cluster-robust ITT draws of :func:`replicate` (CRV1 and CR2, the
    checked weeks and the path mean) on the same simulated trial as :func:`replicate` with
    the same seed: a cheap size study of the covariance estimators."""
    seeds = [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(seed).spawn(6)]
    sim = simulate_trial(scenario.design, scenario.effects, seed=seeds[0])
    persons = build_outcomes(sim.register, sim.trial).persons
    truth = SampleTruth.of(sim, persons, WEEKS)
    draws: list[Draw] = []
    for prefix in scenario.paths:
        true_path = truth.path(prefix)
        for vcov, label in (("CRV1", "ITT, CRV1"), ("CR2", CR2_LABEL)):
            fit = effect_path(persons, f"{prefix}_share_", STUDY_COVARIATES, vcov=vcov)
            draws += _path_draws(fit, label, PATHS[prefix], true_path, scenario.weeks)
        draws += _cr2_exact_draws(fit, PATHS[prefix], true_path, scenario.weeks)
    return draws


def _cr2_exact_draws(
    result: PathResult, outcome: str, true_path: NDArray[np.float64], weeks: tuple[int, ...]
) -> list[Draw]:
    """The CR2 draws of ``result`` again, with the exact working-model critical value of the
    treatment (:mod:`dreamkit.inference.working_t`) in place of t(Bell-McCaffrey df): one
    value for every week and the mean, as Γ depends on the design only."""
    assert result.fit is not None and result.fit.vcov_type == "CR2"
    q = working_t_critical_value(LEVEL, result.fit.gram_eigenvalues((1.0,)))
    return _path_draws(result, CR2_EXACT_LABEL, outcome, true_path, weeks, q=q)


def replicate_hazard_cluster_robust(scenario: Scenario, link: str, seed: int) -> list[Draw]:
    """The hazard's treatment coefficient with CRV1 (normal intervals, as the hazard reports)
    and CR2 (t with the Bell-McCaffrey df, and the exact working-model reference of
    :mod:`dreamkit.inference.working_t`) on one homogeneous-effect trial of ``scenario``
    (``hazard_tau``; 4-week baseline, the simulator's eight covariates). The trial is
    simulated with ``seed`` itself. A trial whose hazard is not identified (e.g. a
    municipality without exits) gives no draws: the summary's replication count shows it.
    Use ``functools.partial(replicate_hazard_cluster_robust, scenario, "cloglog")``.
    """
    assert scenario.hazard_tau is not None
    sim = simulate_trial(scenario.design, scenario.hazard_effects, seed=seed, link=link)
    persons = build_outcomes(sim.register, sim.trial).persons
    draws = []
    for cov in ("CRV1", "CR2"):
        model = DiscreteTimeHazard(
            link=link,  # type: ignore[arg-type]
            duration_spec=intervals(),
            covariates=HAZARD_COVARIATES,
            cov_type=cov,
        )
        try:
            fit = model.fit(persons, duration="dur_sick", event="event_sick")
        except EstimationError:
            return []
        k = fit.glm.names.index("treated")
        b, se = float(fit.glm.params[k]), float(fit.glm.std_errors[k])
        df = np.inf if fit.glm.df is None else float(fit.glm.df[k])
        q = float(scipy.stats.t.ppf(0.5 + LEVEL / 2, df))
        label = f"hazard {link}, 4-week, " + (
            "CRV1" if cov == "CRV1" else "CR2 (Bell-McCaffrey df)"
        )
        draws.append(
            Draw(
                label,
                "tau (exit from sickness benefit etc.)",
                b,
                se,
                b - q * se,
                b + q * se,
                scenario.hazard_tau,
            )
        )
        if cov == "CR2":  # the same statistic with the exact working-model reference
            q = working_t_critical_value(LEVEL, fit.glm.gram_eigenvalues(k))
            draws.append(
                Draw(
                    f"hazard {link}, 4-week, CR2 (exact working-model t)",
                    "tau (exit from sickness benefit etc.)",
                    b,
                    se,
                    b - q * se,
                    b + q * se,
                    scenario.hazard_tau,
                )
            )
    return draws


def _checked_columns(weeks: tuple[int, ...]) -> list[tuple[str, NDArray[np.float64]]]:
    """(estimand label, weights over tau_1..tau_W): the checked weeks and the path mean."""
    out = []
    for w in weeks:
        weights = np.zeros(WEEKS)
        weights[w - 1] = 1.0
        out.append((f"week {w}", weights))
    out.append((f"mean of weeks 1-{WEEKS}", np.full(WEEKS, 1.0 / WEEKS)))
    return out


def _path_draws(
    result: PathResult,
    estimator: str,
    outcome: str,
    true_path: NDArray[np.float64],
    weeks: tuple[int, ...],
    q: float | None = None,
) -> list[Draw]:
    """tau_w at the checked weeks and the path mean, with t intervals (df of the fit: G - 1,
    or for CR2 the Bell-McCaffrey df of the treatment, the same for every week and the mean),
    or with the critical value ``q`` if given."""
    assert result.fit is not None
    if q is None:
        q = float(scipy.stats.t.ppf(0.5 + LEVEL / 2, result.fit.df))
    est, vcov = result.estimates, result.vcov
    draws = []
    for label, c in _checked_columns(weeks):
        value = float(c @ est)
        se = float(np.sqrt(c @ vcov @ c))
        draws.append(
            Draw(
                estimator,
                f"{outcome}, {label}",
                value,
                se,
                value - q * se,
                value + q * se,
                float(c @ true_path),
            )
        )
    return draws


def _band_draw(
    result: PathResult,
    outcome: str,
    true_path: NDArray[np.float64],
    scenario: Scenario,
    seed: int,
) -> Draw:
    """Whole-path coverage of the plug-in sup-t band that users get from the path result."""
    band = result.sup_t_band(LEVEL, n_draws=scenario.band_draws, seed=seed)
    covers = bool(((band.lower <= true_path) & (true_path <= band.upper)).all())
    rejects = bool(((band.lower > 0) | (band.upper < 0)).any())
    return Draw(
        "sup-t band, CRV1",
        f"{outcome}, whole path 1-{WEEKS}",
        _NAN,
        _NAN,
        _NAN,
        _NAN,
        _NAN,
        covers=covers,
        rejects=rejects,
    )


def _resampling_draws(
    result: PathResult,
    outcome: str,
    true_path: NDArray[np.float64],
    scenario: Scenario,
    seeds: list[int],
) -> list[Draw]:
    """WCR (test-inversion intervals) and studentised randomisation inference."""
    assert result.sample is not None
    sample = result.sample
    columns = _checked_columns(scenario.weeks)
    weights = np.column_stack([c for _, c in columns])  # (W, K)
    y = sample.y @ weights  # partialled outcomes combined: the same FWL estimates
    z = result.controls()
    boot = wild_cluster_bootstrap(
        y,
        sample.treated,
        z,
        sample.clusters,
        B=scenario.n_boot,
        weights="webb",
        impose_null=True,
        seed=seeds[0],
        level=LEVEL,
    )
    stat = fwl_statistic(y, z, sample.clusters, studentize=True)
    ri = randomization_inference(
        stat, sample.treated.astype(np.int8), sample.clusters, n_draws=scenario.n_ri, seed=seeds[1]
    )
    draws = []
    for k, (label, c) in enumerate(columns):
        truth = float(c @ true_path)
        estimand = f"{outcome}, {label}"
        draws.append(
            Draw(
                "ITT, wild cluster bootstrap (WCR, Webb)",
                estimand,
                float(boot.estimate[k]),
                float(boot.std_error[k]),
                float(boot.conf_low[k]),
                float(boot.conf_high[k]),
                truth,
            )
        )
        draws.append(
            Draw(
                "ITT, randomisation inference (studentised)",
                estimand,
                float(boot.estimate[k]),
                _NAN,
                _NAN,
                _NAN,
                truth,
                rejects=bool(ri.p_value[k] <= 1 - LEVEL),
            )
        )
    return draws


def _row_draw(row: dict[str, float], estimator: str, estimand: str, truth: float) -> Draw:
    return Draw(
        estimator,
        estimand,
        row["estimate"],
        row["std_error"],
        row["conf_low"],
        row["conf_high"],
        truth,
    )


def _selfefficacy_draws(
    persons: pl.DataFrame, truth: SampleTruth, scenario: Scenario
) -> list[Draw]:
    """Model (3) at the simulator's cut-off: low, high and low - high on the week-W shares."""
    cut = scenario.effects.low_cutoff
    low = persons[C.UWSES].to_numpy() <= cut
    outcomes = [f"{prefix}_share_{WEEKS}" for prefix in scenario.paths]
    grid = selfefficacy_grid(persons, outcomes, STUDY_COVARIATES, cutoffs=[cut])
    draws = []
    for prefix, column in zip(scenario.paths, outcomes, strict=True):
        t_low = float(truth.path(prefix, low)[WEEKS - 1])
        t_high = float(truth.path(prefix, ~low)[WEEKS - 1])
        targets = {"low": t_low, "high": t_high, "low - high": t_low - t_high}
        labels = {"low": f"low SE (0-{cut})", "high": f"high SE ({cut + 1}-24)"}
        labels["low - high"] = "low - high"
        rows = grid.table.filter(pl.col("outcome") == column)
        for row in rows.iter_rows(named=True):
            group = row["group"]
            draws.append(
                _row_draw(
                    row,
                    "self-efficacy (model 3), CRV1",
                    f"{PATHS[prefix]} week {WEEKS}: {labels[group]}",
                    targets[group],
                )
            )
    return draws


def _peer_draws(persons: pl.DataFrame, truth: SampleTruth, scenario: Scenario) -> list[Draw]:
    """Model (4): low SE with low-SE peers minus low SE with high-SE peers (employment)."""
    cut = scenario.effects.peer_cutoff
    column = f"emp_share_{WEEKS}"
    fit = peer_effects(persons, [column], STUDY_COVARIATES, cutoff=cut, peer_cutoff=cut).fits[
        "four-cell"
    ]
    row = contrast_row(fit, LEVEL, (1.0, -1.0, 0.0, 0.0), 0, "peer contrast", column)
    low = persons[C.UWSES].to_numpy() <= cut
    plow = peers_low(persons, cut).to_numpy() == 1
    target = float(
        truth.path("emp", low & plow)[WEEKS - 1] - truth.path("emp", low & ~plow)[WEEKS - 1]
    )
    return [
        _row_draw(
            row.row(0, named=True),
            "peers (model 4), CRV1",
            f"employment share week {WEEKS}: low SE, low-SE minus high-SE peers",
            target,
        )
    ]


def _hazard_draws(scenario: Scenario, link: str, seed: int) -> list[Draw]:
    """Model (1) on a homogeneous-effect trial simulated with ``link``: tau on the link scale."""
    assert scenario.hazard_tau is not None
    sim = simulate_trial(scenario.design, scenario.hazard_effects, seed=seed, link=link)
    persons = build_outcomes(sim.register, sim.trial).persons
    z = float(scipy.stats.norm.ppf(0.5 + LEVEL / 2))
    draws = []
    for baseline, spec in (("log-t baseline", log_polynomial(degree=1)), ("4-week", intervals())):
        model = DiscreteTimeHazard(
            link=link,  # type: ignore[arg-type]
            duration_spec=spec,
            covariates=HAZARD_COVARIATES,
        )
        fit = model.fit(persons, duration="dur_sick", event="event_sick")
        b, se = fit.coef("treated"), fit.se("treated")
        draws.append(
            Draw(
                f"hazard {link}, {baseline}, CRV1",
                "tau (exit from sickness benefit etc.)",
                b,
                se,
                b - z * se,
                b + z * se,
                scenario.hazard_tau,
            )
        )
    return draws
