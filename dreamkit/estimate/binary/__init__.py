"""Binary-outcome regression: logit/probit with stratum effects and CRV1, odds-ratio ladders,
backward elimination, effect modification, marginal effects. Equations: ``docs/binary.md``."""

from dreamkit.estimate.binary.fit import BinaryResult, MarginalEffects, TestResult, fit_binary
from dreamkit.estimate.binary.frame import binary_model, logit, probit
from dreamkit.estimate.binary.ladder import (
    Elimination,
    Ladder,
    Modification,
    backward_eliminate,
    exposure_or_by,
    group_table,
    or_ladder,
)

__all__ = [
    "BinaryResult",
    "Elimination",
    "Ladder",
    "MarginalEffects",
    "Modification",
    "TestResult",
    "backward_eliminate",
    "binary_model",
    "exposure_or_by",
    "fit_binary",
    "group_table",
    "logit",
    "or_ladder",
    "probit",
]
