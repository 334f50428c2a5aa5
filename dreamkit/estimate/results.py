r"""The one result protocol every dreamkit estimator returns.

Every fitted model answers the same questions the same way (as statsmodels and pyfixest users
expect):

* :meth:`Result.tidy` -- a polars table whose leading columns are always
  ``term, estimate, std_error, statistic, p_value, conf_low, conf_high``, followed by the
  model family's key columns (``outcome``/``week`` for effect paths, ``exit`` for competing
  risks, ...) and then further columns of the model (counts, control means). With
  ``exponentiate=True`` the estimate and interval are :math:`e^{b}` (odds or hazard ratios);
  the standard error is then the delta-method one, :math:`e^{b}\,\mathrm{se}(b)`, and the
  statistic and p-value stay those of :math:`b`.
* :meth:`Result.confint` -- Wald intervals at any level,
  :math:`b \pm q_{1-\alpha/2}\,\mathrm{se}(b)` with :math:`q` from :math:`t_{df}` (``df`` finite:
  :math:`G-1` for cluster-robust linear fits, :math:`N-K` for HC1) or the standard normal
  (likelihood models).
* :meth:`Result.glance` -- one row: ``model, n_obs, n_clusters, vcov_type, df,
  log_likelihood`` and family-specific statistics.
* :meth:`Result.summary` -- a plain-text table (prints like statsmodels/pyfixest);
  ``repr`` is its short head.
* :attr:`Result.vcov` -- the covariance of the estimates (see each class for its order).
* :meth:`Result.to_pandas` -- ``tidy()`` as a pandas DataFrame.

Subclasses implement :meth:`Result._coefficients` (term, family columns, estimate, std_error,
df), :meth:`Result._glance` and :attr:`Result.vcov`; everything else is shared. Tables,
:func:`dreamkit.etable` and the report read only this protocol.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import polars as pl
import scipy.stats
from numpy.typing import NDArray

from dreamkit.errors import InputError
from dreamkit.estimate.linear.fwl import FWLFit

TIDY_LEADING = (
    "term",
    "estimate",
    "std_error",
    "statistic",
    "p_value",
    "conf_low",
    "conf_high",
)
GLANCE_LEADING = ("model", "n_obs", "n_clusters", "vcov_type", "df", "log_likelihood")


def check_level(level: float) -> float:
    """``level`` as a float strictly inside (0, 1), else :class:`InputError`."""
    try:
        value = float(level)
    except (TypeError, ValueError):
        raise InputError(f"level={level!r} is not a number; pass e.g. level=0.95.") from None
    if not 0.0 < value < 1.0:
        raise InputError(f"level={level!r} is outside (0, 1); pass e.g. level=0.95.")
    return value


def critical_value(level: float, df: NDArray[np.float64]) -> NDArray[np.float64]:
    """Two-sided critical values at ``level``: t with ``df`` where finite, else normal."""
    df = np.asarray(df, dtype=np.float64)
    q = np.full(df.shape, scipy.stats.norm.ppf(0.5 + level / 2.0))
    finite = np.isfinite(df) & (df > 0)
    if finite.any():
        q[finite] = scipy.stats.t.ppf(0.5 + level / 2.0, df[finite])
    return q


def wald_columns(
    estimate: NDArray[np.float64],
    std_error: NDArray[np.float64],
    df: NDArray[np.float64],
    level: float,
) -> dict[str, NDArray[np.float64]]:
    """statistic, p_value, conf_low, conf_high of Wald tests and intervals (t or normal)."""
    b = np.asarray(estimate, dtype=np.float64)
    se = np.asarray(std_error, dtype=np.float64)
    df = np.broadcast_to(np.asarray(df, dtype=np.float64), b.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = np.where(se > 0, b / se, np.nan)
    p = np.where(
        np.isfinite(df) & (df > 0),
        2.0 * scipy.stats.t.sf(np.abs(stat), np.where(np.isfinite(df) & (df > 0), df, 1.0)),
        2.0 * scipy.stats.norm.sf(np.abs(stat)),
    )
    q = critical_value(level, df)
    return {"statistic": stat, "p_value": p, "conf_low": b - q * se, "conf_high": b + q * se}


class Summary(str):
    """A summary text that shows itself at the prompt (``fit.summary()``) and prints as is."""

    def __repr__(self) -> str:
        return str(self)


def _fmt(x: Any, width: int = 10, digits: int = 4) -> str:
    if x is None:
        return f"{'':>{width}}"
    if isinstance(x, (float, np.floating)):
        if not np.isfinite(x):
            return f"{'.':>{width}}"
        return f"{x:>{width}.{digits}f}"
    return f"{x!s:>{width}}"


class Result(ABC):
    """Base class of every fitted model (the result protocol, module docstring).

    Subclasses set :attr:`family_columns` (key columns after the leading ones, e.g.
    ``("outcome", "week")``) and :attr:`ratio_name` (``"odds_ratio"``, ``"hazard_ratio"`` or
    ``None``) and implement :meth:`_coefficients`, :meth:`_glance` and :attr:`vcov`.
    """

    family_columns: ClassVar[tuple[str, ...]] = ()

    @property
    def model_name(self) -> str:
        """A short label of the model (used in tables and ``repr``)."""
        return type(self).__name__

    @property
    def ratio_name(self) -> str | None:
        """What ``exp(estimate)`` is (``"odds_ratio"``, ``"hazard_ratio"``) or ``None``."""
        return None

    @abstractmethod
    def _coefficients(self) -> pl.DataFrame:
        """Columns: term, the family columns, estimate, std_error, df (float; inf: normal),
        then any further columns to show in ``tidy()``."""

    @abstractmethod
    def _glance(self) -> dict[str, Any]:
        """Model-level statistics: at least n_obs, n_clusters, vcov_type, df,
        log_likelihood (None where undefined)."""

    @property
    @abstractmethod
    def vcov(self) -> NDArray[np.float64]:
        """Covariance matrix of the estimates (order documented by each class)."""

    def _fitted_level(self) -> float:
        """The level ``tidy()`` uses when none is given (the one chosen at fit time)."""
        return 0.95

    def _level(self, level: float | None) -> float:
        return check_level(self._fitted_level() if level is None else level)

    def _hidden_terms(self) -> Collection[str]:
        """Nuisance terms (baseline hazards, absorbed strata) that ``tidy()`` shows only with
        ``fixed_effects=True``; none by default."""
        return ()

    def tidy(
        self, level: float | None = None, *, exponentiate: bool = False, fixed_effects: bool = False
    ) -> pl.DataFrame:
        """One row per estimate: term, estimate, std_error, statistic, p_value, conf_low,
        conf_high, the family columns, then model-specific columns.

        ``level`` defaults to the level the model was fitted with (0.95 unless chosen);
        ``exponentiate=True`` reports :math:`e^b` with its interval and delta-method SE;
        ``fixed_effects=True`` adds the nuisance terms (duration baselines, strata) that
        models with such terms hide by default.
        """
        lvl = self._level(level)
        coefs = self._coefficients()
        est = coefs["estimate"].to_numpy().astype(np.float64)
        se = coefs["std_error"].to_numpy().astype(np.float64)
        wald = wald_columns(est, se, coefs["df"].to_numpy(), lvl)
        for row, (p_value, q) in self._reference_overrides(lvl).items():
            wald["p_value"][row] = p_value
            wald["conf_low"][row] = est[row] - q * se[row]
            wald["conf_high"][row] = est[row] + q * se[row]
        if exponentiate:
            ratio = np.exp(est)
            wald["conf_low"], wald["conf_high"] = (
                np.exp(wald["conf_low"]),
                np.exp(wald["conf_high"]),
            )
            est, se = ratio, ratio * se
        family = [c for c in self.family_columns if c in coefs.columns]
        rest = [c for c in coefs.columns if c not in {*TIDY_LEADING, *family, "df"}]
        out = pl.DataFrame(
            {
                "term": coefs["term"],
                "estimate": est,
                "std_error": se,
                **{k: wald[k] for k in ("statistic", "p_value", "conf_low", "conf_high")},
            }
        )
        out = pl.concat([out, coefs.select(*family, *rest)], how="horizontal")
        hidden = () if fixed_effects else self._hidden_terms()
        return out.filter(~pl.col("term").is_in(list(hidden))) if hidden else out

    def _reference_overrides(self, level: float) -> dict[int, tuple[float, float]]:
        """Rows of :meth:`_coefficients` whose p-value and critical value come from a
        reference other than t(df) / normal (e.g. the exact CR2 working-model reference):
        ``{row: (p_value, critical_value)}``; none by default."""
        return {}

    def confint(self, level: float = 0.95) -> pl.DataFrame:
        """Wald intervals at ``level``: term, family columns, conf_low, conf_high."""
        tidy = self.tidy(level)
        family = [c for c in self.family_columns if c in tidy.columns]
        return tidy.select("term", *family, "conf_low", "conf_high")

    def glance(self) -> pl.DataFrame:
        """One row of model statistics: model, n_obs, n_clusters, vcov_type, df,
        log_likelihood, then family-specific ones."""
        stats = {"model": self.model_name, **self._glance()}
        for key in GLANCE_LEADING:
            stats.setdefault(key, None)
        ordered = {k: stats[k] for k in GLANCE_LEADING} | {
            k: v for k, v in stats.items() if k not in GLANCE_LEADING
        }
        return pl.DataFrame([ordered], strict=False)

    def to_pandas(self) -> Any:
        """``tidy()`` as a pandas DataFrame."""
        return self.tidy().to_pandas()

    def summary(self, level: float | None = None, *, max_rows: int = 60) -> Summary:
        """A plain-text table of the estimates with the model statistics above it."""
        lvl = self._level(level)
        g = self.glance().row(0, named=True)
        head = [f"{g['model']}"]
        stats = [
            f"{k}: {v:.6g}" if isinstance(v, float) else f"{k}: {v}"
            for k, v in g.items()
            if k != "model" and v is not None
        ]
        line = ""
        for s in stats:
            if len(line) + len(s) + 3 > 96:
                head.append(line)
                line = ""
            line = f"{line}   {s}" if line else s
        if line:
            head.append(line)
        tidy = self.tidy(lvl)
        family = [c for c in self.family_columns if c in tidy.columns]
        width = max([len("term"), *(len(str(t)) for t in tidy["term"].head(max_rows))]) + 2
        cols = f"{'term':<{width}}" + "".join(f"{c:>10}" for c in family)
        cols += f"{'estimate':>11}{'std.err':>11}{'stat':>9}{'p':>8}"
        pct = f"{100 * lvl:g}%"
        cols += f"{pct + ' low':>11}{pct + ' high':>11}"
        rows = [cols, "-" * len(cols)]
        for r in tidy.head(max_rows).iter_rows(named=True):
            fam = "".join(_fmt(r[c]) for c in family)
            rows.append(
                f"{r['term']!s:<{width}}{fam}{_fmt(r['estimate'], 11)}{_fmt(r['std_error'], 11)}"
                f"{_fmt(r['statistic'], 9, 2)}{_fmt(r['p_value'], 8, 3)}"
                f"{_fmt(r['conf_low'], 11)}{_fmt(r['conf_high'], 11)}"
            )
        if tidy.height > max_rows:
            rows.append(f"... {tidy.height - max_rows} more rows: use .tidy()")
        notes = [f"note: {n}" for n in self._notes()]
        return Summary("\n".join([*head, "", *rows, *notes]))

    def _notes(self) -> Sequence[str]:
        return ()

    def __repr__(self) -> str:
        text = str(self.summary(max_rows=8))
        return text

    def __str__(self) -> str:
        return str(self.summary())


@dataclass(frozen=True, repr=False)
class EstimateResult(Result):
    """Estimates of the linear estimators as a tidy table, with the sample bookkeeping.

    :attr:`table` holds one row per estimate (term x outcome/week/cut-off/group) with the
    protocol's columns plus ``df`` (degrees of freedom of the row's t reference), ``n_obs``,
    ``n_clusters`` and ``control_mean``; :attr:`fits` the
    :class:`~dreamkit.estimate.linear.fwl.FWLFit` objects underneath, keyed by a label.

    :attr:`vcov`: with one fit whose rows are the table's, the covariance of the table's
    estimates in table order (term-major, outcomes inner); otherwise (several separate fits)
    the diagonal is the squared standard errors and covariances across separate fits are NaN
    (not estimated).
    """

    model: str
    table: pl.DataFrame
    vcov_type: str
    level: float
    n_obs: int
    n_clusters: int
    n_dropped: int = 0
    drop_reason: str | None = None
    notes: tuple[str, ...] = ()
    fits: Mapping[str, FWLFit] = field(default_factory=dict, repr=False)
    fixed_effects: str | None = None

    family_columns: ClassVar[tuple[str, ...]] = (
        "outcome",
        "week",
        "cutoff",
        "group",
        "level",
        "label",
        "sample",
        "variable",
    )

    def _fitted_level(self) -> float:
        return self.level

    @property
    def model_name(self) -> str:
        return self.model

    def _coefficients(self) -> pl.DataFrame:
        t = self.table
        if "df" not in t.columns:
            t = t.with_columns(pl.lit(float("inf")).alias("df"))
        return t.drop([c for c in ("statistic", "p_value", "conf_low", "conf_high") if c in t])

    def tidy(
        self, level: float | None = None, *, exponentiate: bool = False, fixed_effects: bool = False
    ) -> pl.DataFrame:
        """The estimates table (module docstring); at the fitted level and without
        exponentiation the stored p-values and intervals are returned as computed (the
        absorbed fixed effects are never estimated, so ``fixed_effects`` changes nothing)."""
        if (level is None or check_level(level) == self.level) and not exponentiate:
            family = [c for c in self.family_columns if c in self.table.columns]
            t = self.table
            if "statistic" not in t.columns:
                se = pl.col("std_error")
                t = t.with_columns(
                    pl.when(se > 0).then(pl.col("estimate") / se).otherwise(None).alias("statistic")
                )
            lead = [c for c in TIDY_LEADING if c in t.columns]
            rest = [c for c in t.columns if c not in {*lead, *family, "df"}]
            return t.select(*lead, *family, *rest)
        return super().tidy(level, exponentiate=exponentiate)

    def _glance(self) -> dict[str, Any]:
        dfs = self.table["df"].unique().to_list() if "df" in self.table.columns else []
        return {
            "n_obs": self.n_obs,
            "n_clusters": self.n_clusters,
            "vcov_type": self.vcov_type,
            "df": float(dfs[0]) if len(dfs) == 1 else None,
            "log_likelihood": None,
            "fixed_effects": self.fixed_effects,
            "n_estimates": self.table.height,
            "n_dropped": self.n_dropped,
        }

    def _reference_overrides(self, level: float) -> dict[int, tuple[float, float]]:
        """With one fit made with ``cr2_reference="exact"`` (effect paths, ``feols``): every
        row's p-value and critical value from the exact CR2 working-model reference (used by
        ``tidy`` at a level other than the fitted one, or exponentiated; the fitted level's
        rows were computed the same way at fit time)."""
        if len(self.fits) != 1:
            return {}
        (fit,) = self.fits.values()
        if not fit.exact_reference or self.table.height != fit.coef.size:
            return {}
        p, q = fit.exact_reference_values(level)
        n_out = fit.coef.shape[1]
        return {
            j * n_out + w: (float(p[j, w]), float(q[j]))
            for j in range(fit.coef.shape[0])
            for w in range(n_out)
        }

    def _notes(self) -> Sequence[str]:
        dropped = [f"{self.n_dropped} rows dropped ({self.drop_reason})"] if self.n_dropped else []
        return [*dropped, *self.notes]

    @property
    def vcov(self) -> NDArray[np.float64]:
        if len(self.fits) == 1:
            (fit,) = self.fits.values()
            if fit.vcov.shape[0] == self.table.height:
                return np.asarray(fit.vcov)
        se = self.table["std_error"].to_numpy().astype(np.float64)
        v = np.full((se.size, se.size), np.nan)
        np.fill_diagonal(v, se**2)
        return v

    def __repr__(self) -> str:
        return Result.__repr__(self)


def fit_rows(
    fit: FWLFit,
    level: float,
    terms: Sequence[str],
    outcomes: Sequence[str],
    control_means: np.ndarray,
    extra: Mapping[str, Any] | None = None,
) -> pl.DataFrame:
    """Tidy rows for every (term j, outcome w) of ``fit``: term-major, outcomes inner.

    ``control_means`` has shape (m, W) (the control mean that goes with each coefficient);
    ``extra`` adds constant or per-row (length m*W) columns.
    """
    m, n_out = fit.coef.shape
    p, lo, hi = fit.inference(level)
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = np.where(fit.std_error > 0, fit.coef / fit.std_error, np.nan)
    cols: dict[str, Any] = {
        "term": np.repeat(np.asarray(terms, dtype=object), n_out).tolist(),
        "outcome": list(outcomes) * m,
        "estimate": fit.coef.ravel(),
        "std_error": fit.std_error.ravel(),
        "statistic": stat.ravel(),
        "p_value": p.ravel(),
        "conf_low": lo.ravel(),
        "conf_high": hi.ravel(),
        "df": np.repeat(fit.df_by_term, n_out),
        "n_obs": np.full(m * n_out, fit.n_obs, dtype=np.int64),
        "n_clusters": np.full(m * n_out, fit.n_clusters, dtype=np.int64),
        "control_mean": np.asarray(control_means, dtype=np.float64).ravel(),
    }
    for key, value in (extra or {}).items():
        if isinstance(value, (list, tuple, np.ndarray)):
            cols[key] = list(value)
        else:
            cols[key] = [value] * (m * n_out)
    return pl.DataFrame(cols)


def contrast_row(
    fit: FWLFit,
    level: float,
    weights: Sequence[float],
    w: int,
    term: str,
    outcome: str,
    extra: Mapping[str, Any] | None = None,
) -> pl.DataFrame:
    """One tidy row for the linear combination weights' coef[:, w] with its t-based CI."""
    c = np.asarray(weights, dtype=np.float64)
    est = float(c @ fit.coef[:, w])
    se = float(np.sqrt(c @ fit.vcov_at(w) @ c))
    df = fit.df_for(c)
    q = fit.critical_value(level, c)
    stat = est / se if se > 0 else float("nan")
    p = fit.p_value(stat, c) if se > 0 else float("nan")
    row: dict[str, Any] = {
        "term": [term],
        "outcome": [outcome],
        "estimate": [est],
        "std_error": [se],
        "statistic": [stat],
        "p_value": [p],
        "conf_low": [est - q * se],
        "conf_high": [est + q * se],
        "df": [df],
        "n_obs": [fit.n_obs],
        "n_clusters": [fit.n_clusters],
        "control_mean": [float("nan")],
    }
    for key, value in (extra or {}).items():
        row[key] = [value]
    return pl.DataFrame(row)
