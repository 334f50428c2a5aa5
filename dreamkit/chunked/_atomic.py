"""Atomic files: a result is either absent or complete under its final name.

Every file is first written to a hidden temporary name in the same directory (unique per
process), flushed to disk, then moved into place with :func:`os.replace`, which is atomic on
POSIX file systems. A crash therefore leaves at most a ``.*.tmp-PID`` file behind, never a
half-written file that looks finished; the temporaries are removed on the next run.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl

_BLOCK = 1 << 20


def temporary_name(path: Path) -> Path:
    """The temporary sibling of ``path`` used by this process."""
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def _replace(tmp: Path, path: Path) -> None:
    with open(tmp, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def write_atomic(path: Path, writer: Callable[[Path], None]) -> None:
    """Call ``writer(tmp)`` and move the finished ``tmp`` to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_name(path)
    try:
        writer(tmp)
        _replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_parquet_atomic(
    frame: pl.DataFrame, path: Path, *, row_group_size: int | None = None
) -> None:
    """Write ``frame`` to ``path`` (zstd Parquet) atomically."""
    write_atomic(
        path,
        lambda tmp: frame.write_parquet(tmp, compression="zstd", row_group_size=row_group_size),
    )


def write_json_atomic(document: Any, path: Path) -> None:
    """Write a JSON document to ``path`` atomically."""
    text = json.dumps(document, indent=1, sort_keys=True)

    def writer(tmp: Path) -> None:
        tmp.write_text(text, encoding="utf-8")

    write_atomic(path, writer)


def roundtrip_json(document: Any) -> Any:
    """``document`` as it reads back from JSON (tuples become lists)."""
    return json.loads(json.dumps(document, sort_keys=True))


def read_json(path: Path) -> Any:
    """Read a JSON document."""
    return json.loads(path.read_text(encoding="utf-8"))


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def remove_temporaries(directory: Path) -> int:
    """Delete temporaries left by crashed runs in ``directory``; return how many."""
    stale = list(directory.glob(".*.tmp-*")) if directory.is_dir() else []
    for path in stale:
        path.unlink(missing_ok=True)
    return len(stale)
