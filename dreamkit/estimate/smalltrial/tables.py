r"""Result tables of a small trial: every test variant for a 0/1 outcome, one row per outcome,
and one table per horizon of a :class:`~dreamkit.outcomes.horizons.HorizonStatus`.

:func:`compare_proportions` returns the long form (one row per test, labelled);
:func:`proportions_table` the wide form the pilot reports (counts and % per arm, then every
test's p-value in its own column, the risk difference with Newcombe's interval and a note);
:func:`horizon_tables` applies it to every horizon's analysed persons, adding a row per status
of the hierarchy and one 2 x k row for the status distribution (Pearson and Fisher).

Columns of the wide table: ``outcome, n_treated, events_treated, pct_treated, n_control,
events_control, pct_control, p_chi2, p_chi2_yates, p_fisher, p_mcnemar_exact, p_mcnemar,
p_mcnemar_cc, n_pairs, p_cmh, p_cmh_cc, p_stratified_exact, p_ri, ri_method, rd, rd_low,
rd_high`` (Newcombe), ``rd_exact_low, rd_exact_high`` (Chan-Zhang exact, small arms), ``note``.
Paired and stratified columns are null when no pair or stratum column is
given (they do not apply), and ``note`` says why anything is missing; tests that have no
information (an outcome that does not vary) have p = 1 and a note.

**Separation.** An outcome with no events (or only events) in one arm makes a logit model
diverge; the tests here stay valid and the exact ones (Fisher, McNemar exact, stratified exact,
randomisation) and Newcombe's interval are the answer. An
:class:`~dreamkit.errors.InferenceWarning` names the outcomes (never persons) and suggests the
exact tests, or Firth's penalised likelihood for a model.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl

from dreamkit.design import columns as C
from dreamkit.errors import ColumnNotFoundError, InferenceWarning, InputError
from dreamkit.estimate.smalltrial.contingency import (
    TestResult,
    cmh,
    crosstab,
    fisher,
    mcnemar,
    pearson,
    stratified_exact,
)
from dreamkit.estimate.smalltrial.exact_interval import MAX_CELLS, exact_rd_interval
from dreamkit.estimate.smalltrial.randomisation import complete_pairs, randomisation_test
from dreamkit.estimate.smalltrial.risk_difference import newcombe
from dreamkit.outcomes.horizons import HorizonStatus

LONG_SCHEMA = {
    "outcome": pl.String,
    "test": pl.String,
    "method": pl.String,
    "statistic": pl.Float64,
    "df": pl.Float64,
    "p_value": pl.Float64,
    "n_used": pl.Int64,
    "note": pl.String,
}


def _binary(values: Any, name: str) -> np.ndarray:
    v = np.asarray(values)
    if v.dtype == object or not np.isin(v, (0, 1)).all():
        raise InputError(
            f"outcome {name!r} must hold 0/1 values without missing ones; exclude persons not "
            "followed up first (status_at_horizons does, and counts them)."
        )
    return v.astype(np.int64)


def compare_proportions(
    treated: Any,
    event: Any,
    *,
    pair: Any = None,
    stratum: Any = None,
    outcome: str = "",
    ri_draws: int = 9_999,
    ri_max_exact: int = 200_000,
    seed: int = 0,
) -> list[TestResult]:
    """Every test of a 0/1 outcome between arms (labelled :class:`TestResult` objects):
    chi-square with and without Yates, Fisher; with ``pair``: McNemar exact, asymptotic and
    corrected on complete pairs and randomisation within pairs; with ``stratum``: CMH with and
    without correction, the stratified exact test and (without pairs) randomisation within
    strata."""
    arm = _binary(treated, "treated")
    y = _binary(event, outcome or "event")
    table, _ = crosstab(arm, y)
    out = [pearson(table), pearson(table, correction=True), fisher(table)]
    if pair is not None:
        t_rows, c_rows, dropped = complete_pairs(arm, pair)
        if t_rows.size:
            for method in ("exact", "asymptotic", "corrected"):
                r = mcnemar(y[t_rows], y[c_rows], method=method)
                if dropped:
                    extra = f"{dropped} person(s) in incomplete pairs dropped"
                    r = TestResult(
                        r.test,
                        r.statistic,
                        r.df,
                        r.p_value,
                        r.method,
                        r.n_used,
                        f"{r.note}; {extra}" if r.note else extra,
                    )
                out.append(r)
            out.append(
                randomisation_test(
                    arm,
                    y,
                    scheme="pairs",
                    pair=pair,
                    draws=ri_draws,
                    max_exact=ri_max_exact,
                    seed=seed,
                )
            )
    if stratum is not None:
        out += [cmh(arm, y, stratum), cmh(arm, y, stratum, correction=True)]
        out.append(stratified_exact(arm, y, stratum))
        if pair is None:
            out.append(
                randomisation_test(
                    arm,
                    y,
                    scheme="strata",
                    stratum=stratum,
                    draws=ri_draws,
                    max_exact=ri_max_exact,
                    seed=seed,
                )
            )
    return out


def results_frame(results: Sequence[TestResult], outcome: str = "") -> pl.DataFrame:
    """The long table of :func:`compare_proportions` results."""
    return pl.DataFrame(
        {
            "outcome": [outcome] * len(results),
            "test": [r.test for r in results],
            "method": [r.method for r in results],
            "statistic": [r.statistic for r in results],
            "df": [r.df for r in results],
            "p_value": [r.p_value for r in results],
            "n_used": [r.n_used for r in results],
            "note": [r.note for r in results],
        },
        schema=LONG_SCHEMA,
    )


_P_COLUMNS = {
    "chi-square": "p_chi2",
    "chi-square (Yates)": "p_chi2_yates",
    "Fisher exact": "p_fisher",
    "McNemar exact": "p_mcnemar_exact",
    "McNemar": "p_mcnemar",
    "McNemar (corrected)": "p_mcnemar_cc",
    "CMH": "p_cmh",
    "CMH (corrected)": "p_cmh_cc",
    "stratified exact": "p_stratified_exact",
}

WIDE_SCHEMA: dict[str, Any] = {
    "outcome": pl.String,
    "n_treated": pl.Int64,
    "events_treated": pl.Int64,
    "pct_treated": pl.Float64,
    "n_control": pl.Int64,
    "events_control": pl.Int64,
    "pct_control": pl.Float64,
    **{c: pl.Float64 for c in list(_P_COLUMNS.values())[:6]},
    "n_pairs": pl.Int64,
    **{c: pl.Float64 for c in list(_P_COLUMNS.values())[6:]},
    "p_ri": pl.Float64,
    "ri_method": pl.String,
    "rd": pl.Float64,
    "rd_low": pl.Float64,
    "rd_high": pl.Float64,
    "rd_exact_low": pl.Float64,
    "rd_exact_high": pl.Float64,
    "note": pl.String,
}


def _row(
    outcome: str,
    arm: np.ndarray,
    y: np.ndarray,
    results: Sequence[TestResult],
    n_pairs: int | None,
    level: float,
    exact_rd: bool,
) -> dict[str, Any]:
    n1, n0 = int((arm == 1).sum()), int((arm == 0).sum())
    e1, e0 = int(y[arm == 1].sum()), int(y[arm == 0].sum())
    lo, hi = newcombe(e1, n1, e0, n0, level)
    row: dict[str, Any] = dict.fromkeys(WIDE_SCHEMA)
    row |= {
        "outcome": outcome,
        "n_treated": n1,
        "events_treated": e1,
        "pct_treated": 100.0 * e1 / n1,
        "n_control": n0,
        "events_control": e0,
        "pct_control": 100.0 * e0 / n0,
        "n_pairs": n_pairs,
        "rd": e1 / n1 - e0 / n0,
        "rd_low": lo,
        "rd_high": hi,
    }
    if exact_rd and (n1 + 1) * (n0 + 1) <= MAX_CELLS:
        row["rd_exact_low"], row["rd_exact_high"] = exact_rd_interval(e1, n1, e0, n0, level)
    notes: list[str] = []
    for r in results:
        if r.test.startswith("randomisation"):
            row["p_ri"] = r.p_value
            row["ri_method"] = f"{r.test}, {r.method}"
        else:
            row[_P_COLUMNS[r.test]] = r.p_value
        if r.note and "allocations" not in r.note:
            notes.append(f"{r.test}: {r.note}")
    if n_pairs == 0:
        notes.append("no complete pair at this horizon: paired tests not computed")
    if e1 in (0, n1) or e0 in (0, n0):
        if e1 + e0 not in (0, n1 + n0):
            notes.insert(
                0, "separation (no events, or only events, in an arm): read the exact tests"
            )
    row["note"] = "; ".join(dict.fromkeys(notes))
    return row


def proportions_table(
    data: pl.DataFrame,
    outcomes: Sequence[str],
    *,
    treated: str = C.TREATED,
    pair: str | None = None,
    stratum: str | None = None,
    level: float = 0.95,
    ri_draws: int = 9_999,
    seed: int = 0,
    exact_rd: bool = True,
) -> pl.DataFrame:
    r"""One row per 0/1 outcome column of ``data`` (module docstring for the columns);
    ``exact_rd`` adds the exact unconditional interval of the risk difference when
    :math:`(n_1+1)(n_0+1) \le 10^4` (about 0.1-0.5 s per outcome)."""
    frame = data if isinstance(data, pl.DataFrame) else pl.from_pandas(data)
    for col in [treated, *outcomes, *(c for c in (pair, stratum) if c is not None)]:
        if col not in frame.columns:
            raise ColumnNotFoundError(
                f"column {col!r} is not in the table; its columns are {frame.columns}."
            )
    arm = _binary(frame[treated].to_numpy(), treated)
    pairs = None if pair is None else frame[pair].to_numpy()
    strata = None if stratum is None else frame[stratum].to_numpy()
    rows, separated = [], []
    for name in outcomes:
        y = _binary(frame[name].to_numpy(), name)
        results = compare_proportions(
            arm, y, pair=pairs, stratum=strata, outcome=name, ri_draws=ri_draws, seed=seed
        )
        n_pairs = None if pairs is None else int(complete_pairs(arm, pairs)[0].size)
        row = _row(name, arm, y, results, n_pairs, level, exact_rd)
        if row["note"].startswith("separation"):
            separated.append(name)
        rows.append(row)
    if separated:
        warnings.warn(
            f"outcome(s) {separated} have no events (or only events) in one arm (separation): "
            "chi-square approximations are poor; read Fisher's exact, McNemar exact, the "
            "stratified exact and randomisation p-values and the Newcombe interval (a logit "
            "model would need Firth's penalised likelihood).",
            InferenceWarning,
            stacklevel=2,
        )
    return pl.DataFrame(rows, schema=WIDE_SCHEMA)


def horizon_tables(
    status: HorizonStatus,
    *,
    treated: str = C.TREATED,
    pair: str | None = "pair",
    stratum: str | None = "stratum",
    level: float = 0.95,
    ri_draws: int = 9_999,
    seed: int = 0,
    exact_rd: bool = True,
) -> dict[str, pl.DataFrame]:
    """One wide table per horizon: a row per rule indicator (each rule on its own), a row per
    status of the hierarchy (``status=<name>``), then ``status (2 x k)`` with the Pearson and
    Fisher p-values of the whole status distribution (counts columns null there)."""
    out: dict[str, pl.DataFrame] = {}
    for label in status.flows:
        frame = status.at(label)
        pair_col = pair if pair is not None and pair in frame.columns else None
        stratum_col = stratum if stratum is not None and stratum in frame.columns else None
        rules = [r.name for r in status.spec.rules]
        frame = frame.with_columns(
            (pl.col("status") == s).cast(pl.Int8).alias(f"status={s}") for s in status.spec.labels
        )
        outcomes = [*rules, *(f"status={s}" for s in status.spec.labels)]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", InferenceWarning)
            table = proportions_table(
                frame,
                outcomes,
                treated=treated,
                pair=pair_col,
                stratum=stratum_col,
                level=level,
                ri_draws=ri_draws,
                seed=seed,
                exact_rd=exact_rd,
            )
        for w in caught:
            warnings.warn(f"horizon {label}: {w.message}", InferenceWarning, stacklevel=2)
        arm = _binary(frame[treated].to_numpy(), treated)
        k_table, _ = crosstab(arm, frame["status"].to_numpy())
        chi, fis = pearson(k_table), fisher(k_table)
        notes = [f"{r.test}: {r.note}" for r in (chi, fis) if r.note]
        k_row = dict.fromkeys(WIDE_SCHEMA) | {
            "outcome": f"status (2 x {k_table.shape[1]})",
            "n_treated": int(arm.sum()),
            "n_control": int(arm.size - arm.sum()),
            "p_chi2": chi.p_value,
            "p_fisher": fis.p_value,
            "note": "; ".join(notes),
        }
        out[label] = pl.concat([table, pl.DataFrame([k_row], schema=WIDE_SCHEMA)])
    return out


def as_long(tables: Mapping[str, pl.DataFrame]) -> pl.DataFrame:
    """Per-horizon wide tables stacked with a leading ``horizon`` column."""
    return pl.concat([t.select(pl.lit(k).alias("horizon"), pl.all()) for k, t in tables.items()])
