r"""Formula front ends of the estimators (``dk.feols``, ``dk.effect_path``, ``dk.hazard``,
``dk.cox``).

Each parses its formula with :mod:`dreamkit.estimate.formula` (formulaic underneath), builds
the regressors, and calls the keyword engine, so a formula fit and the equivalent keyword
fit are identical (tests check it). ``vcov`` is given as in pyfixest (:mod:`.vcov`):
``{"CRV1": "team"}``, ``{"CR2": "team"}`` (Bell-McCaffrey, with its own degrees of freedom),
``{"CRV3": "team"}``, ``"HC1"`` or ``"iid"``.

* :func:`feols` -- least squares of one or several outcomes on every right-hand-side term,
  one absorbed fixed effect:

  .. math:: y_{iw} = x_i'\beta_w + \alpha_{s(i)w} + e_{iw};

* :func:`effect_path` -- the ITT effect path (model 2): the first right-hand-side term is the
  treatment, the other terms are covariates, the left-hand side an outcome family;
* :func:`hazard` -- the discrete-time hazard (model 1) from one row per person,
  ``Surv(duration, event) ~ treated + x | stratum``;
* :func:`cox` -- Cox proportional hazards via lifelines.

Missing values in any column a formula uses raise (``missing="raise"``, the default) or are
dropped listwise with the count and reason kept in the result (``missing="drop"``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Literal

import numpy as np
import polars as pl

from dreamkit.errors import InputError
from dreamkit.estimate.binary import frame as _binary
from dreamkit.estimate.binary.fit import BinaryResult, fit_binary
from dreamkit.estimate.duration.duration_dependence import DurationSpec, intervals
from dreamkit.estimate.duration.hazard import DiscreteTimeHazard, HazardResult
from dreamkit.estimate.duration.survival import CoxResult
from dreamkit.estimate.duration.survival import cox as _cox_engine
from dreamkit.estimate.formula import (
    Design,
    FormulaError,
    ParsedFormula,
    check_variables,
    design,
    outcome_columns,
    parse,
    require,
    surv_columns,
)
from dreamkit.estimate.linear.design_matrix import Missing, codes_of, handle_missing
from dreamkit.estimate.linear.fwl import fit_fwl
from dreamkit.estimate.linear.itt import PathResult
from dreamkit.estimate.linear.itt import effect_path as _path_engine
from dreamkit.estimate.results import EstimateResult, check_level, fit_rows
from dreamkit.estimate.vcov import VcovArg, parse_vcov
from dreamkit.frames import as_polars

DEFAULT_CLUSTER = "team"


def _one_fixed_effect(parsed: ParsedFormula) -> str | None:
    if len(parsed.fixed_effects) > 1:
        raise FormulaError(
            f"formula {parsed.formula!r} absorbs {len(parsed.fixed_effects)} fixed effects; "
            "this estimator absorbs one. Put the others on the right-hand side as C(x)."
        )
    return parsed.fixed_effects[0] if parsed.fixed_effects else None


def _plain_column(term: Any) -> str | None:
    factors = list(term.factors)
    if len(factors) == 1 and factors[0].eval_method.value == "lookup":
        return str(factors[0].expr)
    return None


def _term_variables(term: Any) -> set[str]:
    """Data columns a formulaic term reads."""
    from formulaic import Formula

    return {str(v) for v in Formula([term]).required_variables}


def _complete_rows(
    data: pl.DataFrame, columns: Sequence[str], missing: Missing
) -> tuple[pl.DataFrame, int, str | None]:
    used = list(dict.fromkeys(columns))
    return handle_missing(data, used, missing)


def _with_design(data: pl.DataFrame, des: Design) -> pl.DataFrame:
    """``data`` with the design's columns added under their formula names."""
    new = [pl.Series(name, des.x[:, j]) for j, name in enumerate(des.names)]
    clash = [s.name for s in new if s.name in data.columns]
    return data.drop(clash).with_columns(new) if new else data


def feols(
    formula: str,
    data: Any,
    *,
    vcov: VcovArg = "HC1",
    level: float = 0.95,
    missing: Missing = "raise",
    cr2_reference: str = "satterthwaite",
) -> EstimateResult:
    """Least squares with one absorbed fixed effect (module docstring); every right-hand-side
    term is reported. Several outcomes (``y1 + y2`` or ``y_*``) share one design.

    Covariances: ``"HC1"`` (default), ``{"CRV1": col}``, ``{"CR2": col}``, ``{"CRV3": col}``;
    degrees of freedom G - 1 (CRV1, CRV3), Bell-McCaffrey per coefficient (CR2) or N - K.
    With CR2, ``cr2_reference="exact"`` takes each coefficient's p-values and intervals from
    the exact distribution of its CR2 t-statistic under the working model (independent
    homoskedastic errors; docs/inference.md) instead of t with the Bell-McCaffrey df.
    Equal to pyfixest ``feols`` with ``ssc(k_fixef="full")`` (fixed effects counted in K) and
    to statsmodels OLS with dummies.
    Without a fixed effect the intercept is absorbed (partialled out) and not reported.
    """
    check_level(level)
    frame = as_polars(data)
    parsed = parse(formula)
    check_variables(parsed, frame)
    fe = _one_fixed_effect(parsed)
    spec = parse_vcov(vcov, allowed=("HC1", "CRV1", "CR2", "CRV3"), default_cluster=DEFAULT_CLUSTER)
    outcomes = outcome_columns(parsed.lhs, frame.columns)
    keys = [c for c in (fe, spec.cluster) if c]
    require(frame, keys, "column")
    frame, n_dropped, reason = _complete_rows(frame, [*outcomes, *parsed.variables, *keys], missing)
    if frame.height == 0:
        raise InputError("no rows are left after removing missing values; check the data.")
    des = design(parsed, frame)
    if not des.names:
        raise FormulaError(f"formula {formula!r} has no regressor right of '~'.")
    y = frame.select(pl.col(c).cast(pl.Float64) for c in outcomes).to_numpy()
    absorb = codes_of(frame[fe])[0] if fe else None
    clusters = codes_of(frame[spec.cluster])[0] if spec.cluster else None
    fit = fit_fwl(
        y,
        des.x,
        absorb=absorb,
        controls=None,
        clusters=clusters,
        vcov=spec.kind,
        regressor_names=des.names,
        cr2_reference=cr2_reference,
    )
    table = fit_rows(fit, level, des.names, outcomes, np.full(fit.coef.shape, np.nan))
    return EstimateResult(
        model=f"OLS: {parsed.formula}",
        table=table.drop("control_mean"),
        vcov_type=spec.label,
        level=level,
        n_obs=fit.n_obs,
        n_clusters=fit.n_clusters,
        n_dropped=n_dropped,
        drop_reason=reason,
        notes=() if fe else ("intercept partialled out",),
        fits={"ols": fit},
        fixed_effects=fe,
    )


def effect_path(*args: Any, **kwargs: Any) -> PathResult:
    """The ITT effect path (model 2), by formula or by keywords.

    Formula form: ``effect_path("sick_share_* ~ treated + age + C(edu) | municipality", data,
    vcov={"CRV1": "team"})`` -- the first right-hand-side term is the treatment (or name it
    with ``treatment=``), the others are covariates; the left-hand side an outcome family
    (glob) or outcomes joined by '+'; one fixed effect (the stratum) after '|'.

    Keyword form (the engine, :func:`dreamkit.estimate.linear.itt.effect_path`):
    ``effect_path(data, "sick_share_", covariates, treated=, stratum=, cluster=, vcov=)``.
    Both give identical results. With CR2, ``cr2_reference="exact"`` takes p-values and
    intervals from the exact working-model reference (docs/inference.md).
    """
    if args and isinstance(args[0], str):
        return _effect_path_formula(*args, **kwargs)
    if not args and isinstance(kwargs.get("formula"), str):
        return _effect_path_formula(**kwargs)
    if args:
        args = (as_polars(args[0]), *args[1:])
    elif "data" in kwargs:
        kwargs["data"] = as_polars(kwargs["data"])
    return _path_engine(*args, **kwargs)


def _effect_path_formula(
    formula: str,
    data: Any,
    *,
    treatment: str | None = None,
    vcov: VcovArg = "CRV1",
    level: float = 0.95,
    missing: Missing = "raise",
    model: str | None = None,
    cr2_reference: str = "satterthwaite",
) -> PathResult:
    frame = as_polars(data)
    parsed = parse(formula)
    check_variables(parsed, frame)
    fe = _one_fixed_effect(parsed)
    spec = parse_vcov(vcov, allowed=("HC1", "CRV1", "CR2", "CRV3"), default_cluster=DEFAULT_CLUSTER)
    terms = [t for t in parsed.rhs if str(t) != "1"]
    if not terms:
        raise FormulaError(f"formula {formula!r} needs the treatment right of '~'.")
    treat = treatment or _plain_column(terms[0])
    if treat is None:
        raise FormulaError(
            f"the first term {str(terms[0])!r} must be the treatment column (0/1), or pass "
            "treatment='column'."
        )
    rest = [t for t in terms if _plain_column(t) != treat]
    if len(rest) == len(terms):
        raise FormulaError(f"treatment {treat!r} is not a term of the formula {formula!r}.")
    outcomes = outcome_columns(parsed.lhs, frame.columns)
    cluster = spec.cluster or DEFAULT_CLUSTER
    keys = [c for c in (treat, fe, cluster) if c]
    require(frame, keys, "column")
    used = list(dict.fromkeys([*outcomes, *parsed.variables, *keys]))
    frame = frame.select(used)
    covariates: tuple[str, ...] = ()
    n_dropped, reason = 0, None
    if rest:
        # "raise": the engine checks the outcomes; the covariates must be complete here
        check = used if missing == "drop" else [*parsed.variables, *keys]
        frame, n_dropped, reason = _complete_rows(frame, check, missing)
        des = design(parsed, frame).without([str(t) for t in terms if t not in rest])
        frame = _with_design(frame, des)
        covariates = des.names
    label = model or ("(2) ITT path" if covariates else "(5) ITT path, no covariates")
    result = _path_engine(
        frame,
        list(outcomes),
        list(covariates),
        treated=treat,
        stratum=fe,
        cluster=cluster,
        vcov=spec.kind,
        level=level,
        missing=missing,
        model=label,
        cr2_reference=cr2_reference,
    )
    if n_dropped:
        result = replace(result, n_dropped=n_dropped, drop_reason=reason)
    return result


def hazard(
    formula: str,
    data: Any,
    *,
    link: Literal["logit", "cloglog"] = "logit",
    duration_spec: DurationSpec | None = None,
    vcov: VcovArg = "CRV1",
    treatment: str | None = None,
    treatment_by: DurationSpec | None = None,
    cr2_reference: Literal["satterthwaite", "exact"] = "satterthwaite",
) -> HazardResult:
    """The discrete-time hazard (model 1) from one row per person:
    ``hazard("Surv(dur_emp, event_emp) ~ treated + age + treated:long_wait | municipality",
    persons, link="cloglog", vcov={"CRV1": "team"})``.

    The first right-hand-side term is the treatment (or ``treatment=``); products ``a:b`` of
    two plain columns enter as interactions that follow the treatment in predictions; every
    other term is a covariate column built by formulaic. ``duration_spec`` is the baseline
    (default 4-week intervals); ``treatment_by`` (e.g. ``piecewise([8, 26])``) gives the
    treatment one effect per duration interval (``constancy_test()`` tests them equal);
    ``vcov``: ``{"CRV1": col}``, ``{"CR2": col}`` or ``"iid"``; with CR2,
    ``cr2_reference="exact"`` takes the shown terms' p-values and intervals from the exact
    working-model reference (:class:`~dreamkit.estimate.duration.hazard.DiscreteTimeHazard`).
    """
    frame = as_polars(data)
    parsed = parse(formula)
    check_variables(parsed, frame)
    fe = _one_fixed_effect(parsed)
    spec = parse_vcov(vcov, allowed=("CRV1", "CR2", "iid"), default_cluster=DEFAULT_CLUSTER)
    duration, event = surv_columns(parsed.lhs)
    require(frame, [duration, event], "duration column")
    terms = [t for t in parsed.rhs if str(t) != "1"]
    treat = treatment or (_plain_column(terms[0]) if terms else None)
    covariate_terms, interactions = [], []
    for t in terms:
        plain = _plain_column(t)
        if plain is not None and plain == treat:
            continue
        factors = [str(f.expr) for f in t.factors]
        if len(factors) == 2 and all(f.eval_method.value == "lookup" for f in t.factors):
            interactions.append((factors[0], factors[1]))
        else:
            covariate_terms.append(t)
    covariates: tuple[str, ...] = ()
    if covariate_terms:
        transformed = {str(v) for t in covariate_terms for v in _term_variables(t)}
        if treat and treat in transformed:
            raise FormulaError(
                f"the treatment {treat!r} enters a transformed term of {formula!r}; "
                "predictions by arm could not follow it. Use a plain product treated:x."
            )
        keep = {str(t) for t in covariate_terms}
        des = design(parsed, frame)
        des = des.without([t for t in des.term_columns if t not in keep])
        frame = _with_design(frame, des)
        covariates = des.names
    model = DiscreteTimeHazard(
        link=link,
        duration_spec=duration_spec or intervals(),
        treatment=treat,
        stratum=fe,
        cluster=spec.cluster,
        covariates=covariates,
        interactions=tuple(interactions),
        cov_type="CRV1" if spec.kind == "CRV1" else ("CR2" if spec.kind == "CR2" else "iid"),
        treatment_by=treatment_by,
        cr2_reference=cr2_reference,
    )
    return model.fit(frame, duration=duration, event=event)


def cox(*args: Any, **kwargs: Any) -> CoxResult:
    """Cox proportional hazards via lifelines, by formula (:func:`_cox_formula`:
    ``cox("Surv(dur, event) ~ treated + x | municipality", data, vcov={"CRV1": "team"})``) or
    by keywords (the engine :func:`dreamkit.estimate.duration.survival.cox`:
    ``cox(data, duration=, event=, treatment=, covariates=, stratum=, cluster=)``)."""
    if (args and isinstance(args[0], str)) or isinstance(kwargs.get("formula"), str):
        return _cox_formula(*args, **kwargs)
    return _cox_engine(*args, **kwargs)


def _cox_formula(
    formula: str,
    data: Any,
    *,
    vcov: VcovArg = "iid",
    strata_as: Literal["dummies", "baseline"] = "dummies",
    level: float = 0.95,
) -> CoxResult:
    """Cox proportional hazards (lifelines, Efron ties):
    ``cox("Surv(dur_emp, event_emp) ~ treated + age | municipality", persons,
    vcov={"CRV1": "team"})``; the fixed effect enters as dummies (``strata_as="dummies"``) or
    as separate baselines (``"baseline"``); a cluster gives lifelines' robust sandwich."""
    frame = as_polars(data)
    parsed = parse(formula)
    check_variables(parsed, frame)
    fe = _one_fixed_effect(parsed)
    spec = parse_vcov(vcov, allowed=("CRV1", "CR2", "iid"), default_cluster=DEFAULT_CLUSTER)
    duration, event = surv_columns(parsed.lhs)
    require(frame, [duration, event], "duration column")
    des = design(parsed, frame)
    if not des.names:
        raise FormulaError(f"formula {formula!r} has no regressor right of '~'.")
    frame = _with_design(frame, des)
    return _cox_engine(
        frame,
        duration=duration,
        event=event,
        treatment=des.names[0],
        covariates=des.names[1:],
        stratum=fe,
        strata_as=strata_as,
        cluster=spec.cluster,
        level=level,
    )


def logit(*args: Any, **kwargs: Any) -> BinaryResult:
    """Logistic regression by formula or by keywords.

    Formula form: ``logit("self_support_52 ~ C(illness, contr.treatment('physical')) + age |
    municipality", persons, vcov={"CRV1": "team"})`` -- :math:`P(y_i = 1) =
    \\Lambda(a + x_i'b + \\gamma_{s(i)})`, the fixed effect as dummies in the likelihood;
    odds ratios from ``tidy(exponentiate=True)``; ``wald_test(term)`` is the joint test of a
    factor's levels. Keyword form: :func:`dreamkit.estimate.binary.frame.logit`
    (``logit(data, outcome, exposures, covariates, stratum=, cluster=, reference=)``).
    """
    if (args and isinstance(args[0], str)) or isinstance(kwargs.get("formula"), str):
        return _binary_formula(*args, link="logit", **kwargs)
    return _binary.logit(*args, **kwargs)


def probit(*args: Any, **kwargs: Any) -> BinaryResult:
    """Probit regression, :math:`P(y_i = 1) = \\Phi(a + x_i'b + \\gamma_{s(i)})`, by formula
    (as :func:`logit`) or by keywords (:func:`dreamkit.estimate.binary.frame.probit`)."""
    if (args and isinstance(args[0], str)) or isinstance(kwargs.get("formula"), str):
        return _binary_formula(*args, link="probit", **kwargs)
    return _binary.probit(*args, **kwargs)


def _binary_formula(
    formula: str,
    data: Any,
    *,
    link: Literal["logit", "probit"],
    vcov: VcovArg = "iid",
    level: float = 0.95,
    missing: Missing = "raise",
) -> BinaryResult:
    frame = as_polars(data)
    parsed = parse(formula)
    check_variables(parsed, frame)
    fe = _one_fixed_effect(parsed)
    spec = parse_vcov(vcov, allowed=("CRV1", "iid"), default_cluster=DEFAULT_CLUSTER)
    outcomes = outcome_columns(parsed.lhs, frame.columns)
    if len(outcomes) != 1:
        raise FormulaError(f"a binary model takes one outcome; {formula!r} names {len(outcomes)}.")
    keys = [c for c in (fe, spec.cluster) if c]
    require(frame, keys, "column")
    used = list(dict.fromkeys([*outcomes, *parsed.variables, *keys]))
    frame, n_dropped, reason = _complete_rows(frame.select(used), used, missing)
    if frame.height == 0:
        raise InputError("no rows are left after removing missing values; check the data.")
    des = design(parsed, frame)
    x = np.column_stack([np.ones(frame.height), des.x])
    groups = {t: [j + 1 for j in cols] for t, cols in des.term_columns.items()}
    return fit_binary(
        frame[outcomes[0]].cast(pl.Float64).to_numpy(),
        x,
        ["Intercept", *des.names],
        link=link,
        fe=frame[fe].to_numpy() if fe else None,
        fe_name=fe or "stratum",
        cluster=codes_of(frame[spec.cluster])[0] if spec.cluster else None,
        vcov="CRV1" if spec.kind == "CRV1" else "iid",
        term_groups=groups,
        level=level,
        notes=(reason,) if reason else (),
        n_dropped=n_dropped,
    )
