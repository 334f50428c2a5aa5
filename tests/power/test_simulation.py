"""Simulation-based power: analytic and simulated power agree within Monte Carlo error,
results do not depend on processes or executor, the analysis equals effect_path, and the
result object and figure."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import polars as pl
import pytest
import scipy.stats
from matplotlib.figure import Figure

from dreamkit.errors import InputError
from dreamkit.estimate.linear.itt import effect_path
from dreamkit.power import (
    NormalClusterModel,
    ReferenceTrialModel,
    analyse,
    power_curve,
    power_mean,
    simulate_power,
)
from dreamkit.power.result import COLUMNS
from dreamkit.power.simulation import children

#: A simulated rejection rate that is off the analytic power by chance has a binomial
#: two-sided p-value below this in 1 of 1,000 runs per point.
P_MIN = 0.001


def _agree(result, slack: float = 0.0) -> None:
    """Every simulated rejection count is consistent with Binomial(R, analytic power)."""
    table = result.tidy()
    analytic = table.filter(pl.col("method") == "analytic").select("parameter", "power")
    sim = table.filter(pl.col("method") != "analytic").join(
        analytic, on="parameter", suffix="_analytic"
    )
    assert sim.height > 0
    for row in sim.iter_rows(named=True):
        p = row["power_analytic"]
        k, r = row["rejections"], row["replications"]
        test = scipy.stats.binomtest(k, r, p)
        assert test.pvalue > P_MIN or abs(k / r - p) <= slack, row


@pytest.mark.parametrize(
    "model",
    [
        NormalClusterModel(n_clusters=40, cluster_size=10, icc=0.1, allocation="within_cluster"),
        NormalClusterModel(n_clusters=40, cluster_size=10, icc=0.05, cv=0.5, allocation="cluster"),
    ],
    ids=["within_cluster", "cluster, unequal sizes"],
)
def test_simulated_power_agrees_with_analytic(model: NormalClusterModel) -> None:
    # within-cluster: DE = 1 - ICC; cluster-randomised: Eldridge's DE with the CV of sizes
    effects = [0.0, 0.2, 0.35] if model.allocation == "within_cluster" else [0.0, 0.3, 0.5]
    result = simulate_power(model, effects, n_replications=400, seed=11)
    _agree(result)
    powers = result.tidy().filter(pl.col("method") == "analytic")["power"].to_list()
    assert powers[0] == pytest.approx(0.05) and powers[-1] > 0.6  # the check has teeth


def test_a_wrong_design_effect_would_be_caught() -> None:
    """The agreement check rejects the naive DE = 1 + (m - 1) ICC for within-cluster
    allocation: its power is far below the simulated one."""
    model = NormalClusterModel(n_clusters=40, cluster_size=10, icc=0.3)
    result = simulate_power(model, [0.25], n_replications=400, seed=3)
    sim = result.tidy().filter(pl.col("method") == "CRV1 t")
    wrong = power_mean(0.25, 1.0, 400, design="cluster", icc=0.3, cluster_size=10)
    assert scipy.stats.binomtest(int(sim["rejections"][0]), 400, wrong).pvalue < P_MIN


def test_results_identical_for_processes_and_executors() -> None:
    model = NormalClusterModel(n_clusters=12, cluster_size=8, icc=0.1)
    kw = dict(n_replications=12, tests=("crv1", "ri"), n_ri=39, seed=5, analytic=False)
    serial = simulate_power(model, [0.0, 0.5], **kw)
    chunked = simulate_power(model, [0.0, 0.5], chunk_size=5, **kw)
    with ThreadPoolExecutor(2) as pool:
        threaded = simulate_power(model, [0.0, 0.5], executor=pool, **kw)
    spawned = simulate_power(model, [0.0, 0.5], processes=2, **kw)
    for other in (chunked, threaded, spawned):
        assert other.tidy().equals(serial.tidy())
    longer = simulate_power(model, [0.0, 0.5], **{**kw, "n_replications": 24})
    assert longer.tidy()["rejections"][0] >= serial.tidy()["rejections"][0]  # extends it


def test_children_are_those_of_spawn_and_do_not_change_the_parent() -> None:
    parent = np.random.SeedSequence(7, spawn_key=(0, 3))
    first = children(parent, 3)
    assert [c.generate_state(2).tolist() for c in first] == [
        c.generate_state(2).tolist() for c in np.random.SeedSequence(7, spawn_key=(0, 3)).spawn(3)
    ]
    assert [c.spawn_key for c in children(parent, 3)] == [c.spawn_key for c in first]


def test_analysis_equals_effect_path_on_the_same_data() -> None:
    model = ReferenceTrialModel(covariates=("belief_in_treatment", "ordinary_job"))
    trial = model.draw(0.5, np.random.SeedSequence(2))
    res = analyse(trial, ("crv1",), 0.05)
    frame = pl.DataFrame(
        {
            "y": trial.y,
            "treated": trial.treated,
            "municipality": trial.strata,
            "team": trial.clusters,
            "belief_in_treatment": trial.covariates[:, 0],
            "ordinary_job": trial.covariates[:, 1],
        }
    )
    path = effect_path(frame, ["y"], ["belief_in_treatment", "ordinary_job"])
    row = path.tidy().row(0, named=True)
    assert res["estimate"] == pytest.approx(row["estimate"], abs=1e-12)
    assert res["std_error"] == pytest.approx(row["std_error"], abs=1e-12)
    assert res["crv1"] == float(row["p_value"] <= 0.05)
    # the randomisation test and the bootstrap through the result's own hooks
    full = analyse(trial, ("ri", "wcb"), 0.05, n_ri=99, n_boot=99, seed=np.random.SeedSequence(1))
    seeds = children(np.random.SeedSequence(1), 2)
    ri = path.randomization_inference(n_draws=99, seed=int(seeds[0].generate_state(1)[0]))
    assert full["ri"] == float(ri.p_value[0] <= 0.05)
    wb = path.wild_cluster_bootstrap(
        B=99, weights="webb", impose_null=True, seed=int(seeds[1].generate_state(1)[0])
    )
    assert full["wcb"] == float(wb.p_value[0] <= 0.05)


def test_reference_model_light_run_and_result_object(tmp_path) -> None:
    model = ReferenceTrialModel(calibration_trials=3)
    result = simulate_power(model, [0.0, 1.0], n_replications=20, tests=("crv1", "ri"), seed=1)
    table = result.tidy()
    assert table.columns[: len(COLUMNS)] == list(COLUMNS)
    assert set(table["method"]) == {"CRV1 t", "randomisation inference", "analytic"}
    assert table.filter(pl.col("parameter") == 1.0)["effect"][0] > 0  # tau > 0: more employment
    assert table["n"][0] == 568 and table["clusters"][0] == 43
    sim = table.filter(pl.col("method") != "analytic")
    assert (sim["power_low"] <= sim["power"]).all() and (sim["power"] <= sim["power_high"]).all()
    assert "CRV1 t" in result.summary() and "PowerResult" in repr(result)
    fig = result.plot(path=tmp_path / "power.png")
    assert isinstance(fig, Figure) and (tmp_path / "power.png").stat().st_size > 0


def test_analytic_power_curve_result() -> None:
    result = power_curve([0.0, 0.05, 0.1], sd=0.3, n=568, share_treated=0.65)
    table = result.tidy()
    assert table.columns[: len(COLUMNS)] == list(COLUMNS)
    assert table["power"].to_list() == pytest.approx(
        list(power_mean(np.array([0.0, 0.05, 0.1]), 0.3, 568, share_treated=0.65))
    )
    assert (table["power_low"] == table["power"]).all() and table["n"][0] == 568
    assert isinstance(result.plot(), Figure)


def test_clopper_pearson_bands_match_scipy() -> None:
    model = NormalClusterModel(n_clusters=10, cluster_size=6, icc=0.0)
    result = simulate_power(
        model, [0.8], n_replications=25, seed=2, interval="clopper-pearson", level=0.9
    )
    row = result.tidy().filter(pl.col("method") == "CRV1 t").row(0, named=True)
    ci = scipy.stats.binomtest(row["rejections"], 25).proportion_ci(0.9, method="exact")
    assert (row["power_low"], row["power_high"]) == pytest.approx((ci.low, ci.high), abs=1e-10)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"tests": ("ttest",)}, "tests"),
        ({"n_replications": 0}, "n_replications"),
        ({"processes": 0}, "processes"),
        ({"n_ri": 5, "tests": ("ri",)}, "n_ri"),
        ({"interval": "exact"}, "interval"),
        ({"alpha": 1.5}, "alpha"),
    ],
)
def test_bad_runner_input(kwargs, match) -> None:
    model = NormalClusterModel(n_clusters=10, cluster_size=6)
    with pytest.raises(InputError, match=match):
        simulate_power(model, [0.1], **kwargs)


def test_bad_model_input() -> None:
    with pytest.raises(InputError, match="icc"):
        NormalClusterModel(icc=1.0)
    with pytest.raises(InputError, match="cluster-randomised"):
        simulate_power(NormalClusterModel(allocation="cluster"), [0.1], tests=("ri",))
    with pytest.raises(InputError, match="outcome"):
        ReferenceTrialModel(outcome="employment")
    with pytest.raises(InputError, match="baseline survey"):
        ReferenceTrialModel(covariates=("pre_sick_104_1",)).draw(0.0, np.random.SeedSequence(0))


@pytest.mark.slow
def test_reference_trial_analytic_and_simulated_power_agree() -> None:
    """Large run: the light reference trial (municipality FE, team CRV1) against the
    within-team analytic power with planning inputs from null calibration trials. The
    analytic variance ignores CRV1's small-sample factor and the treatment's change of the
    outcome variance, so a slack of 0.03 is allowed on top of the binomial check."""
    model = ReferenceTrialModel()
    result = simulate_power(model, [0.0, 0.6, 1.2], n_replications=2000, seed=4, processes=2)
    _agree(result, slack=0.03)


@pytest.mark.slow
def test_large_gaussian_agreement() -> None:
    for model in (
        NormalClusterModel(n_clusters=30, cluster_size=14, icc=0.2, cv=0.4, share_treated=0.6),
        NormalClusterModel(n_clusters=60, cluster_size=8, icc=0.1, cv=0.6, allocation="cluster"),
    ):
        effects = [0.0, 0.15, 0.3] if model.allocation == "within_cluster" else [0.0, 0.2, 0.4]
        _agree(simulate_power(model, effects, n_replications=4000, seed=8, processes=2))
