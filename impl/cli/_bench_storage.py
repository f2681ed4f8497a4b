"""``dynamokv bench storage``: the store against SQLite (WAL, synchronous=FULL)."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("storage", help="durable writes and point reads vs SQLite")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from dynamokv.impl.cli import CliError

    raise CliError("bench storage is not built yet (issue 3)")
