"""The simulators' shared settings: optional parameters with their defaults filled in.

:func:`dreamkit.simulate.simulate_trial` and :func:`dreamkit.simulate.simulate_population`
take the same optional parameters (true effects, history and process parameters, hazard
link, code map, seed); :func:`resolve_settings` gives both the same defaults and checks.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from dreamkit.register.codemap import CodeMap
from dreamkit.simulate import states as S
from dreamkit.simulate.effects import Link, TrueEffects, check_link
from dreamkit.simulate.history import HistoryParams
from dreamkit.simulate.process import ProcessParams


class Settings(NamedTuple):
    """Resolved parameters, the state coder of the code map and the seeded generator."""

    effects: TrueEffects
    history: HistoryParams
    process: ProcessParams
    link: Link
    codemap: CodeMap
    coder: S.StateCoder
    rng: np.random.Generator


def resolve_settings(
    *,
    effects: TrueEffects | None,
    history: HistoryParams | None,
    process: ProcessParams | None,
    link: str,
    codemap: CodeMap | None,
    seed: int,
) -> Settings:
    """Defaults for the parameters left at None, the checked link and ``default_rng(seed)``."""
    effects = TrueEffects() if effects is None else effects
    history = HistoryParams() if history is None else history
    process = ProcessParams() if process is None else process
    link_ = check_link(link)
    codemap = CodeMap.default() if codemap is None else codemap
    coder = S.StateCoder.of(codemap)
    return Settings(effects, history, process, link_, codemap, coder, np.random.default_rng(seed))
