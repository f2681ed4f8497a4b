"""Placeholder, replaced below."""

from __future__ import annotations

__all__ = ["ScenarioError", "run_scenario"]


class ScenarioError(Exception):
    """A scenario script is malformed."""


def run_scenario(text: str) -> str:
    """Run ``text``."""
    raise ScenarioError(text)
