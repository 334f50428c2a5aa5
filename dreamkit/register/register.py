"""The in-memory register: a dense person x week array of state ids.

A :class:`Register` holds

* ``states``: ``uint8`` array of shape (persons, weeks); ``states[i, j]`` is the state id (see
  :class:`~dreamkit.register.codemap.CodeMap`) of person row ``i`` in week ``first_week + j``;
* ``person_ids``: a polars Series mapping row ``i`` to the person identifier;
* ``first_week``: the week ordinal (:mod:`dreamkit.register.calendar`) of column 0;
* ``codemap``: the code map that produced the states;
* ``n_unknown_codes``: cells whose code was not in the map and became ``unknown``;
* ``n_clipped_codes`` / ``n_clipped_employment``: code records (long input) and employment
  records outside the register span that a reader dropped on request (``on_outside="clip"``,
  ``employment_outside="clip"``).

One byte per person-week: 1M persons x 260 weeks is 260 MB. Person identifiers are private
data: the register's ``repr`` shows only counts, and no error message prints them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import polars as pl

from dreamkit.errors import DuplicateError, EmptyInputError, InputError, MissingPersonsError
from dreamkit.register._persons import cast_ids
from dreamkit.register.calendar import week_label
from dreamkit.register.codemap import CodeMap


@dataclass(frozen=True, eq=False)
class Register:
    """Dense weekly state register (see module docstring)."""

    states: npt.NDArray[np.uint8]
    person_ids: pl.Series
    first_week: int
    codemap: CodeMap
    n_unknown_codes: int = 0
    n_clipped_codes: int = 0
    n_clipped_employment: int = 0

    def __post_init__(self) -> None:
        if self.states.ndim != 2 or self.states.dtype != np.uint8:
            raise InputError("Register.states must be a 2-D uint8 array (persons x weeks).")
        if self.states.shape[0] == 0 or self.states.shape[1] == 0:
            raise EmptyInputError("the register has no persons or no weeks; check the input.")
        if self.person_ids.len() != self.states.shape[0]:
            raise InputError("Register.person_ids must have one entry per row of states.")
        if self.person_ids.null_count():
            raise InputError(
                f"person id column has {self.person_ids.null_count()} missing value(s); "
                "every register row needs a person id."
            )
        if self.person_ids.n_unique() != self.person_ids.len():
            n_dup = self.person_ids.len() - self.person_ids.n_unique()
            raise DuplicateError(
                f"person id column has {n_dup} duplicated person(s); each person must have "
                "one row (aggregate or deduplicate the input first)."
            )
        if int(self.states.max(initial=0)) >= self.codemap.n_states:
            raise InputError("Register.states holds ids outside the code map's states.")

    def __repr__(self) -> str:
        return (
            f"Register({self.n_persons:,} persons x {self.n_weeks} weeks, "
            f"{week_label(self.first_week)}..{week_label(self.last_week)}, "
            f"code map {self.codemap.name!r}, {self.n_unknown_codes} unknown-code cells"
            f"{self._clipped_note()})"
        )

    def _clipped_note(self) -> str:
        parts = [
            f"{n} clipped {what} records"
            for n, what in (
                (self.n_clipped_codes, "code"),
                (self.n_clipped_employment, "employment"),
            )
            if n
        ]
        return "".join(f", {part}" for part in parts)

    @property
    def n_persons(self) -> int:
        return int(self.states.shape[0])

    @property
    def n_weeks(self) -> int:
        return int(self.states.shape[1])

    @property
    def last_week(self) -> int:
        """Week ordinal of the last column (inclusive)."""
        return self.first_week + self.n_weeks - 1

    @property
    def weeks(self) -> npt.NDArray[np.int32]:
        """Week ordinals of the columns."""
        return np.arange(self.first_week, self.first_week + self.n_weeks, dtype=np.int32)

    def rows_of(self, person_ids: pl.Series, *, column: str = "person_id") -> npt.NDArray[np.int64]:
        """Register rows of the given persons, in their order; -1 where a person is absent.

        Use :meth:`require_rows` to raise instead. Never prints identifiers.
        """
        index = pl.DataFrame(
            {"_pid": self.person_ids, "_row": np.arange(self.n_persons, dtype=np.int64)}
        )
        wanted = pl.DataFrame(
            {"_pid": cast_ids(person_ids, self.person_ids.dtype, column=column, what="persons")}
        )
        joined = wanted.join(index, on="_pid", how="left", maintain_order="left")
        return joined["_row"].fill_null(-1).to_numpy()

    def require_rows(
        self, person_ids: pl.Series, *, column: str = "person_id"
    ) -> npt.NDArray[np.int64]:
        """Like :meth:`rows_of` but raises :class:`MissingPersonsError` with a count."""
        rows = self.rows_of(person_ids, column=column)
        n_missing = int((rows < 0).sum())
        if n_missing:
            raise MissingPersonsError(
                f"{n_missing} of {rows.size} person(s) in column {column!r} are not in the "
                "register; check the id linkage, or exclude them explicitly so that the "
                "sample-flow ledger records them (on_missing='exclude')."
            )
        return rows

    def state_counts(self) -> pl.DataFrame:
        """Person-weeks per state (a quick descriptive check of the mapping)."""
        counts = np.bincount(self.states.ravel(), minlength=self.codemap.n_states)
        return pl.DataFrame(
            {"state": list(self.codemap.states), "person_weeks": counts.astype(np.int64)}
        )
