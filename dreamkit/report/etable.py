"""Models side by side: ``dk.etable([fit1, fit2, ...])``, in the spirit of pyfixest's
``etable`` and R's modelsummary.

Rows are the terms (with their family keys, e.g. ``treated [week 81]``), each estimate with its
standard error (or confidence interval) beneath, then the model rows: fixed effects, vcov type,
N, clusters, and the log-likelihood where defined. Columns are the models. The table reads only
the result protocol (``tidy()`` and ``glance()``), so any dreamkit estimator can appear.

Output: :meth:`ETable.frame` (polars), :meth:`ETable.to_markdown`, :meth:`ETable.to_latex`,
:meth:`ETable.to_html`; ``print(table)`` shows the Markdown.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import polars as pl

from dreamkit.errors import InputError
from dreamkit.estimate.results import Result, check_level

STARS = ((0.01, "***"), (0.05, "**"), (0.1, "*"))


@dataclass(frozen=True)
class ETable:
    """A regression table (module docstring). ``frame`` has a ``row`` column (labels) and one
    string column per model; ``n_coef_rows`` rows of estimates/SEs come first."""

    frame: pl.DataFrame
    n_coef_rows: int
    notes: tuple[str, ...]

    def to_markdown(self) -> str:
        cols = self.frame.columns
        head = "| " + " | ".join(["", *cols[1:]]) + " |"
        rule = "|" + "|".join([" --- "] + [" ---: "] * (len(cols) - 1)) + "|"
        lines = [head, rule]
        for k, row in enumerate(self.frame.iter_rows()):
            if k == self.n_coef_rows:
                lines.append("|" + "|".join([" "] * len(cols)) + "|")
            lines.append("| " + " | ".join(str(v) for v in row) + " |")
        return "\n".join(lines + [""] + [f"*{n}*" for n in self.notes])

    def to_latex(self) -> str:
        cols = self.frame.columns

        def esc(text: str) -> str:
            return (
                re.sub(r"([&%$#_{}])", r"\\\1", text)
                .replace("*", r"$^{*}$")
                .replace("$^{*}$$^{*}$", "$^{**}$")
            )

        lines = [
            r"\begin{tabular}{l" + "r" * (len(cols) - 1) + "}",
            r"\hline",
            " & ".join(["", *(esc(c) for c in cols[1:])]) + r" \\",
            r"\hline",
        ]
        for k, row in enumerate(self.frame.iter_rows()):
            if k == self.n_coef_rows:
                lines.append(r"\hline")
            lines.append(" & ".join(esc(str(v)) for v in row) + r" \\")
        lines += [r"\hline", r"\end{tabular}"]
        lines += [esc(n) + r"\\" for n in self.notes]
        return "\n".join(lines)

    def to_html(self) -> str:
        cols = self.frame.columns
        out = ['<table class="etable">', "<thead><tr><th></th>"]
        out += [f"<th>{html.escape(c)}</th>" for c in cols[1:]]
        out.append("</tr></thead><tbody>")
        for k, row in enumerate(self.frame.iter_rows()):
            cls = ' class="model-row"' if k >= self.n_coef_rows else ""
            cells = "".join(f"<td>{html.escape(str(v))}</td>" for v in row)
            out.append(f"<tr{cls}>{cells}</tr>")
        out.append("</tbody></table>")
        out += [f"<p class='note'>{html.escape(n)}</p>" for n in self.notes]
        return "\n".join(out)

    def __str__(self) -> str:
        return self.to_markdown()

    def __repr__(self) -> str:
        return self.to_markdown()


def _row_label(row: dict[str, Any], family: Sequence[str]) -> str:
    keys = [f"{c} {row[c]}" for c in family if c in row and row[c] is not None and c != "outcome"]
    return f"{row['term']} [{', '.join(keys)}]" if keys else str(row["term"])


def _number(x: Any, digits: int) -> str:
    if x is None:
        return ""
    try:
        v = float(x)
    except (TypeError, ValueError):
        return str(x)
    if v != v:  # NaN
        return "."
    return f"{v:.{digits}f}"


def etable(
    models: Sequence[Result] | Result,
    *,
    names: Sequence[str] | None = None,
    keep: Sequence[str] | str | None = None,
    drop: Sequence[str] | str | None = None,
    uncertainty: Literal["se", "ci"] = "se",
    level: float = 0.95,
    stars: bool = False,
    exponentiate: bool = False,
    digits: int = 3,
) -> ETable:
    """Models side by side (module docstring).

    Args:
        models: fitted dreamkit results (anything with the result protocol).
        names: column headers (default ``(1)``, ``(2)``, ...).
        keep: regular expressions; only rows whose label matches one are kept
            (``re.search``).
        drop: regular expressions; rows whose label matches one are dropped.
        uncertainty: ``"se"`` (standard error in parentheses) or ``"ci"`` (interval at
            ``level`` in brackets).
        stars: significance stars (* p < 0.1, ** p < 0.05, *** p < 0.01), off by default.
        exponentiate: odds / hazard ratios for models that have them.
    """
    fits = [models] if isinstance(models, Result) else list(models)
    if not fits:
        raise InputError("etable needs at least one fitted model.")
    bad = [type(m).__name__ for m in fits if not isinstance(m, Result)]
    if bad:
        raise InputError(f"etable takes dreamkit results; got {bad[0]}.")
    check_level(level)
    headers = list(names) if names is not None else [f"({k + 1})" for k in range(len(fits))]
    if len(headers) != len(fits):
        raise InputError(f"names has {len(headers)} entries for {len(fits)} models.")
    if len(set(headers)) != len(headers):
        raise InputError("names must be distinct column headers.")
    keep_re = [keep] if isinstance(keep, str) else list(keep or [])
    drop_re = [drop] if isinstance(drop, str) else list(drop or [])

    order: list[str] = []
    cells: dict[tuple[str, int], tuple[str, str]] = {}
    for k, fit in enumerate(fits):
        tidy = fit.tidy(level, exponentiate=exponentiate and fit.ratio_name is not None)
        family = [c for c in fit.family_columns if c in tidy.columns]
        outcomes = tidy["outcome"].unique().to_list() if "outcome" in tidy.columns else []
        use_outcome = len(outcomes) > 1 and "week" not in tidy.columns
        fam = [*family] if not use_outcome else ["outcome", *family]
        for row in tidy.iter_rows(named=True):
            label = _row_label(row, fam if use_outcome else family)
            if use_outcome:
                label = f"{row['outcome']}: {label}"
            if keep_re and not any(re.search(p, label) for p in keep_re):
                continue
            if any(re.search(p, label) for p in drop_re):
                continue
            if label not in order:
                order.append(label)
            est = _number(row["estimate"], digits)
            if stars and row["p_value"] is not None and row["p_value"] == row["p_value"]:
                est += next((s for cut, s in STARS if row["p_value"] < cut), "")
            if uncertainty == "se":
                below = f"({_number(row['std_error'], digits)})"
            else:
                below = f"[{_number(row['conf_low'], digits)}, {_number(row['conf_high'], digits)}]"
            cells[(label, k)] = (est, below)

    rows: list[list[str]] = []
    for label in order:
        rows.append([label, *(cells.get((label, k), ("", ""))[0] for k in range(len(fits)))])
        rows.append(["", *(cells.get((label, k), ("", ""))[1] for k in range(len(fits)))])
    n_coef = len(rows)
    glances = [f.glance().row(0, named=True) for f in fits]

    def model_row(label: str, key: str, fmt: Any = str) -> None:
        values = [g.get(key) for g in glances]
        if all(v is None for v in values):
            return
        rows.append([label, *("" if v is None else fmt(v) for v in values)])

    model_row("Fixed effects", "fixed_effects")
    model_row("Standard errors", "vcov_type")
    model_row("N", "n_obs", lambda v: f"{int(v):,}")
    model_row("Clusters", "n_clusters", lambda v: f"{int(v):,}")
    model_row("Log-likelihood", "log_likelihood", lambda v: _number(v, 2))
    frame = pl.DataFrame(rows, schema=["row", *headers], orient="row")
    notes = []
    if uncertainty == "se":
        notes.append("Standard errors in parentheses.")
    else:
        notes.append(f"{100 * level:g}% confidence intervals in brackets.")
    if exponentiate:
        notes.append("Odds / hazard ratios where the model has them.")
    if stars:
        notes.append("* p < 0.1, ** p < 0.05, *** p < 0.01.")
    return ETable(frame, n_coef, tuple(notes))
