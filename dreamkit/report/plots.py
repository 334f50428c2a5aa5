"""Drawing helpers for the report's figures (matplotlib axes in, nothing computed here)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from matplotlib.axes import Axes

FloatArray = npt.NDArray[np.float64]


def draw_path(
    ax: Axes,
    weeks: npt.ArrayLike,
    estimate: npt.ArrayLike,
    pointwise: tuple[npt.ArrayLike, npt.ArrayLike],
    simultaneous: tuple[npt.ArrayLike, npt.ArrayLike] | None,
    *,
    title: str,
    level: float,
) -> None:
    """An effect path tau_w with its pointwise band (dark) and simultaneous band (light)."""
    w = np.asarray(weeks)
    if simultaneous is not None:
        ax.fill_between(
            w,
            simultaneous[0],
            simultaneous[1],
            color="#9ecae1",
            alpha=0.5,
            label=f"simultaneous {level:.0%} (sup-t)",
        )
    ax.fill_between(
        w, pointwise[0], pointwise[1], color="#3182bd", alpha=0.45, label=f"pointwise {level:.0%}"
    )
    ax.plot(w, estimate, color="#08306b", lw=1.6, label="ITT effect")
    ax.axhline(0.0, color="k", lw=0.8)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("weeks since allocation")
    ax.legend(fontsize=7, loc="best")


def draw_overlays(
    ax: Axes,
    weeks: npt.ArrayLike,
    main: npt.ArrayLike,
    band: tuple[npt.ArrayLike, npt.ArrayLike],
    overlays: dict[str, npt.ArrayLike],
    *,
    title: str,
) -> None:
    """Robustness paths drawn over the main path and its pointwise band."""
    w = np.asarray(weeks)
    ax.fill_between(w, band[0], band[1], color="#cccccc", alpha=0.6, label="main: pointwise band")
    ax.plot(w, main, color="k", lw=1.8, label="main model (2)")
    styles = ["--", ":", "-."]
    for i, (label, path) in enumerate(overlays.items()):
        ax.plot(w, path, ls=styles[i % len(styles)], lw=1.4, label=label)
    ax.axhline(0.0, color="k", lw=0.6)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("weeks since allocation")
    ax.legend(fontsize=7, loc="best")


def draw_survival(
    ax: Axes,
    curves: Sequence[tuple[str, npt.ArrayLike, npt.ArrayLike]],
    *,
    title: str,
    ylabel: str,
) -> None:
    """Step functions S(t) (already truncated for disclosure) for several groups."""
    for label, times, survival in curves:
        ax.step(np.asarray(times), np.asarray(survival), where="post", label=label)
    ax.set_ylim(0.0, 1.02)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("weeks since allocation")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8)


def draw_cutoffs(
    ax: Axes,
    cutoffs: npt.ArrayLike,
    series: dict[str, tuple[npt.ArrayLike, npt.ArrayLike, npt.ArrayLike]],
    *,
    title: str,
) -> None:
    """Effect by self-efficacy cut-off: estimate with its CI, one series per group.

    Missing (suppressed) points are NaN and are not drawn.
    """
    x = np.asarray(cutoffs, dtype=np.float64)
    offsets = np.linspace(-0.12, 0.12, max(len(series), 1))
    for offset, (label, (est, low, high)) in zip(offsets, series.items(), strict=False):
        e = np.asarray(est, dtype=np.float64)
        err = np.vstack([e - np.asarray(low, np.float64), np.asarray(high, np.float64) - e])
        ax.errorbar(x + offset, e, yerr=err, fmt="o-", ms=4, capsize=3, label=label)
    ax.axhline(0.0, color="k", lw=0.8)
    ax.set_xticks(x)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("cut-off c: low = UW-SES 0-c, high = (c+1)-24")
    ax.legend(fontsize=8)
