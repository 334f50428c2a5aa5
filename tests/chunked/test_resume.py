"""Crashes and resumption: finished chunks are kept, nothing half-written looks complete."""

from __future__ import annotations

import polars as pl
import pytest

from dreamkit.chunked import (
    ChunkOutput,
    DatasetWriter,
    Manifest,
    PartitionedRegister,
    chunked_outcomes,
    job_keys,
    partition_register,
    run_chunks,
)
from dreamkit.errors import InputError

KEYS = [f"c{i}" for i in range(5)]


class Crash(RuntimeError):
    pass


def square(calls: list[str], fail_at: str | None = None):
    def work(key: str) -> ChunkOutput:
        calls.append(key)
        if key == fail_at:
            raise Crash(key)
        i = int(key[1:])
        return ChunkOutput(pl.DataFrame({"i": [i] * (i + 1)}), {"n": i + 1})

    return work


def test_crash_then_resume_skips_finished_chunks(tmp_path):
    calls: list[str] = []
    with pytest.raises(Crash):
        run_chunks(KEYS, square(calls, fail_at="c3"), tmp_path, run={"t": 1}, progress=False)
    assert calls == ["c0", "c1", "c2", "c3"]
    assert not (tmp_path / "_SUCCESS").exists()
    assert not (tmp_path / "c3.parquet").exists()
    calls.clear()
    run = run_chunks(KEYS, square(calls), tmp_path, run={"t": 1}, progress=False)
    assert calls == ["c3", "c4"] and run.skipped == ["c0", "c1", "c2"] and run.complete
    assert (tmp_path / "_SUCCESS").is_file()
    assert run.scan().collect()["i"].to_list() == [i for i in range(5) for _ in range(i + 1)]
    assert [r.info["n"] for r in run.records] == [1, 2, 3, 4, 5]
    assert Manifest(tmp_path, {"t": 1}, KEYS).verify() == []


def test_half_written_output_is_redone(tmp_path):
    run_chunks(KEYS, square([]), tmp_path, run={"t": 1}, progress=False)
    # a torn file (wrong size) and a crashed writer's temporary are not taken as finished
    (tmp_path / "c2.parquet").write_bytes(b"PAR1 torn")
    (tmp_path / "_SUCCESS").unlink()
    calls: list[str] = []
    run = run_chunks(KEYS, square(calls), tmp_path, run={"t": 1}, progress=False)
    assert calls == ["c2"] and run.complete
    assert pl.read_parquet(tmp_path / "c2.parquet")["i"].to_list() == [2, 2, 2]


def test_changed_content_is_reported_by_verify(tmp_path):
    run_chunks(KEYS, square([]), tmp_path, run={"t": 1}, progress=False)
    path = tmp_path / "c1.parquet"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, different bytes
    path.write_bytes(bytes(data))
    manifest = Manifest(tmp_path, {"t": 1}, KEYS)
    assert manifest.done("c1") is not None  # the cheap size check passes
    assert manifest.verify() == ["c1"]


def test_other_run_in_same_directory_is_refused(tmp_path):
    run_chunks(KEYS, square([]), tmp_path, run={"t": 1}, progress=False)
    with pytest.raises(InputError, match="different run"):
        run_chunks(KEYS, square([]), tmp_path, run={"t": 2}, progress=False)


def test_cluster_jobs_complete_the_run_together(tmp_path):
    assert job_keys(KEYS, (1, 2)) == ["c1", "c3"]
    first = run_chunks(KEYS, square([]), tmp_path, run={"t": 1}, job=(0, 2), progress=False)
    assert first.computed == ["c0", "c2", "c4"] and not first.complete
    assert not (tmp_path / "_manifest.json").exists()
    second = run_chunks(KEYS, square([]), tmp_path, run={"t": 1}, job=(1, 2), progress=False)
    assert second.computed == ["c1", "c3"] and second.complete
    assert len(second.records) == 5
    with pytest.raises(InputError):
        job_keys(KEYS, (2, 2))


def test_outcome_run_resumes_to_identical_result(wide, tmp_path, make_trial, monkeypatch):
    data = partition_register(
        wide, tmp_path / "ds", chunk_rows=400, employment="columns", progress=False
    )
    trial = make_trial(wide, 300, 260, seed=9)
    reference = chunked_outcomes(
        data, trial, tmp_path / "ref", on_missing="exclude", budget="1GB", progress=False
    ).collect()
    original = PartitionedRegister.read
    reads = []

    def failing(self, index, **kwargs):
        reads.append(index)
        if index == 1 and len(reads) == 2:
            raise Crash("node lost")
        return original(self, index, **kwargs)

    monkeypatch.setattr(PartitionedRegister, "read", failing)
    with pytest.raises(Crash):
        chunked_outcomes(
            data, trial, tmp_path / "out", on_missing="exclude", budget="1GB", progress=False
        )
    resumed = chunked_outcomes(
        data, trial, tmp_path / "out", on_missing="exclude", budget="1GB", progress=False
    )
    assert resumed.run.skipped == ["p00000-000"] and resumed.run.complete
    assert resumed.collect().persons.equals(reference.persons)
    assert resumed.flow.table().equals(reference.flow.table())
    with pytest.raises(InputError, match="different run"):
        chunked_outcomes(
            data,
            trial.head(100),
            tmp_path / "out",
            on_missing="exclude",
            budget="1GB",
            progress=False,
        )


def test_conversion_resumes_after_crash(wide, tmp_path):
    calls = []

    def chunks(frame):
        for i in range(3):
            calls.append(i)
            yield i, frame.slice(i * 400, 400)

    writer = DatasetWriter(tmp_path / "ds", read_options={"employment": "columns"})
    for i, chunk in chunks(wide):
        if i == 2:
            break  # the process dies before chunk 2
        writer.write_chunk(i, chunk)
    with pytest.raises(InputError):
        PartitionedRegister.open(tmp_path / "ds")
    again = DatasetWriter(tmp_path / "ds", read_options={"employment": "columns"})
    assert again.done_chunks() == {0, 1}
    again.write_chunk(2, wide.slice(800, 400))
    data = again.finish()
    assert data.n_persons == wide.height and len(data.partitions) == 3
    with pytest.raises(InputError, match="other arguments"):
        DatasetWriter(tmp_path / "ds", read_options={"employment": None})
