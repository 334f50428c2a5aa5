r"""Week-t indicators and cumulative shares for a named set of states.

For a set of states :math:`A` (a code-map set such as ``employment`` or ``sickness``) and
aligned states :math:`s_{it}` (week 0 = allocation):

.. math::

    y_{it} = 1[s_{it} \in A], \qquad
    c_{iw} = \sum_{t=1}^{w} y_{it}, \qquad
    \text{share}_{iw} = c_{iw} / w, \qquad w = 1..W.

Counts are integers (``int32``) and the share is one float64 division, so it equals
``count / w`` computed in exact Python arithmetic bit for bit. A week outside the register's
span is unknown: its indicator is missing, and so is every share whose weeks :math:`1..w`
are not all observed (``NaN`` in arrays, null in polars tables).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt
import polars as pl

from dreamkit.design import columns as C
from dreamkit.errors import InputError
from dreamkit.outcomes.align import UNOBSERVED, OnMissing, align_trial
from dreamkit.register.register import Register

Layout = Literal["wide", "long"]


MAX_RANGES = 4  # sets with more runs of consecutive state ids use a 256-entry table


def lookup(mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """A 256-entry boolean table from a code-map mask; :data:`UNOBSERVED` maps to False."""
    lut = np.zeros(256, dtype=bool)
    lut[: mask.size] = mask
    lut[UNOBSERVED] = False
    return lut


def id_ranges(mask: npt.NDArray[np.bool_]) -> list[tuple[int, int]]:
    """Runs ``(first, last)`` of consecutive state ids in a mask.

    A run that ends at the last state id is extended to 254: ids beyond the code map's states
    never occur in a register, so the test is the same and the run may become ``s >= first``.
    """
    ids = np.flatnonzero(mask)
    if ids.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(ids) > 1)
    firsts = [int(ids[0]), *(int(i) for i in ids[breaks + 1])]
    lasts = [*(int(i) for i in ids[breaks]), int(ids[-1])]
    if lasts[-1] == mask.size - 1:
        lasts[-1] = int(UNOBSERVED) - 1
    return list(zip(firsts, lasts, strict=True))


def week_indicators(
    window: npt.NDArray[np.uint8], mask: npt.NDArray[np.bool_]
) -> npt.NDArray[np.bool_]:
    """:math:`y_{it} = 1[s_{it} \\in A]` for every cell of a window (False if unobserved).

    Sets made of a few runs of consecutive state ids are tested with comparisons (two fast
    passes per run); others with a 256-entry lookup table.
    """
    ranges = id_ranges(mask)
    if len(ranges) > MAX_RANGES:
        return np.take(lookup(mask), window)
    out = np.zeros(window.shape, dtype=bool)
    for lo, hi in ranges:
        if lo == hi:
            part = window == lo
        elif lo == 0:
            part = window <= hi
        else:
            part = (window - np.uint8(lo)) <= np.uint8(hi - lo)
        out |= part
    return out


def observed_prefix(window: npt.NDArray[np.uint8]) -> npt.NDArray[np.bool_]:
    """``out[i, j]`` is True when columns ``0..j`` of row ``i`` are all observed."""
    return np.logical_and.accumulate(window != UNOBSERVED, axis=1)


def cumulative_counts(
    window: npt.NDArray[np.uint8], mask: npt.NDArray[np.bool_]
) -> npt.NDArray[np.int32]:
    """:math:`c_{iw}`: weeks in the set among columns ``0..w-1`` of the window (int32)."""
    return np.cumsum(week_indicators(window, mask), axis=1, dtype=np.int32)


def cumulative_shares(
    window: npt.NDArray[np.uint8],
    mask: npt.NDArray[np.bool_],
    *,
    out: npt.NDArray[np.float64] | None = None,
) -> npt.NDArray[np.float64]:
    """:math:`\\text{share}_{iw} = c_{iw}/w` for a window of weeks ``1..W`` (float64, NaN if
    weeks ``1..w`` are not all observed).

    The counts accumulate week by week in float64 (exact for integers below 2**53) and each
    share is one division, so the result equals ``count / w`` exactly. The indicators are
    transposed to week-major order first, so every step works on contiguous rows.

    Args:
        window: aligned states of weeks ``1..W`` (persons x W).
        mask: code-map mask of the set :math:`A`.
        out: optional week-major (W x persons) float64 array to fill, e.g. a block of
            columns of a larger output; a new one if None.

    Returns:
        the shares as a (persons x W) array: the transpose of the week-major ``out``.
    """
    n, weeks = window.shape
    shares = np.empty((weeks, n)) if out is None else out
    if shares.shape != (weeks, n):
        raise InputError(f"out must have shape {(weeks, n)}, got {shares.shape}.")
    inset = np.ascontiguousarray(week_indicators(window, mask).view(np.uint8).T)
    if weeks:
        shares[0] = inset[0]
    for t in range(1, weeks):
        np.add(shares[t - 1], inset[t], out=shares[t])
    shares /= np.arange(1, weeks + 1, dtype=np.float64)[:, np.newaxis]
    if (window == UNOBSERVED).any():
        shares[~observed_prefix(window).T] = np.nan
    return shares.T


def total_share(
    window: npt.NDArray[np.uint8], mask: npt.NDArray[np.bool_]
) -> npt.NDArray[np.float64]:
    """:math:`c_{iW}/W` over all columns of the window (float64, NaN if any week unobserved)."""
    counts = week_indicators(window, mask).sum(axis=1, dtype=np.int32)
    shares = counts / np.float64(window.shape[1])
    shares[(window == UNOBSERVED).any(axis=1)] = np.nan
    return shares


def state_paths(
    register: Register,
    trial: pl.DataFrame,
    state_set: str,
    *,
    weeks: int = 81,
    kind: Literal["share", "indicator"] = "share",
    layout: Layout = "wide",
    prefix: str | None = None,
    on_missing: OnMissing = "error",
) -> pl.DataFrame:
    """Week-t indicators or cumulative shares for weeks ``1..weeks`` as one polars table.

    Persons whose register does not cover every week are kept; their uncovered values are
    null. ``layout="wide"`` gives ``person_id`` and columns ``{prefix}_{kind}_{w}``;
    ``"long"`` gives ``person_id``, ``week`` and ``{prefix}_{kind}``. The prefix defaults to
    the set's name. Persons absent from the register raise unless ``on_missing="exclude"``.
    """
    if kind not in ("share", "indicator"):
        raise InputError(f"kind must be 'share' or 'indicator', got {kind!r}.")
    if layout not in ("wide", "long"):
        raise InputError(f"layout must be 'wide' or 'long', got {layout!r}.")
    if weeks < 1:
        raise InputError(f"weeks must be >= 1, got {weeks}.")
    mask = register.codemap.mask(state_set)
    aligned = align_trial(
        register, trial, first=1, last=weeks, on_missing=on_missing, coverage="partial"
    )
    window = aligned.alignment.window(1, weeks)
    name = f"{prefix or state_set}_{kind}"
    if kind == "share":
        values: npt.NDArray[np.float64] = cumulative_shares(window, mask)
    else:
        values = week_indicators(window, mask).astype(np.float64)
        values[window == UNOBSERVED] = np.nan
    ids = aligned.trial[C.PERSON]
    if layout == "wide":
        cols = {
            f"{name}_{w}": pl.Series(values[:, w - 1], nan_to_null=True)
            for w in range(1, weeks + 1)
        }
        frame = pl.DataFrame(cols)
        if kind == "indicator":
            frame = frame.cast(pl.Int8)
        return frame.insert_column(0, ids)
    long = pl.DataFrame(
        {
            C.PERSON: ids.gather(np.repeat(np.arange(ids.len()), weeks)),
            "week": np.tile(np.arange(1, weeks + 1, dtype=np.int16), ids.len()),
            name: pl.Series(values.ravel(), nan_to_null=True),
        }
    )
    return long.with_columns(pl.col(name).cast(pl.Int8)) if kind == "indicator" else long
