"""The ``dynamokv`` command line.

Every subcommand lives in its own private module with a ``register(subparsers)``
function; heavy imports (z3, trio, the simulator) happen inside the handler, so
``dynamokv --help`` stays instant. Errors the user can fix are raised as
:class:`CliError` and printed as one line with a non-zero exit, never a traceback.
"""

from __future__ import annotations

from ._errors import CliError
from ._main import main

__all__ = ["CliError", "main"]
