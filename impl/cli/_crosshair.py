"""Run CrossHair over the specs: ``python -m dynamokv.impl.cli._crosshair [crosshair args]``.

icontract wraps every checked function in a few frames and CrossHair adds its own
around each symbolic call, so a contract that calls another contracted function
exceeds Python's default recursion limit (1,000) and CrossHair would report a
``RecursionError`` instead of a verdict. This entry point raises the limit and
then hands over to CrossHair's command line as :func:`dynamokv.proofs.crosshair_main`
runs it (``diffbehavior`` stops at its first difference that shows).
"""

from __future__ import annotations

import sys

RECURSION_LIMIT = 20_000


def main(argv: list[str]) -> int:
    from dynamokv.proofs import crosshair_main

    sys.setrecursionlimit(RECURSION_LIMIT)
    return crosshair_main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
