"""The report killed with SIGKILL at chosen files, then rerun in the same folder: every output
equals an uninterrupted run's byte for byte, and no temporary file is left (issue 17, item 3).

Every file of the report (tables as CSV/Markdown/LaTeX, figures as PNG/SVG, the all-weeks
effect paths, ``disclosure_audit.csv``, ``report.html``) is written by one atomic rename of
:mod:`dreamkit.chunked._atomic`; ``report_crash_job.py`` kills itself at the n-th rename, with
the temporary complete but not renamed, just after the rename, or with the temporary torn in
half. The runs are chained in one folder (each killed run starts where the previous one left
off), as a user who reruns after each crash would. The small synthetic trial with short
outcome windows and 9 draws keeps each run to a few seconds.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
CONFIG = (
    "[outcomes]\nweeks = 13\npre_weeks = 26\n[self_efficacy]\ngrid = [10]\n"
    "[inference]\nbootstrap_draws = 9\nri_draws = 9\n"
)
# (n-th rename, mode); the small report writes 67 files (report.html last, the audit before it)
KILLS = [(1, "before"), (17, "torn"), (40, "after"), (60, "torn"), (67, "before")]


def _run(config: Path, out: Path, kill_at: int = 0, mode: str = "before") -> int:
    env = {"PYTHONPATH": f"{ROOT}{os.pathsep}{HERE}", "OPENBLAS_NUM_THREADS": "1",
           "POLARS_MAX_THREADS": "1", "MPLBACKEND": "Agg", "KILL_AT": str(kill_at),
           "KILL_MODE": mode, "PATH": "/usr/bin:/bin", "HOME": str(out.parent)}  # fmt: skip
    args = [sys.executable, str(HERE / "report_crash_job.py"), str(config), str(out)]
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode in (0, -signal.SIGKILL), done.stderr[-3000:]
    return done.returncode


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def _temporaries(root: Path) -> list[str]:
    return [str(p) for p in root.rglob("*") if ".tmp-" in p.name or p.name.startswith(".")]


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("report_crash") / "small.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


def test_report_killed_at_five_points_then_rerun_is_byte_identical(
    config: Path, tmp_path: Path
) -> None:
    reference = tmp_path / "reference"
    assert _run(config, reference) == 0
    ref = _files(reference)
    assert len(ref) >= max(k for k, _ in KILLS), "a kill point lies beyond the report's files"
    out = tmp_path / "killed"
    for at, mode in KILLS:
        assert _run(config, out, at, mode) == -signal.SIGKILL, (at, mode)
        # whatever carries a final name is complete: identical to the reference file
        for name, data in _files(out).items():
            if ".tmp-" not in name:
                assert data == ref[name], f"{name} is incomplete after a kill at {at} ({mode})"
    assert _temporaries(out), "the torn/before kills should have left temporaries to clean"
    assert _run(config, out) == 0
    assert _temporaries(out) == []
    got = _files(out)
    assert set(got) == set(ref)
    differ = sorted(k for k in ref if got[k] != ref[k])
    assert not differ, f"files differ from the uninterrupted run: {differ}"
