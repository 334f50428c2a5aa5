r"""Timing-of-events (Abbring and van den Berg 2003) in discrete time.

Two hazards run in every week t of a spell: programme entry (:math:`\theta_p`, while not yet
entered) and exit to work (:math:`\theta_e`). With link F (cloglog by default, the discrete
mixed proportional hazard; or logit),

.. math::

    F(\theta_{p,it}) = \alpha^p_t + x_i'\beta_p + v_p,
    \qquad
    F(\theta_{e,it}) = \alpha^e_t + x_i'\beta_e + v_e
        + \sum_b \delta_b\, 1\{t > t_{p,i},\ t - t_{p,i} \in \text{band } b\},

:math:`t_{p,i}` the week of programme entry. The programme acts on the exit hazard from the
week *after* entry (an exit in the entry week is not affected); ``effect_cuts`` splits the
time since entry into bands with their own :math:`\delta_b` (e.g. ``(4,)``: weeks 1-4 after
entry -- lock-in -- and later). The unobserved :math:`(v_e, v_p)` take the values
:math:`\{0, m_e\} \times \{0, m_p\}` with joint probabilities :math:`\pi_{kl}`
(:math:`\pi_{kl} = e^{q_{kl}}/\sum e^{q}`, :math:`q_{00} = 0`), so they are freely correlated:
the selection of persons with poor prospects into early entry is modelled, not assumed away.

Person i with duration :math:`d_i`, exit flag :math:`e_i` and entry week :math:`t_{p,i}` (or none
by :math:`d_i`) contributes

.. math::

    L_i = \sum_{k,l} \pi_{kl}\,
      \Bigl[\prod_{t<d_i}(1-\theta_{e,it})\,
            \theta_{e,id_i}^{e_i}(1-\theta_{e,id_i})^{1-e_i}\Bigr]_{v_e = k}
      \Bigl[\prod_{t<t_{p,i}}(1-\theta_{p,it})\,\theta_{p,it_{p,i}}\Bigr]_{v_p = l},

with the entry bracket :math:`\prod_{t \le d_i}(1 - \theta_{p,it})` for persons who do not enter
by :math:`d_i` (entry is drawn before the exit within a week; persons are at risk of entry in
their exit week). Entries after the spell ended are not part of the spell and must be coded as
no entry.

**Identification** (Abbring and van den Berg 2003): (i) *no anticipation* -- the exit hazard
before entry does not depend on the future entry date (persons do not know, or do not act on,
the date in advance); (ii) *mixed proportional hazards* -- the covariates, the baseline and
the unobserved factors act multiplicatively (here: additively on the cloglog scale); (iii)
*variation in entry timing* -- entry happens at different durations for comparable persons
(and covariates shift the entry hazard). Then the effect is identified from the timing of exits
shortly after entries, whatever the correlation of :math:`v_e` and :math:`v_p`. Without any
variation in the entry week the model raises :class:`~dreamkit.errors.IdentificationError`.

**Computation**: persons with the same covariates and (duration, exit, entry week) share
one likelihood term (compressed cells; the cluster joins the cell key only for the one
evaluation of the per-cluster scores); the likelihood is evaluated on (cell x week x point)
arrays with an analytic gradient and maximised as in :mod:`.mixture_fit` (BFGS, then Newton
with a finite-difference Hessian of the analytic gradient); ``iid`` or ``CRV1`` covariance as
there.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
import scipy.special
from numpy.typing import NDArray

from dreamkit.errors import (
    IdentificationError,
    InputError,
    MixtureBoundaryError,
    MixtureBoundaryWarning,
)
from dreamkit.estimate.duration.duration_dependence import (
    DurationGrid,
    DurationSpec,
    intervals,
    resolve,
)
from dreamkit.estimate.duration.frailty import M_MAX, _link_terms, check_mass_points
from dreamkit.estimate.duration.hazard import _codes, _group
from dreamkit.estimate.duration.mixture_fit import (
    Maximum,
    baseline_basis,
    baseline_names,
    covariance,
    maximise,
)
from dreamkit.estimate.duration.person_period import duration_arrays, require_columns
from dreamkit.estimate.glm import CovType, Link
from dreamkit.estimate.results import Result

MAX_CELL_WEEKS = 40_000_000
P_JOINT_MIN = 1e-4
COMBOS = ("0,0", "0,1", "1,0", "1,1")  # (v_exit, v_entry) at (0 or m_e, 0 or m_p)
START_POINTS = ((-1.0, 1.0), (-1.5, 0.5), (-0.5, 1.5), (1.0, 1.0))


@dataclass(frozen=True)
class _ToEData:
    """Compressed spells: cells (pattern, duration, exit, entry week) with weights, and the
    index of every (cell, week) into the small (pattern, week, effect band) grid on which the
    link functions are evaluated."""

    xp: NDArray[np.float64]  # (P, k) covariates of each pattern
    pat: NDArray[np.int64]  # (cells,) pattern of each cell
    d: NDArray[np.int64]
    e: NDArray[np.float64]
    tp: NDArray[np.int64]  # 0: no entry by d
    w: NDArray[np.float64]
    code_e: NDArray[np.int64]  # (cells, W) grid index (pattern, week, band + 1) for exit
    risk_e: NDArray[np.float64]  # (cells, W) 1 where the week adds -c (survived or censored)
    last_e: NDArray[np.int64]  # (cells,) grid index of the exit week
    code_p: NDArray[np.int64]  # (cells, W) grid index (pattern, week) for entry
    risk_p: NDArray[np.float64]  # (cells, W) 1 where entry did not happen in that week
    last_p: NDArray[np.int64]  # (cells,) grid index of the entry week (0 if none; masked)
    cluster_of_pattern: NDArray[np.int64] | None
    n_clusters: int
    basis_e: NDArray[np.float64]
    basis_p: NDArray[np.float64]
    n_bands: int
    grid_e: DurationGrid
    grid_p: DurationGrid
    n_persons: int
    n_events: int
    n_entries: int

    @property
    def weeks(self) -> int:
        return self.basis_e.shape[0] - 1

    @property
    def n_patterns(self) -> int:
        return self.xp.shape[0]


@dataclass(frozen=True)
class TimingOfEvents:
    """Joint hazards of exit and programme entry with correlated 2 x 2 mass points.

    Args:
        link: ``"cloglog"`` (hazard ratios, the mixed proportional hazard; default) or
            ``"logit"``.
        duration_spec: baseline of the exit hazard (default 4-week intervals).
        entry_spec: baseline of the entry hazard (default 4-week intervals).
        covariates: numeric columns entering both hazards.
        effect_cuts: upper ends of the bands of weeks since entry with their own effect
            (``()``: one effect ``programme``).
        entry: column with the week of programme entry (null: no entry by the end of the
            spell).
        cluster, cov_type: as for :class:`~dreamkit.estimate.duration.hazard.DiscreteTimeHazard`.
    """

    link: Link = "cloglog"
    duration_spec: DurationSpec = field(default_factory=intervals)
    entry_spec: DurationSpec = field(default_factory=intervals)
    covariates: tuple[str, ...] = ()
    effect_cuts: tuple[int, ...] = ()
    entry: str = "entry"
    cluster: str | None = "team"
    cov_type: CovType | None = None

    @property
    def effect_names(self) -> tuple[str, ...]:
        if not self.effect_cuts:
            return ("programme",)
        lo = [1, *(c + 1 for c in self.effect_cuts)]
        hi = [str(c) for c in self.effect_cuts] + [""]
        return tuple(
            f"programme[{a}-{b}]" if b else f"programme[{a}+]" for a, b in zip(lo, hi, strict=True)
        )

    def _cov_type(self) -> CovType:
        if self.cov_type is not None:
            if self.cov_type == "CRV1" and not self.cluster:
                raise InputError("cov_type='CRV1' needs a cluster column (cluster=...).")
            return self.cov_type
        return "CRV1" if self.cluster else "iid"

    def fit(
        self, spells: pl.DataFrame, *, duration: str = "duration", event: str = "event"
    ) -> TimingResult:
        """Fit on one row per spell: duration, exit flag and entry week (module docstring)."""
        if not isinstance(spells, pl.DataFrame):
            spells = pl.from_pandas(spells)
        data = self._prepare(spells, duration, event)
        k = len(self.covariates)
        nd = data.n_bands
        head = (
            *(f"exit:{n}" for n in baseline_names(data.grid_e)),
            *(f"exit:{c}" for c in self.covariates),
            *self.effect_names,
            *(f"entry:{n}" for n in baseline_names(data.grid_p)),
            *(f"entry:{c}" for c in self.covariates),
            "exit:mass_point",
            "entry:mass_point",
        )
        base = np.concatenate(
            [
                _start(data.grid_e, data.basis_e, *_rates_exit(data), self.link),
                np.zeros(k + nd),
                _start(data.grid_p, data.basis_p, *_rates_entry(data), self.link),
                np.zeros(k),
            ]
        )
        off = base.size
        link = self.link
        support: tuple[bool, ...] = (True, True, True, True)

        def run(
            theta0: NDArray[np.float64], support: tuple[bool, ...]
        ) -> tuple[Maximum, NDArray[np.float64]]:
            def fun(th: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
                ll, g, _ = toe_loglik(data, th, link, support=support)
                return ll, g

            def at_boundary(th: NDArray[np.float64]) -> bool:
                pi = joint_probabilities(th[off + 2 :], support)
                return bool(
                    np.abs(th[off : off + 2]).max() > M_MAX or pi[list(support)].min() < P_JOINT_MIN
                )

            best = maximise(fun, theta0, float(data.n_persons), at_boundary=at_boundary)
            return best, joint_probabilities(best.theta[off + 2 :], support)

        # several starts (mixture likelihoods have local maxima): the first interior maximum
        tried: list[tuple[Maximum, NDArray[np.float64]]] = []
        for m0 in START_POINTS:
            best, pi = run(np.r_[base, m0, np.zeros(3)], support)
            tried.append((best, pi))
            if best.converged:
                break
        else:
            # every start ended at the boundary of the joint distribution: drop the empty
            # combination (a 3-point joint support) and refit from the best boundary solution
            best, pi = max(tried, key=lambda r: r[0].log_likelihood)
            empty = int(np.argmin(pi))
            if pi[empty] < P_JOINT_MIN and np.abs(best.theta[off : off + 2]).max() <= M_MAX:
                support = tuple(j != empty for j in range(4))
                q_full = np.log(np.maximum(pi, 1e-300))
                ref = support.index(True)
                free = [j for j in range(4) if support[j] and j != ref]
                theta0 = np.r_[best.theta[: off + 2], q_full[free] - q_full[ref]]
                best, pi = run(theta0, support)
                warnings.warn(
                    f"timing-of-events: the joint probability of (v_exit, v_entry) = "
                    f"{COMBOS[empty]} went to 0 (boundary); the model was refitted with the "
                    "other three support points (the constrained maximum). Report it as such; "
                    "with more data the fourth point may become identified.",
                    MixtureBoundaryWarning,
                    stacklevel=2,
                )
        m_e, m_p = best.theta[off], best.theta[off + 1]
        if pi[list(support)].min() < P_JOINT_MIN and np.abs([m_e, m_p]).max() <= M_MAX:
            raise MixtureBoundaryError(
                f"timing-of-events: the joint mixing distribution has a combination with "
                f"probability {pi[list(support)].min():.2g} even with three support points: "
                "the data show no correlated heterogeneity of this form. Check the model with "
                "more data or a coarser baseline."
            )
        check_mass_points(
            np.array([0.0, m_e]),
            np.array([pi[0] + pi[1], pi[2] + pi[3]]),
            True,
            "",
            "timing-of-events: the exit hazard's mixing distribution",
        )
        check_mass_points(
            np.array([0.0, m_p]),
            np.array([pi[0] + pi[2], pi[1] + pi[3]]),
            best.converged,
            best.message,
            "timing-of-events: the entry hazard's mixing distribution",
        )
        ref = support.index(True)
        names = (
            *head,
            *(f"logit_prob[{COMBOS[j]}]" for j in range(4) if support[j] and j != ref),
        )
        cov_type = self._cov_type()
        if cov_type == "iid":
            cov, corr = covariance(best.hessian, None, None, 0, data.n_persons)
        else:
            # per-cluster scores: one evaluation on cells that keep the cluster apart
            by_cluster = self._prepare(spells, duration, event, with_cluster=True)
            _, _, scores = toe_loglik(
                by_cluster, best.theta, link, per_pattern=True, support=support
            )
            assert scores is not None and by_cluster.cluster_of_pattern is not None
            cov, corr = covariance(
                best.hessian,
                scores,
                by_cluster.cluster_of_pattern,
                by_cluster.n_clusters,
                data.n_persons,
            )
        return TimingResult(
            model=self,
            names=names,
            params=best.theta,
            cov=cov,
            vcov_type=cov_type,
            correction=corr,
            log_likelihood=best.log_likelihood,
            iterations=best.iterations,
            probabilities=pi,
            support=support,
            data=data,
        )

    def _prepare(
        self, df: pl.DataFrame, duration: str, event: str, with_cluster: bool = False
    ) -> _ToEData:
        d, e = duration_arrays(df, duration, event)
        require_columns(df, [self.entry, *self.covariates], "spells")
        if self.cluster:
            require_columns(df, [self.cluster], "spells")
        for c in self.covariates:
            if df[c].null_count() or not df[c].dtype.is_numeric():
                raise InputError(
                    f"column {c!r} must be numeric without missing values (it has "
                    f"{df[c].null_count()} missing, dtype {df[c].dtype})."
                )
        ent = df[self.entry]
        if not ent.dtype.is_integer():
            raise InputError(
                f"column {self.entry!r} has dtype {ent.dtype}; it must hold the integer week of "
                "programme entry (null for no entry during the spell)."
            )
        tp = ent.fill_null(0).to_numpy().astype(np.int64)
        if (tp < 0).any() or ((tp == 0) & ent.is_not_null().to_numpy()).any():
            raise InputError(
                f"column {self.entry!r} has value {int(tp.min())}; entry weeks count from 1 "
                "(week 1 of the spell); use null for no entry."
            )
        if (tp > d).any():
            raise InputError(
                f"column {self.entry!r} has an entry in week {int(tp[tp > d][0])} after the "
                f"spell ended (duration {int(d[tp > d][0])}); an entry after the exit or "
                "censoring is not part of the spell: set it to null."
            )
        entered = tp > 0
        weeks_seen = np.unique(tp[entered])
        if weeks_seen.size == 0:
            raise IdentificationError(
                f"no spell has a programme entry (column {self.entry!r} is null throughout): "
                "the timing-of-events model needs entries. Check the entry coding."
            )
        if weeks_seen.size < 2:
            raise IdentificationError(
                f"every programme entry is in week {int(weeks_seen[0])} of the spell: without "
                "variation in entry timing the timing-of-events effect is not identified (it "
                "rests on comparing exits shortly after entries at different durations). Use "
                "data where entry dates vary (e.g. rolling programme starts), or a design-"
                "based comparison of entrants and non-entrants instead."
            )
        if entered.all():
            raise IdentificationError(
                "every spell enters the programme: the entry hazard has no non-entrants and "
                "the no-entry survival is not observed. Include spells that have not (yet) "
                "entered."
            )
        w = int(d.max())
        # grids: exits by week / at risk; entries by week / at risk of entry
        n_d = np.bincount(d, minlength=w + 1).astype(np.float64)
        at_risk = np.concatenate([[0.0], np.cumsum(n_d[::-1])[::-1][1:]])
        grid_e = resolve(
            self.duration_spec,
            np.bincount(d, weights=e.astype(float), minlength=w + 1).astype(np.float64),
            at_risk,
        )
        last_p = np.where(entered, tp, d)
        n_p = np.bincount(last_p, minlength=w + 1).astype(np.float64)
        risk_p = np.concatenate([[0.0], np.cumsum(n_p[::-1])[::-1][1:]])
        grid_p = resolve(
            self.entry_spec,
            np.bincount(tp[entered], minlength=w + 1).astype(np.float64),
            risk_p,
        )
        raw = (
            df.select(pl.col(list(self.covariates)).cast(pl.Float64)).to_numpy()
            if self.covariates
            else np.zeros((d.size, 0))
        )
        cl = _codes(df[self.cluster]) if self.cluster else None
        n_cl = int(cl.max()) + 1 if cl is not None else 0
        if cl is not None and n_cl < 2:
            raise InputError(f"column {self.cluster!r} has one cluster; CRV1 needs >= 2.")
        pkeys = [cl] if cl is not None and with_cluster else []
        pkeys += [_codes(pl.Series(raw[:, j])) for j in range(raw.shape[1])]
        pattern, pfirst = (
            _group(pkeys) if pkeys else (np.zeros(d.size, np.int64), np.zeros(1, np.int64))
        )
        inv, first = _group([pattern, d, e.astype(np.int64), tp])
        n_cells = first.size
        if n_cells * w > MAX_CELL_WEEKS:
            raise InputError(
                f"{n_cells} distinct (covariates, cluster, duration, exit, entry) cells x {w} "
                "weeks is too large for the timing-of-events arrays; coarsen continuous "
                "covariates into groups."
            )
        cuts = np.asarray(self.effect_cuts, dtype=np.int64)
        if cuts.size and ((cuts < 1).any() or (np.diff(cuts) <= 0).any()):
            raise InputError(
                f"effect_cuts={self.effect_cuts}: give increasing positive weeks since entry."
            )
        nb = cuts.size + 1
        s = np.arange(1, w + 1)
        tpc, dc, ec, pc = tp[first], d[first], e[first].astype(np.float64), pattern[first]
        since = s[None, :] - tpc[:, None]
        band = np.where(
            (tpc[:, None] > 0) & (since >= 1), np.searchsorted(cuts, since, side="left"), -1
        )
        code_e = (pc[:, None] * w + (s[None, :] - 1)) * (nb + 1) + band + 1
        rows = np.arange(n_cells)
        in_e = s[None, :] <= dc[:, None]
        risk_e = in_e & ~((s[None, :] == dc[:, None]) & (ec[:, None] > 0))
        entered_c = tpc > 0
        end_p = np.where(entered_c, tpc, dc)
        risk_p = (s[None, :] <= end_p[:, None]) & ~(
            (s[None, :] == tpc[:, None]) & entered_c[:, None]
        )
        return _ToEData(
            xp=raw[pfirst],
            pat=pc,
            d=dc,
            e=ec,
            tp=tpc,
            w=np.bincount(inv, minlength=n_cells).astype(np.float64),
            code_e=code_e.astype(np.int64),
            risk_e=risk_e.astype(np.float64),
            last_e=code_e[rows, dc - 1].astype(np.int64),
            code_p=(pc[:, None] * w + (s[None, :] - 1)).astype(np.int64),
            risk_p=risk_p.astype(np.float64),
            last_p=(pc * w + np.maximum(tpc, 1) - 1).astype(np.int64),
            cluster_of_pattern=cl[pfirst] if cl is not None and with_cluster else None,
            n_clusters=n_cl,
            basis_e=baseline_basis(grid_e, w),
            basis_p=baseline_basis(grid_p, w),
            n_bands=nb,
            grid_e=grid_e,
            grid_p=grid_p,
            n_persons=int(d.size),
            n_events=int(e.sum()),
            n_entries=int(entered.sum()),
        )


def _rates_exit(data: _ToEData) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    w = data.weeks
    ev = np.bincount(data.d, weights=data.w * data.e, minlength=w + 1).astype(np.float64)
    n_d = np.bincount(data.d, weights=data.w, minlength=w + 1)
    return ev, np.concatenate([[0.0], np.cumsum(n_d[::-1])[::-1][1:]])


def _rates_entry(data: _ToEData) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    w = data.weeks
    entered = data.tp > 0
    ev = np.bincount(data.tp[entered], weights=data.w[entered], minlength=w + 1).astype(np.float64)
    last = np.where(entered, data.tp, data.d)
    n_l = np.bincount(last, weights=data.w, minlength=w + 1)
    return ev, np.concatenate([[0.0], np.cumsum(n_l[::-1])[::-1][1:]])


def _start(
    grid: DurationGrid,
    basis: NDArray[np.float64],
    events: NDArray[np.float64],
    at_risk: NDArray[np.float64],
    link: Link,
) -> NDArray[np.float64]:
    """Baseline start values: least squares of F(pooled rate of each week's group)."""
    w = basis.shape[0] - 1
    g = grid.lut[1 : w + 1]
    n_g = int(g.max()) + 1
    rate = np.bincount(g, weights=events[1:], minlength=n_g) / np.maximum(
        np.bincount(g, weights=at_risk[1:], minlength=n_g), 1.0
    )
    r = np.clip(rate[g], 1e-6, 1 - 1e-6)
    f = np.log(r / (1 - r)) if link == "logit" else np.log(-np.log1p(-r))
    sol = np.linalg.lstsq(basis[1:], f, rcond=None)[0]
    return np.asarray(sol, dtype=np.float64)


def joint_probabilities(
    q_free: NDArray[np.float64], support: tuple[bool, ...] = (True, True, True, True)
) -> NDArray[np.float64]:
    """Joint probabilities of the combinations 00, 01, 10, 11 from the free logits (the first
    combination in the support is the reference with logit 0; others outside get 0)."""
    ref = support.index(True)
    q = np.full(4, -np.inf)
    q[ref] = 0.0
    q[[j for j in range(4) if support[j] and j != ref]] = q_free
    return np.asarray(np.exp(q - scipy.special.logsumexp(q)), dtype=np.float64)


def toe_loglik(
    data: _ToEData,
    theta: NDArray[np.float64],
    link: Link,
    per_pattern: bool = False,
    support: tuple[bool, ...] = (True, True, True, True),
) -> tuple[float, NDArray[np.float64], NDArray[np.float64] | None]:
    """Log likelihood, gradient (and per-pattern scores) of the timing-of-events model.

    The link terms are evaluated on the (pattern, week, effect band) grid and gathered for
    every (cell, week); the gradient is assembled on the grid from posterior-weighted
    at-risk and event counts (module docstring).
    """
    k = data.xp.shape[1]
    na_e, na_p, nd = data.basis_e.shape[1], data.basis_p.shape[1], data.n_bands
    pos = np.cumsum([0, na_e, k, nd, na_p, k])
    a_e, b_e, delta, a_p, b_p = (theta[pos[j] : pos[j + 1]] for j in range(5))
    m_e, m_p = theta[pos[5]], theta[pos[5] + 1]
    pi = joint_probabilities(theta[pos[5] + 2 :], support)
    with np.errstate(divide="ignore"):
        log_pi = np.log(pi)
    ref = support.index(True)
    free = [j for j in range(4) if support[j] and j != ref]
    n_p, w = data.n_patterns, data.weeks
    grid_e = (
        (data.basis_e @ a_e)[1:][None, :, None]
        + (data.xp @ b_e)[:, None, None]
        + np.concatenate([[0.0], delta])[None, None, :]
    ).ravel()  # (P * W * (nd + 1))
    grid_p = ((data.basis_p @ a_p)[1:][None, :] + (data.xp @ b_p)[:, None]).ravel()
    entered = (data.tp > 0).astype(np.float64)
    log_le, terms_e = [], []
    for m in (0.0, m_e):
        c, c1, lh, lh1 = _link_terms(link, grid_e + m)
        log_le.append(-(data.risk_e * c[data.code_e]).sum(axis=1) + data.e * lh[data.last_e])
        terms_e.append((c1, lh1))
    log_lp, terms_p = [], []
    for m in (0.0, m_p):
        c, c1, lh, lh1 = _link_terms(link, grid_p + m)
        log_lp.append(-(data.risk_p * c[data.code_p]).sum(axis=1) + entered * lh[data.last_p])
        terms_p.append((c1, lh1))
    joint = np.stack(
        [log_le[a] + log_lp[b] + log_pi[2 * a + b] for a in (0, 1) for b in (0, 1)], axis=1
    )
    ll_cell = scipy.special.logsumexp(joint, axis=1)
    post = np.exp(joint - ll_cell[:, None])  # (cells, 4) order 00, 01, 10, 11
    ll = float(data.w @ ll_cell)
    wpe = data.w[:, None] * np.column_stack([post[:, 0] + post[:, 1], post[:, 2] + post[:, 3]])
    wpp = data.w[:, None] * np.column_stack([post[:, 0] + post[:, 2], post[:, 1] + post[:, 3]])
    size_e, size_p = grid_e.size, grid_p.size
    g_e = np.zeros(size_e)  # d ll / d grid_e, summed over the two exit points
    g_e1 = np.zeros(size_e)
    for j, (c1, lh1) in enumerate(terms_e):
        risk = np.bincount(
            data.code_e.ravel(), weights=(data.risk_e * wpe[:, [j]]).ravel(), minlength=size_e
        )
        hit = np.bincount(data.last_e, weights=wpe[:, j] * data.e, minlength=size_e)
        gj = -risk * c1 + hit * lh1
        g_e += gj
        if j == 1:
            g_e1 = gj
    g_p = np.zeros(size_p)
    g_p1 = np.zeros(size_p)
    for j, (c1, lh1) in enumerate(terms_p):
        risk = np.bincount(
            data.code_p.ravel(), weights=(data.risk_p * wpp[:, [j]]).ravel(), minlength=size_p
        )
        hit = np.bincount(data.last_p, weights=wpp[:, j] * entered, minlength=size_p)
        gj = -risk * c1 + hit * lh1
        g_p += gj
        if j == 1:
            g_p1 = gj
    ge3 = g_e.reshape(n_p, w, nd + 1)
    gp2 = g_p.reshape(n_p, w)
    q_p = np.column_stack(
        [np.bincount(data.pat, weights=data.w * (post[:, j] - pi[j]), minlength=n_p) for j in free]
    )
    ge_pw = ge3.sum(axis=2)
    ge_p = ge_pw.sum(axis=1)
    gp_p = gp2.sum(axis=1)
    scores = np.column_stack(
        [
            ge_pw @ data.basis_e[1:],
            data.xp * ge_p[:, None],
            ge3[:, :, 1:].sum(axis=1),
            gp2 @ data.basis_p[1:],
            data.xp * gp_p[:, None],
            g_e1.reshape(n_p, -1).sum(axis=1),
            g_p1.reshape(n_p, -1).sum(axis=1),
            q_p,
        ]
    )
    return ll, scores.sum(axis=0), scores if per_pattern else None


@dataclass(frozen=True, repr=False)
class TimingResult(Result):
    """A fitted timing-of-events model (result protocol).

    ``tidy()`` shows the programme effect(s) (``programme`` or ``programme[a-b]``), the
    covariates of both hazards (``exit:x``, ``entry:x``) and the heterogeneity parameters;
    ``tidy(fixed_effects=True)`` adds both baselines. ``exponentiate=True``: hazard ratios
    (cloglog) or odds ratios (logit). :attr:`vcov` in the order of
    ``tidy(fixed_effects=True)``. ``glance()``: n_obs (spells), n_entries, n_events,
    log_likelihood, n_points (4: 2 x 2), heterogeneity correlation, converged.
    """

    model: TimingOfEvents
    names: tuple[str, ...]
    params: NDArray[np.float64]
    cov: NDArray[np.float64]
    vcov_type: str
    correction: float
    log_likelihood: float
    iterations: int
    probabilities: NDArray[np.float64]
    data: _ToEData
    support: tuple[bool, ...] = (True, True, True, True)

    @property
    def model_name(self) -> str:
        return f"Timing-of-events ({self.model.link}, {sum(self.support)} of 2x2 mass points)"

    @property
    def ratio_name(self) -> str:
        return "hazard_ratio" if self.model.link == "cloglog" else "odds_ratio"

    @property
    def vcov(self) -> NDArray[np.float64]:
        return self.cov

    def coef(self, term: str) -> float:
        return float(self.params[self._index(term)])

    def se(self, term: str) -> float:
        i = self._index(term)
        return float(np.sqrt(self.cov[i, i]))

    def _index(self, term: str) -> int:
        try:
            return self.names.index(term)
        except ValueError:
            raise InputError(f"no term {term!r}; terms are {list(self.names)}.") from None

    @property
    def heterogeneity(self) -> pl.DataFrame:
        """The 2 x 2 support ``(v_e, v_p)`` and joint probabilities."""
        m_e, m_p = self.coef("exit:mass_point"), self.coef("entry:mass_point")
        return pl.DataFrame(
            {
                "v_exit": [0.0, 0.0, m_e, m_e],
                "v_entry": [0.0, m_p, 0.0, m_p],
                "probability": self.probabilities,
            }
        )

    @property
    def correlation(self) -> float:
        """Correlation of ``v_e`` and ``v_p`` under the joint probabilities."""
        h = self.heterogeneity
        p = h["probability"].to_numpy()
        ve, vp = h["v_exit"].to_numpy(), h["v_entry"].to_numpy()
        me, mp = p @ ve, p @ vp
        cov = p @ ((ve - me) * (vp - mp))
        sd = np.sqrt((p @ (ve - me) ** 2) * (p @ (vp - mp) ** 2))
        return float(cov / sd) if sd > 0 else float("nan")

    def _coefficients(self) -> pl.DataFrame:
        k = len(self.names)
        return pl.DataFrame(
            {
                "term": list(self.names),
                "estimate": self.params,
                "std_error": np.sqrt(np.diag(self.cov)),
                "df": np.full(k, np.inf),
            }
        )

    def _hidden_terms(self) -> set[str]:
        """Both baselines (shown with ``tidy(fixed_effects=True)``)."""
        return {
            *(f"exit:{n}" for n in baseline_names(self.data.grid_e)),
            *(f"entry:{n}" for n in baseline_names(self.data.grid_p)),
        }

    def _glance(self) -> dict[str, Any]:
        return {
            "n_obs": self.data.n_persons,
            "n_clusters": self.data.n_clusters if self.vcov_type == "CRV1" else None,
            "vcov_type": self.vcov_type,
            "df": None,
            "log_likelihood": self.log_likelihood,
            "link": self.model.link,
            "n_points": int(sum(self.support)),
            "heterogeneity_correlation": self.correlation,
            "n_events": self.data.n_events,
            "n_entries": self.data.n_entries,
            "n_cells": int(self.data.w.size),
            "iterations": self.iterations,
            "converged": True,
        }

    def _notes(self) -> tuple[str, ...]:
        notes = ["programme effect from the week after entry (no anticipation assumed)"]
        if self.vcov_type == "CRV1":
            notes.append(f"CRV1 small-sample factor {self.correction:.4f}")
        return (*notes, *self.data.grid_e.merges, *self.data.grid_p.merges)
