"""is_strict_consistent accepts R + W >= N: with R + W = N a read and a write can miss.

N=3, R=1, W=2: the write lands on two replicas, the read asks the third. The
experiment measures a third of such reads stale where this says none can be.
"""

from __future__ import annotations

from dynamokv.spec.quorum import QuorumConfig

CAUGHT_BY = "1.1"
ALSO_CAUGHT_BY = ("1.3",)


def is_strict_consistent(config: QuorumConfig) -> bool:
    return config.r + config.w >= config.n
