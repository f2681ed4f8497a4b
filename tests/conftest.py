"""Shared test configuration.

Hypothesis profiles: ``dev`` (default, quick) and ``ci`` (more examples), chosen
with the ``HYPOTHESIS_PROFILE`` environment variable. CI sets ``CI=true`` and gets
``ci`` automatically.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("dev", max_examples=100, deadline=None)
settings.register_profile(
    "ci",
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--rewrite",
        action="store_true",
        help="scenario tests: write each scenario's actual output back into its .txt file",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the slow tier first, each tier in its collected order.

    ``make test`` hands the tests to its pytest workers one at a time in this order. A long
    test collected near the end would start last and run alone while the other workers
    wait; started first, the long tests overlap and the short ones fill the end.
    """
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
