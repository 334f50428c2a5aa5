"""Inputs of the readers: paths, eager frames and lazy frames, all seen as a LazyFrame.

Paths ending in ``.parquet``/``.pq`` are scanned with :func:`polars.scan_parquet`, ``.csv``
with :func:`polars.scan_csv`. In CSV files the code, week and month columns are read as text
(so that a stray ``89O`` becomes a typed error, not a parse failure halfway through the file);
the person column keeps the type polars infers.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Iterator, Sequence
from pathlib import Path
from typing import TypeAlias

import polars as pl

from dreamkit.errors import ColumnNotFoundError, EmptyInputError, InputError

Source: TypeAlias = str | Path | pl.DataFrame | pl.LazyFrame
"""A table: a Parquet/CSV path, an eager DataFrame or a LazyFrame (e.g. from ``scan_*``)."""

BATCH_ROWS = 32_768
_PARQUET = (".parquet", ".pq")
_CSV = (".csv",)


def as_lazy(source: Source, *, what: str, text_columns: Collection[str] = ()) -> pl.LazyFrame:
    """A LazyFrame over ``source``; ``text_columns`` are read as strings from CSV files."""
    if isinstance(source, pl.LazyFrame):
        return source
    if isinstance(source, pl.DataFrame):
        return source.lazy()
    if not isinstance(source, str | Path):
        raise InputError(
            f"{what}: expected a path, a polars DataFrame or a LazyFrame, got "
            f"{type(source).__name__}; convert pandas frames with pl.from_pandas()."
        )
    path = Path(source)
    if not path.is_file():
        raise InputError(f"{what}: file {str(path)!r} does not exist; give a valid path.")
    suffix = path.suffix.lower()
    if suffix in _PARQUET:
        check_format(path, what=what)
        return pl.scan_parquet(path)
    if suffix in _CSV:
        header = _csv_names(path, what=what)
        wanted = set(text_columns)
        overrides = {name: pl.String for name in header if name in wanted}
        return pl.scan_csv(path, schema_overrides=overrides, infer_schema_length=10_000)
    raise InputError(
        f"{what}: cannot tell the format of {path.name!r}; use a .parquet or .csv file, or "
        "pass a polars DataFrame / LazyFrame."
    )


def csv_header(source: Source) -> list[str] | None:
    """Column names of a CSV path (None for other sources), read without type inference."""
    if isinstance(source, str | Path) and Path(source).suffix.lower() in _CSV:
        if not Path(source).is_file():
            raise InputError(f"file {str(source)!r} does not exist; give a valid path.")
        return _csv_names(Path(source), what="CSV file")
    return None


_PARQUET_MAGIC = b"PAR1"


def check_format(path: Path, *, what: str) -> None:
    """Raise :class:`InputError` when a file's bytes do not match its suffix.

    A Parquet file starts and ends with ``PAR1``; a CSV file is text (no NUL byte in its
    first block) and is not a Parquet file. Only the first and last bytes are read.
    """
    size = path.stat().st_size
    with open(path, "rb") as handle:
        head = handle.read(4096)
        handle.seek(max(0, size - 4))
        tail = handle.read(4)
    is_parquet = head[:4] == _PARQUET_MAGIC
    if path.suffix.lower() in _PARQUET:
        if size == 0:
            raise EmptyInputError(f"{what}: {path.name!r} is an empty file; write it again.")
        if not is_parquet:
            raise InputError(
                f"{what}: {path.name!r} is not a Parquet file (it does not start with PAR1); "
                "give the file the suffix of its format (.csv for text)."
            )
        if tail != _PARQUET_MAGIC:
            raise InputError(
                f"{what}: {path.name!r} is a truncated or corrupt Parquet file (no PAR1 "
                "footer); copy or write it again."
            )
    elif path.suffix.lower() in _CSV:
        if size == 0:
            raise EmptyInputError(
                f"{what}: {path.name!r} is an empty file (not even a header row); write it again."
            )
        if is_parquet:
            raise InputError(
                f"{what}: {path.name!r} is a Parquet file with a .csv suffix; rename it to "
                ".parquet."
            )
        if b"\0" in head:
            raise InputError(
                f"{what}: {path.name!r} is not a text (CSV) file (it holds binary bytes); "
                "check the file and its suffix."
            )


def _csv_names(path: Path, *, what: str) -> list[str]:
    check_format(path, what=what)
    try:
        return pl.scan_csv(path, infer_schema=False).collect_schema().names()
    except pl.exceptions.PolarsError as err:
        raise _read_error(what, err) from None


def column_names(frame: pl.LazyFrame, *, what: str) -> list[str]:
    """Column names of a LazyFrame (reads only the schema)."""
    try:
        return frame.collect_schema().names()
    except pl.exceptions.PolarsError as err:
        raise _read_error(what, err) from None


def require_columns(names: Sequence[str], wanted: Sequence[str], *, what: str) -> None:
    """Raise :class:`ColumnNotFoundError` for absent columns, suggesting close names."""
    for column in wanted:
        if column not in names:
            if not all(_NAME.match(n) for n in names):
                # a headerless CSV has data (person ids among them) in its "header": show none
                raise ColumnNotFoundError(
                    f"{what}: column {column!r} not found, and some of the {len(names)} column "
                    "names do not look like names (digits, binary or very long text), so none "
                    "are shown. Is the header row missing, or the file not what its suffix "
                    "says? Write a header row with the column names."
                )
            close = difflib.get_close_matches(column, names, n=3, cutoff=0.6)
            hint = f"did you mean {close}? " if close else ""
            shown = list(names[:8]) + (["..."] if len(names) > 8 else [])
            raise ColumnNotFoundError(
                f"{what}: column {column!r} not found; {hint}available columns: {shown}. "
                "Rename the column or pass its name to the reader."
            )


_NAME = re.compile(r"^[A-Za-z_\u00c0-\u024f][\w .\-\u00c0-\u024f]{0,63}$")


def collect(frame: pl.LazyFrame, *, what: str) -> pl.DataFrame:
    """Collect a LazyFrame, turning polars' parse errors into :class:`InputError`."""
    try:
        return frame.collect()
    except pl.exceptions.PolarsError as err:
        raise _read_error(what, err) from None


def batches(
    source: Source, frame: pl.LazyFrame, *, what: str, rows: int = BATCH_ROWS
) -> Iterator[pl.DataFrame]:
    """Row batches of ``frame`` (a projection of ``source``) in order, never the whole table.

    Eager frames are sliced without copying; Parquet files are read slice by slice (row-group
    pruning keeps one batch in memory); CSV files and LazyFrames, whose plans should run once,
    are streamed with :meth:`polars.LazyFrame.collect_batches`.
    """
    try:
        if isinstance(source, pl.DataFrame) or (
            isinstance(source, str | Path) and Path(source).suffix.lower() in _PARQUET
        ):
            n_rows = source.height if isinstance(source, pl.DataFrame) else _parquet_rows(frame)
            for start in range(0, n_rows, rows):
                yield frame.slice(start, rows).collect()
            return
        for batch in frame.collect_batches(chunk_size=rows, maintain_order=True):
            if batch.height:
                yield batch
    except pl.exceptions.PolarsError as err:
        raise _read_error(what, err) from None


def _parquet_rows(frame: pl.LazyFrame) -> int:
    return int(frame.select(pl.len()).collect().item())


def require_rows(frame: pl.DataFrame | pl.Series, *, what: str) -> None:
    """Raise :class:`EmptyInputError` for a table without rows."""
    if len(frame) == 0:
        raise EmptyInputError(f"{what} has no rows; check the file or the filter applied to it.")


def _read_error(what: str, err: Exception) -> InputError:
    # polars' messages can quote cell values (person identifiers among them): keep only the type
    return InputError(
        f"{what}: polars could not read the table ({type(err).__name__}; the parser's message is "
        "withheld because it may quote cell values). Typical cause: a CSV column whose type "
        "changes after the first 10,000 rows; read the file with pl.scan_csv(..., "
        "schema_overrides=...) and pass the LazyFrame."
    )
