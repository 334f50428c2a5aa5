"""Converting a large register file once into a person-partitioned Parquet dataset.

* :func:`convert_sas` reads SAS files (``.sas7bdat``, transport ``.xpt``) with pyreadstat in
  row chunks, never holding the file whole;
* :func:`partition_register` does the same for Parquet/CSV paths and polars frames.

Both write through :class:`~dreamkit.chunked.writer.DatasetWriter` (the in-memory readers'
checks on every partition, atomic files, resumable: run the same call again after a crash and
it continues after the last chunk written). Chunk sizes follow the memory budget
(:mod:`dreamkit.chunked.budget`): a wide row chunk holds the persons that fit in it with
pyreadstat's double-precision columns; long input is hashed into enough partitions that one
partition's rows fit.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import polars as pl
import pyreadstat
from tqdm.auto import tqdm

from dreamkit.chunked.budget import (
    BASE_BYTES,
    DEFAULT_BUDGET,
    LONG_BYTES_PER_ROW,
    parse_budget,
    plan_chunks,
)
from dreamkit.chunked.dataset import Format, PartitionedRegister
from dreamkit.chunked.writer import DatasetWriter
from dreamkit.errors import InputError
from dreamkit.register.sources import Source, as_lazy, collect

_SAS_READERS: dict[str, Callable[..., Any]] = {
    ".sas7bdat": pyreadstat.read_sas7bdat,
    ".xpt": pyreadstat.read_xport,
    ".xport": pyreadstat.read_xport,
}
_XPORT_RECORD = 80
WIDE_CELL_BYTES = 32
"""Bytes per cell of a wide input chunk during conversion: the reader's doubles (8), polars'
copy (8), the Int32 codes and the checks' working arrays."""


def convert_sas(
    path: str | Path,
    root: str | Path,
    *,
    format: Format = "wide",
    person: str = "person_id",
    week: str = "week",
    code: str = "code",
    budget: int | str = DEFAULT_BUDGET,
    chunk_rows: int | None = None,
    n_partitions: int | None = None,
    encoding: str | None = None,
    progress: bool = True,
    **read_options: Any,
) -> PartitionedRegister:
    """Convert a SAS register (``.sas7bdat`` or ``.xpt``) to a partitioned Parquet dataset.

    Args:
        path: the SAS file.
        root: the dataset directory to write (rerun with the same arguments to resume).
        format: ``"wide"`` (one row per person, ``y_YYWW`` columns) or ``"long"``
            (``person, week, code`` rows).
        person, week, code: column names.
        budget: memory budget (bytes or text such as ``"4GB"``) that sets ``chunk_rows`` and,
            for long input, ``n_partitions``.
        chunk_rows: input rows per chunk (wide: persons per partition); overrides the budget.
        n_partitions: partitions of long input; overrides the budget.
        encoding: text encoding of the SAS file (pyreadstat's default if None).
        progress: show a progress bar.
        read_options: options of :func:`~dreamkit.register.read_wide` /
            :func:`~dreamkit.register.read_long` for the checks and for later reading, e.g.
            ``employment="columns"``, ``on_unknown="unknown"``, ``codemap="my_map.toml"``.
    """
    path = Path(path)
    reader = _SAS_READERS.get(path.suffix.lower())
    if reader is None:
        raise InputError(
            f"cannot tell the SAS format of {path.name!r}; use a .sas7bdat or .xpt file."
        )
    if not path.is_file():
        raise InputError(f"file {str(path)!r} does not exist; give a valid path.")
    extra = {} if encoding is None else {"encoding": encoding}
    if reader is pyreadstat.read_xport and path.stat().st_size % _XPORT_RECORD:
        raise InputError(
            f"{path.name!r} is truncated (a SAS transport file is a whole number of "
            f"{_XPORT_RECORD}-byte records, this one has {path.stat().st_size} bytes); copy "
            "or export it again."
        )
    try:
        _, meta = reader(path, metadataonly=True, **extra)
    except (pyreadstat.ReadstatError, UnicodeError, ValueError) as err:
        raise _sas_error(path, err) from None
    n_rows = meta.number_rows if meta.number_rows and meta.number_rows > 0 else None
    rows, parts = _sizes(format, len(meta.column_names), n_rows, budget, chunk_rows, n_partitions)

    def chunks(start: int) -> Iterator[pl.DataFrame]:
        read_chunks = cast(Any, pyreadstat.read_file_in_chunks)
        parts = read_chunks(
            reader, path, chunksize=rows, offset=start * rows, output_format="polars", **extra
        )
        seen = start * rows
        while True:
            try:
                frame, _ = next(parts)
            except StopIteration:
                if n_rows is not None and seen != n_rows:
                    raise InputError(
                        f"{path.name!r} holds {seen} rows but its header says {n_rows}: the "
                        "file is truncated or damaged; copy or export it again."
                    ) from None
                return
            except (pyreadstat.ReadstatError, UnicodeError, ValueError) as err:
                raise _sas_error(path, err) from None
            seen += frame.height
            if frame.height:
                yield frame

    run = {"source": path.name, "bytes": path.stat().st_size, "chunk_rows": rows}
    writer = DatasetWriter(
        root,
        format=format,
        person=person,
        week=week,
        code=code,
        n_partitions=parts,
        read_options=read_options,
        run=run,
    )
    return _convert(writer, chunks, rows, n_rows, progress)


def partition_register(
    source: Source,
    root: str | Path,
    *,
    format: Format = "wide",
    person: str = "person_id",
    week: str = "week",
    code: str = "code",
    budget: int | str = DEFAULT_BUDGET,
    chunk_rows: int | None = None,
    n_partitions: int | None = None,
    validate: bool = True,
    progress: bool = True,
    **read_options: Any,
) -> PartitionedRegister:
    """Partition a Parquet/CSV register or a polars frame (arguments as :func:`convert_sas`).

    ``validate=False`` skips the in-memory reader's checks (only for data you generated
    yourself); the checks across partitions still run.
    """
    frame = as_lazy(source, what=f"{format} register")
    n_rows = int(collect(frame.select(pl.len()), what=f"{format} register").item())
    n_cols = len(frame.collect_schema())
    rows, parts = _sizes(format, n_cols, n_rows, budget, chunk_rows, n_partitions)

    def chunks(start: int) -> Iterator[pl.DataFrame]:
        yield from _exact_batches(frame.slice(start * rows), rows, what=f"{format} register")

    run: dict[str, Any] = {"chunk_rows": rows, "rows": n_rows}
    if isinstance(source, str | Path):
        run |= {"source": Path(source).name, "bytes": Path(source).stat().st_size}
    writer = DatasetWriter(
        root,
        format=format,
        person=person,
        week=week,
        code=code,
        n_partitions=parts,
        read_options=read_options,
        run=run,
        validate=validate,
    )
    return _convert(writer, chunks, rows, n_rows, progress)


def _sas_error(path: Path, err: Exception) -> InputError:
    # pyreadstat's message may quote cell values (person ids among them): keep only the type
    return InputError(
        f"{path.name!r} could not be read as a SAS file ({type(err).__name__}); check that it "
        "is a complete .sas7bdat or .xpt file (not truncated, not another format) and, for "
        "text columns, pass encoding=."
    )


def _sizes(
    format: Format,
    n_cols: int,
    n_rows: int | None,
    budget: int | str,
    chunk_rows: int | None,
    n_partitions: int | None,
) -> tuple[int, int]:
    """Rows per input chunk and partitions (long), from the budget unless given."""
    if chunk_rows is not None and chunk_rows < 1:
        raise InputError(f"chunk_rows must be >= 1, got {chunk_rows}.")
    if format == "wide":
        rows = (
            chunk_rows
            or plan_chunks(budget, n_cols, bytes_per_person=n_cols * WIDE_CELL_BYTES).persons
        )
        return rows, 1
    room = parse_budget(budget) - BASE_BYTES
    rows = chunk_rows or max(1, int(room / 2 / LONG_BYTES_PER_ROW))
    if n_partitions is None:
        if n_rows is None:
            raise InputError(
                "the SAS file does not state its number of rows; pass n_partitions= for long "
                "input (about rows x 96 bytes / budget)."
            )
        n_partitions = max(1, math.ceil(n_rows * LONG_BYTES_PER_ROW / room))
    return rows, n_partitions


def _convert(
    writer: DatasetWriter,
    chunks: Callable[[int], Iterator[pl.DataFrame]],
    rows: int,
    n_rows: int | None,
    progress: bool,
) -> PartitionedRegister:
    if writer.complete:
        return writer.finish()
    done = writer.done_chunks()
    start = next(i for i in range(len(done) + 1) if i not in done)
    total = None if n_rows is None else math.ceil(n_rows / rows)
    bar = tqdm(total=total, initial=start, desc="converting", unit="chunk", disable=not progress)
    try:
        for index, frame in enumerate(chunks(start), start=start):
            writer.write_chunk(index, frame)
            bar.update(1)
    finally:
        bar.close()
    return writer.finish()


def _exact_batches(frame: pl.LazyFrame, rows: int, *, what: str) -> Iterator[pl.DataFrame]:
    """Batches of exactly ``rows`` rows (the last may be shorter), so chunks are reproducible."""
    pending: list[pl.DataFrame] = []
    held = 0
    try:
        for batch in frame.collect_batches(chunk_size=rows, maintain_order=True):
            pending.append(batch)
            held += batch.height
            while held >= rows:
                whole = pl.concat(pending)
                yield whole.head(rows)
                rest = whole.slice(rows)
                pending, held = ([rest] if rest.height else []), rest.height
    except pl.exceptions.PolarsError as err:
        # polars' message may quote cell values (person ids among them): keep only the type
        raise InputError(
            f"{what}: polars could not read the table ({type(err).__name__})."
        ) from None
    if held:
        yield pl.concat(pending)
