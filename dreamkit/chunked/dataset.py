"""A DREAM register stored as person-partitioned Parquet, read one partition at a time.

Layout of a dataset directory::

    root/
      _layout.json          format, column names, week span, partitions (rows, persons)
      part-00000.parquet    all rows of the persons of partition 0
      part-00001.parquet    ...
      _parts/00000.json     per-partition records written while converting (resumable)
      _SUCCESS              written last: the dataset is complete and validated

* ``format="wide"``: one row per person, week columns ``y_YYWW`` (``Int32`` codes, null = no
  transfer) and any other columns (e.g. monthly ``branche_YYYY_MM`` employment columns), as
  :func:`~dreamkit.register.read_wide` reads them. Every partition has the same week columns.
* ``format="long"``: rows ``(person, week, code)``; all rows of a person are in one partition.

Every partition was validated by the in-memory reader when it was written, and person ids
are unique across partitions, so a partition read with :meth:`PartitionedRegister.read` gives
the same rows of states as reading the whole register in memory.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import polars as pl

from dreamkit.chunked._atomic import read_json
from dreamkit.chunked.manifest import SUCCESS_FILE
from dreamkit.errors import InputError
from dreamkit.register import read_long, read_wide
from dreamkit.register.calendar import week_label
from dreamkit.register.register import Register

LAYOUT_FILE = "_layout.json"
PARTS_DIR = "_parts"
Format = Literal["wide", "long"]


def partition_name(index: int) -> str:
    """File name of partition ``index``."""
    return f"part-{index:05d}.parquet"


@dataclass(frozen=True)
class Partition:
    """One partition file: its name, Parquet rows and persons."""

    name: str
    rows: int
    persons: int
    bytes: int


@dataclass(frozen=True)
class PartitionedRegister:
    """A complete person-partitioned register dataset (module docstring).

    Open one with :meth:`open`; write one with :func:`~dreamkit.chunked.convert_sas`,
    :func:`~dreamkit.chunked.partition_register` or :class:`~dreamkit.chunked.DatasetWriter`.
    """

    root: Path
    format: Format
    person: str
    week: str
    code: str
    first_week: int
    last_week: int
    partitions: tuple[Partition, ...]
    read_options: Mapping[str, Any]

    @classmethod
    def open(cls, root: str | Path) -> PartitionedRegister:
        """Open the dataset at ``root``; raises if it is incomplete (no ``_SUCCESS``)."""
        root = Path(root)
        if not (root / LAYOUT_FILE).is_file() or not (root / SUCCESS_FILE).is_file():
            raise InputError(
                f"{str(root)!r} is not a complete partitioned register (no {LAYOUT_FILE} or "
                f"{SUCCESS_FILE}); finish the conversion by running it again with the same "
                "arguments."
            )
        try:
            doc = read_json(root / LAYOUT_FILE)
            parts = tuple(Partition(**p) for p in doc.pop("partitions"))
            return cls(root=root, partitions=parts, **doc)
        except (ValueError, TypeError, KeyError, AttributeError):  # JSON or its keys
            raise InputError(
                f"{str(root / LAYOUT_FILE)!r} is corrupt (not the layout dreamkit wrote); "
                "convert the register again into a new directory."
            ) from None

    def __repr__(self) -> str:
        return (
            f"PartitionedRegister({self.format}, {self.n_persons:,} persons x {self.n_weeks} "
            f"weeks {week_label(self.first_week)}..{week_label(self.last_week)}, "
            f"{len(self.partitions)} partition(s))"
        )

    @property
    def n_persons(self) -> int:
        return sum(p.persons for p in self.partitions)

    @property
    def n_weeks(self) -> int:
        return self.last_week - self.first_week + 1

    @property
    def disk_bytes(self) -> int:
        return sum(p.bytes for p in self.partitions)

    def path(self, index: int) -> Path:
        if isinstance(index, bool) or not 0 <= index < len(self.partitions):
            raise InputError(
                f"partition {index!r} does not exist; the dataset has partitions "
                f"0..{len(self.partitions) - 1}."
            )
        return self.root / self.partitions[index].name

    def check_partition(self, index: int) -> Path:
        """The path of partition ``index``, raising if the file is gone or changed in size."""
        path = self.path(index)
        expected = self.partitions[index].bytes
        size = path.stat().st_size if path.is_file() else None
        if size != expected:
            found = "is missing" if size is None else f"has {size} bytes, not {expected}"
            raise InputError(
                f"partition file {path.name!r} {found} as recorded when the dataset was "
                "written (truncated, replaced or deleted since); convert the register again."
            )
        return path

    def scan(self, index: int) -> pl.LazyFrame:
        """Lazy scan of partition ``index`` (nothing is read until collected)."""
        return pl.scan_parquet(self.check_partition(index))

    def person_ids(self, index: int) -> pl.Series:
        """Person ids of partition ``index`` (wide: in row order; long: first appearance)."""
        ids = self.scan(index).select(self.person).collect()[self.person]
        return ids if self.format == "wide" else ids.unique(maintain_order=True)

    def fingerprint(self) -> dict[str, Any]:
        """What identifies the dataset's content in a run manifest (layout and file sizes)."""
        return {
            "format": self.format,
            "person": self.person,
            "span": [self.first_week, self.last_week],
            "partitions": [[p.name, p.rows, p.bytes] for p in self.partitions],
        }

    def read(
        self,
        index: int,
        *,
        persons: pl.Series | None = None,
        rows: tuple[int, int] | None = None,
        batch_rows: int | None = None,
        **options: Any,
    ) -> Register:
        """Read (part of) partition ``index`` into a :class:`Register` with the in-memory reader.

        Args:
            persons: keep only these persons (filter pushed into the Parquet scan).
            rows: ``(offset, length)`` row slice of a wide partition.
            batch_rows: reader batch rows (wide), to bound the working memory.
            options: further reader options (``codemap``, ``on_unknown``, ``employment``...);
                they default to those stored when the dataset was written.
        """
        frame = self.scan(index)
        if rows is not None:
            if self.format != "wide":
                raise InputError("rows= slices apply to wide partitions only (one row per person).")
            frame = frame.slice(rows[0], rows[1])
        if persons is not None:
            frame = frame.filter(pl.col(self.person).is_in(persons.implode()))
        kwargs = {**self.read_options, **options}
        if self.format == "wide":
            if batch_rows is not None:
                kwargs["batch_rows"] = batch_rows
            return read_wide(frame, person=self.person, **kwargs)
        return read_long(
            frame,
            person=self.person,
            week=self.week,
            code=self.code,
            first_week=self.first_week,
            last_week=self.last_week,
            **kwargs,
        )
