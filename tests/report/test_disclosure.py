"""Disclosure control: small counts, small groups, secondary suppression, KM horizons."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from dreamkit.report.disclosure import SUPPRESSED, DisclosureLog


def test_counts_below_threshold_are_suppressed_and_logged() -> None:
    log = DisclosureLog(min_cell=5)
    assert log.count("t", "a", 4) == SUPPRESSED
    assert log.count("t", "b", 5) == 5
    assert log.count("t", "c", 0) == 0
    assert [e.cell for e in log.entries] == ["a"]


def test_binary_share_needs_five_with_and_five_without() -> None:
    log = DisclosureLog(min_cell=5)
    assert log.binary_share_ok("t", "x", 10, 20)
    assert not log.binary_share_ok("t", "x", 3, 20)
    assert not log.binary_share_ok("t", "x", 17, 20)
    assert not log.binary_share_ok("t", "x", 0, 4)
    assert len(log.entries) == 3


def test_group_ok_uses_the_smallest_group() -> None:
    log = DisclosureLog(min_cell=5)
    assert log.group_ok("t", "x", [5, 100])
    assert not log.group_ok("t", "x", [4, 100])


@given(st.lists(st.integers(0, 30), min_size=1, max_size=8), st.integers(1, 10))
def test_a_published_total_never_reveals_one_suppressed_cell(counts: list[int], k: int) -> None:
    log = DisclosureLog(min_cell=k)
    mask, total_hidden = log.protect_counts("flow", [f"c{i}" for i in range(len(counts))], counts)
    suppressed = [c for c, m in zip(counts, mask, strict=True) if m]
    # every small positive count is suppressed ...
    assert all(m for c, m in zip(counts, mask, strict=True) if 0 < c < k)
    # ... and never exactly one positive cell is hidden when others could cover it
    n_positive = sum(c > 0 for c in counts)
    if suppressed and n_positive > 1:
        assert len(suppressed) >= 2
    assert len(log.entries) == sum(mask) + total_hidden
    # an attacker knows the shown counts and the total (unless hidden): the hidden counts add
    # up to total - shown, so each lies in [0, that sum]; that range must be at least k wide,
    # else the total is hidden
    if suppressed and not total_hidden:
        assert len(suppressed) >= 2 and sum(suppressed) >= k
    if total_hidden:
        assert len(suppressed) == 1 or 0 < sum(suppressed) < k
    # the old entry point returns the same mask
    assert (
        DisclosureLog(min_cell=k).suppress_with_total("flow", ["c"] * len(counts), counts) == mask
    )


def test_a_total_equal_to_its_only_non_zero_count_is_hidden() -> None:
    log = DisclosureLog(min_cell=5)
    mask, total_hidden = log.protect_counts("flow", ["a", "b", "c"], [0, 3, 0])
    assert mask == [False, True, False] and total_hidden
    assert [e.cell for e in log.entries] == ["b", "total"]
    mask, total_hidden = log.protect_counts("flow", ["a", "b", "c"], [1, 2, 9])
    assert mask == [True, True, True] and not total_hidden


def test_at_risk_horizon() -> None:
    log = DisclosureLog(min_cell=5)
    assert log.at_risk_horizon(np.array([50, 20, 6, 5, 4, 9])) == 4
    assert log.at_risk_horizon(np.array([50, 20])) == 2
