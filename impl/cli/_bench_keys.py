"""Writing or deleting many keys on a local cluster, for the benchmarks that need it.

One thread per node, each with its own client, works through every n-th key; a request
that fails is tried again (``ATTEMPTS_MAX`` times in all) before the key counts as an
error. A rich progress bar advances once per key.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["ATTEMPTS_MAX", "for_every_key"]

ATTEMPTS_MAX = 5
"""Tries per key before it is counted as an error."""


def for_every_key(
    cluster: Any,
    keys: Sequence[bytes],
    action: Callable[[Any, bytes], object],
    *,
    progress: Any,
    description: str,
    timeout_seconds: float = 30.0,
) -> list[str]:
    """Run ``action(client, key)`` for every key, spread over one thread per node.

    Args:
        cluster: a running :class:`~dynamokv.impl.runtime._local_cluster.LocalCluster`.
        keys: the keys, each handled once (retried on failure).
        action: what to do with one key through a :class:`~dynamokv.impl.client.Client`.
        progress: a :class:`rich.progress.Progress` to show a task in.
        description: the task's label.
        timeout_seconds: each client's request timeout.

    Returns:
        The last error of every key whose every attempt failed (empty: all done).
    """
    from dynamokv.impl.client import Client

    addresses = [cluster.http_address(name) for name in cluster.names]
    task = progress.add_task(description, total=len(keys))
    lock = threading.Lock()
    errors: list[str] = []

    def worker(index: int) -> None:
        with Client(addresses[index], timeout_seconds=timeout_seconds) as client:
            for key in keys[index :: len(addresses)]:
                last = ""
                for _attempt in range(ATTEMPTS_MAX):
                    try:
                        action(client, key)
                        break
                    except Exception as error:  # any failure of one request: try again
                        last = str(error)
                else:
                    with lock:
                        errors.append(last)
                with lock:
                    progress.advance(task)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(addresses))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors
