"""Install the Debian packages a command needs, when they are missing.

Some of the project's work uses programs that PyPI does not ship: etcd and wrk for the
cluster benchmark, Graphviz for the docs' diagrams, MathJax for their formulas, Chromium and
its driver for the browser tests. The project's machines are Debian and run as root, so the
project installs these itself (``apt-get install -y``), printing each command it runs, rather
than relying on a hand install that only one machine has. Elsewhere the error names the
package to install.

``python -m dynamokv.impl.cli._debian docs browser`` installs a group of packages; the
Makefile's ``docs`` and ``test`` targets call it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ._errors import CliError

__all__ = [
    "GROUPS",
    "DebianInstallError",
    "DebianPackage",
    "ensure_packages",
    "ensure_tool",
    "main",
]

Say = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class DebianPackage:
    """A Debian package and the file whose presence shows it is installed.

    Attributes:
        package: the Debian package name.
        provides: a program on ``PATH`` (no slash) or an absolute file path.
    """

    package: str
    provides: str

    def present(self) -> bool:
        """Whether the program or file is there."""
        if "/" in self.provides:
            return os.path.exists(self.provides)
        return shutil.which(self.provides) is not None


GROUPS: dict[str, tuple[DebianPackage, ...]] = {
    "docs": (
        DebianPackage("graphviz", "dot"),
        DebianPackage("libjs-mathjax", "/usr/share/javascript/mathjax/MathJax.js"),
    ),
    "browser": (
        DebianPackage("chromium", "/usr/bin/chromium"),
        DebianPackage("chromium-driver", "/usr/bin/chromedriver"),
    ),
}
"""The packages each kind of work needs, by group name."""


class DebianInstallError(CliError):
    """A package is missing and could not be installed; the message says which."""


def _run_loud(command: list[str], say: Say) -> bool:
    say(f"$ {' '.join(command)}")
    result = subprocess.run(command, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if result.returncode != 0:
        tail = result.stderr.decode(errors="replace").strip()[-300:]
        say(f"  failed ({result.returncode}): {tail}")
    return result.returncode == 0


def ensure_packages(packages: Sequence[DebianPackage], say: Say) -> None:
    """Install every package of ``packages`` whose file is missing, in one apt-get call.

    Runs ``apt-get update`` and tries again when the first install fails (a fresh
    machine's package lists may be empty or stale).

    Raises:
        DebianInstallError: a package is still missing afterwards, or installing needs
            root (or apt-get) and this process has neither.
    """
    missing = [p for p in packages if not p.present()]
    if not missing:
        return
    names = [p.package for p in missing]
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise DebianInstallError(
            f"missing Debian package(s) {', '.join(names)}: "
            f"install them with apt-get install {' '.join(names)}"
        )
    say(f"installing Debian's {', '.join(names)}")
    environment = ["env", "DEBIAN_FRONTEND=noninteractive"]
    install = [*environment, "apt-get", "install", "-y", "-q", "--no-install-recommends", *names]
    if not _run_loud(install, say):
        _run_loud([*environment, "apt-get", "update", "-q"], say)
        _run_loud(install, say)
    still = [p.package for p in missing if not p.present()]
    if still:
        raise DebianInstallError(f"could not install {', '.join(still)}; install and run again")


def ensure_tool(binary: str, package: str, say: Say) -> str:
    """The path of ``binary``, installing Debian's ``package`` with apt-get if it is missing.

    Raises:
        DebianInstallError: as :func:`ensure_packages`.
    """
    ensure_packages([DebianPackage(package, binary)], say)
    found = shutil.which(binary)
    if found is None:
        raise DebianInstallError(f"{package} is installed but {binary} is not on PATH")
    return found


def main(argv: Sequence[str] | None = None) -> int:
    """Install the named groups (``docs``, ``browser``); exit 1 with one line on failure."""
    groups = list(sys.argv[1:] if argv is None else argv)
    unknown = [g for g in groups if g not in GROUPS]
    if not groups or unknown:
        print(
            f"usage: python -m dynamokv.impl.cli._debian {{{','.join(GROUPS)}}}...", file=sys.stderr
        )
        return 2
    try:
        ensure_packages([p for g in groups for p in GROUPS[g]], lambda line: print(line))
    except DebianInstallError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
