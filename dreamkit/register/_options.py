"""Reader options shared by :func:`read_wide` and :func:`read_long`, validated in one place."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TypeAlias

from dreamkit.errors import InputError
from dreamkit.register.calendar import week_of_date
from dreamkit.register.codemap import CodeMap
from dreamkit.register.labels import week_of_value

WeekLike: TypeAlias = int | str | dt.date
"""A week argument: a week ordinal (int), a label such as ``"y_0915"`` / ``"200915"``, or a date
inside the week."""


def resolve_codemap(codemap: CodeMap | str | Path | None) -> CodeMap:
    """The shipped default (None), a TOML path, or a :class:`CodeMap` as given."""
    if codemap is None:
        return CodeMap.default()
    if isinstance(codemap, CodeMap):
        return codemap
    return CodeMap.from_toml(codemap)


def week_arg(value: WeekLike | None, *, name: str, pivot: int) -> int | None:
    """Week ordinal of a ``first_week`` / ``last_week`` argument (ints are ordinals)."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise InputError(f"{name} must be a week ordinal, a week label or a date, got {value!r}.")
    if isinstance(value, int):
        if not 0 <= value <= MAX_ORDINAL:
            raise InputError(
                f"{name} = {value} is not a week ordinal (0 is the week of 1900-01-01, "
                f"{MAX_ORDINAL} the last week of 9999); give a label such as 'y_0915' or a date."
            )
        return value
    return week_of_value(value, pivot=pivot, column=name)


MAX_ORDINAL = week_of_date(dt.date(9999, 12, 27))


def check_choice(value: str, allowed: tuple[str, ...], *, name: str) -> None:
    """Raise :class:`InputError` unless ``value`` is one of ``allowed``."""
    if value not in allowed:
        raise InputError(f"{name} must be one of {list(allowed)}, got {value!r}.")
