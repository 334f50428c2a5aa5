"""Markdown tables of a Monte Carlo validation (for ``docs/validation.md``)."""

from __future__ import annotations

import math

import polars as pl

_HEADER = (
    "| estimator | estimand | R | mean truth | bias | RMSE | mean SE | MC SD | "
    "coverage ± MC SE | rejection rate |"
)


def _num(x: float | None, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return ""
    return f"{x:.{digits}f}"


def markdown_table(summary: pl.DataFrame) -> str:
    """One Markdown row per (estimator, estimand) of :func:`~.montecarlo.summarise`'s table.

    Coverage is the share of CIs containing the truth with its Monte Carlo SE; the rejection
    rate is that of H0: estimand = 0 at the 5% level. Empty cells: not defined for that row
    (a band has no point estimate; randomisation inference no interval).
    """
    lines = [_HEADER, "|" + " --- |" * 10]
    for r in summary.iter_rows(named=True):
        coverage = f"{r['coverage']:.3f} ± {r['coverage_mc_se']:.3f}" if r["n_coverage"] else ""
        lines.append(
            "| "
            + " | ".join(
                [
                    r["estimator"],
                    r["estimand"],
                    str(r["replications"]),
                    _num(r["mean_truth"]),
                    _num(r["bias"]),
                    _num(r["rmse"]),
                    _num(r["mean_se"]),
                    _num(r["mc_sd"]),
                    coverage,
                    _num(r["rejection_rate"], 3) if r["n_rejection"] else "",
                ]
            )
            + " |"
        )
    return "\n".join(lines)
