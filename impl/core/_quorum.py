"""When a coordinator may answer: R replies for a get, W durable acks for a put (Dynamo §4.5).

These two rules are the heart of the coordinator, so they are plain module-level
functions rather than lines inside :class:`~dynamokv.impl.core.Node`: the node
calls them through its :class:`~dynamokv.impl.core.Seams`, a lab can swap in a
learner's version, and a test can plant a wrong one, without patching the node.

Both take the request's *targets*, node id -> the owner it holds a hint for
(``None`` for an owner), so that a strict quorum can count only owners: a
substitute's hinted copy keeps a sloppy quorum writable (Dynamo §4.6) but is not
one of the N replicas a strict R + W > N argument is about.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

__all__ = ["read_may_answer", "write_may_answer"]


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
    if not strict:
        return len(replied) >= r
    return sum(1 for node in replied if targets.get(node) is None) >= r


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
    if coordinator not in acked:
        return False
    if not strict:
        return len({targets.get(node) or node for node in acked}) >= w
    return sum(1 for node in acked if targets.get(node) is None) >= w
