"""``dynamokv bench``: benchmarks that print ratios against a peer measured in the same run.

Benchmarks are never timed tests (docs/architecture.md): they print what they measured,
next to a peer (SQLite for the store, etcd for the cluster) run on the same machine.
"""

from __future__ import annotations

import argparse
from typing import Any

from . import _bench_cluster, _bench_coordination, _bench_reap, _bench_rebalance, _bench_storage


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("bench", help="benchmarks against a peer in the same run")
    bench_subparsers = parser.add_subparsers(
        title="benchmarks", metavar="BENCHMARK", parser_class=type(parser)
    )
    _bench_storage.register(bench_subparsers)
    _bench_cluster.register(bench_subparsers)
    _bench_coordination.register(bench_subparsers)
    _bench_rebalance.register(bench_subparsers)
    _bench_reap.register(bench_subparsers)

    def _no_benchmark(_args: argparse.Namespace) -> int:
        parser.print_help()
        return 2

    parser.set_defaults(handler=_no_benchmark)
