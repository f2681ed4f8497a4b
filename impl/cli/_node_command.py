"""``dynamokv node run``: one node process (the trio driver of the core, its HTTP API).

The process prints ``READY http=HOST:PORT peer=HOST:PORT`` on stdout once both listeners
serve (``dynamokv cluster up`` waits for that line), logs one JSON line per significant
event on stderr, and on SIGTERM (or SIGINT) stops gracefully: it stops accepting, lets
in-flight requests finish, makes every pending write durable, closes the store and exits 0.
"""

from __future__ import annotations

import argparse
from typing import Any

from ._errors import CliError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("node", help="run one node process")
    node_subparsers = parser.add_subparsers(
        title="commands", metavar="COMMAND", parser_class=type(parser)
    )
    run = node_subparsers.add_parser(
        "run",
        help="run a node from a TOML configuration",
        description=(
            "Run one dynamokv node: HTTP API, peer listener, WAL store. Flags override the "
            "[node] table of the configuration. See docs/operating.md."
        ),
    )
    run.add_argument("--config", required=True, metavar="PATH.toml", help="the configuration")
    run.add_argument("--name", help="this node's name (one of cluster.members)")
    run.add_argument("--http-port", type=int, metavar="P", help="HTTP API port")
    run.add_argument("--peer-port", type=int, metavar="P", help="peer (node-to-node) port")
    run.add_argument("--data-dir", metavar="D", help="the store directory")
    run.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    run.set_defaults(handler=_run)

    def _no_command(_args: argparse.Namespace) -> int:
        parser.print_help()
        return 2

    parser.set_defaults(handler=_no_command)


def _run(args: argparse.Namespace) -> int:
    import logging
    import signal
    import sys

    import trio
    from dynamokv.impl.runtime import (
        ConfigError,
        NodeApi,
        NodeProcess,
        configure_logging,
        load_config,
    )
    from dynamokv.impl.storage import StorageError

    overrides = {
        "name": args.name,
        "http_port": args.http_port,
        "peer_port": args.peer_port,
        "data_dir": args.data_dir,
    }
    try:
        config = load_config(args.config, overrides=overrides)
    except ConfigError as error:
        raise CliError(str(error)) from error
    configure_logging(config.name, level=getattr(logging, args.log_level.upper()))
    _raise_open_files_limit()

    async def main() -> None:
        process = NodeProcess(config)
        async with trio.open_nursery() as nursery:
            with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                http_port, peer_port = await nursery.start(_serve, process, nursery)
                print(
                    f"READY http={config.host}:{http_port} peer={config.host}:{peer_port}",
                    flush=True,
                )
                async for signum in signals:
                    logging.getLogger("dynamokv.runtime.node").info(
                        "node.signal signal=%s", signal.Signals(signum).name
                    )
                    process.shutdown()
                    break

    async def _serve(
        process: Any, nursery: trio.Nursery, *, task_status: trio.TaskStatus[Any]
    ) -> None:
        try:
            await process.run(http_handler=NodeApi(process).handle, task_status=task_status)
        finally:
            nursery.cancel_scope.cancel()

    try:
        trio.run(main)
    except BaseException as error:
        leaf = _leaf(error)
        if isinstance(leaf, StorageError):
            raise CliError(f"storage: {leaf}") from error
        if isinstance(leaf, OSError):
            raise CliError(
                f"cannot listen on HTTP port {config.http_port} or peer port {config.peer_port}: "
                f"{leaf.strerror or leaf}"
            ) from error
        raise
    sys.stdout.flush()
    return 0


def _leaf(error: BaseException) -> BaseException:
    """The first non-group exception inside trio's exception groups."""
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    return error


def _raise_open_files_limit() -> None:
    """Let the node hold as many sockets as the system allows it (the soft limit up to the
    hard one): every client and peer connection is a file descriptor, and a node that runs
    out refuses everyone, legitimate clients included."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            return  # keep the soft limit: the node still runs, with fewer connections
