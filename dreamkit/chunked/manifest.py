"""The manifest of a chunked run: which chunks are finished, with their rows and content hash.

An output directory of a chunked run holds

* ``_run.json``: what the run computes (task, parameters, input fingerprint) and its chunk
  keys, written once when the run starts; a resumed run must match it;
* ``_chunks/<key>.json``: one record per finished chunk (output file, rows, bytes, SHA-256,
  seconds, task-specific counts), written atomically *after* the chunk's output file is in
  place, so a record always describes a complete file;
* ``<key>.parquet``: the chunk outputs;
* ``_manifest.json`` and ``_SUCCESS``: written only when every chunk has a record.

Per-chunk records (rather than one shared file) let independent jobs, e.g. on a cluster, work
on disjoint chunks of one run without a lock: the "merge" is reading the record directory.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from dreamkit.chunked._atomic import (
    read_json,
    remove_temporaries,
    roundtrip_json,
    sha256_file,
    write_json_atomic,
)
from dreamkit.errors import InputError

RUN_FILE = "_run.json"
CHUNK_DIR = "_chunks"
MANIFEST_FILE = "_manifest.json"
SUCCESS_FILE = "_SUCCESS"


@dataclass(frozen=True)
class ChunkRecord:
    """A finished chunk: its output file (None when it produced no rows) and counts."""

    key: str
    file: str | None
    rows: int
    bytes: int
    sha256: str | None
    seconds: float
    info: Mapping[str, Any] = field(default_factory=dict)


class Manifest:
    """Run identity and chunk records of one output directory (module docstring)."""

    def __init__(self, out_dir: str | Path, run: Mapping[str, Any], keys: Sequence[str]) -> None:
        """Open ``out_dir`` for the run ``run`` over chunks ``keys``, creating it if new.

        Raises :class:`~dreamkit.errors.InputError` if the directory holds another run.
        """
        if len(set(keys)) != len(keys):
            raise InputError("chunk keys must be unique.")
        self.out_dir = Path(out_dir)
        self.keys = list(keys)
        self.run = {"run": dict(run), "keys": self.keys}
        path = self.out_dir / RUN_FILE
        if path.is_file():
            stored = read_json(path)
            if stored != roundtrip_json(self.run):
                raise InputError(
                    f"output directory {str(self.out_dir)!r} holds a different run (other task, "
                    "parameters, inputs or chunk plan); resume with the same arguments, or "
                    "write to a new directory (or delete this one) to start afresh."
                )
        else:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            write_json_atomic(self.run, path)

    def record_path(self, key: str) -> Path:
        return self.out_dir / CHUNK_DIR / f"{key}.json"

    def done(self, key: str) -> ChunkRecord | None:
        """The record of chunk ``key`` if it is finished and its file is intact, else None.

        "Intact" is checked by existence and byte size (cheap); :meth:`verify` re-hashes.
        """
        path = self.record_path(key)
        if not path.is_file():
            return None
        record = ChunkRecord(**read_json(path))
        if record.file is not None:
            output = self.out_dir / record.file
            if not output.is_file() or output.stat().st_size != record.bytes:
                return None
        return record

    def record(self, record: ChunkRecord) -> None:
        """Mark a chunk finished (its output file must already be in place)."""
        write_json_atomic(asdict(record), self.record_path(record.key))

    def records(self) -> list[ChunkRecord]:
        """Records of the finished chunks, in chunk order."""
        return [r for r in (self.done(k) for k in self.keys) if r is not None]

    def pending(self) -> list[str]:
        """Keys of the chunks not finished yet."""
        return [k for k in self.keys if self.done(k) is None]

    def verify(self) -> list[str]:
        """Keys of finished chunks whose output no longer matches its SHA-256."""
        bad = []
        for record in self.records():
            if record.file is not None and sha256_file(self.out_dir / record.file) != record.sha256:
                bad.append(record.key)
        return bad

    def finalize(self) -> bool:
        """Write ``_manifest.json`` and ``_SUCCESS`` if every chunk is finished."""
        records = self.records()
        if len(records) != len(self.keys):
            return False
        document = {
            **self.run,
            "chunks": [asdict(r) for r in records],
            "rows": sum(r.rows for r in records),
            "bytes": sum(r.bytes for r in records),
        }
        write_json_atomic(document, self.out_dir / MANIFEST_FILE)
        remove_temporaries(self.out_dir)
        write_json_atomic({"chunks": len(records)}, self.out_dir / SUCCESS_FILE)
        return True

    @property
    def complete(self) -> bool:
        return (self.out_dir / SUCCESS_FILE).is_file()
