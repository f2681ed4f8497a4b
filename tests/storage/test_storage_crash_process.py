"""Real-process crash test: SIGKILL a writer at random moments, reopen, find every ack.

The child opens the store (fsync policy ``always``, tiny memtable so flushes and
compactions run all the time, four writer threads sharing group commits) and prints each
key only after ``put`` returned. The parent kills it with SIGKILL after a random number of
acknowledged writes (so during recovery, a flush, a compaction, an fsync...) or at once
(during startup), then reopens the same directory and
checks that every printed key holds its value. The directory is kept across iterations, so
later iterations also recover from the earlier crashes' leftovers.
"""

from __future__ import annotations

import hashlib
import os
import random
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from dynamokv.impl.storage import Store, StoreOptions

CHILD = r"""
import hashlib, sys, threading
from dynamokv.impl.storage import Store, StoreOptions

directory, iteration = sys.argv[1], int(sys.argv[2])
store = Store.open(directory, options=StoreOptions(memtable_bytes_max=16384, block_bytes_target=512, compaction_fanout=2))
print_lock = threading.Lock()

def writer(thread_index):
    for number in range(1_000_000):
        key = f"{iteration}-{thread_index}-{number}".encode()
        store.put(key, hashlib.sha256(key).digest() * 3)
        with print_lock:
            sys.stdout.write(key.decode() + "\n")
            sys.stdout.flush()

threads = [threading.Thread(target=writer, args=(i,), daemon=True) for i in range(4)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
"""

CHILD_SECONDS_MAX = 30.0


def _read_lines(child: subprocess.Popen[bytes], count: int) -> bytes:
    """The child's first ``count`` lines (bounded by CHILD_SECONDS_MAX); fewer if it ends."""
    assert child.stdout is not None
    deadline = time.monotonic() + CHILD_SECONDS_MAX
    data = b""
    # Bounded: each pass reads at least one byte, or returns at the deadline or at EOF.
    while data.count(b"\n") < count:
        remaining = deadline - time.monotonic()
        assert remaining > 0, "the child wrote nothing for CHILD_SECONDS_MAX"
        ready, _, _ = select.select([child.stdout], [], [], remaining)
        if not ready:
            continue
        chunk = os.read(child.stdout.fileno(), 65536)
        if not chunk:
            break
        data += chunk
    return data


def _run_iterations(directory: Path, iterations: int, seed: int) -> int:
    rng = random.Random(seed)
    acknowledged: list[bytes] = []
    for iteration in range(iterations):
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(directory), str(iteration)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        # Kill after the child has acknowledged a random number of writes (readiness, not a
        # fixed time, so a busy machine changes nothing), or at once, during its startup.
        wanted = rng.randrange(0, 40)
        early = _read_lines(child, wanted) if wanted else b""
        os.kill(child.pid, signal.SIGKILL)
        stdout, stderr = child.communicate(timeout=CHILD_SECONDS_MAX)
        assert child.returncode == -signal.SIGKILL, stderr.decode()
        complete = (early + stdout).decode().split("\n")[:-1]  # a cut line is not counted
        acknowledged.extend(line.encode() for line in complete)
        with Store.open(str(directory), options=StoreOptions(background=False)) as store:
            missing = [
                key for key in acknowledged if store.get(key) != hashlib.sha256(key).digest() * 3
            ]
            assert missing == [], f"iteration {iteration}: lost {len(missing)} acknowledged keys"
            for torn in store.recovery.torn_tails:
                # Only the newest WAL file may be torn (zero bytes: killed while creating it).
                assert torn.path.endswith(".log") and torn.bytes_dropped >= 0
    return len(acknowledged)


def test_sigkilled_writer_loses_no_acknowledged_write(tmp_path: Path) -> None:
    acknowledged = _run_iterations(tmp_path, iterations=15, seed=1)
    assert acknowledged > 100  # the children really wrote before dying


@pytest.mark.slow
def test_sigkilled_writer_loses_no_acknowledged_write_many_times(tmp_path: Path) -> None:
    acknowledged = _run_iterations(tmp_path, iterations=80, seed=2)
    assert acknowledged > 1000
