"""``dynamokv bench rebalance``: how much data a join moves on real processes (interview Q1).

"If you add a new node to a 10-node Dynamo cluster, what percentage of keys need to move?"
The simulator answers it in one process; this answers it with real node processes and
real disks. It starts S nodes (optionally with weights), writes K keys of V bytes, stops
the nodes and reads every replica's stored bytes from its store on disk; then it starts
them again, joins one more node with ``cluster join`` (weight W), waits until every
transfer is done, stops them and reads the stores again. A byte *moved* is a key's stored
version set (key and value bytes) held by a node after the join that did not hold it
before; the table gives the moved fraction of all stored bytes beside the theory, w/(Σw+w)
(1/11 = 9.09% for an 11th node of equal weight), and each node's bytes beside its weight's
share.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "rebalance",
        help="Q1 on real processes: the bytes a join moves, and bytes per node vs weights",
        description=(
            "Start NODES node processes, write KEYS keys, join one more node, and measure on "
            "the stores on disk the fraction of stored bytes that moved (theory: the "
            "newcomer's weight over the total, 1/11 = 9.09% for an 11th equal node) and each "
            "node's bytes beside its weight's share."
        ),
    )
    parser.add_argument("--nodes", type=int, default=10, help="nodes before the join (default 10)")
    parser.add_argument("--keys", type=int, default=10_000, help="keys written (default 10,000)")
    parser.add_argument("--value-bytes", type=int, default=1024, help="bytes per value")
    parser.add_argument("--weight", type=int, default=1, help="the joining node's weight")
    parser.add_argument(
        "--weights",
        default=None,
        metavar="W1,W2,...",
        help="the initial nodes' weights (default: all 1)",
    )
    parser.add_argument(
        "--fsync",
        choices=("always", "batch", "none"),
        default="batch",
        help="the nodes' WAL policy while loading (default batch)",
    )
    parser.add_argument(
        "--dir",
        default=None,
        help="where the cluster lives, kept afterwards (default: a temporary directory, "
        "deleted at the end)",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(handler=_rebalance)


def _stored_bytes(cluster: Any, keys: list[bytes]) -> dict[str, dict[bytes, int]]:
    """Node -> key -> bytes of the key's stored version set (key and values)."""
    from dynamokv.impl.chaos import stored_versions

    result: dict[str, dict[bytes, int]] = {}
    for name in cluster.names:
        held = stored_versions(cluster.processes[name].data_dir, keys)
        result[name] = {
            key: len(key) + sum(len(version.value or b"") for version in versions)
            for key, versions in held.items()
            if versions
        }
    return result


def every_replica(cluster: Any) -> int:
    """W that waits for every replica of a key: N, or the node count if there are fewer nodes.

    The measurements read the stores on disk, so each write must be on all its replicas.
    """
    return min(int(cluster.n), len(cluster.names))


def load_keys(cluster: Any, keys: list[bytes], value_bytes: int, progress: Any) -> None:
    """Put every key (value: the key padded to ``value_bytes``) on every replica, from one
    thread per node."""
    from ._bench_keys import for_every_key

    w = every_replica(cluster)
    errors = for_every_key(
        cluster,
        keys,
        lambda client, key: client.put(key, key.ljust(value_bytes, b"."), w=w),
        progress=progress,
        description="writing keys",
    )
    if errors:
        from ._errors import CliError

        raise CliError(f"{len(errors)} keys could not be written: {errors[0]}")


def _rebalance(args: argparse.Namespace) -> int:
    from ._errors import CliError

    # At least N = 3 nodes before the join: with fewer, the join also raises N, and the
    # newcomer's copies of every key arrive by anti-entropy, not by the handoff measured.
    if not 3 <= args.nodes <= 32 or not 1 <= args.keys <= 1_000_000:
        raise CliError("--nodes must be in 3..32 and --keys in 1..1,000,000")
    # Every value is checked before the nodes start: a weight the nodes refuse would
    # otherwise surface only when the newcomer exits, after the load.
    if not 1 <= args.value_bytes <= 1_048_576:
        raise CliError(f"--value-bytes must be in 1..1048576, got {args.value_bytes}")
    if not 1 <= args.weight <= 1000:
        raise CliError(f"--weight must be in 1..1000, got {args.weight}")
    try:
        weights = (
            [int(text) for text in args.weights.split(",")] if args.weights else [1] * args.nodes
        )
    except ValueError:
        raise CliError(
            f"--weights must be comma-separated integers, got {args.weights!r}"
        ) from None
    if len(weights) != args.nodes:
        raise CliError(f"--weights needs {args.nodes} weights, got {len(weights)}")
    if not all(1 <= weight <= 1000 for weight in weights):
        raise CliError(f"--weights must each be in 1..1000, got {args.weights}")
    directory = Path(args.dir or tempfile.mkdtemp(prefix="dynamokv-rebalance-"))
    try:
        return _measure_in(directory, args, weights)
    finally:
        if args.dir is None:
            # Nodes stopped by then (the cluster's ``with``); what is measured is printed.
            shutil.rmtree(directory, ignore_errors=True)


def _measure_in(directory: Path, args: argparse.Namespace, weights: list[int]) -> int:
    import json

    from dynamokv.impl.runtime._local_cluster import ClusterError, LocalCluster
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    from ._errors import CliError

    keys = [b"q1-%07d" % index for index in range(args.keys)]
    console = Console(stderr=True, highlight=False)
    try:
        with (
            LocalCluster(
                directory,
                nodes=args.nodes,
                weights=weights,
                fsync=args.fsync,
                progress=lambda line: console.print(f"[dim]·[/dim] {line}"),
            ) as cluster,
            Progress(console=console, transient=True) as progress,
        ):
            cluster.up()
            load_keys(cluster, keys, args.value_bytes, progress)
            cluster.down()
            before = _stored_bytes(cluster, keys)
            cluster.up()
            task = progress.add_task("partition transfers", total=None)

            def on_progress(totals: dict[str, int]) -> None:
                progress.update(
                    task, total=max(totals["started"], 1), completed=totals["completed"]
                )

            newcomer = cluster.join(weight=args.weight, on_progress=on_progress)
            cluster.down()
            after = _stored_bytes(cluster, keys)
            all_weights = {**dict(zip(cluster.names, weights, strict=False)), newcomer: args.weight}
    except ClusterError as error:
        raise CliError(str(error)) from error
    total_before = sum(sum(held.values()) for held in before.values())
    moved = sum(
        size
        for name, held in after.items()
        for key, size in held.items()
        if key not in before.get(name, {})
    )
    total_after = sum(sum(held.values()) for held in after.values())
    weight_sum = sum(all_weights.values())
    theory = args.weight / weight_sum
    result = {
        "nodes_before": args.nodes,
        "keys": args.keys,
        "value_bytes": args.value_bytes,
        "stored_bytes_before": total_before,
        "moved_bytes": moved,
        "moved_fraction": moved / total_before if total_before else 0.0,
        "theory_fraction": theory,
        "nodes": [
            {
                "node": name,
                "weight": all_weights[name],
                "bytes": sum(after[name].values()),
                "share": sum(after[name].values()) / total_after if total_after else 0.0,
                "expected_share": all_weights[name] / weight_sum,
            }
            for name in after
        ],
        "directory": str(directory) if args.dir is not None else None,
    }
    if args.json:
        print(json.dumps(result))
        return 0
    out = Console(highlight=False)
    if not out.is_terminal:
        out.width = max(out.width, 100)
    summary = Table(
        title=f"join of a node of weight {args.weight} to {args.nodes} nodes, {args.keys:,} keys "
        f"of {args.value_bytes} bytes (N=3), measured on the stores on disk",
        title_justify="left",
    )
    for column in ("stored bytes before", "bytes moved", "moved", "theory"):
        summary.add_column(column, justify="right")
    summary.add_row(
        f"{total_before:,}",
        f"{moved:,}",
        f"{100 * result['moved_fraction']:.2f}%",
        f"{100 * theory:.2f}%",
    )
    out.print(summary)
    per_node = Table(title="bytes per node after the join vs weights", title_justify="left")
    for column in ("node", "weight", "bytes", "share", "weight's share"):
        per_node.add_column(column, justify="left" if column == "node" else "right")
    for row in result["nodes"]:
        per_node.add_row(
            row["node"],
            str(row["weight"]),
            f"{row['bytes']:,}",
            f"{100 * row['share']:.2f}%",
            f"{100 * row['expected_share']:.2f}%",
        )
    out.print(per_node)
    return 0
