"""The report's sections, in report order: each turns the analysis data into tables and
figures (through the estimators of :mod:`dreamkit.estimate`) under disclosure control."""

from __future__ import annotations

from collections.abc import Callable

from dreamkit.report.context import ReportContext
from dreamkit.report.html import Section
from dreamkit.report.sections.balance import balance_section
from dreamkit.report.sections.descriptive import descriptive_section, descriptive_variables
from dreamkit.report.sections.flow import flow_section
from dreamkit.report.sections.heterogeneity import peers_section, selfefficacy_section
from dreamkit.report.sections.paths import paths_section
from dreamkit.report.sections.prognostic import prognostic_section
from dreamkit.report.sections.robustness import robustness_section, subgroups_section
from dreamkit.report.sections.survival import survival_section

SECTIONS: tuple[tuple[str, Callable[[ReportContext], Section]], ...] = (
    ("sample flow", flow_section),
    ("descriptive", lambda ctx: descriptive_section(ctx, descriptive_variables(ctx))),
    ("balance (B)", balance_section),
    ("prognostic covariates", prognostic_section),
    ("survival and hazards (1)", survival_section),
    ("effect paths (2)", paths_section),
    ("self-efficacy (3)", selfefficacy_section),
    ("peers (4)", peers_section),
    ("robustness (5)-(7)", robustness_section),
    ("subgroups", subgroups_section),
)

__all__ = ["SECTIONS"]
