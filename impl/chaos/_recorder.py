"""Client requests against real nodes, recorded the way the simulator records them.

The simulator's checkers (:class:`~dynamokv.impl.sim.History`) read
:class:`~dynamokv.impl.sim.OpRecord` values whose versions carry exact dots and contexts.
A real node's HTTP API gives, for a put, the new clock in the ``X-Dynamo-Context`` header,
and for a get, each sibling's dot and clock. That is enough to rebuild the exact
:class:`~dynamokv.impl.core.Version` of every put:

* a put's dot is the one entry where the new clock exceeds the context the client sent
  (the coordinator's fresh counter), and its context is the one the client sent;
* a sibling read back carries its dot; its value is unique in a history (every put writes
  a fresh value), so its context is the one sent with the put of that value;
* a tombstone has no value to tell it by: one whose delete was answered is known by its
  dot, and one whose delete got no answer (the node took it, then the connection broke)
  by its clock, which is the context some delete of the key sent with the dot added.

Times are ``time.monotonic_ns()`` of this process: a real-time order, which is what the
checkers' ``start`` and ``end`` mean (a get that *starts* after a put *ended* must see it).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from dynamokv.impl.client import Client, ClientError, GetReply, QuorumError
from dynamokv.impl.core import Version
from dynamokv.impl.runtime import decode_context
from dynamokv.impl.sim import OpRecord
from dynamokv.spec.errors import ArgumentError, ProtocolError

__all__ = ["Clock", "Recorder", "dot_of"]

Clock = tuple[tuple[str, int], ...]


def dot_of(sent: Clock, new_clock: Clock) -> tuple[str, int]:
    """The dot a coordinator issued: the one entry of ``new_clock`` above ``sent``.

    Raises:
        ProtocolError: not exactly one entry grew (the node broke the put contract).
    """
    before = dict(sent)
    grown = [(node, counter) for node, counter in new_clock if counter > before.get(node, 0)]
    if len(grown) != 1:
        raise ProtocolError(f"a put's clock grows by exactly one dot: {sent} -> {new_clock}")
    return grown[0]


@dataclass
class Recorder:
    """Records client requests against real nodes as ``OpRecord`` values (thread safe).

    Every request is recorded before it is sent (so one that never returns is in the
    history, unacknowledged) and completed when its answer arrives. ``error`` keeps, per
    record, why a request failed.
    """

    records: list[OpRecord] = field(default_factory=list)
    errors: dict[int, str] = field(default_factory=dict)
    context_of_value: dict[bytes, Clock] = field(default_factory=dict)
    tombstone_versions: dict[tuple[str, int], Version] = field(default_factory=dict)
    delete_contexts: dict[bytes, list[Clock]] = field(default_factory=dict)
    raw_versions: dict[int, list[tuple[bytes | None, tuple[str, int], Clock]]] = field(
        default_factory=dict
    )
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _append(self, record: OpRecord) -> None:
        with self.lock:
            self.records.append(record)

    def _failed(self, record: OpRecord, error: ClientError) -> None:
        record.end = time.monotonic_ns()
        with self.lock:
            self.errors[id(record)] = str(error)

    def version_of(
        self, key: bytes, value: bytes | None, dot: tuple[str, int], clock: Clock
    ) -> Version:
        """The exact version behind a sibling (see the module docstring)."""
        if value is not None and value in self.context_of_value:
            return Version(value, dot, self.context_of_value[value])
        if value is None and dot in self.tombstone_versions:
            return self.tombstone_versions[dot]
        # A delete whose reply never came (the node took it, then the connection broke):
        # its context is the one a delete of the key sent whose clock, with the dot's
        # counter added, is the sibling's.
        node, counter = dot
        target = dict(clock)
        for sent in self.delete_contexts.get(key, ()):
            before = dict(sent)
            if before.get(node, 0) < counter and {**before, node: counter} == target:
                return Version(value, dot, sent)
        # None fits (a delete sent by no client of this run): the clock less its own dot.
        return Version(value, dot, tuple((n, c) for n, c in clock if n != node))

    def get(
        self, client: Client, client_id: int, node: str, key: bytes, r: int | None
    ) -> tuple[OpRecord, GetReply | None]:
        """A recorded get; the reply is ``None`` if the request failed."""
        record = OpRecord(client_id, "get", key, node, time.monotonic_ns(), r or 0)
        self._append(record)
        try:
            reply = client.get(key, r=r)
        except ClientError as error:
            self._failed(record, error)
            return record, None
        record.end = time.monotonic_ns()
        record.ok = True
        record.context = decode_context(reply.context)
        raw = [(s.value, s.dot, tuple(sorted(s.clock.items()))) for s in reply.siblings]
        with self.lock:
            self.raw_versions[id(record)] = raw
        record.versions = tuple(self.version_of(key, *sibling) for sibling in raw)
        return record, reply

    def put(
        self,
        client: Client,
        client_id: int,
        node: str,
        key: bytes,
        value: bytes | None,
        context: str,
        w: int | None,
    ) -> OpRecord:
        """A recorded put (``value`` ``None``: a delete); ``record.ok`` if acknowledged."""
        sent = decode_context(context)
        kind = "put" if value is not None else "delete"
        record = OpRecord(client_id, kind, key, node, time.monotonic_ns(), w or 0, value, sent)
        with self.lock:
            if value is None:
                self.delete_contexts.setdefault(key, []).append(sent)
            elif value in self.context_of_value:
                raise ArgumentError("every put must write a fresh value")
            else:
                self.context_of_value[value] = sent
        self._append(record)
        try:
            if value is None:
                new_context = client.delete(key, context or None, w=w)
            else:
                new_context = client.put(key, value, context or None, w=w)
        except (QuorumError, ClientError) as error:
            self._failed(record, error)
            return record
        record.end = time.monotonic_ns()
        record.ok = True
        dot = dot_of(sent, decode_context(new_context))
        record.version = Version(value, dot, sent)
        if value is None:
            with self.lock:
                self.tombstone_versions[dot] = record.version
        return record

    def finish(self) -> None:
        """Rebuild every get's versions once every reply is in.

        A tombstone read before its delete's reply arrived could not be rebuilt exactly
        then (its dot was not yet known to the recorder); now it can.
        """
        for record in self.records:
            raw = self.raw_versions.get(id(record))
            if raw is not None:
                record.versions = tuple(self.version_of(record.key, *sibling) for sibling in raw)

    def acked(self) -> list[OpRecord]:
        """Acknowledged puts and deletes."""
        return [r for r in self.records if r.kind != "get" and r.ok and r.version is not None]

    def write_jsonl(self, path: Path, *, extra: Iterable[dict[str, object]] = ()) -> None:
        """The history as JSON lines (one request per line; ``extra`` lines first)."""

        def text(value: bytes | None) -> str | None:
            return None if value is None else value.decode("utf-8", "replace")

        def version(v: Version | None) -> object:
            if v is None:
                return None
            return {
                "value": text(v.value),
                "dot": list(v.dot),
                "context": [list(e) for e in v.context],
            }

        with path.open("w") as out:
            for line in extra:
                out.write(json.dumps(line) + "\n")
            for record in self.records:
                out.write(
                    json.dumps(
                        {
                            "client": record.client,
                            "kind": record.kind,
                            "key": text(record.key),
                            "node": record.node,
                            "start_ns": record.start,
                            "end_ns": record.end,
                            "ok": record.ok,
                            "error": self.errors.get(id(record)),
                            "quorum": record.r_or_w,
                            "value": text(record.value),
                            "context": [list(entry) for entry in record.context],
                            "version": version(record.version),
                            "versions": [version(v) for v in record.versions],
                        }
                    )
                    + "\n"
                )
