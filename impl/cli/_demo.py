"""``dynamokv demo`` (``make run``): a request's journey and Dynamo's repairs, told by a real 5-node cluster.

Every number the demo prints comes from the running processes: the request journey from
the node's own trace of one put (``?trace=1``), hints pending and anti-entropy counters
from ``/metrics``, siblings from a real get. A number a node does not export stops the
demo with one line rather than being made up: a teaching tool that fakes its evidence
teaches the wrong lesson.

The cluster is started with :class:`~dynamokv.impl.runtime._local_cluster.LocalCluster` in
``./.dynamokv`` and left running at the end, with the exact ``curl`` commands to try. A
second run reuses it (and restarts any node that died). Every wait is bounded; an error is
one line and a non-zero exit.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from dynamokv.spec.errors import DynamoKVError

from ._errors import CliError
from ._types import CLUSTER_DIRECTORY

DEFAULT_NODES = 5
HINTS_DRAIN_SECONDS = 60.0
WRITES_WHILE_DOWN = 24
POLL_SECONDS = 0.25
# The failure detector needs a few missed heartbeats (phi over its threshold) before a
# coordinator stops counting a killed node as healthy; the demo waits that long, bounded.
DETECTION_WAIT_SECONDS = 30.0

ANTI_ENTROPY_MARKERS = (
    "dynamokv_anti_entropy_trees_compared_total",
    "dynamokv_anti_entropy_nodes_exchanged_total",
    "dynamokv_anti_entropy_keys_repaired_total",
    "dynamokv_anti_entropy_keys_repair_applied_total",
    "dynamokv_anti_entropy_bytes_sent_total",
)
HINTS_PENDING_METRIC = "dynamokv_hints_pending"
HINTS_REPLAYED_METRIC = "dynamokv_hints_replayed_total"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="the guided demo on a real local cluster (make run)",
        description=(
            "Start (or reuse) a 5-node cluster in --dir and walk through Dynamo on it: the "
            "request journey of one put, a node killed while writes go on (sloppy quorum, "
            "hinted handoff), its restart (hint replay, anti-entropy), and two concurrent "
            "cart updates that become siblings and are merged by union. The cluster is left "
            "running."
        ),
    )
    parser.add_argument(
        "--dir", default=CLUSTER_DIRECTORY, help=f"cluster directory (default {CLUSTER_DIRECTORY})"
    )
    parser.add_argument(
        "--nodes", type=int, default=DEFAULT_NODES, help=f"node processes (default {DEFAULT_NODES})"
    )
    parser.add_argument(
        "--tls",
        action="store_true",
        help="mutual TLS between nodes, HTTPS with client certificates",
    )
    parser.set_defaults(handler=_run)


class _Demo:
    def __init__(self, args: argparse.Namespace) -> None:
        from rich.console import Console

        self.args = args
        self.console = Console(highlight=False)
        if not self.console.is_terminal:
            self.console.width = max(self.console.width, 110)
        self.run_id = uuid.uuid4().hex[:6]

    # ------------------------------------------------------------------ helpers

    def say(self, message: str) -> None:
        self.console.print(f"  [dim]·[/dim] {message}")

    def panel(self, title: str, body: Any) -> None:
        from rich.panel import Panel

        self.console.print()
        self.console.print(Panel(body, title=f"[bold]{title}[/bold]", title_align="left"))

    def http_json(self, address: str, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        from dynamokv.impl.runtime._local_cluster import http_request

        status, _headers, body = http_request(
            address, method, path, ssl_context=self.cluster.ssl_context, **kwargs
        )
        try:
            return status, json.loads(body) if body else None
        except ValueError:
            return status, body.decode(errors="replace")

    def wait_until_unhealthy(self, observer: str, victim: str) -> bool:
        """Poll ``observer``'s ``/cluster/members`` until it counts ``victim`` as not
        healthy (so its coordinator picks a substitute, Dynamo §4.6), for at most
        ``DETECTION_WAIT_SECONDS``; whether it did."""
        address = self.cluster.http_address(observer)
        deadline = time.monotonic() + DETECTION_WAIT_SECONDS
        while True:
            status, members = self.http_json(address, "GET", "/cluster/members")
            if status == 200 and isinstance(members, dict):
                for member in members.get("members", []):
                    if member.get("name") == victim and member.get("healthy") is False:
                        return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(POLL_SECONDS)

    def hints_pending(self) -> int:
        return int(self.metric_sum(HINTS_PENDING_METRIC))

    def metric_sum(self, metric: str) -> float:
        """``metric`` summed over the live nodes (and its labels)."""
        from dynamokv.impl.runtime._local_cluster import sum_metric

        total = 0.0
        for name in self.cluster.names:
            if self.cluster.is_up(name):
                value = sum_metric(self.cluster.metrics(name), metric)
                if value is None:
                    raise _DemoError(f"{name} exports no {metric} on /metrics")
                total += value
        return total

    def anti_entropy_counters(self) -> dict[str, float]:
        counters: dict[str, float] = {}
        for name in self.cluster.names:
            if not self.cluster.is_up(name):
                continue
            for metric, value in self.cluster.metrics(name).items():
                if any(marker in metric for marker in ANTI_ENTROPY_MARKERS):
                    base = metric.split("{")[0]
                    counters[base] = counters.get(base, 0.0) + value
        return counters

    # ------------------------------------------------------------------ steps

    def start(self) -> None:
        from dynamokv.impl.runtime._local_cluster import LocalCluster

        self.console.rule("[bold]dynamokv: Amazon's Dynamo, running on your machine")
        self.cluster = LocalCluster(
            self.args.dir,
            nodes=self.args.nodes,
            stop_on_exit=False,
            progress=self.say,
            tls=self.args.tls,
        )
        if self.cluster.processes and len(self.cluster.processes) != self.args.nodes:
            self.say(
                f"{self.cluster.directory} holds a {len(self.cluster.processes)}-node cluster: "
                "using it as it is"
            )
        started = self.cluster.up()
        count = len(self.cluster.names)
        self.say(
            (f"started {', '.join(started)}" if started else "reused the running cluster")
            + f"; {count} node processes on 127.0.0.1, "
            f"N={self.cluster.n}, R={self.cluster.r}, W={self.cluster.w}, "
            f"Q={self.cluster.partition_count:,} partitions, fsync={self.cluster.fsync}"
        )

    def journey(self) -> None:
        from rich.table import Table

        key = f"cart:alice-{self.run_id}"
        entry = self.cluster.http_address(self.cluster.names[0])
        status, ring = self.http_json(entry, "GET", f"/cluster/ring?key={key}")
        coordinator = entry
        if status == 200 and isinstance(ring, dict) and "key" in ring:
            coordinator = ring["key"].get("coordinator_http", entry)
        status, reply = self.http_json(
            coordinator,
            "PUT",
            f"/kv/{key}?trace=1",
            body=b"milk",
            headers={"Content-Type": "application/octet-stream"},
        )
        if status not in (200, 204) or not isinstance(reply, dict):
            raise _DemoError(f"the traced put of {key} answered {status}: {reply}")
        steps = {step["step"]: step for step in reply.get("trace", [])}
        self.journey_key = key
        self.journey_context = reply.get("context", "")
        table = Table(show_header=True, header_style="bold", expand=True)
        table.add_column("step", ratio=2)
        table.add_column("what the node did (from its trace)", ratio=5)
        md5 = steps.get("md5", {})
        partition = steps.get("partition", {})
        preference = steps.get("preference_list", {})
        coordinator_step = steps.get("coordinator", {})
        wal = steps.get("wal", {})
        replicate = steps.get("replicate", {})
        ack = steps.get("ack", {})
        table.add_row(
            "1. Client sends write with partition key",
            f"PUT /kv/{key} (4 bytes) to {coordinator}; a partition-aware client asked "
            f"/cluster/ring?key= which node coordinates it",
        )
        table.add_row(
            "2. Router hashes key via MD5 to find ring position",
            f"md5 = {md5.get('md5', '?')}\nposition {md5.get('position', '?')} of 2^128 "
            f"({float(md5.get('ring_fraction', 0.0)):.4%} around the ring)",
        )
        table.add_row(
            "3. Request lands on responsible virtual node",
            f"partition {partition.get('partition', '?')} of {partition.get('partition_count', '?'):,} "
            f"(Dynamo §6.2 strategy 3: equal partitions are the virtual nodes), owned by "
            f"{partition.get('owner', '?')}\npreference list (N={preference.get('n', '?')}): "
            f"{', '.join(preference.get('nodes', []))}\ncoordinator: "
            f"{coordinator_step.get('node', '?')}"
            + (" (forwarded)" if coordinator_step.get("forwarded") else ""),
        )
        table.add_row(
            "4. Node writes to WAL and memtable",
            f"WAL record + memtable on {wal.get('node', '?')}: fsync={wal.get('fsync', '?')}, "
            f"group commit took {wal.get('fsync_ms', '?')} ms, durable "
            f"{wal.get('durable_after_ms', '?')} ms after the request arrived",
        )
        targets = ", ".join(
            target["node"]
            + (
                f" (hint for {target['hinted_for']})"
                if target.get("hinted_for") not in (None, target["node"])
                else ""
            )
            for target in replicate.get("to", [])
        )
        acks = ", ".join(f"{a['node']} after {a['ms']} ms" for a in replicate.get("acks", []))
        table.add_row(
            f"5. Replicates to two replicas with quorum W={replicate.get('w', '?')}",
            f"{wal.get('node', 'the coordinator')}'s own durable write is the first of W; "
            f"sent to {targets or '?'}\nacks: {acks or '—'}",
        )
        table.add_row(
            "6. Acknowledges write to client",
            f"ok={ack.get('ok')} with {ack.get('acks', '?')} durable acks, "
            f"{ack.get('latency_ms', '?')} ms in the node; new context "
            f"{self.journey_context[:24]}…",
        )
        self.panel(f"(a) The request journey of one put, from {coordinator}'s trace", table)

    def sloppy_quorum(self) -> None:
        from dynamokv.impl.client import Client, ClientError

        key = self.journey_key
        _status, ring = self.http_json(
            self.cluster.http_address(self.cluster.names[0]), "GET", f"/cluster/ring?key={key}"
        )
        preference = (
            ring["key"]["preference_list"] if isinstance(ring, dict) and "key" in ring else []
        )
        victim = preference[1] if len(preference) > 1 else self.cluster.names[-1]
        self.victim = victim
        self.cluster.kill(victim)
        lines = [f"SIGKILL {victim} (a replica of {key}): no flush, no goodbye."]
        alive = [name for name in self.cluster.names if name != victim]
        before = self.hints_pending()
        ok = failed = 0
        hinted_trace: list[str] = []
        self.keys_written_while_down: list[str] = []
        for index in range(WRITES_WHILE_DOWN):
            node = alive[index % len(alive)]
            write_key = f"order-{self.run_id}-{index}"
            try:
                with Client(
                    self.cluster.http_address(node),
                    timeout_seconds=10,
                    ssl_context=self.cluster.ssl_context,
                ) as client:
                    client.put(write_key, f"order {index}")
                ok += 1
                self.keys_written_while_down.append(write_key)
            except ClientError:
                failed += 1
        # One traced write to a key the victim owns, sent to its first live owner once that
        # owner no longer counts the victim as healthy, so the trace shows the substitution
        # rather than a send to the dead node that the timing of the detector decided.
        coordinator = next((n for n in preference if n != victim), alive[0])
        if not self.wait_until_unhealthy(coordinator, victim):
            lines.append(
                f"{coordinator} still counted {victim} as healthy after "
                f"{DETECTION_WAIT_SECONDS:.0f} s, so it sends to {victim} as well."
            )
        status, reply = self.http_json(
            self.cluster.http_address(coordinator),
            "PUT",
            f"/kv/{key}?trace=1",
            body=b"milk\neggs",
            headers={
                "Content-Type": "application/octet-stream",
                "X-Dynamo-Context": self.journey_context,
            },
        )
        if status in (200, 204) and isinstance(reply, dict):
            self.journey_context = reply.get("context", self.journey_context)
            for step in reply.get("trace", []):
                if step.get("step") != "replicate":
                    continue
                sent = ", ".join(
                    target["node"]
                    + (" (down)" if target["node"] == victim else "")
                    + (
                        f" (hint for {target['hinted_for']})"
                        if target.get("hinted_for") not in (None, target["node"])
                        else ""
                    )
                    for target in step.get("to", [])
                )
                acked = (
                    ", ".join(
                        a["node"] + (" (its own WAL)" if a["node"] == coordinator else "")
                        for a in step.get("acks", [])
                    )
                    or "none"
                )
                hinted_trace.append(
                    f"traced put of {key} on {coordinator}: sent to {sent}; acked by {acked}; "
                    "the put is acknowledged at the second ack (W=2)"
                )
        elif isinstance(reply, dict):
            hinted_trace.append(
                f"traced put of {key} on {coordinator}: {status} {reply.get('error')}"
            )
        after = self.hints_pending()
        lines.append(
            f"Kept writing: {ok} of {ok + failed} puts acknowledged with W=2 while {victim} is down"
            + (f" ({failed} failed)" if failed else "")
            + "."
        )
        if hinted_trace:
            lines.append("Sloppy quorum, from the node's trace: " + "; ".join(hinted_trace) + ".")
        lines.append(
            f"Hints pending across the live nodes (/metrics): {before} → {after}: the "
            f"writes meant for {victim} wait on substitute nodes (sloppy quorum)."
        )
        lines.append(
            "Dynamo §4.6: the substitute node keeps each write in a separate hint store with the "
            "intended owner's name, and hands it back when the owner returns."
        )
        self.panel(
            "(b) A node dies; writes go on (sloppy quorum, hinted handoff)", "\n".join(lines)
        )

    def recovery(self) -> None:
        from dynamokv.impl.client import Client, ClientError

        victim = self.victim
        lines = []
        before = self.hints_pending()
        replayed_before = self.metric_sum(HINTS_REPLAYED_METRIC)
        ae_before = self.anti_entropy_counters()
        self.cluster.restart(victim)
        lines.append(f"Restarted {victim} with its data directory (WAL replayed on start).")
        start = time.monotonic()
        history = [before]
        pending = before
        while pending > 0 and time.monotonic() - start < HINTS_DRAIN_SECONDS:
            time.sleep(POLL_SECONDS)
            pending = self.hints_pending()
            if history[-1] != pending:
                history.append(pending)
        elapsed = time.monotonic() - start
        if pending == 0:
            lines.append(
                f"Hints pending: {' → '.join(str(h) for h in history) or '0'} "
                f"(drained {elapsed:.1f} s after the restart)."
            )
        else:
            lines.append(
                f"Hints pending still {pending} after {HINTS_DRAIN_SECONDS:.0f} s "
                f"({' → '.join(str(h) for h in history)})."
            )
        replayed = self.metric_sum(HINTS_REPLAYED_METRIC) - replayed_before
        lines.append(
            f"Hints handed off and acknowledged by their owner since the restart "
            f"({HINTS_REPLAYED_METRIC}): {int(replayed)}."
        )
        held = 0
        sample = self.keys_written_while_down
        try:
            with Client(
                self.cluster.http_address(victim),
                timeout_seconds=10,
                ssl_context=self.cluster.ssl_context,
            ) as client:
                for write_key in sample:
                    if client.get(write_key, r=1).values:
                        held += 1
        except ClientError as error:
            lines.append(f"Reading back from {victim} failed: {error}")
        else:
            lines.append(
                f"Reads through {victim} (r=1) find {held} of {len(sample)} keys written while it was down."
            )
        ae_after = self.anti_entropy_counters()
        if ae_after:
            shown = ", ".join(
                f"{name} {ae_before.get(name, 0.0):g} → {value:g}"
                for name, value in sorted(ae_after.items())
            )
            lines.append(f"Merkle anti-entropy counters (/metrics): {shown}.")
        else:
            lines.append("Merkle anti-entropy counters (/metrics): none reported by the nodes.")
        lines.append(
            "Interview Q4: a node that was down catches up from hints first; Merkle trees "
            "find whatever the hints missed, comparing hashes instead of data."
        )
        self.panel(f"(c) {victim} comes back: hint replay and Merkle repair", "\n".join(lines))

    def siblings(self) -> None:
        from dynamokv.impl.client import Client, union
        from rich.table import Table

        key = f"cart:bob-{self.run_id}"
        first, second = (
            self.cluster.http_address(self.cluster.names[0]),
            self.cluster.http_address(self.cluster.names[1]),
        )
        context = self.cluster.ssl_context
        with (
            Client(first, ssl_context=context) as alice_phone,
            Client(second, ssl_context=context) as alice_laptop,
        ):
            alice_phone.put(key, "milk")
            stale = alice_phone.get(key).context
            alice_phone.put(key, "milk\neggs", stale)
            alice_laptop.put(key, "milk\nbread", stale)
            reply = alice_laptop.get(key)
            table = Table(show_header=True, header_style="bold")
            table.add_column("sibling")
            table.add_column("value (items)")
            table.add_column("vector clock")
            for index, sibling in enumerate(reply.siblings, start=1):
                value = (
                    "(deleted)"
                    if sibling.value is None
                    else sibling.value.decode(errors="replace").replace("\n", ", ")
                )
                clock = ", ".join(
                    f"({node}, {counter})" for node, counter in sorted(sibling.clock.items())
                )
                table.add_row(str(index), value, f"[{clock}]")
            merged = alice_laptop.get_resolved(key, union)
            final = alice_phone.get(key)
        from rich.console import Group
        from rich.text import Text

        lines: list[Text | Table] = [
            Text(
                f"Two devices read {key} (context of 'milk'), then both write with that same "
                f"stale context: one adds eggs (via {first}), one adds bread (via {second})."
            ),
            Text(
                f"A get now returns {len(reply.siblings)} siblings; neither clock descends from the other:"
            ),
            table,
            Text(
                f"The client's union resolver merges them and writes back with the get's context: "
                f"{(merged or b'').decode(errors='replace').replace(chr(10), ', ')}."
            ),
            Text(
                f"After the write-back a get returns {len(final.siblings)} sibling: "
                f"{', '.join(v.decode(errors='replace').replace(chr(10), ', ') for v in final.values)}. "
                "With last-write-wins one device's item would be gone (interview Q5)."
            ),
        ]
        self.panel("(d) Two concurrent cart updates: siblings, then a union merge", Group(*lines))

    def finish(self) -> None:
        cli = _command_name()
        scheme = "https" if self.cluster.tls else "http"
        node = f"{scheme}://{self.cluster.http_address(self.cluster.names[0])}"
        other = f"{scheme}://{self.cluster.http_address(self.cluster.names[-1])}"
        certs = self.cluster.certificates_directory
        # The commands below must reach this cluster when pasted: `cluster` and get/put
        # commands look in ./.dynamokv unless told otherwise, and a small cluster has no node 3.
        default = Path(self.args.dir).absolute() == Path(CLUSTER_DIRECTORY).absolute()
        dir_option = "" if default else f" --dir {self.args.dir}"
        from dynamokv.impl.runtime._local_cluster import node_number

        # The number `cluster kill` takes is the one in a node's name: after a leave the
        # names have gaps, so it is read off a node the cluster has.
        example = node_number(self.cluster.names[min(3, len(self.cluster.names)) - 1])
        curl = (
            f"curl --cacert {certs}/ca.crt --cert {certs}/client.crt --key {certs}/client.key"
            if self.cluster.tls
            else "curl"
        )
        body = "\n".join(
            [
                f"The {len(self.cluster.names)}-node cluster is still running (files in {self.cluster.directory}).",
                "",
                f"Watch it live in a browser:  {node}/ui",
                "",
                "Try it with curl:",
                f"  {curl} -X PUT --data-binary 'hello dynamo' {node}/kv/greeting",
                f"  {curl} {other}/kv/greeting",
                f"  {curl} -H 'Accept: application/json' {other}/kv/greeting",
                f"  {curl} -X PUT --data-binary hi '{node}/kv/greeting?trace=1'",
                f"  {curl} {node}/cluster/ring?key=greeting",
                f"  {curl} {node}/metrics",
                "",
                f"Or with the CLI:  {cli} put greeting hello{dir_option};  "
                f"{cli} get greeting{dir_option}",
                f"Break it:         {cli} cluster kill {example}{dir_option};  "
                f"{cli} cluster status{dir_option};  "
                f"{cli} cluster restart {example}{dir_option}",
                f"Stop it:          {cli} cluster down{dir_option}        "
                "(add --wipe to delete the data too)",
            ]
        )
        self.panel("(e) Your turn", body)


def _command_name() -> str:
    """How the reader runs this CLI from where the demo ran: ``dynamokv`` when a shell
    finds it on PATH, else the path the demo was started by (``.venv/bin/dynamokv`` under
    ``make run``, where the virtualenv is not activated)."""
    program = sys.argv[0]
    if shutil.which("dynamokv") or os.path.basename(program) != "dynamokv":
        return "dynamokv"
    return os.path.relpath(program)


class _DemoError(DynamoKVError):
    """A demo step could not go on: printed as one line, non-zero exit."""


def _run(args: argparse.Namespace) -> int:
    from dynamokv.impl.client import ClientError
    from dynamokv.impl.runtime._local_cluster import ClusterError

    demo = _Demo(args)
    try:
        demo.start()
        demo.journey()
        demo.sloppy_quorum()
        demo.recovery()
        demo.siblings()
        demo.finish()
    except (ClusterError, ClientError, _DemoError, OSError, KeyError, TypeError) as error:
        raise CliError(f"demo stopped: {error}") from error
    return 0
