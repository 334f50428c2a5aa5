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
    check_id_type(ids, column=column, what=what)
    n_null = ids.null_count()
    if ids.dtype.is_float():
        n_null += int(ids.is_nan().sum())
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
    cast = cast_ids(ids, index.dtype, column=column, what=what)
    table = pl.DataFrame({"_pid": index, "_row": np.arange(index.len(), dtype=np.int64)})
    joined = pl.DataFrame({"_pid": cast}).join(table, on="_pid", how="left", maintain_order="left")
    return joined["_row"].fill_null(-1).to_numpy()


def check_id_type(ids: pl.Series, *, column: str, what: str) -> None:
    """Raise unless person ids are integers, text or whole, finite floats (e.g. from SAS)."""
    dtype = ids.dtype
    if dtype.is_integer() or dtype in (pl.String, pl.Categorical, pl.Null):
        return
    if dtype.is_float():
        values = ids.drop_nulls().drop_nans()
        if values.len() and not bool((values.is_finite() & (values == values.floor())).all()):
            raise InputError(
                f"{what}: column {column!r} holds fractional or infinite person ids; person "
                "ids must be integers or text (a float column may only hold whole numbers)."
            )
        return
    raise InputError(
        f"{what}: column {column!r} has type {dtype}; person ids must be integers or text. "
        "Convert the column (e.g. cast(pl.String)) before reading."
    )


def cast_ids(ids: pl.Series, dtype: pl.DataType, *, column: str, what: str) -> pl.Series:
    """``ids`` cast to the register's id type, refusing casts that change an identifier.

    Text ids become integers only when the text is the integer's canonical form: ``"0012"``
    or ``" 12"`` would silently become person 12, so leading zeros (and spaces, signs, ``12.0``)
    are an error, never lost. Fractional floats are refused likewise.
    """
    if ids.dtype == dtype:
        return ids
    cast = ids.cast(dtype, strict=False)
    n_failed = cast.null_count() - ids.null_count()
    if n_failed:
        raise InputError(
            f"{what}: column {column!r} has {n_failed} identifier(s) that cannot be cast to the "
            f"register's id type {dtype}; use the same id type in both tables."
        )
    if ids.dtype in (pl.String, pl.Categorical) or ids.dtype.is_float():
        back = cast.cast(ids.dtype if ids.dtype.is_float() else pl.String)
        original = ids if ids.dtype.is_float() else ids.cast(pl.String)
        n_changed = int((back != original).fill_null(False).sum())
        if n_changed:
            raise InputError(
                f"{what}: column {column!r} has {n_changed} identifier(s) of type {ids.dtype} "
                f"that would change when cast to the register's id type {dtype} (leading "
                "zeros, spaces or decimals, e.g. '0012' is not 12); read both tables with text "
                "ids (e.g. cast(pl.String) on the register's id column) so no id is altered."
            )
    return cast
