"""Helpers for the real-process tests: histories recorded the way the simulator records them.

The simulator's checkers (:mod:`dynamokv.impl.sim._checkers`) read :class:`OpRecord` values
whose versions carry exact dots and contexts. A real node's HTTP API gives, for a put, the
new clock in the ``X-Dynamo-Context`` header, and for a get, each sibling's dot and clock.
That is enough to rebuild the exact :class:`~dynamokv.spec.kv.Version` of every put:

* a put's dot is the one entry where the new clock exceeds the context the client sent
  (the coordinator's fresh counter), and its context is the one the client sent;
* a sibling read back carries its dot; its value is unique in a test history (every put
  writes a fresh value), so its context is the one sent with the put of that value.

The replicas' own holdings are read from their stores on disk once the nodes are stopped
(:func:`stored_versions`), so "the replicas converged" is checked replica by replica, not
through a quorum read that would repair what it reads.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from dynamokv.impl.client import Client, ClientError, QuorumError
from dynamokv.impl.runtime._api import decode_context
from dynamokv.impl.sim._checkers import OpRecord
from dynamokv.spec.kv import Version

Clock = tuple[tuple[str, int], ...]


def dot_of(sent: Clock, new_clock: Clock) -> tuple[str, int]:
    """The dot a coordinator issued: the one entry of ``new_clock`` above ``sent``."""
    before = dict(sent)
    grown = [(node, counter) for node, counter in new_clock if counter > before.get(node, 0)]
    assert len(grown) == 1, f"a put's clock grows by one dot: {sent} -> {new_clock}"
    return grown[0]


@dataclass
class Recorder:
    """Records client requests against real nodes as :class:`OpRecord` values (thread safe).

    Times are ``time.monotonic_ns()``: a real-time order, as the checkers' ``start``/``end``.
    """

    records: list[OpRecord] = field(default_factory=list)
    context_of_value: dict[bytes, Clock] = field(default_factory=dict)
    tombstone_versions: dict[tuple[str, int], Version] = field(default_factory=dict)
    raw_versions: dict[int, list[tuple[bytes | None, tuple[str, int], Clock]]] = field(
        default_factory=dict
    )
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _append(self, record: OpRecord) -> None:
        with self.lock:
            self.records.append(record)

    def version_of(self, value: bytes | None, dot: tuple[str, int], clock: Clock) -> Version:
        """The exact version behind a sibling (see the module docstring)."""
        if value is not None and value in self.context_of_value:
            return Version(value, dot, self.context_of_value[value])
        if value is None and dot in self.tombstone_versions:
            return self.tombstone_versions[dot]
        # A delete whose reply never came: its context is the clock less its own dot.
        node = dot[0]
        return Version(value, dot, tuple((n, c) for n, c in clock if n != node))

    def get(self, client: Client, client_id: int, node: str, key: bytes, r: int) -> OpRecord:
        record = OpRecord(client_id, "get", key, node, time.monotonic_ns(), r)
        self._append(record)
        try:
            reply = client.get(key, r=r)
        except ClientError:
            record.end = time.monotonic_ns()
            return record
        record.end = time.monotonic_ns()
        record.ok = True
        record.context = decode_context(reply.context)
        raw = [(s.value, s.dot, tuple(sorted(s.clock.items()))) for s in reply.siblings]
        with self.lock:
            self.raw_versions[id(record)] = raw
        record.versions = tuple(self.version_of(*sibling) for sibling in raw)
        return record

    def finish(self) -> None:
        """Rebuild every get's versions once every reply is in.

        A tombstone read before its delete's reply arrived could not be rebuilt exactly
        then (its dot was not yet known to the recorder); now it can.
        """
        for record in self.records:
            raw = self.raw_versions.get(id(record))
            if raw is not None:
                record.versions = tuple(self.version_of(*sibling) for sibling in raw)

    def put(
        self,
        client: Client,
        client_id: int,
        node: str,
        key: bytes,
        value: bytes | None,
        context: str,
        w: int,
    ) -> OpRecord:
        sent = decode_context(context)
        kind = "put" if value is not None else "delete"
        record = OpRecord(client_id, kind, key, node, time.monotonic_ns(), w, value, sent)
        if value is not None:
            with self.lock:
                assert value not in self.context_of_value, "every put writes a fresh value"
                self.context_of_value[value] = sent
        self._append(record)
        try:
            if value is None:
                new_context = client.delete(key, context or None, w=w)
            else:
                new_context = client.put(key, value, context or None, w=w)
        except (QuorumError, ClientError):
            record.end = time.monotonic_ns()
            return record
        record.end = time.monotonic_ns()
        record.ok = True
        dot = dot_of(sent, decode_context(new_context))
        record.version = Version(value, dot, sent)
        if value is None:
            with self.lock:
                self.tombstone_versions[dot] = record.version
        return record

    def acked(self) -> list[OpRecord]:
        """Acknowledged puts and deletes."""
        return [r for r in self.records if r.kind != "get" and r.ok and r.version is not None]


def stored_versions(data_dir: str, keys: Sequence[bytes]) -> dict[bytes, frozenset[Version]]:
    """What one stopped node holds for ``keys``, read from its store on disk."""
    from dynamokv.impl.persist import StoreAdapter
    from dynamokv.impl.storage import StoreOptions

    adapter = StoreAdapter.open(data_dir, options=StoreOptions(fsync="none"))
    try:
        return {key: frozenset(adapter.read_versions(key)) for key in keys}
    finally:
        adapter.close()


def wait_for(predicate: object, seconds: float, what: str) -> None:
    """Poll ``predicate()`` every 0.1 s until true; fail the test after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError(f"not within {seconds:.0f} s: {what}")
