"""Monte Carlo validation of dreamkit's estimators against the simulator's known truth.

* :func:`validate` -- R replications of "simulate a trial with known effects, then estimate"
  for a :class:`Scenario` (:data:`REFERENCE`, :data:`NULL`, :data:`FEW_CLUSTERS`,
  :data:`FEW_CLUSTERS_NULL`, :data:`UNEQUAL_CLUSTERS_NULL`, :data:`DOMINANT_CLUSTER_NULL` or
  your own), on several processes, reproducible from one seed;
* :func:`summarise` -- bias, RMSE, mean SE vs Monte Carlo SD, coverage with its Monte Carlo
  error, rejection rates; :func:`binomial_band` -- the exact acceptance band of a coverage
  or rejection rate; :func:`markdown_table` -- the table of ``docs/validation.md``;
* :func:`replicate` and :func:`run` -- the pieces underneath, for custom studies;
  :func:`replicate_cluster_robust` (ITT, CRV1 and CR2 only) and
  :func:`replicate_hazard_cluster_robust` (hazard, CRV1 and CR2) for cheap size studies.

The estimands and the truth each interval is compared with are listed in
:mod:`dreamkit.validate.replicate` and ``docs/validation.md``.
"""

from dreamkit.validate.montecarlo import Draw, binomial_band, replication_seeds, run, summarise
from dreamkit.validate.replicate import (
    replicate,
    replicate_cluster_robust,
    replicate_hazard_cluster_robust,
)
from dreamkit.validate.report import markdown_table
from dreamkit.validate.scenarios import (
    DOMINANT_CLUSTER_NULL,
    FEW_CLUSTERS,
    FEW_CLUSTERS_NULL,
    NULL,
    REFERENCE,
    SCENARIOS,
    UNEQUAL_CLUSTERS_NULL,
    Scenario,
)
from dreamkit.validate.study import Validation, validate
from dreamkit.validate.truth import SampleTruth

__all__ = [
    "DOMINANT_CLUSTER_NULL",
    "FEW_CLUSTERS",
    "FEW_CLUSTERS_NULL",
    "NULL",
    "REFERENCE",
    "SCENARIOS",
    "UNEQUAL_CLUSTERS_NULL",
    "Draw",
    "SampleTruth",
    "Scenario",
    "Validation",
    "binomial_band",
    "markdown_table",
    "replicate",
    "replicate_cluster_robust",
    "replicate_hazard_cluster_robust",
    "replication_seeds",
    "run",
    "summarise",
    "validate",
]
