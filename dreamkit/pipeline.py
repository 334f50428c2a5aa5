"""The whole reference analysis from one configuration: register -> outcomes -> models -> report.

:func:`run_report` reads (or simulates) the register and the trial table, builds the outcomes
with the sample-flow ledger, runs every model of the reference study and writes the report:
``OUT/report.html`` (one self-contained file), ``OUT/figures/*.{png,svg}`` and
``OUT/tables/*.{csv,md,tex}``. Only the five trial columns of
:func:`~dreamkit.design.trial.validate_trial` and the code map's three outcome sets are
required; :func:`check_plan` (``dreamkit config --check``) says which other sections run on
the data (:mod:`dreamkit.report.plan`). :func:`write_synthetic` writes a simulated trial
table and DREAM-style wide register for trying the ``source = "files"`` route.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
from tqdm.auto import tqdm

from dreamkit.chunked._atomic import write_atomic
from dreamkit.config import Config
from dreamkit.design import columns as C
from dreamkit.errors import ColumnNotFoundError, ConfigError, InputError
from dreamkit.executor import (
    Executor,
    ExecutorLike,
    ProcessExecutor,
    SerialExecutor,
    get_executor,
    resolve_executor,
    use_executor,
)
from dreamkit.register.codemap import CodeMap
from dreamkit.report.context import ReportContext
from dreamkit.report.disclosure import DisclosureLog, write_audit
from dreamkit.report.figures import Figure
from dreamkit.report.files import clean_temporaries, write_csv_atomic
from dreamkit.report.html import Section, render_html, write_html
from dreamkit.report.plan import (
    NO_STARTS,
    SECTION_TITLES,
    Plan,
    activation_outcomes,
    make_plan,
    resolve_columns,
)
from dreamkit.report.sections import SECTIONS, run_section
from dreamkit.report.tables import Table


@dataclass
class ReportResult:
    """What :func:`run_report` wrote, and the raw model results behind it."""

    html: Path
    tables: dict[str, Table]
    figures: dict[str, Figure]
    disclosure: DisclosureLog
    results: dict[str, Any] = field(default_factory=dict)
    #: section id (or "section: part") -> the sentence saying why it did not run
    skipped: dict[str, str] = field(default_factory=dict)


def run_report(
    config: Config,
    out_dir: str | Path,
    *,
    progress: bool = True,
    executor: ExecutorLike = None,
) -> ReportResult:
    """Run the reference analysis described by ``config`` and write the report to ``out_dir``.

    Sections whose inputs the trial lacks, or whose model the data do not identify, are
    replaced by one sentence saying why (:mod:`dreamkit.report.plan`; the sentences are in
    ``ReportResult.skipped``). A progress bar on standard error (``progress=False`` turns it
    off) names each step.

    ``executor`` (:mod:`dreamkit.executor`: a number of local processes, a
    ``dask.distributed.Client`` or scheduler address, an ``Executor``; default the session
    executor, else this process) is where the report's parallel work runs: the randomisation
    and wild-bootstrap draws of every section, and the rendering of the figures (PNG, SVG),
    one task per figure, after the sections. Tables, figures and the HTML file are
    byte-identical for every executor. The sections themselves run in order here (they share
    the disclosure log and reuse each other's results). On the 568-person reference trial the
    draws are one or two batches per test, so the figures are the only work that spreads
    (``docs/scale-out.md``).
    """
    pool = _report_executor(executor)  # bad arguments and unreachable schedulers fail first
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    clean_temporaries(out)  # of a killed earlier run; every file below is written atomically
    with ExitStack() as stack:
        if pool is not None:
            stack.enter_context(use_executor(pool))  # the draws inside the sections
            if isinstance(pool, ProcessExecutor):
                stack.enter_context(pool)  # one pool of processes for the whole report
        bar = stack.enter_context(
            tqdm(total=3 + len(SECTIONS), desc="dreamkit report", disable=not progress, unit="step")
        )
        bar.set_postfix_str("data and outcomes")
        inputs = load_inputs(config)
        bar.update(1)
        ctx = ReportContext(
            config=inputs.config,
            persons=inputs.persons,
            flow=inputs.flow,
            randomised=inputs.randomised,
            out_dir=out,
            log=DisclosureLog(config.disclosure.min_cell),
            plan=inputs.plan,
            register=inputs.register,
            executor=pool,
        )
        ctx.results["outcomes"] = inputs.outcomes
        sections: list[Section] = []
        for spec in SECTIONS:
            bar.set_postfix_str(spec.label)
            sections.append(run_section(ctx, spec))
            bar.update(1)
        bar.set_postfix_str("figures")
        rendered = ctx.render_figures()
        for section in sections:  # the rendered figures replace their placeholders
            section.items = [
                rendered.get(item.name, item) if isinstance(item, Figure) else item
                for item in section.items
            ]
        bar.update(1)
        bar.set_postfix_str("html")
        text = render_html("dreamkit evaluation report", sections, ctx.log, preamble=_preamble(ctx))
        write_audit(ctx.log, out / "disclosure_audit.csv")
        path = write_html(out / "report.html", text)  # last: the run is complete once it is new
        bar.update(1)
    return ReportResult(path, ctx.tables, ctx.figures, ctx.log, ctx.results, ctx.skipped)


def _report_executor(executor: ExecutorLike) -> Executor | None:
    """The report's executor: ``executor``, else the session's; None for this process."""
    chosen = executor if executor is not None else get_executor()
    if chosen is None:
        return None
    pool = resolve_executor(chosen)  # an unreachable scheduler fails here, before any work
    return None if isinstance(pool, SerialExecutor) else pool


@dataclass(frozen=True)
class Inputs:
    """The analysis data: the randomised trial table, the analysed persons and the ledger,
    the configuration as it applies to them (default covariates the data lack left out) and
    the plan of the sections that run."""

    randomised: pl.DataFrame
    persons: pl.DataFrame
    flow: pl.DataFrame
    outcomes: Any
    config: Config
    plan: Plan
    register: Any = None  # the weekly state register (horizons and observational sections)


def load_inputs(config: Config) -> Inputs:
    """Read or simulate register and trial, build outcomes (persons missing from the register
    are excluded and recorded in the ledger), derive the subgroup indicators, check the
    configuration against the data and plan the sections."""
    from dreamkit.design.trial import validate_trial
    from dreamkit.outcomes import OutcomeSpec, build_outcomes

    if config.input.source == "synthetic":
        from dreamkit.simulate import simulate_trial

        sim = simulate_trial(seed=config.synthetic.seed, n_unmatched=config.synthetic.n_unmatched)
        trial, register = validate_trial(sim.trial), sim.register
    else:
        trial, register = _read_files(config)
    out = config.outcomes
    check_sets(register.codemap, config)
    sets = {"emp": out.employment_set, "sick": out.sickness_set}
    known = set(register.codemap.sets) | set(register.codemap.states)
    totals = {p: name for p, name in activation_outcomes(config).items() if name in known}
    spec = OutcomeSpec(
        weeks=out.weeks,
        paths=sets,
        totals=totals,
        spell_set=out.employment_set,
        spell_weeks=out.spell_weeks,
        exit_set=out.sickness_duration_set,
        pre_weeks=out.pre_weeks,
        pre_window_length=out.pre_window_length,
        pre_sets=sets,
    )
    trial = _booleans_as_01(trial)
    outcomes = build_outcomes(register, trial, spec, on_missing="exclude")
    persons = derive_indicators(_booleans_as_01(outcomes.persons), config)
    check_columns(persons, config)
    effective, notes = resolve_columns(persons, config)
    plan = make_plan(persons, trial, effective, tuple(notes))
    return Inputs(trial, persons, outcomes.flow.table(), outcomes, effective, plan, register)


def _booleans_as_01(frame: pl.DataFrame) -> pl.DataFrame:
    """Boolean columns as 0/1 (Int8): the models and tables read binary variables as 0/1."""
    return frame.with_columns(pl.col(pl.Boolean).cast(pl.Int8))


def check_sets(codemap: CodeMap, config: Config) -> None:
    """The three outcome sets must be sets (or states) of the code map."""
    out = config.outcomes
    known = set(codemap.sets) | set(codemap.states)
    for key in ("employment_set", "sickness_set", "sickness_duration_set"):
        name = getattr(out, key)
        if name not in known:
            raise ConfigError(
                f"[outcomes].{key} names {name!r}, which is neither a set nor a state of code "
                f"map {codemap.name!r}; its sets are {', '.join(sorted(codemap.sets))}"
            )


def _trial_rename(config: Config, columns: list[str]) -> dict[str, str] | None:
    """``[input].rename`` plus, unless a column is already mapped to it, ``person`` ->
    ``person_id``."""
    inp = config.input
    rename = dict(inp.rename)
    if inp.person != C.PERSON and C.PERSON not in rename.values() and inp.person in columns:
        rename[inp.person] = C.PERSON
    missing = [c for c in rename if c not in columns]
    if missing:
        raise ConfigError(
            f"[input].rename names column {missing[0]!r}, which the trial table does not have"
        )
    return rename or None


def _read_files(config: Config) -> tuple[pl.DataFrame, Any]:
    from dreamkit.design.trial import validate_trial
    from dreamkit.register import read_long, read_wide
    from dreamkit.register.employment import EmploymentTable

    inp = config.input
    assert inp.trial is not None and inp.register is not None
    raw = _read_table(inp.trial, "[input].trial")
    try:
        trial = validate_trial(raw, rename=_trial_rename(config, raw.columns))
    except ColumnNotFoundError as err:
        raise ConfigError(f"{err} In the configuration: map it in [input].rename.") from None
    table = (
        EmploymentTable(inp.employment, unit=inp.employment_unit)  # type: ignore[arg-type]
        if inp.employment is not None
        else None
    )
    if inp.register_format == "wide":
        names = _columns(inp.register)
        has_columns = any(n.startswith("branche_") for n in names)
        if has_columns and table is not None:
            raise ConfigError(
                "[input].employment is given but the wide register has branche_ employment "
                "columns too; remove one of them"
            )
        register = read_wide(
            inp.register,
            person=inp.person,
            codemap=inp.codemap,
            employment="columns" if has_columns else table,
            first_week=inp.first_week,
            last_week=inp.last_week,
        )
    else:
        register = read_long(
            inp.register,
            person=inp.person,
            codemap=inp.codemap,
            employment=table,
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
    """The analysis table must have persons left; the columns the configuration names are
    checked by :func:`dreamkit.report.plan.resolve_columns`."""
    if persons.height == 0:
        raise InputError("no person is left after the sample-flow exclusions")


def _preamble(ctx: ReportContext) -> list[str]:
    config = ctx.config
    source = (
        f"a synthetic trial simulated with seed {config.synthetic.seed}"
        if config.input.source == "synthetic"
        else f"register {config.input.register.name if config.input.register else ''} and "
        f"trial table {config.input.trial.name if config.input.trial else ''}"
    )
    # the optional observational section is not "missing" from a report that gave no starts
    skipped = [
        title
        for sid, title in SECTION_TITLES
        if sid in ctx.runs.skip and ctx.runs.skip[sid] != NO_STARTS
    ]
    left_out = list(ctx.runs.parts)
    plan = []
    if skipped or left_out:
        plan.append(
            "Not in this report (each section says why): "
            + "; ".join([*skipped, *[f"the {p}" for p in left_out]])
            + "."
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
        *plan,
        *ctx.runs.notes,
    ]


def check_plan(config: Config) -> Plan:
    """Check ``config`` against its data and code map (columns, sets) and plan the sections:
    what ``dreamkit config --check`` prints. Raises the error the report would raise."""
    return load_inputs(config).plan


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
            write_atomic(paths[-1], frame.write_parquet)
        if fmt in ("csv", "both"):
            paths.append(out / f"{name}.csv")
            write_csv_atomic(frame, paths[-1])
    return paths
