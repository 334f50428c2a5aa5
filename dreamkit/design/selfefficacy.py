"""UW-SES self-efficacy: scoring and the low/high split.

The University of Washington Self-Efficacy Scale has six items scored 0-4; the total
(:func:`dreamkit.design.trial.uwses_total`) runs 0-24. With cut-off c, a person has **low**
self-efficacy when the total is in 0..c and **high** when it is in (c+1)..24. The study's
descriptive split is c = 10; its heterogeneity analysis varies c over 6..14
(:data:`DEFAULT_CUTOFFS`); its peer table uses c = 8.
"""

from __future__ import annotations

import polars as pl

from dreamkit.design import columns as C
from dreamkit.design.trial import uwses_total
from dreamkit.errors import ColumnNotFoundError, InputError

UWSES_MAX = 24
DEFAULT_CUTOFFS: tuple[int, ...] = tuple(range(6, 15))

__all__ = ["DEFAULT_CUTOFFS", "UWSES_MAX", "check_cutoff", "low_self_efficacy", "uwses_total"]


def check_cutoff(cutoff: int) -> int:
    """A cut-off must leave both groups possible: 0 <= c < 24."""
    if isinstance(cutoff, bool) or int(cutoff) != cutoff or not 0 <= cutoff < UWSES_MAX:
        raise InputError(
            f"self-efficacy cut-off {cutoff!r} must be an integer in 0..{UWSES_MAX - 1} "
            f"(low = 0..c, high = c+1..{UWSES_MAX})."
        )
    return int(cutoff)


def low_self_efficacy(data: pl.DataFrame, cutoff: int, score: str = C.UWSES) -> pl.Series:
    """Indicator (Int8) of low self-efficacy, ``score <= cutoff``; a missing score is an error."""
    cutoff = check_cutoff(cutoff)
    if score not in data.columns:
        raise ColumnNotFoundError(
            f"no column {score!r}; compute the UW-SES total first (uwses_total) or pass score=."
        )
    values = data[score]
    n_null = values.null_count()
    if n_null:
        raise InputError(
            f"column {score!r} has {n_null} missing value(s); the low/high split needs every "
            "score. Exclude those persons explicitly (and record it) before splitting."
        )
    out_of_range = int(((values < 0) | (values > UWSES_MAX)).sum())
    if out_of_range:
        raise InputError(
            f"column {score!r} has {out_of_range} value(s) outside 0..{UWSES_MAX}; it must be "
            "the UW-SES total."
        )
    return (values <= cutoff).cast(pl.Int8).alias("low_se")
