"""SAS transport (.xpt) files converted in row chunks with the readers' checks."""

from __future__ import annotations

import numpy as np
import polars as pl
import pyreadstat
import pytest

from dreamkit.chunked import convert_sas
from dreamkit.errors import CodeNotIntegerError, DuplicateError, InputError, UnknownCodeError
from dreamkit.register import read_wide


def write_xpt(frame: pl.DataFrame, path) -> None:
    pyreadstat.write_xport(frame.to_pandas(), str(path))


@pytest.fixture(scope="module")
def sas_frame(make_wide) -> pl.DataFrame:
    # SAS stores numbers as doubles: float ids and float codes with NaN for "no transfer"
    return make_wide(230, 120, seed=21, float_codes=True)


def test_xpt_converts_in_chunks_to_same_states(sas_frame, tmp_path):
    path = tmp_path / "dream.xpt"
    write_xpt(sas_frame, path)
    data = convert_sas(path, tmp_path / "ds", chunk_rows=100, employment="columns", progress=False)
    assert [p.persons for p in data.partitions] == [100, 100, 30]
    assert data.scan(0).collect_schema()["person_id"] == pl.Int64
    assert data.scan(0).collect_schema()["y_0501"] == pl.Int32
    full = read_wide(sas_frame, employment="columns")
    for index in range(3):
        part = data.read(index)
        rows = full.require_rows(part.person_ids.cast(pl.Float64))
        np.testing.assert_array_equal(part.states, full.states[rows])


def test_budget_sets_chunk_rows(sas_frame, tmp_path):
    path = tmp_path / "dream.xpt"
    write_xpt(sas_frame, path)
    data = convert_sas(path, tmp_path / "ds", budget="2GB", employment="columns", progress=False)
    assert len(data.partitions) == 1 and data.n_persons == sas_frame.height


def test_bad_code_raises_reader_error(sas_frame, tmp_path):
    bad = sas_frame.with_columns(
        pl.when(pl.int_range(pl.len()) == 150).then(1.5).otherwise(pl.col("y_0510")).alias("y_0510")
    )
    write_xpt(bad, tmp_path / "bad.xpt")
    with pytest.raises(CodeNotIntegerError, match="y_0510"):
        convert_sas(tmp_path / "bad.xpt", tmp_path / "ds", chunk_rows=100, progress=False)
    # chunk 0 was fine and stays; the dataset is not marked complete
    assert (tmp_path / "ds" / "part-00000.parquet").is_file()
    assert not (tmp_path / "ds" / "_SUCCESS").exists()


def test_unknown_code_raises_reader_error(sas_frame, tmp_path):
    bad = sas_frame.with_columns(
        pl.when(pl.int_range(pl.len()) == 10)
        .then(9999.0)
        .otherwise(pl.col("y_0502"))
        .alias("y_0502")
    )
    write_xpt(bad, tmp_path / "bad.xpt")
    with pytest.raises(UnknownCodeError):
        convert_sas(tmp_path / "bad.xpt", tmp_path / "ds", chunk_rows=100, progress=False)


def test_duplicate_person_across_chunks_raises(sas_frame, tmp_path):
    ids = sas_frame["person_id"].to_numpy().copy()
    ids[200] = ids[3]  # same person in chunk 0 and chunk 2
    write_xpt(sas_frame.with_columns(pl.Series("person_id", ids)), tmp_path / "dup.xpt")
    with pytest.raises(DuplicateError, match="1 duplicated person"):
        convert_sas(tmp_path / "dup.xpt", tmp_path / "ds", chunk_rows=100, progress=False)


def test_unknown_suffix_is_rejected(tmp_path):
    with pytest.raises(InputError, match=r"\.sas7bdat or \.xpt"):
        convert_sas(tmp_path / "dream.csv", tmp_path / "ds", progress=False)
