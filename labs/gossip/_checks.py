"""The checks of lab gossip: the merge rule, the peer choice, phi, and gossip under loss."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Any

from dynamokv.impl.core import MemberEntry
from dynamokv.impl.sim._gossip_sim import run_gossip
from dynamokv.spec.errors import DynamoKVError
from hypothesis import strategies as st

from .._model import CheckContext, Status, Verdict
from .._solution import LearnerError
from .._tiers import Case, differential, unit_cases
from ._scenario import PARTITIONS, config, seams_of, warm_cluster

STATUSES = ("joining", "normal", "leaving", "left")


def _entry(generation: int, heartbeat: int, status: str, address: str = "10.0.0.1") -> MemberEntry:
    return MemberEntry("n1", address, generation, heartbeat, status)  # type: ignore[arg-type]


def _show_entry(entry: Any) -> str:
    if isinstance(entry, MemberEntry):
        return (
            f"(generation {entry.generation}, heartbeat {entry.heartbeat}, {entry.status}, "
            f"{entry.address}, weight {entry.weight})"
        )
    return repr(entry)


# -- part 1 -------------------------------------------------------------------------------


def check_merge_cases(ctx: CheckContext) -> Verdict:
    """1.1: a restart, a fresher heartbeat, an admin's leave with a stale heartbeat."""
    cases = [
        Case(
            "merge_entries",
            (_entry(1, 90, "normal"), _entry(2, 3, "joining")),
            _entry(2, 3, "joining"),
            "a restart: generation 2 beats generation 1's heartbeat 90",
        ),
        Case(
            "merge_entries",
            (_entry(2, 3, "joining"), _entry(1, 90, "normal")),
            _entry(2, 3, "joining"),
            "the same, the other way round",
        ),
        Case(
            "merge_entries",
            (_entry(1, 5, "normal"), _entry(1, 9, "normal")),
            _entry(1, 9, "normal"),
            "a fresher heartbeat wins",
        ),
        Case(
            "merge_entries",
            (_entry(1, 9, "normal"), _entry(1, 5, "normal")),
            _entry(1, 9, "normal"),
            "an older heartbeat loses",
        ),
        Case(
            "merge_entries",
            (_entry(1, 12, "normal"), _entry(1, 7, "leaving")),
            _entry(1, 12, "leaving"),
            "an admin's leave (stale heartbeat 7) meets a fresh heartbeat 12",
        ),
    ]
    return unit_cases(ctx, cases, show=_show_entry, source="of the membership lifecycle")


def _entries() -> st.SearchStrategy[tuple[MemberEntry, MemberEntry]]:
    # The weight varies like the address: a merge that builds a new entry must carry
    # every field, not only the ones the unit cases change.
    def entry(address: str) -> st.SearchStrategy[MemberEntry]:
        return st.builds(
            MemberEntry,
            st.just("n1"),
            st.just(address),
            st.integers(1, 3),
            st.integers(0, 6),
            st.sampled_from(STATUSES),
            st.integers(1, 3),
        )

    return st.tuples(entry("10.0.0.1"), st.sampled_from(["10.0.0.1", "10.0.0.2"]).flatmap(entry))


def check_merge_differential(ctx: CheckContext) -> Verdict:
    """1.2: merge_entries equals the answer key on generated pairs of entries."""
    return differential(
        ctx,
        _entries(),
        call=lambda function, pair: function(*pair),
        function="merge_entries",
        show_input=lambda pair: f"a={_show_entry(pair[0])}, b={_show_entry(pair[1])}",
        show_output=_show_entry,
    )


# -- part 2 -------------------------------------------------------------------------------

DRAWS = 8000
CANDIDATES = tuple(f"n{index}" for index in range(8))
CHI_SQUARE_999 = 24.32
"""The 99.9% quantile of chi-square with 7 degrees of freedom."""


def check_peer_cases(ctx: CheckContext) -> Verdict:
    """2.1: no candidate, one candidate."""
    cases = [
        Case("choose_gossip_peer", ((), random.Random(1)), None, "choose_gossip_peer([], rng)"),
        Case(
            "choose_gossip_peer",
            (("n7",), random.Random(1)),
            "n7",
            "choose_gossip_peer(['n7'], rng)",
        ),
    ]
    return unit_cases(ctx, cases, source="of a round")


REPLAYS = 20
"""Pairs of rngs in one state that must give one peer: a stateful or unseeded choice
that agrees with itself on all of them by chance does so once in 8^20."""


def _replay_differs(choose: Callable[..., Any], seed: int) -> tuple[int, object, object] | None:
    """The first of ``REPLAYS`` states where two rngs in that state gave different peers.

    Between the two calls the module-level generator of :mod:`random` is reseeded (and
    restored afterwards): a choice that draws from it, or that remembers its earlier
    calls, then answers differently for the same rng state.
    """
    saved = random.getstate()
    try:
        for trial in range(REPLAYS):
            state = random.Random(seed * 1_000 + trial).getstate()
            peers = []
            for attempt in range(2):
                rng = random.Random()
                rng.setstate(state)
                random.seed(seed * 1_000 + 2 * trial + attempt)
                peers.append(choose(CANDIDATES, rng))
            if peers[0] != peers[1]:
                return trial, peers[0], peers[1]
    finally:
        random.setstate(saved)
    return None


def check_peer_uniform(ctx: CheckContext) -> Verdict:
    """2.2: always a candidate, drawn from the rng given, and uniform over 8,000 draws."""
    try:
        replay = _replay_differs(ctx.solution["choose_gossip_peer"], ctx.seed)
    except LearnerError as error:
        return Verdict(Status.FAILED, str(error), "candidates n0..n7")
    if replay is not None:
        trial, first, second = replay
        return Verdict(
            Status.FAILED,
            "two rngs in the same state gave different peers: the choice draws on "
            "randomness or state other than the rng it is given, so a seeded run cannot "
            "be replayed",
            f"candidates n0..n7, twice with random.Random({ctx.seed * 1_000 + trial}) "
            "(the random module reseeded between the calls)",
            f"{first!r}, then {second!r}",
            "the same peer twice",
        )
    rng = random.Random(ctx.seed)
    counts = dict.fromkeys(CANDIDATES, 0)
    for _ in range(DRAWS):
        try:
            peer = ctx.solution["choose_gossip_peer"](CANDIDATES, rng)
        except LearnerError as error:
            return Verdict(Status.FAILED, str(error), "candidates n0..n7")
        if peer not in counts:
            return Verdict(Status.FAILED, "", "candidates n0..n7", repr(peer), "one of n0..n7")
        counts[peer] += 1
    expected = DRAWS / len(CANDIDATES)
    chi_square = sum((count - expected) ** 2 / expected for count in counts.values())
    if chi_square > CHI_SQUARE_999:
        shown = ", ".join(f"{peer}: {count}" for peer, count in counts.items())
        return Verdict(
            Status.FAILED,
            f"not uniform: chi-square {chi_square:.1f} > {CHI_SQUARE_999} (p < 0.001)",
            f"{DRAWS} rounds over candidates n0..n7, seed {ctx.seed}",
            shown,
            f"about {expected:.0f} each",
        )
    return Verdict(Status.PASSED, f"chi-square {chi_square:.1f} over {DRAWS} draws (uniform)")


# -- part 3 -------------------------------------------------------------------------------


def _close(a: Any, b: Any) -> bool:
    return isinstance(a, int | float) and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def check_phi_cases(ctx: CheckContext) -> Verdict:
    """3.1: phi at the mean, one and four deviations late, and far past it."""
    answer = ctx.answer["phi_of_silence"]
    points = [
        (10.0, 10.0, 2.0),
        (12.0, 10.0, 2.0),
        (18.0, 10.0, 2.0),
        (0.0, 10.0, 2.0),
        (1e6, 10.0, 2.0),
    ]
    cases = [
        Case(
            "phi_of_silence",
            point,
            answer(*point),
            f"phi_of_silence(silence={point[0]:g}, mean={point[1]:g}, std={point[2]:g})",
        )
        for point in points
    ]
    return unit_cases(ctx, cases, equal=_close, source="of the suspicion curve")


def check_phi_differential(ctx: CheckContext) -> Verdict:
    """3.2: phi_of_silence equals the answer key on generated silences."""
    inputs = st.tuples(
        st.floats(0, 1e7, allow_nan=False),
        st.floats(0, 1000, allow_nan=False),
        st.floats(0.5, 500, allow_nan=False),
    )
    return differential(
        ctx,
        inputs,
        call=lambda function, value: function(*value),
        function="phi_of_silence",
        show_input=lambda v: f"silence={v[0]!r}, mean={v[1]!r}, std={v[2]!r}",
        equal=_close,
    )


# -- part 4 -------------------------------------------------------------------------------

NODES = 16
COLD_START_SIZES = (4, 8, 16)
"""Cluster sizes of the cold-start run, smallest first: a failure shows the smallest."""
LOSS = 0.05
SLOW_DELAY_PERIODS = 2
STEADY_ROUNDS = 150


def _first_suspicion(network: Any, ids: list[str], rounds: int) -> tuple[int, str, str] | None:
    """Step ``rounds`` gossip rounds; the first (tick, observer, suspect) among live views."""
    period = network.config.gossip_period_ticks
    for _ in range(rounds):
        for _ in range(period):
            network.step()
        for view in network.live():
            for peer in ids:
                if peer != view.node_id and view.is_suspected(peer, network.tick):
                    return network.tick, view.node_id, peer
    return None


def check_gossip_in_the_simulator(ctx: CheckContext) -> Verdict:
    """4.1: your rules in every view: converge under loss; a slow node is not declared dead."""
    seams = seams_of(ctx.solution)
    gossip = config()
    network, ids = warm_cluster(NODES, seed=ctx.seed, loss=LOSS, seams=seams, gossip=gossip)
    slow = ids[-1]
    network.slow = slow
    network.slow_delay_ticks = SLOW_DELAY_PERIODS * gossip.gossip_period_ticks
    network.tracing = True
    steady = (
        f"{NODES} views, {LOSS:.0%} of messages lost, seed {ctx.seed}: a warm cluster where "
        f"{slow}'s messages arrive {SLOW_DELAY_PERIODS} rounds late"
    )
    found = _first_suspicion(network, ids, STEADY_ROUNDS)
    if found is not None:
        tick, observer, suspect = found
        which = "the slow node" if suspect == slow else "the live node"
        return Verdict(
            Status.FAILED,
            f"{observer} suspected {which} {suspect} at tick {tick}, though it is alive",
            f"{steady}, after {tick // gossip.gossip_period_ticks} rounds (the first suspicion)",
            details=network.ladder(observer, suspect, until=tick),
        )
    for size in COLD_START_SIZES:
        what = f"{size} views, {LOSS:.0%} of messages lost, seed {ctx.seed}"
        try:
            run = run_gossip(
                size,
                seed=ctx.seed,
                loss=LOSS,
                partition_count=PARTITIONS,
                rounds_max=80,
                seams=seams,
            )
        except DynamoKVError as error:
            return Verdict(
                Status.FAILED, f"{error}", f"{what}: cold start, a join, a ring change, a crash"
            )
        if run.false_suspicions:
            return Verdict(
                Status.FAILED,
                f"{run.false_suspicions} live nodes were suspected during the run",
                f"{what}: cold start, a join, a ring change, a crash",
            )
    return Verdict(
        Status.PASSED,
        f"{steady}: never a suspicion in {STEADY_ROUNDS} rounds; cold starts of "
        f"{', '.join(map(str, COLD_START_SIZES))} views: membership in {run.membership_rounds} "
        f"rounds, a join seen in {run.join_visible_rounds}, a crash suspected by all in "
        f"{run.detection_rounds} (at {NODES}), no false suspicion",
    )


CHECK_FUNCTIONS: dict[str, Callable[[CheckContext], Verdict]] = {
    "1.1": check_merge_cases,
    "1.2": check_merge_differential,
    "2.1": check_peer_cases,
    "2.2": check_peer_uniform,
    "3.1": check_phi_cases,
    "3.2": check_phi_differential,
    "4.1": check_gossip_in_the_simulator,
}
