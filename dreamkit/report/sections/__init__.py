"""The report's sections, in report order: each turns the analysis data into tables and
figures (through the estimators of :mod:`dreamkit.estimate`) under disclosure control.

:func:`run_section` runs one of them: a section the plan (:mod:`dreamkit.report.plan`) skips
becomes one sentence saying why, and so does a section whose estimator refuses the data with a
typed dreamkit error (:class:`~dreamkit.errors.EstimationError`: "Not estimable: ..."; another
:class:`~dreamkit.errors.DreamkitError`: "Skipped: ..."). Any other exception is a bug and
propagates.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from dreamkit.errors import DreamkitError, EstimationError
from dreamkit.report.context import ReportContext
from dreamkit.report.html import Section
from dreamkit.report.plan import SECTION_TITLES
from dreamkit.report.sections.activation import activation_section
from dreamkit.report.sections.balance import balance_section
from dreamkit.report.sections.descriptive import descriptive_section, descriptive_variables
from dreamkit.report.sections.flow import flow_section
from dreamkit.report.sections.heterogeneity import peers_section, selfefficacy_section
from dreamkit.report.sections.horizons import horizons_section
from dreamkit.report.sections.observational import observational_section
from dreamkit.report.sections.paths import paths_section
from dreamkit.report.sections.prognostic import prognostic_section
from dreamkit.report.sections.robustness import robustness_section, subgroups_section
from dreamkit.report.sections.survival import survival_section


@dataclass(frozen=True)
class SectionSpec:
    """One report section: progress label, anchor id, title and builder."""

    label: str
    id: str
    title: str
    build: Callable[[ReportContext], Section]


_BUILDERS: dict[str, tuple[str, Callable[[ReportContext], Section]]] = {
    "sample-flow": ("sample flow", flow_section),
    "descriptive": (
        "descriptive",
        lambda ctx: descriptive_section(ctx, descriptive_variables(ctx)),
    ),
    "balance": ("balance (B)", balance_section),
    "prognostic": ("prognostic covariates", prognostic_section),
    "survival": ("survival and hazards (1)", survival_section),
    "effect-paths": ("effect paths (2)", paths_section),
    "activation": ("activation outcomes", activation_section),
    "self-efficacy": ("self-efficacy (3)", selfefficacy_section),
    "peers": ("peers (4)", peers_section),
    "robustness": ("robustness (5)-(7)", robustness_section),
    "subgroups": ("subgroups", subgroups_section),
    "horizons": ("status at horizons", horizons_section),
    "observational": ("observational comparison", observational_section),
}

SECTIONS: tuple[SectionSpec, ...] = tuple(
    SectionSpec(_BUILDERS[sid][0], sid, title, _BUILDERS[sid][1]) for sid, title in SECTION_TITLES
)


def run_section(ctx: ReportContext, spec: SectionSpec) -> Section:
    """Build one section, or the one sentence saying why it did not run."""
    reason = ctx.runs.skip.get(spec.id)
    if reason is not None:
        return ctx.skip(spec.id, spec.title, f"Skipped: {reason}")
    tables, figures = set(ctx.tables), set(ctx.figures)
    try:
        return spec.build(ctx)
    except DreamkitError as err:
        _discard(ctx, tables, figures)
        what = "Not estimable" if isinstance(err, EstimationError) else "Skipped"
        return ctx.skip(spec.id, spec.title, f"{what}: {err}")


def _discard(ctx: ReportContext, tables: set[str], figures: set[str]) -> None:
    """Remove the outputs a failed section wrote before it stopped (none is half-published)."""
    for name in set(ctx.tables) - tables:
        del ctx.tables[name]
        for ext in ("csv", "md", "tex"):
            (ctx.out_dir / "tables" / f"{name}.{ext}").unlink(missing_ok=True)
    for name in set(ctx.figures) - figures:
        figure = ctx.figures.pop(name)
        ctx.pending_figures.pop(name, None)
        figure.png.unlink(missing_ok=True)
        figure.svg.unlink(missing_ok=True)


__all__ = ["SECTIONS", "SectionSpec", "run_section"]
