"""Atomic files: a result is either absent or complete under its final name.

Every file is first written to a hidden temporary name in the same directory (unique per
host and process), flushed to disk, then moved into place with :func:`os.replace`, which is
atomic on POSIX file systems. A crash therefore leaves at most a ``.*.tmp-HOST-PID`` file
behind, never a half-written file that looks finished; such stale temporaries are removed on
the next run. A temporary of a process that is still running (another array job writing to the
same directory) is left alone. A failed write (disk full, quota, permissions) raises
:class:`~dreamkit.errors.OutputWriteError` after removing its temporary.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl

from dreamkit.errors import OutputWriteError

_BLOCK = 1 << 20


_HOST = socket.gethostname().replace("-", "_") or "host"
STALE_SECONDS = 24 * 3600
"""A temporary of another host is taken as stale (its writer crashed) after this long."""


def temporary_name(path: Path) -> Path:
    """The temporary sibling of ``path`` used by this process."""
    return path.with_name(f".{path.name}.tmp-{_HOST}-{os.getpid()}")


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
    tmp = temporary_name(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        writer(tmp)
        _replace(tmp, path)
    except OSError as err:
        reason = os.strerror(err.errno) if err.errno else type(err).__name__
        raise OutputWriteError(
            f"could not write {path.name!r} in {str(path.parent)!r}: {reason}; free disk space "
            "(or fix the permissions) and run the same call again: it resumes, and nothing "
            "half-written was kept."
        ) from None
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
    """Delete temporaries left by crashed writers in ``directory`` (and its subdirectories);
    return how many. Temporaries of live processes on this host, and recent ones of other
    hosts, are kept (they belong to concurrent jobs)."""
    stale = [p for p in directory.rglob(".*.tmp-*") if _is_stale(p)] if directory.is_dir() else []
    for path in stale:
        path.unlink(missing_ok=True)
    return len(stale)


def _is_stale(path: Path) -> bool:
    host, _, pid = path.name.rpartition(".tmp-")[2].rpartition("-")
    if host == _HOST and pid.isdigit():
        return not _alive(int(pid))
    try:
        return time.time() - path.stat().st_mtime > STALE_SECONDS
    except FileNotFoundError:
        return False


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # our own temporaries are never in use outside write_atomic
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
