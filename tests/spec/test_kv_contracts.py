"""The key-value model: each contract of ``spec/kv.py`` at its boundaries, and the bodies' exact answers.

Every precondition gets a valid call at its extreme (a dot counter one above the context's
entry, an absent entry counting as 0, a one-character item) and an invalid one just past it
that breaks that precondition alone; every postcondition gets a wrong result that it alone
rejects. :func:`kv.is_valid_version` is checked at its boundaries (a dot counter of 1 and 0,
a context entry equal to the dot). The bodies are checked by exact answers: the version a
put writes, which versions supersede which, the reconciliation and merge of siblings, the
counter a coordinator issues, the cart a client writes back by union and by last write
wins, and the model's get, put and apply.
"""

from __future__ import annotations

import dataclasses

import pytest
from contract_helpers import Call, WrongResult, check_call, check_wrong_result
from dynamokv.spec import kv


def version(value: bytes | None, dot: kv.Dot, *context: tuple[str, int]) -> kv.Version:
    return kv.Version(value=value, dot=dot, context=tuple(context))


X = version(b"x", ("a", 1))
Y = version(b"y", ("b", 1))
X_THEN_Z = version(b"z", ("a", 2), ("a", 1))
SEES_X_VIA_B = version(b"w", ("b", 2), ("a", 1))
A3 = version(b"x", ("a", 3))
BAD_DOT = version(b"x", ("a", 0))
STALE_DOT = version(b"x", ("a", 1), ("a", 2))
ZERO_CONTEXT = version(b"x", ("a", 1), ("b", 0))


def making(counter: int, context: dict[str, int], coordinator: str = "a") -> dict[str, object]:
    return {"value": b"x", "coordinator": coordinator, "counter": counter, "context": context}


def issuing(context: dict[str, int], held: object, coordinator: str = "a") -> dict[str, object]:
    return {"coordinator": coordinator, "context": context, "held": held}


def cart(siblings: list[tuple[int, bytes]], item: bytes, lww: bool = False) -> dict[str, object]:
    return {"siblings": siblings, "item": item, "stamp": 5, "last_write_wins": lww}


# --- is_valid_version --------------------------------------------------------------------

VALIDITY = [
    (X, True, "counter 1, empty context: the lowest valid dot"),
    (BAD_DOT, False, "counter 0, empty context"),
    (version(b"x", ("a", -1)), False, "counter -1, empty context"),
    (version(b"x", ("a", 3), ("a", 2)), True, "counter one above the context's entry"),
    (version(b"x", ("a", 2), ("a", 2)), False, "a context entry equal to the dot"),
    (STALE_DOT, False, "a context entry above the dot"),
    (version(b"x", ("a", 1), ("b", 5)), True, "another node's entry above the counter"),
    (ZERO_CONTEXT, False, "a valid dot, but a zero entry in the context"),
    (version(b"x", ("a", 2), ("a", 1), ("b", 1)), True, "every context entry at least 1"),
    (version(None, ("a", 1)), True, "a tombstone is a version like any other"),
]


@pytest.mark.parametrize(
    ("version_", "expected", "why"), VALIDITY, ids=[why for _, _, why in VALIDITY]
)
def test_is_valid_version(version_: kv.Version, expected: bool, why: str) -> None:
    assert kv.is_valid_version(version_) is expected, why


# --- preconditions -----------------------------------------------------------------------

CALLS = [
    Call(
        kv.make_version, making(1, {}), None, "counter 1, the coordinator absent from the context"
    ),
    Call(kv.make_version, making(0, {}), "context.get(coordinator", "counter 0, absent entry"),
    Call(kv.make_version, making(3, {"a": 2}), None, "counter one above the context's entry"),
    Call(
        kv.make_version,
        making(2, {"a": 2}),
        "context.get(coordinator",
        "counter equal to the context's entry",
    ),
    Call(
        kv.make_version,
        making(1, {"a": 2}),
        "context.get(coordinator",
        "counter below the context's entry",
    ),
    Call(kv.make_version, making(1, {"b": 7}), None, "another node's entry above the counter"),
    Call(kv.make_version, making(2, {"b": 0}), "lambda context:", "a zero entry in the context"),
    Call(kv.make_version, making(1, {"a": 0}), "lambda context:", "the coordinator's entry is 0"),
    Call(kv.make_version, making(2, {"b": -1}), "lambda context:", "a negative entry"),
    Call(kv.supersedes, {"x": X, "y": Y}, None, "two valid versions"),
    Call(kv.supersedes, {"x": BAD_DOT, "y": Y}, "is_valid_version(x)", "the first has counter 0"),
    Call(kv.supersedes, {"x": X, "y": STALE_DOT}, "is_valid_version(x)", "the second is stale"),
    Call(kv.reconcile, {"versions": []}, None, "no versions"),
    Call(kv.reconcile, {"versions": (X, Y)}, None, "a tuple"),
    Call(kv.reconcile, {"versions": frozenset({X, Y})}, None, "a frozenset"),
    Call(kv.reconcile, {"versions": iter([X])}, "isinstance", "an iterator, not a collection"),
    Call(kv.reconcile, {"versions": [X, ZERO_CONTEXT]}, "is_valid_version", "one invalid"),
    Call(kv.reconcile, {"versions": [BAD_DOT]}, "is_valid_version", "the only one invalid"),
    Call(kv.context_of, {"versions": []}, None, "no versions"),
    Call(kv.context_of, {"versions": iter([X])}, "isinstance", "an iterator"),
    Call(kv.context_of, {"versions": [X, STALE_DOT]}, "is_valid_version", "one invalid"),
    Call(kv.next_counter, issuing({}, []), None, "nothing held"),
    Call(kv.next_counter, issuing({}, iter([X])), "isinstance", "an iterator"),
    Call(kv.next_counter, issuing({}, [Y, BAD_DOT]), "is_valid_version", "one invalid"),
    Call(kv.next_counter, issuing({"a": 1}, []), None, "a context of counter 1"),
    Call(kv.next_counter, issuing({"a": -5}, []), "lambda context", "a negative counter"),
    Call(kv.next_counter, issuing({"b": 0}, []), "lambda context", "a zero entry"),
    Call(kv.cart_update, cart([], b"i"), None, "a one-byte item"),
    Call(kv.cart_update, cart([], b""), "item", "an empty item"),
    Call(kv.cart_update, cart([], b"\n"), "item", "a bare newline"),
    Call(kv.cart_update, cart([], b"a\nb"), "item", "two lines"),
    Call(kv.cart_update, cart([], b"b\n"), "item", "a trailing newline"),
]


@pytest.mark.parametrize("call", CALLS, ids=str)
def test_preconditions(call: Call) -> None:
    check_call(call)


# --- postconditions ----------------------------------------------------------------------

WRONG_RESULTS = [
    WrongResult(
        kv.make_version, making(2, {}), version(b"x", ("a", 3)), "counter + 1", "result.dot"
    ),
    WrongResult(
        kv.make_version, making(2, {}), version(b"x", ("a", 1)), "counter - 1", "result.dot"
    ),
    WrongResult(
        kv.make_version, making(2, {}), version(b"x", ("b", 2)), "another coordinator", "result.dot"
    ),
    WrongResult(
        kv.make_version,
        making(2, {"b": 1}),
        version(b"x", ("a", 2)),
        "the context forgotten: concurrent with it, not after it",
        "result.clock",
    ),
    WrongResult(
        kv.make_version,
        making(2, {"a": 1, "b": 3}),
        version(b"x", ("a", 2), ("a", 1), ("b", 2)),
        "an entry of the context lowered",
        "result.clock",
    ),
    WrongResult(kv.supersedes, {"x": X, "y": X}, True, "a version supersedes itself", "not result"),
    WrongResult(
        kv.reconcile, {"versions": [X]}, frozenset({Y}), "one from nowhere", "frozenset(versions)"
    ),
    WrongResult(
        kv.reconcile, {"versions": [X]}, frozenset({X, Y}), "one added", "frozenset(versions)"
    ),
    WrongResult(
        kv.reconcile,
        {"versions": [X, X_THEN_Z]},
        frozenset({X, X_THEN_Z}),
        "a superseded version kept",
        "supersedes",
    ),
    WrongResult(kv.context_of, {"versions": [X_THEN_Z]}, {"a": 1}, "below a clock", "descends"),
    WrongResult(
        kv.context_of, {"versions": [X, Y]}, {"a": 1}, "a sibling's node left out", "descends"
    ),
    WrongResult(
        kv.next_counter,
        issuing({"a": 3}, []),
        3,
        "the counter the context has",
        "lambda coordinator, context, result",
    ),
    WrongResult(
        kv.next_counter,
        issuing({}, []),
        0,
        "0, with an absent entry",
        "lambda coordinator, context, result",
    ),
    WrongResult(kv.next_counter, issuing({}, [A3]), 3, "a counter a held dot has", "for v in held"),
    WrongResult(
        kv.next_counter,
        issuing({"a": 3}, []),
        2,
        "a counter below the context's",
        "lambda coordinator, context, result",
    ),
    WrongResult(
        kv.next_counter,
        issuing({}, [SEES_X_VIA_B]),
        1,
        "a counter only a held version's context has",
        "for v in held",
    ),
    WrongResult(kv.cart_update, cart([], b"i"), (4, b"i"), "the stamp - 1", "stamp"),
    WrongResult(kv.cart_update, cart([], b"i"), (6, b"i"), "the stamp + 1", "stamp"),
    WrongResult(
        kv.cart_update, cart([], b"i"), (5, b"j"), "the item not added", "lambda item, result"
    ),
    WrongResult(
        kv.cart_update,
        cart([], b"i"),
        (5, b"ii"),
        "the item only as part of another",
        "lambda item, result",
    ),
    WrongResult(
        kv.cart_update,
        cart([(1, b"a"), (2, b"b")], b"i"),
        (5, b"a\ni"),
        "a sibling's item lost by the union",
        "last_write_wins",
    ),
    WrongResult(
        kv.cart_update,
        cart([(1, b"a\nb")], b"i"),
        (5, b"b\ni"),
        "the first of a sibling's two items lost by the union",
        "last_write_wins",
    ),
    WrongResult(
        kv.cart_update,
        cart([(1, b"a"), (2, b"b")], b"i", lww=True),
        (4, b"b\ni"),
        "last write wins, which may lose a sibling's item, with the stamp - 1",
        "stamp",
    ),
]


@pytest.mark.parametrize("row", WRONG_RESULTS, ids=str)
def test_postconditions(row: WrongResult) -> None:
    check_wrong_result(row)


# --- versions ------------------------------------------------------------------------------


def test_make_version_freezes_the_context_sorted() -> None:
    made = kv.make_version(b"x", "b", 4, {"c": 1, "a": 2, "b": 3})
    assert made == version(b"x", ("b", 4), ("a", 2), ("b", 3), ("c", 1))
    assert made.clock == {"a": 2, "b": 4, "c": 1}
    assert kv.make_version(None, "a", 1, {}) == version(None, ("a", 1))


def test_a_version_clock_is_its_context_plus_its_dot() -> None:
    assert X.clock == {"a": 1}
    assert X_THEN_Z.clock == {"a": 2}
    assert SEES_X_VIA_B.clock == {"a": 1, "b": 2}
    assert version(b"x", ("b", 1), ("a", 3), ("c", 2)).clock == {"a": 3, "b": 1, "c": 2}


def test_a_tombstone_has_no_value() -> None:
    assert version(None, ("a", 1)).is_tombstone
    assert not version(b"", ("a", 1)).is_tombstone
    assert not X.is_tombstone


SUPERSEDES = [
    (X_THEN_Z, X, True, "the context holds the dot exactly"),
    (version(b"z", ("a", 3), ("a", 2)), X, True, "the context is above the dot"),
    (X, X_THEN_Z, False, "the older does not supersede the newer"),
    (version(b"z", ("a", 2), ("a", 1)), version(b"y", ("a", 2)), False, "context one below"),
    (Y, X, False, "the context lacks the dot's node (counter 1)"),
    (X, Y, False, "concurrent, the other way"),
    (SEES_X_VIA_B, X, True, "another coordinator saw it"),
    (X, X, False, "not itself"),
]


@pytest.mark.parametrize(("x", "y", "expected", "why"), SUPERSEDES, ids=[r[-1] for r in SUPERSEDES])
def test_supersedes(x: kv.Version, y: kv.Version, expected: bool, why: str) -> None:
    assert kv.supersedes(x, y) is expected, why


RECONCILE = [
    ([], set(), "nothing"),
    ([X], {X}, "one version"),
    ([X, X], {X}, "the same version twice"),
    ([X, Y], {X, Y}, "concurrent siblings are both kept"),
    ([X, X_THEN_Z], {X_THEN_Z}, "the superseded one is dropped"),
    ([X_THEN_Z, X], {X_THEN_Z}, "in either order"),
    ([X, Y, SEES_X_VIA_B], {Y, SEES_X_VIA_B}, "b's two versions are siblings; x is seen"),
    (
        [X, X_THEN_Z, version(b"q", ("a", 3), ("a", 2))],
        {version(b"q", ("a", 3), ("a", 2))},
        "a chain",
    ),
]


@pytest.mark.parametrize(("versions", "expected", "why"), RECONCILE, ids=[r[-1] for r in RECONCILE])
def test_reconcile(versions: list[kv.Version], expected: set[kv.Version], why: str) -> None:
    assert kv.reconcile(versions) == frozenset(expected), why


def test_merge_versions_reconciles_the_union() -> None:
    assert kv.merge_versions([], []) == frozenset()
    assert kv.merge_versions([X], []) == {X}
    assert kv.merge_versions([], [X]) == {X}
    assert kv.merge_versions([X], [Y]) == {X, Y}
    assert kv.merge_versions([X], [X_THEN_Z]) == {X_THEN_Z}
    assert kv.merge_versions([X_THEN_Z], [X]) == {X_THEN_Z}
    assert kv.merge_versions([X, Y], [SEES_X_VIA_B]) == {Y, SEES_X_VIA_B}


def test_context_of_is_the_merge_of_the_sibling_clocks() -> None:
    assert kv.context_of([]) == {}
    assert kv.context_of([X]) == {"a": 1}
    assert kv.context_of([X, Y]) == {"a": 1, "b": 1}
    assert kv.context_of([X_THEN_Z, SEES_X_VIA_B]) == {"a": 2, "b": 2}
    assert kv.context_of([version(b"q", ("c", 1), ("a", 4)), X]) == {"a": 4, "c": 1}


NEXT_COUNTER = [
    ({}, [], 1, "nothing known: 1"),
    ({"a": 3}, [], 4, "one above the context's entry"),
    ({"b": 3}, [], 1, "another node's entry does not count"),
    ({}, [Y], 1, "a held version of another coordinator does not count"),
    ({}, [A3], 4, "one above a held dot"),
    ({"a": 7}, [A3], 8, "the context above the held dot"),
    ({"a": 2}, [A3, X], 4, "a held dot above the context"),
    ({}, [SEES_X_VIA_B], 2, "a counter only in a held version's context"),
    ({}, [version(b"q", ("b", 1), ("a", 4)), A3], 5, "the largest of the held clocks"),
]


@pytest.mark.parametrize(
    ("context", "held", "expected", "why"), NEXT_COUNTER, ids=[r[-1] for r in NEXT_COUNTER]
)
def test_next_counter(
    context: dict[str, int], held: list[kv.Version], expected: int, why: str
) -> None:
    assert kv.next_counter("a", context, held) == expected, why


# --- carts ---------------------------------------------------------------------------------


def test_union_resolve_keeps_every_non_empty_line_once_sorted() -> None:
    assert kv.union_resolve([]) == b""
    assert kv.union_resolve([b""]) == b""
    assert kv.union_resolve([b"b\na", b"a\nc"]) == b"a\nb\nc"
    assert kv.union_resolve([b"a\n\nb\n"]) == b"a\nb"


def test_lww_resolve_keeps_the_latest_ties_to_the_largest_value() -> None:
    assert kv.lww_resolve([(1, b"a")]) == b"a"
    assert kv.lww_resolve([(1, b"b"), (2, b"a")]) == b"a"
    assert kv.lww_resolve([(2, b"a"), (1, b"b")]) == b"a"
    assert kv.lww_resolve([(2, b"a"), (2, b"b")]) == b"b"


CARTS = [
    ([], b"i", False, b"i", "a new cart, by union"),
    ([], b"i", True, b"i", "a new cart, by last write wins"),
    ([(1, b"a"), (2, b"b")], b"i", False, b"a\nb\ni", "union keeps both siblings' items"),
    ([(1, b"a"), (2, b"b")], b"i", True, b"b\ni", "last write wins keeps the later only"),
    ([(2, b"b"), (1, b"a")], b"i", True, b"b\ni", "the later listed first"),
    ([(3, b"x\ny"), (1, b"a")], b"i", True, b"i\nx\ny", "the later's items, sorted with the new"),
    ([(2, b"a"), (2, b"b")], b"i", True, b"b\ni", "a tie goes to the larger value"),
    ([(1, b"i\nj")], b"i", False, b"i\nj", "an item already there is not doubled"),
    ([(1, b"a")], b"b", True, b"a\nb", "a single sibling, by last write wins"),
]


@pytest.mark.parametrize(
    ("siblings", "item", "lww", "expected", "why"), CARTS, ids=[r[-1] for r in CARTS]
)
def test_cart_update(
    siblings: list[tuple[int, bytes]], item: bytes, lww: bool, expected: bytes, why: str
) -> None:
    assert kv.cart_update(siblings, item, 5, last_write_wins=lww) == (5, expected), why


# --- the model -----------------------------------------------------------------------------


def test_an_empty_model_has_no_siblings_and_an_empty_context() -> None:
    model = kv.KVModel()
    assert model.get(b"k") == (frozenset(), {})
    assert model.values(b"k") == frozenset()


def test_puts_with_a_stale_context_become_siblings_and_a_put_with_the_context_supersedes_them() -> (
    None
):
    model, first = kv.KVModel().put(b"k", {}, b"x", "a")
    assert first == version(b"x", ("a", 1))
    model, second = model.put(b"k", {}, b"y", "a")
    assert second == version(b"y", ("a", 2))
    assert model.get(b"k") == (frozenset({first, second}), {"a": 2})
    assert model.values(b"k") == {b"x", b"y"}
    model, third = model.put(b"k", {"a": 2}, None, "b")
    assert third == version(None, ("b", 1), ("a", 2))
    assert model.get(b"k") == (frozenset({third}), {"a": 2, "b": 1})
    assert model.values(b"k") == {None}
    assert model.get(b"other") == (frozenset(), {})


def test_a_counter_seen_only_in_a_context_is_not_issued_again() -> None:
    model = kv.KVModel().apply(b"k", [SEES_X_VIA_B])
    model, put = model.put(b"k", {}, b"v", "a")
    assert put.dot == ("a", 2)
    assert model.get(b"k")[0] == {SEES_X_VIA_B, put}


def test_apply_merges_and_leaves_the_original_model_alone() -> None:
    before = kv.KVModel().apply(b"k", [X, Y])
    after = before.apply(b"k", [X_THEN_Z])
    assert before.get(b"k")[0] == {X, Y}
    assert after.get(b"k")[0] == {X_THEN_Z, Y}
    assert after.apply(b"k", [X]).get(b"k")[0] == {X_THEN_Z, Y}


def test_a_version_and_the_model_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        X.value = b"changed"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        kv.KVModel().data = {}  # type: ignore[misc]
