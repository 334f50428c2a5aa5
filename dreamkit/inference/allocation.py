r"""Re-drawing a blocked (within-team) allocation.

The design: in block (team) b with :math:`n_b` persons, exactly :math:`k_b` were treated by an
individual lottery. Under this design every allocation that keeps each block's number treated
is equally likely; there are :math:`\prod_b \binom{n_b}{k_b}` of them.

* :func:`count_allocations` gives that number (an exact Python integer).
* :func:`enumerate_allocations` lists all of them (only sensible when the count is small).
* :func:`draw_allocations` draws them uniformly at random: each row gets i.i.d. uniform keys,
  and within each block the :math:`k_b` persons with the smallest keys are treated.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from dreamkit.errors import InputError
from dreamkit.inference._checks import as_binary, as_codes


@dataclass(frozen=True, eq=False)
class BlockDesign:
    """Blocks (codes 0..n_blocks-1 per person) and the number treated in each block."""

    codes: NDArray[np.intp]
    sizes: NDArray[np.int64]
    n_treated: NDArray[np.int64]

    @property
    def n(self) -> int:
        """Number of persons."""
        return int(self.codes.shape[0])

    def __repr__(self) -> str:
        return (
            f"BlockDesign({self.n} persons in {self.sizes.shape[0]} blocks, "
            f"{int(self.n_treated.sum())} treated)"
        )


def block_design(treated: ArrayLike, blocks: ArrayLike) -> BlockDesign:
    """The blocked design implied by an observed 0/1 allocation and block labels."""
    t_arr = np.asarray(treated)
    n = int(t_arr.shape[0]) if t_arr.ndim == 1 else -1
    if n <= 0:
        raise InputError(f"treated must be a non-empty vector; got shape {t_arr.shape}.")
    t = as_binary(t_arr, n, "treated")
    codes, n_blocks = as_codes(blocks, n, "blocks")
    sizes = np.bincount(codes, minlength=n_blocks).astype(np.int64)
    n_treated = np.bincount(codes, weights=t, minlength=n_blocks).astype(np.int64)
    return BlockDesign(codes=codes, sizes=sizes, n_treated=n_treated)


def count_allocations(design: BlockDesign) -> int:
    """Number of allocations keeping every block's number treated: prod_b C(n_b, k_b)."""
    return math.prod(
        math.comb(int(s), int(k)) for s, k in zip(design.sizes, design.n_treated, strict=True)
    )


def enumerate_allocations(design: BlockDesign) -> NDArray[np.int8]:
    """All allocations as an (M, n) 0/1 matrix, M = :func:`count_allocations`.

    Rows run over the Cartesian product of the per-block combinations (blocks in sorted label
    order, combinations in :func:`itertools.combinations` order).
    """
    members = [np.flatnonzero(design.codes == b) for b in range(design.sizes.shape[0])]
    per_block = [
        [np.asarray(c, dtype=np.intp) for c in itertools.combinations(m, int(k))]
        for m, k in zip(members, design.n_treated, strict=True)
    ]
    out = np.zeros((count_allocations(design), design.n), dtype=np.int8)
    for row, choice in enumerate(itertools.product(*per_block)):
        out[row, np.concatenate(choice)] = 1
    return out


def draw_allocations(
    design: BlockDesign, n_draws: int, rng: np.random.Generator
) -> NDArray[np.int8]:
    """``n_draws`` independent uniform allocations within blocks, as an (n_draws, n) matrix."""
    order_blocks = np.argsort(design.codes, kind="stable")
    sorted_codes = design.codes[order_blocks]
    starts = np.concatenate([[0], np.cumsum(design.sizes)[:-1]])
    rank_in_block = np.arange(design.n) - starts[sorted_codes]
    template = (rank_in_block < design.n_treated[sorted_codes]).astype(np.int8)
    keys = rng.random((n_draws, design.n)) + design.codes[None, :].astype(np.float64)
    order = np.argsort(keys, axis=1)
    out = np.empty((n_draws, design.n), dtype=np.int8)
    np.put_along_axis(out, order, template[None, :], axis=1)
    return out
