"""Power and minimum detectable effects: analytic formulas, planning inputs from a register
pre-period, and simulation-based power with the real estimators (``docs/power.md``)."""

from dreamkit.power.analytic import (
    Allocation,
    allocation,
    design_effect,
    expected_events,
    mde_hazard,
    mde_mean,
    mde_proportion,
    power_hazard,
    power_mean,
    power_proportion,
    required_events,
    within_cluster_design_effect,
)
from dreamkit.power.light import LightTrial, simulate_outcomes
from dreamkit.power.planning import ICCEstimate, PlanningInputs, icc_anova, planning_inputs
from dreamkit.power.result import PowerResult, power_curve, rejection_band
from dreamkit.power.simulation import (
    NormalClusterModel,
    PowerModel,
    ReferenceTrialModel,
    SimTrial,
    analyse,
    parallel_map,
    simulate_power,
)

__all__ = [
    "Allocation",
    "ICCEstimate",
    "LightTrial",
    "NormalClusterModel",
    "PlanningInputs",
    "PowerModel",
    "PowerResult",
    "ReferenceTrialModel",
    "SimTrial",
    "allocation",
    "analyse",
    "design_effect",
    "expected_events",
    "icc_anova",
    "mde_hazard",
    "mde_mean",
    "mde_proportion",
    "parallel_map",
    "planning_inputs",
    "power_curve",
    "power_hazard",
    "power_mean",
    "power_proportion",
    "rejection_band",
    "required_events",
    "simulate_outcomes",
    "simulate_power",
    "within_cluster_design_effect",
]
