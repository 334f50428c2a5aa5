r"""Treatment effects by cell: the engine behind models (3) and (4).

Persons fall in cells c = 1..C (e.g. Low/High self-efficacy, or the four Low x PeersLow
cells); effect groups e = 1..E pool cells that share one effect (E = C unrestricted). The model

.. math:: Y_i = \sum_e \tau_e\,T_i\,1\{e(c_i) = e\} + \text{cell terms} + X_i'\delta + e_i,

with cell terms either stratum x cell fixed effects (``interact_strata=True``: the fully
interacted model (3), :math:`\sum_c 1\{c_i=c\}\sum_k b_{ck} M_{ik}`) or stratum fixed effects
plus cell dummies. Team-clustered; fitted for all outcomes at once by FWL.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from dreamkit.errors import TrialDesignError
from dreamkit.estimate.linear.design_matrix import Sample
from dreamkit.estimate.linear.fwl import FWLFit, fit_fwl


def check_cells(
    treated: NDArray[np.float64],
    cells: NDArray[np.intp],
    cell_names: Sequence[str],
    min_cell: int,
    context: str,
) -> None:
    """Each cell needs at least ``min_cell`` persons in each arm."""
    for c, name in enumerate(cell_names):
        for arm, label in ((1.0, "course"), (0.0, "control")):
            count = int(((cells == c) & (treated == arm)).sum())
            if count < min_cell:
                raise TrialDesignError(
                    f"{context}: cell {name!r} has {count} {label} person(s), below "
                    f"min_cell={min_cell}; choose another cut-off or grouping, or lower "
                    "min_cell (disclosure rules may forbid cells under 5)."
                )


def fit_cells(
    sample: Sample,
    cells: NDArray[np.intp],
    cell_names: Sequence[str],
    effect_groups: Sequence[int],
    *,
    interact_strata: bool,
    vcov: str,
) -> FWLFit:
    """Fit the effect of each effect group (``effect_groups[c]`` for cell c)."""
    n_cells = len(cell_names)
    groups = np.asarray(effect_groups, dtype=np.intp)[cells]
    n_groups = int(max(effect_groups)) + 1
    d = np.zeros((cells.shape[0], n_groups))
    d[np.arange(cells.shape[0]), groups] = sample.treated
    controls = sample.covariates
    names = sample.covariate_names
    if interact_strata:
        combined = sample.strata * n_cells + cells
        absorb = np.unique(combined, return_inverse=True)[1].astype(np.intp)
    else:
        absorb = sample.strata
        dummies = (cells[:, None] == np.arange(1, n_cells)[None, :]).astype(np.float64)
        controls = dummies if controls is None else np.hstack([dummies, controls])
        names = tuple(f"cell {n}" for n in cell_names[1:]) + names
    return fit_fwl(
        sample.y,
        d,
        absorb=absorb,
        controls=controls,
        clusters=sample.clusters,
        vcov=vcov,
        regressor_names=tuple(f"treated x {g}" for g in range(n_groups)),
        control_names=names,
    )


def group_means(
    sample: Sample, cells: NDArray[np.intp], effect_groups: Sequence[int]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Control means (E, W) and sample shares (E,) of each effect group."""
    groups = np.asarray(effect_groups, dtype=np.intp)[cells]
    n_groups = int(max(effect_groups)) + 1
    control = sample.treated == 0
    means = np.vstack([sample.y[control & (groups == e)].mean(axis=0) for e in range(n_groups)])
    shares = np.array([(groups == e).mean() for e in range(n_groups)])
    return means, shares
