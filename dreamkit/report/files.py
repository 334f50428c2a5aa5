"""Atomic report files: every file the report writes is complete under its final name or absent.

Each write goes to a hidden temporary in the same directory (``.NAME.tmp-HOST-PID``), is
flushed to disk (``fsync``) and moved into place with :func:`os.replace`, the helpers of
:mod:`dreamkit.chunked._atomic`. A report killed at any point (``kill -9``, an out-of-memory
kill, power loss) leaves no half-written table, figure or HTML file; the next run removes the
temporaries of dead writers (:func:`clean_temporaries`) and, being deterministic, rewrites every
file byte for byte. A failed write (full disk, quota, permissions) raises
:class:`~dreamkit.errors.OutputWriteError` naming the file, after removing its temporary.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from dreamkit.chunked._atomic import remove_temporaries, write_atomic


def write_bytes_atomic(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""

    def writer(tmp: Path) -> None:
        tmp.write_bytes(data)

    write_atomic(path, writer)
    return path


def write_text_atomic(path: Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_csv_atomic(frame: pl.DataFrame, path: Path) -> Path:
    """Write ``frame`` as CSV to ``path`` atomically (the bytes of ``frame.write_csv``)."""
    return write_bytes_atomic(path, frame.write_csv().encode("utf-8"))


def clean_temporaries(out_dir: Path) -> int:
    """Remove the temporaries a killed report left in ``out_dir`` (those of live processes,
    e.g. a concurrent report into the same folder, are kept); return how many."""
    return remove_temporaries(out_dir)
