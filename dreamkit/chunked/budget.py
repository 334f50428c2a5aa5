r"""The memory budget: how many persons one chunk may hold.

A chunk of :math:`n` persons over :math:`T` weeks is read with the in-memory reader into a
``uint8`` state array, converted from Parquet in row batches of :math:`b` rows, and turned into
an outcome table of :math:`q` bytes per person. Its peak resident memory is modelled as

.. math::

    M(n) = M_0 + h\,w + b\,T\,c_\text{batch} + n\,(T\,c_\text{state} + q),

with :math:`M_0` the interpreter, the libraries and the Parquet engine's buffers, :math:`h`
threads building outcomes with :math:`w` bytes of working memory each (one chunk of persons),
:math:`c_\text{batch}` the bytes per cell of one decoded batch (Parquet column buffers, ``Int32``
codes, their numpy copy and the batch's states) and :math:`c_\text{state}` the bytes per cell
kept for the whole chunk (the state array plus slack). The constants below were measured with
``read_wide`` on 1,700-week Parquet files (``benchmarks/w_population.py``) and rounded up. The
chunk size is the largest :math:`n` with :math:`M(n) \le` budget:

.. math::

    n = \left\lfloor \frac{B - M_0 - h\,w - b\,T\,c_\text{batch}}{T\,c_\text{state} + q}
        \right\rfloor,

where, unless given, :math:`h` is the default thread count capped so that :math:`h\,w` takes at
most an eighth of the budget above :math:`M_0` (at least one thread), and the batch is then set
to a quarter of what is left (at most 65,536 and at least 1,024 rows). The model is checked,
not trusted: the population benchmark reports the measured peak next to the budget.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dreamkit.errors import InputError
from dreamkit.parallel import resolve_threads

MIB = 1 << 20
BASE_BYTES = 640 * MIB
"""M0: interpreter, polars/numpy/dreamkit and the Parquet reader's buffers (measured ~600 MB)."""
STATE_BYTES_PER_CELL = 2.0
"""c_state: the uint8 state array (1 byte) plus identifiers, trial rows and slack."""
BATCH_BYTES_PER_CELL = 16.0
"""c_batch: bytes per cell of one decoded batch (measured ~13)."""
THREAD_WORK_BYTES = 64 * MIB
"""w: working memory of one outcome-building thread (one chunk of up to 65,536 persons; about
35 MB measured with W = 81 and 104 pre-allocation weeks)."""
LONG_BYTES_PER_ROW = 96.0
"""Bytes per row of a long (person, week, code) table held by ``read_long``."""
MIN_BATCH_ROWS, MAX_BATCH_ROWS = 1_024, 65_536
DEFAULT_BUDGET = "4GB"

_UNITS = {"": 1, "B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30, "TB": 1 << 40}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?B?)\s*$", re.IGNORECASE)


def parse_budget(budget: int | str) -> int:
    """Bytes of a budget given as bytes (int) or text such as ``"4GB"``, ``"512 MB"``.

    Units are binary (1 GB = 2**30 bytes), as for resident memory.
    """
    if isinstance(budget, bool):
        raise InputError(f"budget must be bytes or text such as '4GB', got {budget!r}.")
    if isinstance(budget, int):
        value = budget
    else:
        match = _PATTERN.match(str(budget))
        if match is None:
            raise InputError(
                f"budget {budget!r} is not understood; give bytes (int) or text such as '4GB' "
                "or '512MB'."
            )
        value = int(float(match.group(1)) * _UNITS[match.group(2).upper()])
    if value <= BASE_BYTES:
        raise InputError(
            f"budget {value / MIB:.0f} MB is below the ~{BASE_BYTES / MIB:.0f} MB that the "
            "interpreter, the libraries and the Parquet reader need; give at least 1GB."
        )
    return value


@dataclass(frozen=True)
class ChunkPlan:
    """Persons per chunk and reader batch rows that keep a chunk within the budget."""

    budget: int
    weeks: int
    persons: int
    batch_rows: int
    threads: int

    def peak(self, persons: int | None = None) -> int:
        """Modelled peak bytes of a chunk of ``persons`` (default: a full chunk)."""
        n = self.persons if persons is None else persons
        batch = self.batch_rows * self.weeks * BATCH_BYTES_PER_CELL
        work = self.threads * THREAD_WORK_BYTES
        return int(BASE_BYTES + work + batch + n * self.weeks * STATE_BYTES_PER_CELL)


def plan_chunks(
    budget: int | str, weeks: int, *, bytes_per_person: int = 0, threads: int | None = None
) -> ChunkPlan:
    """Chunk size and threads for ``weeks`` weeks under ``budget`` (module docstring for the rule).

    Args:
        budget: bytes, or text such as ``"4GB"``.
        weeks: register weeks per person (T).
        bytes_per_person: q, the output bytes per person (e.g. 8 per float outcome column).
        threads: h, threads that build outcomes; None = the default, capped by the budget.
    """
    if weeks < 1:
        raise InputError(f"weeks must be >= 1, got {weeks}.")
    total = parse_budget(budget)
    room = total - BASE_BYTES
    if threads is None:
        fits = int(room // (8 * THREAD_WORK_BYTES))
        threads = max(1, min(resolve_threads(None), fits))
    else:
        threads = resolve_threads(threads)
    room -= threads * THREAD_WORK_BYTES
    if room <= 0:
        raise InputError(
            f"budget {total / MIB:.0f} MB cannot hold {threads} threads' working memory "
            f"({THREAD_WORK_BYTES / MIB:.0f} MB each) above the ~{BASE_BYTES / MIB:.0f} MB "
            "that the libraries need; raise the budget or pass fewer threads."
        )
    batch = int(room / 4 / (weeks * BATCH_BYTES_PER_CELL))
    batch = max(MIN_BATCH_ROWS, min(MAX_BATCH_ROWS, batch))
    left = room - batch * weeks * BATCH_BYTES_PER_CELL
    persons = int(left // (weeks * STATE_BYTES_PER_CELL + max(bytes_per_person, 0)))
    if persons < 1:
        raise InputError(
            f"budget {total / MIB:.0f} MB cannot hold one person of {weeks} weeks with reader "
            f"batches of {batch} rows; raise the budget."
        )
    return ChunkPlan(budget=total, weeks=weeks, persons=persons, batch_rows=batch, threads=threads)
