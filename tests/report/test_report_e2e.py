"""`dreamkit report` end to end on a synthetic register (small inference settings).

Checks: the HTML parses and has every section, numbers in it equal the library's results
rounded the same way, no cell below the disclosure threshold leaks, figures are PNGs of the
expected size, and no person identifier reaches any output file.
"""

from __future__ import annotations

import contextlib
import io
import struct
import sys
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import polars as pl
import pytest

from dreamkit.cli import EXIT_OK, main
from dreamkit.config import Config, load_config
from dreamkit.report.disclosure import SUPPRESSED
from dreamkit.report.figures import PIXELS

sys.path.insert(0, str(Path(__file__).parent))
from _data import reference_files

PLANTED_ID = 987_654_321_987


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.cells: dict[str, list[list[str]]] = {}
        self._table: str | None = None
        self._row: list[str] | None = None
        self._in_cell = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs).get("id")
        if found:
            self.ids.add(found)
        if tag == "table" and found:
            self._table = found
            self.cells[found] = []
        elif tag == "tr" and self._table:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._in_cell = True
            self._row.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._table = None
        elif tag == "tr" and self._table and self._row is not None:
            self.cells[self._table].append(self._row)
            self._row = None
        elif tag in ("td", "th"):
            self._in_cell = False

    def handle_data(self, data: str) -> None:
        if self._in_cell and self._row is not None:
            self._row[-1] += data


@dataclass
class Run:
    out: Path
    config: Config
    page: _Page
    tables: dict[str, pl.DataFrame]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """`dreamkit report` through the CLI on files: a reference-shaped trial (one planted
    identifier, three persons missing from the register) and a wide DREAM-style register."""
    data = tmp_path_factory.mktemp("data")
    trial, wide = reference_files(seed=5)
    trial = trial.with_columns(
        pl.when(pl.col("person_id") == trial["person_id"][7])
        .then(PLANTED_ID)
        .otherwise(pl.col("person_id"))
        .alias("person_id")
    )
    wide = wide.with_columns(trial["person_id"]).slice(3)
    trial.write_parquet(data / "trial.parquet")
    wide.write_parquet(data / "register.parquet")
    (data / "analysis.toml").write_text(CONFIG)
    out = tmp_path_factory.mktemp("report")
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(["report", "--config", str(data / "analysis.toml"), "--out", str(out)])
    assert code == EXIT_OK, stderr.getvalue()
    (out / "console.log").write_text(stdout.getvalue() + stderr.getvalue())
    page = _Page()
    page.feed((out / "report.html").read_text(encoding="utf-8"))
    tables = {p.stem: pl.read_csv(p) for p in (out / "tables").glob("*.csv")}
    return Run(out, load_config(data / "analysis.toml"), page, tables)


CONFIG = """
[input]
source = "files"
trial = "trial.parquet"
register = "register.parquet"

[inference]
ri_draws = 99
bootstrap_draws = 99

[horizons]
months = [6, 12]
"""


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


EXPECTED_SECTIONS = [
    "sample-flow",
    "descriptive",
    "balance",
    "prognostic",
    "survival",
    "effect-paths",
    "activation",
    "self-efficacy",
    "peers",
    "robustness",
    "subgroups",
    "horizons",
    "disclosure",
]
EXPECTED_TABLES = [
    "sample_flow",
    "descriptive",
    "balance",
    "balance_joint",
    "prognostic",
    "km_at_risk",
    "hazard",
    "effect_path_emp",
    "effect_path_sick",
    "activation_effects",
    "selfefficacy_emp",
    "selfefficacy_sick",
    "peers",
    "robustness",
    "subgroups",
    "horizons_status",
    "horizons_logit",
]
EXPECTED_FIGURES = [
    "sample_flow",
    "kaplan_meier",
    "kaplan_meier_wait",
    "effect_paths",
    "selfefficacy",
    "robustness",
]


def test_every_section_table_and_figure_is_present(run: Run) -> None:
    assert set(EXPECTED_SECTIONS) <= run.page.ids
    assert set(EXPECTED_TABLES) <= set(run.page.cells)
    assert {f"fig-{f}" for f in EXPECTED_FIGURES} <= run.page.ids


def test_nothing_is_skipped_on_a_reference_shaped_trial(run: Run) -> None:
    text = (run.out / "report.html").read_text(encoding="utf-8")
    # the optional observational section says in one sentence that no starts were given
    optional = "<p>Skipped: no programme starts given ([observational].starts);"
    assert text.count(optional) == 1
    text = text.replace(optional, "")
    for mark in ("<p>Skipped:", "<p>Not estimable:", "<p>Without the", "Not in this report"):
        assert mark not in text


def test_every_table_in_three_formats_equal_to_the_html(run: Run) -> None:
    for name in EXPECTED_TABLES:
        for ext in ("csv", "md", "tex"):
            assert (run.out / "tables" / f"{name}.{ext}").stat().st_size > 0
        csv = pl.read_csv(run.out / "tables" / f"{name}.csv", infer_schema=False)
        html_rows = run.page.cells[name][1:]
        assert [[c or "" for c in r] for r in csv.iter_rows()] == html_rows, name


def test_every_table_states_n_and_clustering(run: Run) -> None:
    text = (run.out / "report.html").read_text(encoding="utf-8")
    for name in EXPECTED_TABLES:
        md = (run.out / "tables" / f"{name}.md").read_text()
        assert "N = " in md, name
        assert "team" in md, name
    assert text.count('class="note"') >= len(EXPECTED_TABLES)


def test_html_numbers_equal_the_estimators(run: Run) -> None:
    from dreamkit.estimate.duration.hazard import DiscreteTimeHazard
    from dreamkit.estimate.linear.itt import effect_path
    from dreamkit.pipeline import load_inputs

    persons = load_inputs(run.config).persons
    cov = list(run.config.covariates.prognostic)
    for prefix in ("emp", "sick"):
        path = effect_path(persons, f"{prefix}_share_", cov).tidy()
        last = path.filter(pl.col("week") == 81).row(0, named=True)
        row = next(r for r in run.page.cells[f"effect_path_{prefix}"] if r[0] == "81")
        header = run.page.cells[f"effect_path_{prefix}"][0]
        assert row[header.index("estimate")] == f"{last['estimate']:.3f}"
        assert row[header.index("std_error")] == f"{last['std_error']:.3f}"
        assert row[header.index("control_mean")] == f"{last['control_mean']:.3f}"

    fit = DiscreteTimeHazard().fit(persons, duration="dur_emp", event="event_emp")
    hazard = run.page.cells["hazard"]
    row = next(r for r in hazard if r[:2] == ["exit to ordinary employment", "all"])
    assert row[2] == f"{fit.coef('treated'):.3f} ({fit.se('treated'):.3f})"
    assert row[4] == str(fit.n_person_periods)
    flow = run.page.cells["sample_flow"]
    # 568 randomised, 3 not in the register: randomised - analysed would reveal the 3
    assert flow[1] == ["randomised", "", "", SUPPRESSED]
    assert flow[-1][-1] == str(persons.height) == "565"


def test_figures_are_png_and_svg_of_the_expected_size(run: Run) -> None:
    for name in EXPECTED_FIGURES:
        png = run.out / "figures" / f"{name}.png"
        assert _png_size(png) == PIXELS
        assert png.stat().st_size > 5_000  # not an empty canvas
        assert (run.out / "figures" / f"{name}.svg").read_text().lstrip().startswith("<?xml")


def test_no_small_cell_leaks(run: Run) -> None:
    k = run.config.disclosure.min_cell
    flow = run.page.cells["sample_flow"][1:]
    excluded = [r[2] for r in flow[1:]]
    assert SUPPRESSED in excluded  # the three unmatched persons
    assert all(c in (SUPPRESSED, "0") or int(c) >= k for c in excluded)
    for row in run.page.cells["km_at_risk"][1:]:
        assert all(c == SUPPRESSED or int(c) == 0 or int(c) >= k for c in row[2:])
    persons = run.page.cells["descriptive"][1][1:]
    assert all(c == SUPPRESSED or int(c) >= k for c in persons)
    assert run.page.cells["suppressions"]  # the report lists what it suppressed


def test_no_person_identifier_in_any_output(run: Run) -> None:
    planted = str(PLANTED_ID).encode()
    files = [p for p in run.out.rglob("*") if p.is_file()]  # includes the console log
    assert "dreamkit report" in (run.out / "console.log").read_text()  # the progress bar
    assert len(files) > 30
    for path in files:
        assert planted not in path.read_bytes(), path.name
