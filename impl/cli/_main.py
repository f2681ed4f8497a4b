"""Argument parsing and error handling shared by every subcommand."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from types import FrameType, ModuleType
from typing import Any, NoReturn

from dynamokv.spec.errors import ArgumentError

from ._errors import EXIT_FAILURE, EXIT_USAGE, CliError

# Each module registers its top-level subcommands (the names beside it). Order is the order
# of --help.
_COMMAND_MODULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("_prove", ("prove",)),
    ("_sim", ("sim",)),
    ("_lab", ("lab",)),
    ("_cluster_command", ("cluster",)),
    ("_chaos", ("chaos",)),
    ("_demo", ("demo",)),
    ("_node_command", ("node",)),
    ("_kv", ("get", "put", "delete")),
    ("_bench", ("bench",)),
    ("_certs", ("certs",)),
)


_OWN_SIGNAL_HANDLING = frozenset({"node"})
"""Commands that handle SIGTERM themselves (``node run`` stops gracefully on it)."""

EXIT_TERMINATED = 128 + signal.SIGTERM
"""The exit status after a SIGTERM, as a shell reports a process killed by it."""


class _UsageError(ArgumentError):
    """A bad command line: printed as one line, exit status ``EXIT_USAGE``."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr instead of usage + error, and an
    argument no parser knows is refused by the (sub)command it was given to."""

    def error(self, message: str) -> NoReturn:
        raise _UsageError(f"{self.prog}: error: {message} (see --help)")

    def parse_known_args(
        self, args: Iterable[str] | None = None, namespace: Any = None
    ) -> tuple[Any, list[str]]:
        """Parse ``args``, refusing any argument left over, in this parser's own name.

        argparse hands the arguments a subcommand does not know up to the top parser,
        which reports them under its own name (``dynamokv: error: unrecognized
        arguments``), leaving the user to guess whose option they mistyped. Every
        subcommand's parser is of this class and parses its arguments here, the innermost
        first, so the one that refuses them names itself: ``dynamokv cluster up: error:
        unrecognized arguments: --bogus``.
        """
        parsed, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed, extras


Handler = Callable[[argparse.Namespace], int]


def _command_modules(command: str | None) -> list[ModuleType]:
    """The modules that register ``command``, or every command module if it is none of theirs.

    A process that runs one command imports only that command's module: a node process
    (``dynamokv node run``), started many times by ``dynamokv cluster up`` and the tests,
    does not pay for importing the benchmarks, the labs and the prover. Without a known
    command (``--help``, a typo) every module registers, so the help and the error list
    every command.
    """
    chosen = [name for name, commands in _COMMAND_MODULES if command in commands]
    names = chosen or [name for name, _ in _COMMAND_MODULES]
    return [importlib.import_module(f"{__package__}.{name}") for name in names]


def build_parser(command: str | None = None) -> ArgumentParser:
    """The ``dynamokv`` parser, with every subcommand, or only ``command``'s if given."""
    parser = ArgumentParser(
        prog="dynamokv",
        description="A formally checked reference implementation of Amazon's Dynamo.",
    )
    subparsers = parser.add_subparsers(
        title="commands", metavar="COMMAND", parser_class=ArgumentParser
    )
    for module in _command_modules(command):
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(arguments[0] if arguments else None)
    try:
        args = parser.parse_args(arguments)
        handler: Handler | None = getattr(args, "handler", None)
        if handler is None:
            parser.print_help()
            return EXIT_USAGE
        with _sigterm_unwinds(arguments[0]):
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
    except OSError as error:
        # A path the user named that is a file where a directory belongs, or the reverse, a
        # full disk, a permission: the system's own words and the path are what they need
        # to act on, and a traceback hides them at its bottom.
        print(f"dynamokv: error: {_os_error_line(error)}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("dynamokv: interrupted", file=sys.stderr)
        return 130


def _os_error_line(error: OSError) -> str:
    """``PATH: what the system said`` (``No such file or directory``), without the errno."""
    paths = [str(path) for path in (error.filename, error.filename2) if path is not None]
    reason = error.strerror or str(error)
    return f"{' -> '.join(paths)}: {reason}" if paths else reason


@contextlib.contextmanager
def _sigterm_unwinds(command: str) -> Iterator[None]:
    """While ``command`` runs, a SIGTERM unwinds it like Ctrl-C instead of killing it outright.

    Python's default for SIGTERM ends the process at once: no ``finally`` and no ``with``
    exit runs, so the node processes, etcd members and load generators a benchmark or a
    chaos run started would be left running (``timeout``, a CI runner and ``kill`` all send
    SIGTERM). Raising ``SystemExit`` in the main thread instead runs every cleanup on the
    way out. ``node run`` handles SIGTERM itself (a graceful stop), and a command called
    from another thread cannot take signals; the previous handler is put back afterwards.
    """
    if command in _OWN_SIGNAL_HANDLING or threading.current_thread() is not threading.main_thread():
        yield
        return

    def unwind(_signal_number: int, _frame: FrameType | None) -> None:
        # Once: a second SIGTERM (``timeout`` signals the process and then its group) must
        # not cut the cleanup short. A Python handler, not SIG_IGN, which a child started
        # meanwhile would inherit.
        signal.signal(signal.SIGTERM, _during_cleanup)
        print("dynamokv: terminated (SIGTERM); stopping what it started", file=sys.stderr)
        raise SystemExit(EXIT_TERMINATED)

    previous = signal.signal(signal.SIGTERM, unwind)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _during_cleanup(_signal_number: int, _frame: FrameType | None) -> None:
    """SIGTERM while a command unwinds from the first one: already stopping."""
