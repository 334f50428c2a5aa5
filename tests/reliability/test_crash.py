"""Crash safety: chunked conversions and runs killed with SIGKILL at chosen checkpoints, then
resumed, give byte-identical output with no temporary files; concurrent array jobs lose or
double no chunk; a full disk or a too-small budget is a typed error with nothing half-written.

The kill points are the atomic renames of ``dreamkit.chunked._atomic`` (``crash_job.py``
kills itself at the n-th one: before the rename, after it, or with the temporary torn in half).
"""

from __future__ import annotations

import errno
import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from crash_job import outcomes, source_frames

import dreamkit.chunked._atomic as atomic
from dreamkit.chunked import chunked_outcomes, partition_register
from dreamkit.errors import InputError, OutputWriteError

HERE = Path(__file__).parent
ROOT = HERE.parents[1]


def _prepare(work: Path) -> None:
    wide, long, trial = source_frames()
    work.mkdir(parents=True, exist_ok=True)
    wide.write_parquet(work / "source-wide.parquet")
    long.write_parquet(work / "source-long.parquet")
    trial.write_parquet(work / "trial.parquet")


def _job(work: Path, task: str, kill_at: int = 0, mode: str = "before", job: str = "") -> int:
    env = {"PYTHONPATH": str(ROOT), "OPENBLAS_NUM_THREADS": "1", "POLARS_MAX_THREADS": "1",
           "KILL_AT": str(kill_at), "KILL_MODE": mode, "PATH": "/usr/bin:/bin"}  # fmt: skip
    args = [sys.executable, str(HERE / "crash_job.py"), str(work), task, *job.split()]
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode in (0, -signal.SIGKILL), done.stderr[-3000:]
    return done.returncode


def _tree(root: Path) -> dict[str, Any]:
    """Every file under ``root``: Parquet as bytes, JSON without timings."""
    out: dict[str, Any] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = str(path.relative_to(root))
        if rel.startswith("source-") or rel == "trial.parquet":
            continue
        if path.suffix == ".json" or path.name == "_SUCCESS":
            out[rel] = _drop_seconds(json.loads(path.read_text()))
        else:
            out[rel] = path.read_bytes()
    return out


def _drop_seconds(doc: Any) -> Any:
    if isinstance(doc, dict):
        return {k: _drop_seconds(v) for k, v in doc.items() if k != "seconds"}
    if isinstance(doc, list):
        return [_drop_seconds(v) for v in doc]
    return doc


def _leftovers(root: Path) -> list[str]:
    return [str(p) for p in root.rglob("*") if ".tmp-" in p.name or p.name == "_staging"]


class References:
    """Uninterrupted runs of each task (in subprocesses, as the killed runs), made on demand."""

    def __init__(self, factory: pytest.TempPathFactory) -> None:
        self.factory = factory
        self.trees: dict[str, dict[str, Any]] = {}

    def __getitem__(self, task: str) -> dict[str, Any]:
        if task not in self.trees:
            work = self.factory.mktemp(f"ref-{task}")
            _prepare(work)
            assert _job(work, task) == 0
            self.trees[task] = _tree(work)
        return self.trees[task]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> References:
    return References(tmp_path_factory)


# Deterministic kill points: (task, [(checkpoint, mode), ...]); a run may be killed twice.
# The pipeline has 34 checkpoints: 1 the conversion's identity, 2-11 five partitions and their
# records, 12 layout, 13 _SUCCESS; 14 the run's identity, 15-32 nine outcome chunks and their
# records, 33 manifest, 34 _SUCCESS. The long conversion has 36 (staged chunks, partitions).
KILLS = [
    ("pipeline", [(1, "before")]),  # the conversion's first file (its run identity)
    ("pipeline", [(6, "torn"), (3, "after")]),  # torn partition, then killed again on resume
    ("pipeline", [(13, "before")]),  # conversion's _SUCCESS not yet in place
    ("pipeline", [(21, "after"), (4, "torn")]),  # outcome chunk written, record missing; torn
    ("pipeline", [(34, "before")]),  # everything but the run's _SUCCESS
]
SLOW_KILLS = [
    ("pipeline", [(k, mode)]) for k in range(2, 35, 3) for mode in ("before", "after", "torn")
] + [("convert-long", [(k, mode)]) for k in range(1, 37, 5) for mode in ("before", "torn")]


def _kill_and_resume(work: Path, task: str, kills: list[tuple[int, str]]) -> int:
    _prepare(work)
    killed = 0
    for at, mode in kills:
        if _job(work, task, at, mode) == -signal.SIGKILL:
            killed += 1
    assert _job(work, task) == 0
    return killed


@pytest.mark.parametrize(("task", "kills"), KILLS, ids=[f"{t}-{k}" for t, k in KILLS])
def test_killed_runs_resume_byte_identical(
    task: str, kills: list[tuple[int, str]], reference: References, tmp_path: Path
) -> None:
    killed = _kill_and_resume(tmp_path, task, kills)
    assert killed == len(kills), "a kill point lies beyond the end of the run"
    assert _leftovers(tmp_path) == []
    assert _tree(tmp_path) == reference[task]


@pytest.mark.slow
@pytest.mark.parametrize(("task", "kills"), SLOW_KILLS, ids=[f"{t}-{k}" for t, k in SLOW_KILLS])
def test_killed_runs_resume_byte_identical_everywhere(
    task: str, kills: list[tuple[int, str]], reference: References, tmp_path: Path
) -> None:
    _kill_and_resume(tmp_path, task, kills)
    assert _leftovers(tmp_path) == []
    assert _tree(tmp_path) == reference[task]


def test_concurrent_array_jobs_lose_or_double_no_chunk(
    reference: References, tmp_path: Path
) -> None:
    """Three array jobs, plus a fourth that repeats job 0, start together on one directory."""
    _prepare(tmp_path)
    assert _job(tmp_path, "convert-wide") == 0
    env = {"PYTHONPATH": str(ROOT), "OPENBLAS_NUM_THREADS": "1", "POLARS_MAX_THREADS": "1",
           "PATH": "/usr/bin:/bin"}  # fmt: skip
    script = str(HERE / "crash_job.py")
    procs = [
        subprocess.Popen(
            [sys.executable, script, str(tmp_path), "outcomes", "3", str(k)],
            env=env,
            stderr=subprocess.PIPE,
        )
        for k in (0, 1, 2, 0)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err.decode()[-3000:]
    assert _leftovers(tmp_path) == []
    tree = _tree(tmp_path)
    assert tree == reference["pipeline"]
    records = list((tmp_path / "out" / "_chunks").glob("*.json"))
    manifest = json.loads((tmp_path / "out" / "_manifest.json").read_text())
    assert len(records) == len(manifest["keys"]) == len({r.stem for r in records})
    persons = pl.read_parquet(sorted((tmp_path / "out").glob("*.parquet")))["person_id"]
    assert persons.n_unique() == persons.len()


def _fill_disk_at(monkeypatch: pytest.MonkeyPatch, at: int) -> None:
    """The ``at``-th file write fails with ENOSPC after writing half of it."""
    count = 0
    original = atomic._replace

    def replace(tmp: Path, path: Path) -> None:
        nonlocal count
        count += 1
        if count == at:
            data = tmp.read_bytes()
            tmp.write_bytes(data[: len(data) // 2])
            raise OSError(errno.ENOSPC, "No space left on device")
        original(tmp, path)

    monkeypatch.setattr(atomic, "_replace", replace)


@pytest.mark.parametrize("at", [1, 8, 13, 22, 34])
def test_full_disk_is_a_typed_error_and_resumes(
    at: int, reference: References, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _prepare(tmp_path)
    with monkeypatch.context() as patch:
        _fill_disk_at(patch, at)
        with pytest.raises(OutputWriteError, match="No space left on device") as info:
            partition_register(
                tmp_path / "source-wide.parquet", tmp_path / "ds-wide", chunk_rows=20,
                progress=False,
            )  # fmt: skip
            outcomes(tmp_path, None)
    assert "free disk space" in str(info.value)
    assert [p for p in tmp_path.rglob("*") if ".tmp-" in p.name] == []
    partition_register(
        tmp_path / "source-wide.parquet", tmp_path / "ds-wide", chunk_rows=20, progress=False
    )
    outcomes(tmp_path, None)
    assert _tree(tmp_path) == reference["pipeline"]


def test_too_small_budget_fails_before_writing(tmp_path: Path) -> None:
    _prepare(tmp_path)
    with pytest.raises(InputError, match="budget"):
        partition_register(tmp_path / "source-wide.parquet", tmp_path / "ds", budget="200MB")
    assert not (tmp_path / "ds").exists()
    partition_register(tmp_path / "source-wide.parquet", tmp_path / "ds", chunk_rows=30,
                       progress=False)  # fmt: skip
    trial = pl.read_parquet(tmp_path / "trial.parquet")
    with pytest.raises(InputError, match="budget"):
        chunked_outcomes(tmp_path / "ds", trial, tmp_path / "out", budget="300MB")
    assert not (tmp_path / "out").exists()
