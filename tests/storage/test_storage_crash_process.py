"""Real-process crash test: SIGKILL a writer at random moments, reopen, find every ack.

The child opens the store (fsync policy ``always``, tiny memtable so flushes and
compactions run all the time, four writer threads sharing group commits) and prints each
key only after ``put`` returned. The parent kills it with SIGKILL at a random moment (during
startup, recovery, a flush, a compaction, an fsync...), then reopens the same directory and
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


def _run_iterations(directory: Path, iterations: int, seed: int) -> int:
    rng = random.Random(seed)
    acknowledged: list[bytes] = []
    for iteration in range(iterations):
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(directory), str(iteration)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        first = b""
        if iteration % 2 == 0:
            # Every other child is killed only once it has acknowledged a write: on a busy
            # machine its start alone can outlast the random delay, and the test must see
            # writes die mid-flight, not only starts. The others die at any moment at all.
            assert child.stdout is not None
            ready, _, _ = select.select([child.stdout], [], [], CHILD_SECONDS_MAX)
            assert ready, "the child acknowledged no write in time"
            # Byte by byte from the descriptor: communicate() below reads the descriptor
            # too, and must find everything after this line still there.
            while not first.endswith(b"\n"):
                byte = os.read(child.stdout.fileno(), 1)
                if not byte:
                    break
                first += byte
        time.sleep(rng.uniform(0.05, 0.6))
        os.kill(child.pid, signal.SIGKILL)
        stdout, stderr = child.communicate(timeout=CHILD_SECONDS_MAX)
        assert child.returncode == -signal.SIGKILL, stderr.decode()
        # A line cut by the kill is not counted.
        complete = (first + stdout).decode().split("\n")[:-1]
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
