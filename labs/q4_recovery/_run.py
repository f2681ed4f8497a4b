"""The solution's recovery functions as the nodes' seams."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from dynamokv.impl.core import Seams


def seams_of(solution: Mapping[str, Callable[..., Any]]) -> Seams:
    """Hinted handoff's two rules and the Merkle walk's step, from the solution."""
    return Seams(
        hint_to_store=solution["hint_to_store"],
        hint_may_be_deleted=solution["hint_may_be_deleted"],
        merkle_descend=solution["merkle_descend"],
    )
