"""``dynamokv get/put/delete``: talk to a running cluster with the Python client.

Without ``--node`` the commands read ``./.dynamokv/cluster.json`` (``DIR/cluster.json``
with ``--dir DIR``, as ``dynamokv cluster up --dir DIR`` wrote it) and use the first node
that answers ``/health``; for a cluster started with ``--tls`` the same file names the CA
to trust and the client certificate to present, so the commands speak HTTPS.

``put`` is read-modify-write friendly: it first reads the key and writes with that
context, so a value put from the command line supersedes what was there (like a user who
saw the current value). ``--blind`` skips the read, which makes a sibling instead when the
key already has a value: handy to demonstrate conflicts.
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from ._errors import CliError
from ._types import CLUSTER_DIRECTORY

CLUSTER_FILE = os.path.join(CLUSTER_DIRECTORY, "cluster.json")
"""Where ``dynamokv cluster up`` records its nodes (relative to the working directory)."""


def register(subparsers: Any) -> None:
    def common(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("key", metavar="KEY", help="the key (UTF-8)")
        parser.add_argument(
            "--node",
            metavar="HOST:PORT",
            help="a node's HTTP address (default: the first that answers in DIR/cluster.json)",
        )
        parser.add_argument(
            "--dir",
            default=CLUSTER_DIRECTORY,
            help=(
                "the cluster directory, as given to `dynamokv cluster up --dir` "
                f"(default: ./{CLUSTER_DIRECTORY})"
            ),
        )

    get = subparsers.add_parser("get", help="read a key (every sibling)")
    common(get)
    get.add_argument("-r", type=int, metavar="R", help="read quorum (default: the cluster's)")
    get.add_argument("--json", action="store_true", help="print the reply as JSON")
    get.set_defaults(handler=_get)

    put = subparsers.add_parser("put", help="write a value")
    common(put)
    put.add_argument("value", metavar="VALUE", help="the value (UTF-8)")
    put.add_argument("-w", type=int, metavar="W", help="write quorum (default: the cluster's)")
    put.add_argument(
        "--blind", action="store_true", help="do not read first: write without a context"
    )
    put.set_defaults(handler=_put)

    delete = subparsers.add_parser("delete", help="delete a key (a tombstone)")
    common(delete)
    delete.add_argument("-w", type=int, metavar="W", help="write quorum (default: the cluster's)")
    delete.set_defaults(handler=_delete)


def node_addresses(cluster_file: str = CLUSTER_FILE) -> list[str]:
    """The HTTP addresses recorded by ``dynamokv cluster up``.

    Raises:
        CliError: no cluster file, or an unreadable one.
    """

    try:
        with open(cluster_file, encoding="utf-8") as file:
            document = json.load(file)
        addresses = [str(node["http"]) for node in document["nodes"]]
    except FileNotFoundError:
        raise CliError(
            f"no local cluster ({cluster_file} not found): run `dynamokv cluster up`, "
            "or pass the --dir it was started with, or --node HOST:PORT"
        ) from None
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise CliError(f"cannot read {cluster_file}: {error}") from error
    if not addresses:
        raise CliError(f"{cluster_file} lists no nodes: run `dynamokv cluster up`")
    return addresses


def cluster_ssl_context(cluster_file: str = CLUSTER_FILE) -> Any:
    """The HTTPS client context for a ``--tls`` cluster recorded in ``cluster_file``, or
    ``None`` (no file, or plain HTTP).

    Raises:
        CliError: the certificates it names cannot be loaded.
    """
    from dynamokv.impl.runtime import (
        CertificateError,
        NodeCertificatePaths,
        http_client_ssl_context,
    )

    try:
        with open(cluster_file, encoding="utf-8") as file:
            tls = json.load(file).get("settings", {}).get("tls")
    except (OSError, ValueError, AttributeError):
        return None
    if not isinstance(tls, dict):
        return None
    from pathlib import Path

    try:
        return http_client_ssl_context(
            NodeCertificatePaths(Path(tls["ca"]), Path(tls["cert"]), Path(tls["key"]))
        )
    except (CertificateError, KeyError, TypeError) as error:
        raise CliError(
            f"cannot load the TLS client material {cluster_file} names: {error}"
        ) from error


def _client(args: argparse.Namespace) -> Any:
    from dynamokv.impl.client import Client, ClientError

    cluster_file = os.path.join(args.dir, "cluster.json")
    context = cluster_ssl_context(cluster_file)
    if args.node:
        try:
            return Client(args.node, ssl_context=context)
        except ValueError as error:
            raise CliError(str(error)) from error
    tried = []
    for address in node_addresses(cluster_file):
        client = Client(address, timeout_seconds=2.0, ssl_context=context)
        try:
            client.json("/health")
        except ClientError:
            client.close()
            tried.append(address)
            continue
        client.timeout_seconds = 10.0
        return client
    raise CliError(f"no node of the local cluster answers (tried {', '.join(tried)})")


def _utf8(what: str, text: str) -> str:
    """``text`` if it is UTF-8; an argument holding other bytes (a Latin-1 terminal) arrives
    with surrogate escapes, which no encoding of the client accepts."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise CliError(
            f"the {what} is not UTF-8 text (an invalid byte at position {error.start})"
        ) from None
    return text


def _run(args: argparse.Namespace, action: Any) -> int:
    from dynamokv.impl.client import ClientError

    _utf8("key", args.key)
    if getattr(args, "value", None) is not None:
        _utf8("value", args.value)
    client = _client(args)
    try:
        return int(action(client))
    except ClientError as error:
        raise CliError(str(error)) from error
    finally:
        client.close()


def _show(value: bytes | None) -> str:
    if value is None:
        return "(deleted)"
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return "0x" + value.hex()


def _get(args: argparse.Namespace) -> int:
    def action(client: Any) -> int:
        reply = client.get(args.key, r=args.r)
        if args.json:
            print(
                json.dumps(
                    {
                        "key": args.key,
                        "siblings": [
                            {
                                "value": _show(s.value),
                                "tombstone": s.tombstone,
                                "clock": dict(s.clock),
                            }
                            for s in reply.siblings
                        ],
                        "context": reply.context,
                    }
                )
            )
            return 0 if reply.values else 1
        live = [s for s in reply.siblings if not s.tombstone]
        if not live:
            print(f"{args.key}: not found")
            return 1
        if len(live) == 1:
            print(_show(live[0].value))
            return 0
        print(f"{args.key}: {len(live)} siblings (concurrent writes; resolve and put back):")
        for index, sibling in enumerate(live, start=1):
            clock = ", ".join(
                f"{node}:{counter}" for node, counter in sorted(sibling.clock.items())
            )
            print(f"  [{index}] {_show(sibling.value)}    clock {{{clock}}}")
        return 0

    return _run(args, action)


def _put(args: argparse.Namespace) -> int:
    def action(client: Any) -> int:
        context = None if args.blind else client.get(args.key).context
        client.put(args.key, args.value.encode("utf-8"), context, w=args.w)
        print(f"ok: put {args.key}")
        return 0

    return _run(args, action)


def _delete(args: argparse.Namespace) -> int:
    def action(client: Any) -> int:
        context = client.get(args.key).context
        client.delete(args.key, context, w=args.w)
        print(f"ok: deleted {args.key}")
        return 0

    return _run(args, action)
