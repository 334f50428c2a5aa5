r"""The ITT effect path, models (2) and (5) of the reference study.

.. math:: Y_{iw} = \tau_w T_i + \sum_k b_{kw} M_{ik} + X_i'\delta_w + e_{iw},\qquad w = 1..W,

M the stratum (municipality) dummies, X chosen baseline covariates (none for model 5), errors
clustered by team. All W outcomes share one design, factored once by Frisch-Waugh-Lovell
(:mod:`dreamkit.estimate.linear.fwl`): :math:`\hat\tau_w = \tilde t'\tilde y_w / \tilde t'\tilde t`,
and the cluster scores :math:`s_{gw} = \sum_{i\in g}\tilde t_i\hat e_{iw}` give the full W x W
covariance of :math:`(\hat\tau_1..\hat\tau_W)`,
:math:`V = c\,S'S/(\tilde t'\tilde t)^2`, :math:`c = \frac{G}{G-1}\frac{N-1}{N-K}` with K
counting the treatment, every stratum level and the covariates (CRV1; equal to statsmodels OLS
with stratum dummies and ``cov_type="cluster"``, and to pyfixest with
``ssc(k_fixef="full")``; pyfixest's default ``"nonnested"`` gives the same K here because
municipalities are not nested in teams).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
from numpy.typing import NDArray

from dreamkit.design import columns as C
from dreamkit.errors import InputError
from dreamkit.estimate.linear.contrast_inference import (
    AdjustMethod,
    DrawSource,
    NullDraws,
    adjusted_table,
    check_source,
)
from dreamkit.estimate.linear.design_matrix import Missing, Sample, prepare_sample, sample_controls
from dreamkit.estimate.linear.fwl import FWLFit, fit_fwl
from dreamkit.estimate.results import EstimateResult, fit_rows
from dreamkit.frames import accepts_pandas
from dreamkit.inference.wild_bootstrap import WeightType


@dataclass(frozen=True, repr=False)
class PathResult(EstimateResult):
    """Effect path: :attr:`table` has one row per week; :attr:`vcov` is W x W.

    The partialled data the inference tools need are :attr:`fit` (``d_tilde`` (n, 1),
    ``y_tilde`` (n, W), ``resid``, ``cluster_codes``) and :meth:`controls` (the dense
    control matrix Z = [stratum dummies, covariates]). To save one n x W copy the outcomes
    are partialled in place, so ``sample.y`` is ``fit.y_tilde``; the inference hooks pass
    y~ with Z, which gives the same answers as the raw outcomes because M_Z y~ = y~.
    """

    fit: FWLFit | None = field(default=None, repr=False)
    sample: Sample | None = field(default=None, repr=False)
    stratum: str | None = C.STRATUM
    cluster: str = C.CLUSTER
    treated: str = C.TREATED

    @property
    def estimates(self) -> NDArray[np.float64]:
        """tau_1..tau_W."""
        return self._fit.coef[0]

    @property
    def std_errors(self) -> NDArray[np.float64]:
        """Standard errors of tau_1..tau_W."""
        return self._fit.std_error[0]

    @property
    def vcov(self) -> NDArray[np.float64]:
        """The W x W covariance of (tau_1..tau_W) (what a sup-t band needs)."""
        return self._fit.vcov_of(0)

    @property
    def weeks(self) -> tuple[int, ...]:
        return self._sample.weeks

    @property
    def _fit(self) -> FWLFit:
        assert self.fit is not None
        return self.fit

    @property
    def _sample(self) -> Sample:
        assert self.sample is not None
        return self.sample

    def controls(self) -> NDArray[np.float64]:
        """Dense controls Z (n, L + k): one dummy per stratum level, then the covariates."""
        return sample_controls(self._sample)

    def sup_t_band(self, level: float = 0.95, *, n_draws: int = 100_000, seed: int = 0) -> Any:
        """Plug-in sup-t simultaneous band from :attr:`vcov` (dreamkit.inference.sup_t_band).

        The critical value is simulated from a multivariate t with the fit's degrees of
        freedom (G - 1 for CRV1/CRV3, the Bell-McCaffrey df of the treatment for CR2),
        matching the pointwise t intervals; with normal draws the band under-covered the
        whole path in the Monte Carlo validation.
        """
        from dreamkit.inference import sup_t_band

        return sup_t_band(
            self.estimates, self.vcov, level=level, n_draws=n_draws, seed=seed, df=self._fit.df
        )

    def wild_cluster_bootstrap(self, **kwargs: Any) -> Any:
        """Wild cluster bootstrap of all weeks at once (dreamkit.inference, same design)."""
        from dreamkit.inference import wild_cluster_bootstrap

        s = self._sample
        return wild_cluster_bootstrap(s.y, s.treated, self.controls(), s.clusters, **kwargs)

    def randomization_inference(self, *, studentize: bool = True, **kwargs: Any) -> Any:
        """Randomisation test re-drawing the allocation within teams (dreamkit.inference)."""
        from dreamkit.inference import fwl_statistic, randomization_inference

        s = self._sample
        stat = fwl_statistic(s.y, self.controls(), s.clusters, studentize=studentize)
        return randomization_inference(stat, s.treated, s.clusters, **kwargs)

    def adjusted_pvalues(
        self,
        method: AdjustMethod = "romano-wolf",
        *,
        draws: DrawSource = "bootstrap",
        B: int = 999,
        weights: WeightType = "rademacher",
        n_draws: int = 999,
        seed: int = 0,
    ) -> pl.DataFrame:
        r"""p-values across the W weeks adjusted for multiple testing from joint null draws.

        ``draws="bootstrap"``: restricted wild cluster bootstrap t's (B, W), one set of team
        weights for all weeks, marginal :math:`p_w = B^{-1}\#\{|t^*_{bw}| \ge |t_w|\}`;
        ``draws="randomization"``: the CRV1 t of every week under allocations re-drawn within
        teams, :math:`p_w = (1 + \#)/(1 + R)` (Monte Carlo) or :math:`\#/M` (exact).
        ``p_adjusted``: Romano-Wolf step-down max-T (``method="romano-wolf"``) or
        Westfall-Young step-down min-P (``"westfall-young"``) over the family of all weeks;
        ``p_holm``, ``p_bh``: Holm and Benjamini-Hochberg on the marginal p-values.

        Columns: week, outcome, estimate, t_stat, p_value, p_adjusted, p_holm, p_bh, method,
        draws.
        """
        check_source(draws)
        if draws == "bootstrap":
            wb = self.wild_cluster_bootstrap(B=B, weights=weights, seed=seed, impose_null=True)
            null = NullDraws.from_bootstrap(wb)
        else:
            ri = self.randomization_inference(studentize=True, n_draws=n_draws, seed=seed)
            null = NullDraws.from_randomization(ri)
        keys = {"week": self.weeks, "outcome": self._sample.outcomes}
        return adjusted_table(keys, self.estimates, null, method)

    def pyfixest_fit(self, week: int) -> Any:
        """The same model for one week fitted by pyfixest (the library fit underneath)."""
        import pyfixest as pf

        s = self._sample
        j = s.weeks.index(week)
        y = s.outcomes[j]
        rhs = " + ".join([self.treated, *s.covariate_names])
        fml = f"{y} ~ {rhs}" + (f" | {self.stratum}" if self.stratum else "")
        if self.vcov_type == "CR2":
            raise InputError("pyfixest has no CR2 covariance; refit with vcov='CRV1' to compare.")
        vcov: Any = "hetero" if self.vcov_type == "HC1" else {self.vcov_type: self.cluster}
        return pf.feols(fml, data=s.frame.to_pandas(), vcov=vcov, ssc=pf.ssc(k_fixef="full"))


@accepts_pandas("data")
def effect_path(
    data: pl.DataFrame,
    outcomes: str | Sequence[str],
    covariates: Sequence[str] = (),
    *,
    treated: str = C.TREATED,
    stratum: str | None = C.STRATUM,
    cluster: str = C.CLUSTER,
    vcov: str = "CRV1",
    level: float = 0.95,
    missing: Missing = "raise",
    model: str | None = None,
    cr2_reference: str = "satterthwaite",
) -> PathResult:
    """ITT effects tau_w for every outcome column (model 2; model 5 with no covariates).

    Args:
        data: one row per person with outcome, design and covariate columns.
        outcomes: outcome column names, or a prefix such as ``"emp_share_"`` (weeks taken
            from the trailing numbers).
        covariates: baseline covariates X (empty for model 5).
        vcov: ``"CRV1"`` (default), ``"CR2"`` (Bell-McCaffrey with Satterthwaite degrees of
            freedom, the same for every week: :mod:`dreamkit.estimate.linear.fwl`),
            ``"CRV3"`` (cluster jackknife) or ``"HC1"``.
        cr2_reference: with ``vcov="CR2"``, ``"satterthwaite"`` (default: t with the
            Bell-McCaffrey df) or ``"exact"``: p-values and intervals (also of contrasts)
            from the exact distribution of the CR2 t-statistic under the working model
            (:mod:`dreamkit.inference.working_t`), which the Satterthwaite df approximates by
            two moments; less conservative when a few large teams dominate (the ``df``
            column keeps the Bell-McCaffrey df; the sup-t band still uses it).
        missing: ``"raise"`` (default) or ``"drop"`` (listwise, recorded in the result).

    Returns a :class:`PathResult`: table columns term, outcome, week, estimate, std_error,
    conf_low, conf_high, p_value, n_obs, n_clusters, control_mean.
    """
    sample = prepare_sample(
        data,
        outcomes,
        covariates,
        treated=treated,
        stratum=stratum,
        cluster=cluster,
        missing=missing,
    )
    control = 1.0 - sample.treated
    means = (control @ sample.y / control.sum())[None, :]
    # sample.y now holds y~ (saves n x W)
    fit = fit_sample(sample, vcov, overwrite_y=True, cr2_reference=cr2_reference)
    table = fit_rows(
        fit, level, [treated], sample.outcomes, means, extra={"week": list(sample.weeks)}
    )
    label = model or ("(2) ITT path" if covariates else "(5) ITT path, no covariates")
    return PathResult(
        model=label,
        table=table.select("term", "outcome", "week", pl.exclude("term", "outcome", "week")),
        vcov_type=vcov,
        level=level,
        n_obs=fit.n_obs,
        n_clusters=fit.n_clusters,
        n_dropped=sample.n_dropped,
        drop_reason=sample.drop_reason,
        fits={"path": fit},
        fixed_effects=stratum,
        fit=fit,
        sample=sample,
        stratum=stratum,
        cluster=cluster,
        treated=treated,
    )


def fit_sample(
    sample: Sample, vcov: str, *, overwrite_y: bool = False, cr2_reference: str = "satterthwaite"
) -> FWLFit:
    """Fit the treatment on every outcome of a prepared sample (stratum FE + covariates);
    with ``overwrite_y`` the sample's outcome array is partialled in place."""
    return fit_fwl(
        sample.y,
        sample.treated,
        absorb=sample.strata,
        controls=sample.covariates,
        clusters=sample.clusters,
        vcov=vcov,
        regressor_names=("treated",),
        control_names=sample.covariate_names,
        overwrite_y=overwrite_y,
        cr2_reference=cr2_reference,
    )
