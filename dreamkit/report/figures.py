"""Report figures: matplotlib figures (no pyplot state) saved as PNG and SVG at a fixed pixel size.

Every figure is drawn on a canvas of :data:`WIDTH_IN` x :data:`HEIGHT_IN` inches at
:data:`DPI`, so each PNG is exactly ``WIDTH_IN*DPI`` x ``HEIGHT_IN*DPI`` pixels; the SVG text is
embedded inline in the HTML report (one self-contained file).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import matplotlib
from matplotlib.axes import Axes
from matplotlib.figure import Figure as MplFigure

from dreamkit.report.files import write_bytes_atomic, write_text_atomic

WIDTH_IN = 8.0
HEIGHT_IN = 4.5
DPI = 100
PIXELS = (int(WIDTH_IN * DPI), int(HEIGHT_IN * DPI))  # (width, height) of every PNG


@dataclass(frozen=True)
class Figure:
    """A saved figure: its name, caption, file paths and the SVG markup for embedding."""

    name: str
    caption: str
    png: Path
    svg: Path
    svg_text: str


def new_figure(ncols: int = 1) -> tuple[MplFigure, list[Axes]]:
    """A blank figure of the report's size with ``ncols`` side-by-side axes."""
    fig = MplFigure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI)
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    return fig, list(axes)


def save_figure(fig: MplFigure, directory: Path, name: str, caption: str) -> Figure:
    """Save ``fig`` as ``name.png`` and ``name.svg`` (fixed size, no tight bounding box)."""
    directory.mkdir(parents=True, exist_ok=True)
    fig.set_size_inches(WIDTH_IN, HEIGHT_IN)
    fig.tight_layout()
    png, svg = directory / f"{name}.png", directory / f"{name}.svg"
    png_bytes = io.BytesIO()
    fig.savefig(png_bytes, dpi=DPI, format="png", metadata={"Software": None})
    buffer = io.StringIO()
    # fixed salt: SVG element ids are hashes, random per process unless salted (byte-identical
    # figures for the same data, whatever the run)
    with matplotlib.rc_context({"svg.hashsalt": f"dreamkit-{name}"}):
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    svg_text = buffer.getvalue()
    write_bytes_atomic(png, png_bytes.getvalue())  # atomic: complete or absent after a crash
    write_text_atomic(svg, svg_text)
    start = svg_text.find("<svg")
    return Figure(name, caption, png, svg, svg_text[start:])


def render_figure(task: tuple[MplFigure, Path, str, str]) -> Figure:
    """:func:`save_figure` of one ``(figure, directory, name, caption)`` task: module level, so
    an executor can render figures in other processes (the figure is pickled there)."""
    fig, directory, name, caption = task
    return save_figure(fig, directory, name, caption)
