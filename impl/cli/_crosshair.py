"""Run CrossHair over the specs: ``python -m dynamokv.impl.cli._crosshair [crosshair args]``.

icontract wraps every checked function in a few frames and CrossHair adds its own
around each symbolic call, so a contract that calls another contracted function
exceeds Python's default recursion limit (1,000) and CrossHair would report a
``RecursionError`` instead of a verdict. This entry point raises the limit and
then hands over to CrossHair's own command line unchanged.
"""

from __future__ import annotations

import sys

RECURSION_LIMIT = 20_000


def main(argv: list[str]) -> int:
    from crosshair.main import main as crosshair_main

    sys.setrecursionlimit(RECURSION_LIMIT)
    try:
        crosshair_main(argv)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
