r"""Observational comparison by programme start: event studies on the report's register.

This optional section serves non-randomised comparisons. Its population is the report's
analysed persons (the trial table's persons found in the register); the treatment timing comes
from the ``[observational].starts`` file (one row per person: id, start week or date, null for
never-started). Persons of the starts file outside the analysed population are left out (their
number is noted); analysed persons without a row in the starts file are not used. The outcome
is :math:`y_{it} = 1[s_{it} \in A]` for the code-map set ``state_set`` in every register week
(``period = "month"``: the share of the month's weeks in :math:`A`).

Estimators (``[observational].estimators``; ``docs/observational.md``):

* ``twfe``: :func:`dreamkit.estimate.panel.event_study_register`, the two-way fixed-effects
  event study :math:`y_{it} = \alpha_i + \lambda_t + \sum_{k \ne -1} \beta_k 1[t - E_i = k]
  + e_{it}` with end bins at ``-leads`` and ``lags``;
* ``callaway_santanna``: :func:`dreamkit.estimate.panel.callaway_santanna` (not-yet-treated
  controls, varying base), aggregated to event time;
* ``sun_abraham``: :func:`dreamkit.estimate.panel.sun_abraham` (never-treated controls).

The staggered estimators are not binned: their event times ``-leads..lags`` are shown.
Standard errors are clustered by ``[observational].cluster`` (a column of the starts file)
or by person. An estimator that refuses the data (no never- or not-yet-treated persons,
starts outside the register, ...) raises its typed error and the section becomes one
sentence (:func:`dreamkit.report.sections.run_section`). Disclosure: the section is published
only if at least k analysed persons started and the never-started number 0 or at least k;
cohort sizes below k are suppressed (no total is published).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from dreamkit.config import ObservationalConfig
from dreamkit.design import columns as C
from dreamkit.errors import ConfigError
from dreamkit.report.context import ReportContext
from dreamkit.report.disclosure import SUPPRESSED, DisclosureLog
from dreamkit.report.html import Section
from dreamkit.report.tables import Table, fmt

NAME = "observational"
TITLE = "Observational comparison (programme starts)"
LABELS = {
    "twfe": "TWFE event study",
    "callaway_santanna": "Callaway-Sant'Anna",
    "sun_abraham": "Sun-Abraham",
}


def read_starts(cfg: ObservationalConfig) -> pl.DataFrame:
    """The starts file with its person, start (and cluster) columns checked; ConfigError
    naming the missing column otherwise."""
    assert cfg.starts is not None
    path = Path(cfg.starts)
    if path.suffix.lower() not in (".csv", ".parquet"):
        raise ConfigError(
            f"[observational].starts must be a .csv or .parquet file, got {path.name!r}"
        )
    if path.suffix.lower() == ".parquet":
        frame = pl.read_parquet(path)
    else:
        frame = pl.read_csv(path, try_parse_dates=True)
    wanted = {"person": cfg.person, "start": cfg.start}
    if cfg.cluster is not None:
        wanted["cluster"] = cfg.cluster
    for key, column in wanted.items():
        if column not in frame.columns:
            raise ConfigError(
                f"[observational].{key} names column {column!r}, which the starts file "
                f"{path.name} does not have; its columns are {', '.join(frame.columns)}"
            )
    return frame.select(wanted.values())


def starts_population(ctx: ReportContext, starts: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """The starts rows of the analysed persons and the number of rows left out."""
    person = ctx.config.observational.person
    ids = ctx.persons[C.PERSON]
    column = starts[person]
    if column.dtype != ids.dtype:
        try:
            column = column.cast(ids.dtype)
        except pl.exceptions.InvalidOperationError:
            raise ConfigError(
                f"[observational].person column {person!r} has type {starts[person].dtype}, "
                f"the trial's person ids {ids.dtype}; store them alike"
            ) from None
    keep = column.is_in(ids.implode())
    return starts.filter(keep), int((~keep).sum())


def long_panel(register: Any, starts: pl.DataFrame, cfg: ObservationalConfig) -> pl.DataFrame:
    """The balanced person-period panel of the outcome for the staggered estimators: person,
    period (week ordinal, or month index ``12*year + month - 1``), ``y``, ``start`` (same
    unit; null: never started) and the cluster column."""
    from dreamkit.estimate.panel.event_study import NEVER, _start_weeks
    from dreamkit.register.calendar import months_of_weeks

    rows = register.require_rows(starts[cfg.person], column=cfg.person)
    y = register.codemap.mask(cfg.state_set)[register.states[rows]].astype(np.float64)
    weeks = np.asarray(register.weeks, dtype=np.int64)
    e = _start_weeks(starts[cfg.start])
    if cfg.period == "month":
        month = months_of_weeks(weeks).astype(np.int64)
        first = np.flatnonzero(np.r_[True, month[1:] != month[:-1]])
        length = np.diff(np.r_[first, month.size]).astype(np.float64)
        y = np.add.reduceat(y, first, axis=1) / length
        periods = month[first]
        e_month = months_of_weeks(np.where(e == NEVER, 0, e)).astype(np.int64)
        e = np.where(e == NEVER, NEVER, e_month)
    else:
        periods = weeks
    n, t = y.shape
    start = pl.Series("start", e, dtype=pl.Int64)
    start = start.set(pl.Series(e == NEVER), None)
    data: dict[str, Any] = {
        cfg.person: starts[cfg.person].gather(np.repeat(np.arange(n), t)),
        "period": np.tile(periods, n),
        "y": y.ravel(),
        "start": start.gather(np.repeat(np.arange(n), t)),
    }
    if cfg.cluster is not None:
        data[cfg.cluster] = starts[cfg.cluster].gather(np.repeat(np.arange(n), t))
    return pl.DataFrame(data)


def run_estimators(register: Any, starts: pl.DataFrame, cfg: ObservationalConfig) -> dict[str, Any]:
    """The configured estimators on the register and starts (typed errors propagate)."""
    from dreamkit.estimate.panel import callaway_santanna, event_study_register, sun_abraham

    vcov = {"CRV1": cfg.cluster} if cfg.cluster is not None else None
    out: dict[str, Any] = {}
    if "twfe" in cfg.estimators:
        out["twfe"] = event_study_register(
            register,
            cfg.state_set,
            starts,
            start=cfg.start,
            person=cfg.person,
            leads=cfg.leads,
            lags=cfg.lags,
            vcov=vcov,
            period=cfg.period,
        )
    staggered = [e for e in cfg.estimators if e != "twfe"]
    if staggered:
        long = long_panel(register, starts, cfg)
        kw: dict[str, Any] = {
            "outcome": "y",
            "unit": cfg.person,
            "time": "period",
            "start": "start",
            "vcov": vcov,
        }
        if "callaway_santanna" in staggered:
            out["callaway_santanna"] = callaway_santanna(long, **kw)
        if "sun_abraham" in staggered:
            out["sun_abraham"] = sun_abraham(long, **kw)
    return {e: out[e] for e in cfg.estimators}


def observational_section(ctx: ReportContext) -> Section:
    """Event-time paths (figure), estimates by event time (table), cohort sizes (table)."""
    from dreamkit.estimate.panel.event_study import NEVER, _start_weeks

    cfg = ctx.config.observational
    if ctx.register is None:
        return ctx.skip(NAME, TITLE, "Skipped: the report was given no register.")
    starts, n_outside = starts_population(ctx, read_starts(cfg))
    e = _start_weeks(starts[cfg.start])
    n_never = int((e == NEVER).sum())
    n_started = starts.height - n_never
    if ctx.log.too_few(n_started) or ctx.log.small(n_never):
        ctx.log.record(NAME, "started / never started", f"fewer than {ctx.log.min_cell} persons")
        return ctx.skip(
            NAME,
            TITLE,
            f"Suppressed: fewer than {ctx.log.min_cell} analysed persons started the programme, "
            f"or 1-{ctx.log.min_cell - 1} never started it.",
        )
    results = run_estimators(ctx.register, starts, cfg)
    ctx.results[NAME] = results
    unit = cfg.period
    level = ctx.config.inference.level
    tidies = {
        name: res.tidy(level=level).filter(pl.col("event_time").is_between(-cfg.leads, cfg.lags))
        for name, res in results.items()
    }
    event_time = sorted({int(k) for t in tidies.values() for k in t["event_time"]} | {-1})
    rows: list[list[object]] = []
    for k in event_time:
        row: list[object] = [k]
        for t in tidies.values():
            hit = t.filter(pl.col("event_time") == k)
            if k == -1 and hit.height == 0:
                row.append("0 (reference)")
            elif hit.height == 0:
                row.append("")
            else:
                r = hit.row(0, named=True)
                row.append(f"{fmt(r['estimate'])} ({fmt(r['std_error'])})")
        rows.append(row)
    notes = [
        f"Outcome: 1 in the {unit}s in {cfg.state_set!r} (share of the month's weeks for "
        f"months); event time in {unit}s since the programme start, -1 the reference.",
        f"{starts.height} analysed persons with a start row ({n_started} started, {n_never} "
        "never started); standard errors clustered by "
        f"{cfg.cluster or 'person'}.",
    ]
    if n_outside:
        shown = ctx.log.count(NAME, "starts rows outside the analysed population", n_outside)
        notes.append(f"{shown} rows of the starts file are not analysed persons; left out.")
    if "twfe" in results:
        notes.append(f"TWFE: end bins at {-cfg.leads} and {cfg.lags} pool the periods beyond them.")
    for name, res in results.items():
        g = res.glance().row(0, named=True)
        p = g.get("pretrend_p")
        if p is not None:
            notes.append(f"{LABELS[name]}: joint pre-trend test p = {fmt(p)}.")
    estimates = ctx.add_table(
        Table.from_rows(
            f"{NAME}_event_time",
            "Effect of the programme start by event time: estimate (se) by estimator",
            ["event time", *[LABELS[n] for n in results]],
            rows,
            notes=notes,
        )
    )
    cohorts = ctx.add_table(_cohort_table(ctx, e, n_never))
    figure = _figure(ctx, tidies, unit)
    return Section(
        NAME,
        TITLE,
        [
            "Non-randomised comparison: the analysed persons' register paths by the start "
            "of the programme in the starts file, with the estimators of "
            f"{', '.join(LABELS[n] for n in results)}. Not an experimental estimate."
        ],
        [figure, estimates, cohorts],
    )


def _cohort_table(ctx: ReportContext, e: np.ndarray, n_never: int) -> Table:
    """Persons per start cohort and never started; counts below k suppressed, and further
    cohorts until the hidden ones add up to at least k (their total is published)."""
    from dreamkit.estimate.panel.event_study import NEVER
    from dreamkit.register.calendar import months_of_weeks, week_label

    cfg = ctx.config.observational
    started = e[e != NEVER]
    if cfg.period == "month":
        months = months_of_weeks(started).astype(np.int64)
        labels = [f"{m // 12}-{m % 12 + 1:02d}" for m in months]
    else:
        labels = [week_label(int(w)) for w in started]
    counts = pl.DataFrame({"cohort": labels}).group_by("cohort").len().sort("cohort")
    output = f"{NAME}_cohorts"
    cells = [f"cohort {c}" for c in counts["cohort"]]
    sizes = [int(n) for n in counts["len"]]
    # the cohorts add up to the persons who started, published in the event-time table's notes
    # (and equal to the analysed persons with a start row minus the never started): secondary
    # suppression until the hidden cohorts add up to >= k, or all of them when that fails
    scratch = DisclosureLog(ctx.log.min_cell)
    mask, total_exposed = scratch.protect_counts(output, cells, sizes)
    for entry in scratch.entries:
        if entry.cell != "total":
            ctx.log.entries.append(entry)
    if total_exposed:
        for i, hidden in enumerate(mask):
            if not hidden:
                mask[i] = True
                ctx.log.record(
                    output,
                    cells[i],
                    "secondary suppression (the persons who started minus the shown cohorts "
                    "would reveal a small cohort)",
                )
    rows: list[list[object]] = [
        [c, SUPPRESSED if hidden else n]
        for c, n, hidden in zip(counts["cohort"], sizes, mask, strict=True)
    ]
    rows.append(["never started", ctx.log.count(output, "never started", n_never)])
    n_hidden = sum(r[1] == SUPPRESSED for r in rows)
    return Table.from_rows(
        f"{NAME}_cohorts",
        f"Persons by programme start {cfg.period}",
        ["start cohort", "persons"],
        rows,
        notes=[
            f"Counts below {ctx.log.min_cell} are suppressed, and further cohorts so that the "
            f"persons who started minus the shown cohorts reveal no small one ({n_hidden} cells)."
        ],
    )


def _figure(ctx: ReportContext, tidies: dict[str, pl.DataFrame], unit: str) -> Any:
    from dreamkit.report.figures import new_figure

    fig, (ax,) = new_figure()
    styles = {"twfe": "-", "callaway_santanna": "--", "sun_abraham": ":"}
    for i, (name, t) in enumerate(tidies.items()):
        path = t.select("event_time", "estimate", "conf_low", "conf_high")
        if -1 not in path["event_time"]:  # normalised: the reference period is 0 by definition
            ref = pl.DataFrame({c: [-1 if c == "event_time" else 0.0] for c in path.columns})
            path = pl.concat([path, ref.cast(path.schema)]).sort("event_time")
        k = path["event_time"].to_numpy().astype(np.float64) + (i - 1) * 0.12
        est = path["estimate"].to_numpy()
        ax.errorbar(
            k,
            est,
            yerr=[est - path["conf_low"].to_numpy(), path["conf_high"].to_numpy() - est],
            fmt="o",
            ms=2.5,
            lw=0.8,
            capsize=0,
            ls=styles[name],
            label=LABELS[name],
        )
    ax.axhline(0.0, color="k", lw=0.6)
    ax.axvline(-1.0, color="grey", lw=0.8, ls="--", label="reference period (-1)")
    ax.set_xlabel(f"{unit}s since programme start")
    ax.set_ylabel("effect on the outcome share")
    ax.set_title("Event-time paths by estimator (pointwise CIs)", fontsize=10)
    ax.legend(fontsize=7, loc="best")
    return ctx.add_figure(
        fig,
        f"{NAME}_event_time",
        "Observational event-time paths by estimator, reference period -1.",
    )
