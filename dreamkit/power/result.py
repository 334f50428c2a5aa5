r"""The result of a power calculation: a table of power by effect size, and its figure.

Monte Carlo bands on a simulated rejection rate :math:`\hat\pi = k/R` (k rejections in R
replications) come from ``statsmodels.stats.proportion.proportion_confint``: Wilson's score
interval (default)

.. math:: \frac{\hat\pi + z^2/2R \pm z\sqrt{\hat\pi(1-\hat\pi)/R + z^2/4R^2}}{1 + z^2/R}

or the exact Clopper-Pearson interval (``"beta"``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from numpy.typing import NDArray
from statsmodels.stats.proportion import proportion_confint

from dreamkit.errors import InputError

#: Leading columns of :meth:`PowerResult.tidy`.
COLUMNS: tuple[str, ...] = ("effect", "n", "clusters", "power", "power_low", "power_high", "method")
INTERVALS: dict[str, str] = {"wilson": "wilson", "clopper-pearson": "beta"}


def rejection_band(
    rejections: int | np.ndarray,
    replications: int,
    *,
    level: float = 0.95,
    interval: str = "wilson",
) -> tuple[Any, Any]:
    """Monte Carlo band of a rejection rate (module docstring): Wilson or Clopper-Pearson."""
    if interval not in INTERVALS:
        raise InputError(f"interval = {interval!r}; use 'wilson' or 'clopper-pearson'.")
    if not 0 < level < 1:
        raise InputError(f"level = {level!r} is outside (0, 1); give e.g. level=0.95.")
    return proportion_confint(rejections, replications, alpha=1 - level, method=INTERVALS[interval])


@dataclass(frozen=True, eq=False)
class PowerResult:
    """Power by effect size (analytic and/or simulated).

    Attributes:
        table: one row per (effect, method) with columns :data:`COLUMNS` first, then
            ``parameter`` (the simulator's effect parameter), ``replications``, ``rejections``,
            ``mean_estimate``, ``sd_estimate``, ``mean_se`` (null for analytic rows).
        curve: a dense analytic power curve (``effect``, ``power``, ``method``) for the
            figure, or None.
        title: what was computed (design, outcome, test level).
        level, interval: the Monte Carlo band's level and kind.
    """

    table: pl.DataFrame
    curve: pl.DataFrame | None = None
    title: str = "power"
    level: float = 0.95
    interval: str = "wilson"
    notes: tuple[str, ...] = field(default=())

    def tidy(self) -> pl.DataFrame:
        """The table (columns :data:`COLUMNS` first)."""
        return self.table

    def to_pandas(self) -> Any:
        return self.table.to_pandas()

    def summary(self) -> str:
        """A plain-text table of power by effect and method."""
        shown = self.table.select(
            [c for c in (*COLUMNS, "parameter", "replications") if c in self.table.columns]
        )
        lines = [self.title, f"Monte Carlo bands: {self.interval}, level {self.level:.0%}"]
        header = f"{'effect':>10} {'n':>6} {'clusters':>8} {'power':>7} {'band':>17}  method"
        lines.append(header)
        for row in shown.iter_rows(named=True):
            lo, hi = row["power_low"], row["power_high"]
            band = "" if lo is None or lo == hi else f"[{lo:.3f}, {hi:.3f}]"
            lines.append(
                f"{row['effect']:>10.4f} {row['n']:>6.0f} {row['clusters']:>8.0f} "
                f"{row['power']:>7.3f} {band:>17}  {row['method']}"
            )
        lines += [f"note: {note}" for note in self.notes]
        return "\n".join(lines)

    def __repr__(self) -> str:
        methods = self.table["method"].unique(maintain_order=True).to_list()
        return (
            f"PowerResult({self.title}: {self.table['effect'].n_unique()} effects, "
            f"methods {methods})"
        )

    def plot(self, ax: Any = None, path: str | Path | None = None) -> Any:
        """Power against effect size: the analytic curve as a line, simulated rejection rates
        as points with their Monte Carlo bands. Returns the matplotlib Figure (saved to
        ``path`` too if given)."""
        if ax is None:
            from matplotlib.figure import Figure

            fig = Figure(figsize=(6.0, 4.0))
            ax = fig.add_subplot()
        else:
            fig = ax.figure
        if self.curve is not None:
            for method, part in self.curve.group_by("method", maintain_order=True):
                ax.plot(part["effect"], part["power"], "-", label=str(method[0]))
        simulated = self.table.filter(pl.col("replications").is_not_null())
        markers = iter("osD^v<>")
        groups = list(simulated.group_by("method", maintain_order=True))
        span = float(np.ptp(self.table["effect"].to_numpy())) or 1.0
        for k, (method, part) in enumerate(groups):
            p = part["power"].to_numpy()
            err = np.vstack([p - part["power_low"].to_numpy(), part["power_high"].to_numpy() - p])
            dodge = 0.008 * span * (k - (len(groups) - 1) / 2)  # side by side, not on top
            ax.errorbar(
                part["effect"].to_numpy() + dodge,
                p,
                yerr=err,
                fmt=next(markers, "o"),
                capsize=3,
                label=f"{method[0]} (simulated)",
            )
        ax.axhline(0.8, color="grey", lw=0.6, ls=":")
        ax.set_xlabel("true effect on the outcome")
        ax.set_ylabel("power")
        ax.set_ylim(0, 1.02)
        ax.set_title(self.title, fontsize=9)
        ax.legend(fontsize=7)
        if path is not None:
            fig.savefig(path, bbox_inches="tight")
        return fig


def power_curve(
    effects: Sequence[float] | NDArray[np.float64],
    sd: float,
    n: float,
    **design: Any,
) -> PowerResult:
    """Analytic power of a difference in means at ``effects`` as a :class:`PowerResult`
    (``method = "analytic"``, the band equal to the power) with a dense curve for
    :meth:`PowerResult.plot`; ``design`` takes the keyword arguments of
    :func:`dreamkit.power.power_mean` (design, share_treated, icc, cluster_size, ...)."""
    from dreamkit.power.analytic import allocation, power_mean

    values = np.asarray(effects, dtype=np.float64).reshape(-1)
    if values.size == 0:
        raise InputError("effects is empty; give the effect sizes of the curve.")
    power = np.asarray(power_mean(values, sd, n, **design), dtype=np.float64)
    keys = ("design", "share_treated", "icc", "cluster_size", "cv", "r2", "pair_correlation")
    alloc = allocation(n, **{k: v for k, v in design.items() if k in keys})
    table = pl.DataFrame(
        {
            "effect": values,
            "n": np.full(values.size, alloc.n),
            "clusters": np.full(values.size, alloc.clusters),
            "power": power,
            "power_low": power,
            "power_high": power,
            "method": ["analytic"] * values.size,
            "replications": pl.Series([None] * values.size, dtype=pl.Int64),
        }
    )
    grid = np.linspace(min(0.0, values.min()), max(0.0, values.max()), 101)
    curve = pl.DataFrame(
        {
            "effect": grid,
            "power": np.asarray(power_mean(grid, sd, n, **design), dtype=np.float64),
            "method": ["analytic"] * grid.size,
        }
    )
    title = f"analytic power, {alloc.design} design, n = {alloc.n:g}, DE = {alloc.inflation:.3f}"
    return PowerResult(table=table, curve=curve, title=title)
