"""Synthetic reference-style trials and DREAM-style registers with known true effects.

* :func:`simulate_trial`: a randomised trial (teams within municipalities, 60/40 within
  teams), its baseline survey, a DREAM-style register over weeks -104..81+ around each
  allocation, and the true effects from both potential outcomes (common random numbers).
* :func:`simulate_population`: a large register (e.g. 1M persons x 260 weeks) with individual
  allocation weeks, for benchmarks.

The data-generating process is documented in ``docs/simulator.md``.
"""

from dreamkit.simulate.design import REFERENCE_TEAM_SIZES, Recruitment, ReferenceDesign, TeamDesign
from dreamkit.simulate.effects import TrueEffects
from dreamkit.simulate.history import HistoryParams
from dreamkit.simulate.population import SimulatedPopulation, simulate_population
from dreamkit.simulate.process import ProcessParams
from dreamkit.simulate.reallocate import reallocate
from dreamkit.simulate.trial import SimulatedTrial, simulate_trial
from dreamkit.simulate.truth import Truth

__all__ = [
    "REFERENCE_TEAM_SIZES",
    "HistoryParams",
    "ProcessParams",
    "Recruitment",
    "ReferenceDesign",
    "SimulatedPopulation",
    "SimulatedTrial",
    "TeamDesign",
    "TrueEffects",
    "Truth",
    "reallocate",
    "simulate_population",
    "simulate_trial",
]
