"""Counters, gauges and histograms, rendered in the Prometheus text format (``/metrics``).

Why not ``prometheus_client``: its metrics take a lock on every update (they are built
for threaded servers), and this node updates metrics on the trio thread only, on the
request path, tens of thousands of times a second. A counter here is an attribute
increment; a histogram observation is one ``bisect`` and two additions. Collection
(rendering ``/metrics``) is the rare, slow side: it walks everything and also reads
*collected* values (the core's :class:`~dynamokv.impl.core.NodeStats`, the peer pool's and
HTTP server's stats) through callbacks, so those counters are never copied on the hot path.

Format: https://prometheus.io/docs/instrumenting/exposition_formats/ (text 0.0.4).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterable, Sequence

from dynamokv.spec.errors import ArgumentError

__all__ = [
    "HINTS_PENDING_METRIC",
    "KEYS_METRIC",
    "LATENCY_BUCKETS_SECONDS",
    "PARTITIONS_OWNED_METRIC",
    "SIZE_BUCKETS",
    "TOMBSTONES_HELD_METRIC",
    "TOMBSTONES_REAPED_METRIC",
    "Counter",
    "Histogram",
    "MetricsRegistry",
]

KEYS_METRIC = "dynamokv_keys"
"""Gauge: keys a node stores (tombstones included)."""

PARTITIONS_OWNED_METRIC = "dynamokv_partitions_owned"
"""Gauge: partitions whose first owner the node is."""

HINTS_PENDING_METRIC = "dynamokv_hints_pending"
"""Gauge: hints a node keeps for other owners (Dynamo §4.6)."""

TOMBSTONES_HELD_METRIC = "dynamokv_member_tombstones_held"
"""Gauge: deleted keys a node stores only tombstones of (waiting to be reaped)."""

TOMBSTONES_REAPED_METRIC = "dynamokv_member_tombstones_reaped_total"
"""Counter: deleted keys a node forgot once every owner held the tombstone (since it
started)."""

LATENCY_BUCKETS_SECONDS = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
)
"""Upper bounds of latency histograms, seconds (100 µs to 5 s)."""

SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
"""Upper bounds of count histograms (group-commit batch sizes)."""

Labels = tuple[tuple[str, str], ...]


def _format_labels(labels: Labels, extra: tuple[str, str] | None = None) -> str:
    pairs = [*labels, extra] if extra is not None else list(labels)
    if not pairs:
        return ""
    inner = ",".join(f'{name}="{_escape(value)}"' for name, value in pairs)
    return "{" + inner + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _format_value(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


class Counter:
    """A monotonically increasing number; ``inc()`` on the hot path."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value: float = 0

    def inc(self, amount: float = 1) -> None:
        """Add ``amount`` (non-negative)."""
        self.value += amount


class Histogram:
    """Observations counted into cumulative buckets, with their count and sum."""

    __slots__ = ("bounds", "count", "counts", "sum")

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(bounds)
        self.counts = [0] * (len(self.bounds) + 1)
        self.count = 0
        self.sum = 0.0

    def observe(self, value: float) -> None:
        """Record one observation."""
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.count += 1
        self.sum += value

    def quantile(self, q: float) -> float:
        """An upper bound of the ``q`` quantile (the bucket bound it falls in)."""
        if not self.count:
            return 0.0
        rank = q * self.count
        seen = 0
        for bound, count in zip((*self.bounds, math.inf), self.counts, strict=True):
            seen += count
            if seen >= rank:
                return bound
        return math.inf


class _Family:
    __slots__ = ("children", "help", "kind", "name")

    def __init__(self, name: str, kind: str, help_text: str) -> None:
        self.name = name
        self.kind = kind
        self.help = help_text
        self.children: dict[Labels, Counter | Histogram] = {}


Collector = Callable[[], Iterable[tuple[str, str, str, Labels, float]]]
"""Yields ``(name, kind, help, labels, value)`` samples computed at collection time."""


class MetricsRegistry:
    """Every metric of one node process, and the collectors that read other objects' stats."""

    def __init__(self) -> None:
        self._families: dict[str, _Family] = {}
        self._collectors: list[Collector] = []

    def counter(self, name: str, help_text: str, **labels: str) -> Counter:
        """The counter ``name`` with ``labels`` (created on first use)."""
        child = self._child(name, "counter", help_text, labels, Counter)
        assert isinstance(child, Counter)
        return child

    def histogram(
        self,
        name: str,
        help_text: str,
        bounds: Sequence[float] = LATENCY_BUCKETS_SECONDS,
        **labels: str,
    ) -> Histogram:
        """The histogram ``name`` with ``labels`` (created on first use)."""
        child = self._child(name, "histogram", help_text, labels, lambda: Histogram(bounds))
        assert isinstance(child, Histogram)
        return child

    def add_collector(self, collector: Collector) -> None:
        """Call ``collector`` on every render and include its samples."""
        self._collectors.append(collector)

    def _child(
        self,
        name: str,
        kind: str,
        help_text: str,
        labels: dict[str, str],
        make: Callable[[], Counter | Histogram],
    ) -> Counter | Histogram:
        family = self._families.get(name)
        if family is None:
            family = self._families[name] = _Family(name, kind, help_text)
        if family.kind != kind:
            raise ArgumentError(f"metric {name} is a {family.kind}, not a {kind}")
        key = tuple(sorted(labels.items()))
        child = family.children.get(key)
        if child is None:
            child = family.children[key] = make()
        return child

    def render(self) -> str:
        """Everything, in the Prometheus text exposition format."""
        lines: list[str] = []
        for family in self._families.values():
            lines.append(f"# HELP {family.name} {family.help}")
            lines.append(f"# TYPE {family.name} {family.kind}")
            for labels, child in family.children.items():
                if isinstance(child, Counter):
                    lines.append(
                        f"{family.name}{_format_labels(labels)} {_format_value(child.value)}"
                    )
                    continue
                cumulative = 0
                for bound, count in zip((*child.bounds, math.inf), child.counts, strict=True):
                    cumulative += count
                    le = ("le", _format_value(bound))
                    lines.append(f"{family.name}_bucket{_format_labels(labels, le)} {cumulative}")
                lines.append(
                    f"{family.name}_sum{_format_labels(labels)} {_format_value(child.sum)}"
                )
                lines.append(f"{family.name}_count{_format_labels(labels)} {child.count}")
        described: set[str] = set()
        for collector in self._collectors:
            for name, kind, help_text, labels, value in collector():
                if name not in described:
                    described.add(name)
                    lines.append(f"# HELP {name} {help_text}")
                    lines.append(f"# TYPE {name} {kind}")
                lines.append(f"{name}{_format_labels(labels)} {_format_value(value)}")
        return "\n".join(lines) + "\n"
