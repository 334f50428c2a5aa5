"""The disclosure-safe report: tables (CSV, Markdown, LaTeX), figures (PNG, SVG), one
self-contained HTML file, and the disclosure control every output passes through.

The whole report is built by :func:`dreamkit.pipeline.run_report`; the sections live in
:mod:`dreamkit.report.sections`.
"""
