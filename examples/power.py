"""Plan a reference-style trial: planning inputs from the register's pre-period, analytic MDE
for the employment share, a proportion and a hazard ratio, and simulated power (CRV1 and
randomisation inference) against the analytic curve, saved as a figure."""

import os
from pathlib import Path

import dreamkit as dk

if __name__ == "__main__":  # simulate_power spawns worker processes
    sim = dk.simulate_trial(seed=1)
    persons = dk.build_outcomes(sim.register, sim.trial).persons
    plan = dk.planning_inputs(persons, "pre_emp_26_14", covariates=["pre_emp_104_92"])
    print(plan.summary())
    kw = dict(n=568, share_treated=0.65, cluster_size=568 / 43, icc=max(plan.icc, 0.02))
    for design in ("individual", "within_cluster", "cluster"):
        mde = dk.mde_mean(plan.sd, design=design, **kw)  # type: ignore[arg-type]
        p1 = dk.mde_proportion(0.26, design=design, **kw)  # type: ignore[arg-type]
        hr = dk.mde_hazard(p_control_event=0.5, design=design, increase=True, **kw)  # type: ignore[arg-type]
        print(f"{design:>15}: MDE share {mde:.3f}, employed 26% -> {p1:.1%}, HR {hr:.2f}")

    model = dk.ReferenceTrialModel(calibration_trials=5)
    result = dk.simulate_power(model, [0.0, 1.0, 2.0], n_replications=100, tests=("crv1", "ri"),
                            processes=2, seed=1)  # fmt: skip
    print(result.summary())
    out = Path(os.environ.get("DREAMKIT_EXAMPLE_OUT", "."))
    result.plot(path=out / "power_curve.png")
