"""Property 4's checker: a get that started after a put was acknowledged covers it.

The checker compares each get with the frontier of the puts acknowledged before it, not
with all of them; these tests hold it to the plain definition, every get against every
earlier acknowledged put, on simulated histories with stale reads planted and with
clocks cut (Dynamo §4.4), where it compares with every put."""

from __future__ import annotations

import ast

import pytest
from dynamokv.impl.core import covers
from dynamokv.impl.sim import SimConfig, simulate
from dynamokv.impl.sim._checkers import History


def _stale_gets_by_definition(history: History) -> set[tuple[bytes, int]]:
    """(key, start) of every get that misses a put acknowledged before it started."""
    stale = set()
    for get in history.records:
        if get.kind != "get" or not get.ok:
            continue
        for put in history.records:
            if (
                put.kind != "get"
                and put.ok
                and put.version is not None
                and put.end is not None
                and put.end < get.start
                and put.key == get.key
                and put.version.context == put.context
                and not covers(get.versions, put.version)
            ):
                stale.add((get.key, get.start))
    return stale


def _stale_gets_reported(history: History) -> set[tuple[bytes, int]]:
    checked = History(
        records=history.records, vector_clock_threshold=history.vector_clock_threshold
    )
    checked.check_read_your_writes()
    reported = set()
    for violation in checked.violations:
        assert violation.startswith("property 4: get of ")
        key_text, _, rest = violation.removeprefix("property 4: get of ").partition(" started t=")
        reported.add((ast.literal_eval(key_text), int(rest.split()[0])))
    return reported


@pytest.mark.parametrize(
    ("seed", "bug", "threshold"),
    [
        (0, "", 10),
        (1, "ack-before-w", 10),
        (2, "ack-before-w", 10),
        (3, "ack-before-w", 2),
        (4, "ack-before-w", 4),
    ],
)
def test_the_frontier_finds_exactly_the_stale_gets_of_the_definition(
    seed: int, bug: str, threshold: int
) -> None:
    config = SimConfig(ops=800, strict=True, planted_bug=bug, vector_clock_threshold=threshold)
    _, _, history = simulate(seed, config)
    assert history.vector_clock_threshold == threshold
    expected = _stale_gets_by_definition(history)
    assert _stale_gets_reported(history) == expected
    if bug:
        assert expected, "the planted bug made no stale read: the comparison proves nothing"
