"""Ring theorems: what moves when a node joins (Dynamo §4.2, §6.2; interview Q1).

Why arrays for the join: a ring is a *set* of token positions with an owner per
token. Modelling the set as an array ``Int -> Bool`` (and owners as ``Int -> Int``)
lets one query speak about rings with any number of tokens at any positions: the
key's owner is the owner of its successor token, characterised by quantifiers
("no token between the key and it", with the wrap past the top). The new node adds
any set of fresh tokens. Counterexamples are sought among rings of at most three
old tokens and one new one, so that they decode into a concrete
:data:`~dynamokv.spec.ring.Ring` and replay through
:func:`~dynamokv.spec.ring.preference_list`.

Why one query per Q for partitions: strategy 3's ``partition_of`` is
``position * Q // RING_SIZE``; with Q a constant the formula is linear, so each
query covers all 2^128 positions. Every partition is then exactly the interval
``[p·RING_SIZE/Q, (p+1)·RING_SIZE/Q)``, so a join that reassigns m of Q partitions
moves exactly m·RING_SIZE/Q key positions: the fraction m/Q. The spec replay does
that count for real joins (:func:`~dynamokv.spec.ring.join_partitions`).
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

import z3
from dynamokv.spec import ring as spec_ring

from ._result import (
    Kind,
    ProofResult,
    Replay,
    Status,
    Stopwatch,
    check_forall,
    model_bool,
    model_int,
    result_from,
)

__all__ = [
    "join_moves_keys_only_to_new_node",
    "join_moves_keys_only_to_new_node_control",
    "partitions_are_equal_intervals",
    "partitions_are_equal_intervals_control",
]

REFERENCE = "Dynamo §4.2"
PARTITION_EXPONENTS = tuple(range(0, 33))
"""Q = 2^k for these k (Q up to 4,294,967,296; the default is 16,384 = 2^14)."""
OLD_TOKENS_MAX = 3
"""Counterexamples to the join control are sought among rings of this many old tokens."""
NODE_NAMES = ("A", "B", "C")
NEW_NODE = "D"

_INT = z3.IntSort()


def _is_successor(
    members: Callable[[z3.ArithRef], z3.BoolRef], key: z3.ArithRef, token: z3.ArithRef
) -> z3.BoolRef:
    """``token`` is the first token at or after ``key``, wrapping to the lowest token."""
    u, v = z3.FreshInt("u"), z3.FreshInt("v")
    no_token_between = z3.ForAll([u], z3.Implies(z3.And(members(u), u >= key), u >= token))
    all_below = z3.ForAll([u], z3.Implies(members(u), u < key))
    lowest = z3.ForAll([v], z3.Implies(members(v), v >= token))
    return z3.And(
        members(token),
        z3.Or(z3.And(token >= key, no_token_between), z3.And(all_below, lowest)),
    )


def _decodable(
    old: z3.ArrayRef,
    added: z3.ArrayRef,
    owner: z3.ArrayRef,
    new: z3.ArithRef,
    old_slots: list[z3.ArithRef],
    new_slot: z3.ArithRef,
) -> list[z3.BoolRef]:
    """The rings the control searches, so that its counterexample decodes: old tokens at
    ``old_slots`` owned by A, B or C (``NODE_NAMES``), the new node D's token at
    ``new_slot``, every token on the ring."""
    q = z3.FreshInt("q")
    return [
        new == len(NODE_NAMES),
        *(z3.And(s >= 0, s < spec_ring.RING_SIZE) for s in [*old_slots, new_slot]),
        z3.ForAll([q], z3.Implies(old[q], z3.Or([q == s for s in old_slots]))),
        z3.ForAll([q], z3.Implies(added[q], q == new_slot)),
        *(z3.And(owner[s] >= 0, owner[s] < len(NODE_NAMES)) for s in old_slots),
    ]


def _join(name: str, kind: Kind) -> ProofResult:
    stopwatch = Stopwatch()
    old = z3.Array("old_tokens", _INT, z3.BoolSort())
    added = z3.Array("new_tokens", _INT, z3.BoolSort())
    owner = z3.Array("owner", _INT, _INT)
    new = z3.Int("new_node")
    key, before_token, after_token = z3.Ints("key owner_token_before owner_token_after")

    def after_members(p: z3.ArithRef) -> z3.BoolRef:
        return z3.Or(old[p], added[p])

    def owner_after(p: z3.ArithRef) -> z3.ArithRef:
        return z3.If(added[p], new, owner[p])

    p = z3.FreshInt("p")
    assuming = [
        key >= 0,
        key < spec_ring.RING_SIZE,
        z3.ForAll([p], z3.Not(z3.And(old[p], added[p]))),  # positions are distinct
        z3.ForAll([p], z3.Implies(old[p], owner[p] != new)),  # the node is new
        _is_successor(lambda x: old[x], key, before_token),
        _is_successor(after_members, key, after_token),
    ]
    old_slots = [z3.Int(f"old_slot_{i}") for i in range(OLD_TOKENS_MAX)]
    new_slot = z3.Int("new_slot")
    if kind == "theorem":
        claim = z3.Or(
            owner_after(after_token) == owner[before_token], owner_after(after_token) == new
        )
    else:
        claim = owner_after(after_token) == owner[before_token]
        assuming += _decodable(old, added, owner, new, old_slots, new_slot)
    outcome = check_forall(claim, assuming=assuming)

    def decode(model: z3.ModelRef) -> tuple[str, Replay]:
        tokens = {
            model_int(model, s): NODE_NAMES[model_int(model, owner[s])]
            for s in old_slots
            if model_bool(model, old[s])
        }
        before: spec_ring.Ring = tuple(sorted(tokens.items()))
        joined = dict(tokens)
        if model_bool(model, added[new_slot]):
            joined[model_int(model, new_slot)] = NEW_NODE
        after: spec_ring.Ring = tuple(sorted(joined.items()))
        k = model_int(model, key)
        owner_before = spec_ring.preference_list(before, k, 1)[0]
        owner_after_join = spec_ring.preference_list(after, k, 1)[0]
        text = f"ring {before} + {NEW_NODE}'s tokens → {after}; key at {k}"
        return text, Replay(
            owner_before != owner_after_join and owner_after_join == NEW_NODE,
            f"preference_list(…, 1): owner {owner_before} before, {owner_after_join} after",
        )

    return result_from(
        outcome,
        name=name,
        kind=kind,
        claim=(
            "after a join, a key's owner is its old owner or the new node"
            if kind == "theorem"
            else "a join changes no key's owner"
        ),
        scope="all rings (any tokens)",
        reference=REFERENCE,
        stopwatch=stopwatch,
        decode=decode,
        replay_when_proved=_join_spec_check,
    )


def _boundary_positions(ring: spec_ring.Ring) -> list[int]:
    """The ring's two ends (where a walk wraps) and the keys at and on either side of
    each token, round the ring (the key past the last position is position 0)."""
    size = spec_ring.RING_SIZE
    positions = {0, size - 1}
    for position, _ in ring:
        positions |= {(position - 1) % size, position, (position + 1) % size}
    return sorted(positions)


def _join_spec_check() -> Replay:
    """Replay on concrete rings: random tokens (strategy 1) and fixed partitions (strategy 3).

    Every key position at or next to a token is checked: those are where the owner
    can change. Preference lists of three nodes may gain only the new node.
    """
    weights = {"A": 4, "B": 4, "C": 4}
    rings = [
        (
            spec_ring.random_tokens(weights, spec_ring.md5_position),
            spec_ring.random_tokens({**weights, NEW_NODE: 4}, spec_ring.md5_position),
        )
    ]
    assignment = spec_ring.assign_partitions(list(NODE_NAMES), 32)
    rings.append(
        (
            spec_ring.partition_ring(assignment),
            spec_ring.partition_ring(spec_ring.join_partitions(assignment, NEW_NODE)),
        )
    )
    checked = 0
    for before, after in rings:
        for position in _boundary_positions(after):
            old_list = spec_ring.preference_list(before, position, 3)
            new_list = spec_ring.preference_list(after, position, 3)
            owner_ok = new_list[0] in (old_list[0], NEW_NODE)
            lists_ok = set(new_list) <= set(old_list) | {NEW_NODE}
            if not (owner_ok and lists_ok):
                return Replay(False, f"position {position}: {old_list} became {new_list}")
            checked += 1
    return Replay(
        True,
        f"preference_list on {checked} boundary keys of two joins (strategies 1 and 3): "
        "owners change only to the new node",
    )


def join_moves_keys_only_to_new_node() -> ProofResult:
    """When a node joins, a key's owner either stays or becomes the new node.

    Dynamo §4.2: "the departure or arrival of a node only affects its immediate
    neighbors and other nodes remain unaffected".
    """
    return _join("ring.join_moves_keys_only_to_new_node", "theorem")


def join_moves_keys_only_to_new_node_control() -> ProofResult:
    """Negative control: "a join moves no key" (then the new node would hold nothing)."""
    return _join("ring.join_moves_keys_only_to_new_node.control", "control")


# --- strategy 3: fixed, equal partitions ------------------------------------------


def _partition_of(position: z3.ArithRef, q: int) -> z3.ArithRef:
    """The spec's ``position * q // RING_SIZE`` (linear: ``q`` is a constant)."""
    return (position * q) / spec_ring.RING_SIZE


def _interval_claim(
    q: int, size: int
) -> tuple[z3.BoolRef, list[z3.BoolRef], z3.ArithRef, z3.ArithRef]:
    position, partition = z3.Ints("position partition")
    assuming = [position >= 0, position < spec_ring.RING_SIZE, partition >= 0, partition < q]
    inside = z3.And(partition * size <= position, position < (partition + 1) * size)
    return (_partition_of(position, q) == partition) == inside, assuming, position, partition


def partitions_are_equal_intervals() -> ProofResult:
    """With Q = 2^k, partition p is exactly ``[p·RING_SIZE/Q, (p+1)·RING_SIZE/Q)``.

    So the keys a join moves are the union of the reassigned partitions, and the
    fraction of keys that move equals the fraction of partitions reassigned
    (Dynamo §6.2, strategy 3).
    """
    stopwatch = Stopwatch()
    outcome = None
    for k in PARTITION_EXPONENTS:
        q = 1 << k
        claim, assuming, _, _ = _interval_claim(q, spec_ring.RING_SIZE // q)
        outcome = check_forall(claim, assuming=assuming)
        if outcome.model is not None or outcome.status is Status.UNKNOWN:
            break
    assert outcome is not None
    return result_from(
        outcome,
        name="ring.partitions_are_equal_intervals",
        kind="theorem",
        claim="partition_of(x, Q) = p ⇔ x ∈ [p·RING/Q, (p+1)·RING/Q), so moved keys = reassigned/Q",
        scope=f"all 2^128 positions, Q = 2^k, k ≤ {PARTITION_EXPONENTS[-1]}",
        reference="Dynamo §6.2",
        stopwatch=stopwatch,
        replay_when_proved=_fraction_spec_check,
    )


def _fraction_spec_check() -> Replay:
    """Real joins through the spec: moved key positions / RING_SIZE == reassigned / Q."""
    details = []
    for q, nodes in ((16, ["A", "B", "C"]), (64, ["A", "B", "C", "E", "F"]), (256, ["A", "B"])):
        before = spec_ring.assign_partitions(nodes, q)
        after = spec_ring.join_partitions(before, NEW_NODE)
        reassigned = [p for p in range(q) if before[p] != after[p]]
        if any(after[p] != NEW_NODE for p in reassigned):
            return Replay(False, f"Q={q}: a partition moved to an old node")
        starts = [spec_ring.partition_start(p, q) for p in range(q + 1)]
        # Each partition's first and last position.
        ends = [(p, x) for p in range(q) for x in (starts[p], starts[p + 1] - 1)]
        if any(spec_ring.partition_of(x, q) != p for p, x in ends):
            return Replay(False, f"Q={q}: partition_of disagrees with partition_start")
        moved_positions = spec_ring.keys_that_move(
            spec_ring.partition_ring(before),
            spec_ring.partition_ring(after),
            [x for _, x in ends],
            1,
        )
        moved_partitions = {spec_ring.partition_of(x, q) for x in moved_positions}
        moved_keys = sum(starts[p + 1] - starts[p] for p in moved_partitions)
        if moved_partitions != set(reassigned) or Fraction(
            moved_keys, spec_ring.RING_SIZE
        ) != Fraction(len(reassigned), q):
            return Replay(False, f"Q={q}: moved {moved_keys} keys for {len(reassigned)} partitions")
        details.append(f"Q={q}: {len(reassigned)}/{q}")
    return Replay(
        True,
        "join_partitions + keys_that_move: key fraction = partition fraction ("
        + ", ".join(details)
        + ")",
    )


def partitions_are_equal_intervals_control() -> ProofResult:
    """Negative control: with Q = 3 (not a power of two) the partitions are not all equal."""
    stopwatch = Stopwatch()
    q = 3
    size = spec_ring.RING_SIZE // q
    claim, assuming, position, partition = _interval_claim(q, size)
    outcome = check_forall(claim, assuming=assuming)

    def decode(model: z3.ModelRef) -> tuple[str, Replay]:
        x, p = model_int(model, position), model_int(model, partition)
        sizes = [
            spec_ring.partition_start(i + 1, q) - spec_ring.partition_start(i, q) for i in range(q)
        ]
        spec_partition = spec_ring.partition_of(x, q)
        inside = p * size <= x < (p + 1) * size
        agreed = (spec_partition == p) != inside and len(set(sizes)) > 1
        return f"Q=3, position {x}, partition {p}", Replay(
            agreed,
            f"partition_of gives {spec_partition}; partition sizes differ: {sorted(set(sizes))}",
        )

    return result_from(
        outcome,
        name="ring.partitions_are_equal_intervals.control",
        kind="control",
        claim="with Q = 3 every partition holds exactly ⌊RING_SIZE/3⌋ positions",
        scope="all 2^128 positions, Q = 3",
        reference="Dynamo §6.2",
        stopwatch=stopwatch,
        decode=decode,
    )
