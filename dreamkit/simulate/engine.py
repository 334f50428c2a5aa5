"""The weekly loop: pre-allocation history and post-allocation process on a calendar grid.

Persons are simulated side by side over the register's calendar weeks (vectorised over
persons, one loop over weeks). A person's relative week is ``t = column - allocation
column``: the background chain runs until the lead-in, the current sick spell covers weeks
``-d+1..0`` and the process of :mod:`dreamkit.simulate.process` runs from week 1.

**Common random numbers.** Several *worlds* (treatment vectors, e.g. everyone control and
everyone treated) are simulated with the same uniforms ``u1..u4`` per person-week: ``u1``
decides the first-exit event (and background jumps), ``u2`` destinations and chain moves,
``u3`` activation weeks and ``u4`` the kind of an O spell. Worlds differ only where the
treatment changes a probability, so the difference of two worlds is the true individual
effect, and with all effects zero the worlds are identical.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from dreamkit.simulate import states as S
from dreamkit.simulate.effects import Link, inverse_link
from dreamkit.simulate.history import History
from dreamkit.simulate.process import ProcessParams, destination_cdf, entry_to_employment

_DEST = np.array([S.CAT_E, S.CAT_U, S.CAT_O, S.CAT_D], dtype=np.uint8)
_OTHER = np.array(S.O_STATES, dtype=np.uint8)


@dataclass(frozen=True)
class Persons:
    """What the loop needs per person (world-independent parts)."""

    alloc_col: npt.NDArray[np.int64]  # column of the allocation week in the grid
    history: History
    eta: npt.NDArray[np.float64]  # gamma_k + x'beta
    effect: npt.NDArray[np.float64]  # tau + tau_low Low + tau_peer (P - c)
    tau_lock: float
    lock_end: npt.NDArray[np.int64]  # last relative week of the lock-in
    shift: npt.NDArray[np.float64]  # kappa x'beta: shift of the log-odds of entering E
    employment_entry: float  # treatment shift of the log-odds of entering E
    flexjob: npt.NDArray[np.bool_]
    job_clarification: npt.NDArray[np.bool_]
    resource_course: npt.NDArray[np.bool_]


@dataclass
class _World:
    treated: npt.NDArray[np.int8]
    eta: npt.NDArray[np.float64]
    lock: npt.NDArray[np.float64]
    dest_cdf: npt.NDArray[np.float64]
    entry: npt.NDArray[np.float64]
    cat: npt.NDArray[np.uint8]
    counter: npt.NDArray[np.int32]
    other: npt.NDArray[np.uint8]
    first: npt.NDArray[np.bool_]
    out: npt.NDArray[np.uint8]


def run(
    persons: Persons,
    worlds: list[npt.NDArray[np.int8]],
    n_weeks: int,
    params: ProcessParams,
    link: Link,
    rng: np.random.Generator,
) -> list[npt.NDArray[np.uint8]]:
    """Simulate the detailed states (weeks x persons, ``uint8``) of each world."""
    h = persons.history
    n = persons.eta.size
    rows = np.arange(n)
    # alpha_t at position t + n_weeks (weeks t <= 0 take alpha_1; they are never at risk)
    alpha = np.r_[np.full(n_weeks + 1, params.alpha(1)[0]), params.alpha(n_weeks)]
    chain = _Chain.of(params)
    other_cdf = np.cumsum(params.other_states)
    leave = h.leave[h.kind].T.copy()  # (4, n): weekly probability of leaving each state
    jump_cdf = h.jump_cdf[h.kind].T.copy()  # (4, n)
    lead_start = 1 - h.onset - h.lead
    spell_start = 1 - h.onset
    pre = _inverse_cdf(h.start_cdf[h.kind].T, rng.random(n))
    state = [_new_world(persons, t, params, n, n_weeks) for t in worlds]
    for j in range(n_weeks):
        u1, u2, u3, u4 = rng.random((4, n))
        t = j - persons.alloc_col
        if j:
            jump = u1 < leave[pre, rows]
            pre = np.where(jump, _inverse_cdf(jump_cdf, u2), pre)
        before = np.where(t >= spell_start, S.CAT_S, np.where(t >= lead_start, h.lead_cat, pre))
        post = t >= 1
        any_post = bool(post.any())
        if any_post:
            lock = t <= persons.lock_end
            base = alpha[t + n_weeks]
        for w in state:
            if any_post:
                at_risk = post & w.first
                index = base + w.eta + w.lock * lock
                exit_ = at_risk & (u1 < inverse_link(index, link))
                dest = _DEST[_inverse_cdf(w.dest_cdf, u2)]
                moved = chain.step(w.cat, w.entry, rows, u2)
                new = np.where(at_risk, np.where(exit_, dest, S.CAT_S), moved)
                new = np.where(post, new, before).astype(np.uint8)
                w.first &= ~exit_
            else:
                new = before.astype(np.uint8)
            entering = (new == S.CAT_O) & ((w.cat != S.CAT_O) | (j == 0))
            w.other = np.where(entering, _OTHER[_inverse_cdf(other_cdf, u4)], w.other)
            w.counter = np.where(new == S.CAT_S, w.counter + 1, 0).astype(np.int32)
            w.cat = new
            _refine(w, persons, params, u3, w.out[j])
    return [w.out for w in state]


def _inverse_cdf(cdf: np.ndarray, u: np.ndarray) -> npt.NDArray[np.uint8]:
    """Inverse-CDF draw: the number of cumulative probabilities (all but the last, which is
    1) at or below ``u``; ``cdf`` holds one row per category (person-specific columns) or one
    value per category."""
    out = np.zeros(u.shape, dtype=np.uint8)
    for k in range(len(cdf) - 1):
        out += u >= cdf[k]
    return out


@dataclass(frozen=True)
class _Chain:
    """The post-exit chain with 'stay' as the last destination of each row.

    From category c the destinations are the other categories in order (E first when
    c is not E) and then c itself; thresholds are cumulative move probabilities, shifted by
    the person's probability of entering E (which moves all later thresholds with it).
    """

    cum: npt.NDArray[np.float64]  # (4, 5): cumulative base probabilities (E entry = 0)
    dests: npt.NDArray[np.uint8]  # (5, 5): destination of draw k from category c

    @classmethod
    def of(cls, params: ProcessParams) -> _Chain:
        moves = np.asarray(params.moves, dtype=np.float64).copy()
        moves[:, S.CAT_E] = 0.0
        dests = np.array(
            [[d for d in range(S.N_CATS) if d != c] + [c] for c in range(S.N_CATS)],
            dtype=np.uint8,
        )
        probs = np.take_along_axis(moves, dests[:, :4].astype(np.intp), axis=1)
        return cls(cum=np.cumsum(probs, axis=1).T.copy(), dests=dests)

    def step(
        self, cat: np.ndarray, entry: np.ndarray, rows: np.ndarray, u: np.ndarray
    ) -> npt.NDArray[np.uint8]:
        p_e = np.where(cat != S.CAT_E, entry[cat, rows], 0.0)
        k = np.zeros(cat.shape, dtype=np.uint8)
        for level in self.cum:
            k += u >= level[cat] + p_e
        return self.dests[cat, k]


def _new_world(
    persons: Persons, treated: np.ndarray, params: ProcessParams, n: int, n_weeks: int
) -> _World:
    shift = persons.shift + treated * persons.employment_entry
    return _World(
        treated=treated,
        eta=persons.eta + treated * persons.effect,
        lock=treated * persons.tau_lock,
        dest_cdf=destination_cdf(params, shift).T.copy(),
        entry=entry_to_employment(params, shift).T.copy(),
        cat=np.full(n, S.CAT_E, dtype=np.uint8),
        counter=np.zeros(n, dtype=np.int32),
        other=np.full(n, S.NT, dtype=np.uint8),
        first=np.ones(n, dtype=bool),
        out=np.empty((n_weeks, n), dtype=np.uint8),
    )


_CAT_STATE = np.array([S.E, S.SB, S.UI, S.NT, S.DP], dtype=np.uint8)


def _refine(
    w: _World, persons: Persons, params: ProcessParams, u3: np.ndarray, out: np.ndarray
) -> None:
    """Detailed state of each person in this week, written into ``out``
    (see :mod:`dreamkit.simulate.process`)."""
    np.take(_CAT_STATE, w.cat, out=out)
    sick = w.cat == S.CAT_S
    np.copyto(out, S.JC, where=sick & (w.counter > 22) & persons.job_clarification)
    np.copyto(out, S.RC, where=sick & (w.counter > 52) & persons.resource_course)
    p_guid = params.p_activation_guidance
    np.copyto(out, S.AG, where=sick & (u3 < p_guid))
    np.copyto(out, S.AF, where=sick & (u3 >= p_guid) & (u3 < p_guid + params.p_activation_firm))
    np.copyto(out, S.SF, where=sick & persons.flexjob)
    np.copyto(out, S.UA, where=(w.cat == S.CAT_U) & (u3 < params.p_unemployment_activation))
    np.copyto(out, w.other, where=w.cat == S.CAT_O)


def employment_flags(
    detail: npt.NDArray[np.uint8], months: npt.NDArray[np.integer]
) -> npt.NDArray[np.bool_]:
    """Weekly employment flags (weeks x persons) from monthly employment, in place on ``detail``.

    DREAM records employment per month; a month counts as employed when any of its weeks (by
    the Thursday rule, ``months`` = month of each week) is an E week. Every week of an
    employed month gets the flag, and its no-transfer weeks become E weeks, so the weekly
    flags equal the monthly ones expanded to weeks and the register survives a round trip
    through monthly ``branche_YYYY_MM`` columns.
    """
    starts = np.flatnonzero(np.r_[True, np.diff(months) != 0])
    lengths = np.diff(np.r_[starts, months.size])
    monthly = np.logical_or.reduceat(detail == S.E, starts, axis=0)
    flags = np.repeat(monthly, lengths, axis=0)
    detail[flags & (detail == S.NT)] = S.E
    return flags
