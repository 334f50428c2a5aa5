"""Observational panel estimators: event study, staggered DiD, matching."""
