"""The seams: every core function a lab or a test may replace, in one place.

Why this exists: a learner's preference list or quorum rule has to run *inside*
the real node, in the simulator, under faults, and a test has to be able to plant
a bug there to prove a checker catches it. Patching a node's internals from
outside would tie every lab and test to one implementation's private names, and
test-only switches in :class:`~dynamokv.impl.core.NodeConfig` would ship planted
bugs in production config. Instead each replaceable decision is a module-level
function in its natural core module, and the node calls it through one frozen
:class:`Seams` value given to its constructor (keyword-only ``seams=``). The
default is the project's own functions; only the simulator and tests pass
anything else (the runtime and its config never do).

To add a seam: write the rule as a module-level function next to the code that
uses it, add a field here defaulting to it, and call ``self.seams.<field>`` where
the node used to decide inline. A planted bug is then ``Seams(field=wrong)``.

Example:
    >>> from dynamokv.impl.core import Seams
    >>> always = Seams(read_may_answer=lambda replied, targets, *, r, strict: True)
    >>> always.read_may_answer((), {}, r=2, strict=False)
    True
    >>> Seams().read_may_answer(("n1",), {"n1": None}, r=2, strict=False)
    False
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from ._anti_entropy import merkle_descend
from ._gossip import MemberEntry, choose_gossip_peer, merge_entries
from ._handoff import hint_may_be_deleted, hint_to_store
from ._messages import Hint
from ._phi import phi_of_silence
from ._quorum import read_may_answer, write_may_answer
from ._reaping import TombstoneMayBeReaped, tombstone_may_be_reaped
from ._vclock import Clock
from ._versions import Version, next_counter
from ._versions import merge as merge_versions

if TYPE_CHECKING:
    import random

__all__ = [
    "DEFAULT_SEAMS",
    "ChooseGossipPeer",
    "HintMayBeDeleted",
    "HintToStore",
    "MergeEntries",
    "MergeVersions",
    "MerkleDescend",
    "NextCounter",
    "PhiOfSilence",
    "ReadMayAnswer",
    "Seams",
    "TombstoneMayBeReaped",
    "WriteMayAnswer",
]


class ReadMayAnswer(Protocol):
    """The shape of :func:`~dynamokv.impl.core._quorum.read_may_answer`."""

    def __call__(
        self, replied: Collection[str], targets: Mapping[str, str | None], *, r: int, strict: bool
    ) -> bool: ...


class WriteMayAnswer(Protocol):
    """The shape of :func:`~dynamokv.impl.core._quorum.write_may_answer`."""

    def __call__(
        self,
        acked: Collection[str],
        targets: Mapping[str, str | None],
        *,
        w: int,
        coordinator: str,
        strict: bool,
    ) -> bool: ...


class NextCounter(Protocol):
    """The shape of :func:`~dynamokv.impl.core._versions.next_counter`."""

    def __call__(
        self, node_id: str, *, issued: int, context: Clock, held: tuple[Version, ...]
    ) -> int: ...


class HintMayBeDeleted(Protocol):
    """The shape of :func:`~dynamokv.impl.core._handoff.hint_may_be_deleted`."""

    def __call__(
        self, hint_dots: Collection[tuple[str, int]], acked_dots: Collection[tuple[str, int]]
    ) -> bool: ...


class MergeVersions(Protocol):
    """The shape of :func:`~dynamokv.impl.core._versions.merge`."""

    def __call__(
        self, held: tuple[Version, ...], incoming: Iterable[Version]
    ) -> tuple[Version, ...]: ...


class HintToStore(Protocol):
    """The shape of :func:`~dynamokv.impl.core._handoff.hint_to_store`."""

    def __call__(
        self,
        owner: str,
        key: bytes,
        versions: tuple[Version, ...],
        *,
        hint_id: int,
        hints_count: int,
        hints_bytes: int,
        count_max: int,
        bytes_max: int,
    ) -> Hint | None: ...


class MerkleDescend(Protocol):
    """The shape of :func:`~dynamokv.impl.core._anti_entropy.merkle_descend`."""

    def __call__(
        self, level: int, depth: int, compared: Sequence[int], differing: Sequence[int]
    ) -> tuple[tuple[tuple[int, int], ...], tuple[int, ...]]: ...


class MergeEntries(Protocol):
    """The shape of :func:`~dynamokv.impl.core._gossip.merge_entries`."""

    def __call__(self, a: MemberEntry, b: MemberEntry) -> MemberEntry: ...


class ChooseGossipPeer(Protocol):
    """The shape of :func:`~dynamokv.impl.core._gossip.choose_gossip_peer`."""

    def __call__(self, candidates: Sequence[str], rng: random.Random) -> str | None: ...


class PhiOfSilence(Protocol):
    """The shape of :func:`~dynamokv.impl.core._phi.phi_of_silence`."""

    def __call__(
        self, silence_ticks: float, mean_ticks: float, std_deviation_ticks: float
    ) -> float: ...


@dataclass(frozen=True, slots=True)
class Seams:
    """The replaceable decisions of a node; every field defaults to the project's own.

    Attributes:
        read_may_answer: whether a get has enough replies to answer (Dynamo §4.5).
        write_may_answer: whether a put has enough durable acks to answer (Dynamo §4.5);
            asked whenever its acks change, first when the put is sent (no acks yet).
        next_counter: the counter of a new put's dot, never issued before (Dynamo §4.4).
        hint_may_be_deleted: whether a substitute may forget a hint (Dynamo §4.6); asked
            when the hint is replayed and when the owner acknowledges it.
        merge_versions: what a replica keeps of the versions it holds and those that
            arrive (Dynamo §4.4: syntactic reconciliation, never an overwrite).
        hint_to_store: what a substitute keeps for a write meant for an unreachable owner
            (Dynamo §4.6): a hint naming the owner, or nothing when the store is full.
        merkle_descend: a step of anti-entropy's top-down Merkle diff (Dynamo §4.7).
        merge_entries: gossip's merge rule for two entries of one member (Dynamo §4.8).
        choose_gossip_peer: the peer of a gossip round (Dynamo §4.8.2).
        phi_of_silence: the phi-accrual suspicion function of the failure detector.
        tombstone_may_be_reaped: whether a deleted key's tombstones may be forgotten
            (every owner holds them, and a grace period has passed).
    """

    read_may_answer: ReadMayAnswer = read_may_answer
    write_may_answer: WriteMayAnswer = write_may_answer
    next_counter: NextCounter = next_counter
    hint_may_be_deleted: HintMayBeDeleted = hint_may_be_deleted
    merge_versions: MergeVersions = merge_versions
    hint_to_store: HintToStore = hint_to_store
    merkle_descend: MerkleDescend = merkle_descend
    merge_entries: MergeEntries = merge_entries
    choose_gossip_peer: ChooseGossipPeer = choose_gossip_peer
    phi_of_silence: PhiOfSilence = phi_of_silence
    tombstone_may_be_reaped: TombstoneMayBeReaped = tombstone_may_be_reaped


DEFAULT_SEAMS = Seams()
"""The project's own functions: what every production node uses."""
