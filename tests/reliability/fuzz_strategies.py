"""Hypothesis strategies for malformed-but-plausible user data and configuration.

Person ids are drawn from a range (and a text form) that no other generated value can contain,
so a test can assert that no id appears in any message.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl
from hypothesis import strategies as st

from dreamkit.register.calendar import week_label, week_of_iso

ID_BASE = 9_876_500_000
TEXT_ID_PREFIX = "PID0"
START_WEEKS = [week_of_iso(2009, 50), week_of_iso(2015, 51), week_of_iso(1999, 50)]

# benefit-code cells: valid, unknown, negative, fractional, text garbage, NaN, inf
CODE_VALUES: list[Any] = [
    None, 890, 111, 112, 521, 997, 4444, 0, -3, 1.5, 890.0, float("nan"), float("inf"),
    "890", " 890 ", "890.0", "89O", "", "x", "-1", "1e3",
]  # fmt: skip
WEEK_DTYPES: list[Any] = [pl.Int16, pl.Int32, pl.Int64, pl.Float64, pl.String, None]
BAD_WEEK_NAMES = ["y_1053", "y_0900", "y_09W1", "y_200950", "y_", "y_9999", "Y_0950"]


def person_ids(n: int, kind: str, draw: st.DrawFn) -> list[Any]:
    """``n`` person ids of a kind: unique ints, text with leading zeros, or broken ones."""
    base = [ID_BASE + k * 7919 for k in range(n)]
    if kind == "int":
        return base
    if kind == "text":
        return [f"{TEXT_ID_PREFIX}{b}" for b in base]
    if kind == "float":
        return [float(b) for b in base]
    ids: list[Any] = list(base)
    if n:
        i = draw(st.integers(0, n - 1))
        ids[i] = draw(st.sampled_from([None, float("nan"), ids[0], 2.5, -1]))
    return ids


def all_ids(n: int) -> list[str]:
    """Every textual form of the ids :func:`person_ids` can produce (to search messages)."""
    base = [ID_BASE + k * 7919 for k in range(n)]
    return [str(b) for b in base] + [f"{TEXT_ID_PREFIX}{b}" for b in base]


@st.composite
def wide_frames(draw: st.DrawFn) -> tuple[pl.DataFrame, int]:
    """A wide register frame with optional defects, and its number of persons."""
    n = draw(st.integers(0, 6))
    kind = draw(st.sampled_from(["int", "int", "text", "float", "broken"]))
    ids = person_ids(n, kind, draw)
    start = draw(st.sampled_from(START_WEEKS))
    n_weeks = draw(st.integers(0, 6))
    names = [week_label(start + j) for j in range(n_weeks)]
    if names and draw(st.booleans()):
        defect = draw(st.sampled_from(["gap", "bad", "dup"]))
        if defect == "gap" and len(names) > 2:
            names.pop(len(names) // 2)
        elif defect == "bad":
            names.append(draw(st.sampled_from(BAD_WEEK_NAMES)))
        else:
            names.append(names[0].replace("y_", "y_20") if names[0][2] < "9" else names[0] + "x")
    columns: dict[str, pl.Series] = {}
    id_dtype = pl.Object if kind == "broken" and any(isinstance(v, float) for v in ids) else None
    try:
        columns["person_id"] = pl.Series("person_id", ids, strict=False)
    except (TypeError, pl.exceptions.PolarsError):  # pragma: no cover - mixed broken ids
        columns["person_id"] = pl.Series("person_id", [str(v) for v in ids], dtype=id_dtype)
    for name in dict.fromkeys(names):
        dtype = draw(st.sampled_from(WEEK_DTYPES))
        values = draw(st.lists(st.sampled_from(CODE_VALUES), min_size=n, max_size=n))
        columns[name] = _series(name, values, dtype)
    if draw(st.booleans()):  # monthly employment columns, sometimes with a bad label
        for label in draw(st.lists(st.sampled_from(_MONTHS), max_size=4, unique=True)):
            values = draw(
                st.lists(st.sampled_from([None, "", "A", "1", 1, 0]), min_size=n, max_size=n)
            )
            columns[f"branche_{label}"] = _series(f"branche_{label}", values, pl.String)
    return pl.DataFrame(list(columns.values())), n


_MONTHS = ["2009_12", "2010_01", "2010_02", "2015_12", "2016_01", "1999_12", "2000_01",
           "2009_13", "2009-12", "200912"]  # fmt: skip


def _series(name: str, values: list[Any], dtype: Any) -> pl.Series:
    """A column of ``values`` cast to ``dtype`` where possible (else stored as text)."""
    if dtype is None:
        try:
            return pl.Series(name, values, strict=False)
        except (TypeError, pl.exceptions.PolarsError):
            pass
    if dtype is not None and dtype != pl.String:
        try:
            return pl.Series(name, values, dtype=dtype, strict=False)
        except (TypeError, OverflowError, pl.exceptions.PolarsError):
            pass
    return pl.Series(name, [None if v is None else str(v) for v in values], dtype=pl.String)


@st.composite
def long_frames(draw: st.DrawFn) -> tuple[pl.DataFrame, int]:
    """A long (person, week, code) frame with optional defects."""
    n = draw(st.integers(0, 5))
    kind = draw(st.sampled_from(["int", "text", "float", "broken"]))
    ids = person_ids(max(n, 1), kind, draw)
    rows = draw(st.integers(0, 8))
    week_values = draw(
        st.lists(
            st.sampled_from(
                ["y_0950", "y_0951", "y_0953", "y_1001", "y_1053", "201001", "2010-01-04", None,
                 200952, 200953, 915, 1053, "zz", 201001.0, dt.date(2010, 1, 6)]
            ),
            min_size=rows, max_size=rows,
        )
    )  # fmt: skip
    person_values = [ids[draw(st.integers(0, len(ids) - 1))] for _ in range(rows)]
    codes = draw(st.lists(st.sampled_from(CODE_VALUES), min_size=rows, max_size=rows))
    frame = pl.DataFrame(
        [
            _series("person_id", person_values, None),
            _series("week", week_values, draw(st.sampled_from([None, pl.String]))),
            _series("code", codes, draw(st.sampled_from(WEEK_DTYPES))),
        ]
    )
    return frame, len(ids)


week_args = st.one_of(
    st.none(),
    st.sampled_from(["y_0950", "y_0952", "y_1001", "y_1053", "bad", "2010-01-04", "201001"]),
    st.integers(-(10**15), 10**15),
    st.integers(0, 500_000),
    st.dates(),
    st.floats(allow_nan=True),
)

# ---- nested documents (code maps, configurations) -------------------------------------------
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.integers(-5, 2000),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.sampled_from(["sick", "work", "employment", "no_transfer", "unknown", "y_0801", "files"]),
)
KEYS = [
    "name",
    "states",
    "sets",
    "no_code",
    "codes",
    "ranges",
    "label",
    "employed",
    "not_employed",
    "sick",
    "work",
    "input",
    "outcomes",
    "weeks",
    "design",
    "inference",
    "level",
    "disclosure",
    "min_cell",
    "source",
    "register",
    "first_week",
    "self_efficacy",
    "grid",
]
documents = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            st.one_of(st.text(max_size=6), st.sampled_from(KEYS)), children, max_size=4
        ),
    ),
    max_leaves=20,
)  # fmt: skip


@st.composite
def codemap_documents(draw: st.DrawFn) -> dict[str, Any]:
    """A code-map document: mostly well-formed, with random parts replaced by junk."""
    states: dict[str, Any] = {}
    for name in draw(st.lists(st.sampled_from(["sick", "work", "edu", "unknown", "x"]),
                              min_size=0, max_size=3, unique=True)):  # fmt: skip
        spec: dict[str, Any] = {}
        if draw(st.booleans()):
            spec["codes"] = draw(st.one_of(st.lists(st.integers(-3, 2_000), max_size=4), documents))
        if draw(st.booleans()):
            spec["ranges"] = draw(
                st.one_of(
                    st.lists(
                        st.lists(st.integers(-3, 2_000_000), min_size=2, max_size=2), max_size=3
                    ),
                    documents,
                )
            )
        if draw(st.booleans()):
            spec["label"] = draw(scalars)
        states[name] = spec if draw(st.integers(0, 9)) else draw(documents)
    doc: dict[str, Any] = {"states": states}
    if draw(st.booleans()):
        doc["sets"] = draw(
            st.one_of(
                st.dictionaries(st.sampled_from(["sickness", "employment"]),
                                st.lists(st.sampled_from(["sick", "work", "nope"]), max_size=3)),
                documents,
            )
        )  # fmt: skip
    if draw(st.booleans()):
        doc["no_code"] = draw(
            st.one_of(
                st.fixed_dictionaries({"employed": st.sampled_from(["work", "emp", "sick"])}),
                documents,
            )
        )
    if draw(st.integers(0, 9)) == 0:
        doc[draw(st.text(max_size=5))] = draw(documents)
    return doc
