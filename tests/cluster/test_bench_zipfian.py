"""The benchmark's YCSB zipfian generator: seeded, in range, and zipfian-shaped."""

from __future__ import annotations

from collections import Counter

import pytest
from dynamokv.impl.cli._bench_cluster import ZipfianGenerator, fnv1a_64


def test_the_same_seed_draws_the_same_keys() -> None:
    first = ZipfianGenerator(1000, seed=3)
    second = ZipfianGenerator(1000, seed=3)
    assert [first.next() for _ in range(500)] == [second.next() for _ in range(500)]


def test_ranks_follow_zipf_with_theta_0_99() -> None:
    items, draws = 1000, 200_000
    generator = ZipfianGenerator(items, seed=1, scrambled=False)
    counts = Counter(generator.next_rank() for _ in range(draws))
    assert set(counts) <= set(range(items))
    # P(rank 0) = 1 / zeta(n, theta); rank 1 is about 2^-0.99 as likely as rank 0.
    assert counts[0] / draws == pytest.approx(1 / generator.zeta_n, rel=0.05)
    assert counts[1] / counts[0] == pytest.approx(2**-0.99, rel=0.1)


def test_scrambling_spreads_the_hot_items() -> None:
    generator = ZipfianGenerator(10_000, seed=1)
    hottest = [item for item, _ in Counter(generator.next() for _ in range(50_000)).most_common(5)]
    assert hottest[0] == fnv1a_64(0) % 10_000
    assert max(hottest) - min(hottest) > 100


def test_bad_arguments_are_rejected() -> None:
    with pytest.raises(ValueError, match="items"):
        ZipfianGenerator(0)
    with pytest.raises(ValueError, match="theta"):
        ZipfianGenerator(10, theta=1.0)
