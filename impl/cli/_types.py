"""Argument types and defaults shared by subcommands: a bad value is a usage error naming the flag.

argparse calls these while it parses, so a value that cannot be right (a timeout of zero,
a result file that is a directory) stops the command before it starts nodes or runs a
benchmark for minutes, instead of failing at the end or being read as something else.
"""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["CLUSTER_DIRECTORY", "output_file", "positive_seconds"]

CLUSTER_DIRECTORY = ".dynamokv"
"""Where ``dynamokv cluster up`` keeps a cluster unless given ``--dir`` (and where the
``cluster``, ``demo`` and ``get/put/delete`` commands look): the runtime's
``DEFAULT_CLUSTER_DIRECTORY``, named here so that parsing arguments imports no runtime."""


def positive_seconds(text: str) -> float:
    """A number of seconds greater than zero (a zero or negative bound would end at once)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive: {text!r}")
    return value


def output_file(text: str) -> Path:
    """A file the command will write at the end: not a directory, in a directory that exists.

    Checked before the work, so that a typo does not cost the results of a long run.
    """
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a directory, not a file")
    if not path.absolute().parent.is_dir():
        raise argparse.ArgumentTypeError(f"{path.absolute().parent} is not a directory")
    return path
