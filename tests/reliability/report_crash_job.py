"""``dreamkit report`` in a subprocess that SIGKILLs itself at a chosen file (test_report_crash).

Usage: ``python report_crash_job.py CONFIG OUT``. With ``KILL_AT=n`` and ``KILL_MODE`` the
process dies at the n-th atomic rename of the report (every table, figure, the audit and the
HTML file is one), as in ``crash_job.py``: ``before`` (temporary complete, not renamed),
``after`` (file in place, the next one not begun) or ``torn`` (temporary cut to half its bytes).
"""

from __future__ import annotations

import sys
from pathlib import Path

from crash_job import install_kill_hook

from dreamkit.config import load_config
from dreamkit.pipeline import run_report


def main() -> None:
    config, out = Path(sys.argv[1]), Path(sys.argv[2])
    install_kill_hook()
    run_report(load_config(config), out, progress=False)


if __name__ == "__main__":
    main()
