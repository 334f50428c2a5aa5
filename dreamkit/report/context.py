"""What every report section needs: the data, the configuration, the plan of what runs, the
output folders, the disclosure log, and a place to keep the raw estimator results (for tests
and the caller)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from dreamkit.config import Config
from dreamkit.design import columns as C
from dreamkit.report.disclosure import DisclosureLog
from dreamkit.report.figures import Figure, render_figure, save_figure
from dreamkit.report.html import Section
from dreamkit.report.plan import Plan, make_plan
from dreamkit.report.tables import Table


@dataclass
class ReportContext:
    """Inputs and sinks of the report sections.

    ``persons`` is the person-level analysis table (one row per analysed person: trial
    columns, baseline covariates and outcomes); ``flow`` the sample-flow ledger table
    (step, reason, removed, remaining); ``randomised`` the trial table before exclusions.
    ``plan`` says which sections and optional parts run on these data
    (:mod:`dreamkit.report.plan`); ``skipped`` collects the sentence of every section or part
    that did not run (section id, or ``"section: part"``).
    """

    config: Config
    persons: pl.DataFrame
    flow: pl.DataFrame
    randomised: pl.DataFrame
    out_dir: Path
    log: DisclosureLog
    results: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, Table] = field(default_factory=dict)
    figures: dict[str, Figure] = field(default_factory=dict)
    plan: Plan | None = None  # what runs; computed from the data when not given
    #: section id -> the one sentence saying why it (or a part of it) did not run
    skipped: dict[str, str] = field(default_factory=dict)
    #: the weekly state register behind ``persons`` (read by the horizons and observational
    #: sections); may be None
    register: Any = None
    #: an :class:`~dreamkit.executor.Executor` (local processes, a Dask client): figures are
    #: then drawn by the sections but rendered (PNG, SVG) on it, all at once, by
    #: :meth:`render_figures`; None renders each figure when it is added
    executor: Any = None
    #: figures added but not yet rendered (name -> matplotlib figure), with an executor
    pending_figures: dict[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.plan is None:
            self.plan = make_plan(self.persons, self.randomised, self.config)

    @property
    def runs(self) -> Plan:
        """The plan (never ``None`` after construction)."""
        assert self.plan is not None
        return self.plan

    def skip(self, section: str, title: str, sentence: str) -> Section:
        """A section that did not run: one sentence saying why (recorded in ``skipped``)."""
        self.skipped[section] = sentence
        return Section(section, title, [sentence])

    def left_out(self, section: str, part: str) -> list[str]:
        """The sentence saying why an optional part is left out of a section ([] if it runs);
        recorded in ``skipped`` under ``section: part``."""
        reason = self.runs.parts.get(part)
        if reason is None:
            return []
        sentence = f"Without the {part}: {reason}"
        self.skipped[f"{section}: {part}"] = sentence
        return [sentence]

    @property
    def n_persons(self) -> int:
        return self.persons.height

    @property
    def n_clusters(self) -> int:
        return int(self.persons[self.config.design.cluster].n_unique())

    def n_note(self, n: int | None = None, *, clustered: bool = True) -> str:
        """The N-and-clustering note every table carries."""
        n = self.n_persons if n is None else n
        cluster = self.config.design.cluster
        if clustered:
            return (
                f"N = {n} persons; standard errors clustered by {cluster} "
                f"({self.n_clusters} clusters); {self.config.design.stratum} fixed effects."
            )
        return f"N = {n} persons in {self.n_clusters} {cluster}s; no standard errors."

    def arms_ok(self, frame: pl.DataFrame, output: str, cell: str) -> bool:
        """Whether an effect estimated on ``frame`` may be published: both arms >= k persons
        (records the suppression otherwise)."""
        n1 = int(frame[C.TREATED].sum())
        return self.log.group_ok(output, cell, [n1, frame.height - n1])

    def add_table(self, table: Table) -> Table:
        """Write a table's CSV/Markdown/LaTeX files and keep it."""
        table.write(self.out_dir / "tables")
        self.tables[table.name] = table
        return table

    def add_figure(self, fig: Any, name: str, caption: str) -> Figure:
        """Write a figure's PNG/SVG files and keep it; with an :attr:`executor`, keep it for
        :meth:`render_figures` (the returned figure has no SVG text until then)."""
        directory = self.out_dir / "figures"
        if self.executor is None:
            figure = save_figure(fig, directory, name, caption)
        else:
            figure = Figure(name, caption, directory / f"{name}.png", directory / f"{name}.svg", "")
            self.pending_figures[name] = fig
        self.figures[name] = figure
        return figure

    def render_figures(self) -> dict[str, Figure]:
        """Render the pending figures on the executor, one task per figure (the files and
        SVG text are those :func:`save_figure` writes here, byte for byte), and return them
        by name (also in :attr:`figures`)."""
        if not self.pending_figures:
            return {}
        directory = self.out_dir / "figures"
        tasks = [
            (fig, directory, name, self.figures[name].caption)
            for name, fig in self.pending_figures.items()
        ]
        rendered = {f.name: f for f in self.executor.map(render_figure, tasks)}
        self.pending_figures.clear()
        self.figures.update(rendered)
        return rendered
