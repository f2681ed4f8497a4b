"""The docs site's pictures, each drawn from the project's own code or from a real run.

Nothing here is drawn by hand: every figure calls the specification, the simulator, the
store or the measured results, at build time, so a picture cannot drift from the code it
shows. A structure (a graph of versions, a Merkle tree, the layers) is Graphviz DOT text;
anything with a time or a number axis is a matplotlib figure written as SVG.

Each public function returns a :class:`Drawing`; ``dynamokv_sphinx`` turns it into a
figure on the page (``{dynamokv-figure} NAME``).
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
import io
import itertools
import json
import math
import re
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from dynamokv.impl.core import GossipConfig, RingState
from dynamokv.impl.sim import run_scenario
from dynamokv.impl.sim._gossip_sim import _GossipNetwork
from dynamokv.impl.sim._paper import FIG8_NODES, Fig8Row, fig8_table
from dynamokv.impl.sim._presets import (
    Q1Measurement,
    Q4Measurement,
    measure_q1,
    measure_q4,
)
from dynamokv.impl.storage import Store, StoreOptions
from dynamokv.spec import merkle as spec_merkle
from dynamokv.spec import ring as spec_ring
from dynamokv.spec import vclock as spec_vclock
from matplotlib.figure import Figure
from matplotlib.transforms import Bbox

ROOT = Path(__file__).resolve().parents[2]
BENCHMARK_RESULTS = ROOT / "docs" / "benchmarks"
"""Committed ``bench … --json`` results, one file each, named ``YYYY-MM-DD-WHAT.json``."""

NODE_COLOURS = ["#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3"]

plt.rcParams.update(
    {
        "svg.fonttype": "none",
        "svg.hashsalt": "dynamokv",
        "font.size": 10,
        "axes.spines.top": False,
        "axes.spines.right": False,
    }
)


@dataclass(frozen=True)
class Drawing:
    """One picture: DOT text or SVG text, with its alternative text and caption.

    Attributes:
        kind: ``"dot"`` (Graphviz source) or ``"svg"`` (a finished SVG document).
        content: the DOT source or the SVG text.
        alt: what the picture shows, for readers who cannot see it.
        caption: the caption under it (MyST inline markup is not parsed).
    """

    kind: str
    content: str
    alt: str
    caption: str


def _svg(figure: Figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(figure)
    return buffer.getvalue()


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


# --------------------------------------------------------------------------- the ring


def ring(*, q: int = 32, nodes: int = 5, n: int = 3, key: bytes = b"cart:alice") -> Drawing:
    """Strategy 3 on a small ring: Q partitions, their owners, one key and its preference list."""
    names = [f"node-{i + 1}" for i in range(nodes)]
    assignment = spec_ring.assign_partitions(names, q)
    tokens = spec_ring.partition_ring(assignment)
    position = spec_ring.md5_position(key)
    partition = spec_ring.partition_of(position, q)
    preference = spec_ring.preference_list(tokens, position, n)
    shares = Counter(assignment)
    colour = {name: NODE_COLOURS[i % len(NODE_COLOURS)] for i, name in enumerate(names)}

    figure, axes = plt.subplots(figsize=(6.4, 5.2), subplot_kw={"projection": "polar"})
    axes.set_theta_zero_location("N")
    axes.set_theta_direction(-1)
    width = 2 * math.pi / q
    walked: list[int] = []
    seen: set[str] = set()
    for step in range(q):
        index = (partition + step) % q
        if assignment[index] not in seen:
            seen.add(assignment[index])
            walked.append(index)
        if len(seen) == n:
            break
    for index, owner in enumerate(assignment):
        in_list = index in walked
        axes.bar(
            index * width + width / 2,
            1.0,
            width=width * 0.96,
            bottom=1.0,
            color=colour[owner],
            alpha=1.0 if in_list else 0.55,
            edgecolor="black" if in_list else "white",
            linewidth=1.5 if in_list else 0.5,
        )
    angle = 2 * math.pi * position / spec_ring.RING_SIZE
    axes.annotate(
        f"md5({key.decode()})",
        xy=(angle, 2.0),
        xytext=(angle, 2.75),
        ha="center",
        arrowprops={"arrowstyle": "->", "color": "black"},
    )
    axes.set_ylim(0, 2.9)
    axes.set_yticks([])
    axes.set_xticks([2 * math.pi * i / 8 for i in range(8)])
    axes.set_xticklabels([f"{i}/8" for i in range(8)], fontsize=8)
    axes.grid(False)
    axes.spines["polar"].set_visible(False)
    handles = [
        plt.Rectangle((0, 0), 1, 1, color=colour[name], alpha=0.8)  # type: ignore[attr-defined]
        for name in names
    ]
    labels = [
        f"{name}: {shares[name]} partitions" + ("  (preference list)" if name in preference else "")
        for name in names
    ]
    figure.legend(handles, labels, loc="lower center", ncol=2, fontsize=8, frameon=False)
    figure.subplots_adjust(bottom=0.2)
    axes.text(
        0,
        0,
        f"Q = {q}\nN = {n}",
        ha="center",
        va="center",
        fontsize=11,
    )
    caption = (
        f"The ring of strategy 3 with Q = {q} equal partitions over {nodes} nodes "
        f"(spec.ring.assign_partitions; a real cluster has Q = "
        f"{spec_ring.DEFAULT_PARTITION_COUNT:,}). The key {key.decode()!r} hashes to position "
        f"{position / spec_ring.RING_SIZE:.4f} of the ring, in partition {partition}; walking "
        f"clockwise from it, the outlined partitions give its preference list, "
        f"{', '.join(preference)} (spec.ring.preference_list)."
    )
    return Drawing("svg", _svg(figure), f"A ring of {q} partitions coloured by owner", caption)


# --------------------------------------------------------------------------- ladders

_MESSAGE = re.compile(
    r"^\s+t=(?P<sent>\d+) (?P<src>\S+) -> (?P<dst>\S+) (?P<label>.+) \((?P<fate>t=\d+|lost)\)$"
)


@dataclass(frozen=True)
class _Message:
    sent: int
    arrives: int | None
    src: str
    dst: str
    label: str
    dst_down: bool = False
    """The destination was crashed when the message arrived: the simulator drops it."""


QUIET_TICKS_MAX = 3
"""A stretch longer than this with no message sent or arriving is drawn shortened."""

QUIET_TICKS_SHOWN = 2
"""How long a shortened quiet stretch is drawn, in ticks."""


class _TimeAxis:
    """Simulated ticks to a ladder's vertical axis: to scale, except that each quiet
    stretch longer than :data:`QUIET_TICKS_MAX` is drawn :data:`QUIET_TICKS_SHOWN` ticks
    long, marked with how many ticks it lasted, so that messages a minute apart do not
    squeeze the ones a tick apart into an unreadable knot."""

    def __init__(self, ticks: list[int]) -> None:
        points = sorted(set(ticks))
        self.stretches: list[tuple[int, int]] = [(points[0], 0)]
        """(first tick of a stretch, ticks cut out before it)"""
        self.quiet: list[tuple[int, int]] = []
        """(last tick before a quiet stretch, its length in ticks)"""
        cut = 0
        for before, after in itertools.pairwise(points):
            if after - before > QUIET_TICKS_MAX:
                cut += after - before - QUIET_TICKS_SHOWN
                self.quiet.append((before, after - before))
                self.stretches.append((after, cut))

    def __call__(self, tick: float) -> float:
        cut = 0
        for first, ticks_cut in self.stretches:
            if tick >= first:
                cut = ticks_cut
        return tick - cut


def _scenario_blocks(script: str) -> list[tuple[str, list[str]]]:
    """Run ``script`` in the simulator; each command with the lines it printed."""
    text = run_scenario(script)
    blocks: list[tuple[str, list[str]]] = []
    for chunk in text.strip().split("\n\n"):
        lines = [line for line in chunk.splitlines() if not line.startswith("#")]
        if not lines:
            continue
        command = lines[0]
        output = lines[2:] if len(lines) > 1 and lines[1] == "----" else lines[1:]
        blocks.append((command, output))
    return blocks


def _messages(lines: list[str], down: set[str]) -> list[_Message]:
    found = []
    for line in lines:
        match = _MESSAGE.match(line)
        if match:
            fate = match["fate"]
            found.append(
                _Message(
                    int(match["sent"]),
                    None if fate == "lost" else int(fate[2:]),
                    match["src"],
                    match["dst"],
                    match["label"],
                    dst_down=fate != "lost" and match["dst"] in down,
                )
            )
    return found


LABEL_PLACES = (
    (0.3, "bottom"),
    (0.7, "top"),
    (0.5, "bottom"),
    (0.5, "top"),
    (0.15, "bottom"),
    (0.85, "top"),
    (0.3, "top"),
    (0.7, "bottom"),
)
"""Where along its arrow a ladder label may sit, in the order tried."""


def _place_label(
    axes: Any,
    placed: list[Any],
    start: tuple[float, float],
    end: tuple[float, float],
    text: str,
    colour: str,
) -> Any:
    """Write ``text`` along the arrow from ``start`` to ``end`` at the first of
    :data:`LABEL_PLACES` where it covers no label already ``placed``; its box."""
    renderer = axes.figure.canvas.get_renderer()
    first: Any = None
    for along, vertical in LABEL_PLACES:
        label = axes.text(
            start[0] + (end[0] - start[0]) * along,
            start[1] + (end[1] - start[1]) * along,
            text,
            ha="center",
            va=vertical,
            fontsize=7.5,
            color=colour,
            bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.5, "alpha": 0.85},
            zorder=4,
        )
        box = label.get_window_extent(renderer)
        if not any(box.overlaps(other) for other in placed):
            if first is not None:
                first.remove()
            return box
        if first is None:
            first = label
        else:
            label.remove()
    return first.get_window_extent(renderer)  # every place is taken: keep the first


def _ladder(
    script: str, *, commands: tuple[str, ...], title: str, notes: dict[str, str] | None = None
) -> tuple[str, list[_Message], list[str], bool]:
    """The ladder's SVG, its messages, the client's results, and whether quiet
    stretches were shortened."""
    blocks = _scenario_blocks(script)
    messages: list[_Message] = []
    results: list[str] = []
    nodes: list[str] = []
    down: set[str] = set()
    for command, output in blocks:
        verb, *arguments = command.split()
        if verb == "add-nodes":
            nodes = re.findall(r"\bn\d+\b", output[0])
        elif verb == "crash":
            down.add(arguments[0])
        elif verb == "restart":
            down.discard(arguments[0])
        if verb in commands:
            messages += _messages(output, down)
            results += [line for line in output if line.startswith(("ok:", "failed:"))]
    if not messages:
        raise RuntimeError(f"the scenario printed no messages for {commands}")
    column = {name: index for index, name in enumerate(nodes)}
    ticks = [m.sent for m in messages] + [m.arrives for m in messages if m.arrives is not None]
    axis = _TimeAxis(ticks)
    start = axis(min(ticks))
    end = axis(max(ticks))
    # Room for one line of label per message, and at least a third of an inch per tick.
    height = max(3.0, 0.42 * len(messages) + 1.4, 0.33 * (end - start + 3.8) + 0.6)
    figure, axes = plt.subplots(figsize=(7.2, height))
    # Limits first: label placement measures the labels where they will be drawn.
    axes.set_ylim(end + 1.8, start - 2)
    axes.set_xlim(-0.6, len(nodes) - 0.4)
    for name, x in column.items():
        axes.plot([x, x], [start - 1, end + 1], color="#888888", linewidth=1, zorder=1)
        axes.text(x, start - 1.6, name, ha="center", va="bottom", fontsize=10, weight="bold")
        if notes and name in notes:
            axes.text(x, end + 1.3, notes[name], ha="center", va="top", fontsize=8, color="#C44E52")
    for before, length in axis.quiet:
        middle = axis(before) + QUIET_TICKS_SHOWN / 2
        axes.axhline(middle, color="#BBBBBB", linewidth=0.8, linestyle=(0, (4, 3)), zorder=2)
        axes.text(
            len(nodes) - 0.45,
            middle,
            f"{length} ticks later",
            ha="right",
            va="center",
            fontsize=7,
            color="#777777",
            bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.5},
            zorder=4,
        )
    labels: list[tuple[tuple[float, float], tuple[float, float], str, str]] = []
    ends: list[tuple[float, float]] = []
    for message in messages:
        x0, x1 = column[message.src], column[message.dst]
        y0 = axis(message.sent)
        colour = "#C44E52" if "hint" in message.label or "Repair" in message.label else "#4C72B0"
        label = message.label
        if message.arrives is None:
            # Lost by the network: a stub that stops half way, crossed out.
            y1 = y0 + 0.5
            axes.plot([x0, (x0 + x1) / 2], [y0, y1], color=colour)
            axes.plot((x0 + x1) / 2, y1, marker="x", color=colour, zorder=5)
            x1, label = (x0 + x1) / 2, label + " (lost)"
        elif message.dst_down:
            # Sent to a crashed node: it reaches nobody, crossed out where it would arrive.
            y1 = axis(message.arrives)
            axes.plot([x0, x1], [y0, y1], color=colour, linestyle=(0, (3, 2)), zorder=3)
            axes.plot(x1, y1, marker="x", markersize=8, color=colour, zorder=5)
            label = f"{label} (lost, {message.dst} down)"
        else:
            y1 = axis(message.arrives)
            axes.annotate(
                "",
                xy=(x1, y1),
                xytext=(x0, y0),
                arrowprops={"arrowstyle": "-|>", "color": colour, "linewidth": 1.3},
                zorder=3,
            )
        labels.append(((x0, y0), (x1, y1), label, colour))
        ends.append((x1, y1))
    # No label may hide where a message arrives (an arrowhead, a cross).
    pixels = axes.transData.transform(ends)
    placed: list[Any] = [Bbox.from_bounds(x - 5, y - 5, 10, 10) for x, y in pixels]
    for start, end_point, label, colour in labels:
        placed.append(_place_label(axes, placed, start, end_point, label, colour))
    # Tick marks at the ticks something happened, real tick numbers, one per line of text.
    marks: list[tuple[float, int]] = []
    for tick in sorted(set(ticks)):
        if not marks or axis(tick) - marks[-1][0] >= 1:
            marks.append((axis(tick), tick))
    axes.set_yticks([y for y, _ in marks], [str(tick) for _, tick in marks])
    axes.set_xticks([])
    axes.set_ylabel("simulated time (ticks)")
    axes.spines["bottom"].set_visible(False)
    axes.set_title(title, fontsize=10, pad=24)
    return _svg(figure), messages, results, bool(axis.quiet)


def _ladder_drawing(
    script: str, *, commands: tuple[str, ...], title: str, caption: str, **kwargs: Any
) -> Drawing:
    svg, messages, results, shortened = _ladder(script, commands=commands, title=title, **kwargs)
    result = f" The simulator answered: {'; '.join(results)}." if results else ""
    if any(m.arrives is None or m.dst_down for m in messages):
        result += " A cross marks a message that reached nobody."
    if shortened:
        result += " Time is to scale but for the quiet stretches a dashed line shortens."
    return Drawing(
        "svg",
        svg,
        f"Ladder diagram: {title}, {len(messages)} messages",
        caption + result + " Drawn from a run of the simulator (run_scenario).",
    )


LADDER_PUT = """add-nodes 5
----

put cart apple w=2
----
"""

LADDER_HINT = """add-nodes 5
----

crash n4
----

put cart apple w=2
----

tick 40
----

restart n4
----

tick 80
----
"""

LADDER_READ_REPAIR = """add-nodes 5 strict
----

crash n4
----

put cart apple w=2
----

restart n4
----

tick 60
----

get cart r=2
----
"""

LADDER_FORWARD = """add-nodes 5
----

put cart apple via=n1
----
"""


def ladder_put() -> Drawing:
    """A put with W=2: the coordinator writes, replicates to two owners, acknowledges."""
    return _ladder_drawing(
        LADDER_PUT,
        commands=("put",),
        title="put cart apple, N=3, W=2",
        caption=(
            "A put coordinated by the key's first owner: it sends the new version to the other "
            "two owners and answers the client once W = 2 durable copies exist, its own "
            "included."
        ),
    )


def ladder_hint() -> Drawing:
    """A put while an owner is down: a hint on a substitute, replayed when the owner returns."""
    return _ladder_drawing(
        LADDER_HINT,
        commands=("put", "tick"),
        title="put while n4 is down, then n4 restarts",
        notes={"n4": "down, then restarted"},
        caption=(
            "n4, an owner of the key, is down. The put still gets W = 2; after the replica "
            "timeout the coordinator sends the version to n5, the next node on the ring, with "
            "a hint naming n4 (sloppy quorum, Dynamo §4.6). n5 offers the hint to n4 until n4, "
            "restarted, acknowledges it (HintAck); only then does n5 delete the hint."
        ),
    )


def ladder_read_repair() -> Drawing:
    """A get that finds a stale replica and repairs it."""
    return _ladder_drawing(
        LADDER_READ_REPAIR,
        commands=("get",),
        title="get cart r=2 when n4 missed the write",
        caption=(
            "n4 missed a write while it was down, and under a strict quorum no substitute kept a "
            "hint for it. A get with R = 2 reads n3 and n4, answers with the newest version, "
            "and sends it to n4, which answered with less (read repair)."
        ),
    )


def ladder_forward() -> Drawing:
    """A put that reaches a node outside the preference list, which forwards it."""
    return _ladder_drawing(
        LADDER_FORWARD,
        commands=("put",),
        title="put cart apple sent to n1, not an owner",
        caption=(
            "n1 is not on the key's preference list, so it forwards the put to the first owner "
            "(Dynamo §4.5); only owners issue version counters, so clocks stay about N "
            "entries long."
        ),
    )


# --------------------------------------------------------------------------- versions

FIGURE_3 = """add-nodes 3
----

put k D1 via=n1
----

get k via=n1
----

put k D2 via=n1
----

get k via=n1
----

put k D3 via=n2
----

put k D4 via=n3
----

get k via=n1
----

put k D5 via=n1
----
"""
FIGURE_3_SERVERS = {"n1": "Sx", "n2": "Sy", "n3": "Sz"}


def _clock_text(text: str) -> dict[str, int]:
    return {node: int(counter) for node, counter in re.findall(r"(\w+):(\d+)", text)}


def version_graph() -> Drawing:
    """Dynamo's Figure 3: the clocks the core gives five writes by Sx, Sy and Sz."""
    clocks: list[tuple[str, dict[str, int]]] = []
    for command, output in _scenario_blocks(FIGURE_3):
        if not command.startswith("put"):
            continue
        value = command.split()[2]
        head = output[0]
        context = _clock_text(head.split("context=", 1)[1])
        ok = next(line for line in output if line.startswith("ok:"))
        node, counter = re.match(r"ok: (\w+):(\d+)", ok).groups()  # type: ignore[union-attr]
        clock = spec_vclock.merge(context, {node: int(counter)})
        clocks.append((value, clock))
    lines = [
        "digraph versions {",
        '  rankdir=TB; node [shape=box, style="rounded,filled", fillcolor="#EEF3FA", '
        'fontname="sans-serif", fontsize=11]; edge [color="#4C72B0"];',
    ]
    for value, clock in clocks:
        entries = ", ".join(f"[{FIGURE_3_SERVERS[n]},{c}]" for n, c in sorted(clock.items()))
        lines.append(f"  {value} [label={_quote(f'{value}  ({entries})')}];")
    for value_a, clock_a in clocks:
        for value_b, clock_b in clocks:
            if value_a == value_b or spec_vclock.compare(clock_b, clock_a).name != "AFTER":
                continue
            between = any(
                spec_vclock.compare(clock_c, clock_a).name == "AFTER"
                and spec_vclock.compare(clock_b, clock_c).name == "AFTER"
                for _, clock_c in clocks
            )
            if not between:
                lines.append(f"  {value_a} -> {value_b};")
    lines.append("}")
    return Drawing(
        "dot",
        "\n".join(lines),
        "The version graph of Dynamo's Figure 3",
        "Dynamo's Figure 3, replayed in the simulator: Sx writes D1 and D2; Sy and Sz each "
        "update D2 without seeing the other, so D3 and D4 are concurrent siblings; a client "
        "reads both and Sx writes the reconciled D5. Each box shows the clock the core issued "
        "(context plus dot); an arrow joins a version to the next ones that descend from it "
        "(spec.vclock.compare).",
    )


# --------------------------------------------------------------------------- Merkle


def _bucket_of(depth: int) -> Callable[[bytes], int]:
    def bucket(key: bytes) -> int:
        return spec_ring.md5_position(key) >> (spec_ring.RING_BITS - depth) if depth else 0

    return bucket


def merkle_diff(*, depth: int = 3, keys: int = 24) -> Drawing:
    """Two replicas' Merkle trees; the node pairs a diff compares, and the differing key."""

    def sha(data: bytes) -> bytes:
        return hashlib.sha256(data).digest()

    contents = {b"cart:%02d" % i: sha(b"v1-%d" % i) for i in range(keys)}
    other = dict(contents)
    changed = b"cart:07"
    other[changed] = sha(b"v2-7")
    a = spec_merkle.build(contents, depth=depth, bucket_of=_bucket_of(depth), hash_fn=sha)
    b = spec_merkle.build(other, depth=depth, bucket_of=_bucket_of(depth), hash_fn=sha)
    result = spec_merkle.diff(a, b)
    compared = {(0, 0)}
    for level in range(depth):
        for index in range(1 << level):
            if (level, index) in compared and a.levels[level][index] != b.levels[level][index]:
                compared |= {(level + 1, 2 * index), (level + 1, 2 * index + 1)}
    if len(compared) != result.nodes_compared:
        raise RuntimeError("the picture's compared nodes disagree with spec.merkle.diff")
    lines = [
        "digraph merkle {",
        '  node [shape=box, style="rounded,filled", fontname="sans-serif", fontsize=9]; '
        'edge [arrowhead=none, color="#999999"]; ranksep=0.3; nodesep=0.08;',
    ]
    for name, tree in (("A", a), ("B", b)):
        lines.append(f'  subgraph cluster_{name} {{ label="replica {name}"; fontname="sans-serif";')
        for level in range(depth + 1):
            for index in range(1 << level):
                differs = a.levels[level][index] != b.levels[level][index]
                if (level, index) not in compared:
                    fill = "#F2F2F2"
                else:
                    fill = "#F4C7C3" if differs else "#CDE8CF"
                label = tree.levels[level][index].hex()[:6]
                if level == depth:
                    label += "\\n" + "\\n".join(k.decode() for k, _ in tree.buckets[index])
                lines.append(f'    {name}_{level}_{index} [label="{label}", fillcolor="{fill}"];')
                if level:
                    lines.append(f"    {name}_{level - 1}_{index // 2} -> {name}_{level}_{index};")
        lines.append("  }")
    lines.append("}")
    return Drawing(
        "dot",
        "\n".join(lines),
        "Two Merkle trees, with the compared and differing nodes coloured",
        f"Two replicas of {keys} keys that differ in one value ({changed.decode()}), as "
        f"spec.merkle.build hashes them ({1 << depth} buckets). The exchange compares the roots, "
        f"then only the children of differing nodes: {result.nodes_compared} node pairs "
        f"(spec.merkle.diff) instead of {2 ** (depth + 1) - 1}. Green: compared and equal; red: "
        f"compared and different; grey: never compared. Keys found: "
        f"{', '.join(k.decode() for k in sorted(result.keys))}.",
    )


# --------------------------------------------------------------------------- gossip


@functools.cache
def _gossip_run(nodes: int = 64, seed: int = 1) -> dict[str, Any]:
    config = GossipConfig(partition_count=nodes * 4)
    network = _GossipNetwork(seed=seed, loss=0.0, config=config)
    ids = [f"n{index:03d}" for index in range(nodes)]
    seeds = {node_id: f"sim://{node_id}" for node_id in ids[:2]}
    bootstrap = RingState(1, "bootstrap", spec_ring.assign_partitions(ids, config.partition_count))
    for node_id in ids:
        network.add(node_id, seeds, status="normal", ring=bootstrap)
    network.rounds_until(
        lambda: all(len(view.members) == nodes for view in network.views.values()), rounds_max=60
    )
    period = config.gossip_period_ticks
    newcomer = f"n{nodes:03d}"
    network.add(newcomer, seeds, status="joining", ring=None)
    start = network.tick
    knows: list[tuple[float, int]] = []
    while not all(newcomer in view.members for view in network.views.values()):
        knows.append(
            (
                (network.tick - start) / period,
                sum(newcomer in v.members for v in network.views.values()),
            )
        )
        network.step()
    knows.append(((network.tick - start) / period, len(network.views)))
    admin = network.views[ids[7]]
    network.handle(admin.request_join(newcomer, network.tick))
    version = admin.ring.version
    start = network.tick
    adopted: list[tuple[float, int]] = []
    while not all(view.ring.version == version for view in network.views.values()):
        adopted.append(
            (
                (network.tick - start) / period,
                sum(v.ring.version == version for v in network.views.values()),
            )
        )
        network.step()
    adopted.append(((network.tick - start) / period, len(network.views)))
    for _ in range(10 * period):
        network.step()
    observer, healthy, victim = network.views[ids[0]], ids[1], ids[-1]
    network.crashed.add(victim)
    start = network.tick
    phi: list[tuple[float, float, float]] = []
    for _ in range(25 * period):
        phi.append(
            (
                (network.tick - start) / period,
                observer.phi(healthy, network.tick),
                observer.phi(victim, network.tick),
            )
        )
        network.step()
    return {
        "nodes": nodes + 1,
        "knows": knows,
        "adopted": adopted,
        "phi": phi,
        "threshold": config.phi.threshold,
        "period": period,
        "observer": ids[0],
        "healthy": healthy,
        "victim": victim,
    }


def gossip_join() -> Drawing:
    """How many views know a joining node, and the ring that adds it, round by round."""
    run = _gossip_run()
    figure, axes = plt.subplots(figsize=(6.4, 3.4))
    for series, label, colour in (
        (run["knows"], "views that list the joining node", "#4C72B0"),
        (run["adopted"], "views that adopted the ring that adds it", "#DD8452"),
    ):
        axes.step(
            [r for r, _ in series], [c for _, c in series], where="post", label=label, color=colour
        )
    axes.axvline(math.log2(run["nodes"]), color="#888888", linestyle=":", label="log2(n) rounds")
    axes.set_xlabel("gossip rounds since the event")
    axes.set_ylabel(f"views (of {run['nodes']})")
    axes.legend(fontsize=8, frameon=False, loc="upper left")
    return Drawing(
        "svg",
        _svg(figure),
        "Two S-shaped curves: how many nodes know a join, round by round",
        f"A join spreading by gossip through {run['nodes']} simulated nodes (GossipMembership "
        f"driven by the gossip simulator, one round every {run['period']} ticks): first the "
        f"news that a node is joining, then, after an administrator's request_join, the new "
        f"ring. Each round every node talks to one random peer, so the informed set roughly "
        f"doubles per round: O(log n) rounds.",
    )


def phi_over_time() -> Drawing:
    """phi of a healthy peer and of a crashed one, as one node's detector sees them."""
    run = _gossip_run()
    figure, axes = plt.subplots(figsize=(6.4, 3.2))
    rounds = [r for r, _, _ in run["phi"]]
    axes.plot(
        rounds, [p for _, p, _ in run["phi"]], label=f"{run['healthy']} (alive)", color="#55A868"
    )
    axes.plot(
        rounds,
        [p for _, _, p in run["phi"]],
        label=f"{run['victim']} (crashed at 0)",
        color="#C44E52",
    )
    axes.axhline(
        run["threshold"], color="#888888", linestyle="--", label=f"threshold {run['threshold']:g}"
    )
    axes.set_xlabel("gossip rounds since the crash")
    axes.set_ylabel(f"phi seen by {run['observer']}")
    axes.legend(fontsize=8, frameon=False, loc="upper left")
    return Drawing(
        "svg",
        _svg(figure),
        "phi over time for a live and a crashed peer",
        "The phi-accrual failure detector of one node (GossipMembership.phi) for two peers in "
        "the same simulated run: the live peer's heartbeats keep arriving, so its phi stays "
        "low; the crashed peer's phi grows with the silence and crosses the threshold, and "
        "from then on it is suspected.",
    )


# --------------------------------------------------------------------------- layers


def _source_folders() -> dict[str, str]:
    """Each layer's folder and its package: the top-level packages and those under impl/."""
    folders = {}
    for folder in sorted(ROOT.iterdir()):
        if (folder / "__init__.py").exists() and folder.name not in ("impl", "tests", "docs"):
            folders[folder.name] = f"dynamokv.{folder.name}"
    for folder in sorted((ROOT / "impl").iterdir()):
        if (folder / "__init__.py").exists():
            folders[f"impl/{folder.name}"] = f"dynamokv.impl.{folder.name}"
    return folders


SOURCE_FOLDERS = _source_folders()
LAYER_PACKAGES = {package: folder for folder, package in SOURCE_FOLDERS.items()}


def _layer_of(module: str) -> str | None:
    for package, layer in sorted(LAYER_PACKAGES.items(), key=lambda item: -len(item[0])):
        if module == package or module.startswith(package + "."):
            return layer
    return None


def _enforced_rules() -> dict[str, set[str]]:
    path = ROOT / "tests" / "test_layering.py"
    spec = importlib.util.spec_from_file_location("_docs_layering_rules", path)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {
        folder: {layer for p in allowed if (layer := _layer_of(p)) is not None}
        for folder, (allowed, _) in module.RULES.items()
    }


def layers() -> Drawing:
    """The layers, the imports the code really makes between them, and the enforced rules."""
    edges: Counter[tuple[str, str]] = Counter()
    for folder in SOURCE_FOLDERS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(), str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    target = _layer_of(node.module)
                elif isinstance(node, ast.Import):
                    target = next(
                        (_layer_of(a.name) for a in node.names if _layer_of(a.name)), None
                    )
                else:
                    continue
                if target is not None and target != folder:
                    edges[(folder, target)] += 1
    rules = _enforced_rules()
    lines = [
        "digraph layers {",
        '  rankdir=BT; node [shape=box, style="rounded,filled", fillcolor="#EEF3FA", '
        'fontname="sans-serif", fontsize=11]; edge [fontname="sans-serif", fontsize=8];',
    ]
    for folder in SOURCE_FOLDERS:
        enforced = "" if folder in rules else ', style="rounded,filled,dashed"'
        lines.append(f"  {_quote(folder)} [label={_quote(folder)}{enforced}];")
    for (source, target), count in sorted(edges.items()):
        allowed = source not in rules or target in rules[source]
        colour = "#4C72B0" if allowed else "#C44E52"
        lines.append(f'  {_quote(source)} -> {_quote(target)} [label="{count}", color="{colour}"];')
    lines.append("}")
    return Drawing(
        "dot",
        "\n".join(lines),
        "The layers of the code and the imports between them",
        "Every import between the project's layers, read from the source with ast (an arrow "
        "from the importer to the imported layer, labelled with the number of import "
        "statements). Blue arrows are allowed by the rules tests/test_layering.py enforces; a "
        "red arrow would break them. Dashed layers (the command line) may import anything.",
    )


# --------------------------------------------------------------------------- the store


STORE_BATCHES = 80
"""Batches of 50 writes the store picture makes: enough for seven flushes of a 64 KiB
memtable, so that four tier-0 segments have been compacted into one of tier 1."""


def store() -> Drawing:
    """A real store's files after writes, flushes and a compaction."""
    with tempfile.TemporaryDirectory() as directory:
        options = StoreOptions(
            fsync="none", memtable_bytes_max=64 << 10, compaction_fanout=4, background=False
        )
        handle = Store.open(directory, options=options)
        try:
            for batch in range(STORE_BATCHES):
                handle.write_batch(
                    [(b"cart:%05d" % (batch * 50 + i), b"x" * 100) for i in range(50)]
                )
            stats = handle.stats()
            files = sorted(p.name for p in Path(directory).iterdir())
        finally:
            handle.close()
    wal_files = [f for f in files if f.startswith("wal-")]
    # The store lists its segments newest first; segment numbers grow with age.
    segments = sorted((f for f in files if f.startswith("segment-")), reverse=True)
    if len(segments) != len(stats.segment_tiers) or not stats.compactions_count:
        raise RuntimeError(
            f"the store picture needs a compaction: {stats.compactions_count} compactions, "
            f"segments {segments}, tiers {stats.segment_tiers}"
        )
    tiers: dict[int, list[str]] = {}
    for name, tier in zip(segments, stats.segment_tiers, strict=True):
        tiers.setdefault(tier, []).append(name)
    fanout = options.compaction_fanout
    lines = [
        "digraph store {",
        '  rankdir=TB; compound=true; node [shape=box, style="rounded,filled", '
        'fontname="sans-serif", fontsize=10]; edge [fontname="sans-serif", fontsize=9];',
        '  writes [label="write_batch\\n(group commit:\\none WAL record)", fillcolor="#FFFFFF"];',
        '  wal [label="WAL files\\n' + "\\n".join(wal_files) + '", fillcolor="#F4C7C3"];',
        f'  memtable [label="memtable\\n{stats.memtable_bytes:,} bytes\\n(a dict)", '
        'fillcolor="#FFF2CC"];',
        '  writes -> wal [label="1. append + fsync"];',
        '  wal -> memtable [label="2. apply"];',
    ]
    for tier in sorted(tiers):
        what = "flushed memtables" if tier == 0 else f"each made of {fanout} of tier {tier - 1}"
        lines.append(
            f'  subgraph cluster_tier{tier} {{ label="tier {tier}: {what}"; '
            'fontname="sans-serif"; fontsize=10;'
        )
        for name in tiers[tier]:
            number = int(name.removeprefix("segment-").removesuffix(".dkv"))
            lines.append(
                f'    "{name}" [label="segment {number}\\n({name})", fillcolor="#CDE8CF"];'
            )
        lines.append("  }")
    lines.append(
        f'  memtable -> "{tiers[0][0] if 0 in tiers else segments[0]}" '
        '[label="3. flush when full", lhead=cluster_tier0];'
    )
    for tier in sorted(tiers):
        if tier > 0 and tier - 1 in tiers:
            lines.append(
                f'  "{tiers[tier - 1][-1]}" -> "{tiers[tier][0]}" '
                f'[label="4. compact {fanout} into 1", ltail=cluster_tier{tier - 1}, '
                f"lhead=cluster_tier{tier}];"
            )
    lines.append("}")
    return Drawing(
        "dot",
        "\n".join(lines),
        "The store: WAL, memtable, segment files by tier, and a compaction",
        f"A real store (dynamokv.impl.storage.Store, a 64 KiB memtable) after "
        f"{STORE_BATCHES * 50:,} writes in {STORE_BATCHES} batches: every batch is one WAL "
        f"record, applied to the memtable after its fsync; a full memtable is flushed as a "
        f"sorted tier-0 segment, and every {fanout} segments of one tier are compacted into "
        f"one of the next tier. {stats.flushes_count} flushes and {stats.compactions_count} "
        f"compaction{'s' if stats.compactions_count != 1 else ''} ran; the files are those "
        f"left in the directory, by tier.",
    )


# --------------------------------------------------------------------------- measurements


@functools.cache
def q1_measurement() -> Q1Measurement:
    """The Q1 preset's measurement (cached: several pages use it)."""
    return measure_q1()


@functools.cache
def q4_measurement() -> Q4Measurement:
    """The Q4 preset's measurement (cached: several pages use it)."""
    return measure_q4()


def q1_chart() -> Drawing:
    """Q1: the share of data that moves when an 11th node joins 10, measured and computed."""
    from dynamokv.impl.sim._measurements import q1_table

    m = q1_measurement()
    rows = [
        (
            "simulator: partition transfer, measured",
            m.copies_moved_fraction,
            m.coordinators_changed_fraction,
        )
    ]
    for row in q1_table(nodes_before=m.nodes_before, q=m.partitions):
        rows.append(
            (
                f"{row.scheme} ({row.sample})",
                row.copies_moved_fraction,
                row.coordinators_changed_fraction,
            )
        )
    figure, axes = plt.subplots(figsize=(7.0, 0.55 * len(rows) + 1.2))
    labels = [label for label, _, _ in rows]
    y = range(len(rows))
    axes.barh(
        [i - 0.2 for i in y],
        [100 * c for _, c, _ in rows],
        height=0.4,
        label="replica copies moved",
        color="#4C72B0",
    )
    axes.barh(
        [i + 0.2 for i in y],
        [100 * c for _, _, c in rows],
        height=0.4,
        label="coordinators changed",
        color="#DD8452",
    )
    theory = 100 / (m.nodes_before + 1)
    axes.axvline(
        theory,
        color="#888888",
        linestyle="--",
        label=f"theory 1/{m.nodes_before + 1} = {theory:.2f} %",
    )
    axes.set_yticks(list(y))
    axes.set_yticklabels(labels, fontsize=8)
    axes.invert_yaxis()
    axes.set_xlabel("% of the data")
    axes.legend(fontsize=8, frameon=False, loc="upper center", bbox_to_anchor=(0.4, -0.18), ncol=3)
    return Drawing(
        "svg",
        _svg(figure),
        "Bars: the share of keys that move when an 11th node joins 10",
        f"Q1 measured: {m.keys:,} keys written to {m.nodes_before} simulated nodes, one more "
        f"joined; {m.copies_moved:,} of {m.copies_before:,} replica copies moved "
        f"({100 * m.copies_moved_fraction:.2f} %), {m.copies_to_others} to any node but the "
        f"newcomer (measure_q1), beside the arithmetic of q1_table and modulo hashing.",
    )


@functools.cache
def fig8_rows() -> tuple[Fig8Row, ...]:
    """The ``sim --preset fig8`` measurement (cached: the papers page prints and draws it)."""
    return tuple(fig8_table())


def fig8_chart() -> Drawing:
    """Dynamo Figure 8, reproduced: load-balancing efficiency against metadata size."""
    rows = fig8_rows()
    figure, axes = plt.subplots(figsize=(7.0, 3.6))
    sizes = [row.metadata_entries for row in rows]
    for label, values, colour, marker in (
        ("strategy 1: T random tokens per node", [r.strategy1 for r in rows], "#4C72B0", "o"),
        (
            "strategy 2: T random tokens, Q equal partitions",
            [r.strategy2 for r in rows],
            "#DD8452",
            "s",
        ),
        (
            "strategy 3: Q/S tokens per node, Q equal partitions",
            [r.strategy3 for r in rows],
            "#55A868",
            "^",
        ),
    ):
        axes.plot(sizes, values, marker=marker, color=colour, label=label)
    axes.set_xscale("log", base=2)
    axes.set_xticks(sizes, [f"{size:,}" for size in sizes], fontsize=8)
    axes.minorticks_off()
    axes.set_xlabel("membership metadata per node (entries)")
    axes.set_ylabel("load-balancing efficiency")
    axes.legend(fontsize=8, frameon=False, loc="lower right")
    return Drawing(
        "svg",
        _svg(figure),
        "Lines: load-balancing efficiency of the three partitioning strategies against metadata",
        f"Dynamo §6.2's Figure 8, computed from this code (fig8_table): the mean load of "
        f"{FIG8_NODES} nodes over the load of the hottest, N = 3, strategies 1 and 2 averaged "
        f"over {rows[0].seeds} random token placements. As in the paper, strategy 3 is best "
        f"at every size.",
    )


def q4_chart() -> Drawing:
    """Q4: how a node down for 3 hours caught up: hints replayed, keys repaired by Merkle."""
    m = q4_measurement()
    items = [
        ("writes acknowledged while down", m.writes),
        ("hints stored by substitutes", m.hints_stored),
        ("hints refused at the bound", m.hints_refused),
        ("hints lost with a substitute", m.hints_lost),
        ("hints replayed on return", m.hints_replayed),
        ("keys repaired by Merkle", m.keys_repaired),
    ]
    figure, axes = plt.subplots(figsize=(6.8, 3.0))
    colours = ["#888888", "#4C72B0", "#C44E52", "#C44E52", "#55A868", "#55A868"]
    axes.barh([label for label, _ in items], [v for _, v in items], color=colours)
    axes.invert_yaxis()
    for index, (_, value) in enumerate(items):
        axes.text(value, index, f" {value:,}", va="center", fontsize=8)
    axes.set_xlabel("count")
    return Drawing(
        "svg",
        _svg(figure),
        "Bars: what a node missed in 3 hours and how it caught up",
        f"Q4 measured (measure_q4): n5 down for 3 simulated hours under a steady write load. "
        f"Hinted handoff delivers the {m.hints_replayed:,} surviving hints at once; Merkle "
        f"anti-entropy repairs the {m.keys_repaired:,} keys the hints did not cover. Every "
        f"replica was identical {m.convergence_ticks / 10:.1f} simulated seconds after the "
        f"restart: {'yes' if m.identical else 'NO'}.",
    )


@dataclass(frozen=True)
class BenchmarkResult:
    """One committed ``bench … --json`` file.

    Attributes:
        path: the file.
        date: ``YYYY-MM-DD``, from the file name.
        command: the command that produced it.
        rows: the result rows as ``bench`` wrote them.
    """

    path: Path
    date: str
    command: str
    rows: tuple[dict[str, Any], ...]


def benchmark_results(kind: str = "cluster") -> list[BenchmarkResult]:
    """Every committed result of ``bench KIND``, oldest first.

    A file is either the list ``bench … --json`` writes, or an object with that list as
    ``results`` and the ``command`` that produced it.
    """
    found = []
    # By name, a date's first result (``…-cluster.json``) before its second (``…-cluster-2``).
    paths = BENCHMARK_RESULTS.glob(f"*-{kind}*.json")
    for path in sorted(paths, key=lambda path: (path.name[:10], len(path.name), path.name)):
        match = re.match(r"(\d{4}-\d{2}-\d{2})-", path.name)
        if match is None:
            raise RuntimeError(f"{path.name}: a result file's name starts with its date")
        data = json.loads(path.read_text())
        rows = data["results"] if isinstance(data, dict) else data
        command = data.get("command", "") if isinstance(data, dict) else ""
        found.append(BenchmarkResult(path, match[1], command, tuple(rows)))
    return found


def benchmark_chart() -> Drawing:
    """ops/s and p99 of dynamokv and etcd for each workload of each committed result."""
    results = benchmark_results("cluster")
    if not results:
        raise RuntimeError(f"no committed benchmark results in {BENCHMARK_RESULTS}")
    figure, (left, right) = plt.subplots(
        1, 2, figsize=(7.6, 0.5 * sum(len(r.rows) for r in results) + 1.5)
    )
    labels: list[str] = []
    for result in results:
        for row in result.rows:
            # A constant-rate row (``load`` other than ``peak``) says at which rate it ran.
            load = row.get("load", "peak")
            rate = "" if load == "peak" else f" at {load}"
            # A second result of one date (``2026-11-30-cluster-2.json``) says which it is.
            run = result.path.stem.removeprefix(f"{result.date}-cluster").lstrip("-")
            when = f"{result.date} ({run})" if run else result.date
            labels.append(f"{when} {row['workload']} {row['system']}{rate}")
    colours = ["#4C72B0" if "dynamokv" in label else "#DD8452" for label in labels]
    rows = [row for result in results for row in result.rows]
    left.barh(labels, [row["ops_per_second"] for row in rows], color=colours)
    right.barh(labels, [row["latency_ms_p99"] for row in rows], color=colours)
    right.set_yticks([])
    for axes, title in ((left, "ops/s (more is better)"), (right, "p99 ms (less is better)")):
        axes.invert_yaxis()
        axes.set_title(title, fontsize=9)
    left.tick_params(axis="y", labelsize=8)
    return Drawing(
        "svg",
        _svg(figure),
        "Bars: throughput and p99 of dynamokv and etcd per workload",
        "Each committed result of dynamokv bench cluster --json in docs/benchmarks/, by date, "
        "workload and system (blue: dynamokv, orange: etcd, same run, same machine).",
    )


DRAWINGS: dict[str, Callable[[], Drawing]] = {
    "ring": ring,
    "ladder-put": ladder_put,
    "ladder-hint": ladder_hint,
    "ladder-read-repair": ladder_read_repair,
    "ladder-forward": ladder_forward,
    "version-graph": version_graph,
    "merkle-diff": merkle_diff,
    "gossip-join": gossip_join,
    "phi": phi_over_time,
    "layers": layers,
    "store": store,
    "q1": q1_chart,
    "q4": q4_chart,
    "benchmarks": benchmark_chart,
    "fig8": fig8_chart,
}
"""Every picture of the site, by the name the ``dynamokv-figure`` directive takes."""
