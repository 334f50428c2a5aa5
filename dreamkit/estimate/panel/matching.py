r"""Matching participants to non-participants on their register histories (dynamic matching).

For each participant :math:`i` with programme start in calendar week :math:`w_i`, the
comparison pool is every register person who has **not started by** :math:`w_i` (never
starts, or starts later: the dynamic rule; a later starter is a valid control at
:math:`w_i`, so the effect is of starting now versus not yet, ITT-style: controls who start
later carry their own effects into the comparison). ``pool="never"`` keeps only persons who
never start (the effect versus never starting, if those are comparable). Matching is **exact
on the calendar week of entry**: every candidate is described at :math:`w_i`, by the shares
of weeks in the state set(s) ``history`` in the :math:`P/L` pre-windows of :math:`L` weeks
before :math:`w_i` (as :func:`dreamkit.outcomes.windows.pre_window_shares`).

Within each entry week, the :math:`M` (``ratio``) nearest candidates are taken, with
replacement (exact ties, common with shares of few weeks, are broken at random, seeded), by

* ``method="mahalanobis"``: :math:`d(x_i, x_j) = \sqrt{(x_i-x_j)'S^{-1}(x_i-x_j)}`, with
  :math:`S` the candidates' covariance in that week (plus :math:`10^{-8}` on the diagonal);
  ``caliper`` (if given) bounds :math:`d`;
* ``method="pscore"``: the linear predictor of a logit of participation on the history
  features (statsmodels, pooled over the stacked weekly samples); ``caliper`` (default 0.2)
  bounds :math:`|\Delta|` in standard deviations of the linear predictor.

Participants without a candidate inside the caliper are dropped and counted (a
:class:`~dreamkit.errors.DreamkitWarning` names how many); with none left,
:class:`~dreamkit.errors.InputError` ("no common support").

**Balance**: standardised differences :math:`(\bar x_1 - \bar x_0)/\sqrt{(s_1^2+s_0^2)/2}`
before (participants vs all eligible candidates of their week) and after matching (vs the
matched controls, each weighted :math:`1/M`), with the before-matching variances in the
denominator.

**Effect path**: for relative week :math:`k` (``-lead..horizon-1``), with
:math:`y = 1[s \in \text{outcome}]`,
:math:`\hat\tau_k = \frac{1}{N_1}\sum_i \big(y_{i,w_i+k} - \frac1M\sum_{j\in J(i)}
y_{j,w_i+k}\big)`. Standard errors by the **bootstrap of matched sets** (participants are
resampled with their matched controls, the matching is held fixed; seeded). This treats the
matched sets as independent; with heavy reuse of controls across sets (``glance()``:
``max_control_reuse``) it understates the variance (Abadie and Imbens 2006 give the
correction; not implemented), so a :class:`~dreamkit.errors.InferenceWarning` is raised when a
control serves more than 10 sets. ``conventional_se`` is :math:`\mathrm{sd}(d_{ik})/\sqrt{N_1}`.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import polars as pl
import scipy.spatial

from dreamkit.errors import (
    DreamkitWarning,
    DuplicateError,
    EmptyInputError,
    EstimationError,
    InferenceWarning,
    InputError,
)
from dreamkit.estimate.panel.event_study import NEVER, _require, _start_weeks, _to_polars
from dreamkit.estimate.results import Result

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


class MatchResult(Result):
    """Effect path on the matched sample (module docstring); family column ``week``.

    :attr:`balance` holds the standardised differences before and after matching.
    ``vcov`` is the bootstrap covariance of the path (weeks in ``tidy()`` order).
    """

    family_columns: ClassVar[tuple[str, ...]] = ("week",)

    def __init__(
        self,
        *,
        weeks: I64,
        estimate: F64,
        vcov: F64,
        conventional_se: F64,
        balance: pl.DataFrame,
        stats: dict[str, Any],
    ) -> None:
        self.weeks = weeks
        self.estimate = estimate
        self._vcov = vcov
        self.conventional_se = conventional_se
        self.balance = balance
        self.stats = stats

    @property
    def model_name(self) -> str:
        return "MatchedHistories"

    @property
    def vcov(self) -> F64:
        return self._vcov

    def _coefficients(self) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "term": [f"week={k}" for k in self.weeks],
                "week": self.weeks,
                "estimate": self.estimate,
                "std_error": np.sqrt(np.clip(np.diag(self._vcov), 0.0, None)),
                "df": np.full(self.weeks.size, np.inf),
                "conventional_se": self.conventional_se,
            }
        )

    def _glance(self) -> dict[str, Any]:
        return dict(self.stats)


def _features(
    states: npt.NDArray[np.uint8],
    rows: I64,
    col_end: int,
    masks: Sequence[npt.NDArray[np.bool_]],
    pre_weeks: int,
    window: int,
) -> F64:
    """Shares per pre-window (oldest first) for each mask: (len(rows), n_masks * P/L)."""
    block = states[rows, col_end - pre_weeks : col_end]
    out = [m[block].reshape(rows.size, pre_weeks // window, window).mean(axis=2) for m in masks]
    return np.hstack(out)


def _whiten(xp: F64, xc: F64) -> tuple[F64, F64]:
    """Coordinates in which Euclidean distance is the Mahalanobis distance of ``xc``'s cov."""
    cov = np.atleast_2d(np.cov(xc, rowvar=False)) + 1e-8 * np.eye(xc.shape[1])
    chol = np.linalg.cholesky(np.linalg.inv(cov))
    return xp @ chol, xc @ chol


def nearest(zp: F64, zc: F64, ratio: int = 1) -> tuple[I64, F64]:
    """The ``ratio`` nearest rows of ``zc`` for each row of ``zp`` (Euclidean, k-d tree):
    (indices, distances), both (len(zp), ratio), nearest first."""
    tree = scipy.spatial.cKDTree(zc)
    dist, idx = tree.query(zp, k=ratio)
    return (
        np.asarray(idx, dtype=np.int64).reshape(zp.shape[0], ratio),
        np.asarray(dist, dtype=np.float64).reshape(zp.shape[0], ratio),
    )


def mahalanobis_nearest(xp: F64, xc: F64, ratio: int = 1) -> tuple[I64, F64]:
    """Nearest candidates by Mahalanobis distance with the candidates' covariance."""
    return nearest(*_whiten(xp, xc), ratio)


def _std_diff(x1: F64, x0: F64, w0: F64 | None, denom: F64) -> F64:
    m1 = x1.mean(axis=0)
    m0 = np.average(x0, axis=0, weights=w0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denom > 0, (m1 - m0) / denom, 0.0)


def match_histories(
    register: Any,
    participants: Any,
    *,
    outcome: str | Iterable[str],
    history: Sequence[str | Iterable[str]] | None = None,
    start: str = "start_week",
    person: str = "person_id",
    pre_weeks: int = 52,
    window: int = 13,
    horizon: int = 52,
    lead: int = 13,
    method: str = "mahalanobis",
    caliper: float | None = None,
    ratio: int = 1,
    bootstrap: int = 499,
    seed: int = 0,
    pool: str = "not_yet",
) -> MatchResult:
    """Dynamic nearest-neighbour matching on pre-period histories (module docstring).

    Args:
        register: a :class:`~dreamkit.register.Register`.
        participants: persons who start (``person``, ``start``: week ordinal or date). Every
            other register person is a never-starter.
        outcome: state set of the outcome indicator (e.g. ``"employment"``).
        history: state sets whose pre-window shares are matched on (default: ``outcome``).
        pre_weeks, window: :math:`P` weeks before the start in windows of :math:`L`.
        horizon, lead: the effect path covers relative weeks ``-lead..horizon-1``.
        method: ``"mahalanobis"`` or ``"pscore"``; caliper: see the module docstring.
        ratio: :math:`M` controls per participant (with replacement).
        bootstrap, seed: draws of the matched-set bootstrap.
        pool: ``"not_yet"`` (the dynamic rule: everyone not started by the participant's
            week, including later starters; effect of starting now vs not yet) or
            ``"never"`` (only persons who never start; effect vs never starting).
    """
    if pool not in ("not_yet", "never"):
        raise InputError(f"pool={pool!r}; choose 'not_yet' or 'never'.")
    if method not in ("mahalanobis", "pscore"):
        raise InputError(f"method={method!r}; choose 'mahalanobis' or 'pscore'.")
    if ratio < 1 or bootstrap < 2:
        raise InputError("ratio must be >= 1 and bootstrap >= 2.")
    if pre_weeks < window or pre_weeks % window:
        raise InputError(
            f"pre_weeks ({pre_weeks}) must be a positive multiple of window ({window})."
        )
    if lead > pre_weeks:
        raise InputError(f"lead ({lead}) must not exceed pre_weeks ({pre_weeks}).")
    df = _to_polars(participants)
    _require(df, [person, start])
    if df.height == 0:
        raise EmptyInputError("no participants.")
    if df[start].null_count():
        raise InputError(f"column {start!r} has missing start weeks; participants must start.")
    rows_p = register.require_rows(df[person], column=person)
    if np.unique(rows_p).size != rows_p.size:
        raise DuplicateError(f"persons repeat in column {person!r}; one start per person.")
    cm = register.codemap
    out_mask = cm.mask(outcome)
    masks = [cm.mask(h) for h in (history or [outcome])]
    first, last = int(register.first_week), int(register.last_week)
    w_p = _start_weeks(df[start])
    early = int((w_p - pre_weeks < first).sum())
    if early:
        raise InputError(
            f"{early} participant(s) start less than pre_weeks={pre_weeks} weeks after the "
            "register begins, so their history would need data before it. Reduce pre_weeks "
            "or drop these early starters."
        )
    late = int((w_p + horizon - 1 > last).sum())
    if late:
        raise InputError(
            f"{late} participant(s) start too late for horizon={horizon} weeks of follow-up "
            "in the register. Reduce horizon or drop the late starters."
        )
    start_all = np.full(register.n_persons, NEVER, dtype=np.int64)
    start_all[rows_p] = w_p
    states = register.states
    weeks = np.unique(w_p)
    # features per entry week
    per_week = []
    for w in weeks:
        col = int(w) - first
        pr = rows_p[w_p == w]
        later = (start_all > w) if pool == "not_yet" else np.zeros(start_all.size, dtype=bool)
        cand = np.flatnonzero((start_all == NEVER) | later)
        if cand.size < ratio:
            raise InputError(
                f"entry week index {col}: {cand.size} person(s) have not started by then, "
                f"fewer than ratio={ratio}; there is no comparison group for these starters."
            )
        xp = _features(states, pr, col, masks, pre_weeks, window)
        xc = _features(states, cand, col, masks, pre_weeks, window)
        per_week.append((int(w), pr, cand, xp, xc))
    score_sd = 1.0
    scores: list[tuple[F64, F64]] = []
    if method == "pscore":
        import statsmodels.api as sm

        x_all = np.vstack([np.vstack([xp, xc]) for _, _, _, xp, xc in per_week])
        d_all = np.concatenate(
            [np.r_[np.ones(xp.shape[0]), np.zeros(xc.shape[0])] for _, _, _, xp, xc in per_week]
        )
        keep = x_all.std(axis=0) > 0
        design = sm.add_constant(x_all[:, keep], has_constant="add")
        fit = sm.Logit(d_all, design).fit(disp=0, maxiter=200)
        if not fit.mle_retvals.get("converged", False):
            raise EstimationError(
                "the propensity-score logit did not converge (perfect prediction?); use "
                "method='mahalanobis' or coarser history windows."
            )
        lin = design @ fit.params
        score_sd = float(lin.std()) or 1.0
        pos = 0
        for _, _, _, xp, xc in per_week:
            n1, n0 = xp.shape[0], xc.shape[0]
            scores.append((lin[pos : pos + n1, None], lin[pos + n1 : pos + n1 + n0, None]))
            pos += n1 + n0
        if caliper is None:
            caliper = 0.2
    # matching
    matched_p: list[I64] = []
    matched_c: list[I64] = []
    x1_all, x1_after, x0_before, x0_after = [], [], [], []
    n_unmatched = 0
    tie_rng = np.random.default_rng([seed, 1])
    for wi, (_, pr, cand, xp, xc) in enumerate(per_week):
        if method == "pscore":
            zp, zc = scores[wi]
            limit = None if caliper is None else caliper * score_sd
        else:
            zp, zc = _whiten(xp, xc)
            limit = caliper
        # random tie-breaking: discrete shares tie often; a seeded jitter of participants and
        # candidates far below the features' resolution (1e-9 of their scale) spreads ties
        scale = float(np.max(np.abs(zc))) or 1.0
        zc = zc + tie_rng.uniform(-1e-9, 1e-9, zc.shape) * scale
        zp = zp + tie_rng.uniform(-1e-9, 1e-9, zp.shape) * scale
        idx, dist = nearest(zp, zc, ratio)
        ok = np.ones(zp.shape[0], dtype=bool) if limit is None else dist[:, -1] <= limit
        n_unmatched += int((~ok).sum())
        matched_p.append(pr[ok])
        matched_c.append(cand[idx[ok]])
        x1_all.append(xp)
        x1_after.append(xp[ok])
        x0_before.append(xc)
        x0_after.append(xc[idx[ok]].reshape(-1, xc.shape[1]))
    mp = np.concatenate(matched_p)
    mc = np.concatenate(matched_c).reshape(-1, ratio)
    if mp.size == 0:
        raise InputError(
            "no common support: no participant has a comparison person inside the caliper. "
            "Widen the caliper, use fewer or coarser history windows, or check that the "
            "pool holds persons like the participants."
        )
    if n_unmatched:
        warnings.warn(
            f"{n_unmatched} of {rows_p.size} participant(s) have no comparison person inside "
            "the caliper (no common support) and are left out; the effect is for the "
            "matched participants. Widen the caliper to keep them.",
            DreamkitWarning,
            stacklevel=2,
        )
    # balance
    x1 = np.vstack(x1_all)
    x0b = np.vstack(x0_before)
    x0a = np.vstack(x0_after)
    denom = np.sqrt((x1.var(axis=0, ddof=1) + x0b.var(axis=0, ddof=1)) / 2)
    x1_matched = np.vstack(x1_after)
    n_win = pre_weeks // window
    names = [
        f"{_label(h)}_pre{pre_weeks - m * window}_{pre_weeks - (m + 1) * window + 1}"
        for h in (history or [outcome])
        for m in range(n_win)
    ]
    balance = pl.DataFrame(
        {
            "feature": names,
            "mean_treated": x1.mean(axis=0),
            "mean_control_before": x0b.mean(axis=0),
            "mean_control_after": x0a.mean(axis=0),
            "std_diff_before": _std_diff(x1, x0b, None, denom),
            "std_diff_after": _std_diff(x1_matched, x0a, None, denom),
        }
    )
    # outcome paths
    ks = np.arange(-lead, horizon, dtype=np.int64)
    wcol = start_all[mp] - first
    cols = wcol[:, None] + ks[None, :]
    y1 = out_mask[states[mp[:, None], cols]].astype(np.float64)
    y0 = out_mask[states[mc[:, :, None], cols[:, None, :]]].astype(np.float64).mean(axis=1)
    d = y1 - y0
    tau = d.mean(axis=0)
    conv = (
        d.std(axis=0, ddof=1) / np.sqrt(d.shape[0]) if d.shape[0] > 1 else np.full(ks.size, np.nan)
    )
    rng = np.random.default_rng(seed)
    draws = np.empty((bootstrap, ks.size))
    for b in range(bootstrap):
        draws[b] = d[rng.integers(0, d.shape[0], d.shape[0])].mean(axis=0)
    vcov = np.atleast_2d(np.cov(draws, rowvar=False))
    uses = np.bincount(mc.ravel(), minlength=register.n_persons)
    max_reuse = int(uses.max())
    if max_reuse > 10:
        warnings.warn(
            f"a comparison person serves {max_reuse} matched sets; the matched-set bootstrap "
            "treats sets as independent and understates the variance under heavy reuse. "
            "Use ratio > 1 or a larger pool.",
            InferenceWarning,
            stacklevel=2,
        )
    stats = {
        "n_obs": int(mp.size * (1 + ratio)),
        "n_clusters": int(mp.size),
        "vcov_type": f"bootstrap of matched sets ({bootstrap}, seed {seed})",
        "df": None,
        "log_likelihood": None,
        "method": method,
        "pool": pool,
        "caliper": caliper,
        "ratio": ratio,
        "n_participants": int(rows_p.size),
        "n_matched": int(mp.size),
        "n_unmatched": n_unmatched,
        "n_entry_weeks": int(weeks.size),
        "n_distinct_controls": int((uses > 0).sum()),
        "max_control_reuse": max_reuse,
        "max_abs_std_diff_after": float(np.max(np.abs(balance["std_diff_after"].to_numpy()))),
    }
    return MatchResult(
        weeks=ks,
        estimate=tau,
        vcov=vcov,
        conventional_se=conv,
        balance=balance,
        stats=stats,
    )


def _label(states: str | Iterable[str]) -> str:
    return states if isinstance(states, str) else "+".join(sorted(states))
