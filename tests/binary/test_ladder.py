"""The OR ladder, backward elimination and effect modification."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import statsmodels.api as sm

import dreamkit.estimate.binary as bn
from dreamkit.errors import InputError

BLOCKS = {"socio-demographics": ["sex", "age"], "education": ["edu"]}
REF = {"illness": "physical", "edu": "low"}


@pytest.fixture(scope="module")
def ladder(survey: pl.DataFrame) -> bn.Ladder:
    lad = bn.or_ladder(
        survey, "y", "illness", BLOCKS, stratum="stratum", cluster="team", reference=REF
    )
    assert isinstance(lad, bn.Ladder)
    return lad


def test_ladder_models_equal_separate_fits(survey: pl.DataFrame, ladder: bn.Ladder) -> None:
    assert list(ladder.fits) == ["Unadjusted", "+ socio-demographics", "+ education"]
    kw = {"stratum": "stratum", "cluster": "team", "reference": REF}
    direct = [
        bn.logit(survey, "y", "illness", **kw),
        bn.logit(survey, "y", "illness", ["sex", "age"], **kw),
        bn.logit(survey, "y", "illness", ["sex", "age", "edu"], **kw),
    ]
    for fit, ref in zip(ladder.fits.values(), direct, strict=True):
        np.testing.assert_array_equal(fit.params, ref.params)
        np.testing.assert_array_equal(fit.std_errors, ref.std_errors)
    assert ladder.adjustment["+ education"] == ("sex", "age", "edu")


def test_table_has_the_thesis_shape(ladder: bn.Ladder) -> None:
    t = ladder.table()
    assert t[""].to_list() == ["overall p", "physical (reference)", "both", "mental"]
    assert t.width == 1 + 3 * 3
    assert t.columns[1:4] == ["Unadjusted: b", "Unadjusted: OR (95% CI)", "Unadjusted: p"]
    fit = ladder.fits["+ education"]
    odds = (
        fit.tidy(exponentiate=True).filter(pl.col("term") == "illness[mental]").row(0, named=True)
    )
    expected = f"{odds['estimate']:.2f} ({odds['conf_low']:.2f}-{odds['conf_high']:.2f})"
    assert t["+ education: OR (95% CI)"][3] == expected
    assert t["+ education: OR (95% CI)"][1] == "1 (ref)"
    long = ladder.long()
    overall = long.filter((pl.col("model") == "+ education") & (pl.col("row") == "overall p"))
    assert overall["p_value"][0] == fit.wald_test("illness").p_value
    md = ladder.to_markdown()
    assert "N = 3000" in md and "adjusted for: sex, age, edu" in md


def test_separate_mode_and_lr_test(survey: pl.DataFrame, ladder: bn.Ladder) -> None:
    sep = bn.or_ladder(survey, "y", "illness", BLOCKS, mode="separate", reference=REF)
    assert isinstance(sep, bn.Ladder)
    assert list(sep.fits) == ["Unadjusted", "socio-demographics", "education"]
    assert sep.adjustment["education"] == ("edu",)
    lr = ladder.lr_test()
    first, last = ladder.fits["Unadjusted"], ladder.fits["+ education"]
    np.testing.assert_allclose(lr.statistic, 2 * (last.log_likelihood - first.log_likelihood))
    assert lr.df == 5 and "CRV1" in lr.note


def test_ladder_by_group_and_common_sample(survey: pl.DataFrame) -> None:
    d = survey.with_columns(
        group=pl.when(pl.col("team") % 3 == 0).then(pl.lit("former")).otherwise(pl.lit("current")),
        edu=pl.when(pl.int_range(pl.len()) % 40 == 0).then(None).otherwise(pl.col("edu")),
    )
    out = bn.or_ladder(d, "y", "illness", BLOCKS, by="group", reference=REF, missing="drop")
    assert isinstance(out, dict) and sorted(out) == ["current", "former"]
    for key, lad in out.items():
        n = {f.n_obs for f in lad.fits.values()}
        sub = d.filter((pl.col("group") == key) & pl.col("edu").is_not_null())
        assert n == {sub.height}  # one complete-case sample for every rung
        assert "dropped for missing values" in lad.to_markdown()


def test_backward_elimination_trace_and_force(survey: pl.DataFrame) -> None:
    rng = np.random.default_rng(7)
    d = survey.with_columns(
        noise1=pl.Series(rng.normal(size=survey.height)),
        noise2=pl.Series(rng.choice(["a", "b", "c"], survey.height)),
    )
    cands = ["illness", "sex", "edu", "age", "noise1", "noise2"]
    el = bn.backward_eliminate(d, "y", cands, reference=REF, cluster="team", alpha=0.05)
    steps = el.steps
    assert steps["step"].to_list() == list(range(steps.height))
    removed = steps["removed"].drop_nulls().to_list()
    assert set(removed) >= {"noise1", "noise2"} and "illness" not in removed
    # each step's p is the largest Wald p of the model before it, and exceeds alpha
    for i, row in enumerate(steps.iter_rows(named=True)):
        if i == 0:
            continue
        before = el.fits[i - 1]
        remaining = [t for t in before.groups if t != "Intercept"]
        ps = {t: before.wald_test(t).p_value for t in remaining}
        assert row["removed"] == max(ps, key=ps.__getitem__) and row["p_value"] > 0.05
    final_terms = [t for t in el.final.groups if t != "Intercept"]
    assert all(el.final.wald_test(t).p_value <= 0.05 for t in final_terms)
    forced = bn.backward_eliminate(d, "y", cands, reference=REF, cluster="team", force=["noise1"])
    assert "noise1" in forced.final.groups and "noise1" not in forced.steps["removed"].to_list()
    lr = el.lr_test()
    np.testing.assert_allclose(
        lr.statistic, 2 * (el.initial.log_likelihood - el.final.log_likelihood)
    )


def test_exposure_or_by_modifier_equals_subgroup_fits(survey: pl.DataFrame) -> None:
    """Without other regressors the interaction model is saturated in exposure x modifier,
    so the exposure OR at each modifier level equals a logit fitted in that subgroup."""
    mod = bn.exposure_or_by(survey, "y", "illness", "sex", reference=REF, vcov="iid")
    for sex in ("F", "M"):
        sub = survey.filter(pl.col("sex") == sex)
        ill = sub["illness"].to_numpy()
        x = np.column_stack([np.ones(sub.height), ill == "both", ill == "mental"]).astype(float)
        ref = sm.Logit(sub["y"].to_numpy().astype(float), x).fit(disp=0, tol=1e-13)
        rows = mod.table.filter(pl.col("modifier_level") == sex)
        np.testing.assert_allclose(rows["estimate"], ref.params[1:], rtol=1e-6)
        np.testing.assert_allclose(rows["std_error"], ref.bse[1:], rtol=1e-6)
        np.testing.assert_allclose(rows["odds_ratio"], np.exp(ref.params[1:]), rtol=1e-6)
    assert mod.interaction.df == 2


def test_ladder_input_errors(survey: pl.DataFrame) -> None:
    with pytest.raises(InputError, match="mode"):
        bn.or_ladder(survey, "y", "illness", BLOCKS, mode="stepwise")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="numeric"):
        bn.or_ladder(survey, "y", "age", BLOCKS)
    with pytest.raises(InputError, match="forced"):
        bn.backward_eliminate(survey, "y", ["sex"], force=["illness"])


def test_elimination_can_remove_everything(survey: pl.DataFrame) -> None:
    rng = np.random.default_rng(11)
    d = survey.with_columns(noise=pl.Series(rng.normal(size=survey.height)))
    el = bn.backward_eliminate(d, "y", ["noise"], alpha=1e-9)
    assert el.steps["removed"].to_list() == [None, "noise"]
    assert el.final.names == ("Intercept",)
    np.testing.assert_allclose(el.final.params[0], np.log(d["y"].mean() / (1 - d["y"].mean())))


def test_group_table_puts_groups_side_by_side(survey: pl.DataFrame) -> None:
    d = survey.with_columns(
        group=pl.when(pl.col("team") % 3 == 0).then(pl.lit("former")).otherwise(pl.lit("current"))
    )
    out = bn.or_ladder(d, "y", "illness", BLOCKS, by="group", reference=REF)
    assert isinstance(out, dict)
    t = bn.group_table(out, "+ education")
    assert t.columns[:4] == ["", "current: b", "current: OR (95% CI)", "current: p"]
    assert t.width == 7 and t[""].to_list()[0] == "overall p"
    own = out["former"].table(models=["+ education"])
    assert t["former: OR (95% CI)"].to_list() == own["+ education: OR (95% CI)"].to_list()
