"""The report on an executor: every output file (tables, figures, HTML, disclosure audit) is
byte-identical for this process, a 2-worker Dask LocalCluster and 2 local processes, with the
randomisation and bootstrap draws split into several batches (two sections by default, the
whole report in the slow set); the figures rendered from a pickled copy equal those rendered
in place; bad executors fail before any work."""

from __future__ import annotations

import dataclasses
import pickle
import socket
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from dreamkit import executor as ex
from dreamkit.config import Config
from dreamkit.errors import InputError, SchedulerUnreachableError
from dreamkit.inference import randomization as ri_module
from dreamkit.inference import wild_bootstrap as wb_module
from dreamkit.pipeline import load_inputs, run_report
from dreamkit.report.context import ReportContext
from dreamkit.report.disclosure import DisclosureLog
from dreamkit.report.figures import new_figure, render_figure, save_figure
from dreamkit.report.sections import SECTIONS, run_section

# 568 persons: RI batches of 70 allocations (3 per test), bootstrap blocks of 17 replications
RI_ELEMENTS, WB_ELEMENTS = 40_000, 20_000


def _config() -> Config:
    """The synthetic reference report, 26 weeks and 199 draws (the full one takes ~20 s)."""
    c = Config()
    return dataclasses.replace(
        c,
        outcomes=dataclasses.replace(c.outcomes, weeks=26),
        inference=dataclasses.replace(c.inference, ri_draws=199, bootstrap_draws=199),
    )


def _report(out: Path, executor: Any) -> dict[str, bytes]:
    with pytest.MonkeyPatch.context() as mp:  # several batches, so the executor has work
        mp.setattr(ri_module, "_CHUNK_ELEMENTS", RI_ELEMENTS)
        mp.setattr(wb_module, "_CHUNK_ELEMENTS", WB_ELEMENTS)
        result = run_report(_config(), out, progress=False, executor=executor)
    assert result.figures and all(f.svg_text.startswith("<svg") for f in result.figures.values())
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def serial(tmp_path_factory) -> dict[str, bytes]:
    return _report(tmp_path_factory.mktemp("serial"), None)


@pytest.fixture(scope="module")
def inputs():
    return load_inputs(_config())


def _sections(inputs, out: Path, executor: Any, ids: Sequence[str]) -> dict[str, bytes]:
    """Some sections as :func:`run_report` runs them: draws and figures on ``executor``."""
    pool = None if executor is None else ex.resolve_executor(executor)
    ctx = ReportContext(
        config=inputs.config,
        persons=inputs.persons,
        flow=inputs.flow,
        randomised=inputs.randomised,
        out_dir=out,
        log=DisclosureLog(inputs.config.disclosure.min_cell),
        plan=inputs.plan,
        register=inputs.register,
        executor=pool,
    )
    with pytest.MonkeyPatch.context() as mp, ex.use_executor(pool):
        mp.setattr(ri_module, "_CHUNK_ELEMENTS", RI_ELEMENTS)
        mp.setattr(wb_module, "_CHUNK_ELEMENTS", WB_ELEMENTS)
        for spec in SECTIONS:
            if spec.id in ids:
                run_section(ctx, spec)
        ctx.render_figures()
    assert ctx.figures and not ctx.pending_figures and not ctx.skipped
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def test_draws_and_figures_on_a_dask_cluster_are_byte_identical(inputs, client, tmp_path):
    """The effect paths (sup-t band, bootstrap and RI draws of both outcomes, the figure) on
    this process and on the 2-worker cluster."""
    ids = ("effect-paths",)
    here = _sections(inputs, tmp_path / "here", None, ids)
    _assert_identical(_sections(inputs, tmp_path / "cluster", client, ids), here)


def _assert_identical(got: dict[str, bytes], want: dict[str, bytes]) -> None:
    assert sorted(got) == sorted(want)
    assert any(name.endswith(".csv") for name in want)
    assert any(name.endswith(".png") for name in want)
    differ = [name for name in want if got[name] != want[name]]
    assert not differ, f"files differ: {differ}"


@pytest.mark.slow
def test_report_on_a_dask_cluster_is_byte_identical(client, serial, tmp_path):
    _assert_identical(_report(tmp_path, client), serial)


@pytest.mark.slow
def test_report_on_local_processes_is_byte_identical(serial, tmp_path):
    _assert_identical(_report(tmp_path, ex.ProcessExecutor(2)), serial)


class _PickledCopies:
    """Runs each task here on pickled copies of the function and the task (as a worker)."""

    n_workers = 2

    def map(self, fn: Callable[[Any], Any], tasks: Sequence[Any]) -> list[Any]:
        return [pickle.loads(pickle.dumps(fn))(pickle.loads(pickle.dumps(t))) for t in tasks]


def _figure():
    fig, (ax,) = new_figure()
    ax.plot([0, 1, 2], [0.1, 0.4, 0.2], label="emp")
    ax.fill_between([0, 1, 2], [0, 0.3, 0.1], [0.2, 0.5, 0.3], alpha=0.3)
    ax.legend()
    return fig


def test_a_figure_rendered_from_a_pickled_copy_is_byte_identical(tmp_path):
    here = save_figure(_figure(), tmp_path / "here", "path", "caption")
    (there,) = _PickledCopies().map(render_figure, [(_figure(), tmp_path / "there", "path", "c")])
    assert there.png.read_bytes() == here.png.read_bytes()
    assert there.svg.read_bytes() == here.svg.read_bytes()
    assert there.svg_text == here.svg_text


def test_bad_executors_fail_before_any_work(monkeypatch, tmp_path):
    with pytest.raises(InputError, match="executor = 0"):
        run_report(_config(), tmp_path / "a", progress=False, executor=0)
    pytest.importorskip("distributed")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{s.getsockname()[1]}"
    monkeypatch.setattr(ex, "DEFAULT_CONNECT_TIMEOUT", 1.0)
    with pytest.raises(SchedulerUnreachableError, match=address):
        run_report(_config(), tmp_path / "b", progress=False, executor=address)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_cli_executor_option(monkeypatch, tmp_path, capsys):
    """``dreamkit report --executor``: a number of processes or a scheduler address; a bad one
    is an input error (exit 2) before any work."""
    from dreamkit import cli

    seen = []

    def fake_run_report(config, out, *, progress, executor):
        seen.append(executor)
        return run_report(config, out, progress=progress, executor=0)  # fails at once

    monkeypatch.setattr("dreamkit.pipeline.run_report", fake_run_report)
    for value, want in (("3", 3), ("tcp://10.0.0.5:8786", "tcp://10.0.0.5:8786")):
        assert cli.main(["report", "--out", str(tmp_path / "r"), "--executor", value]) == 2
        assert seen[-1] == want
    assert "executor = 0 workers" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()
