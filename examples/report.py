"""The whole reference analysis as a report from Python (what `dreamkit report` runs):
HTML plus figures (PNG, SVG) and tables (CSV, Markdown, LaTeX), disclosure-controlled."""

import os

import dreamkit as dk

out = os.environ.get("DREAMKIT_EXAMPLE_OUT", "report")
config = dk.parse_config({"inference": {"ri_draws": 99, "bootstrap_draws": 99}})
result = dk.run_report(config, out, progress=False)
print(result.html)
print(
    f"{len(result.tables)} tables, {len(result.figures)} figures, "
    f"{len(result.disclosure.entries)} suppressed cells"
)
