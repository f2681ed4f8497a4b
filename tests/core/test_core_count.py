"""Count: successive integers (from 0 unless told) that survive a pickle (the explorer pickles nodes)."""

from __future__ import annotations

import pickle

from dynamokv.impl.core._count import Count


def test_a_count_gives_successive_integers_from_zero() -> None:
    count = Count()
    assert [next(count) for _ in range(4)] == [0, 1, 2, 3]


def test_a_pickled_count_goes_on_where_it_stood_and_the_original_is_untouched() -> None:
    count = Count()
    next(count)
    next(count)
    copy = pickle.loads(pickle.dumps(count))
    assert [next(copy), next(copy)] == [2, 3]
    assert next(count) == 2


def test_a_count_from_a_start_gives_successive_integers_from_it() -> None:
    """A node's request ops take their ids from a random start per incarnation."""
    count = Count(1 << 20)
    assert [next(count) for _ in range(3)] == [1 << 20, (1 << 20) + 1, (1 << 20) + 2]
