"""Group commit: several writers share one durable commit (one ``fsync``), leader/follower.

A writer queues its item. The first writer to find no *leader* becomes the leader: it takes
every queued item, commits them together with one call of the owner's ``commit`` (for the
store: one ``write`` and one ``fdatasync`` of the WAL), wakes the writers it served, and
hands leadership to the first writer that queued meanwhile. While one commit runs, the next
batch gathers, so N concurrent writers share roughly one ``fsync`` per batch instead of N.
Followers sleep on their own lock until they are served or promoted.

Why a leader and not one committer thread draining a queue: under the GIL, a committer's
wake-up after each ``fsync`` competes with every writer's, while a leader's followers sleep
until they are served (``docs/architecture.md``, "Group commit"; measured by ``dynamokv
bench storage --store-group-commit committer``).

This is the project's one group-commit site: the store commits its WAL records through it
(every durable write of a node, and of the simulator's store mode), and ``dynamokv bench
storage`` wraps the other engines' durable batches in it for its concurrent-writer rows.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from dynamokv.spec.errors import invariant

Item = TypeVar("Item")


class _Entry(Generic[Item]):
    """A queued item, and the lock its writer sleeps on (``None``: appended, nobody waits).

    An appended item (:meth:`GroupCommit.append`) has no thread waiting on it: it is never
    promoted to leader and is committed with the next group.
    """

    __slots__ = ("error", "item", "lock", "promoted")

    def __init__(self, item: Item | None, *, waits: bool) -> None:
        self.item = item
        self.error: BaseException | None = None
        self.promoted = False
        self.lock: threading.Lock | None = None
        if waits:
            self.lock = threading.Lock()
            self.lock.acquire()


Take = Callable[[], list[Item]]
"""Handed to ``commit``: takes every item queued so far (call it once, when ready)."""


class GroupCommit(Generic[Item]):
    """Leader/follower group commit around ``commit`` (see the module docstring).

    Args:
        commit: ``commit(take)`` makes durable, as one group, the items that ``take()``
            returns, in queue order; it calls ``take`` once, when it is ready to write (the
            store first makes room in its memtable, so that writers arriving meanwhile
            join the group). It raises an exception of type ``failure`` if the group
            failed: every writer of the group then raises it.
        lock: Guards the queue; the owner may pass its own lock to make :meth:`submit`'s
            ``admit`` check atomic with its other state. Never held during ``commit``.
        failure: The exceptions ``commit`` reports a failed group with. Anything else is a
            bug or an interrupt: the leader re-raises it, and its followers get
            ``aborted(exception)`` instead.
        aborted: Makes a follower's error from a leader's unexpected exception.
    """

    def __init__(
        self,
        commit: Callable[[Take[Item]], None],
        *,
        lock: threading.Lock | None = None,
        failure: type[BaseException] = Exception,
        aborted: Callable[[BaseException], BaseException] = lambda unexpected: RuntimeError(
            f"group commit aborted: {unexpected!r}"
        ),
    ) -> None:
        self._commit = commit
        self._lock = lock if lock is not None else threading.Lock()
        self._failure = failure
        self._aborted = aborted
        self._queue: list[_Entry[Item]] = []
        self._leader_active = False
        self._leader: _Entry[Item] | None = None  # the entry of the thread that leads
        self._batch: list[_Entry[Item]] | None = None  # the leader's group, once taken
        self.items_count = 0
        """Items committed so far (statistics)."""
        self.groups_count = 0
        """Groups committed so far (statistics)."""

    def submit(self, item: Item | None, *, admit: Callable[[], None] | None = None) -> None:
        """Queue ``item`` and return once its group is committed.

        Args:
            item: What to commit; ``None`` adds nothing and waits for (or leads) the
                commit of everything queued so far.
            admit: Called under the queue's lock before the item is queued; raise from it
                to refuse the item (the store refuses writes once closed or read-only).

        Raises:
            BaseException: ``commit``'s failure for this item's group, or what ``admit``
                raised.
        """
        me = _Entry(item, waits=True)
        with self._lock:
            if admit is not None:
                admit()
            self._queue.append(me)
            follower = self._leader_active
            self._leader_active = True
        if follower:
            assert me.lock is not None
            me.lock.acquire()  # released by the leader that served us or promoted us
            if not me.promoted:
                if me.error is not None:
                    raise me.error
                return
        self._lead(me)
        if me.error is not None:
            raise me.error

    def append(self, item: Item, *, admit: Callable[[], None] | None = None) -> None:
        """Queue ``item`` for the next group without waiting (no IO here)."""
        with self._lock:
            if admit is not None:
                admit()
            self._queue.append(_Entry(item, waits=False))

    def commit_queued(self, *, admit: Callable[[], None] | None = None) -> None:
        """Commit everything queued so far as one group (or join the group under way)."""
        with self._lock:
            if not self._queue:
                return
        self.submit(None, admit=admit)

    def _take(self) -> list[Item]:
        """The leader's ``take``: its group is everything queued so far."""
        invariant(self._batch is None, "a group's items are taken once")
        with self._lock:
            batch, self._queue = self._queue, []
        self._batch = batch
        invariant(self._leader in batch, "the leader serves its own item")
        items = [entry.item for entry in batch if entry.item is not None]
        self.items_count += len(items)
        return items

    def _lead(self, me: _Entry[Item]) -> None:
        """Serve every queued item with one commit, then pass leadership on."""
        self._leader = me
        self._batch = None
        error: BaseException | None = None
        try:
            try:
                self._commit(self._take)
            except self._failure as failure:
                error = failure
            if self._batch is None:  # commit failed before it took its group: it fails too
                self._take()
            self.groups_count += 1
        except BaseException as unexpected:
            # A bug (an invariant) or an interrupt: fail every queued item, never hang one.
            if self._batch is None:
                with self._lock:
                    self._batch, self._queue = self._queue, []
            error = self._aborted(unexpected)
            raise
        finally:
            batch: list[_Entry[Item]] = self._batch or []
            self._batch = self._leader = None
            for entry in batch:
                entry.error = error
                if entry is not me and entry.lock is not None:
                    entry.lock.release()
            with self._lock:
                # Leadership passes to the first queued writer with a thread waiting;
                # appended items alone wait for the next commit.
                successor = next((entry for entry in self._queue if entry.lock is not None), None)
                if successor is not None:
                    successor.promoted = True
                    successor.lock.release()  # type: ignore[union-attr]
                else:
                    self._leader_active = False
