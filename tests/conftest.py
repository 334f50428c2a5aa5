"""Hypothesis settings profiles for the whole suite.

* ``default`` (the test suite): 100 examples per property, no per-example deadline (the
  machine running the suite may be shared and slow);
* ``nightly`` (``HYPOTHESIS_PROFILE=nightly pytest ...``): 2,000 examples per property.

Tests that set ``max_examples`` themselves keep their own count.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile("default", max_examples=100, deadline=None)
settings.register_profile(
    "nightly",
    max_examples=2_000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
