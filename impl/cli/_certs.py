"""``dynamokv certs init``: make the cluster CA and one certificate per node.

The trust model (a private CA per cluster, mutual TLS between peers) is described in
``docs/security.md`` and in :mod:`dynamokv.impl.runtime._tls`, which does the work.
``cryptography`` is imported only when the command runs, so ``--help`` stays instant.
"""

from __future__ import annotations

import argparse
from typing import Any

from ._errors import CliError

DEFAULT_CERTS_DIRECTORY = ".dynamokv/certs"
DEFAULT_NODES_COUNT = 5
NODES_COUNT_MAX = 1000


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("certs", help="TLS certificates for the cluster")
    certs_subparsers = parser.add_subparsers(
        title="commands", metavar="COMMAND", parser_class=type(parser)
    )
    init = certs_subparsers.add_parser(
        "init",
        help="make a cluster CA and node certificates",
        description=(
            "Make a cluster certificate authority and a certificate per node (ECDSA P-256, "
            "SAN 127.0.0.1, localhost and the node name), for mutual TLS between peers and "
            "optional HTTPS. Writes ca.crt, ca.key, NAME.crt and NAME.key."
        ),
    )
    init.add_argument(
        "--dir",
        default=DEFAULT_CERTS_DIRECTORY,
        help=f"where to write the files (default: {DEFAULT_CERTS_DIRECTORY})",
    )
    names = init.add_mutually_exclusive_group()
    names.add_argument(
        "--nodes",
        type=int,
        metavar="N",
        help=f"make certificates for node-1 .. node-N (default: {DEFAULT_NODES_COUNT})",
    )
    names.add_argument("--names", metavar="A,B,C", help="comma-separated node names")
    init.add_argument("--force", action="store_true", help="replace existing files (with a new CA)")
    init.set_defaults(handler=_init)

    def _no_command(_args: argparse.Namespace) -> int:
        parser.print_help()
        return 2

    parser.set_defaults(handler=_no_command)


def _node_names(args: argparse.Namespace) -> list[str]:

    if args.names is not None:
        return [name.strip() for name in args.names.split(",")]
    count = DEFAULT_NODES_COUNT if args.nodes is None else args.nodes
    if not 1 <= count <= NODES_COUNT_MAX:
        raise CliError(f"--nodes must be between 1 and {NODES_COUNT_MAX}, got {count}")
    return [f"node-{index}" for index in range(1, count + 1)]


def _init(args: argparse.Namespace) -> int:
    from dynamokv.impl.runtime import CertificateError, generate_cluster_certificates

    names = _node_names(args)
    try:
        paths = generate_cluster_certificates(args.dir, names, force=args.force)
    except CertificateError as error:
        raise CliError(str(error)) from error
    except OSError as error:
        raise CliError(f"cannot write certificates to {args.dir}: {error.strerror}") from error
    print(f"wrote a cluster CA and {len(names)} node certificates to {args.dir}/:")
    for path in paths:
        print(f"  {path.name}")
    print(f"clients of the HTTP API trust {args.dir}/ca.crt (curl --cacert); keep *.key private")
    return 0
