r"""Seeded stratified pairwise allocation for small trials, with an allocation log.

The procedure (a municipal pilot's, made reproducible):

1. **Strata** are the distinct combinations of the baseline columns ``strata`` (e.g. sex x
   age group x immigrant background).
2. **Random order.** Every eligible person gets a uniform random number :math:`u_i` (one draw
   per person in input order from ``numpy.random.default_rng(seed)``) and is sorted by it
   within the stratum.
3. **Pairs.** Within a stratum, persons are taken in that order, two at a time; each pair is
   split between the arms at random (one fair coin per pair: the first person of the pair gets
   ``treated = c``, the second ``1 - c``). Strata are processed in sorted order.
4. **Decliners.** A person in ``declined`` who is drawn into a pair declines; the next unused
   person of the same stratum takes the decliner's place (the same pair and arm), and so on
   until someone accepts or the stratum is exhausted. Pairs are formed sequentially, so the
   replacement is the person who would otherwise have opened the next pair; later pairs shift
   by one person (as when persons are approached in list order).
5. **How many pairs.** ``n_pairs=None`` pairs everybody (until the stratum is used up);
   an int (per stratum) or a mapping stratum label -> pairs stops earlier and leaves the rest
   as the stratum's reserve.

The persons table gets ``stratum`` (label), ``order`` (rank within the stratum), ``pair``
(1.. over all strata), ``treated`` (0/1; null when not allocated) and ``allocation_status`` (one of
``allocated``, ``replacement``, ``declined``, ``reserve``, ``unpaired``). Every step goes into
the **allocation log** (``step, stratum, pair, treated, event, order`` and the person's id):
the audit trail of the allocation list. The log carries the user's own identifiers because it
is the user's own file (keep it where the trial data are kept); dreamkit's messages and warnings
never print identifiers.

**Bad input.** An odd person left without a pair (including a stratum of one person) raises
:class:`~dreamkit.errors.TrialDesignError` by default; ``odd="reserve"`` instead leaves that
person unallocated (status ``unpaired``, logged) with a :class:`~dreamkit.errors.DreamkitWarning`.
A decliner whom nobody can replace leaves an incomplete pair: warned and logged
(``no replacement``); paired analyses drop incomplete pairs and count them. A stratum whose
replacements were used up before its ``n_pairs`` are formed stops with a warning.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import polars as pl

from dreamkit.design import columns as C
from dreamkit.errors import (
    ColumnNotFoundError,
    DreamkitWarning,
    DuplicateError,
    EmptyInputError,
    InputError,
    TrialDesignError,
)

Odd = Literal["error", "reserve"]
EVENTS = ("allocated", "declined", "replacement", "unpaired", "no replacement")
STRATUM, ORDER, PAIR, STATUS = "stratum", "order", "pair", "allocation_status"


@dataclass(frozen=True, eq=False)
class PairwiseAllocation:
    """Result of :func:`pairwise_allocation`.

    Attributes:
        persons: the input rows with ``stratum``, ``order``, ``pair``, ``treated``,
            ``allocation_status``.
        log: the allocation log, one row per event in the order they happened.
        seed: the seed used.
        id_column: the name of the identifier column (in ``persons`` and ``log``).
    """

    persons: pl.DataFrame
    log: pl.DataFrame
    seed: int
    id_column: str

    def __repr__(self) -> str:
        counts = self.persons[STATUS].value_counts(sort=True)
        parts = ", ".join(f"{s} {n}" for s, n in counts.iter_rows())
        n_pairs = self.persons[PAIR].drop_nulls().n_unique()
        return f"PairwiseAllocation(seed={self.seed}, {n_pairs} pairs; {parts})"

    @property
    def allocated(self) -> pl.DataFrame:
        """The persons who took part (status ``allocated`` or ``replacement``)."""
        return self.persons.filter(pl.col(C.TREATED).is_not_null())

    def write_log(self, path: str | Path) -> None:
        """Write the allocation log as CSV (it holds identifiers: the user's own file)."""
        self.log.write_csv(Path(path))


def _labels(frame: pl.DataFrame, strata: Sequence[str]) -> pl.Series:
    if not strata:
        return pl.Series(STRATUM, ["all"] * frame.height, dtype=pl.String)
    parts = [pl.lit(f"{c}=") + pl.col(c).cast(pl.String) for c in strata]
    return frame.select(pl.concat_str(parts, separator=", ").alias(STRATUM))[STRATUM]


def pairwise_allocation(
    persons: Any,
    strata: Sequence[str],
    *,
    seed: int,
    id_column: str = C.PERSON,
    n_pairs: int | Mapping[str, int] | None = None,
    declined: Iterable[Any] | pl.Series | None = None,
    odd: Odd = "error",
) -> PairwiseAllocation:
    """Stratified pairwise allocation with replacement of decliners (module docstring).

    Args:
        persons: eligible persons, one row each (polars or pandas), with ``id_column`` and the
            ``strata`` columns.
        strata: baseline columns whose combinations are the strata (empty: one stratum).
        seed: seed of ``numpy.random.default_rng``; the same input and seed give the same
            allocation and log.
        id_column: the identifier column (never printed in messages).
        n_pairs: pairs per stratum: None = as many as the stratum allows; an int (the same in
            every stratum) or a mapping stratum label (``"sex=F, young=1"``) -> pairs (strata
            not in the mapping are paired fully).
        declined: identifiers of persons who decline when drawn (replaced by the next person).
        odd: ``"error"`` (default) raises :class:`TrialDesignError` when a person is left
            without a pair; ``"reserve"`` leaves the person unallocated and warns.
    """
    frame = persons if isinstance(persons, pl.DataFrame) else pl.from_pandas(persons)
    if odd not in ("error", "reserve"):
        raise InputError(f"odd must be 'error' or 'reserve', got {odd!r}.")
    _check_table(frame, strata, id_column)
    ids = frame[id_column]
    declines = _declines(ids, declined)
    rng = np.random.default_rng(seed)
    u = rng.random(frame.height)
    label = _labels(frame, strata)
    names = sorted(label.unique().to_list())
    if isinstance(n_pairs, Mapping):
        unknown_strata = set(n_pairs) - set(names)
        if unknown_strata:
            raise InputError(
                f"n_pairs names stratum/strata {sorted(unknown_strata)} that do not occur; the "
                f"strata are {names}."
            )
    book = _Book(frame.height)
    lab = label.to_numpy()
    for name in names:
        members = np.flatnonzero(lab == name)
        members = members[np.argsort(u[members], kind="stable")]
        book.order[members] = np.arange(1, members.size + 1)
        want = n_pairs.get(name) if isinstance(n_pairs, Mapping) else n_pairs
        _pair_stratum(book, name, members, want, declines, odd, rng)
    return PairwiseAllocation(
        book.persons(frame, label), book.log_frame(ids, id_column), seed, id_column
    )


def _check_table(frame: pl.DataFrame, strata: Sequence[str], id_column: str) -> None:
    for col in [id_column, *strata]:
        if col not in frame.columns:
            raise ColumnNotFoundError(
                f"pairwise_allocation needs column {col!r}; the table's columns are "
                f"{frame.columns}."
            )
        if frame[col].null_count():
            raise InputError(
                f"column {col!r} has {frame[col].null_count()} missing value(s); fill them (a "
                "stratum needs every baseline value) or exclude those persons first."
            )
    if frame.height == 0:
        raise EmptyInputError("no eligible persons; pass at least two.")
    n_dup = frame.height - frame[id_column].n_unique()
    if n_dup:
        raise DuplicateError(f"column {id_column!r} has {n_dup} duplicated person(s).")
    clash = [c for c in (STRATUM, ORDER, PAIR, C.TREATED, STATUS) if c in frame.columns]
    if clash:
        raise InputError(f"the table already has column(s) {clash}; rename or drop them.")


def _declines(ids: pl.Series, declined: Iterable[Any] | pl.Series | None) -> np.ndarray:
    """Boolean mask of the persons who decline when drawn."""
    if declined is None:
        return np.zeros(ids.len(), dtype=bool)
    dec = declined if isinstance(declined, pl.Series) else pl.Series("declined", list(declined))
    if not dec.len():
        return np.zeros(ids.len(), dtype=bool)
    dec = dec.cast(ids.dtype, strict=False)
    unknown = int((~dec.is_in(ids.implode())).sum())
    if unknown:
        raise InputError(
            f"{unknown} identifier(s) in declined are not among the eligible persons; pass "
            "only eligible persons' ids (check the id type)."
        )
    return np.asarray(ids.is_in(dec.implode()).to_numpy(), dtype=bool)


class _Book:
    """Per-person results and the event log while strata are processed."""

    def __init__(self, n: int) -> None:
        self.order = np.zeros(n, dtype=np.int64)
        self.pair = np.full(n, -1, dtype=np.int64)
        self.arm = np.full(n, -1, dtype=np.int64)
        self.status = np.full(n, "reserve", dtype=object)
        self.events: list[tuple[str, int | None, int | None, str, int]] = []  # ..., row
        self.next_pair = 1

    def log(self, stratum: str, pair: int | None, arm: int | None, event: str, row: int) -> None:
        self.events.append((stratum, pair, arm, event, int(row)))

    def log_frame(self, ids: pl.Series, id_column: str) -> pl.DataFrame:
        values = ids.to_list()
        rows = [e[4] for e in self.events]
        return pl.DataFrame(
            {
                "step": np.arange(1, len(rows) + 1, dtype=np.int64),
                STRATUM: [e[0] for e in self.events],
                PAIR: [e[1] for e in self.events],
                C.TREATED: [e[2] for e in self.events],
                "event": [e[3] for e in self.events],
                ORDER: [int(self.order[r]) if r >= 0 else None for r in rows],
                id_column: pl.Series(
                    id_column, [values[r] if r >= 0 else None for r in rows], dtype=ids.dtype
                ),
            },
            schema_overrides={PAIR: pl.Int32, C.TREATED: pl.Int8, ORDER: pl.Int32},
        )

    def persons(self, frame: pl.DataFrame, label: pl.Series) -> pl.DataFrame:
        pair = pl.Series(PAIR, self.pair, dtype=pl.Int32)
        arm = pl.Series(C.TREATED, self.arm, dtype=pl.Int8)
        return frame.with_columns(
            label.alias(STRATUM),
            pl.Series(ORDER, self.order, dtype=pl.Int32),
            pair.scatter(np.flatnonzero(self.pair < 0), None),
            arm.scatter(np.flatnonzero(self.arm < 0), None),
            pl.Series(STATUS, self.status.tolist(), dtype=pl.String),
        )


def _pair_stratum(
    book: _Book,
    name: str,
    members: np.ndarray,
    want: int | None,
    declines: np.ndarray,
    odd: Odd,
    rng: np.random.Generator,
) -> None:
    """Form the pairs of one stratum (``members`` in random order); fill ``book``."""
    if want is not None and (not isinstance(want, int) or want < 0):
        raise InputError(f"n_pairs for stratum {name!r} is {want!r}; give an int >= 0.")
    if want is not None and 2 * want > members.size:
        raise TrialDesignError(
            f"stratum {name!r} has {members.size} person(s) but {want} pair(s) were asked "
            "for; ask for fewer pairs or merge strata."
        )
    if want is None and members.size == 1:
        _odd(
            odd,
            f"stratum {name!r} has a single person, who cannot form a pair; merge this "
            "stratum with a neighbouring one (fewer stratum columns or coarser groups), or "
            "pass odd='reserve' to leave the person unallocated.",
        )
    pos = made = 0
    while (want is None and pos < members.size) or (want is not None and made < want):
        left = members.size - pos
        if want is not None and left < 2:
            warnings.warn(
                f"stratum {name!r} is used up after {made} of {want} pairs (decliners took "
                "the replacements); recruit more persons or merge strata.",
                DreamkitWarning,
                stacklevel=3,
            )
            return
        if want is None and left == 1:
            if members.size > 1:
                _odd(
                    odd,
                    f"stratum {name!r}: one person is left without a pair (an odd number of "
                    "persons); pass n_pairs to keep the rest as a reserve, merge strata, or "
                    "pass odd='reserve' to leave the person unallocated.",
                )
            book.status[members[pos]] = "unpaired"
            book.log(name, None, None, "unpaired", members[pos])
            return
        coin = int(rng.integers(0, 2))
        slots = [(members[pos], coin), (members[pos + 1], 1 - coin)]
        pos += 2
        made += 1
        p = book.next_pair
        book.next_pair += 1
        for i, a in slots:
            book.log(name, p, a, "allocated", i)
        for i, a in slots:
            current, kind = int(i), "allocated"
            while declines[current]:
                book.status[current] = "declined"
                book.log(name, p, a, "declined", current)
                if pos >= members.size:
                    warnings.warn(
                        f"stratum {name!r}, pair {p}: a decliner could not be replaced (the "
                        "stratum is used up); the pair is incomplete and paired tests will "
                        "drop it. Recruit more persons or merge strata.",
                        DreamkitWarning,
                        stacklevel=3,
                    )
                    book.log(name, p, a, "no replacement", -1)
                    current = -1
                    break
                current, kind = int(members[pos]), "replacement"
                pos += 1
                book.log(name, p, a, "replacement", current)
            if current >= 0:
                book.status[current] = kind
                book.pair[current] = p
                book.arm[current] = a


def _odd(odd: Odd, message: str) -> None:
    if odd == "error":
        raise TrialDesignError(message)
    head = message.split(";")[0]
    warnings.warn(
        f"{head}; the person is left unallocated (status 'unpaired', logged). To pair them, "
        "merge strata or recruit another person of the stratum.",
        DreamkitWarning,
        stacklevel=4,
    )


def proportional_pairs(persons: Any, strata: Sequence[str], total: int) -> dict[str, int]:
    r"""Pairs per stratum for ``total`` pairs in proportion to the strata's sizes.

    Largest remainder: stratum :math:`s` with :math:`n_s` of :math:`N` persons gets
    :math:`\lfloor q_s \rfloor` pairs, :math:`q_s = T n_s / N`, and the pairs still missing go
    to the largest remainders :math:`q_s - \lfloor q_s \rfloor` (ties: stratum label order);
    no stratum gets more than :math:`\lfloor n_s / 2 \rfloor`. Pass the result as ``n_pairs``
    to :func:`pairwise_allocation` (the persons not drawn are the replacements).
    """
    frame = persons if isinstance(persons, pl.DataFrame) else pl.from_pandas(persons)
    for col in strata:
        if col not in frame.columns:
            raise ColumnNotFoundError(f"column {col!r} is not in the table ({frame.columns}).")
    label = _labels(frame, strata)
    counts = dict(sorted(label.value_counts().iter_rows()))
    cap = {s: n // 2 for s, n in counts.items()}
    if not isinstance(total, int) or total < 1 or total > sum(cap.values()):
        raise TrialDesignError(
            f"{total!r} pairs asked for but the strata allow at most {sum(cap.values())}; "
            "ask for fewer pairs or recruit more persons."
        )
    n = sum(counts.values())
    quota = {s: total * c / n for s, c in counts.items()}
    pairs = {s: min(int(q), cap[s]) for s, q in quota.items()}
    order = sorted(counts, key=lambda s: -(quota[s] - int(quota[s])))
    while sum(pairs.values()) < total:
        for s in order:
            if sum(pairs.values()) < total and pairs[s] < cap[s]:
                pairs[s] += 1
    return pairs
