"""Writing a person-partitioned register dataset chunk by chunk, validated and resumable.

:class:`DatasetWriter` takes the input in row chunks (e.g. from a SAS file) and

* ``format="wide"``: writes chunk ``i`` as partition ``i`` (one row per person, so a row chunk
  is a person chunk); week columns that are not integers (SAS stores numbers as doubles) are
  written as ``Int32`` codes with null for "no transfer"; a numeric person id whose values are
  all whole numbers is written as ``Int64``;
* ``format="long"``: stages the rows of chunk ``i`` by partition
  :math:`p = h(\\text{person}) \\bmod P` (polars' row hash, so all rows of a person meet in one
  partition) and, in :meth:`DatasetWriter.finish`, concatenates each partition's staged files.

Each partition is checked by the in-memory reader (:func:`~dreamkit.register.read_wide` /
:func:`~dreamkit.register.read_long`, with the same options) before it is recorded, so every
error those readers raise (bad or unknown codes, malformed or missing week columns, missing or
duplicated persons, duplicated person-weeks) is raised here with the same message;
:meth:`finish` adds the checks across partitions (unique persons, one week span). Every file is
written atomically and recorded in ``_parts/`` so an interrupted conversion resumes from the
chunks already written. ``_SUCCESS`` is written last.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import polars as pl

from dreamkit.chunked._atomic import (
    read_json,
    remove_temporaries,
    roundtrip_json,
    write_json_atomic,
    write_parquet_atomic,
)
from dreamkit.chunked.dataset import (
    LAYOUT_FILE,
    PARTS_DIR,
    Format,
    Partition,
    PartitionedRegister,
    partition_name,
)
from dreamkit.chunked.manifest import SUCCESS_FILE
from dreamkit.errors import DuplicateError, InputError
from dreamkit.register import read_long, read_wide
from dreamkit.register.calendar import DEFAULT_PIVOT, week_label
from dreamkit.register.code_cells import MISSING, code_expr
from dreamkit.register.labels import week_of_value

STAGING_DIR = "_staging"
RUN_FILE = "_convert.json"
ROW_GROUP_ROWS = 8_192
_HASH_SEED = 20_240_508


class DatasetWriter:
    """Write a :class:`~dreamkit.chunked.PartitionedRegister` chunk by chunk (module docstring).

    Args:
        root: dataset directory (created if needed).
        format: ``"wide"`` or ``"long"``.
        person, week, code: column names (``week``/``code`` for long input).
        n_partitions: P for long input (persons are hashed into P partitions).
        read_options: options of the in-memory reader used for the checks and stored for
            reading (``week_prefix``, ``employment="columns"``, ``on_unknown``, a code map
            *path*...); only JSON values (text, numbers, None).
        run: JSON description of the conversion (source, chunk rows); a resumed conversion
            must give the same one.
        validate: check each partition with the in-memory reader (turn off only for data you
            generated yourself, e.g. synthetic benchmark registers).
    """

    def __init__(
        self,
        root: str | Path,
        *,
        format: Format = "wide",
        person: str = "person_id",
        week: str = "week",
        code: str = "code",
        n_partitions: int = 1,
        read_options: Mapping[str, Any] | None = None,
        run: Mapping[str, Any] | None = None,
        validate: bool = True,
    ) -> None:
        if format not in ("wide", "long"):
            raise InputError(f"format must be 'wide' or 'long', got {format!r}.")
        if n_partitions < 1:
            raise InputError(f"n_partitions must be >= 1, got {n_partitions}.")
        options = dict(read_options or {})
        bad = [k for k, v in options.items() if not isinstance(v, str | int | float | None)]
        if bad:
            raise InputError(
                f"read_options {bad} must be text, numbers or None so that they can be stored "
                "with the dataset (give a code map as a TOML path)."
            )
        self.root = Path(root)
        self.format: Format = format
        self.person, self.week, self.code = person, week, code
        self.n_partitions = n_partitions
        self.read_options = options
        self.validate = validate
        identity = {
            "format": format,
            "person": person,
            "week": week,
            "code": code,
            "n_partitions": n_partitions,
            "read_options": options,
            "validate": validate,
            "polars": pl.__version__,
            "run": dict(run or {}),
        }
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / RUN_FILE
        if path.is_file():
            if read_json(path) != roundtrip_json(identity):
                raise InputError(
                    f"{str(self.root)!r} holds a conversion with other arguments (or another "
                    "polars version); resume with the same arguments or use a new directory."
                )
        else:
            write_json_atomic(identity, path)

    # ---- resumption ---------------------------------------------------------------------
    def done_chunks(self) -> set[int]:
        """Input chunks already written (wide: partitions; long: staged chunks)."""
        folder = self.root / (PARTS_DIR if self.format == "wide" else STAGING_DIR)
        return {int(p.stem) for p in folder.glob("*.json")} if folder.is_dir() else set()

    @property
    def complete(self) -> bool:
        return (self.root / SUCCESS_FILE).is_file()

    # ---- writing --------------------------------------------------------------------------
    def write_chunk(self, index: int, frame: pl.DataFrame) -> None:
        """Write input chunk ``index`` (chunks are numbered 0, 1, ... in input order)."""
        if index in self.done_chunks():
            return
        frame = _whole_ids(frame, self.person)
        if self.format == "wide":
            self._write_wide(index, frame)
        else:
            self._stage_long(index, frame)

    def _write_wide(self, index: int, frame: pl.DataFrame) -> None:
        prefix = str(self.read_options.get("week_prefix", "y_"))
        if self.validate:
            register = read_wide(frame, person=self.person, **self.read_options)
            first, last = register.first_week, register.last_week
        else:
            first, last = _wide_span(frame.columns, self.person, prefix, self.read_options)
        frame = frame.with_columns(
            _null_missing(c, frame.schema[c])
            for c in frame.columns
            if c.startswith(prefix) and c != self.person and not frame.schema[c].is_integer()
        )
        self._write_partition(index, frame, frame.height, first, last)

    def _stage_long(self, index: int, frame: pl.DataFrame) -> None:
        missing = [c for c in (self.person, self.week, self.code) if c not in frame.columns]
        if missing:
            raise InputError(
                f"long register: column(s) {missing} not found; columns are {frame.columns[:8]}."
            )
        parts = frame.with_columns(
            (pl.col(self.person).hash(seed=_HASH_SEED) % self.n_partitions).alias("_part")
        )
        folder = self.root / STAGING_DIR
        for (part,), rows in parts.partition_by("_part", as_dict=True).items():
            target = folder / f"{int(part):05d}" / f"{index:06d}.parquet"
            write_parquet_atomic(rows.drop("_part"), target)
        write_json_atomic({"rows": frame.height}, folder / f"{index:06d}.json")

    def _write_partition(
        self, index: int, frame: pl.DataFrame, persons: int, first: int, last: int
    ) -> None:
        path = self.root / partition_name(index)
        write_parquet_atomic(frame, path, row_group_size=ROW_GROUP_ROWS)
        record = Partition(partition_name(index), frame.height, persons, path.stat().st_size)
        write_json_atomic(
            {**asdict(record), "first_week": first, "last_week": last},
            self.root / PARTS_DIR / f"{index:05d}.json",
        )

    # ---- finishing ----------------------------------------------------------------------
    def finish(self) -> PartitionedRegister:
        """Check across partitions, write ``_layout.json`` and ``_SUCCESS``; open the dataset."""
        if self.complete:
            self._clean()
            return PartitionedRegister.open(self.root)
        if self.format == "long":
            self._compact_long()
        records = self._records()
        if not records:
            raise InputError("no rows were written; the input is empty.")
        spans = {(r["first_week"], r["last_week"]) for r in records}
        if self.format == "wide" and len(spans) > 1:
            raise InputError(
                f"the wide input's chunks have {len(spans)} different week spans; every row "
                "must have the same week columns."
            )
        first = min(lo for lo, _ in spans)
        last = max(hi for _, hi in spans)
        self._check_unique_persons(records)
        partitions = [{k: r[k] for k in ("name", "rows", "persons", "bytes")} for r in records]
        layout = {
            "format": self.format,
            "person": self.person,
            "week": self.week,
            "code": self.code,
            "first_week": first,
            "last_week": last,
            "partitions": partitions,
            "read_options": self.read_options,
        }
        write_json_atomic(layout, self.root / LAYOUT_FILE)
        self._clean()
        write_json_atomic({"partitions": len(records)}, self.root / SUCCESS_FILE)
        return PartitionedRegister.open(self.root)

    def _clean(self) -> None:
        """Remove the staged long chunks and crashed writers' temporaries."""
        shutil.rmtree(self.root / STAGING_DIR, ignore_errors=True)
        remove_temporaries(self.root)

    def _records(self) -> list[dict[str, Any]]:
        folder = self.root / PARTS_DIR
        paths = sorted(folder.glob("*.json")) if folder.is_dir() else []
        indices = [int(p.stem) for p in paths]
        if indices != list(range(len(indices))):
            raise InputError(
                "partition records are not numbered 0..n-1; chunks are missing. Run the "
                "conversion again with the same arguments to write them."
            )
        return [read_json(p) for p in paths]

    def _check_unique_persons(self, records: list[dict[str, Any]]) -> None:
        scans = [pl.scan_parquet(self.root / r["name"]).select(self.person) for r in records]
        dtypes = [scan.collect_schema()[self.person] for scan in scans]
        if len(set(dtypes)) > 1:
            first = next(i for i, d in enumerate(dtypes) if d != dtypes[0])
            raise InputError(
                f"{self.format} register: column {self.person!r} has type {dtypes[0]} in "
                f"partition 0 but {dtypes[first]} in partition {first}; person ids must have "
                "one type in every chunk (read them as text everywhere, so leading zeros are "
                "kept)."
            )
        if self.format == "long":  # a person's rows share one partition, checked by read_long
            return
        ids = pl.concat(scans).collect()[self.person]
        n_dup = ids.len() - ids.n_unique()
        if n_dup:
            raise DuplicateError(
                f"wide register: column {self.person!r} has {n_dup} duplicated person row(s) "
                "across chunks; each person must have one row (deduplicate the input first)."
            )

    def _compact_long(self) -> None:
        staging = self.root / STAGING_DIR
        done = {int(p.stem) for p in (self.root / PARTS_DIR).glob("*.json")}
        for part in range(self.n_partitions):
            if part in done:
                continue
            files = sorted((staging / f"{part:05d}").glob("*.parquet"))
            if not files:
                raise InputError(
                    f"long register: partition {part} of {self.n_partitions} received no "
                    "persons; use fewer partitions (n_partitions) for this input."
                )
            dtypes = {pl.read_parquet_schema(f)[self.person] for f in files}
            if len(dtypes) > 1:
                raise InputError(
                    f"long register: column {self.person!r} has types {sorted(map(str, dtypes))} "
                    "in different input chunks; person ids must have one type in every chunk "
                    "(read them as text everywhere, so leading zeros are kept)."
                )
            frame = pl.read_parquet(files)
            register = read_long(
                frame, person=self.person, week=self.week, code=self.code, **self.read_options
            )
            self._write_partition(
                part, frame, register.n_persons, register.first_week, register.last_week
            )


def _whole_ids(frame: pl.DataFrame, person: str) -> pl.DataFrame:
    """Float person ids that are all whole numbers (SAS doubles) become Int64."""
    if person not in frame.columns or not frame.schema[person].is_float():
        return frame
    ids = frame[person]
    whole = ids.is_not_null() & ids.is_finite() & (ids == ids.floor()) & (ids.abs() < 2**53)
    if whole.all():
        return frame.with_columns(ids.cast(pl.Int64))
    return frame


def _null_missing(name: str, dtype: pl.DataType) -> pl.Expr:
    """Validated code column as Int32 with null for no transfer."""
    codes = code_expr(name, dtype)
    return pl.when(codes == MISSING).then(None).otherwise(codes).cast(pl.Int32).alias(name)


def _wide_span(
    columns: list[str], person: str, prefix: str, options: Mapping[str, Any]
) -> tuple[int, int]:
    pivot = int(options.get("pivot", DEFAULT_PIVOT))
    weeks = [
        week_of_value(c[len(prefix) :], pivot=pivot, column=c)
        for c in columns
        if c.startswith(prefix) and c != person
    ]
    if not weeks:
        raise InputError(f"wide register: no week columns starting with {prefix!r}.")
    first, last = min(weeks), max(weeks)
    if last - first + 1 != len(weeks):
        raise InputError(
            f"wide register: week columns {week_label(first, prefix)}..{week_label(last, prefix)} "
            "are not contiguous; validate the input (validate=True) to see which are missing."
        )
    return first, last
