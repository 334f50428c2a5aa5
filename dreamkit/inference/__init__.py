r"""Inference for few-cluster, within-team randomised trials, on numpy arrays.

* :func:`wild_cluster_bootstrap` — restricted/unrestricted wild cluster bootstrap (Rademacher
  or Webb weights) for the treatment coefficient of W outcomes at once.
* :func:`randomization_inference` — exact or Monte Carlo randomisation tests re-drawing the
  allocation within blocks (teams); :func:`fwl_statistic` for the FWL coefficient or its t.
* :func:`sup_t_band`, :func:`bootstrap_sup_t_band` — simultaneous bands over the effect path.
* :func:`romano_wolf`, :func:`westfall_young`, :func:`adjust_pvalues` — multiple testing.
* :func:`working_t_pvalue`, :func:`working_t_critical_value` — the exact reference
  distribution of a CR2 t-statistic under its working model (from the eigenvalues of the
  Bell-McCaffrey matrix; :mod:`dreamkit.inference.working_t`).
* :func:`control_basis`, :func:`annihilate` — the FWL annihilator
  :math:`M_Z a = a - QQ'a` with Q an orthonormal basis of col(Z); :func:`crv1_factor` — the
  CRV1 small-sample factor (:mod:`dreamkit.inference.linalg`).
"""

from dreamkit.inference.allocation import (
    BlockDesign,
    block_design,
    count_allocations,
    draw_allocations,
    enumerate_allocations,
)
from dreamkit.inference.bands import (
    Band,
    bootstrap_sup_t_band,
    sup_t_band,
    sup_t_critical_value,
)
from dreamkit.inference.linalg import annihilate, control_basis, crv1_factor
from dreamkit.inference.multiple_testing import adjust_pvalues, romano_wolf, westfall_young
from dreamkit.inference.randomization import (
    FWLStatistic,
    RandomizationResult,
    fwl_statistic,
    randomization_inference,
)
from dreamkit.inference.wild_bootstrap import (
    WildBootstrapResult,
    draw_cluster_weights,
    wild_cluster_bootstrap,
)
from dreamkit.inference.working_t import working_t_critical_value, working_t_pvalue

__all__ = [
    "Band",
    "BlockDesign",
    "FWLStatistic",
    "RandomizationResult",
    "WildBootstrapResult",
    "adjust_pvalues",
    "annihilate",
    "block_design",
    "bootstrap_sup_t_band",
    "control_basis",
    "count_allocations",
    "crv1_factor",
    "draw_allocations",
    "draw_cluster_weights",
    "enumerate_allocations",
    "fwl_statistic",
    "randomization_inference",
    "romano_wolf",
    "sup_t_band",
    "sup_t_critical_value",
    "westfall_young",
    "wild_cluster_bootstrap",
    "working_t_critical_value",
    "working_t_pvalue",
]
