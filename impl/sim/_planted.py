"""Planted bugs: wrong rules the simulator can run, to show each checker catches its bug.

A checker that never fails proves nothing. Each planted bug here is a
:class:`~dynamokv.impl.core.Seams` with exactly one wrong function, in the shape of the
rule it replaces, so the node runs it where it runs the real one. They live in the
simulator, and only the simulator and tests can hand them to a node: the runtime, its
configuration and :class:`~dynamokv.impl.core.NodeConfig` have no way to name one.
``dynamokv sim --plant-bug NAME`` (a hidden flag) runs a sweep with one of them, and the
tests check that each is reported by the checker meant for it:

* ``ack-before-w`` acknowledges a put before any replica, the coordinator included, has
  it durably: a crash then loses an acknowledged write (property 1).
* ``drop-hint-before-ack`` deletes a hint when it is replayed, before the owner's
  durable acknowledgement (caught by the simulator's hint-deletion check).
* ``merge-drops-sibling`` keeps only the sibling with the largest dot when a replica
  merges concurrent versions (last-writer-wins in disguise): an acknowledged write is
  then lost, although every message arrived (property 1).
* ``reuse-dots`` issues a dot counter from the client's context alone, forgetting the
  counters the node already issued: two values under one dot, one of which can then
  come back for a version it was never written under (property 2).
* ``reap-at-once`` forgets a deleted key's tombstones as soon as its reaper holds them,
  asking no other owner and waiting no grace period: a replica that missed the delete
  then hands the deleted value back (property 7; run with reaping on).
* ``reap-without-votes`` forgets a deleted key's tombstones once the grace period has
  passed, asking no other owner: a replica that missed the delete hands the deleted
  value back (property 7; run with reaping on).
* ``reap-never`` never lets a tombstone go, whoever holds it: safe, but deleted keys
  pile up forever (property 7's liveness half; run with reaping on).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from types import MappingProxyType

from dynamokv.impl.core import Clock, Seams, Version, versions

__all__ = ["PLANTED_BUGS"]


def _acknowledges_at_once(
    acked: Collection[str],
    targets: Mapping[str, str | None],
    *,
    w: int,
    coordinator: str,
    strict: bool,
) -> bool:
    """Wrong: a put may answer before any durable ack."""
    return True


def _deletes_hint_when_replayed(
    hint_dots: Collection[tuple[str, int]], acked_dots: Collection[tuple[str, int]]
) -> bool:
    """Wrong: a hint may go as soon as it is sent, acknowledged or not."""
    return True


def _counts_from_the_context(
    node_id: str, *, issued: int, context: Clock, held: tuple[Version, ...]
) -> int:
    """Wrong: one above the node's entry in the context, whatever it issued before."""
    return max((counter for node, counter in context if node == node_id), default=0) + 1


def _reaps_at_once(
    held: tuple[Version, ...],
    *,
    owners: Collection[str],
    votes: Collection[str],
    stored_ticks: int,
    grace_ticks: int,
) -> bool:
    """Wrong: tombstones may go as soon as they are stored, whoever else holds them."""
    return bool(held) and all(version.value is None for version in held)


def _reaps_without_votes(
    held: tuple[Version, ...],
    *,
    owners: Collection[str],
    votes: Collection[str],
    stored_ticks: int,
    grace_ticks: int,
) -> bool:
    """Wrong: tombstones may go once the grace period has passed, whoever else holds them."""
    return (
        bool(held)
        and all(version.value is None for version in held)
        and stored_ticks >= grace_ticks
    )


def _never_reaps(
    held: tuple[Version, ...],
    *,
    owners: Collection[str],
    votes: Collection[str],
    stored_ticks: int,
    grace_ticks: int,
) -> bool:
    """Wrong: no tombstone may ever go, however long every owner has held it."""
    return False


def _keeps_one_sibling(
    held: tuple[Version, ...], incoming: Iterable[Version]
) -> tuple[Version, ...]:
    """Wrong: of the concurrent versions a merge would keep, only the one with the largest dot."""
    merged = versions.merge(held, incoming)
    return merged[-1:]


PLANTED_BUGS: Mapping[str, Seams] = MappingProxyType(
    {
        "ack-before-w": Seams(write_may_answer=_acknowledges_at_once),
        "drop-hint-before-ack": Seams(hint_may_be_deleted=_deletes_hint_when_replayed),
        "reuse-dots": Seams(next_counter=_counts_from_the_context),
        "merge-drops-sibling": Seams(merge_versions=_keeps_one_sibling),
        "reap-at-once": Seams(tombstone_may_be_reaped=_reaps_at_once),
        "reap-without-votes": Seams(tombstone_may_be_reaped=_reaps_without_votes),
        "reap-never": Seams(tombstone_may_be_reaped=_never_reaps),
    }
)
"""Each planted bug by name: a :class:`~dynamokv.impl.core.Seams` with one wrong rule."""
