"""Tables in: polars everywhere inside, pandas accepted at every public entry point.

:func:`as_polars` converts once at the boundary (``pl.from_pandas``; the index is dropped
unless it is named, in which case it becomes a column), so the rest of dreamkit works on
polars only.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

import polars as pl

from dreamkit.errors import InputError

F = TypeVar("F", bound=Callable[..., Any])


def as_polars(data: Any, what: str = "data") -> pl.DataFrame:
    """``data`` as a polars DataFrame (polars, a polars LazyFrame or a pandas DataFrame)."""
    if isinstance(data, pl.DataFrame):
        return data
    if isinstance(data, pl.LazyFrame):
        return data.collect()
    module = type(data).__module__
    if module.startswith("pandas"):
        import pandas as pd

        if isinstance(data, pd.DataFrame):
            keep_index = any(name is not None for name in data.index.names)
            frame = data.reset_index() if keep_index else data
            try:
                return pl.from_pandas(frame)
            except (TypeError, ValueError) as err:
                raise InputError(
                    f"{what}: this pandas DataFrame cannot be converted to polars ({err}); "
                    "give its object columns one type each."
                ) from None
    raise InputError(
        f"{what} must be a polars or pandas DataFrame; got {type(data).__name__}. Read files "
        "with dreamkit's readers or pl.read_csv / pl.read_parquet."
    )


def accepts_pandas(*names: str) -> Callable[[F], F]:
    """Decorator: convert the named table arguments with :func:`as_polars` on entry, so a
    pandas DataFrame is accepted wherever a polars one is (converted once, at the boundary)."""

    def wrap(fn: F) -> F:
        sig = inspect.signature(fn)
        positions = {n: list(sig.parameters).index(n) for n in names}

        @functools.wraps(fn)
        def inner(*args: Any, **kwargs: Any) -> Any:
            if args or kwargs:
                args_l = list(args)
                for name, pos in positions.items():
                    if pos < len(args_l):
                        args_l[pos] = _convert(args_l[pos], name)
                    elif name in kwargs:
                        kwargs[name] = _convert(kwargs[name], name)
                args = tuple(args_l)
            return fn(*args, **kwargs)

        return inner  # type: ignore[return-value]

    return wrap


def _convert(value: Any, name: str) -> Any:
    if isinstance(value, pl.DataFrame) or value is None:
        return value
    if type(value).__module__.startswith("pandas") or isinstance(value, pl.LazyFrame):
        return as_polars(value, name)
    return value
