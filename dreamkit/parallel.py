"""Row chunks of a large array, processed on a few threads.

numpy releases the GIL inside its element-wise kernels, reductions and integer-index
gathers, so threads that each fill a disjoint block of rows of a preallocated output scale
with the cores without copying the (often multi-gigabyte) inputs into worker processes.
Every function that uses this module gives the same result for any number of threads: the
blocks are fixed by the chunk size alone and never overlap.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

from dreamkit.errors import InputError


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the platform reports it)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


MAX_DEFAULT_THREADS = 8
"""Cap of the default thread count: each thread holds one working chunk, so the cap bounds the
working memory on many-core servers (pass ``threads`` explicitly to use more)."""


def resolve_threads(threads: int | None) -> int:
    """``threads`` checked, or :func:`available_cores` up to :data:`MAX_DEFAULT_THREADS`."""
    if threads is None:
        return min(available_cores(), MAX_DEFAULT_THREADS)
    if threads < 1:
        raise InputError(f"threads must be >= 1 (or None for all cores), got {threads}.")
    return threads


def row_blocks(n: int, size: int) -> Iterator[slice]:
    """Consecutive slices of at most ``size`` rows covering ``0..n-1``."""
    if size < 1:
        raise InputError(f"chunk size must be >= 1, got {size}.")
    return (slice(start, min(start + size, n)) for start in range(0, n, size))


def for_each_block(
    work: Callable[[slice], None], n: int, size: int, threads: int | None = None
) -> None:
    """Call ``work(block)`` for every :func:`row_blocks` block, on up to ``threads`` threads.

    ``work`` must only write rows of its own block; exceptions propagate to the caller.
    """
    blocks = list(row_blocks(n, size))
    n_threads = min(resolve_threads(threads), len(blocks))
    if n_threads <= 1:
        for block in blocks:
            work(block)
        return
    with ThreadPoolExecutor(max_workers=n_threads) as pool:
        for _ in pool.map(work, blocks):
            pass
