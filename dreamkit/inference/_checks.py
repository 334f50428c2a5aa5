"""Input validation shared by every public entry point of :mod:`dreamkit.inference`.

Each checker turns user input into a clean numpy array or raises
:class:`dreamkit.errors.InputError` naming the argument, the offending shape or value and the
fix. Messages report shapes and counts only, never data values that could identify a person.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from dreamkit.errors import InputError


def as_outcomes(y: ArrayLike, name: str = "y") -> tuple[NDArray[np.float64], bool]:
    """Return ``y`` as a finite float (n, W) matrix and whether it was given as a vector."""
    arr = np.asarray(y, dtype=np.float64)
    if arr.ndim not in (1, 2):
        raise InputError(f"{name} must be 1-D (n,) or 2-D (n, W); got {arr.ndim} dimensions.")
    was_vector = arr.ndim == 1
    arr = arr.reshape(arr.shape[0], -1)
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise InputError(f"{name} is empty (shape {arr.shape}); pass at least one row and column.")
    _check_finite(arr, name)
    return arr, was_vector


def as_vector(x: ArrayLike, n: int, name: str) -> NDArray[np.float64]:
    """Return ``x`` as a finite float vector of length ``n``."""
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise InputError(f"{name} must be a vector of length {n}; got shape {arr.shape}.")
    _check_finite(arr, name)
    return arr


def as_controls(z: ArrayLike | None, n: int, name: str = "Z") -> NDArray[np.float64]:
    """Return the control matrix as float (n, k); ``None`` means an intercept only."""
    if z is None:
        return np.ones((n, 1))
    arr = np.asarray(z, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[0] != n:
        raise InputError(f"{name} must be a matrix with {n} rows; got shape {arr.shape}.")
    _check_finite(arr, name)
    return arr


def as_codes(x: ArrayLike, n: int, name: str) -> tuple[NDArray[np.intp], int]:
    """Factorise group labels (clusters, blocks) into codes 0..G-1 in sorted label order."""
    arr = np.asarray(x)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise InputError(f"{name} must be a vector of length {n}; got shape {arr.shape}.")
    if arr.dtype.kind == "f" and np.isnan(arr).any():
        raise InputError(
            f"{name} has {int(np.isnan(arr).sum())} missing values; every row needs a group."
        )
    if arr.dtype == object and any(v is None for v in arr):
        raise InputError(f"{name} has missing values (None); every row needs a group.")
    labels, codes = np.unique(arr, return_inverse=True)
    return codes.astype(np.intp), int(labels.shape[0])


def as_binary(x: ArrayLike, n: int, name: str) -> NDArray[np.int8]:
    """Return a 0/1 treatment vector of length ``n`` as int8."""
    arr = np.asarray(x)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise InputError(f"{name} must be a vector of length {n}; got shape {arr.shape}.")
    bad = ~np.isin(arr, (0, 1))
    if bad.any():
        raise InputError(
            f"{name} must contain only 0 and 1; {int(bad.sum())} entries do not. "
            "Recode the treatment indicator to 0 (control) / 1 (treated)."
        )
    return arr.astype(np.int8)


def check_level(level: float) -> float:
    """Confidence level strictly between 0 and 1."""
    if not 0.0 < float(level) < 1.0:
        raise InputError(f"level must lie strictly between 0 and 1; got {level}.")
    return float(level)


def check_positive_int(value: int, name: str, minimum: int = 1) -> int:
    """An integer count at least ``minimum``."""
    if int(value) != value or int(value) < minimum:
        raise InputError(f"{name} must be an integer >= {minimum}; got {value}.")
    return int(value)


def _check_finite(arr: NDArray[np.float64], name: str) -> None:
    bad = ~np.isfinite(arr)
    if bad.any():
        raise InputError(
            f"{name} has {int(bad.sum())} missing or infinite values; inference needs complete "
            "data (drop or impute those rows explicitly before calling)."
        )
