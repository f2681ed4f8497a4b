"""History checkers: properties 1 to 5 of the contract (docs/architecture.md).

The recorder keeps one :class:`OpRecord` per client request: what was asked, when,
and what came back. The checkers hold that history, and the disks' synced state,
to the contract:

1. *No acknowledged write is lost.* At the moment a put is acknowledged, at least
   W nodes hold its version (or a version that superseded it) durably, as owners
   or in hints; after faults stop and repair completes, every owner does.
   (A hint's deletion before its owner holds it durably is reported by
   :class:`~dynamokv.impl.sim.Cluster` as it happens.)
2. *No phantom.* Every value a get returns was written by some put, and one dot
   never carries two different values (dots are never reissued).
3. *No false siblings.* Two siblings are never one put and a put that had seen it
   (its dot in the other's untruncated context). A put whose context was
   truncated (Dynamo §4.4) is excused and counted.
4. *Read-your-writes under a strict quorum with R + W > N.* A get that starts after
   a put was acknowledged returns it or a version that superseded it.
5. *Liveness.* Once faults stop, hints drain and every owner of a key holds the
   same versions within a bounded simulated time.

And one that property 1 cannot see (:meth:`History.check_no_lost_update`): a version
"superseded" by another whose writer never saw it is gone although its dot is covered.
A context is a vector clock, and covers a node's dots up to a counter; it is only right
while every version a node wrote under a smaller counter is one the client saw, or one
that a version it saw had seen. The checker follows each put back to the get its
context came from, so it knows exactly which versions each writer saw.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from dynamokv.impl.core import Clock, Version, covers

__all__ = ["History", "OpRecord"]


@dataclass(slots=True)
class OpRecord:
    """One client request and its outcome."""

    client: int
    kind: str  # "get", "put" or "delete"
    key: bytes
    node: str
    start: int
    r_or_w: int
    value: bytes | None = None
    context: Clock = ()
    end: int | None = None
    ok: bool = False
    version: Version | None = None
    versions: tuple[Version, ...] = ()
    seen: tuple[Version, ...] = ()
    """What the get that gave a put's (or a delete's) context returned."""


@dataclass(slots=True)
class History:
    """Every request of a run, and the violations found in it."""

    records: list[OpRecord] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    excused_truncations: int = 0
    vector_clock_threshold: int = 10
    """The nodes' clock bound (Dynamo §4.4): a clock that reached it may have been cut."""
    reaping: bool = False
    """Whether the nodes reap tombstones: then a get need not return an acknowledged
    tombstone, only none of the values it deleted (a put after the reap is concurrent with
    the forgotten tombstone, and stands alone)."""

    def check_phantoms(self) -> None:
        """Property 2: values come from puts; a dot names one version."""
        written = {r.value for r in self.records if r.kind == "put"}
        by_dot: dict[tuple[str, int], Version] = {}
        for record in self.records:
            seen = list(record.versions)
            if record.version is not None:
                seen.append(record.version)
            for version in seen:
                if version.value is not None and version.value not in written:
                    self.violations.append(
                        f"property 2: get of {record.key!r} at t={record.end} returned "
                        f"a value no put wrote ({version.dot})"
                    )
                earlier = by_dot.setdefault(version.dot, version)
                # Replicas and reads share Version objects: most are the very same one.
                if earlier is not version and earlier != version:
                    self.violations.append(
                        f"property 2: dot {version.dot} was issued twice "
                        f"(key {record.key!r}, seen at t={record.end})"
                    )

    def check_false_siblings(self) -> None:
        """Property 3: siblings only for truly concurrent puts (truncation excused)."""
        context_of_value: dict[bytes, Clock] = {}
        for record in self.records:
            if record.kind == "put" and record.value is not None:
                context_of_value[record.value] = record.context
        for record in self.records:
            if record.kind != "get" or len(record.versions) < 2:
                continue
            for x in record.versions:
                if x.value is None:
                    continue
                full = dict(context_of_value.get(x.value, ()))
                for y in record.versions:
                    if y is x:
                        continue
                    node, counter = y.dot
                    if full.get(node, 0) >= counter:
                        if self._truncated(x.context, context_of_value.get(x.value, ())):
                            self.excused_truncations += 1
                            continue
                        self.violations.append(
                            f"property 3: get of {record.key!r} at t={record.end} returned "
                            f"{x.dot} and {y.dot} as siblings, but {x.dot}'s put had seen {y.dot}"
                        )

    def _truncated(self, stored: Clock, sent: Clock) -> bool:
        """Whether a version stored with context ``stored`` for a put sent with ``sent``
        was cut as Dynamo §4.4 allows: the coordinator cuts only a context that reached
        ``vector_clock_threshold`` entries, and only drops entries. Anything else that
        changed the context is a bug, never excused."""
        return (
            stored != sent and len(sent) >= self.vector_clock_threshold and set(stored) <= set(sent)
        )

    def check_no_lost_update(
        self,
        held: Callable[[bytes], tuple[Version, ...]],
        reaped: Callable[[bytes], tuple[Version, ...]],
    ) -> None:
        """No acknowledged put is superseded by writes that never saw it (a lost update).

        At rest, each acknowledged put must survive: a version of it held (``held(key)``:
        what the owners hold), or one in the exact causal history of a version held or
        reaped (``reaped(key)``). A version's exact history is itself and the histories
        of the versions its writer's get returned. Versions are placed by their write
        request, not their dot: a put by its value (every cart value is unique to one
        request, which may have been coordinated twice, under two dots, when a forward
        was retried or duplicated), a tombstone by its key and context (the context its
        delete sent, no clock being truncated), so a write whose answer was lost is
        placed too. A tombstone two deletes could have written is given the history its
        clock claims: lenient, it can hide a loss, never invent one. Property 1 takes a
        covering clock at its word; this check does not. Call it only when no clock was
        truncated: a cut clock loses history by design (Dynamo §4.4). One walk per key
        from what survives, so the cost is linear in the history.
        """
        writes = [record for record in self.records if record.kind != "get"]
        # Each write request, by what places its versions -> what its writer's get returned.
        saw: dict[object, tuple[Version, ...]] = {}
        deletes: dict[tuple[bytes, Clock], int] = {}
        for record in writes:
            if record.value is None:
                deletes[(record.key, record.context)] = (
                    deletes.get((record.key, record.context), 0) + 1
                )
        for record in writes:
            if record.value is not None:
                saw[record.value] = record.seen
            elif deletes[(record.key, record.context)] == 1:
                saw[(record.key, record.context)] = record.seen
        acked: dict[bytes, list[OpRecord]] = {}
        for record in writes:
            if record.ok and record.value is not None:
                acked.setdefault(record.key, []).append(record)
        for key, records in acked.items():
            # Every write request the survivors' writers saw, transitively; for a version
            # that cannot be placed, the dots its clock claims.
            reached: set[object] = set()
            claimed: dict[str, int] = {}
            stack = [*held(key), *reaped(key)]
            while stack:
                version = stack.pop()
                place: object = (
                    version.value if version.value is not None else (key, version.context)
                )
                if place in reached:
                    continue
                reached.add(place)
                seen = saw.get(place)
                if seen is not None:
                    stack.extend(seen)
                    continue
                for node, counter in (*version.context, version.dot):
                    if counter > claimed.get(node, 0):
                        claimed[node] = counter
            for record in records:
                assert record.version is not None
                node, counter = record.version.dot
                if record.value in reached or claimed.get(node, 0) >= counter:
                    continue
                self.violations.append(
                    f"lost update: acknowledged {record.version.dot} of {key!r} "
                    f"(t={record.end}) is superseded at rest by versions whose writers "
                    "never saw it"
                )
                break  # one report per key

    def check_read_your_writes(self) -> None:
        """Property 4 (strict quorum, R + W > N only).

        A get must cover every put of its key acknowledged before it started. Puts are
        taken in the order their acknowledgements came and gets in the order they
        started, so each get is compared with the *frontier* of the puts acknowledged
        before it: a put whose version a later-acknowledged one descends is covered by
        whatever covers that one (clocks compare transitively) and drops out, unless the
        later one had its clock truncated (its miss is excused, and must not hide the
        older put's). That holds while no clock of the key was cut: a version's clock
        then holds every dot its causal past holds. A key with a clock at the bound
        (``vector_clock_threshold`` entries) is compared with every earlier put instead.
        A long history of one key costs its gets times its concurrent puts, not times
        all its puts. A get that finds nothing covers an acknowledged delete: "not found"
        is what the delete asked for, whether its tombstone is still stored or was reaped.
        With :attr:`reaping`, so does any get that returns none of the values it deleted.
        """
        puts: dict[bytes, list[OpRecord]] = {}
        gets: dict[bytes, list[tuple[int, OpRecord]]] = {}
        for index, record in enumerate(self.records):
            if not record.ok:
                continue
            if record.kind == "get":
                gets.setdefault(record.key, []).append((index, record))
            elif record.version is not None and record.end is not None:
                puts.setdefault(record.key, []).append(record)
        found: list[tuple[int, str]] = []
        bound = self.vector_clock_threshold - 1
        for key, key_gets in gets.items():
            acked = sorted(puts.get(key, ()), key=lambda put: put.end or 0)
            cut = any(
                len(version.context) >= bound
                for record in (*acked, *(get for _, get in key_gets))
                for version in (*record.versions, *((record.version,) if record.version else ()))
            )
            frontier: list[OpRecord] = []
            taken = 0
            for index, record in sorted(key_gets, key=lambda item: item[1].start):
                while taken < len(acked) and (acked[taken].end or 0) < record.start:
                    if cut:
                        frontier.append(acked[taken])
                    else:
                        _add_to_frontier(frontier, acked[taken])
                    taken += 1
                for put in frontier:
                    assert put.version is not None
                    if covers(record.versions, put.version):
                        continue
                    if put.version.value is None and self._respects_delete(
                        record.versions, put.version
                    ):
                        continue
                    if self._truncated(put.version.context, put.context):
                        self.excused_truncations += 1
                        continue
                    found.append(
                        (
                            index,
                            f"property 4: get of {record.key!r} started t={record.start} missed "
                            f"{put.version.dot} acknowledged at t={put.end}",
                        )
                    )
        self.violations.extend(text for _, text in sorted(found))

    def _respects_delete(self, returned: tuple[Version, ...], tombstone: Version) -> bool:
        """Whether a get that returned ``returned`` and not ``tombstone`` read what the
        delete asked for: nothing, or (with :attr:`reaping`) no value it deleted."""
        if not returned:
            return True
        return self.reaping and not any(
            version.value is not None and covers((tombstone,), version) for version in returned
        )


def _add_to_frontier(frontier: list[OpRecord], put: OpRecord) -> None:
    """Add ``put``, acknowledged after every put of ``frontier``, unless an untruncated
    one there descends it; drop those it descends if it was not truncated itself (see
    :meth:`History.check_read_your_writes`)."""
    version = put.version
    assert version is not None
    for other in frontier:
        known = other.version
        if known is not None and known.context == other.context and covers((known,), version):
            return
    if version.context == put.context:
        frontier[:] = [
            other
            for other in frontier
            if other.version is None or not covers((version,), other.version)
        ]
    frontier.append(put)
