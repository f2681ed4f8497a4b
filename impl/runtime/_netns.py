"""Hosts on one machine: Linux network namespaces on a bridge, made and removed by us.

A node that only ever talks to 127.0.0.1 proves little about a cluster: every node shares
one address, one port space and one loopback device that never fails. Here each node gets a
*host* of its own, a network namespace with one interface and one address, and the hosts
meet on a Linux bridge, as machines meet on a switch. A partition is then a real one: a
bridge port set down (the host is cut off from everyone, clients included), or a group of
hosts moved to a bridge of its own (the groups cannot reach each other; only the first group
shares a bridge with the clients).

Why it is built this way:

* **Root, and nothing else.** Namespaces, veth pairs and bridges need ``CAP_NET_ADMIN``;
  there is no ``tc netem`` or iptables on these machines, and none is needed: delay and
  one-way loss come from the nodes' own peer fault layer (``_faults.py``).
* **Every name and subnet carries a per-run suffix** (six hex digits), so two runs, two
  test workers or two engineers on one machine never collide: bridge ``dkv<suffix>b0``,
  host-side ends ``dkv<suffix>h<i>``, namespaces ``dkv-<suffix>-<i>``, subnet
  ``10.A.B.0/24`` chosen from the suffix among the /24s no interface uses. Interface names
  stay within Linux's 15 characters.
* **Addresses exist only on that bridge.** Host *i* is ``10.A.B.i``; the bridge itself has
  ``10.A.B.254`` in the root namespace, which is how the clients (the CLI, the tests, the
  chaos workload) reach the nodes. Nothing is routed anywhere else.
* **Teardown always runs and is idempotent.** :meth:`NetnsHosts.destroy` kills whatever
  still runs in the namespaces, deletes them (which deletes their veth pairs) and the
  bridges, ignoring what is already gone; :func:`remove_leftovers` does the same for any
  suffix found on the machine, for a test session's last line of defence.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from dynamokv.spec.errors import DynamoKVError

__all__ = [
    "NAME_PREFIX",
    "NetnsError",
    "NetnsHosts",
    "created_suffixes",
    "leftovers",
    "netns_available",
    "remove_leftovers",
]

NAME_PREFIX = "dkv"
"""Every interface and namespace this module makes starts with it."""

HOSTS_COUNT_MAX = 64
BRIDGES_COUNT_MAX = 8
"""Bridges per run: the clients' bridge and one per extra partition group."""

CLIENT_HOST_OCTET = 254
COMMAND_TIMEOUT_SECONDS = 20.0
DESTROY_WAIT_SECONDS = 10.0
"""How long :meth:`NetnsHosts.destroy` waits for the kernel to finish removing devices."""


class NetnsError(DynamoKVError):
    """A namespace, interface or address could not be made; the message is one line."""


def netns_available() -> str | None:
    """``None`` if this process can make namespaces, else the one-line reason why not."""
    if os.geteuid() != 0:
        return "network namespaces need root (CAP_NET_ADMIN)"
    if not os.path.exists("/usr/sbin/ip") and not os.path.exists("/sbin/ip"):
        return "the ip command (iproute2) is missing"
    return None


def _ip(*arguments: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        ["ip", *arguments],
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_SECONDS,
        check=False,
    )
    if check and done.returncode != 0:
        message = (done.stderr or done.stdout).strip().splitlines()
        raise NetnsError(f"ip {' '.join(arguments)}: {message[-1] if message else done.returncode}")
    return done


_CREATED_SUFFIXES: set[str] = set()
"""Suffixes of the hosts this process created: what a test session sweeps at its end."""


def created_suffixes() -> list[str]:
    """The per-run suffixes of every :class:`NetnsHosts` this process created."""
    return sorted(_CREATED_SUFFIXES)


def _subnets_in_use() -> set[tuple[int, int]]:
    """``(A, B)`` of every ``10.A.B.x`` address on any interface of the root namespace."""
    done = _ip("-j", "-4", "addr", "show", check=False)
    used: set[tuple[int, int]] = set()
    try:
        interfaces = json.loads(done.stdout or "[]")
    except ValueError:
        return used
    for interface in interfaces:
        for address in interface.get("addr_info", []):
            parts = str(address.get("local", "")).split(".")
            if len(parts) == 4 and parts[0] == "10":
                used.add((int(parts[1]), int(parts[2])))
    return used


def _choose_subnet(suffix: str) -> tuple[int, int]:
    """A free ``10.A.B.0/24``, starting from one derived from ``suffix``."""
    used = _subnets_in_use()
    seed = int(suffix, 16)
    for step in range(4096):
        candidate = (200 + (seed + step) % 50, (seed // 50 + step) % 256)
        if candidate not in used:
            return candidate
    raise NetnsError("no free 10.x.y.0/24 subnet for the hosts")


@dataclass
class NetnsHosts:
    """``count`` hosts (namespaces) on a bridge; see the module docstring.

    Args:
        count: how many hosts.
        suffix: the per-run suffix (default: six random hex digits).

    Use :meth:`create`, then :meth:`destroy` (also as a context manager).
    """

    count: int
    suffix: str = field(default_factory=lambda: secrets.token_hex(3))
    subnet: tuple[int, int] | None = None
    bridges: list[str] = field(default_factory=list)
    # Host index (0-based) -> the bridge it is attached to, and whether its port is up.
    attached: dict[int, int] = field(default_factory=dict)
    isolated: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        if not 1 <= self.count <= HOSTS_COUNT_MAX:
            raise NetnsError(f"hosts must be between 1 and {HOSTS_COUNT_MAX}, got {self.count}")
        if len(self.suffix) != 6 or any(c not in "0123456789abcdef" for c in self.suffix):
            raise NetnsError(f"the suffix must be six hex digits, got {self.suffix!r}")

    # -- names and addresses ------------------------------------------------------------

    def namespace(self, index: int) -> str:
        """The namespace of host ``index`` (0-based)."""
        return f"{NAME_PREFIX}-{self.suffix}-{index + 1}"

    def port(self, index: int) -> str:
        """The host-side end of host ``index``'s veth pair: its bridge port."""
        return f"{NAME_PREFIX}{self.suffix}h{index + 1}"

    def bridge(self, number: int) -> str:
        """Bridge ``number`` (0: the clients' bridge)."""
        return f"{NAME_PREFIX}{self.suffix}b{number}"

    def address(self, index: int) -> str:
        """Host ``index``'s address."""
        if self.subnet is None:
            raise NetnsError("the hosts are not created yet")
        return f"10.{self.subnet[0]}.{self.subnet[1]}.{index + 1}"

    @property
    def client_address(self) -> str:
        """The root namespace's address on the clients' bridge."""
        if self.subnet is None:
            raise NetnsError("the hosts are not created yet")
        return f"10.{self.subnet[0]}.{self.subnet[1]}.{CLIENT_HOST_OCTET}"

    def exec_prefix(self, index: int) -> list[str]:
        """The argv prefix that runs a command on host ``index``."""
        return ["ip", "netns", "exec", self.namespace(index)]

    # -- lifecycle ----------------------------------------------------------------------

    def create(self) -> None:
        """Make the bridge, the namespaces, their veth pairs and addresses.

        Raises:
            NetnsError: not root, or an ``ip`` command failed (everything made so far is
                removed first).
        """
        reason = netns_available()
        if reason is not None:
            raise NetnsError(reason)
        if self.subnet is None or self.subnet in _subnets_in_use():
            self.subnet = _choose_subnet(self.suffix)
        _CREATED_SUFFIXES.add(self.suffix)
        try:
            self._add_bridge(0)
            _ip("addr", "add", f"{self.client_address}/24", "dev", self.bridge(0))
            for index in range(self.count):
                self._add_host(index)
        except (NetnsError, OSError, subprocess.SubprocessError) as error:
            self.destroy()
            raise NetnsError(str(error)) from error

    def _add_host(self, index: int) -> None:
        namespace = self.namespace(index)
        _ip("netns", "add", namespace)
        _ip(
            "link", "add", self.port(index), "type", "veth",
            "peer", "name", "eth0", "netns", namespace,
        )  # fmt: skip
        _ip("link", "set", self.port(index), "master", self.bridge(0))
        _ip("link", "set", self.port(index), "up")
        _ip("-n", namespace, "addr", "add", f"{self.address(index)}/24", "dev", "eth0")
        _ip("-n", namespace, "link", "set", "eth0", "up")
        _ip("-n", namespace, "link", "set", "lo", "up")
        self.attached[index] = 0

    def add_host(self) -> int:
        """One more host on the clients' bridge (a node joining); returns its index.

        Raises:
            NetnsError: too many hosts, or an ``ip`` command failed.
        """
        if self.count >= HOSTS_COUNT_MAX:
            raise NetnsError(f"at most {HOSTS_COUNT_MAX} hosts")
        index = self.count
        self.count += 1
        try:
            self._add_host(index)
        except (NetnsError, OSError, subprocess.SubprocessError) as error:
            _ip("link", "del", self.port(index), check=False)
            _ip("netns", "del", self.namespace(index), check=False)
            self.count -= 1
            raise NetnsError(str(error)) from error
        return index

    def _add_bridge(self, number: int) -> None:
        name = self.bridge(number)
        _ip("link", "add", name, "type", "bridge")
        _ip("link", "set", name, "up")
        if name not in self.bridges:
            self.bridges.append(name)

    def destroy(self) -> None:
        """Kill what runs on the hosts and remove namespaces and bridges (idempotent)."""
        for index in range(self.count):
            namespace = self.namespace(index)
            _kill_namespace_processes(namespace)
            # Deleting the pair here, not by the namespace's teardown: the kernel destroys a
            # namespace's devices asynchronously, after `ip netns del` has returned.
            _ip("link", "del", self.port(index), check=False)
            _ip("netns", "del", namespace, check=False)
        for number in range(BRIDGES_COUNT_MAX):
            _ip("link", "del", self.bridge(number), check=False)
        self.bridges.clear()
        self.attached.clear()
        self.isolated.clear()
        deadline = time.monotonic() + DESTROY_WAIT_SECONDS
        while leftovers([self.suffix]) != ([], []) and time.monotonic() < deadline:
            time.sleep(0.05)

    def __enter__(self) -> NetnsHosts:
        self.create()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.destroy()

    # -- partitions ---------------------------------------------------------------------

    def partition(self, groups: Sequence[Sequence[int]]) -> None:
        """Put each group of hosts on a bridge of its own; hosts in no group, and the
        first group, stay on the clients' bridge. Replaces any partition before."""
        if len(groups) > BRIDGES_COUNT_MAX:
            raise NetnsError(f"at most {BRIDGES_COUNT_MAX} groups")
        self.heal()
        for number, group in enumerate(groups):
            if number and self.bridge(number) not in self.bridges:
                self._add_bridge(number)
            for index in group:
                self._attach(index, number)

    def isolate(self, index: int) -> None:
        """Set host ``index``'s bridge port down: it reaches nobody, nobody reaches it."""
        _ip("link", "set", self.port(index), "down")
        self.isolated.add(index)

    def heal(self) -> None:
        """Every host back on the clients' bridge, every port up."""
        for index in range(self.count):
            if self.attached.get(index, 0) != 0:
                self._attach(index, 0)
            if index in self.isolated:
                _ip("link", "set", self.port(index), "up")
        self.isolated.clear()

    def _attach(self, index: int, number: int) -> None:
        _ip("link", "set", self.port(index), "master", self.bridge(number))
        self.attached[index] = number

    def reachable(self, first: int, second: int) -> bool:
        """Whether hosts ``first`` and ``second`` can exchange packets now."""
        if first in self.isolated or second in self.isolated:
            return first == second
        return self.attached.get(first, 0) == self.attached.get(second, 0)

    def client_reaches(self, index: int) -> bool:
        """Whether the clients (root namespace) reach host ``index`` now."""
        return index not in self.isolated and self.attached.get(index, 0) == 0

    # -- persistence --------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """What ``cluster.json`` keeps, for :meth:`from_json`."""
        return {
            "count": self.count,
            "suffix": self.suffix,
            "subnet": list(self.subnet) if self.subnet else None,
            "bridges": list(self.bridges),
            "attached": {str(index): number for index, number in self.attached.items()},
            "isolated": sorted(self.isolated),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> NetnsHosts:
        """The hosts :meth:`to_json` described (already created)."""
        subnet = data.get("subnet")
        return cls(
            count=int(data["count"]),
            suffix=str(data["suffix"]),
            subnet=(int(subnet[0]), int(subnet[1])) if subnet else None,
            bridges=[str(name) for name in data.get("bridges", [])],
            attached={
                int(index): int(number) for index, number in data.get("attached", {}).items()
            },
            isolated={int(index) for index in data.get("isolated", [])},
        )


def _kill_namespace_processes(namespace: str) -> None:
    """SIGKILL every process in ``namespace`` and wait (bounded) until they are gone."""
    done = _ip("netns", "pids", namespace, check=False)
    pids = [int(text) for text in done.stdout.split() if text.isdigit()]
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5.0
    while pids and time.monotonic() < deadline:
        pids = [pid for pid in pids if os.path.exists(f"/proc/{pid}")]
        if pids:
            time.sleep(0.02)


def leftovers(suffixes: Sequence[str] | None = None) -> tuple[list[str], list[str]]:
    """Namespaces and links this module made that still exist (all suffixes, or those)."""

    def ours(name: str) -> bool:
        if not name.startswith(NAME_PREFIX):
            return False
        return suffixes is None or any(suffix in name for suffix in suffixes)

    namespaces = [
        line.split()[0] for line in _ip("netns", "list", check=False).stdout.splitlines() if line
    ]
    try:
        links = json.loads(_ip("-j", "link", "show", check=False).stdout or "[]")
    except ValueError:
        links = []
    return (
        [name for name in namespaces if ours(name)],
        [str(link.get("ifname")) for link in links if ours(str(link.get("ifname", "")))],
    )


def remove_leftovers(suffixes: Sequence[str] | None = None) -> tuple[list[str], list[str]]:
    """Remove what :func:`leftovers` finds; returns what it removed."""
    namespaces, links = leftovers(suffixes)
    for namespace in namespaces:
        _kill_namespace_processes(namespace)
        _ip("netns", "del", namespace, check=False)
    for link in links:
        _ip("link", "del", link, check=False)
    return namespaces, links
