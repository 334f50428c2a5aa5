"""Assemble the report as one self-contained HTML file (inline SVG figures, HTML tables)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dreamkit.report.disclosure import DisclosureLog, audit
from dreamkit.report.figures import Figure
from dreamkit.report.files import write_text_atomic
from dreamkit.report.tables import Table

_CSS = """
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;
color:#222;line-height:1.45}
h1{font-size:1.6rem}h2{font-size:1.3rem;border-bottom:1px solid #ccc;margin-top:2.5rem}
table{border-collapse:collapse;margin:1rem 0;font-size:.85rem}
caption{font-weight:600;text-align:left;padding-bottom:.3rem}
th,td{border-bottom:1px solid #ddd;padding:.2rem .5rem;text-align:right}
th:first-child,td:first-child{text-align:left}
td.suppressed{color:#a00;font-style:italic}
p.note{font-size:.8rem;color:#555;margin:.1rem 0}
figure{margin:1rem 0}figure svg{max-width:100%;height:auto}
figcaption{font-size:.85rem;color:#444}
nav li{margin:.1rem 0}
"""


@dataclass
class Section:
    """One report section: an anchor id, a title, explanatory paragraphs, tables and figures."""

    id: str
    title: str
    paragraphs: list[str] = field(default_factory=list)
    items: list[Table | Figure] = field(default_factory=list)


def render_html(
    title: str,
    sections: Sequence[Section],
    disclosure: DisclosureLog,
    preamble: Sequence[str] = (),
) -> str:
    """The whole report as an HTML document; the last section lists every suppression."""
    toc = "".join(
        f'<li><a href="#{s.id}">{html.escape(s.title)}</a></li>'
        for s in [*sections, Section("disclosure", "Disclosure control")]
    )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        *[f"<p>{html.escape(p)}</p>" for p in preamble],
        f"<nav><ol>{toc}</ol></nav>",
    ]
    for section in sections:
        parts.append(f'<section id="{section.id}"><h2>{html.escape(section.title)}</h2>')
        parts += [f"<p>{html.escape(p)}</p>" for p in section.paragraphs]
        for item in section.items:
            parts.append(item.to_html() if isinstance(item, Table) else _figure_html(item))
        parts.append("</section>")
    parts.append(_disclosure_html(disclosure))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_html(path: Path, text: str) -> Path:
    """Write the report file (UTF-8, atomically)."""
    return write_text_atomic(path, text)


def _figure_html(figure: Figure) -> str:
    return (
        f'<figure id="fig-{figure.name}">{figure.svg_text}'
        f"<figcaption>{html.escape(figure.caption)} "
        f"(files: figures/{figure.png.name}, figures/{figure.svg.name})</figcaption></figure>"
    )


def _disclosure_html(log: DisclosureLog) -> str:
    head = (
        f'<section id="disclosure"><h2>Disclosure control</h2><p>Cells built from fewer than '
        f"{log.min_cell} persons are suppressed (shown as “suppressed”); Kaplan-Meier curves stop "
        f"where fewer than {log.min_cell} persons are at risk. "
        f"{len(log.entries)} cell(s) were suppressed.</p>"
    )
    if not log.entries:
        return head + "</section>"
    rows = "".join(
        f"<tr><td>{html.escape(e['output'])}</td><td>{html.escape(e['cell'])}</td>"
        f"<td>{html.escape(e['kind'])}</td><td>{html.escape(e['reason'])}</td></tr>"
        for e in audit(log)
    )
    return (
        head + '<table id="suppressions"><thead><tr><th>output</th><th>cell</th><th>kind</th>'
        f"<th>reason</th></tr></thead><tbody>{rows}</tbody></table></section>"
    )
