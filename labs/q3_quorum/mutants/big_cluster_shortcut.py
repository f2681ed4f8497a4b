"""is_strict_consistent takes a shortcut for big clusters: a read majority is "enough".

Right for every configuration the paper names; wrong for N=7, R=4, W=1, which no
example covers and a symbolic search finds.
"""

from __future__ import annotations

from dynamokv.spec.quorum import QuorumConfig

CAUGHT_BY = "1.3"


def is_strict_consistent(config: QuorumConfig) -> bool:
    if config.n > 6:
        return 2 * config.r > config.n
    return config.r + config.w > config.n
