"""Quorum theorems (Dynamo §4.5, §4.6; interview Q3).

Why counting regions: a read quorum R and a write quorum W cut the N replicas into
four regions, R∩W, R−W, W−R and the rest. Any four non-negative sizes that add up
correctly are realised by actual sets (lay the regions out side by side), and any
pair of sets gives such sizes, so a statement about region *sizes* is exactly a
statement about *all* pairs of quorums. The sizes are unbounded integers, so one
linear-arithmetic query covers every N at once, where the spec's brute force
(:func:`dynamokv.spec.quorum.read_write_quorums_intersect`) can only try N ≤ 8.
The two are tied together by checking that they agree on every (N, R, W) with N ≤ 6.

Sloppy quorums (Dynamo §4.6) are encoded position by position over a bounded
extended preference list, because what matters there is the walk order, not sizes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import z3
from dynamokv.spec import quorum as spec_quorum

from ._result import (
    Kind,
    ProofResult,
    Replay,
    Stopwatch,
    check_exists,
    check_forall,
    model_bool,
    model_int,
    new_solver,
    result_from,
)

__all__ = [
    "MembersEncoding",
    "read_write_intersect",
    "read_write_intersect_control",
    "sloppy_can_miss_strict",
    "sloppy_can_miss_strict_control",
    "sloppy_can_miss_strict_control_strict",
    "sloppy_equals_strict_when_healthy",
    "sloppy_equals_strict_when_healthy_control",
    "sloppy_members",
    "sloppy_walk_members",
    "strict_members",
    "write_write_intersect",
    "write_write_intersect_control",
]

REFERENCE = "Dynamo §4.5"
AGREEMENT_N_MAX = 6
"""The spec's brute-force predicates are compared with the Z3 formula for every N up to this."""
COUNTEREXAMPLE_N_MAX = 6
"""The controls' counterexamples are sought among N up to this (their rows' scope), so
that the spec's brute force can replay them."""
LIST_LENGTH = 6
"""Extended preference lists in the sloppy-quorum encodings have this many nodes."""
CONTROL_LIST_LENGTH = 5
"""The sloppy-quorum belief is refuted over lists of this many nodes (its own encoding)."""
NODE_NAMES = tuple("ABCDEFGH")


class _Regions:
    """Sizes of the four regions that two quorums of sizes ``x`` and ``y`` cut N into."""

    def __init__(self) -> None:
        self.n, self.x, self.y = z3.Ints("n x y")
        self.both, self.only_x, self.only_y, self.neither = z3.Ints("both only_x only_y neither")

    def constraints(self) -> list[z3.BoolRef]:
        return [
            self.n >= 1,
            self.x >= 1,
            self.x <= self.n,
            self.y >= 1,
            self.y <= self.n,
            self.both >= 0,
            self.only_x >= 0,
            self.only_y >= 0,
            self.neither >= 0,
            self.both + self.only_x == self.x,
            self.both + self.only_y == self.y,
            self.both + self.only_x + self.only_y + self.neither == self.n,
        ]

    def decode(self, model: z3.ModelRef) -> tuple[int, int, int, frozenset[int], frozenset[int]]:
        """Lay the regions out side by side: concrete quorums over replicas ``0 .. n-1``."""
        n, x, y = (model_int(model, v) for v in (self.n, self.x, self.y))
        both, only_x, only_y = (model_int(model, v) for v in (self.both, self.only_x, self.only_y))
        first = frozenset(range(both + only_x))
        second = frozenset(range(both)) | frozenset(range(both + only_x, both + only_x + only_y))
        return n, x, y, first, second


def _rw_agreement() -> Replay:
    """The region formula and the spec's brute force agree on every (N, R, W) with N ≤ 6."""
    regions = _Regions()
    solver = new_solver()
    solver.add(*regions.constraints())
    solver.add(regions.both == 0)
    checked = 0
    for n in range(1, AGREEMENT_N_MAX + 1):
        for r in range(1, n + 1):
            for w in range(1, n + 1):
                solver.push()
                solver.add(regions.n == n, regions.x == r, regions.y == w)
                formula_says = solver.check() == z3.unsat  # no disjoint pair exists
                solver.pop()
                spec_says = spec_quorum.read_write_quorums_intersect(n, r, w)
                if formula_says != spec_says:
                    return Replay(
                        False,
                        f"N={n} R={r} W={w}: Z3 says {formula_says}, "
                        f"read_write_quorums_intersect says {spec_says}",
                    )
                checked += 1
    return Replay(
        True,
        f"read_write_quorums_intersect agrees on all {checked} (N, R, W), N ≤ {AGREEMENT_N_MAX}",
    )


def _ww_agreement() -> Replay:
    regions = _Regions()
    solver = new_solver()
    solver.add(*regions.constraints(), regions.x == regions.y, regions.both == 0)
    checked = 0
    for n in range(1, AGREEMENT_N_MAX + 1):
        for w in range(1, n + 1):
            solver.push()
            solver.add(regions.n == n, regions.x == w)
            formula_says = solver.check() == z3.unsat
            solver.pop()
            spec_says = spec_quorum.write_quorums_intersect(n, w)
            if formula_says != spec_says:
                return Replay(
                    False,
                    f"N={n} W={w}: Z3 says {formula_says}, write_quorums_intersect says {spec_says}",
                )
            checked += 1
    return Replay(
        True, f"write_quorums_intersect agrees on all {checked} (N, W), N ≤ {AGREEMENT_N_MAX}"
    )


def _intersection(
    *, name: str, kind: Kind, claim: str, write_write: bool, threshold_gap: int
) -> ProofResult:
    """``x + y > n - threshold_gap`` implies the quorums share ``>= x + y - n`` replicas.

    ``threshold_gap = 0`` is the theorem, for all N; ``1`` weakens the premise to
    ``x + y >= n``, the negative control, refuted among N up to ``COUNTEREXAMPLE_N_MAX``.
    """
    stopwatch = Stopwatch()
    regions = _Regions()
    premise = regions.x + regions.y > regions.n - threshold_gap
    conclusion = z3.And(regions.both >= 1, regions.both >= regions.x + regions.y - regions.n)
    assuming = regions.constraints()
    if write_write:
        assuming.append(regions.x == regions.y)
    scope = "all N"
    if kind == "control":
        assuming.append(regions.n <= COUNTEREXAMPLE_N_MAX)
        scope = f"N ≤ {COUNTEREXAMPLE_N_MAX}"
    outcome = check_forall(z3.Implies(premise, conclusion), assuming=assuming)

    def decode(model: z3.ModelRef) -> tuple[str, Replay]:
        n, x, y, first, second = regions.decode(model)
        label = ("W", "W") if write_write else ("R", "W")
        text = (
            f"N={n} {label[0]}={x} W={y}: {label[0].lower()}-quorum {sorted(first)} and "
            f"w-quorum {sorted(second)} are disjoint"
        )
        if write_write:
            spec_says = spec_quorum.write_quorums_intersect(n, y)
            call = f"write_quorums_intersect({n}, {y})"
        else:
            spec_says = spec_quorum.read_write_quorums_intersect(n, x, y)
            call = f"read_write_quorums_intersect({n}, {x}, {y})"
        agreed = not spec_says and not (first & second) and len(first) == x and len(second) == y
        return text, Replay(agreed, f"{call} is {spec_says}; the decoded quorums are disjoint")

    return result_from(
        outcome,
        name=name,
        kind=kind,
        claim=claim,
        scope=scope,
        reference=REFERENCE,
        stopwatch=stopwatch,
        decode=decode,
        replay_when_proved=_ww_agreement if write_write else _rw_agreement,
    )


def read_write_intersect() -> ProofResult:
    """R + W > N implies every read quorum meets every write quorum, in ≥ R + W − N replicas.

    Dynamo §4.5: "Setting R and W such that R + W > N yields a quorum-like system."
    """
    return _intersection(
        name="quorum.read_write_intersect",
        kind="theorem",
        claim="R + W > N ⇒ |R∩W| ≥ R + W − N ≥ 1 for every read and write quorum",
        write_write=False,
        threshold_gap=0,
    )


def read_write_intersect_control() -> ProofResult:
    """Negative control: R + W = N is *not* enough (a disjoint pair exists)."""
    return _intersection(
        name="quorum.read_write_intersect.control",
        kind="control",
        claim="R + W ≥ N ⇒ every read quorum meets every write quorum",
        write_write=False,
        threshold_gap=1,
    )


def write_write_intersect() -> ProofResult:
    """2W > N implies every two write quorums share a replica."""
    return _intersection(
        name="quorum.write_write_intersect",
        kind="theorem",
        claim="2W > N ⇒ every two write quorums share ≥ 2W − N replicas",
        write_write=True,
        threshold_gap=0,
    )


def write_write_intersect_control() -> ProofResult:
    """Negative control: 2W = N lets two write quorums be disjoint."""
    return _intersection(
        name="quorum.write_write_intersect.control",
        kind="control",
        claim="2W ≥ N ⇒ every two write quorums intersect",
        write_write=True,
        threshold_gap=1,
    )


# --- sloppy quorums --------------------------------------------------------------


def sloppy_members(healthy: Sequence[z3.BoolRef], n: z3.ArithRef) -> list[z3.BoolRef]:
    """Which positions of the extended preference list a sloppy quorum writes to.

    The healthy owners among the first ``n``, then one healthy substitute (in walk
    order) for each unhealthy owner: the rule of
    :func:`dynamokv.spec.quorum.sloppy_quorum`, position by position.
    """
    unhealthy_owners = z3.Sum(
        [z3.If(z3.And(i < n, z3.Not(h)), 1, 0) for i, h in enumerate(healthy)]
    )
    members: list[z3.BoolRef] = []
    for i, h in enumerate(healthy):
        substitutes_before = z3.Sum(
            [z3.IntVal(0)] + [z3.If(z3.And(j >= n, healthy[j]), 1, 0) for j in range(i)]
        )
        members.append(z3.And(h, z3.Or(i < n, substitutes_before < unhealthy_owners)))
    return members


MembersEncoding = Callable[[Sequence[z3.BoolRef], z3.ArithRef], list[z3.BoolRef]]
"""An encoding of which positions of the extended preference list a write quorum may use."""


def strict_members(healthy: Sequence[z3.BoolRef], n: z3.ArithRef) -> list[z3.BoolRef]:
    """Which positions a *strict* quorum writes to: the healthy owners, no substitutes."""
    return [z3.And(h, i < n) for i, h in enumerate(healthy)]


def sloppy_walk_members(healthy: Sequence[z3.BoolRef], n: z3.ArithRef) -> list[z3.BoolRef]:
    """The sloppy quorum again, encoded another way: as the coordinator walks the list.

    Owners come first in the walk, so by the time it reaches the substitutes it has
    counted the owners that are down, and it takes one healthy substitute per such
    owner. Running totals, not the sums over positions of :func:`sloppy_members`:
    a negative control built on this encoding does not share a mistake with the
    theorem's.
    """
    members: list[z3.BoolRef] = []
    owners_down: z3.ArithRef = z3.IntVal(0)
    substitutes_taken: z3.ArithRef = z3.IntVal(0)
    for i, h in enumerate(healthy):
        is_owner = i < n
        member = z3.If(is_owner, h, z3.And(h, substitutes_taken < owners_down))
        members.append(member)
        owners_down = owners_down + z3.If(z3.And(is_owner, z3.Not(h)), 1, 0)
        substitutes_taken = substitutes_taken + z3.If(z3.And(z3.Not(is_owner), member), 1, 0)
    return members


def _count(bits: Sequence[z3.BoolRef]) -> z3.ArithRef:
    return z3.Sum([z3.IntVal(0), *(z3.If(b, 1, 0) for b in bits)])


class _SloppyWrite:
    """A write acknowledged by W members of a quorum and a strict read of R owners.

    Args:
        members: the encoding of the write quorum (:func:`sloppy_members`...).
        length: nodes on the extended preference list.
        prefix: variable names, so that two encodings never share a variable.
        reads_from_down_owners: the read is served by owners the writer saw down
            (the far side of a partition); otherwise by any R owners.
    """

    def __init__(
        self,
        members: MembersEncoding,
        *,
        length: int,
        prefix: str,
        reads_from_down_owners: bool,
    ) -> None:
        self.length = length
        self.n_max = length // 2
        """N up to half the list: behind the owners, room for a substitute per owner."""
        self.scope = f"N ≤ {self.n_max}, lists of {length} nodes"
        """What the encoding covers, as its rows state it."""
        self.n, self.r, self.w = z3.Ints(f"{prefix}n {prefix}r {prefix}w")
        self.healthy = [z3.Bool(f"{prefix}healthy_{i}") for i in range(length)]
        self.acks = [z3.Bool(f"{prefix}ack_{i}") for i in range(length)]
        self.reads = [z3.Bool(f"{prefix}read_{i}") for i in range(length)]
        members_at = members(self.healthy, self.n)
        n, r, w = self.n, self.r, self.w
        self.background = [
            n >= 1,
            n <= self.n_max,
            r >= 1,
            r <= n,
            w >= 1,
            w <= n,
            r + w > n,
            _count(self.acks) == w,
            _count(self.reads) == r,
            # The write is acknowledged by W members of the coordinator's quorum.
            *[z3.Implies(self.acks[i], members_at[i]) for i in range(length)],
            # The read is a strict quorum: owners only.
            *[
                z3.Implies(
                    self.reads[i],
                    z3.And(i < n, z3.Not(self.healthy[i])) if reads_from_down_owners else i < n,
                )
                for i in range(length)
            ],
        ]
        self.disjoint = z3.And([z3.Not(z3.And(self.acks[i], self.reads[i])) for i in range(length)])

    def decode(self, model: z3.ModelRef) -> tuple[str, Replay]:
        length = self.length
        nodes = NODE_NAMES[:length]
        n_value, r_value, w_value = (model_int(model, v) for v in (self.n, self.r, self.w))
        up = {nodes[i] for i in range(length) if model_bool(model, self.healthy[i])}
        ack_nodes = {nodes[i] for i in range(length) if model_bool(model, self.acks[i])}
        read_nodes = {nodes[i] for i in range(length) if model_bool(model, self.reads[i])}
        quorum = spec_quorum.sloppy_quorum(nodes, up, n_value)
        quorum_nodes = {node for node, _ in quorum}
        config = spec_quorum.QuorumConfig(n=n_value, r=r_value, w=w_value)
        text = (
            f"N={n_value} R={r_value} W={w_value}, list {''.join(nodes)}, writer sees "
            f"{''.join(sorted(up))} up; sloppy quorum {quorum}; write acked by "
            f"{''.join(sorted(ack_nodes))}, strict read from {''.join(sorted(read_nodes))}"
        )
        agreed = (
            ack_nodes <= quorum_nodes
            and read_nodes <= set(nodes[:n_value])
            and not (ack_nodes & read_nodes)
            and spec_quorum.is_strict_consistent(config)
        )
        return text, Replay(
            agreed,
            "sloppy_quorum contains the acks, is_strict_consistent holds, and the read misses the write",
        )


def sloppy_can_miss_strict() -> ProofResult:
    """Under a partition, a write acknowledged by a sloppy quorum can miss a strict read quorum.

    Dynamo §4.6: sloppy quorum keeps writes available, at the price of R + W > N
    not implying any more that a read sees the latest write.
    """
    stopwatch = Stopwatch()
    # Looked up at call time, so that a test can break the encoding and see the row fail.
    write = _SloppyWrite(sloppy_members, length=LIST_LENGTH, prefix="", reads_from_down_owners=True)
    outcome = check_exists(write.disjoint, assuming=write.background)
    return result_from(
        outcome,
        name="quorum.sloppy_can_miss_strict",
        kind="theorem",
        claim="some partition lets a sloppy write quorum and a strict read quorum be disjoint although R + W > N",
        scope=f"exhibit, {write.scope}",
        reference="Dynamo §4.6",
        stopwatch=stopwatch,
        decode=write.decode,
    )


def sloppy_can_miss_strict_control() -> ProofResult:
    """Negative control: "R + W > N means reads always see writes, even with sloppy quorums".

    Encoded on its own (the walk of :func:`sloppy_walk_members`, a shorter list, its
    own variables), so it is refuted by a counterexample of its own and does not
    stand or fall with the theorem's encoding.
    """
    stopwatch = Stopwatch()
    write = _SloppyWrite(
        sloppy_walk_members,
        length=CONTROL_LIST_LENGTH,
        prefix="belief_",
        reads_from_down_owners=False,
    )
    outcome = check_forall(z3.Not(write.disjoint), assuming=write.background)
    return result_from(
        outcome,
        name="quorum.sloppy_can_miss_strict.control",
        kind="control",
        claim="with R + W > N a sloppy write quorum always meets a strict read quorum",
        scope=f"all R, W, {write.scope}",
        reference="Dynamo §4.6",
        stopwatch=stopwatch,
        decode=write.decode,
    )


def sloppy_can_miss_strict_control_strict() -> ProofResult:
    """Negative control: the exhibit with a *strict* write quorum must have no witness.

    The theorem's encoding with the substitutes taken away: if this found a
    witness, the encoding would let quorums miss each other for reasons other than
    substitution, and the exhibit would prove nothing about sloppy quorums.
    """
    stopwatch = Stopwatch()
    write = _SloppyWrite(
        strict_members, length=LIST_LENGTH, prefix="strict_", reads_from_down_owners=True
    )
    outcome = check_exists(write.disjoint, assuming=write.background)
    return result_from(
        outcome,
        name="quorum.sloppy_can_miss_strict.control2",
        kind="control",
        claim="some partition lets a strict write quorum and a strict read quorum be disjoint although R + W > N",
        scope=f"exhibit, {write.scope}",
        reference="Dynamo §4.5",
        stopwatch=stopwatch,
        decode=write.decode,
        replay_when_refuted=_strict_never_misses,
    )


def _strict_never_misses() -> Replay:
    """Through the spec: a strict quorum never leaves W healthy owners and R down ones.

    The acks are what the spec's strict quorum admits; the reads that could miss them are
    the owners the writer sees down, counted here without the spec. A strict quorum that
    took a substitute beyond the N owners would leave room for both.
    """
    nodes = NODE_NAMES[:LIST_LENGTH]
    checked = 0
    for n_value in range(1, LIST_LENGTH // 2 + 1):
        for mask in range(1 << LIST_LENGTH):
            up = {nodes[i] for i in range(LIST_LENGTH) if mask >> i & 1}
            acks_max = len(spec_quorum.strict_quorum(nodes, up, n_value))
            reads_max = sum(1 for owner in nodes[:n_value] if owner not in up)
            for r_value in range(1, n_value + 1):
                for w_value in range(n_value - r_value + 1, n_value + 1):
                    if acks_max >= w_value and reads_max >= r_value:
                        return Replay(
                            False,
                            f"N={n_value} R={r_value} W={w_value}, up {sorted(up)}: "
                            f"strict_quorum leaves room for a disjoint read",
                        )
                    checked += 1
    return Replay(
        True,
        f"strict_quorum never leaves W healthy owners beside R down ones ({checked} cases)",
    )


def _sloppy_is_strict(*, name: str, kind: Kind, claim: str, owners_down_max: int) -> ProofResult:
    stopwatch = Stopwatch()
    n = z3.Int("n")
    healthy = [z3.Bool(f"healthy_{i}") for i in range(LIST_LENGTH)]
    members = sloppy_members(healthy, n)
    owners_down = z3.Sum([z3.If(z3.And(i < n, z3.Not(h)), 1, 0) for i, h in enumerate(healthy)])
    background = [n >= 1, n <= LIST_LENGTH, owners_down <= owners_down_max]
    claim_formula = z3.And([members[i] == (i < n) for i in range(LIST_LENGTH)])
    outcome = check_forall(claim_formula, assuming=background)

    def decode(model: z3.ModelRef) -> tuple[str, Replay]:
        nodes = NODE_NAMES[:LIST_LENGTH]
        n_value = model_int(model, n)
        up = {nodes[i] for i in range(LIST_LENGTH) if model_bool(model, healthy[i])}
        quorum = spec_quorum.sloppy_quorum(nodes, up, n_value)
        strict = spec_quorum.strict_quorum(nodes, up, n_value)
        text = f"N={n_value}, {''.join(sorted(up))} up: sloppy {quorum}, strict {strict}"
        # The witness need not involve a hint: with every node of the list an owner
        # (N = the list's length) a down owner has no substitute, and the quorum is
        # just smaller. What the spec must confirm is the claim's negation.
        differs = {node for node, _ in quorum} != set(nodes[:n_value])
        return text, Replay(differs, "sloppy_quorum is not the first N nodes")

    return result_from(
        outcome,
        name=name,
        kind=kind,
        claim=claim,
        scope=f"lists of {LIST_LENGTH} nodes, all N",
        reference="Dynamo §4.6",
        stopwatch=stopwatch,
        decode=decode,
        replay_when_proved=_sloppy_agreement,
    )


def _sloppy_agreement() -> Replay:
    """The Z3 encoding and :func:`sloppy_quorum` agree on every healthy set and N."""
    nodes = NODE_NAMES[:LIST_LENGTH]
    healthy = [z3.Bool(f"healthy_{i}") for i in range(LIST_LENGTH)]
    n = z3.Int("n")
    members = sloppy_members(healthy, n)
    checked = 0
    for n_value in range(1, LIST_LENGTH + 1):
        for mask in range(1 << LIST_LENGTH):
            up = [bool(mask >> i & 1) for i in range(LIST_LENGTH)]
            substitution = [(n, z3.IntVal(n_value))] + [
                (h, z3.BoolVal(u)) for h, u in zip(healthy, up, strict=True)
            ]
            encoded = {
                nodes[i]
                for i, member in enumerate(members)
                if z3.is_true(z3.simplify(z3.substitute(member, *substitution)))
            }
            up_nodes = {nodes[i] for i in range(LIST_LENGTH) if up[i]}
            quorum = spec_quorum.sloppy_quorum(nodes, up_nodes, n_value)
            spec_nodes = {node for node, _ in quorum}
            no_hints_when_owners_up = all(up[:n_value]) <= all(h is None for _, h in quorum)
            if encoded != spec_nodes or not no_hints_when_owners_up:
                return Replay(
                    False,
                    f"N={n_value}, up {sorted(up_nodes)}: encoding {sorted(encoded)}, "
                    f"sloppy_quorum {quorum}",
                )
            checked += 1
    return Replay(True, f"the encoding equals sloppy_quorum on all {checked} (healthy set, N)")


def sloppy_equals_strict_when_healthy() -> ProofResult:
    """With every owner healthy, the sloppy quorum is the strict one: no substitutes, no hints."""
    return _sloppy_is_strict(
        name="quorum.sloppy_is_strict_when_owners_up",
        kind="theorem",
        claim="when the first N nodes are healthy the sloppy quorum is exactly the first N",
        owners_down_max=0,
    )


def sloppy_equals_strict_when_healthy_control() -> ProofResult:
    """Negative control: "one owner down still leaves the sloppy quorum equal to the strict one"."""
    return _sloppy_is_strict(
        name="quorum.sloppy_is_strict_when_owners_up.control",
        kind="control",
        claim="with at most one owner down the sloppy quorum is exactly the first N",
        owners_down_max=1,
    )
