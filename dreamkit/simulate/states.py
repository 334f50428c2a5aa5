"""The simulator's detailed weekly states and their translation into a code map's codes.

The process runs on five categories, **E** (ordinary employment), **S** (sickness benefit
etc., the sickness-duration set), **U** (unemployment), **O** (other: cash benefit,
education, leave, no transfer without employment) and **D** (disability pension, absorbing:
inside the ``sickness`` share set, outside the ``sickness_duration`` set). Each week a
category is refined into one detailed state (:data:`STATE_NAMES`), each the name of a state
of the code map; weeks in a coded state get one of that state's codes from the code map
(``CodeMap.codes_of``), so no DREAM code is written in Python. E and NT carry no code: E
weeks have the employment flag, NT weeks do not.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from dreamkit.errors import CodeMapError
from dreamkit.register.codemap import CodeMap

# categories
CAT_E, CAT_S, CAT_U, CAT_O, CAT_D = range(5)
N_CATS = 5

# detailed states
E, NT, SB, JC, AG, AF, SF, RC, DP, UI, UA, CB, ED, LV = range(14)
#: Code-map state of each detailed state (E and NT: the map's no-code states).
STATE_NAMES: tuple[str, ...] = (
    "",  # E: codemap.employed_state
    "",  # NT: codemap.not_employed_state
    "sickness_benefit",
    "job_clarification",
    "activation_guidance",
    "activation_firm",
    "sickness_benefit_flexjob",
    "resource_course",
    "disability_pension",
    "unemployment_insurance",
    "unemployment_activation",
    "cash_benefit",
    "education",
    "leave",
)
DURATION_STATES = (SB, JC, AG, AF, SF, RC)  # category S
#: O-substates (entered with the O category) and the U-substates.
O_STATES = (CB, ED, LV, NT)
NO_CODE = -1


@dataclass(frozen=True)
class StateCoder:
    """Look-up tables from detailed states to code-map state ids and codes.

    ``codes[s, j]`` is code ``j mod (number of codes of s)`` of detailed state ``s``
    (:data:`NO_CODE` for E and NT); a person uses column ``choice_i`` throughout, which
    gives a realistic mix of codes across persons.
    """

    codemap: CodeMap
    state_ids: npt.NDArray[np.uint8]
    codes: npt.NDArray[np.int16]

    @classmethod
    def of(cls, codemap: CodeMap) -> StateCoder:
        names = (codemap.employed_state, codemap.not_employed_state, *STATE_NAMES[2:])
        ids = np.array([codemap.state_id(name) for name in names], dtype=np.uint8)
        _check_sets(codemap, names)
        lists = [codemap.codes_of(name) for name in names]
        for name, codes in zip(names[2:], lists[2:], strict=True):
            if not codes:
                raise CodeMapError(
                    f"code map {codemap.name!r}: state {name!r} has no codes; the simulator "
                    "writes one of its codes in weeks of that state."
                )
            if max(codes) > np.iinfo(np.int16).max:
                raise CodeMapError(
                    f"code map {codemap.name!r}: state {name!r} has code {max(codes)} beyond "
                    "the Int16 range of DREAM-style code tables."
                )
        width = max(len(c) for c in lists)
        table = np.full((len(names), width), NO_CODE, dtype=np.int16)
        for s, codes in enumerate(lists):
            if codes:
                table[s] = [codes[j % len(codes)] for j in range(width)]
        return cls(codemap, ids, table)

    @property
    def width(self) -> int:
        return int(self.codes.shape[1])


def _check_sets(codemap: CodeMap, names: tuple[str, ...]) -> None:
    """The simulator's categories must agree with the map's outcome sets."""
    expect = {
        "employment": {names[E]},
        "sickness_duration": {names[s] for s in DURATION_STATES},
        "sickness": {names[s] for s in (*DURATION_STATES, DP)},
    }
    for set_name, required in expect.items():
        if set_name not in codemap.sets:
            raise CodeMapError(
                f"code map {codemap.name!r} has no set {set_name!r}; the simulator needs the "
                "sets employment, sickness and sickness_duration."
            )
        members = codemap.sets[set_name] & set(names)
        if members != required:
            raise CodeMapError(
                f"code map {codemap.name!r}: set {set_name!r} holds simulator states "
                f"{sorted(members)}, expected {sorted(required)}; the simulated hazard is "
                "defined on these sets."
            )
