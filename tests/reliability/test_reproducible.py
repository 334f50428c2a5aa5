"""Byte-reproducible reports: the same configuration and seed give identical tables and figures
whatever the thread count (1 vs 2 cores, polars and BLAS threads), through ``dreamkit report``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
FIGURE = """
import sys
from pathlib import Path
from dreamkit.report.figures import new_figure, save_figure
fig, (ax,) = new_figure()
ax.plot([0, 1, 2], [0.1, 0.5, 0.2], label="a")
ax.fill_between([0, 1, 2], [0, 0.4, 0.1], [0.2, 0.6, 0.3], alpha=0.3)
ax.legend()
save_figure(fig, Path(sys.argv[1]), "f", "caption")
"""


def _env(threads: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        PYTHONPATH=str(ROOT),
        OPENBLAS_NUM_THREADS=str(threads),
        POLARS_MAX_THREADS=str(threads),
        MPLBACKEND="Agg",
    )
    return env


def _run(args: list[str], threads: int, cores: set[int]) -> None:
    def pin() -> None:  # the default thread count follows the CPU affinity
        os.sched_setaffinity(0, cores)

    done = subprocess.run(
        [sys.executable, *args],
        env=_env(threads),
        preexec_fn=pin,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-2000:]


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def _cores() -> tuple[set[int], set[int]]:
    have = sorted(os.sched_getaffinity(0))
    return {have[0]}, set(have[:2])


def test_figures_are_byte_identical_across_processes(tmp_path: Path) -> None:
    one, two = _cores()
    _run(["-c", FIGURE, str(tmp_path / "a")], 1, one)
    _run(["-c", FIGURE, str(tmp_path / "b")], 2, two)
    a, b = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert set(a) == {"f.png", "f.svg"}
    assert a == b


@pytest.mark.slow
def test_report_is_byte_identical_for_one_and_two_threads(tmp_path: Path) -> None:
    """The whole synthetic report (reduced draws) on 1 core / 1 thread and on 2 / 2."""
    config = tmp_path / "small.toml"
    config.write_text("[inference]\nbootstrap_draws = 99\nri_draws = 99\n", encoding="utf-8")
    one, two = _cores()
    cli = ["-m", "dreamkit.cli", "report", "--quiet", "--config", str(config), "--out"]
    _run([*cli, str(tmp_path / "one")], 1, one)
    _run([*cli, str(tmp_path / "two")], 2, two)
    a, b = _files(tmp_path / "one"), _files(tmp_path / "two")
    assert any(k.startswith("tables/") for k in a) and any(k.startswith("figures/") for k in a)
    assert set(a) == set(b)
    differ = sorted(k for k in a if a[k] != b[k])
    assert not differ, f"files differ between 1 and 2 threads: {differ}"


REPORT_KILLS = (1, 12, 25, 40, 56)  # kill the report once this many of its 57 files exist


def _report_killed_after(args: list[str], env: dict[str, str], out: Path, n_files: int) -> bool:
    """Run the report and SIGKILL it as soon as ``n_files`` files exist under ``out``."""
    proc = subprocess.Popen([sys.executable, *args], env=env, stderr=subprocess.DEVNULL)
    try:
        while proc.poll() is None:
            if out.is_dir() and sum(1 for p in out.rglob("*") if p.is_file()) >= n_files:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                return True
            time.sleep(0.02)
        return False
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.slow
def test_report_killed_at_five_points_then_rerun_is_byte_identical(tmp_path: Path) -> None:
    """SIGKILL ``dreamkit report`` after its 1st, 12th, 25th, 40th and 56th file; each time the
    next run starts in the same directory. The final run's files equal an uninterrupted run's,
    and no temporary file is left."""
    config = tmp_path / "small.toml"
    config.write_text("[inference]\nbootstrap_draws = 99\nri_draws = 99\n", encoding="utf-8")
    cli = ["-m", "dreamkit.cli", "report", "--quiet", "--config", str(config), "--out"]
    one, _ = _cores()
    _run([*cli, str(tmp_path / "reference")], 1, one)
    out = tmp_path / "killed"
    killed = [_report_killed_after([*cli, str(out)], _env(1), out, k) for k in REPORT_KILLS]
    assert all(killed)
    _run([*cli, str(out)], 1, one)
    assert [p for p in out.rglob("*") if p.name.startswith(".")] == []
    assert _files(out) == _files(tmp_path / "reference")
