"""The whole reference analysis as a report from Python (what `dreamkit report` runs):
HTML plus figures (PNG, SVG) and tables (CSV, Markdown, LaTeX), disclosure-controlled."""

import os

from dreamkit.config import parse_config
from dreamkit.pipeline import run_report

out = os.environ.get("DREAMKIT_EXAMPLE_OUT", "report")
config = parse_config({"inference": {"ri_draws": 99, "bootstrap_draws": 99}})
result = run_report(config, out, progress=False)
print(result.html)
print(
    f"{len(result.tables)} tables, {len(result.figures)} figures, "
    f"{len(result.disclosure.entries)} suppressed cells"
)
