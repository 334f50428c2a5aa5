"""Report tables: one display table written as CSV, Markdown, LaTeX and HTML.

A :class:`Table` holds display strings only (numbers are formatted once, by :func:`fmt`, so
every output format shows the same rounded value) plus its notes; every table of the report
states its N and its clustering in the notes.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from dreamkit.report.disclosure import SUPPRESSED
from dreamkit.report.files import write_csv_atomic, write_text_atomic

DIGITS = 3
#: Shown where an estimator refused a sub-analysis (its reason goes into the table notes).
NOT_ESTIMABLE = "not estimable"


def fmt(value: object, digits: int = DIGITS) -> str:
    """Display form of a number: fixed ``digits`` decimals for floats, plain integers."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int):
        return str(value)
    x = float(value)  # type: ignore[arg-type]
    if math.isnan(x):
        return ""
    return f"{x:.{digits}f}"


def fmt_estimate(estimate: float, p_value: float | None, digits: int = DIGITS) -> str:
    """An estimate with a star when p < 0.05 (the study's convention)."""
    star = "*" if p_value is not None and p_value < 0.05 else ""
    return fmt(estimate, digits) + star


def fmt_effect(row: Mapping[str, Any], digits: int = DIGITS) -> str:
    """``estimate* (std_error)`` from a tidy result row (star: p < 0.05)."""
    estimate = fmt_estimate(row["estimate"], row["p_value"], digits)
    return f"{estimate} ({fmt(row['std_error'], digits)})"


@dataclass(frozen=True)
class Table:
    """A display table: ``name`` (file stem), ``title``, string cells and notes."""

    name: str
    title: str
    frame: pl.DataFrame
    notes: tuple[str, ...] = ()

    @classmethod
    def from_rows(
        cls,
        name: str,
        title: str,
        header: Sequence[str],
        rows: Sequence[Sequence[object]],
        notes: Sequence[str] = (),
    ) -> Table:
        """Build a table from rows of values (formatted with :func:`fmt`)."""
        columns = {h: [fmt(row[j]) for row in rows] for j, h in enumerate(header)}
        frame = pl.DataFrame(columns, schema={h: pl.String for h in header})
        return cls(name, title, frame, tuple(notes))

    @property
    def n_suppressed(self) -> int:
        """Number of suppressed cells in the table."""
        return int(sum((self.frame[c] == SUPPRESSED).sum() for c in self.frame.columns))

    def write(self, directory: Path) -> list[Path]:
        """Write ``name.csv``, ``name.md`` and ``name.tex`` into ``directory`` (atomically)."""
        directory.mkdir(parents=True, exist_ok=True)
        paths = [directory / f"{self.name}.{ext}" for ext in ("csv", "md", "tex")]
        write_csv_atomic(self.frame, paths[0])
        write_text_atomic(paths[1], self.to_markdown())
        write_text_atomic(paths[2], self.to_latex())
        return paths

    def to_markdown(self) -> str:
        """GitHub-flavoured Markdown: title, pipe table, notes."""
        header = self.frame.columns
        lines = [f"**{self.title}**", "", "| " + " | ".join(header) + " |"]
        lines.append("| " + " | ".join("---" for _ in header) + " |")
        for row in self.frame.iter_rows():
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in row) + " |")
        lines += ["", *[f"_{n}_" for n in self.notes]]
        return "\n".join(lines) + "\n"

    def to_latex(self) -> str:
        """A LaTeX ``table`` with a ``tabular`` (booktabs rules) and the notes below."""
        header = self.frame.columns
        spec = "l" + "r" * (len(header) - 1)
        lines = [
            "\\begin{table}[htbp]",
            "\\centering",
            f"\\caption{{{_latex(self.title)}}}",
            f"\\label{{tab:{self.name}}}",
            f"\\begin{{tabular}}{{{spec}}}",
            "\\toprule",
            " & ".join(_latex(h) for h in header) + " \\\\",
            "\\midrule",
        ]
        lines += [" & ".join(_latex(c) for c in row) + " \\\\" for row in self.frame.iter_rows()]
        lines += ["\\bottomrule", "\\end{tabular}"]
        lines += [f"\\par\\footnotesize {_latex(n)}" for n in self.notes]
        lines.append("\\end{table}")
        return "\n".join(lines) + "\n"

    def to_html(self) -> str:
        """An HTML ``<table>`` with caption and notes; suppressed cells carry a class."""
        head = "".join(f"<th>{html.escape(h)}</th>" for h in self.frame.columns)
        body = []
        for row in self.frame.iter_rows():
            cells = "".join(
                f'<td class="suppressed">{SUPPRESSED}</td>'
                if c == SUPPRESSED
                else f"<td>{html.escape(c)}</td>"
                for c in row
            )
            body.append(f"<tr>{cells}</tr>")
        notes = "".join(f'<p class="note">{html.escape(n)}</p>' for n in self.notes)
        return (
            f'<table id="{self.name}"><caption>{html.escape(self.title)}</caption>'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{notes}"
        )


_LATEX_SPECIAL = {
    "\\": "\\textbackslash{}",
    "&": "\\&",
    "%": "\\%",
    "$": "\\$",
    "#": "\\#",
    "_": "\\_",
    "{": "\\{",
    "}": "\\}",
    "~": "\\textasciitilde{}",
    "^": "\\textasciicircum{}",
    "<": "\\textless{}",
    ">": "\\textgreater{}",
}


def _latex(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)
