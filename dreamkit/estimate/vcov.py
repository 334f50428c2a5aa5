"""The one place where covariance choices are named, parsed and checked.

Every estimator takes ``vcov`` in the spelling pyfixest users know:

* ``"iid"`` -- model-based (likelihood models: the inverse information);
* ``"HC1"`` (alias ``"hetero"``) -- heteroskedasticity-robust, factor N/(N-K);
* ``{"CRV1": "team"}`` -- cluster-robust by the column ``team``,
  :math:`c\\,(X'X)^{-1}\\sum_g X_g'e_ge_g'X_g(X'X)^{-1}` with
  :math:`c = \\frac{G}{G-1}\\frac{N-1}{N-K}`;
* ``{"CRV3": "team"}`` -- the cluster jackknife (linear models);
* ``{"CR2": "team"}`` -- the Bell-McCaffrey bias-reduced cluster-robust covariance
  :math:`(X'X)^{-1}\\sum_g X_g'A_ge_ge_g'A_gX_g(X'X)^{-1}`, :math:`A_g = (I - H_{gg})^{+1/2}`,
  with Bell-McCaffrey (Satterthwaite) degrees of freedom for each coefficient (the ITT path,
  ``feols`` and the GLM hazards; GLMs use the IRLS working weights, docs/inference.md).

A bare ``"CRV1"``/``"CR2"``/``"CRV3"`` uses the estimator's default cluster column (``team`` in the
reference study). Which kinds an estimator supports is passed as ``allowed``; asking for
another raises :class:`~dreamkit.errors.InputError` naming the supported ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from dreamkit.errors import InputError

ALIASES = {
    "hetero": "HC1",
    "hc1": "HC1",
    "iid": "iid",
    "crv1": "CRV1",
    "crv3": "CRV3",
    "cr2": "CR2",
    "crv2": "CR2",
}
KINDS = ("iid", "HC1", "CRV1", "CR2", "CRV3")
CLUSTERED = ("CRV1", "CR2", "CRV3")

VcovArg = str | Mapping[str, str]


@dataclass(frozen=True)
class Vcov:
    """A parsed covariance choice: its kind and, for cluster-robust kinds, the column."""

    kind: str
    cluster: str | None = None

    @property
    def label(self) -> str:
        return f"{self.kind} ({self.cluster})" if self.cluster else self.kind


def parse_vcov(
    spec: VcovArg | Vcov,
    *,
    allowed: Sequence[str] = KINDS,
    default_cluster: str | None = None,
) -> Vcov:
    """Parse ``spec`` (module docstring) into a :class:`Vcov`, checked against ``allowed``."""
    if isinstance(spec, Vcov):
        kind, cluster = spec.kind, spec.cluster
    elif isinstance(spec, str):
        kind = ALIASES.get(spec.lower(), spec)
        cluster = default_cluster if kind in CLUSTERED else None
    elif isinstance(spec, Mapping):
        if len(spec) != 1:
            raise InputError(
                f"vcov={dict(spec)!r} must have exactly one entry, e.g. {{'CRV1': 'team'}}."
            )
        ((raw, cluster),) = spec.items()
        kind = ALIASES.get(str(raw).lower(), str(raw))
        if kind not in CLUSTERED:
            raise InputError(
                f"vcov={dict(spec)!r}: only cluster-robust kinds {CLUSTERED} take a column; "
                f"pass {kind!r} as a string."
            )
        if not isinstance(cluster, str) or not cluster:
            raise InputError(f"vcov={dict(spec)!r}: the cluster must be a column name.")
    else:
        raise InputError(
            f"vcov={spec!r} is not understood; pass 'iid', 'HC1' or {{'CRV1': 'team'}}."
        )
    if kind not in allowed:
        raise InputError(
            f"vcov kind {kind!r} is not available here; choose one of {tuple(allowed)}."
        )
    if kind in CLUSTERED and not cluster:
        raise InputError(f"vcov={kind!r} needs a cluster column: pass {{{kind!r}: 'team'}}.")
    return Vcov(kind, cluster)
