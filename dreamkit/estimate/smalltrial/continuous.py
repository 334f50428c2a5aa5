r"""Continuous outcomes in a small trial: Shapiro-Wilk, then a t-test or the Wilcoxon rank-sum.

The field's convention (the pilot's): test normality in each arm with Shapiro-Wilk; when
neither arm rejects at ``alpha`` compare means with Student's two-sample t-test, otherwise
compare distributions with the Wilcoxon rank-sum (Mann-Whitney U) test. Every variant is
returned (Shapiro-Wilk per arm, Student t, Welch t, Wilcoxon rank-sum) and the convention's
choice is flagged in the ``chosen`` column.

Pre-testing is reported because it is a convention of the field, **not a recommendation**: the
choice changes the test's size, Shapiro-Wilk has little power in small arms and too much in
large ones, and Welch's t-test (or the rank-sum test) chosen in advance is the better practice.

All statistics come from scipy (``shapiro``, ``ttest_ind`` with ``equal_var`` True/False,
``mannwhitneyu`` two-sided with ``method="auto"``: exact without ties for small arms, else the
normal approximation with tie and continuity correction).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
import scipy.stats

from dreamkit.errors import InputError


def compare_continuous(
    treated: Any, outcome: Any, *, alpha: float = 0.05, outcome_name: str = ""
) -> pl.DataFrame:
    """Shapiro-Wilk per arm, Student and Welch t-tests and the Wilcoxon rank-sum test.

    Returns a table with columns outcome, test, statistic, df, p_value, chosen (the
    convention's pick: Student t when both Shapiro p > ``alpha``, else Wilcoxon rank-sum),
    mean_treated, mean_control, note.
    """
    arm = np.asarray(treated)
    y = np.asarray(outcome, dtype=np.float64)
    if arm.shape != y.shape or arm.ndim != 1:
        raise InputError("treated and the outcome must be 1-D arrays of the same length.")
    if not np.isin(arm, (0, 1)).all():
        raise InputError("treated must hold 0/1 values.")
    if not np.isfinite(y).all():
        raise InputError(
            "the outcome has missing values; exclude those persons first and count them."
        )
    if not 0 < alpha < 1:
        raise InputError(f"alpha must lie in (0, 1), got {alpha}.")
    y1, y0 = y[arm == 1], y[arm == 0]
    if min(y1.size, y0.size) < 3:
        raise InputError("Shapiro-Wilk needs at least 3 persons per arm.")
    notes = []
    shapiro = []
    for values in (y1, y0):
        if np.ptp(values) == 0:
            shapiro.append((float("nan"), 0.0))
            notes.append("constant outcome in an arm: not normal, rank-sum chosen")
        else:
            r = scipy.stats.shapiro(values)
            shapiro.append((float(r.statistic), float(r.pvalue)))
    normal = all(p > alpha for _, p in shapiro)
    student = scipy.stats.ttest_ind(y1, y0, equal_var=True)
    welch = scipy.stats.ttest_ind(y1, y0, equal_var=False)
    rank = scipy.stats.mannwhitneyu(y1, y0, alternative="two-sided", method="auto")
    rows = [
        ("Shapiro-Wilk (treated)", shapiro[0][0], None, shapiro[0][1], False),
        ("Shapiro-Wilk (control)", shapiro[1][0], None, shapiro[1][1], False),
        ("Student t", float(student.statistic), float(student.df), float(student.pvalue), normal),
        ("Welch t", float(welch.statistic), float(welch.df), float(welch.pvalue), False),
        ("Wilcoxon rank-sum", float(rank.statistic), None, float(rank.pvalue), not normal),
    ]
    note = "; ".join(dict.fromkeys(notes))
    return pl.DataFrame(
        {
            "outcome": [outcome_name] * len(rows),
            "test": [r[0] for r in rows],
            "statistic": [r[1] for r in rows],
            "df": [r[2] for r in rows],
            "p_value": [r[3] for r in rows],
            "chosen": [r[4] for r in rows],
            "mean_treated": [float(y1.mean())] * len(rows),
            "mean_control": [float(y0.mean())] * len(rows),
            "note": [note] * len(rows),
        },
        schema_overrides={"df": pl.Float64, "statistic": pl.Float64},
    )
