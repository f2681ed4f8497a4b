"""Readable scenario scripts with golden output (etcd-io/raft ``testdata`` style).

A script is a list of blocks separated by blank lines. Each block is one command,
a ``----`` line, and the output the command produced; ``#`` lines are comments.
:func:`run_scenario` runs the commands on a fresh, fault-free simulated cluster
whose network delivers every message in exactly one tick, and returns the script
with every output rewritten, so a test compares it with the file and
``DYNAMOKV_REWRITE=1`` regenerates the file.

Commands::

    add-nodes 5 [n=3] [r=2] [w=2] [q=64] [strict]
    prefs KEY                      the preference list and the substitutes
    put KEY VALUE [w=W] [via=NODE] [ctx=last|none]
    delete KEY [w=W] [via=NODE] [ctx=last|none]
    get KEY [r=R] [via=NODE]
    merge KEY [via=NODE]           get, union of the siblings, put with the context
    crash NODE | restart NODE
    partition n1,n2 | n3,n4,n5     block n1>n2     heal
    tick TICKS                     let time pass (hint replay happens here)
    hints                          every node's hints
    dump KEY                       what each node stores durably for KEY

Gossip clusters (``add-nodes 5 gossip [spares=1] [hints=H]``) run complete
:class:`~dynamokv.impl.core.Node` s; their gossip and anti-entropy messages
are not listed (they never stop), and these commands summarize instead::

    start NODE                     start a spare node (it announces itself by gossip)
    join NODE [via=NODE]           admin: add NODE to the ring (Dynamo §4.8.1)
    leave NODE [via=NODE]          admin: remove NODE from the ring
    ring                           each node's ring version and status
    write-load COUNT [every=T] [keys=K]   COUNT puts, one every T ticks, random keys
    lose-hints NODE                NODE crashes with its hint volume, then restarts
    converge                       run until every replica is identical; summarize

``put`` and ``get`` go by default to the key's first owner (the request lands on the
node responsible for the key) and use the context of the
last ``get`` of the key; every message the command caused is listed.
"""

from __future__ import annotations

import shlex

from dynamokv.impl.core import (
    GetRequest,
    GetResult,
    NodeConfig,
    PutRequest,
    PutResult,
    Result,
    Version,
)
from dynamokv.spec.errors import ArgumentError
from dynamokv.spec.kv import union_resolve

from ._simulated_cluster import _BACKGROUND, Cluster, NetworkConfig

__all__ = ["ScenarioError", "run_scenario"]

_BACKGROUND_NAMES = {cls.__name__ for cls in _BACKGROUND}


class ScenarioError(ArgumentError):
    """A scenario script is malformed."""


def _dot(version: Version) -> str:
    return f"{version.dot[0]}:{version.dot[1]}"


def _clock(clock: tuple[tuple[str, int], ...]) -> str:
    return "{" + ",".join(f"{node}:{counter}" for node, counter in clock) + "}"


def _show(version: Version) -> str:
    value = "<tombstone>" if version.value is None else repr(version.value.decode())
    return f"{_dot(version)} {value}"


class _Runner:
    def __init__(self) -> None:
        self.cluster: Cluster | None = None
        self.contexts: dict[bytes, tuple[tuple[str, int], ...]] = {}

    @property
    def c(self) -> Cluster:
        if self.cluster is None:
            raise ScenarioError("run add-nodes first")
        return self.cluster

    def run(self, line: str) -> list[str]:
        words = shlex.split(line)
        command, args = words[0], words[1:]
        options = dict(a.split("=", 1) for a in args if "=" in a)
        plain = [a for a in args if "=" not in a]
        handler = getattr(self, "do_" + command.replace("-", "_"), None)
        if handler is None:
            raise ScenarioError(f"unknown command {command!r}")
        result: list[str] = handler(plain, options)
        return result

    # -- cluster ------------------------------------------------------------------------

    def do_add_nodes(self, plain: list[str], options: dict[str, str]) -> list[str]:
        count = int(plain[0])
        config = NodeConfig(
            n=int(options.get("n", 3)),
            r=int(options.get("r", 2)),
            w=int(options.get("w", 2)),
            strict_quorum="strict" in plain,
            hints_count_max=int(options.get("hints", 4096)),
        )
        network = NetworkConfig(delay_ticks_min=1, delay_ticks_max=1, disk_delay_ticks_max=0)
        gossip = "gossip" in plain
        self.cluster = Cluster(
            count,
            seed=0,
            config=config,
            q=int(options.get("q", 64)),
            network=network,
            membership="gossip" if gossip else "static",
            spares=int(options.get("spares", 0)) if gossip else 0,
        )
        if gossip:
            self.cluster.run(until=60)
            return [
                f"{count} nodes {' '.join(self.cluster.initial)} with gossip, phi-accrual "
                f"health and Merkle anti-entropy; N={config.n} R={config.r} W={config.w}; "
                f"spares: {' '.join(self.cluster.names[count:]) or '-'}"
            ]
        self.cluster.run(until=1)
        mode = "strict" if config.strict_quorum else "sloppy"
        return [
            f"{count} nodes {' '.join(self.cluster.names)}; N={config.n} R={config.r} W={config.w}, {mode} quorum"
        ]

    def do_prefs(self, plain: list[str], options: dict[str, str]) -> list[str]:
        key = plain[0].encode()
        ring = self.c.ring
        extended = ring.extended_preference_list(key)
        return [
            f"partition {ring.partition_of(key)} of {ring.q}",
            f"preference list: {' '.join(extended[: ring.n])}",
            f"substitutes: {' '.join(extended[ring.n :]) or '-'}",
        ]

    def do_crash(self, plain: list[str], options: dict[str, str]) -> list[str]:
        self.c.crash(plain[0])
        return [f"{plain[0]} crashed (unsynced writes lost)"]

    def do_restart(self, plain: list[str], options: dict[str, str]) -> list[str]:
        self.c.restart(plain[0])
        return [f"{plain[0]} restarted", *self._settle(0)]

    def do_partition(self, plain: list[str], options: dict[str, str]) -> list[str]:
        groups = tuple(tuple(g.split(",")) for g in " ".join(plain).replace(" ", "").split("|"))
        self.c.partition(*groups)
        return ["partitioned " + " | ".join(",".join(g) for g in groups)]

    def do_block(self, plain: list[str], options: dict[str, str]) -> list[str]:
        src, dst = plain[0].split(">")
        self.c.block(src, dst)
        return [f"messages {src} -> {dst} are lost"]

    def do_heal(self, plain: list[str], options: dict[str, str]) -> list[str]:
        self.c.heal()
        return ["healed"]

    def do_tick(self, plain: list[str], options: dict[str, str]) -> list[str]:
        return self._settle(int(plain[0]), until_idle=False) or ["(no messages)"]

    def do_hints(self, plain: list[str], options: dict[str, str]) -> list[str]:
        lines = []
        for name, node in self.c.nodes.items():
            if node is None:
                lines.append(f"{name}: down")
                continue
            for hint in node.hints:
                dots = ",".join(_dot(v) for v in hint.versions)
                lines.append(
                    f"{name}: hint {hint.hint_id} for {hint.owner} key {hint.key.decode()} [{dots}]"
                )
        return lines or ["no hints"]

    def do_dump(self, plain: list[str], options: dict[str, str]) -> list[str]:
        key = plain[0].encode()
        owners = self.c.ring.preference_list(key)
        lines = []
        for name in self.c.names:
            held = self.c.disks[name].synced_versions(key)
            role = "owner" if name in owners else "     "
            lines.append(f"{name} {role} " + (" | ".join(_show(v) for v in held) or "-"))
            for hint in self.c.disks[name].synced_hints():
                if hint.key == key:
                    shown = " | ".join(_show(v) for v in hint.versions)
                    lines.append(f"   hint for {hint.owner}: {shown}")
        return lines

    # -- membership (gossip clusters) ---------------------------------------------------

    def do_start(self, plain: list[str], options: dict[str, str]) -> list[str]:
        self.c.restart(plain[0])
        self.c.run(until=self.c.now + 60)
        return [f"{plain[0]} started ({self.c.status_of(plain[0])})"]

    def _admin(self, kind: str, plain: list[str], options: dict[str, str]) -> list[str]:
        name = plain[0]
        via = options.get("via", self.c.initial[0])
        ok = self.c.join(name, via=via) if kind == "join" else self.c.leave(name, via=via)
        if not ok:
            return [f"{kind} {name} via {via}: refused"]
        stats = self.c.member_stats()
        start, moved = self.c.now, stats.keys_transferred
        for _ in range(200):
            self.c.run(until=self.c.now + 20)
            nodes = [n for n in self.c.nodes.values() if (n is not None and n.gossip_mode)]
            if all(not n.transfers_in_flight and not n.holds_data_it_does_not_own() for n in nodes):
                break
        version = self.c.newest_ring()[0]
        return [
            f"{kind} {name} via {via}: ring version {version}",
            f"partition transfers done in {self.c.now - start} ticks, "
            f"{self.c.member_stats().keys_transferred - moved} replica copies moved",
        ]

    def do_join(self, plain: list[str], options: dict[str, str]) -> list[str]:
        return self._admin("join", plain, options)

    def do_leave(self, plain: list[str], options: dict[str, str]) -> list[str]:
        return self._admin("leave", plain, options)

    def do_ring(self, plain: list[str], options: dict[str, str]) -> list[str]:
        lines = []
        for name in self.c.names:
            node = self.c.nodes[name]
            if node is not None and node.gossip is not None:
                owned = sum(1 for owner in node.ring_state.owners if owner == name)
                lines.append(
                    f"{name}: {node.gossip.self_entry.status}, ring version "
                    f"{node.ring_state.version}, owns {owned} partitions"
                )
            else:
                lines.append(f"{name}: {self.c.status_of(name)}")
        return lines

    def do_write_load(self, plain: list[str], options: dict[str, str]) -> list[str]:
        count = int(plain[0])
        every = int(options.get("every", 10))
        keys = int(options.get("keys", 100))
        cluster = self.c
        acked: list[Result] = []
        for index in range(count):
            key = b"key-%03d" % (index % keys)
            via = cluster.members()[index % len(cluster.members())]
            if not cluster.is_up(via):
                via = next(m for m in cluster.members() if cluster.is_up(m))
            cluster.submit(
                via, PutRequest(key, b"v%d" % index, self.contexts.get(key, ())), acked.append
            )
            cluster.run(until=cluster.now + every)
        cluster.run(until=cluster.now + 100)
        ok = sum(1 for r in acked if r.ok)
        stats = cluster.node_stats()
        return [
            f"{ok} of {count} puts acknowledged over {count * every} ticks",
            f"hints stored {stats.hints_stored}, refused at the bound {stats.hints_refused}, "
            f"pending {cluster.hints_pending()}",
        ]

    def do_lose_hints(self, plain: list[str], options: dict[str, str]) -> list[str]:
        name = plain[0]
        self.c.crash(name)
        lost = self.c.disks[name].lose_hints()
        self.c.restart(name)
        return [f"{name} crashed and lost {lost} hint(s) with its hint volume; restarted"]

    def do_converge(self, plain: list[str], options: dict[str, str]) -> list[str]:
        cluster = self.c
        start = cluster.now
        base, member = cluster.node_stats(), cluster.member_stats()
        keys = sorted({k for d in cluster.disks.values() for k in d.synced_keys()})
        identical = False
        while cluster.now < start + 20_000:
            cluster.run(until=cluster.now + 10)
            if not cluster.hints_pending() and all(
                len(set(cluster.holders(k).values())) == 1 for k in keys
            ):
                identical = True
                break
        stats, after = cluster.node_stats(), cluster.member_stats()
        return [
            f"hints replayed {stats.hints_replayed - base.hints_replayed}",
            f"keys repaired by Merkle {after.keys_repair_applied - member.keys_repair_applied}",
            f"every replica identical: {'yes' if identical else 'no'} "
            f"after {cluster.now - start} ticks",
        ]

    # -- requests -----------------------------------------------------------------------

    def _settle(
        self, ticks: int, *, until_idle: bool = True, done: list[Result] | None = None
    ) -> list[str]:
        """Run ``ticks`` ticks (or until the request is answered and all is quiet); list messages."""
        cluster = self.c
        cluster.trace_all = True
        cluster.trace.clear()
        start = cluster.now
        limit = start + (ticks if ticks else 400)
        if until_idle:
            while cluster.now < limit:
                cluster.run(until=cluster.now + 1)
                busy = any(n is not None and n.requests_in_flight for n in cluster.nodes.values())
                if (done is None or done) and not busy and cluster.idle():
                    break
        else:
            cluster.run(until=limit)
        cluster.trace_all = False
        lines = []
        for entry in cluster.trace:
            if entry.label.split("[")[0] in _BACKGROUND_NAMES:
                continue
            fate = "lost" if entry.arrives_at is None else f"t={entry.arrives_at}"
            lines.append(f"  t={entry.sent_at} {entry.src} -> {entry.dst} {entry.label} ({fate})")
        return lines

    def _request(
        self, node: str, request: GetRequest | PutRequest
    ) -> tuple[Result | None, list[str]]:
        done: list[Result] = []
        self.c.submit(node, request, done.append)
        messages = self._settle(0, done=done)
        return (done[0] if done else None), messages

    def do_put(self, plain: list[str], options: dict[str, str]) -> list[str]:
        return self._put(plain[0], plain[1].encode(), options)

    def do_delete(self, plain: list[str], options: dict[str, str]) -> list[str]:
        return self._put(plain[0], None, options)

    def _put(self, key_text: str, value: bytes | None, options: dict[str, str]) -> list[str]:
        key = key_text.encode()
        node = options.get("via", self.c.ring.preference_list(key)[0])
        context = () if options.get("ctx") == "none" else self.contexts.get(key, ())
        w = int(options["w"]) if "w" in options else None
        result, messages = self._request(node, PutRequest(key, value, context, w))
        verb = "put" if value is not None else "delete"
        head = f"{verb} via {node} context={_clock(context)}"
        if result is None:
            return [head, *messages, "no reply (the node is down?)"]
        assert isinstance(result, PutResult)
        if result.ok and result.version is not None:
            tail = f"ok: {_dot(result.version)} acked by {result.acks}"
        else:
            tail = f"failed: {result.error}"
        return [head, *messages, tail]

    def do_get(self, plain: list[str], options: dict[str, str]) -> list[str]:
        key = plain[0].encode()
        node = options.get("via", self.c.ring.preference_list(key)[0])
        r = int(options["r"]) if "r" in options else None
        result, messages = self._request(node, GetRequest(key, r))
        head = f"get via {node}"
        if result is None:
            return [head, *messages, "no reply (the node is down?)"]
        assert isinstance(result, GetResult)
        if not result.ok:
            return [head, *messages, f"failed: {result.error}"]
        self.contexts[key] = result.context
        shown = " | ".join(_show(v) for v in result.versions) or "not found"
        siblings = f" ({len(result.versions)} siblings)" if len(result.versions) > 1 else ""
        return [head, *messages, f"ok: {shown}{siblings} context={_clock(result.context)}"]

    def do_merge(self, plain: list[str], options: dict[str, str]) -> list[str]:
        key = plain[0].encode()
        lines = self.do_get(plain, options)
        node = options.get("via", self.c.ring.preference_list(key)[0])
        done: list[Result] = []
        self.c.submit(node, GetRequest(key), done.append)
        self._settle(0, done=done)
        result = done[0] if done else None
        if not isinstance(result, GetResult) or not result.ok:
            return [*lines, "merge: get failed"]
        values = [v.value for v in result.versions if v.value is not None]
        merged = union_resolve(values)
        lines.append(f"union of {len(values)} sibling(s): {merged.decode()!r}")
        self.contexts[key] = result.context
        return [
            *lines,
            *self._put(plain[0], merged, {k: v for k, v in options.items() if k == "via"}),
        ]


def run_scenario(text: str) -> str:
    """Run every command of ``text``; return the script with fresh outputs."""
    runner = _Runner()
    out: list[str] = []
    for block in text.strip("\n").split("\n\n"):
        lines = block.strip("\n").splitlines()
        comments = [line for line in lines if line.startswith("#")]
        rest = [line for line in lines if not line.startswith("#")]
        if not rest:
            out.append("\n".join(comments))
            continue
        command = rest[0]
        try:
            output = runner.run(command)
        except ScenarioError:
            raise
        except (IndexError, ValueError, KeyError) as error:
            raise ScenarioError(f"bad command {command!r}: {error}") from error
        out.append("\n".join([*comments, command, "----", *output]))
    return "\n\n".join(out) + "\n"
