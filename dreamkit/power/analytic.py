r"""Analytic power and minimum detectable effects (MDE) for two-arm trials.

All formulas share one variance of the effect estimate. For a person-level outcome with
variance :math:`\sigma^2`, :math:`n_1` treated and :math:`n_0` controls,

.. math:: \mathrm{Var}(\hat\delta) = \sigma^2\Bigl(\frac1{n_1} + \frac1{n_0}\Bigr)
          \,\mathrm{DE}\,(1 - R^2),

with the design effect DE of the allocation (``design``):

* ``"individual"``: DE = 1;
* ``"pair"`` (persons matched in pairs, one of each pair treated): DE = :math:`1 - \rho_{pair}`,
  the within-pair correlation of outcomes (the paired t-test on :math:`n/2` differences);
* ``"cluster"`` (whole clusters randomised; unequal sizes, Eldridge, Ashby & Kerry 2006):
  DE = :math:`1 + ((1 + CV^2)\,\bar m - 1)\,\rho`, :math:`\bar m` the mean cluster size,
  CV the coefficient of variation of cluster sizes, :math:`\rho` the ICC;
* ``"within_cluster"`` (the reference study: persons allocated individually *within* teams,
  the same treated share in every team, team or stratum fixed effects in the analysis):
  DE = :math:`1 - \rho`. With :math:`y_{ij} = \mu + u_j + e_{ij}`,
  :math:`\rho = \sigma_u^2/\sigma^2`, the within-team contrast removes :math:`u_j`, so only
  the within-team variance :math:`(1-\rho)\sigma^2` is left (``docs/power.md`` derives it,
  and :func:`within_cluster_design_effect` gives the exact value for a given team table).

:math:`R^2` is the share of that variance explained by baseline covariates (the ANCOVA gain).
With unequal arm SDs (``sd_treated``) :math:`\sigma^2(1/n_1 + 1/n_0)` becomes
:math:`\sigma_1^2/n_1 + \sigma_0^2/n_0`.

**Power** of the two-sided level-:math:`\alpha` test with noncentrality
:math:`\lambda = \delta / \sqrt{\mathrm{Var}(\hat\delta)}`:

* normal reference: :math:`\Phi(\lambda - z_{1-\alpha/2}) + \Phi(-\lambda - z_{1-\alpha/2})`;
* t reference (means only): :math:`P(|T_{\nu,\lambda}| > t_{\nu,1-\alpha/2})`, :math:`T_{\nu,
  \lambda}` noncentral t with :math:`\nu` degrees of freedom: :math:`n - 2` (individual),
  :math:`n/2 - 1` (pair), :math:`G - 2` (cluster, G = n / :math:`\bar m` clusters),
  :math:`G - 1` (within_cluster: the CRV1 t of dreamkit's ITT estimators).

Both tails are counted, as in ``statsmodels.stats.power`` (whose individual-design results
these equal). ``alternative="larger"``/``"smaller"`` gives one-sided tests at level
:math:`\alpha`.

**Proportions** :math:`p_0` (control) and :math:`p_1` (treated), normal reference:

* ``method="pooled"`` (the z-test of two proportions; ``statsmodels``
  ``power_proportions_2indep``): :math:`\sigma_{0}^2 = \bar p(1-\bar p)(1/n_1 + 1/n_0)` under
  the null (:math:`\bar p = (n_1p_1 + n_0p_0)/n`), :math:`\sigma_{1}^2 = p_1(1-p_1)/n_1 +
  p_0(1-p_0)/n_0` under the alternative, both times DE(1 - R^2); power
  :math:`\Phi((|\Delta| - z\sigma_0)/\sigma_1) + \Phi((-|\Delta| - z\sigma_0)/\sigma_1)`;
* ``method="arcsine"`` (Cohen's h, ``statsmodels`` ``NormalIndPower`` with
  ``proportion_effectsize``): :math:`h = 2\arcsin\sqrt{p_1} - 2\arcsin\sqrt{p_0}` with
  variance :math:`(1/n_1 + 1/n_0)\,\mathrm{DE}(1-R^2)`.

**Hazard ratios** (log-rank / Cox test; D events, treated share :math:`p`):

* ``method="schoenfeld"``: :math:`\mathrm{Var}(\log\widehat{HR}) = \mathrm{DE}/(D\,p(1-p))`,
  so the required number of events is
  :math:`D = (z_{1-\alpha/2} + z_{1-\beta})^2\,\mathrm{DE} / (p(1-p)\log(HR)^2)`;
* ``method="freedman"``: :math:`\lambda = \sqrt{kD}\,|HR - 1| / (1 + k\,HR)` with
  :math:`k = n_1/n_0` (lifelines ``power_under_cph``), events
  :math:`D = (z_{1-\alpha/2}+z_{1-\beta})^2 (1 + k\,HR)^2 \mathrm{DE} / (k (HR - 1)^2)`.

Events come from ``events`` or from ``n`` and the control-arm event probability by the end of
follow-up, :math:`P_0`, with :math:`P_1 = 1 - (1 - P_0)^{HR}` under proportional hazards:
:math:`D = n_1 P_1 + n_0 P_0`. For clustered hazards DE multiplies the variance of the log
hazard ratio as for means (an approximation; check it by simulation).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.optimize
import scipy.special
import scipy.stats
from numpy.typing import ArrayLike, NDArray

from dreamkit.errors import InputError

DesignKind = Literal["individual", "pair", "cluster", "within_cluster"]
Alternative = Literal["two-sided", "larger", "smaller"]
Reference = Literal["t", "normal"]
ProportionMethod = Literal["pooled", "arcsine"]
HazardMethod = Literal["schoenfeld", "freedman"]

DESIGNS: tuple[str, ...] = ("individual", "pair", "cluster", "within_cluster")
ALTERNATIVES: tuple[str, ...] = ("two-sided", "larger", "smaller")


@dataclass(frozen=True)
class Allocation:
    """A checked two-arm design: sizes, design effect and degrees of freedom.

    Build it with :func:`allocation` (which validates every argument); the analytic
    functions do so for you from their keyword arguments.
    """

    design: str
    n: float
    share_treated: float
    icc: float
    cluster_size: float
    cv: float
    r2: float
    pair_correlation: float

    @property
    def n_treated(self) -> float:
        return self.share_treated * self.n

    @property
    def n_control(self) -> float:
        return (1.0 - self.share_treated) * self.n

    @property
    def clusters(self) -> float:
        """Number of clusters G = n / mean cluster size (n / 2 pairs for pair designs; n
        for individual randomisation)."""
        if self.design in ("cluster", "within_cluster"):
            return self.n / self.cluster_size
        if self.design == "pair":
            return self.n / 2.0
        return self.n

    @property
    def design_effect(self) -> float:
        """DE of the module docstring (without the covariate factor 1 - R^2)."""
        return design_effect(
            self.design,  # type: ignore[arg-type]
            icc=self.icc,
            cluster_size=self.cluster_size,
            cv=self.cv,
            pair_correlation=self.pair_correlation,
        )

    @property
    def inflation(self) -> float:
        """DE (1 - R^2): the factor on the individually randomised variance."""
        return self.design_effect * (1.0 - self.r2)

    @property
    def df(self) -> float:
        """Degrees of freedom of the t reference (module docstring)."""
        if self.design == "individual":
            return self.n - 2.0
        if self.design == "pair":
            return self.n / 2.0 - 1.0
        if self.design == "cluster":
            return self.clusters - 2.0
        return self.clusters - 1.0

    @property
    def harmonic(self) -> float:
        """1/n_1 + 1/n_0."""
        return 1.0 / self.n_treated + 1.0 / self.n_control


def _number(value: object, name: str, fix: str) -> float:
    try:
        out = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InputError(f"{name} = {value!r} is not a number; {fix}") from None
    if not math.isfinite(out):
        raise InputError(f"{name} = {value!r} is not finite; {fix}")
    return out


def check_icc(icc: object) -> float:
    """An intra-cluster correlation in [0, 1), else :class:`InputError` with the fix."""
    value = _number(icc, "icc", "give the intra-cluster correlation as a share in [0, 1).")
    if not 0.0 <= value < 1.0:
        raise InputError(
            f"icc = {value!r} is outside [0, 1). The ICC is the share of the outcome variance "
            "between clusters: use a value in [0, 1) (an ANOVA estimate below 0 means 'no "
            "clustering': use 0; 1 would mean no variation within clusters)."
        )
    return value


def check_power(power: object) -> float:
    """A target power in (0, 1)."""
    value = _number(power, "power", "give the target power as a share, e.g. power=0.8.")
    if not 0.0 < value < 1.0:
        raise InputError(f"power = {value!r} is outside (0, 1); give e.g. power=0.8.")
    return value


def check_alpha(alpha: object) -> float:
    value = _number(alpha, "alpha", "give the significance level, e.g. alpha=0.05.")
    if not 0.0 < value < 1.0:
        raise InputError(f"alpha = {value!r} is outside (0, 1); give e.g. alpha=0.05.")
    return value


def check_alternative(alternative: str) -> str:
    if alternative not in ALTERNATIVES:
        raise InputError(f"alternative = {alternative!r}; use 'two-sided', 'larger' or 'smaller'.")
    return alternative


def check_share(share_treated: object) -> float:
    """A treated share in (0, 1)."""
    p = _number(share_treated, "share_treated", "give the treated share, e.g. 0.5 or 0.6.")
    if not 0.0 < p < 1.0:
        raise InputError(
            f"share_treated = {share_treated!r} is outside (0, 1); give the share of persons "
            "allocated to treatment (0.6 for a 60/40 lottery)."
        )
    return p


def _positive(value: object, name: str, fix: str) -> float:
    out = _number(value, name, fix)
    if out <= 0:
        raise InputError(f"{name} = {value!r} must be positive; {fix}")
    return out


def design_effect(
    design: DesignKind,
    *,
    icc: float = 0.0,
    cluster_size: float = 1.0,
    cv: float = 0.0,
    pair_correlation: float = 0.0,
) -> float:
    r"""The design effect DE of ``design`` (module docstring): 1, :math:`1-\rho_{pair}`,
    :math:`1 + ((1+CV^2)\bar m - 1)\rho` or :math:`1 - \rho`."""
    if design not in DESIGNS:
        raise InputError(
            f"design = {design!r}; use 'individual', 'pair', 'cluster' or 'within_cluster'."
        )
    rho = check_icc(icc)
    m = _positive(cluster_size, "cluster_size", "give the mean number of persons per cluster.")
    cv_ = _number(cv, "cv", "give the coefficient of variation of cluster sizes (>= 0).")
    if cv_ < 0:
        raise InputError(f"cv = {cv!r} must be >= 0 (SD / mean of the cluster sizes).")
    r = _number(pair_correlation, "pair_correlation", "give the within-pair correlation.")
    if not -1.0 < r < 1.0:
        raise InputError(f"pair_correlation = {r!r} is outside (-1, 1).")
    if design == "individual":
        return 1.0
    if design == "pair":
        return 1.0 - r
    if design == "cluster":
        return 1.0 + ((1.0 + cv_**2) * m - 1.0) * rho
    return 1.0 - rho


def allocation(
    n: float,
    *,
    design: DesignKind = "individual",
    share_treated: float = 0.5,
    icc: float = 0.0,
    cluster_size: float = 1.0,
    cv: float = 0.0,
    r2: float = 0.0,
    pair_correlation: float = 0.0,
) -> Allocation:
    """Validate the design arguments shared by every analytic function.

    Args:
        n: total persons randomised (both arms).
        design: ``"individual"``, ``"pair"``, ``"cluster"`` or ``"within_cluster"``.
        share_treated: treated share :math:`n_1/n` (the allocation ratio; 0.6 in the study).
        icc: intra-cluster correlation in [0, 1) (cluster designs).
        cluster_size: mean persons per cluster :math:`\\bar m` (cluster designs).
        cv: coefficient of variation of cluster sizes (``"cluster"``).
        r2: share of the outcome variance explained by baseline covariates, in [0, 1).
        pair_correlation: within-pair outcome correlation (``"pair"``).
    """
    n_ = _positive(n, "n", "give the total number of persons randomised (> 0).")
    p = check_share(share_treated)
    r2_ = _number(r2, "r2", "give the covariates' R^2 in [0, 1).")
    if not 0.0 <= r2_ < 1.0:
        raise InputError(f"r2 = {r2!r} is outside [0, 1); use 0 without covariates.")
    if design == "pair" and not math.isclose(p, 0.5):
        raise InputError(
            f"share_treated = {p} with design='pair'; a pair has one treated and one "
            "control person, so the share is 0.5."
        )
    # validates design, icc, cluster_size, cv and pair_correlation
    design_effect(
        design, icc=icc, cluster_size=cluster_size, cv=cv, pair_correlation=pair_correlation
    )
    out = Allocation(
        design=design,
        n=n_,
        share_treated=p,
        icc=float(icc),
        cluster_size=float(cluster_size),
        cv=float(cv),
        r2=r2_,
        pair_correlation=float(pair_correlation),
    )
    if design == "within_cluster" and out.cluster_size < 2:
        raise InputError(
            f"cluster_size = {cluster_size!r} with design='within_cluster'; both arms must fit "
            "in a cluster: give the mean number of persons per cluster (>= 2)."
        )
    if design in ("cluster", "within_cluster") and out.clusters < 2:
        raise InputError(
            f"n / cluster_size = {out.clusters:.3g} clusters; a {design} design needs at least "
            "2 clusters (check n and cluster_size)."
        )
    if out.df <= 0:
        raise InputError(
            f"the {design} design has {out.df:.3g} degrees of freedom; increase n "
            "(or use reference='normal')."
        )
    return out


def _tails(
    lam: NDArray[np.float64], alpha: float, alternative: str, df: float | None
) -> NDArray[np.float64]:
    """Rejection probability of a test whose statistic is N(lam, 1) or noncentral t(df, lam)."""
    a = alpha / 2.0 if alternative == "two-sided" else alpha
    power = np.zeros_like(lam)
    if df is None:
        crit = scipy.stats.norm.isf(a)
        if alternative in ("two-sided", "larger"):
            power = power + scipy.stats.norm.sf(crit - lam)
        if alternative in ("two-sided", "smaller"):
            power = power + scipy.stats.norm.cdf(-crit - lam)
        return power
    crit = scipy.stats.t.isf(a, df)
    if alternative in ("two-sided", "larger"):
        power = power + 1.0 - _nct_cdf(df, lam, crit)
    if alternative in ("two-sided", "smaller"):
        power = power + _nct_cdf(df, lam, -crit)
    return power


def _nct_cdf(df: float, lam: NDArray[np.float64], x: float) -> NDArray[np.float64]:
    """P(T <= x) for T noncentral t(df, lam). scipy returns NaN when this probability is a
    far tail below about 1e-30 (|x - lam| large): it is then 0 (x far below lam) or 1 (x far
    above) to double precision (e.g. df = 2704, lam = 38, x = 1.96 gives NaN)."""
    cdf = np.asarray(scipy.special.nctdtr(df, lam, x), dtype=np.float64)
    return np.where(np.isnan(cdf), (x > lam).astype(np.float64), cdf)


def _as_output(values: NDArray[np.float64], scalar: bool) -> float | NDArray[np.float64]:
    return float(values.reshape(-1)[0]) if scalar else values


def _effects(effect: ArrayLike, name: str) -> tuple[NDArray[np.float64], bool]:
    arr = np.asarray(effect, dtype=np.float64)
    if not np.isfinite(arr).all():
        raise InputError(f"{name} has missing or infinite values; give finite effects.")
    return np.atleast_1d(arr), arr.ndim == 0


def power_mean(
    effect: ArrayLike,
    sd: float,
    n: float,
    *,
    design: DesignKind = "individual",
    share_treated: float = 0.5,
    icc: float = 0.0,
    cluster_size: float = 1.0,
    cv: float = 0.0,
    r2: float = 0.0,
    pair_correlation: float = 0.0,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
    reference: Reference = "t",
    sd_treated: float | None = None,
) -> float | NDArray[np.float64]:
    r"""Power to detect a difference in means (e.g. an employment share) of ``effect``.

    ``sd`` is the person-level outcome SD :math:`\sigma` (total, across clusters); the
    variance, design effect and reference distribution are those of the module docstring.
    With ``sd_treated`` the arms' SDs differ (:math:`\sigma_0` = ``sd`` for the controls):
    the variance is :math:`(\sigma_1^2/n_1 + \sigma_0^2/n_0)\,\mathrm{DE}(1-R^2)` (a treatment
    that raises a share usually raises its spread too).
    ``effect`` may be an array (the power curve). For ``design="individual"`` the result
    equals ``statsmodels.stats.power.TTestIndPower().power(effect / sd, nobs1=n1,
    ratio=n0 / n1, alpha=alpha)`` (``NormalIndPower`` with ``reference="normal"``).
    """
    d = allocation(
        n,
        design=design,
        share_treated=share_treated,
        icc=icc,
        cluster_size=cluster_size,
        cv=cv,
        r2=r2,
        pair_correlation=pair_correlation,
    )
    sigma = _positive(sd, "sd", "give the person-level outcome standard deviation (> 0).")
    sigma1 = (
        sigma
        if sd_treated is None
        else _positive(sd_treated, "sd_treated", "give the treated arm's outcome SD (> 0).")
    )
    alpha_ = check_alpha(alpha)
    alt = check_alternative(alternative)
    delta, scalar = _effects(effect, "effect")
    se = math.sqrt((sigma1**2 / d.n_treated + sigma**2 / d.n_control) * d.inflation)
    df = _reference_df(reference, d)
    return _as_output(_tails(delta / se, alpha_, alt, df), scalar)


def _reference_df(reference: str, d: Allocation) -> float | None:
    if reference == "t":
        return d.df
    if reference == "normal":
        return None
    raise InputError(f"reference = {reference!r}; use 't' or 'normal'.")


def _solve(
    f: Callable[[float], float], target: float, lo: float, hi: float, what: str, fix: str
) -> float:
    """Root of f(x) = target on (lo, hi) for an increasing f."""
    if f(lo) > target or f(hi) < target:
        raise InputError(f"no {what} reaches the target power in this design; {fix}")
    return float(scipy.optimize.brentq(lambda x: f(x) - target, lo, hi, xtol=1e-14, rtol=1e-13))


def mde_mean(
    sd: float,
    n: float,
    *,
    power: float = 0.8,
    design: DesignKind = "individual",
    share_treated: float = 0.5,
    icc: float = 0.0,
    cluster_size: float = 1.0,
    cv: float = 0.0,
    r2: float = 0.0,
    pair_correlation: float = 0.0,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
    reference: Reference = "t",
    sd_treated: float | None = None,
) -> float:
    r"""Minimum detectable difference in means: the :math:`\delta > 0` (``alternative=
    "smaller"``: :math:`< 0`) at which :func:`power_mean` equals ``power`` (solved exactly;
    with the normal reference and one tail it is :math:`(z_{1-\alpha/2} + z_{1-\beta})\,
    \mathrm{se}`)."""
    target = check_power(power)
    kw = dict(
        design=design,
        share_treated=share_treated,
        icc=icc,
        cluster_size=cluster_size,
        cv=cv,
        r2=r2,
        pair_correlation=pair_correlation,
        alpha=alpha,
        alternative=alternative,
        reference=reference,
        sd_treated=sd_treated,
    )
    power_mean(0.0, sd, n, **kw)  # type: ignore[arg-type]  # validates everything
    sign = -1.0 if alternative == "smaller" else 1.0
    size = check_alpha(alpha)
    if target <= size:
        raise InputError(f"power = {target} is not above alpha = {size}; no effect is needed.")

    def f(x: float) -> float:
        return float(power_mean(sign * x, sd, n, **kw))  # type: ignore[arg-type]

    scale = float(sd)
    hi = scale
    while f(hi) < target:
        hi *= 2.0
    return sign * _solve(f, target, 0.0, hi, "effect", "")


def power_proportion(
    p_control: float,
    p_treated: ArrayLike,
    n: float,
    *,
    design: DesignKind = "individual",
    share_treated: float = 0.5,
    icc: float = 0.0,
    cluster_size: float = 1.0,
    cv: float = 0.0,
    r2: float = 0.0,
    pair_correlation: float = 0.0,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
    method: ProportionMethod = "pooled",
) -> float | NDArray[np.float64]:
    """Power to detect a fixed-horizon proportion ``p_treated`` against ``p_control`` (e.g.
    employed in week 81), normal reference (module docstring for both methods).

    Individual design: ``method="pooled"`` equals statsmodels ``power_proportions_2indep(
    p_treated - p_control, p_control, nobs1=n1, ratio=n0/n1)``; ``method="arcsine"`` equals
    ``NormalIndPower().power(proportion_effectsize(p_treated, p_control), nobs1=n1,
    ratio=n0/n1)``.
    """
    d = allocation(
        n,
        design=design,
        share_treated=share_treated,
        icc=icc,
        cluster_size=cluster_size,
        cv=cv,
        r2=r2,
        pair_correlation=pair_correlation,
    )
    alpha_ = check_alpha(alpha)
    alt = check_alternative(alternative)
    p0 = _proportion(p_control, "p_control")
    p1, scalar = _effects(p_treated, "p_treated")
    if ((p1 <= 0) | (p1 >= 1)).any():
        raise InputError("p_treated must lie strictly between 0 and 1.")
    if method == "arcsine":
        h = 2 * np.arcsin(np.sqrt(p1)) - 2 * np.arcsin(np.sqrt(p0))
        lam = h / math.sqrt(d.harmonic * d.inflation)
        return _as_output(_tails(lam, alpha_, alt, None), scalar)
    if method != "pooled":
        raise InputError(f"method = {method!r}; use 'pooled' or 'arcsine'.")
    n1, n0 = d.n_treated, d.n_control
    pbar = (n1 * p1 + n0 * p0) / (n1 + n0)
    sd_null = np.sqrt(pbar * (1 - pbar) * d.harmonic * d.inflation)
    sd_alt = np.sqrt((p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0) * d.inflation)
    diff = p1 - p0
    a = alpha_ / 2.0 if alt == "two-sided" else alpha_
    z = scipy.stats.norm.isf(a)
    out = np.zeros_like(diff)
    if alt in ("two-sided", "larger"):
        out = out + scipy.stats.norm.sf((z * sd_null - diff) / sd_alt)
    if alt in ("two-sided", "smaller"):
        out = out + scipy.stats.norm.cdf((-z * sd_null - diff) / sd_alt)
    return _as_output(out, scalar)


def _proportion(value: object, name: str) -> float:
    p = _number(value, name, "give a probability strictly between 0 and 1.")
    if not 0.0 < p < 1.0:
        raise InputError(f"{name} = {value!r} must lie strictly between 0 and 1.")
    return p


def mde_proportion(
    p_control: float,
    n: float,
    *,
    power: float = 0.8,
    increase: bool = True,
    design: DesignKind = "individual",
    share_treated: float = 0.5,
    icc: float = 0.0,
    cluster_size: float = 1.0,
    cv: float = 0.0,
    r2: float = 0.0,
    pair_correlation: float = 0.0,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
    method: ProportionMethod = "pooled",
) -> float:
    """The smallest treated-arm proportion above (``increase=False``: below) ``p_control``
    that :func:`power_proportion` detects with ``power``; returns that proportion."""
    target = check_power(power)
    p0 = _proportion(p_control, "p_control")
    kw = dict(
        design=design,
        share_treated=share_treated,
        icc=icc,
        cluster_size=cluster_size,
        cv=cv,
        r2=r2,
        pair_correlation=pair_correlation,
        alpha=alpha,
        alternative=alternative,
        method=method,
    )
    power_proportion(p0, p0, n, **kw)  # type: ignore[arg-type]
    eps = 1e-12

    def f(gap: float) -> float:
        p1 = p0 + gap if increase else p0 - gap
        return float(power_proportion(p0, p1, n, **kw))  # type: ignore[arg-type]

    room = (1.0 - p0 if increase else p0) - eps
    gap = _solve(
        f,
        target,
        eps,
        room,
        "treated proportion",
        f"even p_treated = {'1' if increase else '0'} gives power {f(room):.3f}; increase n.",
    )
    return p0 + gap if increase else p0 - gap


def expected_events(
    hazard_ratio: ArrayLike,
    n: float,
    p_control_event: float,
    share_treated: float = 0.5,
) -> NDArray[np.float64]:
    r"""Expected events :math:`n_1 P_1 + n_0 P_0` with :math:`P_1 = 1 - (1-P_0)^{HR}`
    (proportional hazards)."""
    p0 = _proportion(p_control_event, "p_control_event")
    hr = np.asarray(hazard_ratio, dtype=np.float64)
    p1 = -np.expm1(hr * np.log1p(-p0))
    return share_treated * n * p1 + (1 - share_treated) * n * p0


@dataclass(frozen=True)
class _HazardDesign:
    share_treated: float
    design_effect: float


def _hazard_lambda(
    hr: NDArray[np.float64], events: NDArray[np.float64], d: _HazardDesign, method: str
) -> NDArray[np.float64]:
    p = d.share_treated
    if method == "schoenfeld":
        return np.log(hr) * np.sqrt(events * p * (1 - p) / d.design_effect)
    if method == "freedman":
        k = p / (1 - p)
        return np.sqrt(k * events / d.design_effect) * (hr - 1) / (k * hr + 1)
    raise InputError(f"method = {method!r}; use 'schoenfeld' or 'freedman'.")


def power_hazard(
    hazard_ratio: ArrayLike,
    *,
    events: float | None = None,
    n: float | None = None,
    p_control_event: float | None = None,
    design: DesignKind = "individual",
    share_treated: float = 0.5,
    icc: float = 0.0,
    cluster_size: float = 1.0,
    cv: float = 0.0,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
    method: HazardMethod = "schoenfeld",
) -> float | NDArray[np.float64]:
    """Power of the log-rank / Cox test for ``hazard_ratio`` (module docstring).

    Give ``events`` (the expected number of events), or ``n`` and ``p_control_event`` (the
    control arm's probability of an event by the end of follow-up). ``alternative="larger"``
    tests HR > 1.
    """
    hr, scalar = _effects(hazard_ratio, "hazard_ratio")
    if (hr <= 0).any():
        raise InputError("hazard_ratio must be positive.")
    d, ev = _hazard_setup(
        hr, events, n, p_control_event, design, share_treated, icc, cluster_size, cv
    )
    lam = _hazard_lambda(hr, ev, d, method)
    return _as_output(_tails(lam, check_alpha(alpha), check_alternative(alternative), None), scalar)


def _hazard_setup(
    hr: NDArray[np.float64],
    events: float | None,
    n: float | None,
    p_control_event: float | None,
    design: DesignKind,
    share_treated: float,
    icc: float,
    cluster_size: float,
    cv: float,
) -> tuple[_HazardDesign, NDArray[np.float64]]:
    if (events is None) == (n is None):
        raise InputError(
            "give either events= (the expected number of events) or n= with p_control_event="
            " (the control arm's event probability by the end of follow-up)."
        )
    d = _HazardDesign(
        check_share(share_treated),
        design_effect(design, icc=icc, cluster_size=cluster_size, cv=cv),
    )
    if events is not None:
        ev = _positive(events, "events", "give the expected number of events (> 0).")
        return d, np.full(hr.shape, ev)
    if p_control_event is None:
        raise InputError("n= needs p_control_event= (the control arm's event probability).")
    n_ = _positive(n, "n", "give the total number of persons randomised (> 0).")
    return d, expected_events(hr, n_, p_control_event, d.share_treated)


def required_events(
    hazard_ratio: float,
    *,
    power: float = 0.8,
    design: DesignKind = "individual",
    share_treated: float = 0.5,
    icc: float = 0.0,
    cluster_size: float = 1.0,
    cv: float = 0.0,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
    method: HazardMethod = "schoenfeld",
) -> float:
    r"""Events needed to detect ``hazard_ratio`` with ``power`` (not rounded):
    :math:`(z_{1-\alpha/2} + z_{1-\beta})^2 \mathrm{DE} / (p(1-p)\log(HR)^2)` (Schoenfeld) or
    the Freedman formula (module docstring). Only the tail in the direction of the effect is
    counted, as in the textbook formulas."""
    target = check_power(power)
    alpha_ = check_alpha(alpha)
    alt = check_alternative(alternative)
    hr = _positive(hazard_ratio, "hazard_ratio", "give a hazard ratio > 0 and != 1.")
    if hr == 1.0:
        raise InputError("hazard_ratio = 1 is no effect; no number of events detects it.")
    d = _HazardDesign(
        check_share(share_treated),
        design_effect(design, icc=icc, cluster_size=cluster_size, cv=cv),
    )
    a = alpha_ / 2.0 if alt == "two-sided" else alpha_
    z = scipy.stats.norm.isf(a) + scipy.stats.norm.isf(1 - target)
    p = d.share_treated
    if method == "schoenfeld":
        return float(z**2 * d.design_effect / (p * (1 - p) * math.log(hr) ** 2))
    if method == "freedman":
        k = p / (1 - p)
        return float(z**2 * (1 + k * hr) ** 2 * d.design_effect / (k * (hr - 1) ** 2))
    raise InputError(f"method = {method!r}; use 'schoenfeld' or 'freedman'.")


def mde_hazard(
    *,
    events: float | None = None,
    n: float | None = None,
    p_control_event: float | None = None,
    power: float = 0.8,
    increase: bool = False,
    design: DesignKind = "individual",
    share_treated: float = 0.5,
    icc: float = 0.0,
    cluster_size: float = 1.0,
    cv: float = 0.0,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
    method: HazardMethod = "schoenfeld",
) -> float:
    """The hazard ratio below 1 (``increase=True``: above 1) detected with ``power`` given the
    events (or n and the control event probability; then events change with the HR)."""
    target = check_power(power)
    kw = dict(
        events=events,
        n=n,
        p_control_event=p_control_event,
        design=design,
        share_treated=share_treated,
        icc=icc,
        cluster_size=cluster_size,
        cv=cv,
        alpha=alpha,
        alternative=alternative,
        method=method,
    )
    power_hazard(1.0, **kw)  # type: ignore[arg-type]

    def f(log_gap: float) -> float:
        hr = math.exp(log_gap if increase else -log_gap)
        return float(power_hazard(hr, **kw))  # type: ignore[arg-type]

    hi = 1.0
    while f(hi) < target and hi < 50:
        hi *= 2.0
    gap = _solve(f, target, 1e-12, hi, "hazard ratio", "increase the number of events.")
    return math.exp(gap if increase else -gap)


def within_cluster_design_effect(
    treated: ArrayLike,
    clusters: ArrayLike,
    icc: float,
    strata: ArrayLike | None = None,
) -> float:
    r"""Exact design effect of the treatment contrast for a given within-cluster allocation.

    With :math:`y_{ij} = \mu_{s} + u_j + e_{ij}` (:math:`\mathrm{Var}\,u = \rho\sigma^2`,
    :math:`\mathrm{Var}\,e = (1-\rho)\sigma^2`), strata :math:`s` (e.g. municipalities)
    absorbed by fixed effects and :math:`\tilde d` the treatment demeaned within strata,
    :math:`\hat\tau = \tilde d'y/\tilde d'\tilde d` has variance

    .. math:: \frac{\sigma^2}{\tilde d'\tilde d}\Bigl[(1-\rho) + \rho\,
              \frac{\sum_j (\sum_{i\in j}\tilde d_i)^2}{\tilde d'\tilde d}\Bigr],

    i.e. DE = :math:`1 - \rho + \rho S` relative to individual randomisation with the same
    strata; :math:`S = 0` when every cluster of a stratum has the same treated share (then
    DE = :math:`1-\rho`), and S > 0 measures how unequal shares leak cluster effects into the
    contrast. Without ``strata`` the demeaning is overall. Treat ``clusters`` as nested in
    strata (a team in one municipality).
    """
    rho = check_icc(icc)
    t = np.asarray(treated, dtype=np.float64)
    if t.ndim != 1 or t.size < 2:
        raise InputError("treated must be a 0/1 vector with at least 2 persons.")
    _, cl = np.unique(np.asarray(clusters), return_inverse=True)
    if cl.size != t.size:
        raise InputError("clusters must have one label per person (same length as treated).")
    st = (
        np.zeros(t.size, dtype=np.intp)
        if strata is None
        else np.unique(np.asarray(strata), return_inverse=True)[1]
    )
    if st.size != t.size:
        raise InputError("strata must have one label per person (same length as treated).")
    means = np.bincount(st, weights=t) / np.bincount(st)
    dt = t - means[st]
    ss = float(dt @ dt)
    if ss <= 0:
        raise InputError("treated does not vary within any stratum; the contrast is undefined.")
    s = float((np.bincount(cl, weights=dt) ** 2).sum() / ss)
    return 1.0 - rho + rho * s
