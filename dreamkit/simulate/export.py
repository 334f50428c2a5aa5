"""DREAM-style code tables of a simulated register: wide (``y_YYWW`` + ``branche_YYYY_MM``)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import polars as pl

from dreamkit.register.calendar import months_of_weeks, week_label
from dreamkit.register.labels import month_label
from dreamkit.simulate.states import NO_CODE


def wide_table(
    person_ids: pl.Series,
    codes: npt.NDArray[np.int16],
    employed: npt.NDArray[np.bool_],
    first_week: int,
    industry: npt.NDArray[np.int32],
) -> pl.DataFrame:
    """Wide DREAM-style table: ``person_id``, one Int16 code column ``y_YYWW`` per week (null =
    no transfer) and one ``branche_YYYY_MM`` column per month, holding the person's industry
    code (Int32) in months with employment in any week whose Thursday lies in the month and
    null otherwise."""
    n_weeks = codes.shape[1]
    weeks = np.arange(first_week, first_week + n_weeks)
    columns: dict[str, pl.Series] = {"person_id": person_ids.alias("person_id")}
    for j, week in enumerate(weeks):
        label = week_label(int(week))
        values = codes[:, j]
        columns[label] = pl.Series(label, values, dtype=pl.Int16).scatter(
            np.flatnonzero(values == NO_CODE), None
        )
    months = months_of_weeks(weeks)
    starts = np.flatnonzero(np.r_[True, np.diff(months) != 0])
    monthly = np.logical_or.reduceat(employed, starts, axis=1)
    for k, start in enumerate(starts):
        label = month_label(int(months[start]), "branche_")
        columns[label] = pl.Series(label, industry, dtype=pl.Int32).scatter(
            np.flatnonzero(~monthly[:, k]), None
        )
    return pl.DataFrame(columns)
