"""One exception hierarchy for dreamkit.

Every error names the column, the offending value (never a person identifier) and the fix.
Catch :class:`DreamkitError` to catch them all.
"""

from __future__ import annotations


class DreamkitError(Exception):
    """Base class of every error dreamkit raises on purpose."""


class InputError(DreamkitError, ValueError):
    """Input data does not have the shape or content dreamkit needs."""


class ColumnNotFoundError(InputError):
    """A required column is missing or misnamed."""


class EmptyInputError(InputError):
    """The input has no rows (or no week columns)."""


class WeekLabelError(InputError):
    """A week label is not a valid ISO week (``y_YYWW``, ``YYYYWW`` or a date)."""


class DuplicateError(InputError):
    """The same person-week (or person-month, or person) occurs more than once."""


class CodeNotIntegerError(InputError):
    """A benefit code cannot be read as an integer."""


class UnknownCodeError(InputError):
    """A benefit code is not covered by the code map."""


class CodeMapError(InputError):
    """A code map file is malformed (overlapping ranges, unknown states, bad sets)."""


class SpanError(InputError):
    """Data lie outside the span the register covers (e.g. employment months)."""


class MissingPersonsError(InputError):
    """Persons of the trial table are absent from the register."""


class OverlappingSpellsError(InputError):
    """Two spells of the same person share a week (repeated-events data)."""


class TrialDesignError(InputError):
    """The trial table violates the design (one-arm stratum, bad arm codes, ...)."""


class EstimationError(DreamkitError, RuntimeError):
    """An estimator cannot produce a trustworthy answer (separation, collinearity, ...)."""


class MixtureBoundaryError(EstimationError):
    """A discrete mixing distribution degenerates: a mass point's probability goes to 0, two
    mass points collapse into one, or a point drifts to the boundary (log hazard to -inf)."""


class IdentificationError(InputError):
    """The data cannot identify the model (e.g. no variation in programme entry timing)."""


class DisclosureError(DreamkitError):
    """An output would reveal a cell below the disclosure threshold."""


class ConfigError(DreamkitError, ValueError):
    """An analysis configuration is invalid (unknown key, wrong type, missing file)."""


class OutputWriteError(DreamkitError, OSError):
    """An output file could not be written (disk full, quota, permissions); nothing
    half-written is left under the output's name."""


class MonthLabelError(WeekLabelError):
    """A month label (employment columns or tables) is not a valid ``YYYY_MM`` month."""


class DreamkitWarning(UserWarning):
    """Base class of dreamkit's warnings: the result is computed, but read it with care."""


class FrailtyBoundaryWarning(DreamkitWarning):
    """The frailty variance is estimated at its boundary (zero): the no-frailty model fits as
    well; the fit reports the boundary likelihood-ratio test (chi-bar-squared, p/2)."""


class MixtureBoundaryWarning(DreamkitWarning):
    """A mixing distribution's support point was dropped at the boundary (probability 0) and
    the model refitted without it (the constrained maximum)."""


class InferenceWarning(DreamkitWarning):
    """A standard error or interval is known to be unreliable for this design."""


class SchedulerUnreachableError(DreamkitError, ConnectionError):
    """A cluster scheduler (e.g. a ``dask.distributed`` scheduler) cannot be reached."""


class SchemaMismatchError(InputError):
    """Partitions of one dataset have different column names or types."""


class ExecutorError(DreamkitError, RuntimeError):
    """Parallel work could not run on its executor: a task that cannot be pickled, workers
    that cannot load it, a cluster that lost all its workers, or no task finished within the
    executor's ``timeout``. The message names the function and the task, never data values."""
