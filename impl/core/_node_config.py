"""Every knob, bound and counter of a node, in one place.

:class:`NodeConfig` configures the request path (Dynamo §4.5, §4.6): N, R, W, timeouts
in ticks, and every bound that keeps memory finite. :class:`MemberConfig` configures
what a gossip-mode node adds: gossip and failure detection
(:class:`~dynamokv.impl.core.GossipConfig`), anti-entropy (:class:`AntiEntropyConfig`)
and partition transfer. Every option is keyword-only, and a value out of range is an
:class:`~dynamokv.spec.errors.ArgumentError` naming the field and the value.
:class:`NodeStats` and :class:`MemberStats` are what a node counts about itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dynamokv.spec.errors import ArgumentError, check_at_least

from ._gossip import GossipConfig

__all__ = ["AntiEntropyConfig", "MemberConfig", "MemberStats", "NodeConfig", "NodeStats"]


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeConfig:
    """Every knob and bound of a node; N=3, R=2, W=2 by default.

    Attributes:
        n: replicas per key (per cluster).
        r: default read quorum; a request may choose its own.
        w: default write quorum; a request may choose its own.
        strict_quorum: use only the N owners, never substitutes (no hints).
        replica_timeout_ticks: silence after which a replica is suspected and, in a
            sloppy quorum, replaced by a substitute.
        request_timeout_ticks: how long a coordinated request may take.
        forward_timeout_ticks: how long a forwarded put may take at its owner.
        hint_replay_interval_ticks: period of the hinted-handoff replay.
        hint_replay_batch_max: hints replayed per period.
        hint_retry_ticks: silence after which a replayed hint is sent again.
        hints_count_max: most hints stored.
        hints_bytes_max: most bytes of hinted values stored.
        requests_in_flight_max: most coordinated or forwarded requests at once.
        lease_waiters_max: most puts waiting for a counter lease to be durable.
        versions_per_key_max: most siblings a coordinator lets one key reach: a put that
            would add one more is refused (replicas merge whatever owners send them).
        version_set_bytes_max: most bytes one key's versions may take on a replica
            (:func:`~dynamokv.impl.core._versions.stored_bytes`); the runtime keeps it at
            most the store's largest record. A coordinator refuses a put that would take
            the key past ``version_set_bytes_max // n``, so that the siblings n
            coordinators accept at once still fit on every replica; a replica refuses a
            merge past the whole bound (it keeps what it holds and does not acknowledge).
        vector_clock_threshold: clock entries kept before truncation (Dynamo §4.4).
        counter_lease_block: counters leased per durable lease record.
        read_repair: repair stale owners seen by a get.
    """

    n: int = 3
    r: int = 2
    w: int = 2
    strict_quorum: bool = False
    replica_timeout_ticks: int = 8
    request_timeout_ticks: int = 40
    forward_timeout_ticks: int = 60
    hint_replay_interval_ticks: int = 20
    hint_replay_batch_max: int = 64
    hint_retry_ticks: int = 40
    hints_count_max: int = 4096
    hints_bytes_max: int = 8 << 20
    requests_in_flight_max: int = 1024
    lease_waiters_max: int = 1024
    versions_per_key_max: int = 256
    version_set_bytes_max: int = 4 << 20
    vector_clock_threshold: int = 10
    counter_lease_block: int = 1000
    read_repair: bool = True

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ArgumentError(f"n must be at least 1, got n={self.n}")
        for name in ("r", "w"):
            value = getattr(self, name)
            if not 1 <= value <= self.n:
                raise ArgumentError(f"{name} must be in 1..n={self.n}, got {name}={value}")
        check_at_least(self, _POSITIVE_FIELDS)
        check_at_least(self, ("counter_lease_block",), 2)


_POSITIVE_FIELDS = (
    "replica_timeout_ticks",
    "request_timeout_ticks",
    "forward_timeout_ticks",
    "hint_replay_interval_ticks",
    "hint_replay_batch_max",
    "hint_retry_ticks",
    "hints_count_max",
    "hints_bytes_max",
    "requests_in_flight_max",
    "lease_waiters_max",
    "versions_per_key_max",
    "version_set_bytes_max",
    "vector_clock_threshold",
)


@dataclass(slots=True)
class NodeStats:
    """Counters a node keeps about itself (what ``dynamokv sim`` sums up)."""

    gets_coordinated: int = 0
    puts_coordinated: int = 0
    puts_forwarded: int = 0
    siblings_returned: int = 0
    hints_stored: int = 0
    hints_refused: int = 0
    # Hand-offs acknowledged by the owner. A crash that loses a hint's deletion makes the
    # restarted node hand the hint off again, and that second hand-off counts too.
    hints_replayed: int = 0
    read_repairs: int = 0
    truncations: int = 0
    leases_persisted: int = 0
    substitutions: int = 0
    # Merges a replica refused because the key's versions would pass version_set_bytes_max.
    merges_refused: int = 0


@dataclass(frozen=True, kw_only=True)
class AntiEntropyConfig:
    """Pacing and bounds of anti-entropy.

    Attributes:
        exchanges_in_flight_max: exchanges this node runs as initiator at once.
        exchange_requests_in_flight_max: requests outstanding within one exchange.
        exchange_nodes_per_message_max: hashes (or buckets) in one request.
        exchange_entries_per_message_max: ``(key, value_hash)`` pairs in one request.
        exchange_timeout_ticks: an exchange with no answer for this long is abandoned.
    """

    exchanges_in_flight_max: int = 2
    exchange_requests_in_flight_max: int = 4
    exchange_nodes_per_message_max: int = 256
    exchange_entries_per_message_max: int = 1024
    exchange_timeout_ticks: int = 100

    def __post_init__(self) -> None:
        check_at_least(
            self,
            (
                "exchanges_in_flight_max",
                "exchange_requests_in_flight_max",
                "exchange_nodes_per_message_max",
                "exchange_entries_per_message_max",
                "exchange_timeout_ticks",
            ),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class MemberConfig:
    """Knobs and bounds of a gossip-mode node's membership, transfer and anti-entropy (the request path's are in :class:`NodeConfig`).

    Attributes:
        gossip: gossip and phi-accrual parameters; ``gossip.partition_count`` is Q.
        anti_entropy: exchange pacing and bounds.
        anti_entropy_enabled: run anti-entropy at all (the Q1 preset turns it off to
            measure transfers alone).
        merkle_depth: each partition's tree has ``2**merkle_depth`` leaf buckets.
        anti_entropy_interval_ticks: one roots comparison with one peer per interval.
        roots_per_message_max: partitions compared by one :class:`RootsRequest`.
        exchange_queue_max: differing partitions waiting for an exchange slot.
        repair_keys_per_message_max: keys per :class:`RepairPush`.
        transfer_batch_keys_max: keys per :class:`TransferBatch`.
        message_bytes_max: bytes of keys and versions per :class:`RepairPush` or
            :class:`TransferBatch` (by :func:`~dynamokv.impl.core._versions.stored_bytes`;
            a key larger than that alone still goes, alone), so that every one fits a
            frame of the runtime.
        transfers_in_flight_max: partitions handed off at once.
        transfer_retry_ticks: an unacknowledged batch is sent again after this.
        handoff_check_interval_ticks: period of the orphan sweep (data of partitions
            this node does not own goes to their owners).
        suspect_ticks: how long a request timeout makes a peer unhealthy.
        recovery_grace_ticks: after a peer stops being suspected, anti-entropy leaves
            it alone this long, so hinted handoff replays first and the Merkle
            exchange repairs only what the hints missed (Dynamo §4.6, then §4.7).
        tombstone_grace_ticks: a deleted key is reaped once every owner holds its
            tombstones and they have been stored this long (None: this node reaps
            nothing; :mod:`~dynamokv.impl.core._reaping`).
        reap_interval_ticks: one reaping round per interval.
        reap_keys_per_round_max: keys asked about in one round.
        reaped_memory_ticks: how long a node remembers the tombstones it reaped, so
            that a late copy they cover (a replayed hint, a repair) is not stored again.
        reaped_memory_keys_max: keys remembered at most (the oldest go first).
    """

    gossip: GossipConfig = field(default_factory=GossipConfig)
    anti_entropy: AntiEntropyConfig = field(default_factory=AntiEntropyConfig)
    anti_entropy_enabled: bool = True
    merkle_depth: int = 4
    anti_entropy_interval_ticks: int = 40
    roots_per_message_max: int = 1024
    exchange_queue_max: int = 4096
    repair_keys_per_message_max: int = 64
    transfer_batch_keys_max: int = 64
    message_bytes_max: int = 4 << 20
    transfers_in_flight_max: int = 4
    transfer_retry_ticks: int = 40
    handoff_check_interval_ticks: int = 100
    suspect_ticks: int = 50
    recovery_grace_ticks: int = 200
    tombstone_grace_ticks: int | None = None
    reap_interval_ticks: int = 50
    reap_keys_per_round_max: int = 256
    reaped_memory_ticks: int = 1000
    reaped_memory_keys_max: int = 65536

    def __post_init__(self) -> None:
        if not 0 <= self.merkle_depth <= 16:
            raise ArgumentError(f"merkle_depth must be in 0..16, got {self.merkle_depth}")
        check_at_least(
            self,
            (
                "anti_entropy_interval_ticks",
                "roots_per_message_max",
                "exchange_queue_max",
                "repair_keys_per_message_max",
                "transfer_batch_keys_max",
                "message_bytes_max",
                "transfers_in_flight_max",
                "transfer_retry_ticks",
                "handoff_check_interval_ticks",
                "suspect_ticks",
                "reap_interval_ticks",
                "reap_keys_per_round_max",
            ),
        )
        check_at_least(
            self, ("recovery_grace_ticks", "reaped_memory_ticks", "reaped_memory_keys_max"), 0
        )
        if self.tombstone_grace_ticks is not None:
            check_at_least(self, ("tombstone_grace_ticks",), 0)


@dataclass(slots=True)
class MemberStats:
    """What a gossip-mode node's membership, transfer and anti-entropy did (the request
    path's counters are in :class:`NodeStats`).

    Attributes:
        rings_adopted: ring versions adopted.
        transfers_started: partition transfers begun (ring changes and orphan sweeps).
        transfers_completed: transfers whose every batch was acknowledged.
        keys_transferred: replica copies acknowledged by new owners (key x target).
        keys_dropped: keys forgotten after their handoff.
        roots_compared: partition roots sent in :class:`RootsRequest`.
        keys_repaired: keys this node pushed to a peer after a Merkle exchange.
        keys_repair_applied: keys whose stored versions a received repair changed.
        peers_recovered: suspicions lifted (each replays that owner's hints).
        tombstones_reaped: deleted keys this node forgot, as reaper or as owner.
        tombstones_asked: deleted keys this node, as reaper, asked the other owners about.
    """

    rings_adopted: int = 0
    transfers_started: int = 0
    transfers_completed: int = 0
    keys_transferred: int = 0
    keys_dropped: int = 0
    roots_compared: int = 0
    keys_repaired: int = 0
    keys_repair_applied: int = 0
    peers_recovered: int = 0
    tombstones_reaped: int = 0
    tombstones_asked: int = 0
