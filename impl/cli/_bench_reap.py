"""``dynamokv bench reap``: the disk space that deleting most keys gives back, on real nodes.

A delete writes a tombstone (Dynamo §4.4), so deleting a key alone frees nothing: the
value's bytes go, the key and its tombstone stay. Reaping forgets a deleted key once every
owner holds its tombstone and the grace period has passed (``_reaping.py`` in the core);
the store then records a delete marker, and a compaction that includes the oldest segment
removes the key from disk.

This command starts NODES nodes with a short grace period, writes KEYS keys of V bytes,
stops them and measures every node's data directory after a full compaction; starts them
again, deletes a fraction of the keys, waits until every owner has reaped every deleted
key (no node still holds a tombstone: their ``tombstones_held`` gauges), stops them, and measures again, before and
after a full compaction. Every deleted key is then checked absent from every store.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

REAP_WAIT_SECONDS_MAX = 600.0
"""How long the command waits for the nodes to reap every deleted key."""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "reap",
        help="disk space reclaimed after deleting most keys (tombstone reaping, compaction)",
        description=(
            "Start NODES nodes, write KEYS keys, delete a fraction of them, wait until every "
            "owner reaped every tombstone, and measure the nodes' data directories on disk "
            "before and after (full compactions, with the nodes stopped)."
        ),
    )
    parser.add_argument("--nodes", type=int, default=3, help="nodes (default 3; N is 3)")
    parser.add_argument("--keys", type=int, default=20_000, help="keys written (default 20,000)")
    parser.add_argument("--value-bytes", type=int, default=1024, help="bytes per value")
    parser.add_argument(
        "--delete-fraction", type=float, default=0.9, help="fraction of keys deleted (0.9)"
    )
    parser.add_argument(
        "--grace-seconds", type=int, default=2, help="the nodes' tombstone grace period (2)"
    )
    parser.add_argument(
        "--dir",
        default=None,
        help="where the cluster lives, kept afterwards (default: a temporary directory, "
        "deleted at the end)",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(handler=_reap)


def directory_bytes(path: str) -> int:
    """Bytes of every file under ``path``."""
    return sum(file.stat().st_size for file in Path(path).rglob("*") if file.is_file())


def compact_store(data_dir: str) -> None:
    """A full compaction of a stopped node's data store (delete markers and all)."""
    from dynamokv.impl.storage import Store, StoreOptions

    store = Store.open(f"{data_dir.rstrip('/')}/data", options=StoreOptions(fsync="none"))
    try:
        store.flush()
        store.compact()
        store.wait_for_background()
    finally:
        store.close()


def tombstones_held(cluster: Any) -> int:
    """The deleted keys the nodes still store as tombstones (their
    ``dynamokv_member_tombstones_held`` gauges), -1 if a node does not answer."""
    total = 0
    for name in cluster.names:
        held = cluster.metrics(name).get("dynamokv_member_tombstones_held")
        if held is None:
            return -1
        total += int(held)
    return total


def _delete(cluster: Any, keys: list[bytes], progress: Any) -> list[str]:
    """Delete every key on every replica (the context read first), from one thread per node."""
    from ._bench_keys import for_every_key
    from ._bench_rebalance import every_replica

    w = every_replica(cluster)
    return for_every_key(
        cluster,
        keys,
        lambda client, key: client.delete(key, client.get(key).context, w=w),
        progress=progress,
        description="deleting keys",
    )


def _reap(args: argparse.Namespace) -> int:
    from ._errors import CliError

    if not 1 <= args.nodes <= 16 or not 1 <= args.keys <= 1_000_000:
        raise CliError("--nodes must be in 1..16 and --keys in 1..1,000,000")
    if not 0 < args.delete_fraction <= 1 or not 1 <= args.grace_seconds <= 3600:
        raise CliError("--delete-fraction must be in (0, 1] and --grace-seconds in 1..3600")
    if not 1 <= args.value_bytes <= 1_048_576:
        raise CliError(f"--value-bytes must be in 1..1048576, got {args.value_bytes}")
    directory = Path(args.dir or tempfile.mkdtemp(prefix="dynamokv-reap-"))
    try:
        return _measure_in(directory, args)
    finally:
        if args.dir is None:
            # Nodes stopped by then (the cluster's ``with``); what is measured is printed.
            shutil.rmtree(directory, ignore_errors=True)


def _measure_in(directory: Path, args: argparse.Namespace) -> int:
    import json

    from dynamokv.impl.chaos import stored_versions
    from dynamokv.impl.runtime._local_cluster import ClusterError, LocalCluster
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    from ._bench_rebalance import every_replica, load_keys
    from ._errors import CliError

    keys = [b"reap-%07d" % index for index in range(args.keys)]
    deleted = keys[: round(len(keys) * args.delete_fraction)]
    console = Console(stderr=True, highlight=False)
    try:
        with (
            LocalCluster(
                directory,
                nodes=args.nodes,
                fsync="batch",
                cluster_options={"tombstone_grace_seconds": args.grace_seconds},
                progress=lambda line: console.print(f"[dim]·[/dim] {line}"),
            ) as cluster,
            Progress(console=console, transient=True) as progress,
        ):
            cluster.up()
            data_dirs = {name: cluster.processes[name].data_dir for name in cluster.names}
            load_keys(cluster, keys, args.value_bytes, progress)
            cluster.down()
            for data_dir in data_dirs.values():
                compact_store(data_dir)
            loaded = {name: directory_bytes(path) for name, path in data_dirs.items()}
            cluster.up()
            errors = _delete(cluster, deleted, progress)
            if errors:
                raise CliError(f"{len(errors)} keys could not be deleted: {errors[0]}")
            copies = len(deleted) * every_replica(cluster)
            task = progress.add_task("waiting for every owner to reap", total=copies)
            started = time.monotonic()
            while (held := tombstones_held(cluster)) != 0:
                if held > 0:
                    progress.update(task, completed=max(copies - held, 0))
                if time.monotonic() - started > REAP_WAIT_SECONDS_MAX:
                    if held < 0:
                        raise CliError("a node stopped answering while the keys were reaped")
                    raise CliError(f"{held:,} of {copies:,} tombstones not reaped")
                time.sleep(0.5)
            reap_seconds = time.monotonic() - started
            cluster.down()
            reaped = {name: directory_bytes(path) for name, path in data_dirs.items()}
            for data_dir in data_dirs.values():
                compact_store(data_dir)
            compacted = {name: directory_bytes(path) for name, path in data_dirs.items()}
            left = sum(
                1
                for path in data_dirs.values()
                for versions in stored_versions(path, deleted).values()
                if versions
            )
    except ClusterError as error:
        raise CliError(str(error)) from error
    total_loaded, total_compacted = sum(loaded.values()), sum(compacted.values())
    result = {
        "nodes": args.nodes,
        "keys": args.keys,
        "deleted": len(deleted),
        "value_bytes": args.value_bytes,
        "grace_seconds": args.grace_seconds,
        "reap_seconds": reap_seconds,
        "bytes_loaded": total_loaded,
        "bytes_after_reaping": sum(reaped.values()),
        "bytes_after_compaction": total_compacted,
        "reclaimed_fraction": 1 - total_compacted / total_loaded if total_loaded else 0.0,
        "deleted_keys_left_on_disk": left,
        "directory": str(directory) if args.dir is not None else None,
    }
    if args.json:
        print(json.dumps(result))
    else:
        out = Console(highlight=False)
        table = Table(
            title=f"{args.nodes} nodes, {args.keys:,} keys of {args.value_bytes} bytes, "
            f"{len(deleted):,} deleted; every owner reaped them {reap_seconds:.0f} s after "
            f"the deletes (grace {args.grace_seconds} s)",
            title_justify="left",
        )
        for column in ("node", "loaded", "deleted + reaped", "after full compaction"):
            table.add_column(column, justify="left" if column == "node" else "right")
        for name in loaded:
            table.add_row(name, f"{loaded[name]:,}", f"{reaped[name]:,}", f"{compacted[name]:,}")
        table.add_row(
            "all", f"{total_loaded:,}", f"{sum(reaped.values()):,}", f"{total_compacted:,}"
        )
        out.print(table)
        out.print(
            f"reclaimed {100 * result['reclaimed_fraction']:.1f}% of the bytes on disk; "
            f"deleted keys still stored: {left}"
        )
    return 1 if left else 0
