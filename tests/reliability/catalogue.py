"""A catalogue of bad inputs: each entry builds one malformed input, calls the entry point that
reads it and names the typed error it must raise and the fix the message must state.

Every input plants :data:`SECRET` (a person id) where a careless message could quote it.
``python tests/reliability/catalogue.py`` prints the Markdown table of ``docs/bad-inputs.md``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from dreamkit.chunked import (
    DatasetWriter,
    PartitionedRegister,
    convert_sas,
    partition_register,
)
from dreamkit.config import load_config, parse_config
from dreamkit.design.peers import peer_low_share
from dreamkit.design.trial import validate_trial
from dreamkit.errors import (
    CodeMapError,
    CodeNotIntegerError,
    ColumnNotFoundError,
    ConfigError,
    DuplicateError,
    EmptyInputError,
    InputError,
    MissingPersonsError,
    MonthLabelError,
    SpanError,
    TrialDesignError,
    UnknownCodeError,
    WeekLabelError,
)
from dreamkit.estimate.linear.itt import effect_path
from dreamkit.register import CodeMap, EmploymentTable, read_long, read_wide
from dreamkit.register.calendar import week_label, week_of_iso

SECRET = 1234567890
SECRET_TEXT = "0012345678"  # a text id with a leading zero
F = week_of_iso(2009, 50)  # y_0950: the register spans the 53-week year 2009 into 2010


@dataclass(frozen=True)
class Bad:
    """One catalogued bad input."""

    name: str
    area: str
    input: str  # what is wrong, in words
    call: Callable[[Path], Any]
    error: type[Exception]
    fix: str  # the fix the message must state (a fragment of it, matched case-insensitively)


# ---- builders --------------------------------------------------------------------------------
def wide(n: int = 4, weeks: int = 6, ids: list[Any] | None = None, **cols: Any) -> pl.DataFrame:
    """A valid wide register: ``n`` persons (the first is SECRET) x ``weeks`` weeks from F."""
    data: dict[str, Any] = {"person_id": ids if ids is not None else [SECRET, *range(2, n + 1)]}
    size = len(data["person_id"])
    for j in range(weeks):
        data[week_label(F + j)] = pl.Series(
            [890 if (i + j) % 3 == 0 else None for i in range(size)], dtype=pl.Int32
        )
    data.update(cols)
    return pl.DataFrame(data)


def long(**cols: Any) -> pl.DataFrame:
    data: dict[str, Any] = {
        "person_id": [SECRET, SECRET, 7],
        "week": ["y_0950", "y_0951", "y_0950"],
        "code": [890, 111, 890],
    }
    data.update(cols)
    return pl.DataFrame(data)


def months(**cols: Any) -> pl.DataFrame:
    data: dict[str, Any] = {"person_id": [SECRET], "month": ["2009_12"], "employed": [1]}
    data.update(cols)
    return pl.DataFrame(data)


def trial(n: int = 8, **cols: Any) -> pl.DataFrame:
    """A valid trial table: two municipalities, two teams each side, both arms everywhere."""
    data: dict[str, Any] = {
        "person_id": [SECRET, *range(2, n + 1)],
        "municipality": ["a" if i < n // 2 else "b" for i in range(n)],
        "team": [i // 2 for i in range(n)],
        "treated": [i % 2 for i in range(n)],
        "allocation_date": [dt.date(2010, 1, 4) + dt.timedelta(days=i) for i in range(n)],
        "team_last_allocation": [dt.date(2010, 1, 20)] * n,
    }
    for k in range(1, 7):
        data[f"uwses_{k}"] = [(i + k) % 5 for i in range(n)]
    data.update(cols)
    return pl.DataFrame(data)


def codemap(**doc: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"name": "t", "states": {"sick": {"codes": [890]}}}
    base.update(doc)
    return base


def persons_table(n: int = 40, **cols: Any) -> pl.DataFrame:
    """An analysis table for the ITT estimator: 4 teams in 2 municipalities, both arms."""
    rng = np.random.default_rng(5)
    data: dict[str, Any] = {
        "emp_share_1": rng.random(n),
        "treated": [i % 2 for i in range(n)],
        "team": [i % 4 for i in range(n)],
        "municipality": [(i // 2) % 2 for i in range(n)],
        "x": rng.random(n),
    }
    data.update(cols)
    return pl.DataFrame(data)


def write(tmp: Path, name: str, content: bytes | pl.DataFrame, fmt: str = "") -> Path:
    path = tmp / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif fmt == "csv":
        content.write_csv(path)
    else:
        content.write_parquet(path)
    return path


def toml(tmp: Path, text: str) -> Path:
    return write(tmp, "analysis.toml", text.encode())


def writer_chunks(tmp: Path, *frames: pl.DataFrame, fmt: str = "wide") -> Any:
    w = DatasetWriter(tmp / "ds", format=fmt, n_partitions=1)  # type: ignore[arg-type]
    for i, frame in enumerate(frames):
        w.write_chunk(i, frame)
    return w.finish()


def partitioned(tmp: Path) -> PartitionedRegister:
    return partition_register(wide(6), tmp / "ds", chunk_rows=3, progress=False)


def damage(path: Path, how: str) -> None:
    data = bytearray(path.read_bytes())
    if how == "truncate":
        path.write_bytes(bytes(data[: len(data) // 2]))
    elif how == "flip":
        for k in range(len(data) // 3, len(data) // 3 + 64):
            data[k] ^= 0xFF
        path.write_bytes(bytes(data))
    else:
        path.unlink()


def _truncated_parquet(tmp: Path) -> Path:
    path = write(tmp, "r.parquet", wide())
    damage(path, "truncate")
    return path


def _load_inputs_with_bad_trial(tmp: Path) -> Any:
    from dreamkit.pipeline import load_inputs

    write(tmp, "register.parquet", wide())
    write(tmp, "trial.parquet", trial(), "csv")
    config = parse_config(
        {"input": {"source": "files", "register": "register.parquet", "trial": "trial.parquet"}},
        base_dir=tmp,
    )
    return load_inputs(config)


def _truncated_xpt(tmp: Path) -> Any:
    import pyreadstat

    path = tmp / "r.xpt"
    frame = wide(n=400).with_columns(pl.col("person_id").cast(pl.Float64))
    pyreadstat.write_xport(frame.to_pandas(), str(path))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3 + 7])
    return convert_sas(path, tmp / "ds", progress=False, chunk_rows=50)


def _read_damaged(tmp: Path, how: str) -> Any:
    ds = partitioned(tmp)
    damage(ds.path(1), how)
    return ds.read(1)


def _flip_same_size(tmp: Path) -> Any:
    ds = partitioned(tmp)
    path = ds.path(1)
    data = bytearray(path.read_bytes())
    for k in range(8, 72):  # inside the first column chunk: same size, corrupt content
        data[k] ^= 0xFF
    path.write_bytes(bytes(data))
    return ds.read(1)


# ---- the catalogue ---------------------------------------------------------------------------
W, L, E, CM, T, CF, P, X = (
    "wide register",
    "long register",
    "employment",
    "code map",
    "trial table",
    "configuration",
    "partitioned register",
    "estimation sample",
)

CATALOGUE: list[Bad] = [
    # files
    Bad(
        "parquet-truncated",
        W,
        "Parquet file cut in half (copy interrupted)",
        lambda t: read_wide(_truncated_parquet(t)),
        InputError,
        "write it again",
    ),
    Bad(
        "parquet-empty-file",
        W,
        "0-byte .parquet file",
        lambda t: read_wide(write(t, "r.parquet", b"")),
        EmptyInputError,
        "write it again",
    ),
    Bad(
        "csv-empty-file",
        W,
        "0-byte .csv file (not even a header)",
        lambda t: read_wide(write(t, "r.csv", b"")),
        EmptyInputError,
        "write it again",
    ),
    Bad(
        "csv-is-parquet",
        W,
        "a Parquet file named .csv",
        lambda t: read_wide(write(t, "r.csv", wide())),
        InputError,
        "rename it to .parquet",
    ),
    Bad(
        "parquet-is-csv",
        W,
        "a CSV file named .parquet",
        lambda t: read_wide(write(t, "r.parquet", wide(), "csv")),
        InputError,
        "suffix of its format",
    ),
    Bad(
        "csv-is-binary",
        W,
        "binary bytes (e.g. a zip or SAS file) named .csv",
        lambda t: read_wide(write(t, "r.csv", bytes(range(256)) * 8)),
        InputError,
        "check the file",
    ),
    Bad(
        "unknown-suffix",
        W,
        "a .xlsx file",
        lambda t: read_wide(write(t, "r.xlsx", b"PK\x03\x04")),
        InputError,
        "use a .parquet or .csv",
    ),
    Bad(
        "path-missing",
        W,
        "a path that does not exist",
        lambda t: read_wide(t / "nope.parquet"),
        InputError,
        "give a valid path",
    ),
    Bad(
        "path-is-directory",
        W,
        "a directory instead of a file",
        lambda t: read_wide(t),
        InputError,
        "give a valid path",
    ),
    Bad(
        "csv-headerless",
        W,
        "CSV without a header row (first person's data becomes the names)",
        lambda t: read_wide(write(t, "r.csv", f"{SECRET},890,\n2,,111\n".encode())),
        ColumnNotFoundError,
        "header row",
    ),
    Bad(
        "pandas-frame",
        W,
        "a pandas DataFrame passed to a reader",
        lambda t: read_wide(wide().to_pandas()),
        InputError,
        "pl.from_pandas",
    ),
    # wide register content
    Bad(
        "wide-no-person-column",
        W,
        "person column misnamed (pnr)",
        lambda t: read_wide(wide().rename({"person_id": "pnr"})),
        ColumnNotFoundError,
        "pass its name",
    ),
    Bad(
        "wide-zero-weeks",
        W,
        "a register with zero week columns",
        lambda t: read_wide(wide(weeks=0)),
        EmptyInputError,
        "week_prefix",
    ),
    Bad(
        "wide-zero-rows",
        W,
        "a register with zero persons",
        lambda t: read_wide(wide().head(0)),
        EmptyInputError,
        "check the file",
    ),
    Bad(
        "wide-week-53-in-52-year",
        W,
        "column y_1053 (2010 has 52 ISO weeks)",
        lambda t: read_wide(wide(y_1053=[1, 2, 3, 4])),
        WeekLabelError,
        "fix the week label",
    ),
    Bad(
        "wide-week-00",
        W,
        "column y_0900 (there is no week 0)",
        lambda t: read_wide(wide(y_0900=[1, 2, 3, 4])),
        WeekLabelError,
        "fix the week label",
    ),
    Bad(
        "wide-bad-week-label",
        W,
        "a week column y_09W1",
        lambda t: read_wide(wide(y_09W1=[1, 2, 3, 4])),
        WeekLabelError,
        "fix the week",
    ),
    Bad(
        "wide-week-gap",
        W,
        "a missing week column in the middle",
        lambda t: read_wide(wide().drop(week_label(F + 2))),
        WeekLabelError,
        "add the column",
    ),
    Bad(
        "wide-duplicate-week",
        W,
        "the same week twice (y_0950 and y_200950)",
        lambda t: read_wide(wide(y_200950=[None, None, None, None])),
        DuplicateError,
        "keep one",
    ),
    Bad(
        "wide-mixed-dtype-week",
        W,
        "week column with text and numbers (89O)",
        lambda t: read_wide(wide(**{week_label(F): ["890", "89O", None, "111"]})),
        CodeNotIntegerError,
        "integer",
    ),
    Bad(
        "wide-list-week",
        W,
        "a week column holding lists",
        lambda t: read_wide(wide(**{week_label(F): [[1], [2], [3], [4]]})),
        CodeNotIntegerError,
        "convert the column",
    ),
    Bad(
        "wide-bool-week",
        W,
        "a week column of booleans",
        lambda t: read_wide(wide(**{week_label(F): [True, False, True, False]})),
        CodeNotIntegerError,
        "convert the column",
    ),
    Bad(
        "wide-fractional-code",
        W,
        "code 890.5",
        lambda t: read_wide(wide(**{week_label(F): [890.5, None, None, None]})),
        CodeNotIntegerError,
        "integer",
    ),
    Bad(
        "wide-negative-code",
        W,
        "code -3",
        lambda t: read_wide(wide(**{week_label(F): [-3, None, None, None]})),
        CodeNotIntegerError,
        "integer",
    ),
    Bad(
        "wide-unknown-code",
        W,
        "code 4444 not in the code map",
        lambda t: read_wide(wide(**{week_label(F): [4444, None, None, None]})),
        UnknownCodeError,
        "add them to the code map",
    ),
    Bad(
        "wide-duplicate-person",
        W,
        "the same person twice",
        lambda t: read_wide(wide(ids=[SECRET, SECRET, 3, 4])),
        DuplicateError,
        "deduplicate",
    ),
    Bad(
        "wide-missing-person",
        W,
        "a row without person id",
        lambda t: read_wide(wide(ids=[SECRET, None, 3, 4])),
        InputError,
        "person id",
    ),
    Bad(
        "wide-nan-person",
        W,
        "a NaN person id (float column)",
        lambda t: read_wide(wide(ids=[float(SECRET), float("nan"), 3.0, 4.0])),
        InputError,
        "person id",
    ),
    Bad(
        "wide-fractional-person",
        W,
        "person id 2.5",
        lambda t: read_wide(wide(ids=[float(SECRET), 2.5, 3.0, 4.0])),
        InputError,
        "integers or text",
    ),
    Bad(
        "wide-list-person",
        W,
        "person ids that are lists",
        lambda t: read_wide(wide(ids=[[SECRET], [2], [3], [4]])),
        InputError,
        "integers or text",
    ),
    Bad(
        "wide-span-outside",
        W,
        "first_week before the file's first week column",
        lambda t: read_wide(wide(), first_week="y_0901"),
        SpanError,
        "first_week/last_week inside",
    ),
    Bad(
        "wide-span-swapped",
        W,
        "first_week after last_week",
        lambda t: read_wide(wide(), first_week="y_0952", last_week="y_0950"),
        InputError,
        "swap them",
    ),
    Bad(
        "wide-week-ordinal-out-of-range",
        W,
        "first_week=-5 (a week ordinal before 1900)",
        lambda t: read_wide(wide(), first_week=-5),
        InputError,
        "give a label",
    ),
    Bad(
        "wide-on-unknown-typo",
        W,
        "on_unknown='ignore'",
        lambda t: read_wide(wide(), on_unknown="ignore"),
        InputError,
        "must be one of",
    ),
    # employment
    Bad(
        "employment-columns-gap",
        E,
        "monthly branche_ columns with a month missing",
        lambda t: read_wide(
            wide(branche_2009_12=["1"] * 4, branche_2010_02=["1"] * 4), employment="columns"
        ),
        SpanError,
        "add the month",
    ),
    Bad(
        "employment-columns-bad-month",
        E,
        "employment column branche_2009_13",
        lambda t: read_wide(wide(branche_2009_13=["1"] * 4), employment="columns"),
        MonthLabelError,
        "fix the month",
    ),
    Bad(
        "employment-person-absent",
        E,
        "employment rows for a person not in the register",
        lambda t: read_wide(wide(), employment=months(person_id=[SECRET + 1])),
        MissingPersonsError,
        "remove them",
    ),
    Bad(
        "employment-duplicate-month",
        E,
        "the same person-month twice",
        lambda t: read_wide(wide(), employment=pl.concat([months(), months(month=["200912"])])),
        DuplicateError,
        "keep one row",
    ),
    Bad(
        "employment-bad-flag",
        E,
        "employed = 5",
        lambda t: read_wide(wide(), employment=months(employed=[5])),
        InputError,
        "0/1",
    ),
    Bad(
        "employment-float-flag",
        E,
        "employed as floats",
        lambda t: read_wide(wide(), employment=months(employed=[1.0])),
        InputError,
        "0/1",
    ),
    Bad(
        "employment-missing-flag",
        E,
        "employed is null",
        lambda t: read_wide(wide(), employment=months(employed=pl.Series([None], dtype=pl.Int8))),
        InputError,
        "fill",
    ),
    Bad(
        "employment-month-outside",
        E,
        "an employment month after the register ends",
        lambda t: read_wide(wide(), employment=months(month=["2011_01"])),
        SpanError,
        "employment_outside='clip'",
    ),
    Bad(
        "employment-text-ids-vs-int",
        E,
        "text ids in the employment table, integer ids in the register",
        lambda t: read_wide(wide(), employment=months(person_id=["x"])),
        InputError,
        "same id type",
    ),
    Bad(
        "employment-leading-zero-ids",
        E,
        "ids '0012345678' (text) against integer register ids",
        lambda t: read_wide(
            wide(ids=[12345678, 2, 3, 4]), employment=months(person_id=[SECRET_TEXT])
        ),
        InputError,
        "leading zeros",
    ),
    Bad(
        "employment-weekly-bad-week",
        E,
        "weekly employment table with week y_0999",
        lambda t: read_wide(
            wide(),
            employment=EmploymentTable(
                months(month=["y_0999"]).rename({"month": "week"}), unit="week"
            ),
        ),
        WeekLabelError,
        "fix the week",
    ),
    Bad(
        "employment-unit-typo",
        E,
        "EmploymentTable(unit='day')",
        lambda t: EmploymentTable(months(), unit="day"),  # type: ignore[arg-type]
        InputError,
        "'month' or 'week'",
    ),
    # long register
    Bad(
        "long-duplicate-person-week",
        L,
        "the same person-week twice",
        lambda t: read_long(pl.concat([long(), long().head(1)])),
        DuplicateError,
        "one row per person and week",
    ),
    Bad(
        "long-week-53-in-52-year",
        L,
        "week 201053 (2010 has 52 weeks)",
        lambda t: read_long(long(week=["y_0950", "201053", "y_0950"])),
        WeekLabelError,
        "invalid",
    ),
    Bad(
        "long-float-weeks",
        L,
        "week column of floats (200950.0)",
        lambda t: read_long(long(week=[200950.0, 200951.0, 200950.0])),
        WeekLabelError,
        "YYYYWW integers",
    ),
    Bad(
        "long-null-week",
        L,
        "a row without a week",
        lambda t: read_long(long(week=["y_0950", None, "y_0950"])),
        WeekLabelError,
        "every row needs a week",
    ),
    Bad(
        "long-bool-code",
        L,
        "code column of booleans",
        lambda t: read_long(long(code=[True, False, True])),
        CodeNotIntegerError,
        "convert the column",
    ),
    Bad(
        "long-outside-span",
        L,
        "rows after last_week",
        lambda t: read_long(long(), last_week="y_0950"),
        SpanError,
        "on_outside='clip'",
    ),
    Bad(
        "long-zero-weeks",
        L,
        "empty table (a register with zero weeks)",
        lambda t: read_long(long().head(0)),
        EmptyInputError,
        "first_week",
    ),
    Bad(
        "long-person-not-listed",
        L,
        "a person missing from persons=",
        lambda t: read_long(long(), persons=pl.Series([7])),
        MissingPersonsError,
        "add them to persons=",
    ),
    Bad(
        "long-text-leading-zero-vs-int",
        L,
        "persons= as integers, table ids as text with leading zeros",
        lambda t: read_long(
            long(person_id=[SECRET_TEXT, SECRET_TEXT, "7"]), persons=pl.Series([12345678, 7])
        ),
        InputError,
        "leading zeros",
    ),
    Bad(
        "long-list-person",
        L,
        "person ids that are lists",
        lambda t: read_long(long(person_id=[[SECRET], [SECRET], [7]])),
        InputError,
        "integers or text",
    ),
    # code maps
    Bad(
        "codemap-overlapping-ranges",
        CM,
        "two states whose ranges overlap",
        lambda t: CodeMap.from_dict(
            codemap(states={"a": {"ranges": [[100, 200]]}, "b": {"ranges": [[150, 250]]}})
        ),
        CodeMapError,
        "remove it from one",
    ),
    Bad(
        "codemap-reversed-range",
        CM,
        "range [200, 100]",
        lambda t: CodeMap.from_dict(codemap(states={"a": {"ranges": [[200, 100]]}})),
        CodeMapError,
        "first <= last",
    ),
    Bad(
        "codemap-huge-range",
        CM,
        "range [0, 10**9] (would hang / exhaust memory)",
        lambda t: CodeMap.from_dict(codemap(states={"a": {"ranges": [[0, 10**9]]}})),
        CodeMapError,
        "up to",
    ),
    Bad(
        "codemap-state-not-table",
        CM,
        "[states] entry that is a list",
        lambda t: CodeMap.from_dict(codemap(states={"a": [890]})),
        CodeMapError,
        "must be a table",
    ),
    Bad(
        "codemap-codes-not-list",
        CM,
        "codes = 890 (not a list)",
        lambda t: CodeMap.from_dict(codemap(states={"a": {"codes": 890}})),
        CodeMapError,
        "codes = [890]",
    ),
    Bad(
        "codemap-bool-code",
        CM,
        "codes = [true]",
        lambda t: CodeMap.from_dict(codemap(states={"a": {"codes": [True]}})),
        CodeMapError,
        "non-negative integers",
    ),
    Bad(
        "codemap-unknown-key",
        CM,
        "a top-level key 'state' (typo)",
        lambda t: CodeMap.from_dict(codemap(state={})),
        CodeMapError,
        "allowed are",
    ),
    Bad(
        "codemap-set-unknown-state",
        CM,
        "a set naming a state that does not exist",
        lambda t: CodeMap.from_dict(codemap(sets={"sickness": ["sick", "sik"]})),
        CodeMapError,
        "known states",
    ),
    Bad(
        "codemap-set-not-list",
        CM,
        "sets.sickness = 'sick' (text, not a list)",
        lambda t: CodeMap.from_dict(codemap(sets={"sickness": "sick"})),
        CodeMapError,
        "list of state names",
    ),
    Bad(
        "codemap-no-code-not-table",
        CM,
        "no_code = 3",
        lambda t: CodeMap.from_dict(codemap(no_code=3)),
        CodeMapError,
        "must be a table",
    ),
    Bad(
        "codemap-reserved-name",
        CM,
        "a state named 'unknown'",
        lambda t: CodeMap.from_dict(codemap(states={"unknown": {"codes": [1]}})),
        CodeMapError,
        "reserved",
    ),
    Bad(
        "codemap-toml-invalid",
        CM,
        "a TOML file with a syntax error",
        lambda t: CodeMap.from_toml(write(t, "m.toml", b"[states.a\ncodes=[1]")),
        CodeMapError,
        "fix the file",
    ),
    Bad(
        "codemap-not-a-dict",
        CM,
        "a list instead of a table",
        lambda t: CodeMap.from_dict([1, 2]),
        CodeMapError,
        "expected a table",
    ),  # type: ignore[arg-type]
    # trial table
    Bad(
        "trial-one-arm-stratum",
        T,
        "a municipality whose persons are all controls",
        lambda t: validate_trial(trial(treated=[0, 0, 0, 0, 0, 1, 0, 1])),
        TrialDesignError,
        "merge or exclude",
    ),
    Bad(
        "trial-empty-arm",
        T,
        "nobody treated (an empty arm)",
        lambda t: validate_trial(trial(treated=[0] * 8)),
        TrialDesignError,
        "both arms",
    ),
    Bad(
        "trial-arm-not-binary",
        T,
        "treated = 2",
        lambda t: validate_trial(trial(treated=[0, 1, 2, 1, 0, 1, 0, 1])),
        InputError,
        "0 (control) or 1",
    ),
    Bad(
        "trial-arm-fractional",
        T,
        "treated = 0.5 (would have been cast to 0)",
        lambda t: validate_trial(trial(treated=[0.0, 0.5, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0])),
        InputError,
        "0 (control) or 1",
    ),
    Bad(
        "trial-arm-nan",
        T,
        "treated = NaN",
        lambda t: validate_trial(trial(treated=[0.0, float("nan"), 0.0, 1.0, 0.0, 1.0, 0.0, 1.0])),
        InputError,
        "fill them in",
    ),
    Bad(
        "trial-duplicate-person",
        T,
        "a person randomised twice",
        lambda t: validate_trial(trial(person_id=[SECRET, SECRET, 3, 4, 5, 6, 7, 8])),
        DuplicateError,
        "one row per randomised person",
    ),
    Bad(
        "trial-missing-column",
        T,
        "no team column",
        lambda t: validate_trial(trial().drop("team")),
        ColumnNotFoundError,
        "rename=",
    ),
    Bad(
        "trial-bad-date",
        T,
        "allocation_date '2010-13-01'",
        lambda t: validate_trial(trial(allocation_date=["2010-13-01"] + ["2010-01-04"] * 7)),
        InputError,
        "YYYY-MM-DD",
    ),
    Bad(
        "trial-date-as-number",
        T,
        "allocation_date as integers",
        lambda t: validate_trial(trial(allocation_date=list(range(8)))),
        InputError,
        "YYYY-MM-DD",
    ),
    Bad(
        "trial-team-last-before-allocation",
        T,
        "team_last_allocation before allocation_date",
        lambda t: validate_trial(trial(team_last_allocation=[dt.date(2009, 1, 1)] * 8)),
        TrialDesignError,
        "last allocation",
    ),
    Bad(
        "trial-uwses-out-of-range",
        T,
        "UW-SES item = 5",
        lambda t: validate_trial(trial(uwses_1=[5, 0, 0, 0, 0, 0, 0, 0])),
        InputError,
        "scored 0",
    ),
    Bad(
        "trial-uwses-text",
        T,
        "UW-SES items as text answers",
        lambda t: validate_trial(trial(uwses_1=["often"] * 8)),
        InputError,
        "recode the answers",
    ),
    Bad(
        "trial-stratum-list",
        T,
        "municipality holding lists",
        lambda t: validate_trial(trial(municipality=[[1]] * 8)),
        InputError,
        "one integer or text value",
    ),
    Bad(
        "trial-rename-collision",
        T,
        "rename onto an existing column",
        lambda t: validate_trial(trial().rename({"team": "hold"}), rename={"hold": "municipality"}),
        InputError,
        "rename it too",
    ),
    Bad(
        "trial-team-of-one-peers",
        T,
        "a team of one person (leave-one-out peer share)",
        lambda t: peer_low_share(validate_trial(trial(team=[0, 0, 1, 1, 2, 2, 3, 4]))),
        TrialDesignError,
        "at least two members",
    ),
    # estimation samples
    Bad(
        "sample-nan-covariate",
        X,
        "a NaN covariate",
        lambda t: effect_path(persons_table(x=[float("nan")] + [0.5] * 39), ["emp_share_1"], ["x"]),
        InputError,
        "missing='drop'",
    ),
    Bad(
        "sample-infinite-covariate",
        X,
        "an infinite covariate",
        lambda t: effect_path(persons_table(x=[float("inf")] + [0.5] * 39), ["emp_share_1"], ["x"]),
        InputError,
        "finite values",
    ),
    Bad(
        "sample-infinite-outcome",
        X,
        "an infinite outcome (was a silent NaN estimate)",
        lambda t: effect_path(
            persons_table(emp_share_1=[float("-inf")] + [0.5] * 39), ["emp_share_1"]
        ),
        InputError,
        "finite values",
    ),
    Bad(
        "sample-constant-cluster",
        X,
        "a cluster variable that is constant (one team)",
        lambda t: effect_path(persons_table(team=[1] * 40), ["emp_share_1"]),
        TrialDesignError,
        "at least two",
    ),
    Bad(
        "sample-empty-arm",
        X,
        "an estimation sample with one arm only",
        lambda t: effect_path(persons_table(treated=[1] * 40), ["emp_share_1"]),
        TrialDesignError,
        "both arms",
    ),
    # configuration
    Bad(
        "config-unknown-key",
        CF,
        "[outcomes] week = 81 (typo for weeks)",
        lambda t: load_config(toml(t, "[outcomes]\nweek = 81\n")),
        ConfigError,
        "allowed keys",
    ),
    Bad(
        "config-unknown-section",
        CF,
        "a section [output]",
        lambda t: load_config(toml(t, "[output]\nx = 1\n")),
        ConfigError,
        "allowed sections",
    ),
    Bad(
        "config-wrong-type",
        CF,
        'weeks = "81" (text)',
        lambda t: load_config(toml(t, '[outcomes]\nweeks = "81"\n')),
        ConfigError,
        "must be an integer",
    ),
    Bad(
        "config-bool-as-int",
        CF,
        "min_cell = true",
        lambda t: load_config(toml(t, "[disclosure]\nmin_cell = true\n")),
        ConfigError,
        "must be an integer",
    ),
    Bad(
        "config-out-of-range",
        CF,
        "level = 1.5",
        lambda t: load_config(toml(t, "[inference]\nlevel = 1.5\n")),
        ConfigError,
        "must lie in",
    ),
    Bad(
        "config-invalid-toml",
        CF,
        "a TOML syntax error",
        lambda t: load_config(toml(t, "[outcomes\nweeks = 81\n")),
        ConfigError,
        "not valid toml",
    ),
    Bad(
        "config-missing-file",
        CF,
        "register = a file that does not exist",
        lambda t: load_config(
            toml(t, '[input]\nsource = "files"\nregister = "no.parquet"\ntrial = "no.csv"\n')
        ),
        ConfigError,
        "does not exist",
    ),
    Bad(
        "config-bad-week-label",
        CF,
        'first_week = "zz"',
        lambda t: parse_config({"input": {"first_week": "zz"}}),
        ConfigError,
        "week label",
    ),
    Bad(
        "report-trial-file-not-parquet",
        CF,
        "[input].trial names a CSV file saved as .parquet (was an internal error)",
        lambda t: _load_inputs_with_bad_trial(t),
        InputError,
        "suffix of its format",
    ),
    Bad(
        "config-section-not-table",
        CF,
        "outcomes = 3",
        lambda t: parse_config({"outcomes": 3}),
        ConfigError,
        "must be a table",
    ),
    # partitioned registers
    Bad(
        "sas-not-sas",
        P,
        "a CSV file named .sas7bdat given to convert_sas (was pyreadstat's ReadstatError)",
        lambda t: convert_sas(write(t, "r.sas7bdat", b"person_id,y_0950\n1,890\n"), t / "ds"),
        InputError,
        "could not be read as a SAS file",
    ),
    Bad(
        "sas-truncated",
        P,
        "a SAS transport file cut off mid-record (was read silently short: 256 of 400 rows)",
        _truncated_xpt,
        InputError,
        "export it again",
    ),
    Bad(
        "partition-truncated",
        P,
        "a partition file cut in half after conversion",
        lambda t: _read_damaged(t, "truncate"),
        InputError,
        "convert the register again",
    ),
    Bad(
        "partition-deleted",
        P,
        "a partition file deleted after conversion",
        lambda t: _read_damaged(t, "delete"),
        InputError,
        "convert the register again",
    ),
    Bad(
        "partition-corrupt-same-size",
        P,
        "a partition with flipped bytes but the same size",
        _flip_same_size,
        InputError,
        "could not read",
    ),
    Bad(
        "partition-different-spans",
        P,
        "two chunks with different week columns",
        lambda t: writer_chunks(t, wide(), wide(ids=[11, 12, 13, 14], weeks=5)),
        InputError,
        "same week columns",
    ),
    Bad(
        "partition-id-types-differ",
        P,
        "ids that are numbers in one chunk and text in another",
        lambda t: writer_chunks(t, wide(), wide(ids=[SECRET_TEXT, "b", "c", "d"])),
        InputError,
        "one type in every chunk",
    ),
    Bad(
        "partition-same-person-twice",
        P,
        "the same person in two chunks",
        lambda t: writer_chunks(t, wide(), wide(ids=[SECRET, 12, 13, 14])),
        DuplicateError,
        "deduplicate",
    ),
    Bad(
        "partition-long-id-types-differ",
        P,
        "long chunks: ids numbers in one, text in another",
        lambda t: writer_chunks(t, long(), long(person_id=["a", "a", "b"]), fmt="long"),
        InputError,
        "one type",
    ),
    Bad(
        "partition-layout-corrupt",
        P,
        "a corrupt _layout.json",
        lambda t: (
            partitioned(t),
            (t / "ds" / "_layout.json").write_text("{oops"),
            PartitionedRegister.open(t / "ds"),
        ),
        InputError,
        "convert the register again",
    ),
    Bad(
        "partition-incomplete",
        P,
        "opening a conversion that never finished",
        lambda t: PartitionedRegister.open(t),
        InputError,
        "running it again",
    ),
    Bad(
        "partition-index",
        P,
        "reading partition 99 of 2",
        lambda t: partitioned(t).read(99),
        InputError,
        "partitions 0..1",
    ),
]


def markdown() -> str:
    """The catalogue as a Markdown table (input, error, fix)."""
    lines = [
        "| # | area | input | error | fix (from the message) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for i, bad in enumerate(CATALOGUE, 1):
        lines.append(
            f"| {i} | {bad.area} | `{bad.name}`: {bad.input.replace('|', '/')} | "
            f"`{bad.error.__name__}` | {bad.fix.replace('|', '/')} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown())
