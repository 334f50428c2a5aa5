"""Coverage of the predicted-survival intervals by teams per stratum (docs/hazard.md).

A known logit DGP: persons in 30 teams, ``teams_per_stratum`` teams per stratum with stratum
effects (SD 0.3), a 60/40 lottery within teams, one covariate, a weekly baseline, 24 weeks.
Each trial is fitted with the correct model (one dummy per week, stratum effects, x; CRV1 by
team or the model-based ``iid`` covariance) and the 95% intervals of the standardised
survival S_1(t) and of S_1(t) - S_0(t) at weeks 4, 12 and 24 are compared with the truth (the
same persons' standardised curves under the true coefficients).

    python benchmarks/survival_interval_coverage.py [--trials 200] [--persons 1500]
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
import numpy.typing as npt
import polars as pl

from dreamkit.errors import InferenceWarning
from dreamkit.estimate.duration.duration_dependence import intervals
from dreamkit.estimate.duration.hazard import DiscreteTimeHazard

WEEKS, TAU, N_TEAMS = 24, -0.3, 30
CHECK = np.array([4, 12, 24]) - 1


def trial(
    n: int, seed: int, teams_per_stratum: int
) -> tuple[pl.DataFrame, npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """One trial and the true standardised survival of its persons in each arm."""
    rng = np.random.default_rng(seed)
    team = rng.integers(0, N_TEAMS, n)
    stratum = team // teams_per_stratum
    treated = (rng.random(n) < 0.6).astype(np.int64)
    x = rng.normal(size=n)
    alpha = -2.5 + 0.4 * np.sin(np.arange(1, WEEKS + 1) / 5.0)
    index = rng.normal(scale=0.3, size=N_TEAMS // teams_per_stratum + 1)[stratum] + 0.2 * x
    duration, event = np.full(n, WEEKS), np.zeros(n, np.int64)
    alive = np.ones(n, dtype=bool)
    for t in range(1, WEEKS + 1):
        hazard = 1 / (1 + np.exp(-(alpha[t - 1] + index + TAU * treated)))
        exits = alive & (rng.random(n) < hazard)
        duration[exits], event[exits] = t, 1
        alive &= ~exits
    frame = pl.DataFrame(
        {"duration": duration, "event": event, "team": team, "municipality": stratum,
         "treated": treated, "x": x}
    )  # fmt: skip
    truth = [
        np.cumprod(1 - 1 / (1 + np.exp(-(alpha[None, :] + index[:, None] + TAU * a))), axis=1).mean(
            axis=0
        )
        for a in (0, 1)
    ]
    return frame, truth[0], truth[1]


def coverage(trials: int, persons: int, teams_per_stratum: int, cov_type: str) -> str:
    model = DiscreteTimeHazard(
        duration_spec=intervals(1),
        covariates=("x",),
        cov_type=cov_type,  # type: ignore[arg-type]
    )
    hits_s1, hits_diff = np.zeros(CHECK.size), np.zeros(CHECK.size)
    for r in range(trials):
        frame, s0, s1 = trial(persons, 500 + r, teams_per_stratum)
        res = model.fit(frame)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", InferenceWarning)
            pred = res.predict_survival(periods=WEEKS).filter(pl.col("arm") == 1)
            diff = res.survival_difference(periods=WEEKS)
        low, high = pred["survival_low"].to_numpy()[CHECK], pred["survival_high"].to_numpy()[CHECK]
        hits_s1 += (low <= s1[CHECK]) & (s1[CHECK] <= high)
        d = (s1 - s0)[CHECK]
        hits_diff += (diff["conf_low"].to_numpy()[CHECK] <= d) & (
            d <= diff["conf_high"].to_numpy()[CHECK]
        )
    s1_text = ", ".join(f"{c:.3f}" for c in hits_s1 / trials)
    diff_text = ", ".join(f"{c:.3f}" for c in hits_diff / trials)
    return f"| {teams_per_stratum} | {cov_type} | {trials} | {s1_text} | {diff_text} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--persons", type=int, default=1500)
    args = parser.parse_args()
    print("| teams per stratum | covariance | trials | S_1 coverage (weeks 4, 12, 24) "
          "| S_1 - S_0 coverage (weeks 4, 12, 24) |")  # fmt: skip
    print("| --- | --- | --- | --- | --- |")
    for tps, cov in ((2, "CRV1"), (2, "iid"), (10, "CRV1"), (30, "CRV1")):
        print(coverage(args.trials, args.persons, tps, cov), flush=True)


if __name__ == "__main__":
    main()
