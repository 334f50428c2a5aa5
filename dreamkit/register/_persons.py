"""Person identifiers: checks and row look-ups that never print an identifier."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import polars as pl

from dreamkit.errors import DuplicateError, EmptyInputError, InputError


def check_person_ids(ids: pl.Series, *, column: str, what: str, unique: bool = True) -> None:
    """Raise for an empty or incomplete person column, and for duplicates if ``unique``."""
    if ids.len() == 0:
        raise EmptyInputError(f"{what} has no rows; check the file or the filter applied to it.")
    n_null = ids.null_count()
    if n_null:
        raise InputError(
            f"{what}: column {column!r} has {n_null} missing person id(s); every row needs a "
            "person id (drop or repair those rows)."
        )
    n_dup = ids.len() - ids.n_unique() if unique else 0
    if n_dup:
        raise DuplicateError(
            f"{what}: column {column!r} has {n_dup} duplicated person row(s); each person must "
            "have one row (deduplicate or aggregate the input first)."
        )


def rows_in(index: pl.Series, ids: pl.Series, *, column: str, what: str) -> npt.NDArray[np.int64]:
    """Row of each of ``ids`` in the person ``index`` (in order); -1 where absent."""
    cast = ids.cast(index.dtype, strict=False)
    if cast.null_count() > ids.null_count():
        raise InputError(
            f"{what}: column {column!r} has identifiers that cannot be cast to the register's "
            f"id type {index.dtype}; use the same id type in both tables."
        )
    table = pl.DataFrame({"_pid": index, "_row": np.arange(index.len(), dtype=np.int64)})
    joined = pl.DataFrame({"_pid": cast}).join(table, on="_pid", how="left", maintain_order="left")
    return joined["_row"].fill_null(-1).to_numpy()
