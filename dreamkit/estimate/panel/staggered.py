r"""Heterogeneity-robust staggered difference-in-differences: Callaway-Sant'Anna, Sun-Abraham.

Both estimators work on a balanced person-period panel with start (cohort) :math:`G_i`
(never-treated: :math:`G_i = \infty`) and compare each cohort only with units that are not
(yet) treated, so they are not contaminated by the "forbidden comparisons" of a plain TWFE
event study when effects differ across cohorts.

**Callaway & Sant'Anna (2021), unconditional.** For cohort :math:`g` and period :math:`t`,
with base period :math:`b` (``base="varying"``: :math:`b = g-1` for :math:`t \ge g` and
:math:`b = t-1` before; ``"universal"``: :math:`b = g-1` always),

.. math::

    \mathrm{ATT}(g,t) = E[Y_t - Y_b \mid G = g] - E[Y_t - Y_b \mid C_{g,t}],

with controls :math:`C_{g,t}` = never-treated plus not-yet-treated units,
:math:`G > \max(t, b),\ G \ne g` (``control="notyettreated"``), or never-treated only
(``"nevertreated"``). Event-time aggregation with cohort-size weights:
:math:`\theta(e) = \sum_g w_{g,e}\,\mathrm{ATT}(g, g+e)`,
:math:`w_{g,e} = n_g / \sum_{g' \in S_e} n_{g'}` over the cohorts :math:`S_e` whose cell
:math:`(g', g'+e)` is in the panel and has controls.

*Inference* by the influence function, clustered: unit :math:`i` contributes
:math:`\psi_i = 1[G_i=g](\Delta Y_i - \mu_g)/n_g - 1[i \in C](\Delta Y_i - \mu_C)/n_C`
to :math:`\mathrm{ATT}(g,t)`, and :math:`\widehat{V} = \sum_c (\sum_{i \in c}\psi_i)^2` over
clusters :math:`c` (no small-sample factor, as the ``did`` package's analytic standard
errors; normal critical values). The aggregate adds the estimated weights' influence
:math:`\sum_g \mathrm{ATT}(g,g+e)\,(n_{cg} - w_{g,e} n_{cS_e})/n_{S_e}`. Optionally a
multiplier bootstrap (Rademacher weights per cluster, seeded) gives standard errors
(IQR-based, as ``did``) and the sup-t critical value of a simultaneous band for the path.

**Sun & Abraham (2021).** The interaction-weighted estimator: the saturated regression
:math:`y_{it} = \alpha_i + \lambda_t + \sum_{g}\sum_{l \ne -1} \delta_{g,l} 1[G_i = g]
1[t - g = l] + e_{it}` with never-treated (``control="never"``) or the last-treated cohort
(``"last"``; periods from its start dropped) as the control, aggregated as
:math:`\theta_l = \sum_g \Pr(G=g \mid \text{cohorts observed at } l)\,\delta_{g,l}`. In a
balanced panel the saturated regression's :math:`\hat\delta_{g,l}` is exactly the 2x2 DiD of
cohort :math:`g` against the control between :math:`g+l` and :math:`g-1` (the model is
saturated in cohort x period), and its residuals are :math:`\Delta Y_i - \mu_g`, so the
regression's CRV1 covariance is :math:`c\sum_c(\sum_{i\in c}\psi_i)(\cdot)'` with the
pyfixest/fixest factor :math:`c = \frac{G}{G-1}\frac{n-1}{n-k}`, :math:`k` = number of
:math:`\delta` plus :math:`T` (person effects nested in clusters). The aggregation treats the
shares as fixed, as pyfixest's ``SaturatedEventStudy.aggregate``; :math:`t_{G-1}` inference.

Bad input: no never- or not-yet-treated comparison for any cell raises
:class:`~dreamkit.errors.InputError`; cohorts with a single person warn
(:class:`~dreamkit.errors.DreamkitWarning`); cells without controls are left out and counted
in ``glance()``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import polars as pl

from dreamkit.errors import DreamkitWarning, EmptyInputError, InputError
from dreamkit.estimate.panel.event_study import (
    NEVER,
    _codes,
    _person_level,
    _require,
    _to_polars,
    _warn_single,
)
from dreamkit.estimate.results import Result
from dreamkit.estimate.vcov import VcovArg, parse_vcov

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

#: Largest clusters x cohorts x periods array the estimators build (float64 cells).
MAX_CELLS = 60_000_000


@dataclass
class _Panel:
    """Cluster x cohort x period sums of the outcome and cluster x cohort counts."""

    v: F64  # (G, C, T)
    n: F64  # (G, C)
    starts: I64  # (C,) period index, NEVER for never-treated
    t0: int
    n_units: int


def _panel(
    data: Any, outcome: str, unit: str, time: str, start: str, vcov: VcovArg | None
) -> tuple[_Panel, str]:
    df = _to_polars(data)
    _require(df, [outcome, unit, time, start])
    if df.height == 0:
        raise EmptyInputError("the panel has no rows.")
    spec = parse_vcov(vcov or {"CRV1": unit}, allowed=("CRV1",), default_cluster=unit)
    assert spec.cluster is not None
    _require(df, [spec.cluster])
    if df[start].dtype.is_float():
        df = df.with_columns(df[start].fill_nan(None).cast(pl.Int64).alias(start))
    if not df[start].dtype.is_integer() or not df[time].dtype.is_integer():
        raise InputError(f"columns {time!r} and {start!r} must hold integer periods.")
    if df[outcome].null_count() or df[time].null_count():
        raise InputError(f"columns {outcome!r} and {time!r} must not have missing values.")
    _person_level(df, unit, start, "programme start")
    _person_level(df, unit, spec.cluster, "cluster")
    u = _codes(df[unit])
    n_u = int(u.max()) + 1
    t0 = int(df[time].min())  # type: ignore[arg-type]
    t = df[time].to_numpy().astype(np.int64) - t0
    n_t = int(t.max()) + 1
    if df.height != n_u * n_t or np.unique(u * n_t + t).size != df.height:
        raise InputError(
            f"the panel is not balanced ({df.height} rows for {n_u} persons x {n_t} periods); "
            "these estimators need every person in every period. Balance it (the register "
            "panel is balanced) or use event_study(), which handles unbalanced panels."
        )
    st = df[start]
    e = np.where(st.is_null().to_numpy(), NEVER, st.fill_null(0).to_numpy().astype(np.int64) - t0)
    unit_start = np.zeros(n_u, dtype=np.int64)
    unit_start[u] = e
    cl = _codes(df[spec.cluster])
    unit_cl = np.zeros(n_u, dtype=np.int64)
    unit_cl[u] = cl
    ymat = np.zeros((n_u, n_t))
    ymat[u, t] = df[outcome].cast(pl.Float64).to_numpy()
    return panel_sums(ymat, unit_start, unit_cl, t0=t0), spec.label


def panel_sums(y: F64, start: I64, cluster: I64, *, t0: int = 0) -> _Panel:
    """Aggregate a dense (persons x periods) outcome to cluster x cohort x period sums.

    ``start`` is the start period index per person (``NEVER``: never treated); ``cluster``
    codes 0..G-1. This is all the estimators read, so a register-sized panel can be summed
    block by block by the caller.
    """
    starts, cohort = np.unique(start, return_inverse=True)
    g_n = int(cluster.max()) + 1
    c_n, t_n = starts.size, y.shape[1]
    if g_n * c_n * t_n > MAX_CELLS:
        raise InputError(
            f"{g_n} clusters x {c_n} cohorts x {t_n} periods is too large for the cohort "
            "sums; pool start periods (e.g. by month) or cluster more coarsely."
        )
    cell = cluster * c_n + cohort
    v = np.zeros((g_n * c_n, t_n))
    np.add.at(v, cell, y)
    n = np.bincount(cell, minlength=g_n * c_n).astype(np.float64)
    return _Panel(v.reshape(g_n, c_n, t_n), n.reshape(g_n, c_n), starts, t0, int(y.shape[0]))


@dataclass
class _Cells:
    """Group-time effects and their cluster influence sums."""

    cohort: I64  # start period index of g
    period: I64
    att: F64
    infl: F64  # (G, cells): cluster sums of psi
    n_control: I64


def _group_time(p: _Panel, control: str, base: str) -> tuple[_Cells, int]:
    v, n, starts = p.v, p.n, p.starts
    _, c_n, t_n = v.shape
    n_k = n.sum(axis=0)
    s_kt = v.sum(axis=0)
    never = starts == NEVER
    cohorts, periods, atts, infls, ncs = [], [], [], [], []
    skipped = 0
    for j in np.nonzero(~never)[0]:
        g = int(starts[j])
        if g < 1 or g >= t_n:
            continue  # started before the panel (no base period) or after it
        ts = np.arange(t_n)
        b = np.full(t_n, g - 1)
        if base == "varying":
            b = np.where(ts < g, ts - 1, g - 1)
        keep = (b >= 0) & (ts != b)
        ts, b = ts[keep], b[keep]
        # control cohorts per period: never, or (not yet treated) start > max(t, b)
        if control == "nevertreated":
            ctrl = np.broadcast_to(never[:, None], (c_n, ts.size)).copy()
        else:
            ctrl = never[:, None] | (
                (starts[:, None] > np.maximum(ts, b)[None, :]) & ~never[:, None]
            )
        ctrl[j] = False
        n_c = n_k @ ctrl  # (cells,)
        ok = n_c > 0
        skipped += int((~ok).sum())
        ts, b, ctrl, n_c = ts[ok], b[ok], ctrl[:, ok], n_c[ok]
        if ts.size == 0:
            continue
        dv = v[:, :, ts] - v[:, :, b]  # (G, C, cells)
        ds = s_kt[:, ts] - s_kt[:, b]  # (C, cells)
        mu_g = ds[j] / n_k[j]
        mu_c = (ds * ctrl).sum(axis=0) / n_c
        inf_g = (dv[:, j, :] - n[:, j, None] * mu_g[None, :]) / n_k[j]
        dvc = np.einsum("gck,ck->gk", dv, ctrl.astype(np.float64))
        ncc = n @ ctrl  # (G, cells)
        inf_c = (dvc - ncc * mu_c[None, :]) / n_c[None, :]
        cohorts.append(np.full(ts.size, g))
        periods.append(ts)
        atts.append(mu_g - mu_c)
        infls.append(inf_g - inf_c)
        ncs.append(n_c.astype(np.int64))
    if not cohorts:
        raise InputError(
            "no cohort-period has a never-treated or not-yet-treated comparison group (every "
            "person starts at the same time, or the comparison persons start first). Include "
            "never-treated persons or persons who start later."
        )
    return (
        _Cells(
            np.concatenate(cohorts),
            np.concatenate(periods),
            np.concatenate(atts),
            np.concatenate(infls, axis=1),
            np.concatenate(ncs),
        ),
        skipped,
    )


def _aggregate(
    cells: _Cells, p: _Panel, with_weight_influence: bool
) -> tuple[I64, F64, F64, I64, F64]:
    """Event-time aggregation: (event times, theta, influence (G, E), n cohorts, weights)."""
    n_k = p.n.sum(axis=0)
    idx = {int(s): j for j, s in enumerate(p.starts)}
    rel = cells.period - cells.cohort
    es = np.unique(rel)
    theta = np.zeros(es.size)
    infl = np.zeros((p.n.shape[0], es.size))
    n_coh = np.zeros(es.size, dtype=np.int64)
    wmat = np.zeros((cells.att.size, es.size))
    for m, e in enumerate(es):
        sel = np.nonzero(rel == e)[0]
        js = np.array([idx[int(g)] for g in cells.cohort[sel]])
        n_s = n_k[js].sum()
        w = n_k[js] / n_s
        wmat[sel, m] = w
        theta[m] = w @ cells.att[sel]
        infl[:, m] = cells.infl[:, sel] @ w
        if with_weight_influence:
            n_cs = p.n[:, js].sum(axis=1)
            infl[:, m] += ((p.n[:, js] - np.outer(n_cs, w)) / n_s) @ cells.att[sel]
        n_coh[m] = sel.size
    return es.astype(np.int64), theta, infl, n_coh, wmat


class StaggeredResult(Result):
    """Event-time path :math:`\\theta(e)` of a staggered DiD estimator (module docstring).

    ``vcov`` is ordered by event time as ``tidy()``. :attr:`group_time` holds the cohort x
    period effects (cohort and period on the input's scale) with their standard errors. With
    ``bootstrap`` (Callaway-Sant'Anna), ``tidy()``'s ``std_error`` and intervals are the
    bootstrap ones and ``vcov`` stays the analytic influence-function covariance.
    """

    family_columns: ClassVar[tuple[str, ...]] = ("event_time",)

    def __init__(
        self,
        *,
        model: str,
        event_time: I64,
        estimate: F64,
        vcov: F64,
        df: float,
        n_cohorts: I64,
        group_time: pl.DataFrame,
        stats: dict[str, Any],
    ) -> None:
        self._model = model
        self.event_time = event_time
        self.estimate = estimate
        self._vcov = vcov
        self.df = df
        self.n_cohorts = n_cohorts
        self.group_time = group_time
        self.stats = stats

    @property
    def model_name(self) -> str:
        return self._model

    @property
    def vcov(self) -> F64:
        return self._vcov

    def _coefficients(self) -> pl.DataFrame:
        se = np.sqrt(np.clip(np.diag(self._vcov), 0.0, None))
        if "bootstrap_se" in self.stats:
            se = np.asarray(self.stats["_boot_se"])
        return pl.DataFrame(
            {
                "term": [f"event_time={k}" for k in self.event_time],
                "event_time": self.event_time,
                "estimate": self.estimate,
                "std_error": se,
                "df": np.full(self.event_time.size, self.df),
                "n_cohorts": self.n_cohorts,
            }
        )

    def _glance(self) -> dict[str, Any]:
        return {k: v for k, v in self.stats.items() if not k.startswith("_")}


def _group_time_frame(cells: _Cells, se: F64, t0: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "cohort": cells.cohort + t0,
            "period": cells.period + t0,
            "event_time": cells.period - cells.cohort,
            "estimate": cells.att,
            "std_error": se,
            "n_control": cells.n_control,
        }
    )


def _warn_small(p: _Panel, estimator: str) -> None:
    treated = p.starts != NEVER
    sizes = p.n.sum(axis=0)
    _warn_single(sizes[treated].astype(np.int64))
    t_n = p.v.shape[2]
    before = treated & (p.starts < 1)
    after = treated & (p.starts >= t_n)
    if before.any():
        warnings.warn(
            f"{int(sizes[before].sum())} person(s) start in the first period or before it: "
            "no pre-period, so they are neither a cohort nor a comparison. Drop them, or "
            "extend the register backwards.",
            DreamkitWarning,
            stacklevel=3,
        )
    if after.any() and estimator == "sa":
        warnings.warn(
            f"{int(sizes[after].sum())} person(s) start after the last period; Sun-Abraham "
            "with never-treated controls leaves them out. Code them as never treated (null "
            "start) to use them as controls.",
            DreamkitWarning,
            stacklevel=3,
        )


def callaway_santanna(
    data: Any,
    *,
    outcome: str,
    unit: str,
    time: str,
    start: str,
    control: str = "notyettreated",
    base: str = "varying",
    vcov: VcovArg | None = None,
    bootstrap: int = 0,
    seed: int | None = None,
    level: float = 0.95,
) -> StaggeredResult:
    """Callaway-Sant'Anna group-time ATTs aggregated to event time (module docstring).

    Args:
        data: balanced long panel (polars or pandas), one row per person-period.
        outcome, unit, time, start: columns (``start`` null: never treated; integer periods).
        control: ``"notyettreated"`` (never- and not-yet-treated) or ``"nevertreated"``.
        base: ``"varying"`` (pre-periods compare consecutive periods) or ``"universal"``.
        vcov: ``{"CRV1": col}`` with a person-level cluster column (default: by person).
        bootstrap: number of multiplier-bootstrap draws (0: analytic SEs only).
        seed: seed of the bootstrap.
        level: level of the simultaneous band (``glance()["band_critical_value"]``).
    """
    if control not in ("notyettreated", "nevertreated"):
        raise InputError(f"control={control!r}; choose 'notyettreated' or 'nevertreated'.")
    if base not in ("varying", "universal"):
        raise InputError(f"base={base!r}; choose 'varying' or 'universal'.")
    p, label = _panel(data, outcome, unit, time, start, vcov)
    _warn_small(p, "cs")
    cells, skipped = _group_time(p, control, base)
    es, theta, infl, n_coh, _ = _aggregate(cells, p, with_weight_influence=True)
    cov = infl.T @ infl
    g_n = p.n.shape[0]
    stats: dict[str, Any] = {
        "n_obs": int(p.n_units * p.v.shape[2]),
        "n_clusters": g_n,
        "vcov_type": f"influence function, {label}",
        "df": None,
        "log_likelihood": None,
        "n_units": p.n_units,
        "n_cohorts": int((p.starts != NEVER).sum()),
        "n_never_treated": int(p.n[:, p.starts == NEVER].sum()),
        "control": control,
        "base": base,
        "n_group_time": int(cells.att.size),
        "n_cells_without_controls": skipped,
    }
    if bootstrap:
        rng = np.random.default_rng(seed)
        draws = rng.choice(np.array([-1.0, 1.0]), size=(bootstrap, g_n)) @ infl  # (B, E)
        q75, q25 = np.quantile(draws, [0.75, 0.25], axis=0)
        boot_se = (q75 - q25) / (2 * 0.6744897501960817)
        with np.errstate(divide="ignore", invalid="ignore"):
            tmax = np.nanmax(np.abs(draws) / np.where(boot_se > 0, boot_se, np.nan), axis=1)
        stats.update(
            bootstrap_se=True,
            n_bootstrap=bootstrap,
            seed=seed,
            band_critical_value=float(np.quantile(tmax, level)),
            _boot_se=boot_se,
        )
    se_gt = np.sqrt((cells.infl**2).sum(axis=0))
    return StaggeredResult(
        model="CallawaySantAnna",
        event_time=es,
        estimate=theta,
        vcov=cov,
        df=float("inf"),
        n_cohorts=n_coh,
        group_time=_group_time_frame(cells, se_gt, p.t0),
        stats=stats,
    )


def sun_abraham(
    data: Any,
    *,
    outcome: str,
    unit: str,
    time: str,
    start: str,
    control: str = "never",
    vcov: VcovArg | None = None,
) -> StaggeredResult:
    """Sun-Abraham interaction-weighted event study (module docstring).

    Args:
        data: balanced long panel (polars or pandas).
        outcome, unit, time, start: columns (``start`` null: never treated).
        control: ``"never"`` (never-treated) or ``"last"`` (the last-treated cohort; periods
            from its start are dropped).
        vcov: ``{"CRV1": col}`` with a person-level cluster column (default: by person).
    """
    if control not in ("never", "last"):
        raise InputError(f"control={control!r}; choose 'never' or 'last'.")
    p, label = _panel(data, outcome, unit, time, start, vcov)
    never = p.starts == NEVER
    if control == "last":
        inside = np.nonzero(~never & (p.starts < p.v.shape[2]))[0]
        if inside.size < 2:
            raise InputError("control='last' needs at least two cohorts starting in the panel.")
        last = int(inside[-1])
        t_last = int(p.starts[last])
        starts = p.starts.copy()
        starts[never] = NEVER + 1  # mark: not used
        keep_c = np.ones(starts.size, dtype=bool)
        keep_c[never] = False
        starts[last] = NEVER
        p = _Panel(p.v[:, keep_c, :t_last], p.n[:, keep_c], starts[keep_c], p.t0, 0)
        p.n_units = int(p.n.sum())
    elif not never.any():
        raise InputError(
            "control='never' but no person is never treated. Use control='last' (the "
            "last-treated cohort as the comparison) or callaway_santanna()."
        )
    _warn_small(p, "sa")
    cells, skipped = _group_time(p, "nevertreated", "universal")
    es, theta, infl, n_coh, _ = _aggregate(cells, p, with_weight_influence=False)
    g_n = p.n.shape[0]
    t_n = p.v.shape[2]
    n_obs = p.n_units * t_n
    k = cells.att.size + t_n
    factor = g_n / (g_n - 1) * (n_obs - 1) / (n_obs - k)
    cov = factor * infl.T @ infl
    se_gt = np.sqrt(factor * (cells.infl**2).sum(axis=0))
    stats = {
        "n_obs": int(n_obs),
        "n_clusters": g_n,
        "vcov_type": label,
        "df": float(g_n - 1),
        "log_likelihood": None,
        "n_units": p.n_units,
        "n_cohorts": int((p.starts != NEVER).sum()),
        "control": control,
        "ssc": factor,
        "n_group_time": int(cells.att.size),
        "n_cells_without_controls": skipped,
    }
    return StaggeredResult(
        model="SunAbraham",
        event_time=es,
        estimate=theta,
        vcov=cov,
        df=float(g_n - 1),
        n_cohorts=n_coh,
        group_time=_group_time_frame(cells, se_gt, p.t0),
        stats=stats,
    )
