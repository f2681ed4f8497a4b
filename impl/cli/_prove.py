"""``dynamokv prove``: run every Z3 theorem and its negative control."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("prove", help="run the Z3 theorems and their negative controls")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from dynamokv.proofs import run_cli  # heavy: imports z3

    return run_cli(args)
