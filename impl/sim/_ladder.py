"""A message-sequence (ladder) diagram of one key's messages, as plain text.

One column per node, one row per message, time going down: the arrow runs from
the sender's column to the receiver's, ``x`` marks a message the network lost.
"""

from __future__ import annotations

from collections.abc import Sequence

from ._simulated_cluster import TraceEntry

__all__ = ["render_ladder"]

_WIDTH = 12


def render_ladder(entries: Sequence[TraceEntry], nodes: Sequence[str], *, limit: int = 200) -> str:
    """Render ``entries`` (in send order) as a ladder over ``nodes``."""
    column = {name: index for index, name in enumerate(nodes)}
    lines = ["   tick  " + "".join(name.center(_WIDTH) for name in nodes)]
    for entry in entries[:limit]:
        cells = [" " * (_WIDTH // 2) + "|" + " " * (_WIDTH - _WIDTH // 2 - 1) for _ in nodes]
        row = list("".join(cells))
        a = column[entry.src] * _WIDTH + _WIDTH // 2
        b = column[entry.dst] * _WIDTH + _WIDTH // 2
        lo, hi = min(a, b), max(a, b)
        for i in range(lo + 1, hi):
            row[i] = "-"
        if entry.arrives_at is None:
            row[(lo + hi) // 2] = "x"
        row[b] = ">" if b > a else "<"
        row[a] = "*"
        fate = "lost" if entry.arrives_at is None else f"@{entry.arrives_at}"
        lines.append(f"{entry.sent_at:7d}  " + "".join(row).rstrip() + f"  {entry.label} {fate}")
    if len(entries) > limit:
        lines.append(f"... {len(entries) - limit} more messages")
    return "\n".join(lines)
