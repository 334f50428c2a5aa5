"""The TOML analysis configuration: defaults, the annotated example, strict one-line errors."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from dreamkit.config import EXAMPLE, Config, load_config, parse_config
from dreamkit.errors import ConfigError


def test_example_parses_to_the_defaults() -> None:
    assert parse_config(tomllib.loads(EXAMPLE)) == Config()


def test_no_file_gives_defaults() -> None:
    config = load_config(None)
    assert config.outcomes.weeks == 81
    assert config.inference.ri_draws == 999
    assert config.disclosure.min_cell == 5
    assert len(config.covariates.prognostic) == 4


def test_rename_and_weekly_employment_are_read(tmp_path: Path) -> None:
    path = tmp_path / "a.toml"
    path.write_text(
        '[input]\nemployment_unit = "week"\n[input.rename]\npnr = "person_id"\nhold = "team"\n'
        "[outcomes]\nactivation_sets = []\n"
    )
    config = load_config(path)
    assert config.input.rename == {"pnr": "person_id", "hold": "team"}
    assert config.input.employment_unit == "week"
    assert config.outcomes.activation_sets == ()


def test_values_are_read(tmp_path: Path) -> None:
    path = tmp_path / "a.toml"
    path.write_text(
        "[outcomes]\nweeks = 52\n[inference]\nlevel = 0.9\n[self_efficacy]\ngrid = [8, 10]\n"
    )
    config = load_config(path)
    assert config.outcomes.weeks == 52
    assert config.inference.level == 0.9
    assert config.self_efficacy.grid == (8, 10)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[outcomes]\nweeks = "81"\n', '[outcomes].weeks must be an integer, got "81"'),
        ("[outcomes]\nweek = 81\n", "[outcomes].week is not a known key"),
        ("[output]\nx = 1\n", "unknown section [output]"),
        ("[inference]\nlevel = 2.0\n", "[inference].level must lie in"),
        ('[input]\nsource = "sql"\n', '[input].source must be one of "synthetic", "files"'),
        ('[input]\nsource = "files"\n', "[input].register is required"),
        ('[input]\ntrial = "nope.parquet"\n', "[input].trial names a file that does not exist"),
        ("[covariates]\nprognostic = [1]\n", "[covariates].prognostic[0] must be a non-empty"),
        ("[disclosure]\nmin_cell = true\n", "[disclosure].min_cell must be an integer"),
        ("[outcomes]\npre_weeks = 100\n", "must be a multiple of"),
        ("outcomes = 3\n", "[outcomes] must be a table"),
        ("[outcomes\n", "is not valid TOML"),
        ('[input]\nrename = "pnr"\n', "[input].rename must be a table of column names"),
        ("[input]\nrename = { a = 1 }\n", "[input].rename.a must be a non-empty string"),
        ('[input]\nemployment_unit = "day"\n', '[input].employment_unit must be one of "month"'),
        ("[outcomes]\nactivation_sets = [1]\n", "[outcomes].activation_sets[0] must be"),
    ],
)
def test_bad_configs_raise_one_line_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "absent.toml")


def test_relative_paths_resolve_against_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "trial.csv").write_text("x\n1\n")
    (tmp_path / "reg.csv").write_text("x\n1\n")
    path = tmp_path / "a.toml"
    path.write_text('[input]\nsource = "files"\nregister = "reg.csv"\ntrial = "trial.csv"\n')
    config = load_config(path)
    assert config.input.trial == tmp_path / "trial.csv"
    assert config.input.register == tmp_path / "reg.csv"
