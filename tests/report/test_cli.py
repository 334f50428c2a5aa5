"""The command line: help, the example config, exit codes and one-line config errors."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from dreamkit.cli import EXIT_INPUT, EXIT_INTERNAL, EXIT_OK, build_parser, main


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for command in ("report", "simulate", "config"):
        assert f"dreamkit {command}" in out


def test_example_config_is_printed_and_valid(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "--example"]) == EXIT_OK
    text = capsys.readouterr().out
    assert tomllib.loads(text)["outcomes"]["weeks"] == 81


def test_check_accepts_a_valid_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "ok.toml"
    path.write_text("[outcomes]\nweeks = 52\n")
    assert main(["config", "--check", str(path)]) == EXIT_OK
    assert "valid" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["check", "report"])
def test_bad_config_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[outcomes]\nweeks = "81"\n')
    argv = (
        ["config", "--check", str(path)]
        if command == "check"
        else ["report", "--config", str(path), "--out", str(tmp_path / "r"), "--quiet"]
    )
    assert main(argv) == EXIT_INPUT
    err = capsys.readouterr().err
    assert err == 'config error: [outcomes].weeks must be an integer, got "81"\n'


def test_missing_config_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["report", "--config", str(tmp_path / "nope.toml"), "--out", str(tmp_path)])
    assert code == EXIT_INPUT
    assert capsys.readouterr().err.startswith("config error: ")


def test_report_requires_out() -> None:
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(["report"])
    assert info.value.code == 2


def test_internal_error_exits_1_with_one_line_and_no_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import dreamkit.pipeline

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("person 987654321987 broke it")

    monkeypatch.setattr(dreamkit.pipeline, "run_report", broken)
    assert main(["report", "--out", str(tmp_path), "--quiet"]) == EXIT_INTERNAL
    err = capsys.readouterr().err
    assert err.startswith("internal error: RuntimeError")
    assert err.count("\n") == 1
    assert "987654321987" not in err
