r"""Event study (two-way fixed effects with leads and lags) on the person-period panel.

The model, for person :math:`i` with programme start period :math:`E_i` (never-treated:
:math:`E_i=\infty`) in calendar period :math:`t`, is

.. math::

    y_{it} = \sum_{k \ne -1} \beta_k\, 1[b(t - E_i) = k] + \alpha_i + \lambda_t + e_{it},

with event times :math:`k \in \{-L, \dots, -2, 0, \dots, F\}` (``leads`` :math:`L`, ``lags``
:math:`F`) and the **end bins**: :math:`b(r) = \max(\min(r, F), -L)`, so the lead bin
:math:`-L` collects every period :math:`\le -L` and the lag bin :math:`F` every period
:math:`\ge F` (with ``leads=1`` all pre-periods are the reference). The period before the start,
:math:`k=-1`, is the reference; never-treated persons have all indicators 0.

**Exact fast path (balanced panel).** With every person observed in every period, the two-way
within transformation :math:`\tilde z_{it} = z_{it} - \bar z_{i\cdot} - \bar z_{\cdot t} +
\bar z` is the exact projection off both sets of effects, and everything the regression needs
is a sufficient statistic of the outcome and of the cohorts:

* :math:`\tilde X'\tilde X = \mathrm{diag}(c) - \sum_E w_E n_E n_E'/T - \sum_t m_t m_t'/N +
  cc'/(NT)` from the cohort sizes :math:`w_E` alone (:math:`n_E`: periods of cohort
  :math:`E` per bin, :math:`m_t`: persons per bin at :math:`t`, :math:`c`: cells per bin);
* :math:`\tilde X'\tilde y = S - \sum_i n_{E_i}\bar y_{i\cdot} - M'\bar y_{\cdot t} + c\bar y`
  with :math:`S_k` the outcome summed over the cells of bin :math:`k`.

Persons are visited in (cohort, cluster) order, in blocks; one pass over the outcome gives the
person means :math:`\bar y_{i\cdot}` and the sums :math:`U_{ct}` of the outcome per
(cohort, cluster) cell :math:`c` and period, hence :math:`\hat\beta`. The residuals
:math:`e_{it} = y_{it} - \bar y_{i\cdot} + r_t - f_{E_i t}` (:math:`r_t, f_{Et}` from the
means and :math:`\hat\beta`) have zero person and period means, so the cluster score is
:math:`s_c = \sum_{i \in c}\sum_t \tilde X_{it} e_{it} = Z_E' U_c - (\sum_{i\in c}\bar
y_{i\cdot}) Z_E'1 + n_c Z_E'(r - f_E)` with :math:`Z_E = D_E - \bar x_{\cdot t}` (the cohort's
bin indicators minus the period means of the indicators). When the cell sums do not fit in
memory (clusters by person on a large register), a second pass recomputes them block by
block. On the register the outcome is never materialised: each block is
``mask[states[rows]]``.

**Unbalanced panels** are demeaned by alternating projections (person means, then period
means, repeated until the largest change is below ``tol=1e-12``); the iterations are reported
in ``glance()`` and failure to converge raises :class:`~dreamkit.errors.EstimationError`.

**Covariance.** Cluster-robust CRV1 (clusters must be constant within a person: person,
municipality at start, team) :math:`V = c\,A^{-1}\big(\sum_g s_g s_g'\big)A^{-1}` with
:math:`A = \tilde X'\tilde X` and pyfixest's default small-sample factor (``ssc(k_adj=True,
k_fixef="nonnested", G_adj=True)``, as fixest): :math:`c = \frac{G}{G-1}\frac{n-1}{n-k}`,
:math:`k = K + T`, because the person effects are nested in the clusters (not counted, bar
one) and the :math:`T-1` period effects are; inference uses :math:`t_{G-1}`. ``"iid"`` uses
:math:`\hat\sigma^2 = \sum e^2/(n - K - N - T + 1)` and :math:`t_{n-K-N-T+1}`.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import polars as pl
import scipy.sparse
import scipy.stats

from dreamkit.errors import (
    ColumnNotFoundError,
    DreamkitWarning,
    DuplicateError,
    EmptyInputError,
    EstimationError,
    InputError,
)
from dreamkit.estimate.results import Result
from dreamkit.estimate.vcov import VcovArg, parse_vcov
from dreamkit.register.calendar import months_of_weeks

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
BlockFn = Callable[[I64], npt.NDArray[Any]]

#: Start-period sentinel of never-treated persons (in period-index arrays).
NEVER = np.iinfo(np.int64).min // 4


# ---- event-time bins ------------------------------------------------------------------
def event_times(leads: int, lags: int) -> I64:
    """The estimated event times :math:`-L..-2, 0..F` (``-1`` is the reference)."""
    if leads < 1 or lags < 0:
        raise InputError(
            f"leads={leads}, lags={lags}: need leads >= 1 (the reference is event time -1) "
            "and lags >= 0."
        )
    return np.array([*range(-leads, -1), *range(0, lags + 1)], dtype=np.int64)


def bin_columns(rel: npt.ArrayLike, leads: int, lags: int) -> npt.NDArray[np.int16]:
    """Column of each relative period in :func:`event_times` (-1: the reference period).

    Relative periods beyond the window are binned into the end columns (module docstring).
    """
    r = np.clip(np.asarray(rel, dtype=np.int64), -max(leads, 1), lags)
    col = np.where(r < -1, r + leads, r + leads - 1)
    col = np.where(r == -1, -1, col)
    if leads == 1:
        col = np.where(r < 0, -1, col)
    return col.astype(np.int16)


def cohort_columns(starts: I64, n_periods: int, leads: int, lags: int) -> npt.NDArray[np.int16]:
    """(cohorts x periods) bin columns; rows of never-treated cohorts are all -1."""
    t = np.arange(n_periods, dtype=np.int64)
    out = np.full((starts.size, n_periods), -1, dtype=np.int16)
    for j, e in enumerate(starts):
        if e != NEVER:
            out[j] = bin_columns(t - e, leads, lags)
    return out


# ---- result ---------------------------------------------------------------------------
class EventStudyResult(Result):
    """Event-study coefficients :math:`\\hat\\beta_k` by event time (module docstring).

    ``vcov`` is ordered as ``tidy()`` (event times ascending, -1 omitted). Extra columns:
    ``n_cells`` (person-periods in the bin) and ``binned`` (the end bins).
    """

    family_columns: ClassVar[tuple[str, ...]] = ("event_time",)

    def __init__(
        self,
        *,
        event_time: I64,
        estimate: F64,
        vcov: F64,
        df: float,
        n_cells: I64,
        stats: dict[str, Any],
        binned: npt.NDArray[np.bool_],
        model: str = "EventStudy",
    ) -> None:
        self.event_time = event_time
        self.estimate = estimate
        self._vcov = vcov
        self.df = df
        self.n_cells = n_cells
        self.stats = stats
        self.binned = binned
        self._model = model

    @property
    def model_name(self) -> str:
        return self._model

    @property
    def vcov(self) -> F64:
        return self._vcov

    def _coefficients(self) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "term": [f"event_time={k}" for k in self.event_time],
                "event_time": self.event_time,
                "estimate": self.estimate,
                "std_error": np.sqrt(np.clip(np.diag(self._vcov), 0.0, None)),
                "df": np.full(self.event_time.size, self.df),
                "n_cells": self.n_cells,
                "binned": self.binned,
            }
        )

    def pretrend_test(self) -> dict[str, float]:
        r"""Joint Wald test that all leads are zero (:math:`\beta_k = 0,\ k \le -2`).

        :math:`W = b_L' V_L^{-1} b_L` with :math:`q` leads: ``chi2`` (:math:`W`) and its
        :math:`\chi^2_q` p-value, and ``f`` :math:`= W/q` with its :math:`F(q, \text{df})`
        p-value (the model's df: :math:`G-1` when clustered). NaN without leads.
        """
        lead = self.event_time <= -2
        q = int(lead.sum())
        if q == 0:
            nan = float("nan")
            return {"chi2": nan, "p_chi2": nan, "f": nan, "p_f": nan, "n_leads": 0.0}
        b = self.estimate[lead]
        w = float(b @ np.linalg.solve(self._vcov[np.ix_(lead, lead)], b))
        return {
            "chi2": w,
            "p_chi2": float(scipy.stats.chi2.sf(w, q)),
            "f": w / q,
            "p_f": float(scipy.stats.f.sf(w / q, q, self.df)),
            "n_leads": float(q),
        }

    def _glance(self) -> dict[str, Any]:
        test = self.pretrend_test()
        return {**self.stats, "pretrend_f": test["f"], "pretrend_p": test["p_f"]}

    def _notes(self) -> list[str]:
        return [
            "reference event time -1; end bins collect all periods beyond the window",
            f"small-sample factor: {self.stats.get('ssc')}",
        ]


# ---- dense (balanced) engine ----------------------------------------------------------
@dataclass
class _Dense:
    beta: F64
    vcov: F64
    df: float
    n_cells: I64
    n_clusters: int
    ssc: float


def _solve(a: F64, rhs: F64, ev: I64) -> F64:
    scale = float(np.max(np.abs(np.diag(a)))) or 1.0
    eig = np.linalg.eigvalsh(a / scale)
    if eig[0] < 1e-11 * max(eig[-1], 1e-300):
        raise EstimationError(
            "the event-time indicators are collinear with the person and period effects "
            f"(smallest relative eigenvalue {eig[0]:.1e}); this happens when every person is "
            "treated and every relative period has its own indicator (the linear trend in "
            "event time is not identified). Fix: include never-treated persons, or narrow "
            "the window (fewer leads/lags) so that the end bins pool periods."
        )
    return np.asarray(np.linalg.solve(a, rhs), dtype=np.float64)


def _check_bins(c: F64, ev: I64, n_periods: int) -> None:
    empty = ev[c == 0]
    if empty.size:
        leads = empty[empty < 0]
        lags = empty[empty >= 0]
        parts = []
        if leads.size:
            parts.append(
                f"lead(s) {leads.tolist()} would need periods before the panel starts for every "
                "cohort; reduce leads or keep only cohorts that start later"
            )
        if lags.size:
            parts.append(
                f"lag(s) {lags.tolist()} would need periods after the panel ends; reduce lags"
            )
        raise InputError(
            f"no person-period falls in event time(s) {empty.tolist()} ({n_periods} periods "
            f"observed): {'; '.join(parts)}."
        )


def _check_controls(starts: I64, sizes: I64) -> None:
    treated = starts != NEVER
    if treated.all() and treated.sum() <= 1:
        raise InputError(
            "every person starts in the same period and nobody is never-treated: there is no "
            "comparison group. Add never-treated (or later-starting) persons."
        )
    if not treated.any():
        raise InputError("no person has a programme start; nothing to estimate.")


def _ssc(n: int, k: int, g: int) -> float:
    if g < 2:
        raise InputError(f"{g} cluster(s): cluster-robust standard errors need at least 2.")
    return g / (g - 1) * (n - 1) / (n - k)


def twfe_dense(
    block: BlockFn,
    n_units: int,
    n_periods: int,
    cohort: I64,
    cohort_start: I64,
    cluster: I64 | None,
    leads: int,
    lags: int,
    *,
    block_rows: int = 32768,
    max_cell_values: int = 50_000_000,
) -> _Dense:
    """The balanced-panel engine (module docstring).

    Persons are visited in (cohort, cluster) order; each block of the outcome is reduced to
    person means and to sums per (cohort, cluster) cell and period. These are sufficient for
    :math:`\\hat\\beta` and for the cluster scores (the residuals of a cell sum to
    :math:`U_{ct} - \\sum_i \\bar y_{i\\cdot} + n_c(r_t - f_{ct})`), so one pass suffices when
    the cell sums fit in ``max_cell_values`` floats; otherwise a second pass streams the
    residuals block by block.

    Args:
        block: ``block(rows)`` returns the outcome of the persons ``rows`` (any numeric
            dtype, len(rows) x T).
        cohort: cohort index of each person (into ``cohort_start``).
        cohort_start: start period index of each cohort (``NEVER`` for never-treated; may
            lie outside ``0..T-1``).
        cluster: cluster code per person (0..G-1) or None for ``"iid"``.
    """
    n, t_n = n_units, n_periods
    ev = event_times(leads, lags)
    k_n = ev.size
    c_n = cohort_start.size
    colmat = cohort_columns(cohort_start, t_n, leads, lags)
    colp = colmat.astype(np.int64) + 1  # 0: no indicator
    w = np.bincount(cohort, minlength=c_n).astype(np.float64)
    _check_controls(cohort_start[w > 0], w[w > 0].astype(np.int64))
    onehot = np.zeros((c_n, t_n, k_n + 1))
    np.put_along_axis(onehot, colp[:, :, None], 1.0, axis=2)
    onehot = onehot[:, :, 1:]  # (C, T, K)
    n_e = onehot.sum(axis=1)  # (C, K)
    m_t = np.einsum("c,ctk->tk", w, onehot)  # (T, K)
    c = m_t.sum(axis=0)
    _check_bins(c, ev, t_n)
    a = np.diag(c) - (n_e.T * w) @ n_e / t_n - m_t.T @ m_t / n + np.outer(c, c) / (n * t_n)

    gcode = cluster if cluster is not None else np.zeros(n, dtype=np.int64)
    g_n = int(gcode.max()) + 1
    cell_of = cohort * g_n + gcode
    order = np.argsort(cell_of, kind="stable")
    cell_sorted = cell_of[order]
    cells, cell_n = np.unique(cell_sorted, return_counts=True)
    cell_cohort = cells // g_n
    cell_cluster = cells % g_n
    n_cells = cells.size
    keep_u = n_cells * t_n <= max_cell_values
    u = np.zeros((n_cells, t_n)) if keep_u else np.zeros((0, t_n))
    cell_pos = np.searchsorted(cells, cell_sorted)  # cell index per sorted person
    ybar_sorted = np.empty(n)
    ysum_ct = np.zeros((c_n, t_n))
    ysq = 0.0

    def segments(a0: int, b0: int) -> tuple[I64, int, int]:
        # cells are sorted, so a block covers the contiguous cell range lo..hi
        pos = cell_pos[a0:b0]
        starts = np.flatnonzero(np.r_[True, pos[1:] != pos[:-1]])
        return starts, int(pos[0]), int(pos[-1]) + 1

    def reduce_rows(x: F64, starts: I64) -> F64:
        if starts.size == x.shape[0]:
            return x
        # segment sums as a sparse indicator product (much faster than add.reduceat rows)
        ids = np.zeros(x.shape[0], dtype=np.int64)
        ids[starts[1:]] = 1
        ids = np.cumsum(ids)
        ind = scipy.sparse.csr_matrix(
            (np.ones(x.shape[0]), (ids, np.arange(x.shape[0]))), shape=(starts.size, x.shape[0])
        )
        return np.asarray(ind @ x, dtype=np.float64)

    # pass 1: person means and (cohort, cluster, period) sums
    for a0 in range(0, n, block_rows):
        b0 = min(a0 + block_rows, n)
        yb = np.asarray(block(order[a0:b0]), dtype=np.float64)
        ybar_sorted[a0:b0] = yb.sum(axis=1) / t_n
        starts, lo, hi = segments(a0, b0)
        useg = reduce_rows(yb, starts)
        segco = cell_cohort[lo:hi]  # sorted
        cstart = np.flatnonzero(np.r_[True, segco[1:] != segco[:-1]])
        ysum_ct[segco[cstart]] += np.add.reduceat(useg, cstart, axis=0)
        if keep_u:
            u[lo:hi] += useg
        if cluster is None:
            ysq += float(np.einsum("ij,ij->", yb, yb))
    ybar_t = ysum_ct.sum(axis=0) / n
    ybar = ybar_t.mean()
    s = np.einsum("ct,ctk->k", ysum_ct, onehot)
    ybar_c = np.bincount(cohort[order], weights=ybar_sorted, minlength=c_n)
    xty = s - n_e.T @ ybar_c - m_t.T @ ybar_t + c * ybar
    beta = _solve(a, xty, ev)

    ainv = np.linalg.inv(a)
    n_obs = n * t_n
    if cluster is None:
        # sum of squared within residuals from the two-way ANOVA identity
        yty = ysq - t_n * float(ybar_sorted @ ybar_sorted) - n * float(ybar_t @ ybar_t)
        ssr = yty + n_obs * ybar**2 - float(beta @ xty)
        dof = n_obs - k_n - n - t_n + 1
        vcov = ssr / dof * ainv
        return _Dense(beta, (vcov + vcov.T) / 2, float(dof), c.astype(np.int64), 0, 1.0)

    # residual pieces: e_it = y_it - ybar_i + r_t - f_{E_i, t}
    bpad = np.concatenate([[0.0], beta])
    bmat = bpad[colp]  # (C, T)
    bbar_t = w @ bmat / n
    fc = bmat - bmat.mean(axis=1)[:, None]
    r_t = -ybar_t + ybar + bbar_t - bbar_t.mean()
    zc = onehot - (m_t / n)[None, :, :]  # (C, T, K): D_c - xbar_t
    # score of a cell: Z_c'(sum of e) = Z_c'U - (sum of ybar_i) Z_c'1 + n_cell Z_c'(r - f_c)
    q = zc.sum(axis=1)  # (C, K)
    h = np.einsum("ctk,ct->ck", zc, r_t[None, :] - fc)  # (C, K)
    ybar_cell = np.bincount(cell_pos, weights=ybar_sorted, minlength=n_cells)
    cell_score = -ybar_cell[:, None] * q[cell_cohort] + cell_n[:, None] * h[cell_cohort]
    if keep_u:
        bounds = np.r_[np.flatnonzero(np.r_[True, cell_cohort[1:] != cell_cohort[:-1]]), n_cells]
        for lo, hi in itertools.pairwise(bounds):
            cell_score[lo:hi] += u[lo:hi] @ zc[cell_cohort[lo]]
    else:
        for a0 in range(0, n, block_rows):
            b0 = min(a0 + block_rows, n)
            yb = np.asarray(block(order[a0:b0]), dtype=np.float64)
            starts, lo, hi = segments(a0, b0)
            useg = reduce_rows(yb, starts)
            segco = cell_cohort[lo:hi]
            cb = np.r_[np.flatnonzero(np.r_[True, segco[1:] != segco[:-1]]), hi - lo]
            for c0, c1 in itertools.pairwise(cb):
                cell_score[lo + c0 : lo + c1] += useg[c0:c1] @ zc[segco[c0]]
    sg = np.column_stack(
        [np.bincount(cell_cluster, weights=cell_score[:, k], minlength=g_n) for k in range(k_n)]
    )
    factor = _ssc(n_obs, k_n + t_n, g_n)
    vcov = factor * ainv @ (sg.T @ sg) @ ainv
    return _Dense(beta, (vcov + vcov.T) / 2, float(g_n - 1), c.astype(np.int64), g_n, factor)


# ---- long (possibly unbalanced) engine ------------------------------------------------
def _alternating_demean(
    z: F64, unit: I64, time: I64, n_u: int, n_t: int, tol: float, max_iter: int
) -> tuple[F64, int]:
    z = z.copy()
    cnt_u = np.bincount(unit, minlength=n_u).astype(np.float64)
    cnt_t = np.bincount(time, minlength=n_t).astype(np.float64)
    for it in range(1, max_iter + 1):
        delta = 0.0
        for codes, cnt, m in ((unit, cnt_u, n_u), (time, cnt_t, n_t)):
            for j in range(z.shape[1]):
                mean = np.bincount(codes, weights=z[:, j], minlength=m) / cnt
                z[:, j] -= mean[codes]
                delta = max(delta, float(np.max(np.abs(mean))))
        if delta < tol:
            return z, it
    raise EstimationError(
        f"alternating projections did not converge in {max_iter} iterations (largest change "
        f"{delta:.1e} > tol {tol:.0e}); the panel may be badly connected. Raise max_iter or "
        "check that periods overlap across persons."
    )


# ---- public entry points --------------------------------------------------------------
def _to_polars(data: Any) -> pl.DataFrame:
    if isinstance(data, pl.DataFrame):
        return data
    try:
        return pl.from_pandas(data)
    except Exception as exc:
        raise InputError("data must be a polars or pandas DataFrame.") from exc


def _require(df: pl.DataFrame, cols: Iterable[str]) -> None:
    for col in cols:
        if col not in df.columns:
            raise ColumnNotFoundError(
                f"column {col!r} is not in the data (columns: {df.columns[:12]}); pass its name."
            )


def _codes(series: pl.Series) -> I64:
    return series.rank("dense").cast(pl.Int64).to_numpy() - 1


def _person_level(df: pl.DataFrame, unit: str, col: str, what: str) -> None:
    n_var = df.group_by(unit).agg(pl.col(col).n_unique().alias("k")).filter(pl.col("k") > 1)
    if n_var.height:
        raise InputError(
            f"column {col!r} ({what}) varies within {n_var.height} person(s); it must be "
            f"constant per person (e.g. the value at the start). Fix the column first."
        )


def event_study(
    data: Any,
    *,
    outcome: str,
    unit: str,
    time: str,
    start: str,
    leads: int = 5,
    lags: int = 5,
    vcov: VcovArg | None = None,
    tol: float = 1e-12,
    max_iter: int = 10_000,
) -> EventStudyResult:
    """Event study with person and period effects on a long panel (module docstring).

    Args:
        data: one row per person-period (polars or pandas).
        outcome: the outcome column (e.g. an employment indicator).
        unit: person id column.
        time: integer period column on a unit step (week ordinal, month index).
        start: programme start period per person on the same scale (null: never treated);
            constant within person.
        leads, lags: the event window :math:`-L..F` (end bins collect the rest).
        vcov: ``{"CRV1": col}`` with a person-level column (default: clustered by ``unit``)
            or ``"iid"``.
        tol, max_iter: convergence of the alternating projections (unbalanced panels).

    Returns:
        :class:`EventStudyResult`; balanced panels use the exact within transformation,
        unbalanced ones alternating projections (``glance()["method"]``).
    """
    df = _to_polars(data)
    _require(df, [outcome, unit, time, start])
    if df.height == 0:
        raise EmptyInputError("the panel has no rows.")
    spec = parse_vcov(vcov or {"CRV1": unit}, allowed=("iid", "CRV1"), default_cluster=unit)
    cl_col = spec.cluster
    if cl_col is not None:
        _require(df, [cl_col])
    for col in (outcome, time):
        if df[col].null_count():
            raise InputError(f"column {col!r} has {df[col].null_count()} missing value(s).")
    if df[start].dtype.is_float():  # pandas stores a start column with gaps as float
        vals = df[start].fill_nan(None)
        if (vals.drop_nulls() % 1 != 0).any():
            raise InputError(f"column {start!r} has non-integer start periods.")
        df = df.with_columns(vals.cast(pl.Int64).alias(start))
    if not df[start].dtype.is_integer():
        raise InputError(
            f"column {start!r} must hold integer start periods on the scale of {time!r} "
            "(null: never treated)."
        )
    if not df[time].dtype.is_integer():
        raise InputError(f"column {time!r} must hold integer periods (week or month index).")
    _person_level(df, unit, start, "programme start")
    if cl_col is not None:
        _person_level(df, unit, cl_col, "cluster")
    if df.select(pl.struct(unit, time).is_duplicated().any()).item():
        raise DuplicateError(f"person-periods repeat in ({unit!r}, {time!r}); aggregate first.")
    t0 = int(df[time].min())  # type: ignore[arg-type]
    t_idx = df[time].to_numpy().astype(np.int64) - t0
    n_t = int(t_idx.max()) + 1
    u_idx = _codes(df[unit])
    n_u = int(u_idx.max()) + 1
    st = df[start].cast(pl.Int64).to_numpy()
    st_null = df[start].is_null().to_numpy()
    e_idx = np.where(st_null, NEVER, np.nan_to_num(st, nan=0).astype(np.int64) - t0)
    cl = _codes(df[cl_col]) if cl_col is not None else None
    y = df[outcome].cast(pl.Float64).to_numpy()
    ev = event_times(leads, lags)
    occupied = np.bincount(t_idx, minlength=n_t)
    if not occupied.all():
        raise InputError(f"column {time!r} skips periods; use a consecutive period index.")
    balanced = df.height == n_u * n_t
    unit_start = np.full(n_u, NEVER, dtype=np.int64)
    unit_start[u_idx] = e_idx
    stats: dict[str, Any] = {}
    if balanced:
        order = np.lexsort((t_idx, u_idx))
        ymat = y[order].reshape(n_u, n_t)
        starts, cohort = np.unique(unit_start, return_inverse=True)
        unit_cl = None
        if cl is not None:
            unit_cl = np.zeros(n_u, dtype=np.int64)
            unit_cl[u_idx] = cl

        def blk(idx: I64) -> F64:
            return ymat[idx]

        res = twfe_dense(blk, n_u, n_t, cohort.astype(np.int64), starts, unit_cl, leads, lags)
        beta, cov, df_, cells, g_n, factor = (
            res.beta,
            res.vcov,
            res.df,
            res.n_cells,
            res.n_clusters,
            res.ssc,
        )
        stats.update(method="within (balanced)", iterations=0)
    else:
        bins = bin_columns(t_idx - e_idx, leads, lags)
        bins = np.where(e_idx == NEVER, -1, bins)
        _check_controls(np.unique(unit_start), np.ones(1, dtype=np.int64))
        x = np.zeros((df.height, ev.size))
        rows = np.nonzero(bins >= 0)[0]
        x[rows, bins[rows]] = 1.0
        cells = x.sum(axis=0).astype(np.int64)
        _check_bins(cells.astype(np.float64), ev, n_t)
        z, iters = _alternating_demean(
            np.column_stack([y, x]), u_idx, t_idx, n_u, n_t, tol, max_iter
        )
        yt, xt = z[:, 0], z[:, 1:]
        a = xt.T @ xt
        beta = _solve(a, xt.T @ yt, ev)
        e = yt - xt @ beta
        ainv = np.linalg.inv(a)
        if cl is None:
            dof = df.height - ev.size - n_u - n_t + 1
            cov = np.asarray(float(e @ e) / dof * ainv, dtype=np.float64)
            df_, g_n, factor = float(dof), 0, 1.0
        else:
            g_n = int(cl.max()) + 1
            sg = np.column_stack(
                [np.bincount(cl, weights=xt[:, k] * e, minlength=g_n) for k in range(ev.size)]
            )
            factor = _ssc(df.height, ev.size + n_t, g_n)
            cov = factor * ainv @ (sg.T @ sg) @ ainv
            df_ = float(g_n - 1)
        stats.update(method="alternating projections (unbalanced)", iterations=iters)
    n_never = int((unit_start == NEVER).sum())
    stats = {
        "n_obs": int(df.height),
        "n_clusters": g_n or None,
        "vcov_type": spec.label,
        "df": df_,
        "log_likelihood": None,
        "n_units": n_u,
        "n_periods": n_t,
        "n_never_treated": n_never,
        "n_cohorts": int(np.unique(unit_start[unit_start != NEVER]).size),
        "leads": leads,
        "lags": lags,
        "ssc": float(factor),
        **stats,
    }
    binned = (ev == ev.min()) & (leads > 1) | (ev == lags)
    return EventStudyResult(
        event_time=ev,
        estimate=beta,
        vcov=cov,
        df=df_,
        n_cells=cells,
        stats=stats,
        binned=binned,
    )


def _warn_single(sizes: I64) -> None:
    n_single = int((sizes == 1).sum())
    if n_single:
        warnings.warn(
            f"{n_single} cohort(s) have a single person; their cohort means and standard "
            "errors rest on one history. Pool start periods (e.g. months) or drop them.",
            DreamkitWarning,
            stacklevel=3,
        )


def _start_weeks(series: pl.Series) -> I64:
    """Week ordinals of a start column (week ordinal integers or dates; null: never)."""
    if series.dtype == pl.Date:
        days = series.cast(pl.Int32).to_numpy()  # days since 1970-01-01
        # week ordinal: whole weeks since Monday 1900-01-01 (25567 days before 1970-01-01)
        weeks = np.floor_divide(np.nan_to_num(days, nan=0).astype(np.int64) + 25567, 7)
    elif series.dtype.is_integer():
        weeks = series.fill_null(0).to_numpy().astype(np.int64)
    else:
        raise InputError(
            f"start column {series.name!r} has type {series.dtype}; pass week ordinals or dates."
        )
    return np.where(series.is_null().to_numpy(), NEVER, weeks)


def event_study_register(
    register: Any,
    states: str | Iterable[str],
    starts: Any,
    *,
    start: str = "start_week",
    person: str = "person_id",
    leads: int = 26,
    lags: int = 52,
    vcov: VcovArg | None = None,
    period: str = "week",
    block_rows: int = 32768,
    max_cell_values: int = 50_000_000,
) -> EventStudyResult:
    """Event study of :math:`y_{it} = 1[s_{it} \\in A]` on the register's person-week panel.

    The outcome is the indicator of the code-map state set ``states`` (e.g. ``"employment"``)
    in every week of the register; it is computed block by block from the dense uint8 state
    array and never stored. The panel is balanced by construction, so the exact within path is
    used (module docstring).

    Args:
        register: a :class:`~dreamkit.register.Register`.
        states: a set or state name(s) of the register's code map.
        starts: one row per person of the analysis population: ``person`` id, ``start``
            (week ordinal or date; null: never treated) and the cluster column if
            ``vcov={"CRV1": col}``. Register persons not listed are not used.
        leads, lags: event window in periods (end bins pool the rest).
        vcov: ``{"CRV1": col}`` (default: by person) or ``"iid"``.
        period: ``"week"`` or ``"month"``: the person-month outcome is the share of the
            month's register weeks in ``states`` (weeks belong to the month of their
            Thursday, :func:`dreamkit.register.calendar.months_of_weeks`; the register's
            first and last months may be partial) and the start month is the month of the
            start week.
    """
    df = _to_polars(starts)
    _require(df, [person, start])
    if df.height == 0:
        raise EmptyInputError("the starts table has no persons.")
    spec = parse_vcov(vcov or {"CRV1": person}, allowed=("iid", "CRV1"), default_cluster=person)
    rows = register.require_rows(df[person], column=person)
    if np.unique(rows).size != rows.size:
        raise DuplicateError(f"persons repeat in column {person!r}; one row per person.")
    if period not in ("week", "month"):
        raise InputError(f"period={period!r}; choose 'week' or 'month'.")
    mask = register.codemap.mask(states)
    e_idx = _start_weeks(df[start])
    if period == "month":
        week_month = months_of_weeks(register.weeks).astype(np.int64)
        m0 = int(week_month[0])
        month_start = np.flatnonzero(np.r_[True, week_month[1:] != week_month[:-1]])
        month_len = np.diff(np.r_[month_start, week_month.size]).astype(np.float64)
        e_month = months_of_weeks(np.where(e_idx == NEVER, 0, e_idx)).astype(np.int64)
        e_idx = np.where(e_idx == NEVER, NEVER, e_month - m0)
    else:
        e_idx = np.where(e_idx == NEVER, NEVER, e_idx - int(register.first_week))
    starts_u, cohort = np.unique(e_idx, return_inverse=True)
    cl: I64 | None = None
    if spec.cluster is not None:
        _require(df, [spec.cluster])
        if df[spec.cluster].null_count():
            raise InputError(f"cluster column {spec.cluster!r} has missing values.")
        cl = _codes(df[spec.cluster])
    reg_states = register.states
    lookup = mask.astype(np.uint8)

    def blk(idx: I64) -> npt.NDArray[Any]:
        y = lookup[reg_states[rows[idx]]]
        if period == "week":
            return y
        return np.add.reduceat(y.astype(np.float64), month_start, axis=1) / month_len

    n_t = int(register.n_weeks) if period == "week" else int(month_start.size)
    res = twfe_dense(
        blk,
        rows.size,
        n_t,
        cohort.astype(np.int64),
        starts_u,
        cl,
        leads,
        lags,
        block_rows=block_rows,
        max_cell_values=max_cell_values,
    )
    ev = event_times(leads, lags)
    stats = {
        "n_obs": int(rows.size * n_t),
        "n_clusters": res.n_clusters or None,
        "vcov_type": spec.label,
        "df": res.df,
        "log_likelihood": None,
        "n_units": int(rows.size),
        "n_periods": n_t,
        "n_never_treated": int((e_idx == NEVER).sum()),
        "n_cohorts": int((starts_u != NEVER).sum()),
        "leads": leads,
        "lags": lags,
        "ssc": res.ssc,
        "method": f"within (balanced register panel, person-{period})",
        "iterations": 0,
    }
    return EventStudyResult(
        event_time=ev,
        estimate=res.beta,
        vcov=res.vcov,
        df=res.df,
        n_cells=res.n_cells,
        stats=stats,
        binned=((ev == ev.min()) & (leads > 1)) | (ev == lags),
    )
