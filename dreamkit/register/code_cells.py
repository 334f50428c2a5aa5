"""Benefit-code columns of any storage type turned into ``int32`` codes, and their errors.

A code cell is read as: null, empty text or NaN -> no transfer (``MISSING``); a non-negative
integer (also ``890.0`` as float or text, as pandas writes it) -> that code; anything else
(``89O``, ``-3``, ``1.5``) -> ``BAD``, reported by :class:`CodeTally` with a count and an
example value. Codes never appear together with the person they belong to.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
from polars._typing import PolarsDataType

from dreamkit.errors import CodeNotIntegerError, UnknownCodeError
from dreamkit.register.codemap import CodeMap

MISSING = -1
BAD = -2
_MAX_CODE = 2**31 - 1
_N_EXAMPLES = 5


_NARROW = (pl.Int8, pl.Int16, pl.UInt8)


def narrowest_code_type(dtypes: list[pl.DataType]) -> PolarsDataType:
    """Int16 when every column stores codes that fit it (halves working memory), else Int32."""
    return pl.Int16 if all(d in _NARROW or d == pl.Null for d in dtypes) else pl.Int32


def code_expr(name: str, dtype: PolarsDataType, out: PolarsDataType = pl.Int32) -> pl.Expr:
    """Expression turning column ``name`` into ``out`` codes with ``MISSING`` and ``BAD``."""
    col = pl.col(name)
    if dtype == pl.Null:
        return pl.lit(MISSING, dtype=out).alias(name)
    if isinstance(dtype, pl.Categorical | pl.Enum):
        col, dtype = col.cast(pl.String), pl.String
    if dtype in _NARROW and out == pl.Int16:
        return pl.when(col < 0).then(BAD).otherwise(col).fill_null(MISSING).cast(out).alias(name)
    if dtype.is_integer():
        value = col.cast(pl.Int64)
        missing = col.is_null()
    elif dtype.is_float():
        value = pl.when(col == col.floor()).then(col).cast(pl.Int64, strict=False)
        missing = col.is_null() | col.is_nan()
    elif dtype == pl.String:
        text = col.str.strip_chars()
        value = text.str.replace(r"\.0+$", "").cast(pl.Int64, strict=False)
        missing = text.is_null() | (text == "")
    else:
        raise CodeNotIntegerError(
            f"column {name!r} has type {dtype}; benefit codes must be integers (or text "
            "holding integers). Convert the column before reading."
        )
    bad = value.is_null() | (value < 0) | (value > _MAX_CODE)
    return (
        pl.when(missing)
        .then(pl.lit(MISSING, dtype=pl.Int64))
        .when(bad)
        .then(pl.lit(BAD, dtype=pl.Int64))
        .otherwise(value)
        .cast(out)
        .alias(name)
    )


@dataclass
class CodeTally:
    """Counts of bad and unknown code cells over all batches of one input, with examples."""

    codemap: CodeMap
    on_unknown: str = "error"
    n_bad: int = 0
    bad_examples: dict[str, str] = field(default_factory=dict)
    n_unknown: int = 0
    unknown_examples: set[int] = field(default_factory=set)
    unknown_columns: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.on_unknown not in ("error", "unknown"):
            raise ValueError(f"on_unknown must be 'error' or 'unknown', got {self.on_unknown!r}")

    def to_states(
        self,
        codes: npt.NDArray[np.signedinteger[Any]],
        employed: npt.NDArray[np.bool_] | None,
        *,
        raw: pl.DataFrame,
        columns: list[str],
    ) -> npt.NDArray[np.uint8]:
        """States of a batch of codes (2-D, one column per name in ``columns``), tallying."""
        bad = codes == BAD
        if bad.any():
            self._tally_bad(bad, raw, columns)
            codes = np.where(bad, MISSING, codes)
        states, n_unknown = self.codemap.to_states(
            codes, employed, missing_code=MISSING, on_unknown="unknown"
        )
        if n_unknown:
            self.n_unknown += n_unknown
            unknown = states == self.codemap.unknown_id
            if len(self.unknown_examples) < _N_EXAMPLES:
                self.unknown_examples.update(np.unique(codes[unknown])[:_N_EXAMPLES].tolist())
            if len(self.unknown_columns) < 3:
                hit = np.flatnonzero(unknown.any(axis=0))
                self.unknown_columns.extend(columns[j] for j in hit[:3])
        return states

    def _tally_bad(self, bad: npt.NDArray[np.bool_], raw: pl.DataFrame, columns: list[str]) -> None:
        self.n_bad += int(bad.sum())
        if len(self.bad_examples) >= 3:
            return
        for j in np.flatnonzero(bad.any(axis=0))[:3]:
            name = columns[j]
            row = int(np.flatnonzero(bad[:, j])[0])
            self.bad_examples.setdefault(name, str(raw[name][row]))

    def raise_if_any(self, *, what: str) -> None:
        """Raise the first applicable error after all batches have been tallied."""
        if self.n_bad:
            shown = ", ".join(f"{col!r}: {val!r}" for col, val in self.bad_examples.items())
            raise CodeNotIntegerError(
                f"{what}: {self.n_bad} code cell(s) are not non-negative integers, e.g. in "
                f"column {shown}; correct them in the file (codes are whole numbers, empty = "
                "no transfer)."
            )
        if self.n_unknown and self.on_unknown == "error":
            examples = sorted(self.unknown_examples)[:_N_EXAMPLES]
            raise UnknownCodeError(
                f"{what}: {self.n_unknown} cell(s) hold codes not in code map "
                f"{self.codemap.name!r}, e.g. {examples} (column(s) "
                f"{self.unknown_columns[:3]}); add them to the code map or pass "
                "on_unknown='unknown' to map them to the 'unknown' state and count them."
            )
