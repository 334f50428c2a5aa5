r"""Pre-allocation windows: shares of weeks in a set before allocation (baseline covariates).

The :math:`P` weeks before allocation (relative weeks :math:`-P..-1`) are cut into
:math:`P/L` consecutive windows of :math:`L` weeks. Window :math:`m` covers weeks
:math:`b_m..e_m` *before* allocation with :math:`b_m = P - mL` and :math:`e_m = b_m - L + 1`
(the study: :math:`P = 104, L = 13` gives 104-92, 91-79, ..., 13-1), and

.. math::

    \text{pre}_{i,m} = \frac{1}{L} \sum_{u=e_m}^{b_m} 1[s_{i,-u} \in A], \qquad
    \text{pre}_{i,P..1} = \frac{1}{P} \sum_{u=1}^{P} 1[s_{i,-u} \in A].

Counts accumulate week by week in float64 (exact for integers) and each share is one float64
division, so it equals ``count / L`` exactly. A window with any week outside the
register's span is missing (``NaN``).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from dreamkit.errors import InputError
from dreamkit.outcomes.align import UNOBSERVED
from dreamkit.outcomes.shares import week_indicators


def pre_window_bounds(pre_weeks: int = 104, length: int = 13) -> list[tuple[int, int]]:
    """Windows as (first, last) weeks *before* allocation: [(104, 92), ..., (13, 1)]."""
    if pre_weeks < 1 or length < 1 or pre_weeks % length:
        raise InputError(
            f"pre_weeks ({pre_weeks}) must be a positive multiple of the window length "
            f"({length}); e.g. 104 weeks in windows of 13."
        )
    return [(b, b - length + 1) for b in range(pre_weeks, 0, -length)]


def pre_window_shares(
    window: npt.NDArray[np.uint8],
    mask: npt.NDArray[np.bool_],
    length: int = 13,
    *,
    out: npt.NDArray[np.float64] | None = None,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Shares per pre-allocation window and over all :math:`P` weeks (module docstring).

    Args:
        window: aligned states of relative weeks ``-P..-1`` (persons x P).
        mask: code-map mask of the set :math:`A`.
        length: :math:`L`, weeks per window.
        out: optional window-major (P/L x persons) float64 array to fill; new if None.

    Returns:
        (persons x P/L shares in the order of :func:`pre_window_bounds`, the transpose of the
        window-major ``out``; persons shares over all P weeks); ``NaN`` where a window is not
        fully observed.
    """
    n, pre_weeks = window.shape
    n_windows = len(pre_window_bounds(pre_weeks, length))
    shares = np.empty((n_windows, n)) if out is None else out
    if shares.shape != (n_windows, n):
        raise InputError(f"out must have shape {(n_windows, n)}, got {shares.shape}.")
    inset = np.ascontiguousarray(week_indicators(window, mask).view(np.uint8).T)
    shares[:] = inset.reshape(n_windows, length, n).sum(axis=1, dtype=np.uint32)
    total = shares.sum(axis=0) / np.float64(pre_weeks)
    shares /= np.float64(length)
    unobserved = window == UNOBSERVED
    if unobserved.any():
        shares[unobserved.reshape(n, n_windows, length).any(axis=2).T] = np.nan
        total[unobserved.any(axis=1)] = np.nan
    return shares.T, total
