"""The one group-commit site (:class:`GroupCommit`): groups form, failures reach every writer
of their group, appended items ride the next group, and both the store and the storage
benchmark's peers commit through it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from dynamokv.impl.cli._bench_storage import _ENGINE_CLASSES
from dynamokv.impl.storage import GroupCommit, Store, StoreOptions

WRITERS_COUNT = 16
JOIN_SECONDS_MAX = 60.0


def _run_writers(count: int, target: Callable[[int], None]) -> list[BaseException]:
    errors: list[BaseException] = []

    def body(index: int) -> None:
        try:
            target(index)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=body, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN_SECONDS_MAX)
        assert not thread.is_alive()
    return errors


def _wait_for_queue(group: GroupCommit[int], length: int) -> None:
    """Wait until ``length`` items are queued (read under the queue's lock), bounded."""
    deadline = time.monotonic() + JOIN_SECONDS_MAX
    while time.monotonic() < deadline:
        with group._lock:
            if len(group._queue) == length:
                return
        time.sleep(0.001)
    raise AssertionError(f"{length} writers never queued")


def test_writers_that_queue_while_a_commit_runs_share_the_next_group() -> None:
    groups: list[list[int]] = []
    first_commit_started = threading.Event()
    others_queued = threading.Event()

    def commit(take: Callable[[], list[int]]) -> None:
        items = take()
        groups.append(items)
        if len(groups) == 1:
            first_commit_started.set()
            assert others_queued.wait(JOIN_SECONDS_MAX)

    group: GroupCommit[int] = GroupCommit(commit)
    leader = threading.Thread(target=group.submit, args=(0,))
    leader.start()
    assert first_commit_started.wait(JOIN_SECONDS_MAX)
    followers = [threading.Thread(target=group.submit, args=(n,)) for n in range(1, 9)]
    for follower in followers:
        follower.start()
    _wait_for_queue(group, 8)
    others_queued.set()
    for thread in [leader, *followers]:
        thread.join(JOIN_SECONDS_MAX)
        assert not thread.is_alive()
    assert groups[0] == [0]
    assert sorted(groups[1]) == list(range(1, 9))  # all eight in one commit
    assert (group.items_count, group.groups_count) == (9, 2)


def test_a_failed_commit_fails_every_writer_of_its_group_and_only_them() -> None:
    failing = threading.Event()
    failing.set()
    committed: list[int] = []

    def commit(take: Callable[[], list[int]]) -> None:
        items = take()
        if failing.is_set():
            raise OSError("disk on fire")
        committed.extend(items)

    group: GroupCommit[int] = GroupCommit(commit, failure=OSError)
    errors = _run_writers(WRITERS_COUNT, group.submit)
    assert len(errors) == WRITERS_COUNT and committed == []
    assert all(isinstance(error, OSError) for error in errors)
    failing.clear()
    assert _run_writers(WRITERS_COUNT, group.submit) == []
    assert sorted(committed) == list(range(WRITERS_COUNT))


def test_an_unexpected_error_reaches_the_leader_and_an_aborted_error_its_group() -> None:
    followers_queued = threading.Event()

    def commit(take: Callable[[], list[int]]) -> None:
        assert followers_queued.wait(JOIN_SECONDS_MAX)
        take()
        raise KeyError("a bug")

    group: GroupCommit[int] = GroupCommit(
        commit, failure=OSError, aborted=lambda unexpected: ValueError(f"aborted: {unexpected}")
    )
    errors: list[BaseException] = []
    leader = threading.Thread(target=lambda: errors.extend(_run_writers(1, group.submit)))
    leader.start()
    _wait_for_queue(group, 1)  # the leader's own item, queued until it takes its group
    followers = _run_writers_later(group, 4)
    _wait_for_queue(group, 5)
    followers_queued.set()
    leader.join(JOIN_SECONDS_MAX)
    follower_errors = followers()
    assert [type(error) for error in errors] == [KeyError]
    assert sorted(str(error) for error in follower_errors) == ["aborted: 'a bug'"] * 4
    assert group._queue == [] and not group._leader_active  # nothing hangs, nobody leads


def _run_writers_later(group: GroupCommit[int], count: int) -> Callable[[], list[BaseException]]:
    """Start ``count`` writers of ``group`` now; the result joins them and gives their errors."""
    errors: list[BaseException] = []
    thread = threading.Thread(
        target=lambda: errors.extend(_run_writers(count, lambda n: group.submit(100 + n)))
    )
    thread.start()

    def join() -> list[BaseException]:
        thread.join(JOIN_SECONDS_MAX)
        assert not thread.is_alive()
        return errors

    return join


def test_appended_items_wait_for_the_next_group_and_admit_can_refuse() -> None:
    groups: list[list[str]] = []
    group: GroupCommit[str] = GroupCommit(lambda take: groups.append(take()))
    group.append("a")
    group.append("b")
    assert groups == []  # no IO until someone commits
    group.commit_queued()
    group.commit_queued()  # nothing queued: no empty group
    group.submit("c")
    assert groups == [["a", "b"], ["c"]]

    def refuse() -> None:
        raise RuntimeError("closed")

    with pytest.raises(RuntimeError, match="closed"):
        group.submit("d", admit=refuse)
    with pytest.raises(RuntimeError, match="closed"):
        group.append("d", admit=refuse)
    assert groups == [["a", "b"], ["c"]]


def test_the_store_and_the_benchmarks_peers_commit_through_the_same_class(
    tmp_path: Path,
) -> None:
    with Store.open(str(tmp_path / "store"), options=StoreOptions(fsync="none")) as store:
        assert type(store._group_commit) is GroupCommit
        assert _run_writers(WRITERS_COUNT, lambda n: store.put(b"k%d" % n, b"v")) == []
        assert store._group_commit.items_count == WRITERS_COUNT
    peer = _ENGINE_CLASSES["sqlite"](str(tmp_path))
    try:
        put, describe = peer.concurrent_put()
        assert type(peer._group) is GroupCommit
        assert _run_writers(WRITERS_COUNT, lambda n: put(b"k%d" % n, b"v")) == []
        assert peer._group.items_count == WRITERS_COUNT
        assert peer.read_chunk([b"k%d" % n for n in range(WRITERS_COUNT)]) == 0
        assert describe().endswith("writes/commit")
    finally:
        peer.close()
