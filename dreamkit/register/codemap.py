"""Code maps: data that turn DREAM benefit codes into named labour-market states.

A code map is a TOML file (format documented in the shipped default,
``dreamkit/register/codemaps/dream_default.toml``, and in ``docs/register.md``). Nothing in
dreamkit's Python code knows a DREAM code; everything goes through a :class:`CodeMap`.

State ids are small integers (``uint8``) in a fixed order: the two no-code states
(employed / not employed), then the file's states in file order, then ``unknown``.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from dreamkit.errors import CodeMapError, InputError, UnknownCodeError
from dreamkit.parallel import for_each_block

UNKNOWN = "unknown"
_UNMAPPED = np.uint8(255)
MAX_STATES = 255
MAX_TABLE_ROWS = 1 << 24  # codes, and the missing code, must lie within this span
MAX_CODE = 999_999  # largest code a map may list (DREAM codes have three digits)
_BLOCK = 1 << 20  # cells per look-up block


@dataclass(frozen=True)
class CodeMap:
    """Mapping from integer benefit codes to state ids, plus named sets of states.

    Attributes:
        name: the map's name (from the file).
        states: state names; the index of a name is its state id.
        labels: human-readable label per state.
        codes: for each state, the sorted codes that map to it.
        sets: named groups of states (e.g. ``sickness``), used by outcome definitions.
        employed_state / not_employed_state: states of weeks without a code, with and
            without the employment flag.
    """

    name: str
    states: tuple[str, ...]
    labels: tuple[str, ...]
    codes: Mapping[str, tuple[int, ...]]
    sets: Mapping[str, frozenset[str]]
    employed_state: str
    not_employed_state: str
    _lut: npt.NDArray[np.uint8] = field(repr=False, compare=False)

    # ---- construction -------------------------------------------------------------------
    @classmethod
    def default(cls) -> CodeMap:
        """The shipped DREAM-style default map (check it against your extract's documentation)."""
        text = resources.files("dreamkit.register").joinpath("codemaps/dream_default.toml")
        return cls.from_toml_text(text.read_text(encoding="utf-8"), source="dream_default.toml")

    @classmethod
    def from_toml(cls, path: str | Path) -> CodeMap:
        """Read a code map from a user TOML file."""
        path = Path(path)
        if not path.is_file():
            raise CodeMapError(f"code map file {str(path)!r} does not exist; give a valid path.")
        return cls.from_toml_text(path.read_text(encoding="utf-8"), source=path.name)

    @classmethod
    def from_toml_text(cls, text: str, source: str = "<text>") -> CodeMap:
        """Parse a code map from TOML text."""
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as err:
            raise CodeMapError(f"code map {source}: invalid TOML ({err}); fix the file.") from None
        return cls.from_dict(doc, source=source)

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any], source: str = "<dict>") -> CodeMap:
        """Build a code map from its parsed TOML structure (validates everything)."""
        if not isinstance(doc, Mapping):
            raise CodeMapError(
                f"code map {source}: expected a table (dict) with keys name, no_code, states, "
                f"sets; got {type(doc).__name__}."
            )
        unknown_keys = set(doc) - {"name", "no_code", "states", "sets"}
        if unknown_keys:
            raise CodeMapError(
                f"code map {source}: unknown top-level key(s) {sorted(map(str, unknown_keys))}; "
                "allowed are name, no_code, states, sets."
            )
        no_code = _table(doc.get("no_code", {}), "[no_code]", source)
        extra_no_code = set(no_code) - {"employed", "not_employed"}
        if extra_no_code:
            raise CodeMapError(
                f"code map {source}: [no_code] has unknown key(s) "
                f"{sorted(map(str, extra_no_code))}; allowed are employed, not_employed."
            )
        employed = _name(no_code.get("employed", "ordinary_employment"), "no_code.employed", source)
        not_employed = _name(
            no_code.get("not_employed", "no_transfer"), "no_code.not_employed", source
        )
        if not isinstance(doc.get("name", source), str):
            raise CodeMapError(f"code map {source}: name must be text, got {doc['name']!r}.")
        table = doc.get("states")
        if not isinstance(table, Mapping) or not table:
            raise CodeMapError(f"code map {source}: needs a non-empty [states.NAME] table.")
        for state in table:
            _name(state, "a state name", source)
        names = [not_employed, employed, *table.keys(), UNKNOWN]
        if len(set(names)) != len(names):
            raise CodeMapError(
                f"code map {source}: state names must be unique and {UNKNOWN!r} is reserved."
            )
        if len(names) > MAX_STATES:
            raise CodeMapError(f"code map {source}: at most {MAX_STATES - 1} states.")
        labels = [
            "No transfer, no employment flag",
            "Ordinary employment: no transfer and employment flag",
        ]
        codes: dict[str, tuple[int, ...]] = {not_employed: (), employed: (), UNKNOWN: ()}
        owner: dict[int, str] = {}
        for state, spec in table.items():
            spec = _table(spec, f"[states.{state}]", source)
            labels.append(str(spec.get("label", state)))
            state_codes = _expand_codes(state, spec, source)
            for code in state_codes:
                if code in owner:
                    raise CodeMapError(
                        f"code map {source}: code {code} is mapped to both {owner[code]!r} "
                        f"and {state!r}; remove it from one of them."
                    )
                owner[code] = state
            codes[state] = tuple(sorted(state_codes))
        labels.append("Code not covered by the code map")
        sets: dict[str, frozenset[str]] = {}
        for set_name, members in _table(doc.get("sets", {}), "[sets]", source).items():
            if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
                raise CodeMapError(
                    f"code map {source}: set {set_name!r} must be a list of state names, got "
                    f'{members!r}; write e.g. {set_name} = ["sickness_benefit"].'
                )
            bad = [m for m in members if m not in names]
            if bad:
                raise CodeMapError(
                    f"code map {source}: set {set_name!r} names unknown state(s) {bad}; "
                    f"known states are {names}."
                )
            sets[set_name] = frozenset(members)
        lut = np.full(max(owner, default=0) + 1, _UNMAPPED, dtype=np.uint8)
        for code, state in owner.items():
            lut[code] = names.index(state)
        return cls(
            name=str(doc.get("name", source)),
            states=tuple(names),
            labels=tuple(labels),
            codes=codes,
            sets=sets,
            employed_state=employed,
            not_employed_state=not_employed,
            _lut=lut,
        )

    # ---- queries --------------------------------------------------------------------------
    @property
    def n_states(self) -> int:
        return len(self.states)

    def state_id(self, state: str) -> int:
        """Integer id of a state name."""
        try:
            return self.states.index(state)
        except ValueError:
            raise CodeMapError(
                f"state {state!r} is not in code map {self.name!r}; known states: {self.states}."
            ) from None

    @property
    def employed_id(self) -> int:
        return self.state_id(self.employed_state)

    @property
    def not_employed_id(self) -> int:
        return self.state_id(self.not_employed_state)

    @property
    def unknown_id(self) -> int:
        return self.n_states - 1

    def members(self, states: str | Iterable[str]) -> frozenset[str]:
        """States of a named set, or of an explicit collection of state names."""
        if isinstance(states, str):
            if states in self.sets:
                return self.sets[states]
            if states in self.states:
                return frozenset([states])
            raise CodeMapError(
                f"{states!r} is neither a set nor a state of code map {self.name!r}; "
                f"sets: {sorted(self.sets)}."
            )
        members = frozenset(states)
        for state in members:
            self.state_id(state)
        return members

    def mask(self, states: str | Iterable[str]) -> npt.NDArray[np.bool_]:
        """Boolean lookup table over state ids: ``mask[state_array]`` tests membership."""
        out = np.zeros(self.n_states, dtype=bool)
        for state in self.members(states):
            out[self.state_id(state)] = True
        return out

    def codes_of(self, state: str) -> tuple[int, ...]:
        """Codes that map to ``state`` (empty for the no-code states and ``unknown``)."""
        self.state_id(state)
        return self.codes[state]

    # ---- mapping ----------------------------------------------------------------------
    def to_states(
        self,
        codes: npt.NDArray[np.integer[Any]],
        employed: npt.NDArray[np.bool_] | None = None,
        *,
        missing_code: int = -1,
        on_unknown: str = "error",
        column: str = "code",
        threads: int | None = None,
    ) -> tuple[npt.NDArray[np.uint8], int]:
        """Map an integer code array to state ids.

        A cell with code :math:`c` and employment flag :math:`e` gets state
        ``table[2 (c - lo) + e]``: one gather per cell from a small table whose rows are the
        codes ``lo..hi`` around the code map's codes (codes beyond them are clipped onto an
        unmapped row at either end). The row of ``missing_code`` holds the two no-code states
        (not employed, employed); every other row holds its code's state twice, so a transfer
        code wins over the employment flag. Cells are processed in blocks on ``threads``
        threads; the result does not depend on the number of threads.

        Args:
            codes: integer codes; ``missing_code`` marks weeks without a transfer.
            employed: employment flag of the same shape (None = never employed).
            missing_code: the code of weeks without a transfer.
            on_unknown: ``"error"`` raises :class:`UnknownCodeError`; ``"unknown"`` maps such
                codes to the ``unknown`` state and counts them.
            column: name used in error messages.
            threads: threads for the look-up; None = all available cores.

        Returns:
            (state ids as ``uint8``, number of cells with unknown codes).
        """
        if on_unknown not in ("error", "unknown"):
            raise ValueError("on_unknown must be 'error' or 'unknown'")
        codes = np.asarray(codes)
        if codes.dtype.kind not in "iu":
            raise TypeError(f"codes must be an integer array, got dtype {codes.dtype}")
        flags = None if employed is None else np.asarray(employed, dtype=bool)
        if flags is not None and flags.shape != codes.shape:
            raise InputError(
                f"the employment flags have shape {flags.shape} but the codes {codes.shape}; "
                "pass one flag per code cell."
            )
        lo, hi = min(-1, missing_code) - 1, max(self._lut.size, missing_code + 1)
        if hi - lo > MAX_TABLE_ROWS:
            raise InputError(
                f"missing_code {missing_code} lies far outside the code map's codes "
                f"0..{self._lut.size - 1}; recode weeks without a transfer to -1."
            )
        table = np.full((hi - lo + 1, 2), _UNMAPPED, dtype=np.uint8)
        table[-lo : -lo + self._lut.size] = self._lut[:, np.newaxis]
        table[missing_code - lo] = (self.not_employed_id, self.employed_id)
        work = next(
            (
                t
                for t in (np.int16, np.int32, np.int64)
                if np.can_cast(codes.dtype, t) and 2 * (hi - lo) + 1 <= np.iinfo(t).max
            ),
            np.int64,  # uint64 codes: clipped from above before the cast
        )
        flat_codes = codes.reshape(-1)
        flat_flags = None if flags is None else flags.reshape(-1)
        states = np.empty(codes.shape, dtype=np.uint8)
        flat_states = states.reshape(-1)
        flat_table = table.reshape(-1)
        clip_in_work = np.can_cast(codes.dtype, work)
        unmapped = np.zeros(-(-flat_codes.size // _BLOCK) or 1, dtype=np.int64)

        def look_up(block: slice) -> None:
            part = flat_codes[block]
            if clip_in_work:
                index = np.clip(part, lo, hi, dtype=work)
            else:
                index = np.minimum(part, hi).astype(work)
            index -= work(lo)
            index <<= 1
            if flat_flags is not None:
                np.add(index, flat_flags[block], out=index, casting="unsafe")
            flat_states[block] = flat_table[index]
            unmapped[block.start // _BLOCK] = np.count_nonzero(flat_states[block] == _UNMAPPED)

        for_each_block(look_up, flat_codes.size, _BLOCK, threads)
        n_unknown = int(unmapped.sum())
        if n_unknown and on_unknown == "error":
            values = np.unique(flat_codes[flat_states == _UNMAPPED])[:10].tolist()
            raise UnknownCodeError(
                f"column {column!r}: {n_unknown} cell(s) hold codes not in code map "
                f"{self.name!r}, e.g. {values}; add them to the code map or pass "
                "on_unknown='unknown' to map them to the 'unknown' state and count them."
            )
        if n_unknown:
            np.putmask(flat_states, flat_states == _UNMAPPED, np.uint8(self.unknown_id))
        return states, n_unknown


def _table(value: Any, where: str, source: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise CodeMapError(
            f"code map {source}: {where} must be a table, got {type(value).__name__} "
            f"{value!r}; see docs/register.md for the format."
        )
    return value


def _name(value: Any, where: str, source: str) -> str:
    if not isinstance(value, str) or not value:
        raise CodeMapError(f"code map {source}: {where} must be non-empty text, got {value!r}.")
    return value


def _is_code(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_CODE


def _expand_codes(state: str, spec: Mapping[str, Any], source: str) -> list[int]:
    allowed = {"label", "codes", "ranges"}
    extra = set(spec) - allowed
    if extra:
        raise CodeMapError(
            f"code map {source}: state {state!r} has unknown key(s) {sorted(map(str, extra))}; "
            f"allowed are {sorted(allowed)}."
        )
    out: list[int] = []
    for key in ("codes", "ranges"):
        if not isinstance(spec.get(key, []), list):
            raise CodeMapError(
                f"code map {source}: state {state!r}: {key} must be a list, got "
                f"{spec[key]!r}; write e.g. codes = [890] or ranges = [[111, 112]]."
            )
    for code in spec.get("codes", []):
        if not _is_code(code):
            raise CodeMapError(
                f"code map {source}: state {state!r} lists code {code!r}; codes must be "
                f"non-negative integers up to {MAX_CODE}."
            )
        out.append(code)
    for pair in spec.get("ranges", []):
        if (
            not isinstance(pair, list)
            or len(pair) != 2
            or not all(_is_code(v) for v in pair)
            or pair[0] > pair[1]
        ):
            raise CodeMapError(
                f"code map {source}: state {state!r} has range {pair!r}; write ranges as "
                f"[first, last] with non-negative integers up to {MAX_CODE}, first <= last."
            )
        out.extend(range(pair[0], pair[1] + 1))
    if not out:
        raise CodeMapError(f"code map {source}: state {state!r} has no codes or ranges.")
    return out
