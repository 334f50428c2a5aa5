"""dreamkit: register-based labour-market econometrics for DREAM-style data.

``import dreamkit as dk`` is the whole user-level API: readers, the trial table, outcomes, the
simulator, every estimator (formula and keyword forms), ``dk.etable``, inference tools and the
report. Deep modules stay importable, but these names are the stable face. Names load on first
use, so ``import dreamkit`` is cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> module that defines it (attribute of the same name)
_FACE: dict[str, str] = {
    # register in
    "read_wide": "dreamkit.register",
    "read_long": "dreamkit.register",
    "CodeMap": "dreamkit.register",
    "Register": "dreamkit.register",
    "EmploymentTable": "dreamkit.register",
    "wide_to_long": "dreamkit.register",
    "long_to_wide": "dreamkit.register",
    # design in
    "validate_trial": "dreamkit.design",
    "uwses_total": "dreamkit.design",
    "peer_low_share": "dreamkit.design",
    # outcomes
    "build_outcomes": "dreamkit.outcomes",
    "OutcomeSpec": "dreamkit.outcomes",
    "SampleFlow": "dreamkit.outcomes",
    # truth
    "simulate_trial": "dreamkit.simulate",
    "simulate_population": "dreamkit.simulate",
    "TeamDesign": "dreamkit.simulate",
    "ReferenceDesign": "dreamkit.simulate",
    "TrueEffects": "dreamkit.simulate",
    # estimators: formula front ends (and keyword dispatch)
    "feols": "dreamkit.estimate.models",
    "effect_path": "dreamkit.estimate.models",
    "hazard": "dreamkit.estimate.models",
    "cox": "dreamkit.estimate.models",
    # estimators: keyword engines
    "DiscreteTimeHazard": "dreamkit.estimate.duration.hazard",
    "kaplan_meier": "dreamkit.estimate.duration.survival",
    "expand_person_periods": "dreamkit.estimate.duration.person_period",
    "expand_spells": "dreamkit.estimate.duration.person_period",
    "intervals": "dreamkit.estimate.duration.duration_dependence",
    "week_dummies": "dreamkit.estimate.duration.duration_dependence",
    "piecewise": "dreamkit.estimate.duration.duration_dependence",
    "log_polynomial": "dreamkit.estimate.duration.duration_dependence",
    "balance": "dreamkit.estimate.linear.balance",
    "study_samples": "dreamkit.estimate.linear.balance",
    "selfefficacy_grid": "dreamkit.estimate.linear.heterogeneity",
    "peer_effects": "dreamkit.estimate.linear.peers",
    "no_covariates": "dreamkit.estimate.linear.robustness",
    "stratum_interacted": "dreamkit.estimate.linear.robustness",
    "group_level": "dreamkit.estimate.linear.robustness",
    "subgroups": "dreamkit.estimate.linear.robustness",
    "waiting_time_split": "dreamkit.estimate.linear.robustness",
    "prognostic_selection": "dreamkit.estimate.linear.prognostic",
    "Result": "dreamkit.estimate.results",
    # inference
    "wild_cluster_bootstrap": "dreamkit.inference",
    "randomization_inference": "dreamkit.inference",
    "sup_t_band": "dreamkit.inference",
    "romano_wolf": "dreamkit.inference",
    "westfall_young": "dreamkit.inference",
    "adjust_pvalues": "dreamkit.inference",
    # tables and the report
    "etable": "dreamkit.report.etable",
    "load_config": "dreamkit.config",
    "parse_config": "dreamkit.config",
    "run_report": "dreamkit.pipeline",
    # validation and large registers
    "validate": "dreamkit.validate",
    "partition_register": "dreamkit.chunked",
    "chunked_outcomes": "dreamkit.chunked",
    "convert_sas": "dreamkit.chunked",
    "fwl_statistic": "dreamkit.inference",
    "bootstrap_sup_t_band": "dreamkit.inference",
    "chunked_person_periods": "dreamkit.chunked",
    "markdown_table": "dreamkit.validate",
    "status_at_horizons": "dreamkit.outcomes",
    "StatusSpec": "dreamkit.outcomes",
    "StatusRule": "dreamkit.outcomes",
    "HorizonStatus": "dreamkit.outcomes",
    "pairwise_allocation": "dreamkit.design",
    "proportional_pairs": "dreamkit.design",
    "reallocate": "dreamkit.simulate",
    "horizon_tables": "dreamkit.estimate.smalltrial",
    "proportions_table": "dreamkit.estimate.smalltrial",
    "compare_proportions": "dreamkit.estimate.smalltrial",
    "compare_continuous": "dreamkit.estimate.smalltrial",
    "risk_difference": "dreamkit.estimate.smalltrial",
    "mantel_haenszel": "dreamkit.estimate.smalltrial",
    "randomisation_test": "dreamkit.estimate.smalltrial",
    "fisher": "dreamkit.estimate.smalltrial",
    "pearson": "dreamkit.estimate.smalltrial",
    "mcnemar": "dreamkit.estimate.smalltrial",
    "cmh": "dreamkit.estimate.smalltrial",
    "stratified_exact": "dreamkit.estimate.smalltrial",
    "logit": "dreamkit.estimate.models",
    "probit": "dreamkit.estimate.models",
    "or_ladder": "dreamkit.estimate.binary",
    "backward_eliminate": "dreamkit.estimate.binary",
    "exposure_or_by": "dreamkit.estimate.binary",
    "group_table": "dreamkit.estimate.binary",
    "binary_model": "dreamkit.estimate.binary",
    "fit_binary": "dreamkit.estimate.binary",
    "BinaryResult": "dreamkit.estimate.binary",
    "Ladder": "dreamkit.estimate.binary",
    "CompetingRisksHazard": "dreamkit.estimate.duration.competing",
    "CompetingRisksResult": "dreamkit.estimate.duration.competing",
    "aalen_johansen": "dreamkit.estimate.duration.competing",
    "exit_destinations": "dreamkit.outcomes",
    "relapse_episodes": "dreamkit.outcomes",
    "relapse_outcomes": "dreamkit.outcomes",
    "check_no_overlap": "dreamkit.outcomes",
    "month_week": "dreamkit.outcomes",
    "OverlappingSpellsError": "dreamkit.errors",
    "align_trial": "dreamkit.outcomes",
    "duration_to_exit": "dreamkit.outcomes",
    "duration_to_spell": "dreamkit.outcomes",
    "power_mean": "dreamkit.power",
    "mde_mean": "dreamkit.power",
    "power_proportion": "dreamkit.power",
    "mde_proportion": "dreamkit.power",
    "power_hazard": "dreamkit.power",
    "required_events": "dreamkit.power",
    "mde_hazard": "dreamkit.power",
    "expected_events": "dreamkit.power",
    "design_effect": "dreamkit.power",
    "within_cluster_design_effect": "dreamkit.power",
    "planning_inputs": "dreamkit.power",
    "icc_anova": "dreamkit.power",
    "PlanningInputs": "dreamkit.power",
    "simulate_power": "dreamkit.power",
    "power_curve": "dreamkit.power",
    "PowerResult": "dreamkit.power",
    "ReferenceTrialModel": "dreamkit.power",
    "NormalClusterModel": "dreamkit.power",
    "OutputWriteError": "dreamkit.errors",
    "set_executor": "dreamkit.executor",
    "use_executor": "dreamkit.executor",
    "get_executor": "dreamkit.executor",
    "partitioned_effect_path": "dreamkit.estimate.sufficient",
    "partitioned_hazard": "dreamkit.estimate.sufficient",
    "SchedulerUnreachableError": "dreamkit.errors",
    "SchemaMismatchError": "dreamkit.errors",
    "event_study": "dreamkit.estimate.panel",
    "event_study_register": "dreamkit.estimate.panel",
    "callaway_santanna": "dreamkit.estimate.panel",
    "sun_abraham": "dreamkit.estimate.panel",
    "match_histories": "dreamkit.estimate.panel",
    "EventStudyResult": "dreamkit.estimate.panel",
    "StaggeredResult": "dreamkit.estimate.panel",
    "MatchResult": "dreamkit.estimate.panel",
    "simulate_staggered": "dreamkit.simulate.staggered",
    "StaggeredSettings": "dreamkit.simulate.staggered",
    "FrailtyHazard": "dreamkit.estimate.duration.frailty",
    "FrailtyResult": "dreamkit.estimate.duration.frailty",
    "TimingOfEvents": "dreamkit.estimate.duration.timing",
    "TimingResult": "dreamkit.estimate.duration.timing",
    "simulate_frailty_durations": "dreamkit.simulate.durations",
    "simulate_timing_of_events": "dreamkit.simulate.durations",
    "MixtureBoundaryError": "dreamkit.errors",
    "IdentificationError": "dreamkit.errors",
    "FrailtyBoundaryWarning": "dreamkit.errors",
    "MixtureBoundaryWarning": "dreamkit.errors",
    "ExecutorError": "dreamkit.errors",
    "local_cluster": "dreamkit.executor",
    # errors
    "DreamkitError": "dreamkit.errors",
    "InputError": "dreamkit.errors",
    "ColumnNotFoundError": "dreamkit.errors",
    "EstimationError": "dreamkit.errors",
    "TrialDesignError": "dreamkit.errors",
    "DreamkitWarning": "dreamkit.errors",
    "InferenceWarning": "dreamkit.errors",
}

__all__ = [
    "BinaryResult",
    "CodeMap",
    "ColumnNotFoundError",
    "CompetingRisksHazard",
    "CompetingRisksResult",
    "DiscreteTimeHazard",
    "DreamkitError",
    "DreamkitWarning",
    "EmploymentTable",
    "EstimationError",
    "EventStudyResult",
    "ExecutorError",
    "FrailtyBoundaryWarning",
    "FrailtyHazard",
    "FrailtyResult",
    "HorizonStatus",
    "IdentificationError",
    "InferenceWarning",
    "InputError",
    "Ladder",
    "MatchResult",
    "MixtureBoundaryError",
    "MixtureBoundaryWarning",
    "NormalClusterModel",
    "OutcomeSpec",
    "OutputWriteError",
    "OverlappingSpellsError",
    "PlanningInputs",
    "PowerResult",
    "ReferenceDesign",
    "ReferenceTrialModel",
    "Register",
    "Result",
    "SampleFlow",
    "SchedulerUnreachableError",
    "SchemaMismatchError",
    "StaggeredResult",
    "StaggeredSettings",
    "StatusRule",
    "StatusSpec",
    "TeamDesign",
    "TimingOfEvents",
    "TimingResult",
    "TrialDesignError",
    "TrueEffects",
    "aalen_johansen",
    "adjust_pvalues",
    "align_trial",
    "backward_eliminate",
    "balance",
    "binary_model",
    "bootstrap_sup_t_band",
    "build_outcomes",
    "callaway_santanna",
    "check_no_overlap",
    "chunked_outcomes",
    "chunked_person_periods",
    "cmh",
    "compare_continuous",
    "compare_proportions",
    "convert_sas",
    "cox",
    "design_effect",
    "duration_to_exit",
    "duration_to_spell",
    "effect_path",
    "etable",
    "event_study",
    "event_study_register",
    "exit_destinations",
    "expand_person_periods",
    "expand_spells",
    "expected_events",
    "exposure_or_by",
    "feols",
    "fisher",
    "fit_binary",
    "fwl_statistic",
    "get_executor",
    "group_level",
    "group_table",
    "hazard",
    "horizon_tables",
    "icc_anova",
    "intervals",
    "kaplan_meier",
    "load_config",
    "local_cluster",
    "log_polynomial",
    "logit",
    "long_to_wide",
    "mantel_haenszel",
    "markdown_table",
    "match_histories",
    "mcnemar",
    "mde_hazard",
    "mde_mean",
    "mde_proportion",
    "month_week",
    "no_covariates",
    "or_ladder",
    "pairwise_allocation",
    "parse_config",
    "partition_register",
    "partitioned_effect_path",
    "partitioned_hazard",
    "pearson",
    "peer_effects",
    "peer_low_share",
    "piecewise",
    "planning_inputs",
    "power_curve",
    "power_hazard",
    "power_mean",
    "power_proportion",
    "probit",
    "prognostic_selection",
    "proportional_pairs",
    "proportions_table",
    "randomisation_test",
    "randomization_inference",
    "read_long",
    "read_wide",
    "reallocate",
    "relapse_episodes",
    "relapse_outcomes",
    "report",
    "required_events",
    "risk_difference",
    "romano_wolf",
    "run_report",
    "selfefficacy_grid",
    "set_executor",
    "simulate_frailty_durations",
    "simulate_population",
    "simulate_power",
    "simulate_staggered",
    "simulate_timing_of_events",
    "simulate_trial",
    "status_at_horizons",
    "stratified_exact",
    "stratum_interacted",
    "study_samples",
    "subgroups",
    "sun_abraham",
    "sup_t_band",
    "use_executor",
    "uwses_total",
    "validate",
    "validate_trial",
    "waiting_time_split",
    "week_dummies",
    "westfall_young",
    "wide_to_long",
    "wild_cluster_bootstrap",
    "within_cluster_design_effect",
]


def report(
    config: Any = None, out: str = "report", *, progress: bool = False, executor: Any = None
) -> Any:
    """Run the full evaluation report: ``dk.report("analysis.toml", out="report")``.

    ``config`` is a path to an analysis TOML file, a loaded configuration, or ``None`` for the
    built-in synthetic example (what ``dreamkit report`` runs). Returns the report's result
    (paths of the tables, figures and the HTML file). ``executor`` (local processes, a
    ``dask.distributed.Client`` or an address; default the session executor, else this
    process) runs the randomisation and bootstrap draws and the figure rendering; the output
    is byte-identical for every executor.
    """
    from dreamkit.config import Config, load_config
    from dreamkit.pipeline import run_report

    cfg = config if isinstance(config, Config) else load_config(config)
    return run_report(cfg, out, progress=progress, executor=executor)


def __getattr__(name: str) -> Any:
    module = _FACE.get(name)
    if module is None:
        raise AttributeError(f"module 'dreamkit' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


if TYPE_CHECKING:  # static view of the face for type checkers and IDEs
    from dreamkit.chunked import chunked_outcomes, convert_sas, partition_register
    from dreamkit.config import load_config, parse_config
    from dreamkit.design import (
        pairwise_allocation,
        peer_low_share,
        proportional_pairs,
        uwses_total,
        validate_trial,
    )
    from dreamkit.errors import (
        ColumnNotFoundError,
        DreamkitError,
        DreamkitWarning,
        EstimationError,
        ExecutorError,
        FrailtyBoundaryWarning,
        IdentificationError,
        InferenceWarning,
        InputError,
        MixtureBoundaryError,
        MixtureBoundaryWarning,
        OutputWriteError,
        OverlappingSpellsError,
        SchedulerUnreachableError,
        SchemaMismatchError,
        TrialDesignError,
    )
    from dreamkit.estimate.binary import (
        BinaryResult,
        Ladder,
        backward_eliminate,
        binary_model,
        exposure_or_by,
        fit_binary,
        group_table,
        or_ladder,
    )
    from dreamkit.estimate.duration.competing import (
        CompetingRisksHazard,
        CompetingRisksResult,
        aalen_johansen,
    )
    from dreamkit.estimate.duration.duration_dependence import (
        intervals,
        log_polynomial,
        piecewise,
        week_dummies,
    )
    from dreamkit.estimate.duration.frailty import FrailtyHazard, FrailtyResult
    from dreamkit.estimate.duration.hazard import DiscreteTimeHazard
    from dreamkit.estimate.duration.person_period import expand_person_periods, expand_spells
    from dreamkit.estimate.duration.survival import kaplan_meier
    from dreamkit.estimate.duration.timing import TimingOfEvents, TimingResult
    from dreamkit.estimate.linear.balance import balance, study_samples
    from dreamkit.estimate.linear.heterogeneity import selfefficacy_grid
    from dreamkit.estimate.linear.peers import peer_effects
    from dreamkit.estimate.linear.prognostic import prognostic_selection
    from dreamkit.estimate.linear.robustness import (
        group_level,
        no_covariates,
        stratum_interacted,
        subgroups,
        waiting_time_split,
    )
    from dreamkit.estimate.models import cox, effect_path, feols, hazard, logit, probit
    from dreamkit.estimate.panel import (
        EventStudyResult,
        MatchResult,
        StaggeredResult,
        callaway_santanna,
        event_study,
        event_study_register,
        match_histories,
        sun_abraham,
    )
    from dreamkit.estimate.results import Result
    from dreamkit.estimate.smalltrial import (
        cmh,
        compare_continuous,
        compare_proportions,
        fisher,
        horizon_tables,
        mantel_haenszel,
        mcnemar,
        pearson,
        proportions_table,
        randomisation_test,
        risk_difference,
        stratified_exact,
    )
    from dreamkit.estimate.sufficient import partitioned_effect_path, partitioned_hazard
    from dreamkit.executor import get_executor, local_cluster, set_executor, use_executor
    from dreamkit.inference import (
        adjust_pvalues,
        randomization_inference,
        romano_wolf,
        sup_t_band,
        westfall_young,
        wild_cluster_bootstrap,
    )
    from dreamkit.outcomes import (
        HorizonStatus,
        OutcomeSpec,
        SampleFlow,
        StatusRule,
        StatusSpec,
        align_trial,
        build_outcomes,
        check_no_overlap,
        duration_to_exit,
        duration_to_spell,
        exit_destinations,
        month_week,
        relapse_episodes,
        relapse_outcomes,
        status_at_horizons,
    )
    from dreamkit.pipeline import run_report
    from dreamkit.power import (
        NormalClusterModel,
        PlanningInputs,
        PowerResult,
        ReferenceTrialModel,
        design_effect,
        expected_events,
        icc_anova,
        mde_hazard,
        mde_mean,
        mde_proportion,
        planning_inputs,
        power_curve,
        power_hazard,
        power_mean,
        power_proportion,
        required_events,
        simulate_power,
        within_cluster_design_effect,
    )
    from dreamkit.register import (
        CodeMap,
        EmploymentTable,
        Register,
        long_to_wide,
        read_long,
        read_wide,
        wide_to_long,
    )
    from dreamkit.report.etable import etable
    from dreamkit.simulate import (
        ReferenceDesign,
        TeamDesign,
        TrueEffects,
        reallocate,
        simulate_population,
        simulate_trial,
    )
    from dreamkit.simulate.durations import simulate_frailty_durations, simulate_timing_of_events
    from dreamkit.simulate.staggered import StaggeredSettings, simulate_staggered
    from dreamkit.validate import validate
