"""Property-based fuzzing of every entry point that reads user data or configuration.

Property: any input either gives a valid result or raises a :class:`DreamkitError` subclass;
never another exception, never a hang (each call must finish within ``LIMIT`` seconds), and
never a person id in the message. Example counts follow the hypothesis profile (``default`` in
the test suite, ``HYPOTHESIS_PROFILE=nightly`` for a long run; ``tests/conftest.py``).
"""

from __future__ import annotations

import datetime as dt
import string
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
from fuzz_strategies import (
    CODE_VALUES,
    ID_BASE,
    all_ids,
    codemap_documents,
    documents,
    long_frames,
    person_ids,
    week_args,
    wide_frames,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dreamkit.chunked import DatasetWriter, PartitionedRegister, convert_sas, partition_register
from dreamkit.config import load_config, parse_config
from dreamkit.design.trial import validate_trial
from dreamkit.errors import DreamkitError
from dreamkit.register import CodeMap, EmploymentTable, Register, read_long, read_wide

LIMIT = 20.0  # seconds per call: a generous bound on a shared machine; a hang exceeds it
SLOW_DATA = settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
#: dataset conversions write files: a quarter of the profile's examples
FILES = settings(SLOW_DATA, max_examples=max(1, settings().max_examples // 4))


def outcome(call: Callable[[], Any], secrets: list[str]) -> Any:
    """Run ``call``; allow only DreamkitError, without any secret in its message."""
    start = time.perf_counter()
    try:
        result = call()
    except DreamkitError as err:
        message = str(err)
        leaked = [s for s in secrets if s in message]
        assert not leaked, f"person id in message: {message}"
        assert err.__cause__ is None or isinstance(err.__cause__, DreamkitError)
        result = err
    finally:
        assert time.perf_counter() - start < LIMIT, "call took too long (hang?)"
    return result


def check_register(reg: Any, n: int | None = None) -> None:
    if isinstance(reg, Register):
        assert reg.states.shape[0] == reg.person_ids.len() >= 1
        assert reg.n_weeks >= 1
        assert int(reg.states.max()) < reg.codemap.n_states
        if n is not None:
            assert reg.n_persons <= n


# ---- registers ------------------------------------------------------------------------------
@SLOW_DATA
@given(
    wide_frames(),
    week_args,
    week_args,
    st.sampled_from(["error", "unknown", "bogus"]),
    st.sampled_from([None, "columns", "nonsense"]),
)
def test_read_wide_frames(
    data: tuple[pl.DataFrame, int], first: Any, last: Any, on_unknown: str, employment: Any
) -> None:
    frame, n = data
    reg = outcome(
        lambda: read_wide(
            frame, first_week=first, last_week=last, on_unknown=on_unknown, employment=employment
        ),
        all_ids(n),
    )
    check_register(reg, n)


@SLOW_DATA
@given(
    wide_frames(),
    st.sampled_from(["csv", "parquet", "csv-as-parquet", "parquet-as-csv"]),
    st.sampled_from(["none", "truncate", "flip", "prepend", "append"]),
    st.integers(0, 10**6),
)
def test_read_wide_files(data: tuple[pl.DataFrame, int], fmt: str, damage: str, where: int) -> None:
    frame, n = data
    with tempfile.TemporaryDirectory() as tmp:
        writes_csv = fmt.startswith("csv")
        suffix = ".parquet" if fmt in ("parquet", "csv-as-parquet") else ".csv"
        path = Path(tmp) / f"register{suffix}"
        try:
            if writes_csv:
                frame.write_csv(path)
            else:
                frame.write_parquet(path)
        except pl.exceptions.PolarsError:  # e.g. nested columns cannot be written as CSV
            return
        _damage(path, damage, where)
        reg = outcome(lambda: read_wide(path, on_unknown="unknown"), all_ids(n))
        check_register(reg, n)


def _damage(path: Path, how: str, where: int) -> None:
    data = bytearray(path.read_bytes())
    if not data or how == "none":
        return
    k = where % len(data)
    if how == "truncate":
        data = data[:k]
    elif how == "flip":
        data[k] ^= 0xFF
    elif how == "prepend":
        data = bytearray(b"\x00junk,") + data
    else:
        data += b"\n1,2,3,4,5,6,7,8,9\n\xff\xfe"
    path.write_bytes(bytes(data))


@SLOW_DATA
@given(long_frames(), week_args, week_args, st.sampled_from(["error", "clip"]), st.booleans())
def test_read_long_frames(
    data: tuple[pl.DataFrame, int], first: Any, last: Any, on_outside: str, listed: bool
) -> None:
    frame, n = data
    persons = None
    if listed:
        persons = frame["person_id"].unique(maintain_order=True).drop_nulls()
    reg = outcome(
        lambda: read_long(
            frame,
            first_week=first,
            last_week=last,
            on_outside=on_outside,  # type: ignore[arg-type]
            persons=persons,
            on_unknown="unknown",
        ),
        all_ids(n),
    )
    check_register(reg)


_WIDE = pl.DataFrame(
    {
        "person_id": [ID_BASE, ID_BASE + 7919],
        "y_0952": [890, None],
        "y_0953": [None, 111],
        "y_1001": [None, None],
    }
)


@SLOW_DATA
@given(
    st.lists(
        st.tuples(
            st.sampled_from(person_ids(2, "int", lambda s: 0) + person_ids(2, "text", lambda s: 0)),
            st.sampled_from(["2009_12", "2010_01", "200912", "2011_01", "2009_13", None, 201001,
                             "y_0952", dt.date(2009, 12, 1), 1.5]),
            st.sampled_from([0, 1, True, "true", "yes", None, 2, 0.5]),
        ),
        max_size=6,
    ),
    st.sampled_from(["month", "week"]),
    st.sampled_from(["error", "clip"]),
)  # fmt: skip
def test_employment_tables(rows: list[tuple[Any, Any, Any]], unit: str, outside: str) -> None:
    cols = list(zip(*rows, strict=True)) if rows else [[], [], []]
    table = pl.DataFrame(
        [
            pl.Series("person_id", list(cols[0]), strict=False)
            if len({type(v) for v in cols[0]}) <= 1
            else pl.Series("person_id", [str(v) for v in cols[0]]),
            pl.Series(unit, [None if v is None else str(v) for v in cols[1]], dtype=pl.String),
            pl.Series("employed", list(cols[2]), strict=False)
            if len({type(v) for v in cols[2] if v is not None}) <= 1
            else pl.Series("employed", [None if v is None else str(v) for v in cols[2]]),
        ]
    )
    reg = outcome(
        lambda: read_wide(
            _WIDE,
            employment=EmploymentTable(table, unit=unit),  # type: ignore[arg-type]
            employment_outside=outside,  # type: ignore[arg-type]
        ),
        all_ids(2),
    )
    check_register(reg)


# ---- code maps ------------------------------------------------------------------------------
@given(st.one_of(codemap_documents(), documents))
def test_codemap_from_dict(doc: Any) -> None:
    cmap = outcome(lambda: CodeMap.from_dict(doc), [])
    if isinstance(cmap, CodeMap):
        assert cmap.states[-1] == "unknown"
        for state in cmap.states:
            assert set(cmap.codes_of(state)) <= set(range(1_000_000))


_DEFAULT_TOML = (
    Path(__file__).parents[2] / "dreamkit" / "register" / "codemaps" / "dream_default.toml"
).read_text(encoding="utf-8")


@given(st.integers(0, len(_DEFAULT_TOML)), st.integers(0, 40), st.text(max_size=12))
def test_codemap_toml_mutations(start: int, length: int, insert: str) -> None:
    text = _DEFAULT_TOML[:start] + insert + _DEFAULT_TOML[start + length :]
    outcome(lambda: CodeMap.from_toml_text(text), [])


# ---- trial table ----------------------------------------------------------------------------
@SLOW_DATA
@given(
    st.integers(1, 8),
    st.sampled_from(["int", "text", "float", "broken"]),
    st.lists(st.sampled_from([0, 1, 1.0, 0.5, None, float("nan"), 2, "1", True]), min_size=8,
             max_size=8),
    st.lists(st.sampled_from(["a", "b", None, 1, 2.5]), min_size=8, max_size=8),
    st.lists(st.sampled_from([1, 2, 3, None, "t"]), min_size=8, max_size=8),
    st.lists(st.sampled_from([dt.date(2010, 1, 4), dt.date(2009, 12, 31), "2010-01-05", "x",
                              None, 5, dt.datetime(2010, 1, 1, 12)]), min_size=8, max_size=8),
    st.lists(st.sampled_from([0, 4, 5, -1, None, 2.0, float("nan"), "3"]), min_size=8,
             max_size=8),
    st.booleans(),
)  # fmt: skip
def test_validate_trial(
    n: int,
    kind: str,
    treated: list[Any],
    strata: list[Any],
    teams: list[Any],
    dates: list[Any],
    items: list[Any],
    with_last: bool,
) -> None:
    def col(name: str, values: list[Any]) -> pl.Series:
        try:
            return pl.Series(name, values[:n], strict=False)
        except (TypeError, pl.exceptions.PolarsError):
            return pl.Series(name, [None if v is None else str(v) for v in values[:n]])

    data = [
        col("person_id", person_ids(n, kind, lambda s: 0)),
        col("municipality", strata),
        col("team", teams),
        col("treated", treated),
        col("allocation_date", dates),
    ]
    if with_last:
        data.append(col("team_last_allocation", dates[::-1]))
    data += [col(f"uwses_{k}", items[k:] + items[:k]) for k in range(1, 7)]
    frame = pl.DataFrame(data)
    result = outcome(lambda: validate_trial(frame), all_ids(n))
    if isinstance(result, pl.DataFrame):
        assert result.height == n
        assert set(result["treated"].to_list()) == {0, 1}


# ---- configuration --------------------------------------------------------------------------
@given(st.dictionaries(st.sampled_from(["input", "outcomes", "design", "inference", "disclosure",
                                        "self_efficacy", "covariates", "x"]), documents,
                       max_size=4))  # fmt: skip
def test_parse_config_documents(doc: dict[str, Any]) -> None:
    outcome(lambda: parse_config(doc), [])


@given(st.text(alphabet=string.printable, max_size=200))
def test_load_config_text(text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "analysis.toml"
        path.write_text(text, encoding="utf-8")
        outcome(lambda: load_config(path), [])


# ---- partitioned registers ------------------------------------------------------------------
@FILES
@given(
    st.lists(wide_frames(), min_size=1, max_size=3),
    st.sampled_from(["none", "truncate", "flip", "delete", "layout", "record"]),
    st.integers(0, 10**6),
)
def test_partitioned_registers(
    chunks: list[tuple[pl.DataFrame, int]], damage: str, where: int
) -> None:
    secrets = all_ids(max(n for _, n in chunks))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "ds"

        def convert() -> PartitionedRegister:
            writer = DatasetWriter(root, format="wide", read_options={"on_unknown": "unknown"})
            for i, (frame, _) in enumerate(chunks):
                writer.write_chunk(i, frame)
            return writer.finish()

        ds = outcome(convert, secrets)
        if not isinstance(ds, PartitionedRegister):
            return
        files = sorted(root.glob("part-*.parquet"))
        target = files[where % len(files)]
        if damage in ("truncate", "flip"):
            _damage(target, damage, where)
        elif damage == "delete":
            target.unlink()
        elif damage == "layout":
            _damage(root / "_layout.json", "truncate", where)
        elif damage == "record":
            _damage(next(iter((root / "_parts").glob("*.json"))), "flip", where)

        def read_all() -> list[Register]:
            opened = PartitionedRegister.open(root)
            return [opened.read(i) for i in range(len(opened.partitions))]

        regs = outcome(read_all, secrets)
        if isinstance(regs, list):
            for reg in regs:
                check_register(reg)


@FILES
@given(wide_frames(), st.integers(1, 4))
def test_partition_register_matches_read_wide(data: tuple[pl.DataFrame, int], rows: int) -> None:
    frame, n = data
    direct = outcome(lambda: read_wide(frame, on_unknown="unknown"), all_ids(n))
    with tempfile.TemporaryDirectory() as tmp:
        ds = outcome(
            lambda: partition_register(
                frame, Path(tmp) / "ds", chunk_rows=rows, progress=False, on_unknown="unknown"
            ),
            all_ids(n),
        )
        if isinstance(direct, Register) and isinstance(ds, PartitionedRegister):
            parts = [ds.read(i) for i in range(len(ds.partitions))]
            assert sum(p.n_persons for p in parts) == direct.n_persons
            assert parts[0].first_week == direct.first_week


def test_code_values_cover_the_defects() -> None:
    """The strategies include every kind of bad code cell (guards against a silent edit)."""
    kinds = {type(v).__name__ for v in CODE_VALUES}
    assert {"NoneType", "int", "float", "str"} <= kinds


_XPT_FRAME = pl.DataFrame(
    {"person_id": [float(ID_BASE + 7919 * k) for k in range(30)]}
    | {f"y_095{w}": [890.0 if (k + w) % 3 == 0 else None for k in range(30)] for w in range(3)}
)


@FILES
@given(st.sampled_from(["truncate", "flip", "prepend", "append", "none"]), st.integers(0, 10**6))
def test_convert_sas_damaged_files(damage: str, where: int) -> None:
    import pyreadstat

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "register.xpt"
        pyreadstat.write_xport(_XPT_FRAME.to_pandas(), str(path))
        _damage(path, damage, where)
        ds = outcome(
            lambda: convert_sas(path, Path(tmp) / "ds", progress=False, chunk_rows=7),
            all_ids(30),
        )
        if isinstance(ds, PartitionedRegister):
            if damage == "none":
                assert ds.n_persons == 30
            assert ds.n_persons <= 30
