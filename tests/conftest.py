"""Shared test configuration.

Hypothesis profiles: ``dev`` (default, quick) and ``ci`` (more examples), chosen
with the ``HYPOTHESIS_PROFILE`` environment variable. CI sets ``CI=true`` and gets
``ci`` automatically.
"""

from __future__ import annotations

import os

import pytest
from dynamokv.impl.runtime._local_cluster import PORT_RANGE_VARIABLE, ports_to_pick
from hypothesis import HealthCheck, settings

settings.register_profile("dev", max_examples=100, deadline=None)
settings.register_profile(
    "ci",
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


def _own_port_range() -> None:
    """Give each pytest worker its own slice of the ports clusters are started on.

    Ports are picked by binding them and then let go until the node listens; two workers
    drawing from one range can pick the same port in that window (or one worker a port
    that another's stopped node is about to listen on again). Disjoint ranges rule that out.
    Set in the environment, so that ``dynamokv`` subprocesses draw from it too.
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if not worker.startswith("gw") or count < 2 or PORT_RANGE_VARIABLE in os.environ:
        return
    candidates = ports_to_pick()
    width = len(candidates) // count
    if width == 0:
        return  # no default range to share (the kernel's ephemeral range starts low)
    low = candidates.start + int(worker[2:]) * width
    os.environ[PORT_RANGE_VARIABLE] = f"{low}-{low + width - 1}"


_own_port_range()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--rewrite",
        action="store_true",
        help="scenario tests: write each scenario's actual output back into its .txt file",
    )


SHARED_BUILD_FIXTURE = "site"
"""The built documentation site (``tests/docs/conftest.py``): built once, under a lock that
the tests of every worker that need it wait on."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the slow tier first, each tier in its collected order.

    ``make test`` hands the tests to its pytest workers one at a time in this order. A long
    test collected near the end would start last and run alone while the other workers
    wait; started first, the long tests overlap and the short ones fill the end. The first
    test that needs the documentation site starts the run (it builds the site) and the
    others follow the rest of the slow tier, so that no worker waits on the build's lock.
    """

    def needs_site(item: pytest.Item) -> bool:
        return SHARED_BUILD_FIXTURE in getattr(item, "fixturenames", ())

    builder = next((item for item in items if needs_site(item)), None)

    def rank(item: pytest.Item) -> int:
        if item is builder:
            return 0
        slow = item.get_closest_marker("slow") is not None
        if needs_site(item):
            return 2
        return 1 if slow else 3

    items.sort(key=rank)
