"""The public face: `import dreamkit as dk`, formulas, the result protocol, dk.etable, pandas in.

Formula fits are compared with the keyword engines (identical) and with pyfixest /
statsmodels (1e-8, the tolerance of the existing ITT tests); every result type is checked
for the protocol's columns and for the algebra tying tidy, confint and vcov together.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pyfixest as pf
import pytest
import scipy.stats
import statsmodels.api as sm

import dreamkit as dk
from dreamkit.estimate.formula import FormulaError, design, parse
from dreamkit.estimate.results import GLANCE_LEADING, TIDY_LEADING

COV = ["belief_in_treatment", "expected_return", "ordinary_job", "pre_sick_104_1"]


@pytest.fixture(scope="module")
def persons() -> pl.DataFrame:
    sim = dk.simulate_trial(seed=3)
    return dk.build_outcomes(sim.register, dk.validate_trial(sim.trial)).persons


def test_face_exports_resolve() -> None:
    assert dk.__all__ == sorted([*dk._FACE, "report"])
    for name in dk.__all__:
        assert getattr(dk, name) is not None
    with pytest.raises(AttributeError):
        _ = dk.no_such_name


def test_effect_path_formula_equals_keyword(persons: pl.DataFrame) -> None:
    kw = dk.effect_path(persons, "sick_share_", COV)
    fml = dk.effect_path(
        "sick_share_* ~ treated + " + " + ".join(COV) + " | municipality",
        persons,
        vcov={"CRV1": "team"},
    )
    assert kw.tidy().equals(fml.tidy())
    assert fml.tidy()["week"].to_list() == list(range(1, 82))
    np.testing.assert_array_equal(kw.vcov, fml.vcov)


def test_effect_path_formula_with_categorical_equals_pyfixest(persons: pl.DataFrame) -> None:
    fml = "emp_share_81 ~ treated + C(expected_return) + belief_in_treatment | municipality"
    res = dk.effect_path(fml, persons, vcov={"CRV1": "team"})
    ref = pf.feols(fml, data=persons.to_pandas(), vcov={"CRV1": "team"}, ssc=pf.ssc(k_fixef="full"))
    row = res.tidy().row(0, named=True)
    assert row["estimate"] == pytest.approx(ref.coef()["treated"], rel=1e-8)
    assert row["std_error"] == pytest.approx(ref.se()["treated"], rel=1e-8)
    assert row["p_value"] == pytest.approx(ref.pvalue()["treated"], rel=1e-6)


@pytest.mark.parametrize("vcov", [{"CRV1": "team"}, "HC1"])
def test_feols_equals_pyfixest(persons: pl.DataFrame, vcov: object) -> None:
    fml = "sick_share_40 ~ treated + age + C(expected_return) + treated:female | municipality"
    res = dk.feols(fml, persons, vcov=vcov)  # type: ignore[arg-type]
    pf_vcov = "hetero" if vcov == "HC1" else vcov
    ref = pf.feols(fml, data=persons.to_pandas(), vcov=pf_vcov, ssc=pf.ssc(k_fixef="full"))
    tidy = res.tidy()
    assert tidy["term"].to_list() == list(ref.coef().index)
    np.testing.assert_allclose(tidy["estimate"], ref.coef().to_numpy(), rtol=1e-8)
    np.testing.assert_allclose(tidy["std_error"], ref.se().to_numpy(), rtol=1e-8)


def test_feols_without_fixed_effects_equals_statsmodels(persons: pl.DataFrame) -> None:
    res = dk.feols("emp_share_81 ~ treated + age + female", persons, vcov={"CRV1": "team"})
    pdf = persons.to_pandas()
    x = sm.add_constant(pdf[["treated", "age", "female"]].astype(float))
    ref = sm.OLS(pdf["emp_share_81"], x).fit(
        cov_type="cluster", cov_kwds={"groups": pdf["team"].rank(method="dense").astype(int)}
    )
    np.testing.assert_allclose(res.tidy()["estimate"], ref.params.iloc[1:], rtol=1e-8)
    np.testing.assert_allclose(res.tidy()["std_error"], ref.bse.iloc[1:], rtol=1e-8)
    # statsmodels' cluster covariance uses t(G-1) only with use_t; compare the covariance
    np.testing.assert_allclose(res.vcov, ref.cov_params().iloc[1:, 1:], rtol=1e-8)


def test_hazard_formula_equals_keyword(persons: pl.DataFrame) -> None:
    data = persons.with_columns((pl.col("waiting_days") >= 7).cast(pl.Int8).alias("long_wait"))
    kw = dk.DiscreteTimeHazard(
        link="cloglog", covariates=("age",), interactions=(("treated", "long_wait"),)
    ).fit(data, duration="dur_emp", event="event_emp")
    fml = dk.hazard(
        "Surv(dur_emp, event_emp) ~ treated + age + treated:long_wait | municipality",
        data,
        link="cloglog",
        vcov={"CRV1": "team"},
    )
    assert kw.tidy().equals(fml.tidy())
    np.testing.assert_array_equal(kw.vcov, fml.vcov)


def test_cox_formula_equals_keyword(persons: pl.DataFrame) -> None:
    kw = dk.cox(persons, duration="dur_emp", event="event_emp", covariates=("age",))
    fml = dk.cox(
        "Surv(dur_emp, event_emp) ~ treated + age | municipality",
        persons,
        vcov={"CRV1": "team"},
    )
    assert kw.tidy().equals(fml.tidy())


def test_pandas_in_equals_polars_in(persons: pl.DataFrame) -> None:
    pdf = persons.to_pandas()
    a = dk.effect_path(persons, "emp_share_", COV).tidy()
    b = dk.effect_path(pdf, "emp_share_", COV).tidy()
    c = dk.effect_path("emp_share_* ~ treated + age | municipality", pdf).tidy()
    assert a.equals(b)
    assert c.height == 81
    h1 = dk.DiscreteTimeHazard().fit(persons, duration="dur_emp", event="event_emp")
    h2 = dk.DiscreteTimeHazard().fit(pdf, duration="dur_emp", event="event_emp")
    assert h1.tidy().equals(h2.tidy())
    assert (
        dk.kaplan_meier(pdf, duration="dur_emp", event="event_emp")
        .tidy()
        .equals(dk.kaplan_meier(persons, duration="dur_emp", event="event_emp").tidy())
    )


def _results(persons: pl.DataFrame) -> list[dk.Result]:
    return [
        dk.effect_path(persons, "sick_share_", COV),
        dk.feols("emp_share_81 ~ treated + age | municipality", persons, vcov={"CRV3": "team"}),
        dk.DiscreteTimeHazard(covariates=("age",)).fit(
            persons, duration="dur_emp", event="event_emp"
        ),
        dk.cox(persons, duration="dur_emp", event="event_emp"),
        dk.kaplan_meier(persons, duration="dur_emp", event="event_emp"),
        dk.subgroups(persons, "emp_share_81", ["female"]),
    ]


def test_every_result_speaks_the_protocol(persons: pl.DataFrame) -> None:
    for res in _results(persons):
        tidy = res.tidy()
        assert tuple(tidy.columns[: len(TIDY_LEADING)]) == TIDY_LEADING, type(res)
        glance = res.glance()
        assert glance.height == 1
        assert tuple(glance.columns[: len(GLANCE_LEADING)]) == GLANCE_LEADING
        assert glance["n_obs"][0] > 0
        text = res.summary()
        assert isinstance(text, str) and "estimate" in text
        assert len(repr(res)) < 2500
        assert res.vcov.shape[0] == res.vcov.shape[1]
        assert res.to_pandas().shape == tidy.shape
        ci = res.confint(0.95)
        assert ci.height == tidy.height


def test_confint_and_vcov_agree_with_tidy(persons: pl.DataFrame) -> None:
    for res in _results(persons)[:4]:
        t90 = res.tidy(0.90)
        ci = res.confint(0.90)
        np.testing.assert_allclose(ci["conf_low"], t90["conf_low"])
        # Wald: estimate +- q * se with the row's reference distribution
        half = (t90["conf_high"] - t90["conf_low"]).to_numpy() / 2
        q = half / t90["std_error"].to_numpy()
        g = res.glance()["df"][0]
        expect = scipy.stats.norm.ppf(0.95) if g is None else scipy.stats.t.ppf(0.95, g)
        np.testing.assert_allclose(q, expect, rtol=1e-10)
        if res.vcov.shape[0] == t90.height:
            np.testing.assert_allclose(np.sqrt(np.diag(res.vcov)), t90["std_error"], rtol=1e-10)


def test_exponentiate_gives_ratios(persons: pl.DataFrame) -> None:
    res = dk.hazard("Surv(dur_emp, event_emp) ~ treated | municipality", persons, link="cloglog")
    raw, ratio = res.tidy(), res.tidy(exponentiate=True)
    np.testing.assert_allclose(ratio["estimate"], np.exp(raw["estimate"]), rtol=1e-12)
    np.testing.assert_allclose(ratio["conf_low"], np.exp(raw["conf_low"]), rtol=1e-12)
    assert res.ratio_name == "hazard_ratio"


def test_etable_side_by_side(persons: pl.DataFrame) -> None:
    m1 = dk.feols("emp_share_81 ~ treated | municipality", persons, vcov={"CRV1": "team"})
    m2 = dk.feols("emp_share_81 ~ treated + age | municipality", persons, vcov={"CRV1": "team"})
    m3 = dk.hazard("Surv(dur_emp, event_emp) ~ treated | municipality", persons)
    tab = dk.etable([m1, m2, m3], names=["OLS", "OLS + age", "hazard"], stars=True)
    frame = tab.frame
    assert frame.columns == ["row", "OLS", "OLS + age", "hazard"]
    est = m2.tidy().filter(pl.col("term") == "age")["estimate"][0]
    age = frame.filter(pl.col("row").str.starts_with("age"))
    assert age["OLS"][0] == "" and age["OLS + age"][0].startswith(f"{est:.3f}")
    rows = frame["row"].to_list()
    assert {"Fixed effects", "Standard errors", "N", "Clusters"} <= set(rows)
    n_row = frame.filter(pl.col("row") == "N")
    assert n_row["OLS"][0] == f"{m1.glance()['n_obs'][0]:,}"
    md, tex, html = tab.to_markdown(), tab.to_latex(), tab.to_html()
    assert md.splitlines()[0] == "|  | OLS | OLS + age | hazard |"
    assert r"\begin{tabular}" in tex and "<table" in html
    kept = dk.etable([m1, m2], keep="^treated").frame
    assert not kept["row"].str.starts_with("age").any()
    ci = dk.etable(m1, uncertainty="ci", level=0.9).frame
    assert ci["(1)"][1].startswith("[")


def test_etable_path_rows_carry_weeks(persons: pl.DataFrame) -> None:
    path = dk.effect_path(persons, "sick_share_", COV)
    tab = dk.etable(path, keep=r"week (1|81)\]$").frame
    labels = [r for r in tab["row"].to_list() if r]
    assert labels[:2] == ["treated [week 1]", "treated [week 81]"]


@pytest.mark.parametrize(
    ("formula", "needle"),
    [
        ("emp_share_81 ~ treated + nope | municipality", "nope"),
        ("emp_share_81 ~ treated + frobnicate(age) | municipality", "frobnicate"),
        ("emp_share_81 ~ treated + municipality | municipality", "municipality"),
        ("nomatch_* ~ treated | municipality", "nomatch_*"),
        ("emp_share_81 ~ treated +", "right-hand side"),
        ("emp_share_81 treated", "'~'"),
    ],
)
def test_bad_formulas_raise_typed_errors(persons: pl.DataFrame, formula: str, needle: str) -> None:
    with pytest.raises(dk.InputError) as err:
        dk.feols(formula, persons, vcov={"CRV1": "team"})
    assert needle in str(err.value)


def test_bad_inputs_to_the_protocol(persons: pl.DataFrame) -> None:
    res = dk.feols("emp_share_81 ~ treated | municipality", persons, vcov={"CRV1": "team"})
    for level in (0.0, 1.0, 1.5, -0.2):
        with pytest.raises(dk.InputError, match="outside"):
            res.tidy(level)
        with pytest.raises(dk.InputError):
            res.confint(level)
    bad = persons.with_columns(pl.col("event_emp") * 2)
    with pytest.raises(dk.InputError):
        dk.hazard("Surv(dur_emp, event_emp) ~ treated | municipality", bad)
    with pytest.raises(FormulaError, match="Surv"):
        dk.hazard("dur_emp ~ treated", persons)
    with pytest.raises(dk.InputError, match="vcov"):
        dk.feols("emp_share_81 ~ treated", persons, vcov={"CR9": "team"})
    with pytest.raises(dk.InputError):
        dk.etable(["not a model"])  # type: ignore[list-item]


def test_fast_design_equals_formulaic(persons: pl.DataFrame) -> None:
    from dreamkit.estimate.formula import _formulaic_design

    parsed = parse("y ~ treated + age + treated:female + age:female")
    fast = design(parsed, persons)
    slow = _formulaic_design(parsed, persons)
    assert fast.fast and not slow.fast
    assert fast.names == slow.names
    np.testing.assert_array_equal(fast.x, slow.x)
    assert dict(fast.term_columns) == dict(slow.term_columns)


def test_missing_values_raise_or_are_counted(persons: pl.DataFrame) -> None:
    holes = persons.with_columns(
        pl.when(pl.int_range(pl.len()) < 7).then(None).otherwise(pl.col("age")).alias("age")
    )
    with pytest.raises(dk.InputError, match="age"):
        dk.effect_path("emp_share_* ~ treated + age | municipality", holes)
    res = dk.effect_path("emp_share_* ~ treated + age | municipality", holes, missing="drop")
    assert res.n_dropped == 7 and res.n_obs == persons.height - 7
    assert "7 rows dropped" in res.summary()


def test_logit_probit_formulas_equal_statsmodels(persons: pl.DataFrame) -> None:
    import statsmodels.formula.api as smf

    data = persons.with_columns(
        (pl.col("emp_share_81") > 0.5).cast(pl.Int8).alias("working"),
        pl.col("expected_return").clip(2, 4).cast(pl.String).alias("expect"),
    )
    fml = "working ~ treated + C(expect, contr.treatment('3')) + age"
    pdf = data.to_pandas()
    for link, ref_fit in (("logit", smf.logit), ("probit", smf.probit)):
        fe_fml = fml + " | municipality"
        res = getattr(dk, link)(fe_fml, data, vcov={"CRV1": "team"})
        groups = pdf["team"].rank(method="dense").astype(int).to_numpy()
        patsy_fml = fml.replace("contr.treatment('3')", "Treatment('3')")
        ref = ref_fit(patsy_fml + " + C(municipality)", pdf).fit(
            disp=0, cov_type="cluster", cov_kwds={"groups": groups}
        )
        tidy = res.tidy()
        for term in ["treated", "age", "C(expect, contr.treatment('3'))[T.2]"]:
            row = tidy.filter(pl.col("term") == term).row(0, named=True)
            ref_term = term.replace("contr.treatment('3')", "Treatment('3')")
            assert row["estimate"] == pytest.approx(ref.params[ref_term], rel=1e-6)
            if link == "logit":  # sm.Probit's Hessian differs from GLM's (docs/binary.md)
                assert row["std_error"] == pytest.approx(ref.bse[ref_term], rel=1e-6)
        wald = res.wald_test("C(expect, contr.treatment('3'))")
        assert wald.df == 2
    kw = dk.logit(data, "working", ["treated"], ["age"], stratum="municipality", cluster="team")
    fm = dk.logit("working ~ treated + age | municipality", data, vcov={"CRV1": "team"})
    np.testing.assert_allclose(
        kw.tidy().filter(pl.col("term") == "treated")["estimate"],
        fm.tidy().filter(pl.col("term") == "treated")["estimate"],
        rtol=1e-10,
    )
