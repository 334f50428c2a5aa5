"""Validation designs: which trial is simulated, with which true effects, and what is checked.

A :class:`Scenario` fixes the simulated design and effects and the estimators that are run on
every replication (:func:`dreamkit.validate.replicate.replicate`). The standard designs:

* :data:`REFERENCE` -- the reference trial (43 teams, 568 persons, 26 municipalities) with
  heterogeneous effects (average, low self-efficacy, lock-in and peer terms): ITT paths with
  CRV1 and sup-t bands, the self-efficacy contrasts, the peer contrast, and the discrete-time
  hazard (logit and cloglog) on separate trials with a homogeneous effect ``hazard_tau``.
* :data:`NULL` -- the same trial under the sharp null (every effect 0): rejection rates.
* :data:`FEW_CLUSTERS` / :data:`FEW_CLUSTERS_NULL` -- 12 teams of about 14 persons: CRV1,
  CRV3 (cluster jackknife), CR2 (Bell-McCaffrey with its df), the restricted wild cluster
  bootstrap (WCR, Webb weights, CIs by test inversion) and randomisation inference
  (studentised, within teams).
* :data:`UNEQUAL_CLUSTERS_NULL` -- 12 teams of very unequal size (3 of 50 persons, 9 of 5),
  and :data:`DOMINANT_CLUSTER_NULL` -- one team of 200 and 11 of 5, both under the sharp
  null: the settings in which CRV1 with t(G-1) intervals is known to over-reject, because a
  few large clusters dominate the variance estimate (MacKinnon, Nielsen & Webb 2023); the
  same few-cluster tools.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from dreamkit.errors import InputError
from dreamkit.simulate import ReferenceDesign, TeamDesign, TrueEffects

#: The reference study's four prognostic covariates X of model (2).
STUDY_COVARIATES: tuple[str, ...] = (
    "belief_in_treatment",
    "expected_return",
    "ordinary_job",
    "pre_sick_104_1",
)

#: The simulator's eight hazard covariates (docs/simulator.md; linear transforms of these
#: columns, so the treatment coefficient is the same).
HAZARD_COVARIATES: tuple[str, ...] = (
    "uwses",
    "age",
    "female",
    "ordinary_job",
    "mental_cause",
    "belief_in_treatment",
    "expected_return",
    "self_rated_health",
)

#: Share-path outcomes: prefix of the outcome columns -> name used in the tables.
PATHS: dict[str, str] = {"emp": "employment share", "sick": "sickness share"}


@dataclass(frozen=True)
class Scenario:
    """One validation design.

    Attributes:
        name: label in the tables.
        design: the simulated design.
        effects: true effects of the ITT trial (paths, subgroups, peers, few-cluster tools).
        paths: outcome prefixes of :data:`PATHS` whose effect paths are estimated.
        weeks: weeks w at which tau_w is checked (plus the mean of tau_1..tau_W).
        band: check the sup-t band over the whole path (CRV1 covariance).
        band_draws: normal draws for the sup-t critical value.
        subgroups: check the self-efficacy grid (cut-off ``effects.low_cutoff``) and the
            peer contrast (own cut-off and peer cut-off ``effects.peer_cutoff``).
        hazard_tau: true log-odds / log-hazard effect of the homogeneous hazard trial
            (``None``: no hazard checks). A link is checked on a trial simulated with it.
        hazard_both_links: check both links in every replication (two hazard trials);
            default: one link per replication, chosen by a fair coin from its seed, which
            halves the cost and gives each link about R/2 replications.
        few_cluster_tools: also run CRV3, CR2, the wild cluster bootstrap and randomisation
            inference on the checked weeks and the path mean.
        n_boot: wild cluster bootstrap draws (Webb weights).
        n_ri: randomisation-inference draws.
    """

    name: str
    design: ReferenceDesign | TeamDesign
    effects: TrueEffects
    paths: tuple[str, ...] = ("emp", "sick")
    weeks: tuple[int, ...] = (13, 26, 52, 81)
    band: bool = True
    band_draws: int = 10_000
    subgroups: bool = True
    hazard_tau: float | None = -0.10
    hazard_both_links: bool = False
    few_cluster_tools: bool = False
    n_boot: int = 399
    n_ri: int = 399

    def __post_init__(self) -> None:
        unknown = [p for p in self.paths if p not in PATHS]
        if unknown or not self.paths:
            raise InputError(
                f"Scenario.paths = {self.paths!r}; use a non-empty subset of {tuple(PATHS)}."
            )
        if not self.weeks or any(not 1 <= w <= 81 for w in self.weeks):
            raise InputError(f"Scenario.weeks = {self.weeks!r}; give weeks in 1..81.")
        if self.band_draws < 1000 or self.n_boot < 99 or self.n_ri < 99:
            raise InputError(
                "Scenario: band_draws must be >= 1000 and n_boot, n_ri >= 99 for a usable "
                "critical value or p-value."
            )

    @property
    def hazard_effects(self) -> TrueEffects:
        """Homogeneous effects of the hazard trials: tau only, so tau is the true coefficient."""
        assert self.hazard_tau is not None
        return TrueEffects(tau=self.hazard_tau, tau_low=0.0, tau_lock=0.0, tau_peer=0.0)


#: Effects of the reference scenario: the simulator's defaults plus a peer effect.
REFERENCE_EFFECTS = TrueEffects(tau=-0.10, tau_low=0.30, tau_lock=-0.30, tau_peer=0.40)

REFERENCE = Scenario("reference (43 teams)", ReferenceDesign(), REFERENCE_EFFECTS)
NULL = Scenario("null (43 teams)", ReferenceDesign(), TrueEffects.null(), hazard_tau=0.0)

_FEW = TeamDesign(n_teams=12, mean_team_size=14)
FEW_CLUSTERS = Scenario(
    "few clusters (12 teams)",
    _FEW,
    REFERENCE_EFFECTS,
    paths=("sick",),
    weeks=(26, 81),
    band=False,
    subgroups=False,
    hazard_tau=None,
    few_cluster_tools=True,
)
FEW_CLUSTERS_NULL = replace(
    FEW_CLUSTERS, name="few clusters, null (12 teams)", effects=TrueEffects.null()
)
UNEQUAL_CLUSTERS_NULL = replace(
    FEW_CLUSTERS_NULL,
    name="unequal clusters, null (12 teams: 3 of 50, 9 of 5)",
    design=ReferenceDesign(team_sizes=((20, 30),) * 3 + ((2, 3),) * 9, n_two_team_municipalities=3),
)
DOMINANT_CLUSTER_NULL = replace(
    FEW_CLUSTERS_NULL,
    name="one dominant cluster, null (12 teams: 1 of 200, 11 of 5)",
    design=ReferenceDesign(team_sizes=((80, 120),) + ((2, 3),) * 11, n_two_team_municipalities=3),
)

SCENARIOS: dict[str, Scenario] = {
    "reference": REFERENCE,
    "null": NULL,
    "few_clusters": FEW_CLUSTERS,
    "few_clusters_null": FEW_CLUSTERS_NULL,
    "unequal_clusters_null": UNEQUAL_CLUSTERS_NULL,
    "dominant_cluster_null": DOMINANT_CLUSTER_NULL,
}
