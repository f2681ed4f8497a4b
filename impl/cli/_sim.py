"""``dynamokv sim``: run the deterministic cluster simulator (filled in by issue 4)."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("sim", help="run the seeded cluster simulator")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from dynamokv.impl.cli import CliError

    raise CliError("the simulator is not built yet (issue 4)")
