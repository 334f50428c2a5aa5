"""The whole reference analysis from one configuration: register -> outcomes -> models -> report.

:func:`run_report` reads (or simulates) the register and the trial table, builds the outcomes
with the sample-flow ledger, runs every model of the reference study and writes the report:
``OUT/report.html`` (one self-contained file), ``OUT/figures/*.{png,svg}`` and
``OUT/tables/*.{csv,md,tex}``. :func:`write_synthetic` writes a simulated trial table and
DREAM-style wide register for trying the ``source = "files"`` route.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
from tqdm.auto import tqdm

from dreamkit.config import Config
from dreamkit.design import columns as C
from dreamkit.errors import ConfigError, InputError
from dreamkit.report.context import ReportContext
from dreamkit.report.disclosure import DisclosureLog
from dreamkit.report.figures import Figure
from dreamkit.report.html import Section, render_html, write_html
from dreamkit.report.sections import SECTIONS
from dreamkit.report.tables import Table


@dataclass
class ReportResult:
    """What :func:`run_report` wrote, and the raw model results behind it."""

    html: Path
    tables: dict[str, Table]
    figures: dict[str, Figure]
    disclosure: DisclosureLog
    results: dict[str, Any] = field(default_factory=dict)


def run_report(config: Config, out_dir: str | Path, *, progress: bool = True) -> ReportResult:
    """Run the reference analysis described by ``config`` and write the report to ``out_dir``.

    A progress bar on standard error (``progress=False`` turns it off) names each step.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with tqdm(
        total=2 + len(SECTIONS), desc="dreamkit report", disable=not progress, unit="step"
    ) as bar:
        bar.set_postfix_str("data and outcomes")
        inputs = load_inputs(config)
        bar.update(1)
        ctx = ReportContext(
            config=config,
            persons=inputs.persons,
            flow=inputs.flow,
            randomised=inputs.randomised,
            out_dir=out,
            log=DisclosureLog(config.disclosure.min_cell),
        )
        ctx.results["outcomes"] = inputs.outcomes
        sections: list[Section] = []
        for label, build in SECTIONS:
            bar.set_postfix_str(label)
            sections.append(build(ctx))
            bar.update(1)
        bar.set_postfix_str("html")
        text = render_html(
            "dreamkit evaluation report", sections, ctx.log, preamble=_preamble(config, ctx)
        )
        path = write_html(out / "report.html", text)
        bar.update(1)
    return ReportResult(path, ctx.tables, ctx.figures, ctx.log, ctx.results)


@dataclass(frozen=True)
class Inputs:
    """The analysis data: the randomised trial table, the analysed persons and the ledger."""

    randomised: pl.DataFrame
    persons: pl.DataFrame
    flow: pl.DataFrame
    outcomes: Any


def load_inputs(config: Config) -> Inputs:
    """Read or simulate register and trial, build outcomes (persons missing from the register
    are excluded and recorded in the ledger), derive the subgroup indicators."""
    from dreamkit.design.trial import validate_trial
    from dreamkit.outcomes import OutcomeSpec, build_outcomes

    if config.input.source == "synthetic":
        from dreamkit.simulate import simulate_trial

        sim = simulate_trial(seed=config.synthetic.seed, n_unmatched=config.synthetic.n_unmatched)
        trial, register = validate_trial(sim.trial), sim.register
    else:
        trial, register = _read_files(config)
    out = config.outcomes
    sets = {"emp": out.employment_set, "sick": out.sickness_set}
    spec = OutcomeSpec(
        weeks=out.weeks,
        paths=sets,
        spell_set=out.employment_set,
        spell_weeks=out.spell_weeks,
        exit_set=out.sickness_duration_set,
        pre_weeks=out.pre_weeks,
        pre_window_length=out.pre_window_length,
        pre_sets=sets,
    )
    outcomes = build_outcomes(register, trial, spec, on_missing="exclude")
    persons = derive_indicators(outcomes.persons, config)
    check_columns(persons, config)
    return Inputs(trial, persons, outcomes.flow.table(), outcomes)


def _read_files(config: Config) -> tuple[pl.DataFrame, Any]:
    from dreamkit.design.trial import validate_trial
    from dreamkit.register import read_long, read_wide

    inp = config.input
    assert inp.trial is not None and inp.register is not None
    trial = validate_trial(
        _read_table(inp.trial, "[input].trial"),
        rename={inp.person: C.PERSON} if inp.person != C.PERSON else None,
    )
    if inp.register_format == "wide":
        names = _columns(inp.register)
        employment = "columns" if any(n.startswith("branche_") for n in names) else None
        register = read_wide(
            inp.register,
            person=inp.person,
            codemap=inp.codemap,
            employment=employment,
            first_week=inp.first_week,
            last_week=inp.last_week,
        )
    else:
        register = read_long(
            inp.register,
            person=inp.person,
            codemap=inp.codemap,
            employment=inp.employment,
            first_week=inp.first_week,
            last_week=inp.last_week,
        )
    return trial, register


def _read_table(path: Path, key: str) -> pl.DataFrame:
    from dreamkit.register.sources import as_lazy, collect

    if path.suffix not in (".parquet", ".csv"):
        raise ConfigError(f"{key} must be a .parquet or .csv file, got {path.name!r}")
    # dreamkit's readers: typed errors for files that are not what their suffix says, and no
    # parser message (which may quote a person id) in any error
    return collect(as_lazy(path, what=key), what=key)


def _columns(path: Path) -> list[str]:
    from dreamkit.register.sources import as_lazy, column_names

    return column_names(as_lazy(path, what="[input].register"), what="[input].register")


def derive_indicators(persons: pl.DataFrame, config: Config) -> pl.DataFrame:
    """Add the study's derived subgroup indicators when their source columns exist:
    ``age_50plus`` = 1[age >= 50]; ``pre_sick_above_median`` / ``pre_emp_above_median`` =
    1[share in weeks P..1 before allocation > its sample median]."""
    p = config.outcomes.pre_weeks
    derived: list[pl.Expr] = []
    if "age" in persons.columns and "age_50plus" not in persons.columns:
        derived.append((pl.col("age") >= 50).cast(pl.Int8).alias("age_50plus"))
    for prefix in ("sick", "emp"):
        source, name = f"pre_{prefix}_{p}_1", f"pre_{prefix}_above_median"
        if source in persons.columns and name not in persons.columns:
            derived.append((pl.col(source) > pl.col(source).median()).cast(pl.Int8).alias(name))
    return persons.with_columns(derived) if derived else persons


def check_columns(persons: pl.DataFrame, config: Config) -> None:
    """Every column the configuration names must exist in the analysis table."""
    named = {
        "[design].stratum": [config.design.stratum],
        "[design].cluster": [config.design.cluster],
        "[covariates].prognostic": list(config.covariates.prognostic),
        "[covariates].balance": list(config.covariates.balance),
        "[covariates].subgroups": list(config.covariates.subgroups),
    }
    for key, cols in named.items():
        missing = [c for c in cols if c not in persons.columns]
        if missing:
            raise ConfigError(
                f"{key} names column {missing[0]!r}, which the analysis table does not have"
            )
    if persons.height == 0:
        raise InputError("no person is left after the sample-flow exclusions")


def _preamble(config: Config, ctx: ReportContext) -> list[str]:
    source = (
        f"a synthetic trial simulated with seed {config.synthetic.seed}"
        if config.input.source == "synthetic"
        else f"register {config.input.register.name if config.input.register else ''} and "
        f"trial table {config.input.trial.name if config.input.trial else ''}"
    )
    return [
        f"Data: {source}. {ctx.n_persons} analysed persons in {ctx.n_clusters} "
        f"{config.design.cluster}s and {ctx.persons[config.design.stratum].n_unique()} "
        f"{config.design.stratum} strata; outcomes for weeks 1..{config.outcomes.weeks} after "
        "the allocation week.",
        f"Inference: standard errors clustered by {config.design.cluster}; "
        f"{config.inference.ri_draws} randomisation-inference draws within "
        f"{config.design.cluster}s; wild cluster bootstrap with "
        f"{config.inference.bootstrap_draws} draws; bands at level {config.inference.level}.",
    ]


def write_synthetic(out_dir: str | Path, *, seed: int = 1, fmt: str = "both") -> list[Path]:
    """Simulate a reference-style trial; write ``trial`` and wide ``register`` tables."""
    from dreamkit.simulate import simulate_trial

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sim = simulate_trial(seed=seed)
    frames: dict[str, pl.DataFrame] = {"trial": sim.trial, "register": sim.wide_codes()}
    paths: list[Path] = []
    for name, frame in frames.items():
        if fmt in ("parquet", "both"):
            paths.append(out / f"{name}.parquet")
            frame.write_parquet(paths[-1])
        if fmt in ("csv", "both"):
            paths.append(out / f"{name}.csv")
            frame.write_csv(paths[-1])
    return paths
