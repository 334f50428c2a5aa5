"""The small-trial tables end to end: allocation -> register -> horizons -> tests.

Every p-value in the wide table is recomputed here from scipy/statsmodels on the same persons;
the simulated register under the new allocation is checked cell by cell against the
simulator's potential outcomes.
"""

from __future__ import annotations

import warnings

import numpy as np
import polars as pl
import pytest
import scipy.stats
from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar
from statsmodels.stats.proportion import confint_proportions_2indep

from dreamkit.design import pairwise_allocation, proportional_pairs
from dreamkit.errors import InferenceWarning, InputError, TrialDesignError
from dreamkit.estimate.smalltrial import (
    compare_proportions,
    exact_rd_interval,
    horizon_tables,
    proportions_table,
    results_frame,
)
from dreamkit.outcomes import StatusSpec, status_at_horizons
from dreamkit.simulate import TeamDesign, reallocate, simulate_trial


@pytest.fixture(scope="module")
def pilot() -> tuple:
    sim = simulate_trial(TeamDesign(n_teams=6, mean_team_size=13), seed=3)
    eligible = sim.trial.drop("treated").with_columns(young=(pl.col("age") < 45).cast(pl.Int8))
    pairs = proportional_pairs(eligible, ["female", "young"], 30)
    alloc = pairwise_allocation(eligible, ["female", "young"], seed=11, n_pairs=pairs)
    persons = alloc.allocated
    end = int(np.quantile(persons["allocation_week"], 0.85)) + 78
    register = reallocate(sim, persons, last_week=end)
    return sim, alloc, persons, register, end


def test_proportional_pairs() -> None:
    frame = pl.DataFrame({"g": ["a"] * 10 + ["b"] * 7 + ["c"] * 3})
    got = proportional_pairs(frame, ["g"], 8)
    # quotas 4, 2.8, 1.2 -> 4, 2, 1 then the largest remainder (b) -> 4, 3, 1
    assert got == {"g=a": 4, "g=b": 3, "g=c": 1}
    assert sum(proportional_pairs(frame, ["g"], 9).values()) == 9
    with pytest.raises(TrialDesignError, match="at most 9"):
        proportional_pairs(frame, ["g"], 10)


def test_reallocated_register_holds_the_potential_outcomes(pilot: tuple) -> None:
    sim, _, persons, register, end = pilot
    assert register.last_week == end
    control, treated = sim.truth.potential
    rows = sim.register.require_rows(persons["person_id"])
    for i, (week, arm) in enumerate(persons.select("allocation_week", "treated").iter_rows()):
        path = (treated if arm == 1 else control)[rows[i]]
        col0 = week - register.first_week + 1
        n = min(path.size, register.n_weeks - col0)
        assert np.array_equal(register.states[rows[i], col0 : col0 + n], path[:n])
        # weeks up to allocation are the simulator's
        assert np.array_equal(register.states[rows[i], :col0], sim.register.states[rows[i], :col0])


def test_horizon_tables_recomputed(pilot: tuple) -> None:
    _, _, persons, register, _ = pilot
    spec = StatusSpec.from_mapping(
        {
            "self_support": {"states": ["employment", "education"], "weeks": 4},
            "left_benefit": {"states": ["sickness_duration", "cash_benefit"], "outside": True},
        },
        other="on_benefit",
    )
    status = status_at_horizons(register, persons, spec, [6, 18], sample="per_horizon")
    assert status.flows["6m"].remaining == 60 and status.flows["18m"].remaining < 60
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InferenceWarning)
        tables = horizon_tables(status, ri_draws=999)
    for label, table in tables.items():
        data = status.at(label)
        arm = data["treated"].to_numpy()
        assert table["outcome"].to_list()[:5] == [
            "self_support",
            "left_benefit",
            "status=self_support",
            "status=left_benefit",
            "status=on_benefit",
        ]
        k = data["status"].n_unique()
        assert table["outcome"][5] == f"status (2 x {k})" and table.height == 6
        for row in table.head(2).iter_rows(named=True):
            y = data[row["outcome"]].to_numpy()
            t = np.array(
                [
                    [(y[arm == 1] == 1).sum(), (y[arm == 1] == 0).sum()],
                    [(y[arm == 0] == 1).sum(), (y[arm == 0] == 0).sum()],
                ]
            )
            assert row["events_treated"] == t[0, 0] and row["n_treated"] == t[0].sum()
            assert row["pct_control"] == pytest.approx(100 * t[1, 0] / t[1].sum())
            if t.sum(axis=0).min() > 0:
                for col, corr in (("p_chi2", False), ("p_chi2_yates", True)):
                    ref = scipy.stats.chi2_contingency(t, correction=corr).pvalue
                    assert row[col] == pytest.approx(ref, rel=1e-10)
            assert row["p_fisher"] == pytest.approx(scipy.stats.fisher_exact(t).pvalue, rel=1e-10)
            lo, hi = confint_proportions_2indep(
                t[0, 0], t[0].sum(), t[1, 0], t[1].sum(), method="newcomb", compare="diff"
            )
            assert (row["rd_low"], row["rd_high"]) == pytest.approx((lo, hi), rel=1e-10)
            # McNemar on the complete pairs of this horizon
            pairs = data.filter(
                pl.col("pair").is_in(
                    data.group_by("pair").len().filter(pl.col("len") == 2)["pair"].implode()
                )
            ).sort("pair", "treated")
            yy = pairs[row["outcome"]].to_numpy().reshape(-1, 2)  # control, treated per pair
            assert row["n_pairs"] == yy.shape[0]
            m = np.array(
                [
                    [
                        ((yy[:, 1] == 1) & (yy[:, 0] == 1)).sum(),
                        ((yy[:, 1] == 1) & (yy[:, 0] == 0)).sum(),
                    ],
                    [
                        ((yy[:, 1] == 0) & (yy[:, 0] == 1)).sum(),
                        ((yy[:, 1] == 0) & (yy[:, 0] == 0)).sum(),
                    ],
                ]
            )
            assert row["p_mcnemar_exact"] == pytest.approx(
                sm_mcnemar(m, exact=True).pvalue, rel=1e-10
            )
            assert "pairs" in row["ri_method"]
        k_row = table.row(-1, named=True)
        k_test = scipy.stats.chi2_contingency(
            pl.DataFrame({"a": arm, "s": data["status"]})
            .pivot(on="s", index="a", values="a", aggregate_function="len")
            .fill_null(0)
            .drop("a")
            .to_numpy(),
            correction=False,
        )
        assert k_row["p_chi2"] == pytest.approx(k_test.pvalue, rel=1e-10)


def test_separation_and_long_form() -> None:
    arm = np.r_[np.ones(28, int), np.zeros(26, int)]
    y = np.r_[np.ones(4, int), np.zeros(24, int), np.zeros(26, int)]  # 4/28 vs 0/26
    frame = pl.DataFrame({"treated": arm, "x": y, "stratum": np.tile([0, 1], 27)})
    with pytest.warns(InferenceWarning, match=r"separation.*Firth"):
        table = proportions_table(frame, ["x"], stratum="stratum")
    row = table.row(0, named=True)
    assert row["note"].startswith("separation")
    assert row["p_fisher"] == pytest.approx(
        scipy.stats.fisher_exact([[4, 24], [0, 26]]).pvalue, rel=1e-10
    )
    # the source's 4/28 vs 0/26: chi-square 0.045, Fisher 0.11 (other-studies.md, section 2)
    assert round(row["p_chi2"], 3) == 0.045 and round(row["p_fisher"], 2) == 0.11
    assert (row["rd_exact_low"], row["rd_exact_high"]) == pytest.approx(
        exact_rd_interval(4, 28, 0, 26), rel=1e-12
    )
    assert row["p_mcnemar_exact"] is None and row["n_pairs"] is None  # no pairs given
    assert row["p_stratified_exact"] is not None and "strata" in row["ri_method"]
    numeric = table.select(pl.selectors.numeric()).row(0)
    assert not any(isinstance(v, float) and np.isnan(v) for v in numeric)
    long = results_frame(compare_proportions(arm, y, stratum=frame["stratum"]), "x")
    assert long["test"].to_list() == [
        "chi-square",
        "chi-square (Yates)",
        "Fisher exact",
        "CMH",
        "CMH (corrected)",
        "stratified exact",
        "randomisation (strata)",
    ]
    # nobody with the event: every test p = 1 with a note, no NaN
    none = proportions_table(frame.with_columns(x=pl.lit(0)), ["x"])
    assert none["p_chi2"][0] == 1.0 and none["p_fisher"][0] == 1.0
    with pytest.raises(InputError, match="0/1"):
        proportions_table(frame.with_columns(x=pl.lit(None, pl.Int64)), ["x"])
