"""Table writers, figure files (PNG size from the header) and the HTML assembly."""

from __future__ import annotations

import struct
from html.parser import HTMLParser
from pathlib import Path

import polars as pl

from dreamkit.report.disclosure import SUPPRESSED, DisclosureLog
from dreamkit.report.figures import PIXELS, new_figure, save_figure
from dreamkit.report.html import Section, render_html
from dreamkit.report.tables import Table, fmt, fmt_estimate


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from a PNG file's IHDR chunk."""
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    assert head[12:16] == b"IHDR"
    width, height = struct.unpack(">II", head[16:24])
    return width, height


def test_fmt_rounds_once_for_every_format() -> None:
    assert fmt(0.12345) == "0.123"
    assert fmt(3) == "3"
    assert fmt(None) == ""
    assert fmt(float("nan")) == ""
    assert fmt_estimate(-0.1666, 0.01) == "-0.167*"
    assert fmt_estimate(-0.1666, 0.2) == "-0.167"


def test_table_writes_csv_markdown_latex(tmp_path: Path) -> None:
    table = Table.from_rows(
        "t1",
        "A & B_1",
        ["group", "n", "mean"],
        [["a", 10, 0.5], ["b_2", SUPPRESSED, None]],
        notes=["N = 10 persons; clustered by team (3 clusters)."],
    )
    csv, md, tex = table.write(tmp_path)
    assert pl.read_csv(csv).shape == (2, 3)
    assert "| b_2 | suppressed |  |" in md.read_text()
    latex = tex.read_text()
    assert "A \\& B\\_1" in latex and "b\\_2" in latex and "\\toprule" in latex
    assert table.n_suppressed == 1
    assert 'class="suppressed"' in table.to_html()


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.ids += [v for k, v in attrs if k == "id" and v]


def test_figure_files_and_html(tmp_path: Path) -> None:
    fig, (ax,) = new_figure()
    ax.plot([0, 1], [0, 1])
    figure = save_figure(fig, tmp_path, "line", "A line")
    assert png_size(figure.png) == PIXELS
    assert figure.svg.stat().st_size > 1000
    assert figure.svg_text.startswith("<svg")
    log = DisclosureLog()
    log.record("t1", "row a", "count below 5")
    table = Table.from_rows("t1", "T", ["a"], [[1]])
    text = render_html("R", [Section("s1", "One", ["p"], [table, figure])], log)
    parser = _Collector()
    parser.feed(text)
    assert {"s1", "t1", "fig-line", "disclosure", "suppressions"} <= set(parser.ids)
    assert "svg" in parser.tags
    assert "<img" not in text  # self-contained: nothing loaded from files
