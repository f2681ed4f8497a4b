"""The error every subcommand raises for something the user can fix.

A module of its own, below the subcommands and :mod:`~dynamokv.impl.cli._main` (which
imports every subcommand), so that a subcommand can raise it without importing the
command line that imports it.
"""

from __future__ import annotations

from dynamokv.spec.errors import DynamoKVError

__all__ = ["EXIT_FAILURE", "EXIT_USAGE", "CliError"]

EXIT_USAGE = 2
EXIT_FAILURE = 1


class CliError(DynamoKVError):
    """An error the user can act on: printed as one line, exit status ``EXIT_FAILURE``."""
