"""Row blocks on threads: every row exactly once, errors reach the caller."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dreamkit.errors import InputError
from dreamkit.parallel import (
    MAX_DEFAULT_THREADS,
    available_cores,
    for_each_block,
    resolve_threads,
    row_blocks,
)


@given(n=st.integers(0, 500), size=st.integers(1, 60), threads=st.integers(1, 4))
def test_blocks_cover_every_row_once(n: int, size: int, threads: int) -> None:
    hits = np.zeros(n, dtype=np.int64)

    def work(block: slice) -> None:
        assert block.stop - block.start <= size
        hits[block] += 1

    for_each_block(work, n, size, threads)
    assert (hits == 1).all()
    assert sum(b.stop - b.start for b in row_blocks(n, size)) == n


def test_errors_in_a_thread_reach_the_caller() -> None:
    def work(block: slice) -> None:
        if block.start == 20:
            raise InputError("block 20 failed")

    with pytest.raises(InputError, match="block 20 failed"):
        for_each_block(work, 100, 10, threads=3)


def test_thread_counts() -> None:
    assert resolve_threads(None) == min(available_cores(), MAX_DEFAULT_THREADS)
    assert resolve_threads(5) == 5
    with pytest.raises(InputError, match="threads must be >= 1"):
        resolve_threads(0)
    with pytest.raises(InputError, match="chunk size must be >= 1"):
        list(row_blocks(10, 0))
