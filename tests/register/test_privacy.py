"""No error message or repr ever shows a person identifier (a planted id must not leak)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
from register_helpers import SECRET_ID

from dreamkit.errors import DreamkitError
from dreamkit.register import EmploymentTable, read_long, read_wide

SECRET = str(SECRET_ID)


def _wide(**changes: pl.Series) -> pl.DataFrame:
    base = pl.DataFrame(
        {
            "person_id": [SECRET_ID, 7],
            "y_0952": [890, None],
            "y_0953": [None, 111],
            "branche_2009_12": ["1", None],
        }
    )
    return base.with_columns(**changes)


def _long(**changes: pl.Series) -> pl.DataFrame:
    base = pl.DataFrame(
        {"person_id": [SECRET_ID, 7], "week": ["y_0952", "y_0953"], "code": [890, 111]}
    )
    return base.with_columns(**changes)


def _months(**changes: pl.Series) -> pl.DataFrame:
    base = pl.DataFrame({"person_id": [SECRET_ID], "month": ["2009_12"], "employed": [1]})
    return base.with_columns(**changes)


CASES: dict[str, Callable[[], object]] = {
    "wide duplicated persons": lambda: read_wide(_wide(person_id=pl.Series([SECRET_ID] * 2))),
    "wide missing person": lambda: read_wide(_wide(person_id=pl.Series([SECRET_ID, None]))),
    "wide not-integer code": lambda: read_wide(_wide(y_0952=pl.Series(["89O", None]))),
    "wide negative code": lambda: read_wide(_wide(y_0952=pl.Series([-1, None]))),
    "wide unknown code": lambda: read_wide(_wide(y_0952=pl.Series([4444, None]))),
    "wide gap": lambda: read_wide(_wide().drop("y_0953").with_columns(y_1001=pl.lit(890))),
    "wide employment outside": lambda: read_wide(
        _wide(branche_2010_01=pl.Series(["1", None])), employment="columns"
    ),
    "wide employment uncovered": lambda: read_wide(
        _wide(y_1001=pl.Series([None, None])), employment="columns"
    ),
    "employment person absent": lambda: read_wide(
        _wide(), employment=_months(person_id=pl.Series([SECRET_ID + 1]))
    ),
    "employment duplicated month": lambda: read_wide(
        _wide(), employment=pl.concat([_months(), _months(month=pl.lit("200912"))])
    ),
    "employment bad flag": lambda: read_wide(_wide(), employment=_months(employed=pl.lit(5))),
    "employment month outside": lambda: read_wide(
        _wide(), employment=_months(month=pl.lit("2011_01"))
    ),
    "employment bad month": lambda: read_wide(_wide(), employment=_months(month=pl.lit("2011_13"))),
    "employment weekly bad week": lambda: read_wide(
        _wide(),
        employment=EmploymentTable(
            _months().rename({"month": "week"}).with_columns(week=pl.lit("y_0999")), unit="week"
        ),
    ),
    "long duplicated person-week": lambda: read_long(pl.concat([_long(), _long().head(1)])),
    "long bad week": lambda: read_long(_long(week=pl.Series(["y_0960", "y_0953"]))),
    "long unknown code": lambda: read_long(_long(code=pl.Series([4444, 111]))),
    "long not-integer code": lambda: read_long(_long(code=pl.Series(["89O", "111"]))),
    "long outside span": lambda: read_long(_long(), last_week="y_0952"),
    "long person not in persons=": lambda: read_long(_long(), persons=pl.Series([7])),
    "long missing person": lambda: read_long(_long(person_id=pl.Series([None, 7]))),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_errors_never_show_a_person_id(name: str) -> None:
    with pytest.raises(DreamkitError) as info:
        CASES[name]()
    message = str(info.value)
    assert SECRET not in message
    assert info.value.__cause__ is None


def test_csv_parse_failure_withholds_the_parser_message(tmp_path: Path) -> None:
    ids = [str(i) for i in range(10_050)] + [f"X{SECRET}"]
    path = tmp_path / "wide.csv"
    pl.DataFrame({"person_id": ids, "y_0952": ["890"] * len(ids)}).write_csv(path)
    with pytest.raises(DreamkitError) as info:
        read_wide(path)
    assert SECRET not in str(info.value)


def test_register_repr_and_missing_persons_show_counts_only() -> None:
    reg = read_wide(_wide())
    assert SECRET not in repr(reg)
    with pytest.raises(DreamkitError, match="1 of 2 person") as info:
        reg.require_rows(pl.Series([SECRET_ID + 5, 7]))
    assert SECRET not in str(info.value) and str(SECRET_ID + 5) not in str(info.value)
    rows = reg.rows_of(pl.Series([7, SECRET_ID, 99]))
    assert rows.tolist() == [1, 0, -1]
