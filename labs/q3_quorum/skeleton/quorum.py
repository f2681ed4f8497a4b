"""Lab q3, N, R and W: quorums and when a coordinator may answer (Dynamo §4.5, §4.6).

Fill in the functions below, part by part; each raises NotImplementedError until
you do. Check your work with `dynamokv lab check q3` (or one part: `--part 3`).

Part 3's two functions run inside every node of a simulated cluster: the node
calls them (through its Seams) each time a reply or an acknowledgement arrives.
The docstrings are the specification. The project's own answers live in
spec/quorum.py and impl/core/_quorum.py: reading them spoils the lab.
"""

from __future__ import annotations

import itertools  # noqa: F401  (you may want itertools.combinations)
from collections.abc import Collection, Mapping, Sequence, Set

from dynamokv.spec.quorum import QuorumConfig

# -- part 1: quorum arithmetic -----------------------------------------------------------


def is_strict_consistent(config: QuorumConfig) -> bool:
    """Whether a strict quorum with this configuration gives read-your-writes: R + W > N.

    Why this is the condition is :func:`read_write_quorums_intersect` (by brute
    force, for small N) and the theorem ``quorum_intersection`` (for all N).
    """
    raise NotImplementedError("is_strict_consistent")


def read_write_quorums_intersect(n: int, r: int, w: int) -> bool:
    """Whether every read quorum of size ``r`` meets every write quorum of size ``w``."""
    raise NotImplementedError("read_write_quorums_intersect")


# -- part 2: the sloppy quorum -----------------------------------------------------------


def sloppy_quorum(
    extended_preference_list: Sequence[str], healthy: Set[str], n: int
) -> tuple[tuple[str, str | None], ...]:
    """The nodes a sloppy quorum writes to, each with the owner it holds a hint for.

    Dynamo §4.6: "all read and write operations are performed on the first N
    healthy nodes from the preference list, which may not always be the first N
    nodes encountered while walking the consistent hashing ring." A substitute
    (a node past the first N) holds a hint naming the unhealthy owner it stands
    in for; it hands the write back when that owner recovers.

    Args:
        extended_preference_list: every distinct node, clockwise from the key.
        healthy: the nodes the coordinator currently believes are up.
        n: the replication factor.

    Returns:
        Pairs ``(node, hinted_for)``: ``hinted_for`` is None for an owner, and
        the unhealthy owner's id for a substitute. Fewer than ``n`` pairs when
        fewer than ``n`` nodes are healthy.
    """
    raise NotImplementedError("sloppy_quorum")


# -- part 3: when the coordinator may answer ---------------------------------------------


def read_may_answer(
    replied: Collection[str], targets: Mapping[str, str | None], *, r: int, strict: bool
) -> bool:
    """Whether a get may answer now: at least ``r`` of the asked nodes replied (Dynamo §4.5).

    Args:
        replied: the nodes whose reply the coordinator has (itself included, if asked).
        targets: every node asked, each with the owner it stands in for (None: an owner).
        r: the read quorum of this request.
        strict: a strict quorum counts only owners' replies; a sloppy one counts all.

    Returns:
        True once enough replies are in; the coordinator answers with the merge of them.
    """
    raise NotImplementedError("read_may_answer")


def write_may_answer(
    acked: Collection[str],
    targets: Mapping[str, str | None],
    *,
    w: int,
    coordinator: str,
    strict: bool,
) -> bool:
    """Whether a put may be acknowledged: ``w`` replicas durably written, the coordinator's
    own among them.

    Dynamo §4.5: the coordinator "writes the new version locally" and the write is
    successful "if at least W-1 nodes respond": its own durable write is one of the W.
    A substitute's copy stands for the owner it holds a hint for (Dynamo §4.6), and is
    handed to that owner and dropped, so an owner and its substitutes count once
    between them: acks from an owner that answered late and from the substitute sent in
    its place are one replica, not two.

    Args:
        acked: the nodes that acknowledged the write *durably* (the coordinator included
            once its own write is synced).
        targets: every node written to, each with the owner it stands in for (None: an
            owner).
        w: the write quorum of this request.
        coordinator: this node, which must hold the write itself.
        strict: a strict quorum counts only owners' acks; a sloppy one counts hinted
            copies too, each for the owner it stands in for (Dynamo §4.6).

    Returns:
        True once the client may be told the write succeeded.
    """
    raise NotImplementedError("write_may_answer")
