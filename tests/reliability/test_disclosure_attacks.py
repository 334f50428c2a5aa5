"""Adversarial tiny tables: an independent brute-force attacker enumerates every integer table
consistent with what was published and tries to pin down each suppressed count.

A suppressed cell counts as *recovered* when the values it can take span less than
``min_cell`` (its exact value being the extreme case); for two nested tables (a subgroup and
the full sample, or two samples that differ by a few persons) each small count of their
difference (the complement) must not be recovered either. Goal: nothing recovered.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from dreamkit.report.disclosure import (
    SUPPRESSED,
    CountTable,
    DisclosureLog,
    audit,
    dominance_ok,
    protect_nested,
    protect_table,
)

# candidate tables the brute force may enumerate per example: the nightly profile attacks
# larger tables than the default run (which must stay within the suite's time budget)
LIMIT = 200_000 if os.environ.get("HYPOTHESIS_PROFILE") == "nightly" else 20_000
#: integer programs per example: a fifth of the profile's examples (20 by default, 400 nightly)
FEW = settings(max_examples=max(1, settings().max_examples // 5))


def _cap(pub: CountTable, true_total: int, k: int) -> int:
    return true_total * 2 + k if pub.total == SUPPRESSED else int(pub.total)


def _row_options(pub: CountTable, i: int, cap: int) -> list[tuple[int, ...]]:
    cells = pub.cells[i]
    ranges = [range(cap + 1) if v == SUPPRESSED else (int(v),) for v in cells]
    size = math.prod(len(r) for r in ranges)
    if size > LIMIT:
        raise OverflowError
    total = pub.row_totals[i]
    return [row for row in itertools.product(*ranges) if total == SUPPRESSED or sum(row) == total]


def _tables(pub: CountTable, true_total: int, k: int) -> Iterator[np.ndarray]:
    cap = _cap(pub, true_total, k)
    options = [_row_options(pub, i, cap) for i in range(len(pub.cells))]
    if math.prod(len(o) for o in options) > LIMIT:
        raise OverflowError
    for rows in itertools.product(*options):
        arr = np.array(rows)
        cols = arr.sum(axis=0)
        if any(t != SUPPRESSED and t != c for t, c in zip(pub.col_totals, cols, strict=True)):
            continue
        if pub.total != SUPPRESSED and arr.sum() != pub.total:
            continue
        yield arr


def _hidden(pub: CountTable) -> list[tuple[int, int]]:
    return [(i, j) for i, row in enumerate(pub.cells) for j, v in enumerate(row) if v == SUPPRESSED]


small_tables = st.integers(2, 3).flatmap(
    lambda r: st.integers(2, 3).flatmap(
        lambda c: st.lists(
            st.lists(st.sampled_from([0, 1, 2, 3, 4, 6, 9, 12]), min_size=c, max_size=c),
            min_size=r,
            max_size=r,
        )
    )
)

ATTACKS = {"tried": 0, "recovered": 0}


@FEW
@given(small_tables, st.sampled_from([3, 5]))
def test_brute_force_recovers_no_suppressed_cell_of_one_table(
    counts: list[list[int]], k: int
) -> None:
    truth = np.array(counts)
    log = DisclosureLog(min_cell=k)
    pub = protect_table(log, "t", truth)
    hidden = _hidden(pub)
    # every small positive count is hidden; shown cells are the truth
    for (i, j), v in np.ndenumerate(truth):
        if 0 < v < k:
            assert pub.cells[i][j] == SUPPRESSED
        elif pub.cells[i][j] != SUPPRESSED:
            assert pub.cells[i][j] == v
    if not hidden:
        return
    try:
        tables = list(_tables(pub, int(truth.sum()), k))
    except OverflowError:
        assume(False)
        return
    assert any((t == truth).all() for t in tables)  # the truth is consistent with the table
    for i, j in hidden:
        values = [int(t[i, j]) for t in tables]
        ATTACKS["tried"] += 1
        if max(values) - min(values) < k:
            ATTACKS["recovered"] += 1
        assert max(values) - min(values) >= k, f"cell {(i, j)} recovered: {sorted(set(values))}"
    # the audit lists every hidden cell with a reason
    listed = {e["cell"] for e in audit(log)}
    assert {f"row {i}, column {j}" for i, j in hidden} <= listed


@FEW  # each example enumerates up to LIMIT table pairs
@given(
    st.lists(st.sampled_from([0, 2, 5, 8, 11]), min_size=4, max_size=4),
    st.lists(st.sampled_from([0, 0, 1, 2, 3, 6]), min_size=4, max_size=4),
    st.sampled_from([3, 5]),
)
def test_brute_force_recovers_nothing_from_two_nested_tables(
    sub: list[int], extra: list[int], k: int
) -> None:
    """A 2x2 table of a subgroup and of the whole sample (subgroup plus complement)."""
    b = np.array(sub).reshape(2, 2)
    a = b + np.array(extra).reshape(2, 2)
    log = DisclosureLog(min_cell=k)
    pub_a, pub_b = protect_nested(log, ("all", "subgroup"), (a, b))
    try:
        tables_a = list(_tables(pub_a, int(a.sum()), k))
        tables_b = list(_tables(pub_b, int(a.sum()), k))
    except OverflowError:
        assume(False)
        return
    assume(len(tables_a) * len(tables_b) <= LIMIT)
    pairs = [(x, y) for x in tables_a for y in tables_b if (y <= x).all()]
    assert any((x == a).all() and (y == b).all() for x, y in pairs)
    targets = [("all", ij) for ij in _hidden(pub_a)] + [("subgroup", ij) for ij in _hidden(pub_b)]
    targets += [("complement", ij) for ij, d in np.ndenumerate(a - b) if 0 < d < k]
    for which, (i, j) in targets:
        values = [
            int({"all": x, "subgroup": y, "complement": x - y}[which][i, j]) for x, y in pairs
        ]
        ATTACKS["tried"] += 1
        if max(values) - min(values) < k:
            ATTACKS["recovered"] += 1
        assert max(values) - min(values) >= k, f"{which} {(i, j)}: {sorted(set(values))}"


def test_samples_differing_by_fewer_than_min_cell_persons() -> None:
    """Two samples, the second dropping 2 persons: the second table cannot show its totals."""
    a = np.array([[20, 30], [15, 25]])
    b = a - np.array([[1, 0], [0, 1]])
    log = DisclosureLog(min_cell=5)
    pub_a, pub_b = protect_nested(log, ("all", "all but two"), (a, b))
    assert pub_a.total == 90
    assert pub_b.total == SUPPRESSED
    kinds = {e["kind"] for e in audit(log)}
    # cells hidden because of the other table are "nested"; margins hidden are "secondary"
    assert kinds <= {"primary", "secondary", "nested"} and "nested" in kinds


def test_dominance_rule() -> None:
    log = DisclosureLog(min_cell=5)
    assert dominance_ok(log, "earnings", "arm 1", [10, 12, 9, 11, 10, 13])
    assert not dominance_ok(log, "earnings", "arm 0", [1000, 12, 9, 11, 10, 13])
    assert not dominance_ok(log, "earnings", "arm 0", [10, 12, 9])  # too few contributors
    assert dominance_ok(log, "earnings", "two", [500, 450, 9, 11, 10, 13], n=2, k=0.99)
    assert not dominance_ok(log, "earnings", "two", [500, 450, 9, 11, 10, 13], n=2, k=0.9)
    reasons = [e["reason"] for e in audit(log)]
    assert sum(r.startswith("dominance") for r in reasons) == 2
    assert {e["kind"] for e in audit(log)} == {"dominance", "primary"}


def test_protected_table_keeps_what_is_safe() -> None:
    log = DisclosureLog(min_cell=5)
    pub = protect_table(log, "t", [[2, 30, 40], [10, 12, 25]])
    # the rectangle (0,0),(0,1),(1,0),(1,1) hides the 2; column 2 and all margins stay shown
    assert [row[2] for row in pub.cells] == [40, 25]
    assert pub.row_totals == [72, 47] and pub.total == 119
    assert len(log.entries) == 4


@pytest.fixture(scope="module", autouse=True)
def _report_attacks() -> Iterator[None]:
    yield
    print(f"\nsuppression attacks tried: {ATTACKS['tried']}, recovered: {ATTACKS['recovered']}")
