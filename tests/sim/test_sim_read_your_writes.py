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
    """(key, start) of every get that misses a put acknowledged before it started (a get
    that finds nothing misses no delete: "not found" is what a delete asks for)."""
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
                and (get.versions or put.version.value is not None)  # not found: deleted
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


def test_a_get_that_finds_nothing_after_a_delete_covers_it_and_one_that_finds_the_value_does_not() -> (
    None
):
    """A delete's tombstone may be reaped once every owner holds it: a later get that
    finds nothing read what the delete asked for. One that finds the deleted value is the
    stale read the checker is for (the negative control)."""
    from dynamokv.impl.core import Version
    from dynamokv.impl.sim._checkers import OpRecord

    value = Version(b"socks", ("n1", 1), ())
    tombstone = Version(None, ("n1", 2), (("n1", 1),))
    put = OpRecord(1, "put", b"k", "n1", 0, 2, b"socks", (), 10, True, value)
    delete = OpRecord(1, "delete", b"k", "n1", 20, 2, None, (("n1", 1),), 30, True, tombstone)
    found_nothing = OpRecord(2, "get", b"k", "n2", 40, 2, end=50, ok=True, versions=())
    found_value = OpRecord(3, "get", b"k", "n3", 60, 2, end=70, ok=True, versions=(value,))
    history = History(records=[put, delete, found_nothing, found_value])
    history.check_read_your_writes()
    assert history.violations == [
        "property 4: get of b'k' started t=60 missed ('n1', 2) acknowledged at t=30"
    ]


@pytest.mark.parametrize("reaping", [False, True])
def test_with_reaping_a_put_after_the_reap_may_stand_without_the_tombstone(reaping: bool) -> None:
    """Once its tombstone is reaped, a put written without a context is concurrent with
    the forgotten delete and stands alone: with reaping on, a get returning it alone
    read the delete's intent (no deleted value); without, the tombstone was lost."""
    from dynamokv.impl.core import Version
    from dynamokv.impl.sim._checkers import OpRecord

    value = Version(b"socks", ("n1", 1), ())
    tombstone = Version(None, ("n1", 2), (("n1", 1),))
    after = Version(b"shoes", ("n2", 1), ())
    records = [
        OpRecord(1, "put", b"k", "n1", 0, 2, b"socks", (), 10, True, value),
        OpRecord(1, "delete", b"k", "n1", 20, 2, None, (("n1", 1),), 30, True, tombstone),
        OpRecord(2, "put", b"k", "n2", 40, 2, b"shoes", (), 50, True, after),
        OpRecord(3, "get", b"k", "n3", 60, 2, end=70, ok=True, versions=(after,)),
        OpRecord(4, "get", b"k", "n3", 80, 2, end=90, ok=True, versions=(after, value)),
    ]
    history = History(records=records, reaping=reaping)
    history.check_read_your_writes()
    resurrected = "property 4: get of b'k' started t=80 missed ('n1', 2) acknowledged at t=30"
    lost = "property 4: get of b'k' started t=60 missed ('n1', 2) acknowledged at t=30"
    assert history.violations == ([resurrected] if reaping else [lost, resurrected])
