"""Shared test configuration.

Hypothesis profiles: ``dev`` (default, quick) and ``ci`` (more examples), chosen
with the ``HYPOTHESIS_PROFILE`` environment variable. CI sets ``CI=true`` and gets
``ci`` automatically.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile("dev", max_examples=100, deadline=None)
settings.register_profile(
    "ci",
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))
