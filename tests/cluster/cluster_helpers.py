"""Helpers for the real-process tests.

Histories are recorded the way the simulator records them by the chaos harness's
:class:`~dynamokv.impl.chaos.Recorder` (exact versions rebuilt from contexts and dots), and
the replicas' own holdings are read from their stores on disk once the nodes are stopped
(:func:`~dynamokv.impl.chaos.stored_versions`), so "the replicas converged" is checked
replica by replica, not through a quorum read that would repair what it reads.
"""

from __future__ import annotations

import time

from dynamokv.impl.chaos import Recorder, dot_of, stored_versions

__all__ = ["Recorder", "dot_of", "stored_versions", "wait_for"]


def wait_for(predicate: object, seconds: float, what: str) -> None:
    """Poll ``predicate()`` every 0.1 s until true; fail the test after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError(f"not within {seconds:.0f} s: {what}")
