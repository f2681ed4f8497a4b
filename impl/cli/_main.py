"""Argument parsing and error handling shared by every subcommand."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from dynamokv.spec.errors import ArgumentError

from . import (
    _bench,
    _certs,
    _chaos,
    _cluster_command,
    _demo,
    _kv,
    _lab,
    _node_command,
    _prove,
    _sim,
)
from ._errors import EXIT_FAILURE, EXIT_USAGE, CliError

# Each module registers one top-level subcommand. Order is the order of --help.
_COMMAND_MODULES = (
    _prove,
    _sim,
    _lab,
    _cluster_command,
    _chaos,
    _demo,
    _node_command,
    _kv,
    _bench,
    _certs,
)


class _UsageError(ArgumentError):
    """A bad command line: printed as one line, exit status ``EXIT_USAGE``."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr instead of usage + error."""

    def error(self, message: str) -> NoReturn:
        raise _UsageError(f"{self.prog}: error: {message} (see --help)")


Handler = Callable[[argparse.Namespace], int]


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="dynamokv",
        description="A formally checked reference implementation of Amazon's Dynamo.",
    )
    subparsers = parser.add_subparsers(
        title="commands", metavar="COMMAND", parser_class=ArgumentParser
    )
    for module in _COMMAND_MODULES:
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        handler: Handler | None = getattr(args, "handler", None)
        if handler is None:
            parser.print_help()
            return EXIT_USAGE
        return handler(args)
    except _UsageError as error:
        # Same shape as every other error line: "PROGRAM: error: what went wrong".
        print(error, file=sys.stderr)
        return EXIT_USAGE
    except (CliError, ArgumentError) as error:
        # An ArgumentError that reached here is input the user gave (a flag value that a
        # constructor refused): one line, like any other bad input, never a traceback.
        print(f"dynamokv: error: {error}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("dynamokv: interrupted", file=sys.stderr)
        return 130
