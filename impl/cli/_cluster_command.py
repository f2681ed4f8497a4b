"""``dynamokv cluster up/down/status/kill/restart``: a local cluster of real node processes.

The work is done by :class:`dynamokv.impl.runtime._local_cluster.LocalCluster`, which the tests and
the demo use too; this module only parses arguments, shows progress and prints tables. The
cluster lives in a directory (``./.dynamokv`` by default), so every command run from the
same place talks to the same cluster, and ``dynamokv get/put/delete`` find it through
``.dynamokv/cluster.json``.
"""

from __future__ import annotations

import argparse
from typing import Any

from ._errors import CliError
from ._types import CLUSTER_DIRECTORY, positive_seconds

DEFAULT_NODES = 5


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "cluster",
        help="start, inspect, break and stop a local cluster",
        description=(
            "A local cluster of node processes on 127.0.0.1, with its files under --dir "
            "(cluster.json, NODE/node.toml, NODE/data/, logs/)."
        ),
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", parser_class=type(parser))

    def add(name: str, help_text: str, description: str) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = commands.add_parser(
            name, help=help_text, description=description
        )
        sub.add_argument(
            "--dir",
            default=CLUSTER_DIRECTORY,
            help=f"the cluster directory (default: ./{CLUSTER_DIRECTORY})",
        )
        return sub

    up = add(
        "up",
        "start the cluster (or reuse the running one)",
        "Start N node processes on 127.0.0.1 and wait until each is READY and every node "
        "agrees on the ring. If a cluster from --dir is running, reuse it; nodes whose "
        "process died are started again with their data.",
    )
    up.add_argument(
        "--nodes",
        type=int,
        default=None,
        help=f"node processes (default {DEFAULT_NODES}; without it, a cluster already in --dir "
        "is reused at its size, nodes joined since included)",
    )
    up.add_argument(
        "--base-port",
        type=int,
        default=None,
        help=(
            "node-i gets HTTP port P+2(i-1) and peer port P+2(i-1)+1: node-1 has P and P+1 "
            "(default: free ports, drawn from DYNAMOKV_PORT_RANGE=LOW-HIGH when it is set)"
        ),
    )
    up.add_argument("-n", "--replicas", type=int, default=3, help="N, replicas per key (default 3)")
    up.add_argument("-r", type=int, default=2, help="default read quorum R (default 2)")
    up.add_argument("-w", type=int, default=2, help="default write quorum W (default 2)")
    up.add_argument(
        "--strict", action="store_true", help="strict quorum: no sloppy substitutes, no hints"
    )
    up.add_argument(
        "--fsync",
        choices=("always", "batch", "none"),
        default="always",
        help="WAL fsync policy (default always: fsync before ack)",
    )
    up.add_argument(
        "--timeout",
        type=positive_seconds,
        default=60.0,
        help="seconds to wait for READY and the ring (default 60)",
    )
    up.add_argument(
        "--tls",
        action="store_true",
        help="mutual TLS between the nodes and HTTPS with client certificates, with a cluster "
        "CA and certificates made in DIR/certs (when missing)",
    )
    up.add_argument(
        "--netns",
        action="store_true",
        help="one host per node: Linux network namespaces on a bridge made for this cluster "
        "(root only; `down` removes them)",
    )
    up.set_defaults(handler=_up)

    status = add(
        "status",
        "a table of the nodes",
        "Each node's number, name, addresses, state (up, down, paused, partitioned or cut "
        "off), member status in gossip, pid, partitions, keys, hints pending and transfers "
        "running; --json prints the same as a JSON list, one object per node.",
    )
    status.add_argument("--json", action="store_true", help="print JSON instead of a table")
    status.set_defaults(handler=_status)

    partition = add(
        "partition",
        "cut the network between groups of nodes (no root needed)",
        "Make the nodes drop (or with --delay-ms, delay) every message between the groups, "
        "through their own peer fault layer: GROUP/GROUP[/GROUP...], each GROUP a "
        "comma-separated list of node names or numbers, e.g. 1,2/3,4,5. Nodes in no group "
        "still reach everyone. Clients reach every node as before. Replaces any partition "
        "set before; `cluster heal` removes it.",
    )
    partition.add_argument("groups", help="the groups, e.g. 1,2/3,4,5 or node-1/node-2")
    partition.add_argument(
        "--one-way",
        action="store_true",
        help="cut only the traffic from the first group to the second (FROM/TO)",
    )
    partition.add_argument(
        "--delay-ms",
        type=int,
        default=None,
        metavar="MS",
        help="delay the traffic by MS milliseconds instead of dropping it",
    )
    partition.set_defaults(handler=_partition)

    join = add(
        "join",
        "start one more node and add it to the ring",
        "Start a new node outside the ring, with the running nodes as its seeds; once they "
        "hear of it by gossip, one of them adds it to the ring (POST /admin/join, Dynamo "
        "§4.8.1): it takes its share of the partitions, Q·w/Σw, and the old owners stream "
        "that data to it in batches while they keep serving. Shows the transfers' progress.",
    )
    join.add_argument(
        "--weight",
        type=int,
        default=1,
        help="the node's share relative to the others' (default 1; 2 takes twice the data)",
    )
    join.set_defaults(handler=_join)

    for name, help_text, description, handler in _ONE_NODE_COMMANDS:
        sub = add(name, help_text, description)
        sub.add_argument("node", help="a node's name or number, as `status` shows it")
        sub.set_defaults(handler=handler)

    heal = add("heal", "end every partition", "Every node talks to every node again.")
    heal.set_defaults(handler=_heal)

    down = add(
        "down",
        "stop every node",
        "SIGTERM every node, wait, then SIGKILL what is left. Data is kept unless --wipe.",
    )
    down.add_argument(
        "--wipe", action="store_true", help="also delete the data, logs and cluster.json"
    )
    down.set_defaults(handler=_down)

    def _no_command(_args: argparse.Namespace) -> int:
        parser.print_help()
        return 2

    parser.set_defaults(handler=_no_command)


def _cluster(args: argparse.Namespace, **options: Any) -> Any:
    from dynamokv.impl.runtime._local_cluster import ClusterError, LocalCluster

    try:
        return LocalCluster(args.dir, stop_on_exit=False, **options)
    except ClusterError as error:
        raise CliError(str(error)) from error


def _progress() -> Any:
    from rich.console import Console

    console = Console(stderr=True, highlight=False)

    def say(message: str) -> None:
        console.print(f"[dim]·[/dim] {message}")

    return say


def _up(args: argparse.Namespace) -> int:
    from dynamokv.impl.runtime._local_cluster import ClusterError

    nodes = DEFAULT_NODES if args.nodes is None else args.nodes
    cluster = _cluster(
        args,
        nodes=nodes,
        n=args.replicas,
        r=args.r,
        w=args.w,
        strict=args.strict,
        fsync=args.fsync,
        base_port=args.base_port,
        progress=_progress(),
        ready_timeout_seconds=args.timeout,
        ring_timeout_seconds=args.timeout,
        netns=args.netns,
        tls=args.tls,
    )
    if args.nodes is not None and cluster.processes and len(cluster.processes) != args.nodes:
        raise CliError(
            f"{cluster.directory} holds a {len(cluster.processes)}-node cluster; "
            f"`dynamokv cluster down --wipe --dir {args.dir}` first to make one of {args.nodes}"
        )
    try:
        started = cluster.up()
    except ClusterError as error:
        raise CliError(str(error)) from error
    _print_status(cluster)
    verb = f"started {len(started)} node(s)" if started else "reused the running cluster"
    first = cluster.http_address(cluster.names[0])
    if cluster.tls:
        certs = cluster.certificates_directory
        curl = f"curl --cacert {certs}/ca.crt --cert {certs}/client.crt --key {certs}/client.key"
        url = f"https://{first}/kv/greeting"
    else:
        curl, url = "curl", f"http://{first}/kv/greeting"
    print(f"{verb}; try: {curl} -X PUT --data-binary hello {url} && {curl} {url}")
    return 0


def _status_rows(cluster: Any) -> list[dict[str, Any]]:
    """One dict per node: what ``status`` shows, as ``--json`` prints it."""
    from dynamokv.impl.runtime._local_cluster import node_number

    members = cluster.member_view()
    rows: list[dict[str, Any]] = []
    for position, row in enumerate(cluster.status(), start=1):
        info = cluster.processes[row.name]
        index = node_number(row.name) or position
        if row.paused:
            state = "paused"
        elif row.cut_off:
            state = "cut off"
        elif not row.up:
            state = "down"
        elif info.faults:
            state = "partitioned"
        else:
            state = "up"
        transfers = row.metrics.get("dynamokv_transfers_in_flight")
        rows.append(
            {
                "index": index,
                "node": row.name,
                "http": row.http,
                "peer": info.peer,
                "state": state,
                "member": members.get(row.name, {}).get("status"),
                "weight": info.weight,
                "pid": row.pid,
                "partitions": row.partitions,
                "keys": row.keys,
                "hints_pending": row.hints_pending,
                "transfers": None if transfers is None else int(transfers),
            }
        )
    return rows


_STATE_STYLES = {"up": "green", "down": "red"}
"""How ``status`` colours a state (any other state is yellow)."""

_STATUS_COLUMNS = (
    ("#", "index"),
    ("node", "node"),
    ("http", "http"),
    ("peer", "peer"),
    ("state", "state"),
    ("member", "member"),
    ("pid", "pid"),
    ("partitions", "partitions"),
    ("keys", "keys"),
    ("hints", "hints_pending"),
    ("transfers", "transfers"),
)
"""The status table's columns: heading and field of :func:`_status_rows`."""


def _print_status(cluster: Any) -> None:
    from rich.console import Console
    from rich.measure import Measurement
    from rich.table import Table

    rows = _status_rows(cluster)
    table = Table(title=f"cluster in {cluster.directory}", title_justify="left")
    for heading, field in _STATUS_COLUMNS:
        # Nothing is cut short or wrapped: on a narrow terminal the lines run long instead.
        table.add_column(
            heading,
            no_wrap=True,
            justify="left" if field in ("node", "http", "peer", "state", "member") else "right",
        )
    for row in rows:
        cells = []
        for _heading, field in _STATUS_COLUMNS:
            value = row[field]
            if field == "state":
                cells.append(f"[{_STATE_STYLES.get(value, 'yellow')}]{value}[/]")
            elif field == "member":
                weight = row["weight"]
                cells.append(
                    ("—" if value is None else str(value))
                    + (f" (w={weight})" if weight != 1 else "")
                )
            elif value is None:
                cells.append("—")
            elif isinstance(value, int) and field not in ("index", "pid"):
                cells.append(f"{value:,}")
            else:
                cells.append(str(value))
        table.add_row(*cells)
    console = Console(highlight=False)
    needed = Measurement.get(console, console.options.update_width(1000), table).maximum
    console.width = max(console.width, needed)
    console.print(table)


def _status(args: argparse.Namespace) -> int:
    import json

    cluster = _cluster(args)
    if not cluster.processes:
        raise CliError(f"no cluster in {cluster.directory}; start one with `dynamokv cluster up`")
    if args.json:
        print(json.dumps(_status_rows(cluster), indent=2))
    else:
        _print_status(cluster)
    return 0


def _kill(args: argparse.Namespace) -> int:
    name = _run(args, lambda cluster: cluster.kill(args.node))
    print(f"{name} is down (SIGKILL); `dynamokv cluster restart {name}` brings it back")
    return 0


def _restart(args: argparse.Namespace) -> int:
    def restart(cluster: Any) -> tuple[str, str]:
        name = cluster.restart(args.node)
        return name, cluster.http_address(name)

    name, address = _run(args, restart)
    print(f"{name} is up again on {address}")
    return 0


def _existing_cluster(args: argparse.Namespace) -> Any:
    """The cluster in ``--dir``, or a one-line error when there is none.

    Checked before anything touches the directory: a mistyped ``--dir`` must not leave a
    directory behind (taking the manager's lock creates one), nor an empty progress line.
    """
    cluster = _cluster(args, progress=_progress())
    if not cluster.processes:
        raise CliError(f"no cluster in {cluster.directory}; start one with `dynamokv cluster up`")
    return cluster


def _run(args: argparse.Namespace, action: Any, cluster: Any = None) -> Any:
    """``action(cluster)`` with a cluster error turned into a one-line CLI error."""
    from dynamokv.impl.runtime._local_cluster import ClusterError

    if cluster is None:
        cluster = _existing_cluster(args)
    try:
        return action(cluster)
    except ClusterError as error:
        raise CliError(str(error)) from error


def _partition_groups(text: str) -> list[list[str]]:
    """``1,2/3,4,5`` as ``[["1", "2"], ["3", "4", "5"]]``.

    An empty group or name (``1,2/``, ``1//2``, ``1,,2/3``) is refused by what it is: left
    to the node lookup, it would be reported as a node named ``''``.
    """
    groups = [[name.strip() for name in group.split(",")] for group in text.split("/")]
    if any(not name for group in groups for name in group):
        raise CliError(
            f"{text!r} has an empty group or node name; write GROUP/GROUP, each GROUP "
            "a comma-separated list of node names or numbers, as 1,2/3,4,5"
        )
    return groups


def _partition(args: argparse.Namespace) -> int:
    groups = _partition_groups(args.groups)
    lines = _run(
        args,
        lambda cluster: cluster.partition(groups, one_way=args.one_way, delay_ms=args.delay_ms),
    )
    for line in lines:
        print(line)
    print("`dynamokv cluster heal` ends it")
    return 0


def _join(args: argparse.Namespace) -> int:
    from rich.progress import Progress

    from ._errors import CliError

    if not 1 <= args.weight <= 1000:
        raise CliError(f"--weight must be in 1..1000, got {args.weight}")
    existing = _existing_cluster(args)
    with Progress(transient=True) as progress:
        task = progress.add_task("partition transfers", total=None)

        def on_progress(totals: dict[str, int]) -> None:
            progress.update(
                task,
                total=max(totals["started"], 1),
                completed=totals["completed"],
                description=f"partition transfers ({totals['in_flight']} running)",
            )

        name = _run(
            args,
            lambda cluster: cluster.join(weight=args.weight, on_progress=on_progress),
            existing,
        )
    cluster = _cluster(args)
    _print_status(cluster)
    print(f"{name} joined the ring with weight {args.weight}")
    return 0


def _leave(args: argparse.Namespace) -> int:
    from rich.progress import Progress

    existing = _existing_cluster(args)
    resolved = _run(args, lambda cluster: cluster.resolve(args.node), existing)
    was_up = existing.is_up(resolved)
    with Progress(transient=True) as progress:
        task = progress.add_task("keys to hand off", total=None)
        first: list[int] = []

        def on_progress(totals: dict[str, int]) -> None:
            if not first:
                first.append(max(totals["keys_left"], 1))
            progress.update(
                task,
                total=first[0],
                completed=first[0] - min(first[0], totals["keys_left"]),
                description=f"keys to hand off ({totals['in_flight']} transfers running)",
            )

        name = _run(
            args, lambda cluster: cluster.leave(args.node, on_progress=on_progress), existing
        )
    if was_up:
        print(f"{name} left the ring and is stopped; its data is on the other nodes")
    else:
        # A dead node hands nothing off (Dynamo §4.8.1 removes it all the same): its
        # keys live on in the other replicas, and anti-entropy copies them to the
        # partitions' new owners.
        print(
            f"{name} was down, so it left the ring without handing its data off; the "
            "other replicas hold its keys, and anti-entropy copies them to the new owners"
        )
    return 0


def _isolate(args: argparse.Namespace) -> int:
    name = _run(args, lambda cluster: cluster.isolate(args.node))
    print(f"{name} is cut off (bridge port down); `dynamokv cluster heal` reconnects it")
    return 0


def _heal(args: argparse.Namespace) -> int:
    healed = _run(args, lambda cluster: cluster.heal())
    print(f"healed {len(healed)} node(s): every node talks to every node")
    return 0


def _pause(args: argparse.Namespace) -> int:
    name = _run(args, lambda cluster: cluster.pause(args.node))
    print(f"{name} is paused (SIGSTOP); `dynamokv cluster resume {name}` wakes it")
    return 0


def _resume(args: argparse.Namespace) -> int:
    name = _run(args, lambda cluster: cluster.resume(args.node))
    print(f"{name} is running again")
    return 0


def _down(args: argparse.Namespace) -> int:
    from dynamokv.impl.runtime._local_cluster import ClusterError

    cluster = _cluster(args, progress=_progress())
    if not cluster.processes:
        print(f"no cluster in {cluster.directory}")
        return 0
    try:
        stopped = cluster.down(wipe=args.wipe)
    except ClusterError as error:
        raise CliError(str(error)) from error
    kept = "data wiped" if args.wipe else f"data kept in {cluster.directory}"
    print(f"stopped {len(stopped)} node(s); {kept}")
    return 0


_ONE_NODE_COMMANDS = (
    ("kill", "SIGKILL one node (a crash)", "SIGKILL one node: no flush, no goodbye.", _kill),
    (
        "restart",
        "start one node again",
        "Start one node again with its data (stopping it gracefully first if it runs).",
        _restart,
    ),
    (
        "leave",
        "hand one node's data off and stop it",
        "Remove a node from the ring (POST /admin/leave on another node, Dynamo §4.8.1): its "
        "partitions go to the others, it streams its data to them, says it has left, and is "
        "stopped. Shows how many of its keys are left to hand off.",
        _leave,
    ),
    (
        "isolate",
        "cut one host off the bridge (--netns clusters)",
        "Set the node's bridge port down: on a cluster of network-namespace hosts "
        "(`cluster up --netns`), nobody reaches it, clients included.",
        _isolate,
    ),
    (
        "pause",
        "freeze one node (SIGSTOP)",
        "SIGSTOP one node: it keeps its sockets and data but answers nothing until "
        "`cluster resume`, as during a long GC pause. Peers suspect it; writes go to "
        "substitutes (sloppy quorum).",
        _pause,
    ),
    ("resume", "unfreeze a paused node (SIGCONT)", "SIGCONT a paused node.", _resume),
)
"""The commands that act on one node, given by name or number: name, help, description,
handler."""
