"""Effect path (models 2 and 5): equality with statsmodels/pyfixest/linearmodels, errors,
missing-value handling, recovery of a known effect, and the inference hooks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest
import statsmodels.formula.api as smf
from linearmodels.iv.absorbing import AbsorbingLS

from dreamkit.errors import ColumnNotFoundError, EstimationError, InputError, TrialDesignError
from dreamkit.estimate.linear.itt import effect_path
from dreamkit.estimate.linear.robustness import no_covariates
from dreamkit.inference import wild_cluster_bootstrap

COVS = ["belief", "expected_return", "ordinary_job", "prior_sick"]
RTOL = 1e-8


def _sm(pdf: pd.DataFrame, y: str, covs, cov_type="cluster"):
    rhs = " + ".join(["treated", *covs, "C(municipality)"])
    kw = {"cov_kwds": {"groups": pdf["team"]}} if cov_type == "cluster" else {}
    return smf.ols(f"{y} ~ {rhs}", data=pdf).fit(cov_type=cov_type, **kw)


@pytest.mark.parametrize("vcov", ["CRV1", "HC1"])
def test_path_equals_statsmodels_week_by_week(study, vcov):
    path = effect_path(study, "y_", COVS, vcov=vcov)
    pdf = study.to_pandas()
    assert path.table["week"].to_list() == list(range(1, 13))
    for w, row in enumerate(path.table.iter_rows(named=True)):
        ref = _sm(pdf, f"y_{w + 1}", COVS, "cluster" if vcov == "CRV1" else "HC1")
        np.testing.assert_allclose(row["estimate"], ref.params["treated"], rtol=RTOL)
        np.testing.assert_allclose(row["std_error"], ref.bse["treated"], rtol=RTOL)
        ctrl = pdf.loc[pdf["treated"] == 0, f"y_{w + 1}"].mean()
        np.testing.assert_allclose(row["control_mean"], ctrl, rtol=1e-12)
    assert path.vcov.shape == (12, 12)
    np.testing.assert_allclose(np.sqrt(np.diag(path.vcov)), path.std_errors, rtol=1e-12)


def test_path_equals_linearmodels_absorbing_ls(study):
    path = effect_path(study, [f"y_{w}" for w in (1, 5, 9)], COVS)
    pdf = study.to_pandas()
    pdf["mun"] = pdf["municipality"].astype("category")
    for j, w in enumerate((1, 5, 9)):
        ref = AbsorbingLS(
            pdf[f"y_{w}"], pdf[["treated", *COVS]].astype(float), absorb=pdf[["mun"]]
        ).fit(cov_type="clustered", clusters=pdf["team"], debiased=True)
        np.testing.assert_allclose(path.estimates[j], ref.params["treated"], rtol=RTOL)
        np.testing.assert_allclose(path.std_errors[j], ref.std_errors["treated"], rtol=RTOL)


def test_pyfixest_fit_underneath_matches(study):
    path = effect_path(study, "y_", COVS)
    fit = path.pyfixest_fit(week=7)
    row = path.table.filter(pl.col("week") == 7).row(0, named=True)
    np.testing.assert_allclose(fit.coef()["treated"], row["estimate"], rtol=RTOL)
    np.testing.assert_allclose(fit.se()["treated"], row["std_error"], rtol=RTOL)
    np.testing.assert_allclose(fit.pvalue()["treated"], row["p_value"], rtol=1e-6)
    np.testing.assert_allclose(
        fit.confint().loc["treated"].to_numpy(), [row["conf_low"], row["conf_high"]], rtol=1e-6
    )


def test_model5_has_no_covariates(study):
    res = no_covariates(study, ["y_3"])
    ref = _sm(study.to_pandas(), "y_3", [])
    np.testing.assert_allclose(res.estimates[0], ref.params["treated"], rtol=RTOL)
    np.testing.assert_allclose(res.std_errors[0], ref.bse["treated"], rtol=RTOL)
    assert res.model.startswith("(5)")


def test_recovers_a_known_effect(study_factory):
    truth = np.linspace(-0.3, 0.5, 6)
    est, se = [], []
    for seed in range(30):
        path = effect_path(study_factory(seed=seed, n_weeks=6, effect=truth), "y_", COVS)
        est.append(path.estimates)
        se.append(path.std_errors)
    est_a = np.array(est)
    # the mean of 30 unbiased estimates is within 4 Monte Carlo standard errors of the truth
    mc_se = est_a.std(axis=0, ddof=1) / np.sqrt(len(est))
    assert np.all(np.abs(est_a.mean(axis=0) - truth) < 4 * mc_se)
    # and the mean CRV1 SE is of the order of the spread of the estimates
    ratio = np.array(se).mean(axis=0) / est_a.std(axis=0, ddof=1)
    assert np.all((ratio > 0.6) & (ratio < 1.6))


def test_missing_values_raise_with_count_and_column(study):
    bad = study.with_columns(
        pl.when(pl.int_range(pl.len()) < 3).then(None).otherwise(pl.col("belief")).alias("belief")
    )
    with pytest.raises(InputError, match=r"'belief' \(3\)"):
        effect_path(bad, "y_", COVS)
    res = effect_path(bad, "y_", COVS, missing="drop")
    assert res.n_dropped == 3 and res.n_obs == study.height - 3
    assert "belief" in (res.drop_reason or "")
    assert "3 rows dropped" in repr(res)


def test_nan_outcomes_count_as_missing(study):
    bad = study.with_columns(
        pl.when(pl.int_range(pl.len()) == 0)
        .then(float("nan"))
        .otherwise(pl.col("y_2"))
        .alias("y_2")
    )
    with pytest.raises(InputError, match=r"'y_2' \(1\)"):
        effect_path(bad, "y_", COVS)


def test_design_errors(study):
    one_arm = study.with_columns(
        pl.when(pl.col("municipality") == "m00")
        .then(1)
        .otherwise(pl.col("treated"))
        .alias("treated")
    )
    with pytest.raises(TrialDesignError, match="only one arm"):
        effect_path(one_arm, "y_", COVS)
    with pytest.raises(TrialDesignError, match="at least two clusters"):
        effect_path(study.with_columns(pl.lit(1).alias("team")), "y_", COVS)
    with pytest.raises(EstimationError, match="dup"):
        effect_path(study.with_columns(pl.col("belief").alias("dup")), "y_", [*COVS, "dup"])
    with pytest.raises(InputError, match="0 or 1"):
        effect_path(study.with_columns(pl.col("treated") * 2), "y_", COVS)
    with pytest.raises(ColumnNotFoundError):
        effect_path(study, "nope_", COVS)


def test_errors_never_show_person_ids(study):
    bad = study.with_columns(
        pl.when(pl.int_range(pl.len()) < 2).then(None).otherwise(pl.col("belief")).alias("belief")
    )
    with pytest.raises(InputError) as info:
        effect_path(bad, "y_", COVS)
    assert not any(str(pid) in str(info.value) for pid in study["person_id"].to_list()[:5])
    res = effect_path(bad, "y_", COVS, missing="drop")
    assert "person_id" not in res.table.columns
    assert str(study["person_id"][0]) not in repr(res)


def test_inference_hooks_use_the_same_design(study):
    path = effect_path(study, "y_", COVS)
    band = path.sup_t_band(0.95, n_draws=20_000)
    np.testing.assert_allclose(band.estimate, path.estimates)
    assert np.all(band.upper - band.lower >= band.pointwise_upper - band.pointwise_lower - 1e-12)
    boot = path.wild_cluster_bootstrap(B=99, impose_null=True, seed=3)
    np.testing.assert_allclose(boot.estimate, path.estimates, rtol=1e-10)
    np.testing.assert_allclose(boot.std_error, path.std_errors, rtol=1e-10)
    # the hook passes the partialled outcomes; the raw outcomes give the same bootstrap
    raw_y = study.select(f"y_{w}" for w in range(1, 13)).to_numpy()
    direct = wild_cluster_bootstrap(
        raw_y,
        study["treated"].to_numpy().astype(float),
        path.controls(),
        study["team"].to_numpy(),
        B=99,
        seed=3,
    )
    np.testing.assert_allclose(boot.p_value, direct.p_value)
    np.testing.assert_allclose(boot.conf_low, direct.conf_low, rtol=1e-8)
    ri = path.randomization_inference(n_draws=49, studentize=True)
    np.testing.assert_allclose(ri.statistic, path.estimates / path.std_errors, rtol=1e-10)
