"""``dynamokv bench cluster``: YCSB-style workloads against dynamokv and a 3-member etcd.

Performance is judged by ratios measured in one run against a peer on the same machine: a
3-node dynamokv cluster (N=3, R=2, W=2, fsync before ack) against a 3-member etcd (3.4,
Debian's ``etcd-server``, fsync on: ``--unsafe-no-fsync`` is never passed), with the same
client, the same keys and the same values.

Why it is built this way:

* **The load generator is wrk**, driven by a Lua script this module writes, for both
  systems alike. This machine has two cores shared by the servers and the client, so every
  cycle the client spends is a cycle the servers do not get. wrk (C, epoll, LuaJIT) costs a
  few microseconds of CPU per request; a Python client costs tens (``docs/benchmarks.md``
  has the measurement). One wrk process per node (or etcd member) spreads the connections
  evenly; each wrk thread has exactly one keep-alive connection, so the Lua ``response``
  callback knows which request it answers (a wrk thread runs its connections' callbacks
  in one Lua state with no connection id).
* **Keys are zipfian**, drawn by :class:`ZipfianGenerator` (YCSB's, Gray et al. 1994,
  theta 0.99) and scrambled with FNV-1a as YCSB's ``ScrambledZipfianGenerator`` does, so
  the hot keys are spread over the ring rather than adjacent. The draws are made here,
  seeded, and written to one file per wrk thread, which the Lua script cycles through:
  one generator, tested in Python, and the same key sequence for both systems.
* **Updates carry the context.** A Dynamo put without a context is concurrent with every
  version it does not name, so blind updates would pile up siblings without bound. The
  script keeps, per connection, the last ``X-Dynamo-Context`` it saw for each key and sends
  it back: what a Dynamo client library does. Every connection starts from the contexts of
  the load phase. Siblings still appear when two connections update one hot key
  concurrently (each carries only what it has seen); the table counts the reads that
  returned several (HTTP 300).
* **Latency** is timed by the Lua script itself (``clock_gettime`` through LuaJIT's FFI,
  from wrk asking for the request to its parsed response) into a per-thread histogram in
  microseconds: Debian's wrk 4.1 does not let a script read its own latency histogram.
  The ``done`` callback prints the histogram as JSON and the per-node wrk runs are added
  up, so the percentiles are exact over all requests of a workload, not an average of
  percentiles.
* The keys are loaded first (YCSB's load phase) so that reads find them, and every row
  runs for the same ``--duration`` (or ``--ops``) on both systems, dynamokv then etcd.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dynamokv.spec.errors import ArgumentError

from ._bench_results import machine_description, write_results
from ._errors import CliError
from ._types import output_file

__all__ = [
    "WORKLOADS",
    "ZipfianGenerator",
    "fnv1a_64",
]

WORKLOADS: dict[str, tuple[float, str]] = {
    "A": (0.50, "50% reads, 50% updates (session store)"),
    "B": (0.95, "95% reads, 5% updates (photo tagging)"),
    "C": (1.00, "read only (user profile cache)"),
    "W": (0.00, "write only"),
}
ZIPFIAN_CONSTANT = 0.99
RECORDS_DEFAULT = 10_000
OPS_PER_THREAD_FILE_MAX = 20_000
ETCD_MEMBERS = 3
ETCD_READY_SECONDS = 30.0
WRK_TIMEOUT_SECONDS = 2
WRK_EXTRA_SECONDS = 60.0
STOP_GRACE_SECONDS = 10.0


# --------------------------------------------------------------------------- keys


def fnv1a_64(value: int) -> int:
    """FNV-1a over the 8 little-endian bytes of ``value`` (YCSB's ``Utils.fnvhash64``)."""
    hashed = 0xCBF29CE484222325
    for _ in range(8):
        octet = value & 0xFF
        value >>= 8
        hashed ^= octet
        hashed = (hashed * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return hashed


class ZipfianGenerator:
    """YCSB's zipfian generator over ``0 .. items-1`` (item 0 the most popular).

    The algorithm is Gray et al., "Quickly Generating Billion-Record Synthetic Databases"
    (SIGMOD 1994), as in YCSB's ``ZipfianGenerator``: zeta(n, theta) is computed once, and
    each draw costs one uniform number and one power. With ``scrambled`` the rank is hashed
    with :func:`fnv1a_64` (``ScrambledZipfianGenerator``), so popular items are spread over
    the key space instead of being 0, 1, 2, …

    Args:
        items: how many items (keys); at least 1.
        seed: seeds the generator's own :class:`random.Random`.
        theta: the zipfian constant (YCSB: 0.99); in ``(0, 1)``.
        scrambled: hash the rank to spread popular items.
    """

    def __init__(
        self,
        items: int,
        *,
        seed: int = 0,
        theta: float = ZIPFIAN_CONSTANT,
        scrambled: bool = True,
    ) -> None:
        if items < 1:
            raise ArgumentError(f"items must be at least 1, got {items}")
        if not 0.0 < theta < 1.0:
            raise ArgumentError(f"theta must be in (0, 1), got {theta}")
        self.items = items
        self.theta = theta
        self.scrambled = scrambled
        self.random = random.Random(seed)
        self.zeta_n = sum(1.0 / (i**theta) for i in range(1, items + 1))
        zeta_2 = 1.0 + 1.0 / (2.0**theta)
        self.alpha = 1.0 / (1.0 - theta)
        self.eta = (1.0 - (2.0 / items) ** (1.0 - theta)) / (1.0 - zeta_2 / self.zeta_n)
        self._half_pow_theta = 1.0 + 0.5**theta

    def next_rank(self) -> int:
        """The next popularity rank (0 is the most popular)."""
        u = self.random.random()
        uz = u * self.zeta_n
        if uz < 1.0:
            return 0
        if uz < self._half_pow_theta:
            return min(1, self.items - 1)
        rank = int(self.items * (self.eta * u - self.eta + 1.0) ** self.alpha)
        return min(rank, self.items - 1)

    def next(self) -> int:
        """The next item: the rank, scrambled if asked."""
        rank = self.next_rank()
        return fnv1a_64(rank) % self.items if self.scrambled else rank


def key_name(index: int) -> str:
    """The key of item ``index`` (YCSB style)."""
    return f"user{index:08d}"


# --------------------------------------------------------------------------- tools


def ensure_tool(binary: str, package: str, say: Any) -> str:
    """The path of ``binary``, installing Debian's ``package`` with apt-get if it is missing.

    Prints every command it runs. Installing needs root (the project's machines run as
    root); otherwise the error (a :class:`CliError`) says what to install.
    """
    from ._debian import ensure_tool as ensure_debian_tool

    return ensure_debian_tool(binary, package, say)


# --------------------------------------------------------------------------- etcd


@dataclass
class EtcdCluster:
    """A 3-member etcd on loopback with its data under ``directory`` (fsync on)."""

    binary: str
    directory: Path
    client_addresses: list[str] = field(default_factory=list)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, say: Any) -> None:
        from dynamokv.impl.runtime._local_cluster import http_request, pick_free_ports

        ports = pick_free_ports(2 * ETCD_MEMBERS)
        names = [f"etcd-{i + 1}" for i in range(ETCD_MEMBERS)]
        peers = [f"http://127.0.0.1:{ports[2 * i + 1]}" for i in range(ETCD_MEMBERS)]
        initial = ",".join(f"{name}={peer}" for name, peer in zip(names, peers, strict=True))
        self.client_addresses = [f"127.0.0.1:{ports[2 * i]}" for i in range(ETCD_MEMBERS)]
        for i, name in enumerate(names):
            client = f"http://{self.client_addresses[i]}"
            command = [
                self.binary,
                "--name", name,
                "--data-dir", str(self.directory / name),
                "--listen-client-urls", client,
                "--advertise-client-urls", client,
                "--listen-peer-urls", peers[i],
                "--initial-advertise-peer-urls", peers[i],
                "--initial-cluster", initial,
                "--initial-cluster-state", "new",
                "--initial-cluster-token", "dynamokv-bench",
            ]  # fmt: skip
            log = open(self.directory / f"{name}.log", "ab")  # noqa: SIM115 - closed by the child's exit
            self.processes.append(
                subprocess.Popen(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                    start_new_session=True,
                )
            )
            log.close()
        say(f"etcd: 3 members on {', '.join(self.client_addresses)} (data in {self.directory})")
        deadline = time.monotonic() + ETCD_READY_SECONDS
        waiting = list(self.client_addresses)
        while waiting:
            for address in list(waiting):
                try:
                    status, _headers, body = http_request(address, "GET", "/health", timeout=2)
                except OSError:
                    continue
                if status == 200 and b"true" in body:
                    waiting.remove(address)
            if any(process.poll() is not None for process in self.processes):
                raise CliError(f"an etcd member exited; see {self.directory}/etcd-*.log")
            if waiting and time.monotonic() > deadline:
                raise CliError(f"etcd not healthy after {ETCD_READY_SECONDS:.0f} s: {waiting}")
            time.sleep(0.1)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for process in self.processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


# --------------------------------------------------------------------------- wrk


_LUA = r"""
-- Written by `dynamokv bench cluster`; one wrk thread = one keep-alive connection.
local system, ops_prefix, proc, ops_max_param, value_raw, value_b64, contexts_in, contexts_out, rate_per_connection = __PARAMS__

-- Latency is timed here (CLOCK_MONOTONIC through LuaJIT's FFI), from the moment wrk asks
-- for the request to the moment its response is parsed, into a per-thread histogram in
-- microseconds that `done` prints: the per-node wrk runs are then merged exactly.
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } dynamokv_bench_timespec;
int clock_gettime(int clock_id, dynamokv_bench_timespec *tp);
]]
local timespec = ffi.new("dynamokv_bench_timespec")
local function now_us()
  ffi.C.clock_gettime(1, timespec)
  return tonumber(timespec.tv_sec) * 1000000 + tonumber(timespec.tv_nsec) / 1000
end

-- Constant-rate mode (rate_per_connection > 0): each connection sends on a fixed schedule,
-- one request every interval_us, and wrk's `delay` hook waits until the next slot. A reply
-- that comes late makes the following requests late, and their latency is counted from the
-- slot they were due in, not from when they went out: queueing behind a slow request is
-- part of the latency a client at that rate sees (no coordinated omission).
local interval_us = 0
if rate_per_connection > 0 then
  interval_us = 1000000 / rate_per_connection
  -- wrk asks `delay` before every request, the first included.
  function delay()
    if next_us == nil then return 0 end
    local wait_ms = math.floor((next_us - now_us()) / 1000)
    if wait_ms < 0 then return 0 end
    return wait_ms
  end
end

local all_threads = {}
function setup(thread)
  all_threads[#all_threads + 1] = thread
  thread:set("tid", #all_threads)
end

function init(args)
  ops_kind, ops_path, ops_b64 = {}, {}, {}
  local f = assert(io.open(ops_prefix .. "-" .. proc .. "-" .. tid .. ".txt", "r"))
  for line in f:lines() do
    local kind, key, b64 = line:match("^(%a) (%S+) (%S+)$")
    ops_kind[#ops_kind + 1] = kind
    ops_path[#ops_path + 1] = key
    ops_b64[#ops_b64 + 1] = b64
  end
  f:close()
  position, answered, siblings, unavailable, missing, failed = 0, 0, 0, 0, 0, 0
  histogram = {}
  contexts = {}
  if contexts_in ~= "" then
    local file = io.open(contexts_in, "r")
    if file then
      for line in file:lines() do
        local key, context = line:match("^(%S+) (%S+)$")
        if key then contexts[key] = context end
      end
      file:close()
    end
  end
  current_key, sent_us, next_us = nil, 0, nil
  math.randomseed(proc * 1000 + tid)
  ops_max = ops_max_param
  if ops_max < 0 then ops_max = #ops_kind end
  done_path = ops_prefix:gsub("ops$", "done-") .. proc .. "-" .. tid
end

function request()
  position = position + 1
  if position > #ops_kind then position = 1 end
  local kind, key = ops_kind[position], ops_path[position]
  current_key = key
  sent_us = now_us()
  if interval_us > 0 then
    if next_us == nil then
      -- The first request goes at once; a random phase spreads the connections' slots.
      next_us = sent_us + interval_us * math.random()
    else
      -- Early (the timer's millisecond granularity): from now. Late: from the slot.
      if next_us < sent_us then sent_us = next_us end
      next_us = next_us + interval_us
    end
  end
  if system == "dynamokv" then
    if kind == "r" then
      return wrk.format("GET", "/kv/" .. key .. "?r=2")
    end
    local headers = {["Content-Type"] = "application/octet-stream"}
    local context = contexts[key]
    if context then headers["X-Dynamo-Context"] = context end
    return wrk.format("PUT", "/kv/" .. key .. "?w=2", headers, value_raw)
  end
  local headers = {["Content-Type"] = "application/json"}
  if kind == "r" then
    return wrk.format("POST", "/v3/kv/range", headers, '{"key":"' .. ops_b64[position] .. '"}')
  end
  return wrk.format("POST", "/v3/kv/put", headers,
    '{"key":"' .. ops_b64[position] .. '","value":"' .. value_b64 .. '"}')
end

function response(status, headers, body)
  local micros = math.floor(now_us() - sent_us)
  histogram[micros] = (histogram[micros] or 0) + 1
  answered = answered + 1
  if status == 300 then siblings = siblings + 1
  elseif status == 503 then unavailable = unavailable + 1
  elseif status == 404 then missing = missing + 1
  elseif status >= 400 then failed = failed + 1 end
  if system == "dynamokv" and current_key then
    local context = headers["X-Dynamo-Context"] or headers["x-dynamo-context"]
    if context then contexts[current_key] = context end
  end
  if ops_max > 0 and answered == ops_max then
    local marker = io.open(done_path, "w")
    if marker then marker:close() end
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local merged, s, u, m, f, a = {}, 0, 0, 0, 0, 0
  for _, thread in ipairs(all_threads) do
    for micros, count in pairs(thread:get("histogram") or {}) do
      merged[micros] = (merged[micros] or 0) + count
    end
    a = a + (thread:get("answered") or 0)
    s = s + (thread:get("siblings") or 0)
    u = u + (thread:get("unavailable") or 0)
    m = m + (thread:get("missing") or 0)
    f = f + (thread:get("failed") or 0)
  end
  if contexts_out ~= "" then
    local file = assert(io.open(contexts_out, "w"))
    for _, thread in ipairs(all_threads) do
      for key, context in pairs(thread:get("contexts") or {}) do
        file:write(key, " ", context, "\n")
      end
    end
    file:close()
  end
  local pairs_out = {}
  for micros, count in pairs(merged) do pairs_out[#pairs_out + 1] = micros .. ":" .. count end
  io.write("BENCH-JSON {")
  io.write('"requests":' .. a .. ',"duration_us":' .. summary.duration)
  io.write(',"siblings":' .. s .. ',"unavailable":' .. u .. ',"missing":' .. m .. ',"failed":' .. f)
  io.write(',"errors_timeout":' .. summary.errors.timeout .. ',"errors_connect":' .. summary.errors.connect)
  io.write(',"errors_read":' .. summary.errors.read .. ',"errors_write":' .. summary.errors.write)
  io.write(',"histogram":"' .. table.concat(pairs_out, ",") .. '"}\n')
end
"""


def process_cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU seconds of the processes ``pids`` (every thread), from ``/proc``.

    Fields 14 and 15 of ``/proc/PID/stat`` (``utime``, ``stime``, in clock ticks) count the
    CPU of all the process's threads. The command name (field 2) may hold spaces and
    parentheses, so the fields are counted from its closing parenthesis.
    """
    ticks_per_second = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError as error:
            raise CliError(f"cannot read the CPU time of process {pid}: {error}") from error
        fields = stat.rpartition(")")[2].split()
        total += int(fields[11]) + int(fields[12])
    return total / ticks_per_second


def _lua_string(value: str) -> str:
    return json.dumps(value)  # a JSON string literal is a valid Lua string literal here


@dataclass
class RunResult:
    """One workload on one system: what wrk measured, summed over its processes."""

    system: str
    workload: str
    requests: int = 0
    seconds: float = 0.0
    histogram: dict[int, int] = field(default_factory=dict)
    siblings: int = 0
    unavailable: int = 0
    missing: int = 0
    failed: int = 0
    errors: int = 0
    offered_per_second: float = 0.0
    """The constant rate asked for (0: closed loop, every connection as fast as it can)."""
    server_cpu_seconds: float = float("nan")
    """User + system CPU of the system's three server processes during the run."""

    @property
    def load(self) -> str:
        """``peak`` (closed loop) or the constant rate offered."""
        return "peak" if self.offered_per_second <= 0 else f"{self.offered_per_second:,.0f}/s"

    @property
    def server_cpu_us_per_op(self) -> float:
        """Server CPU microseconds per answered request, across the server processes."""
        if self.requests <= 0:
            return float("nan")
        return self.server_cpu_seconds * 1e6 / self.requests

    @property
    def throughput(self) -> float:
        """Requests per second (answered requests over the longest wrk's wall time)."""
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    def percentile_ms(self, fraction: float) -> float:
        """The latency below which ``fraction`` of the requests fell, in milliseconds."""
        total = sum(self.histogram.values())
        if total == 0:
            return float("nan")
        rank = fraction * total
        seen = 0
        for micros in sorted(self.histogram):
            seen += self.histogram[micros]
            if seen >= rank:
                return micros / 1000.0
        return max(self.histogram) / 1000.0


def _write_ops(
    directory: Path,
    proc: int,
    threads: int,
    *,
    records: int,
    read_fraction: float,
    per_thread: int,
    seed: int,
    load_stride: int = 0,
    slot_base: int = 0,
) -> None:
    """One ops file per wrk thread: ``r|u KEY BASE64KEY`` per line.

    With ``load_stride`` (the number of wrk threads in all), the thread in slot
    ``slot_base + t - 1`` gets every key whose index is its slot modulo the stride: each
    key once.
    """

    def line(kind: str, index: int) -> str:
        name = key_name(index)
        return f"{kind} {name} {base64.b64encode(name.encode()).decode()}"

    rng = random.Random(seed * 1_000_003 + proc)
    zipf = ZipfianGenerator(records, seed=seed * 7919 + proc)
    for thread in range(1, threads + 1):
        if load_stride:
            slot = slot_base + thread - 1
            lines = [line("u", i) for i in range(slot, records, load_stride)] or [line("r", 0)]
        else:
            lines = [
                line("r" if rng.random() < read_fraction else "u", zipf.next())
                for _ in range(per_thread)
            ]
        (directory / f"ops-{proc}-{thread}.txt").write_text("\n".join(lines) + "\n")


def _spread(connections: int, targets: Sequence[str]) -> list[tuple[str, int]]:
    """Connections per target, as even as possible (targets with none are dropped)."""
    count = len(targets)
    shares = [connections // count + (1 if i < connections % count else 0) for i in range(count)]
    return [(target, share) for target, share in zip(targets, shares, strict=True) if share > 0]


def _run_wrk(
    wrk: str,
    system: str,
    workload: str,
    targets: Sequence[str],
    connections: int,
    *,
    directory: Path,
    records: int,
    read_fraction: float,
    duration: float,
    ops: int,
    value_bytes: int,
    seed: int,
    load: bool,
    progress: Any,
    server_pids: Sequence[int] = (),
    rate_per_second: float = 0.0,
) -> RunResult:
    """Run one workload: one wrk per target, connections spread evenly, then merge.

    With a duration, wrk stops itself. With an op count (or for the load phase) every
    wrk thread stops its connection after its share and leaves a marker file; wrk's main
    thread only sleeps out ``-d``, so once every marker is there it gets SIGINT, and the
    throughput is computed from our own clock instead of wrk's.

    With ``rate_per_second`` the connections send at that total constant rate (see the Lua
    script) instead of as fast as they can. The CPU of ``server_pids`` is read before the
    first wrk starts and after the last one ended.
    """

    spread = _spread(connections, targets)
    threads_total = sum(share for _target, share in spread)
    run_dir = (
        directory
        / f"{system}-{workload}"
        / (f"rate-{rate_per_second:.0f}" if rate_per_second > 0 else "peak")
    )
    run_dir.mkdir(parents=True, exist_ok=True)
    value = "v" * value_bytes
    value_b64 = base64.b64encode(value.encode()).decode()
    counted = load or ops > 0
    per_thread_ops = max(1, ops // threads_total) if ops > 0 else 0
    processes: list[subprocess.Popen[bytes]] = []
    slot_base = 0
    # The load phase's contexts seed every connection's cache, so a workload's first update
    # of a key supersedes the loaded version instead of becoming its sibling.
    load_contexts = directory / f"{system}-load-contexts.txt"
    cpu_before = process_cpu_seconds(server_pids)
    for proc, (target, share) in enumerate(spread):
        _write_ops(
            run_dir,
            proc,
            share,
            records=records,
            read_fraction=read_fraction,
            per_thread=min(per_thread_ops or OPS_PER_THREAD_FILE_MAX, OPS_PER_THREAD_FILE_MAX),
            seed=seed,
            load_stride=threads_total if load else 0,
            slot_base=slot_base,
        )
        slot_base += share
        ops_max = -1 if load else per_thread_ops
        params = ", ".join(
            [
                _lua_string(system),
                _lua_string(str(run_dir / "ops")),
                str(proc),
                str(ops_max),
                _lua_string(value),
                _lua_string(value_b64),
                _lua_string("" if load else str(load_contexts)),
                _lua_string(str(run_dir / f"contexts-{proc}.txt") if load else ""),
                repr(rate_per_second / threads_total if rate_per_second > 0 else 0.0),
            ]
        )
        script_path = run_dir / f"script-{proc}.lua"
        script_path.write_text(_LUA.replace("__PARAMS__", params))
        seconds = 3600 if counted else max(1, round(duration))
        command = [
            wrk,
            f"-t{share}",
            f"-c{share}",
            f"-d{seconds}s",
            f"--timeout={WRK_TIMEOUT_SECONDS}s",
            "-s",
            str(script_path),
            f"http://{target}",
        ]
        processes.append(subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    started = time.monotonic()
    finished_at: float | None = None
    bound = (3600 if counted else duration) + WRK_EXTRA_SECONDS
    try:
        while any(p.poll() is None for p in processes):
            now = time.monotonic()
            progress(now - started)
            if (
                counted
                and finished_at is None
                and len(list(run_dir.glob("done-*"))) >= threads_total
            ):
                finished_at = now
                for process in processes:
                    process.send_signal(signal.SIGINT)
            if now - started > bound:
                raise CliError(f"wrk did not finish within {bound:.0f} s ({system}, {workload})")
            time.sleep(0.01 if counted else 0.2)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    result = RunResult(system, workload, offered_per_second=rate_per_second)
    if server_pids:
        result.server_cpu_seconds = process_cpu_seconds(server_pids) - cpu_before
    for process in processes:
        out, err = process.communicate()
        text = out.decode(errors="replace")
        if "BENCH-JSON" not in text:
            raise CliError(
                f"wrk failed ({system}, {workload}): {err.decode(errors='replace').strip()[-300:]}"
            )
        for line in text.splitlines():
            if line.startswith("BENCH-JSON "):
                data = json.loads(line.removeprefix("BENCH-JSON "))
                result.requests += int(data["requests"])
                result.siblings += int(data["siblings"])
                result.unavailable += int(data["unavailable"])
                result.missing += int(data["missing"])
                result.failed += int(data["failed"])
                result.seconds = max(result.seconds, data["duration_us"] / 1e6)
                result.errors += sum(
                    int(data[k])
                    for k in ("errors_timeout", "errors_connect", "errors_read", "errors_write")
                )
                for pair in filter(None, data["histogram"].split(",")):
                    micros, count = pair.split(":")
                    result.histogram[int(micros)] = result.histogram.get(int(micros), 0) + int(
                        count
                    )
    if load:
        with open(load_contexts, "w") as merged:
            for proc in range(len(spread)):
                path = run_dir / f"contexts-{proc}.txt"
                if path.exists():
                    merged.write(path.read_text())
    if counted:
        result.seconds = (finished_at or time.monotonic()) - started
    return result


# --------------------------------------------------------------------------- command


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "cluster",
        help="YCSB workloads vs a 3-member etcd",
        description=(
            "YCSB-style workloads (A 50/50 read/update, B 95/5, C read only, W write only; "
            "zipfian keys, 1 KiB values) against a 3-node dynamokv cluster (N=3, R=2, W=2, "
            "fsync before ack) and a 3-member etcd on loopback, measured by wrk the same "
            "way, with ratios. Installs etcd-server and wrk with apt-get when missing."
        ),
    )
    parser.add_argument(
        "--workload",
        action="append",
        choices=sorted(WORKLOADS),
        help="a workload to run (repeat; default: A B C W)",
    )
    parser.add_argument(
        "--duration", type=float, default=10.0, help="seconds per workload per system (default 10)"
    )
    parser.add_argument(
        "--ops", type=int, default=0, help="operations per workload instead of --duration"
    )
    parser.add_argument(
        "--clients", type=int, default=16, help="keep-alive connections in all (default 16)"
    )
    parser.add_argument("--value-bytes", type=int, default=1024, help="value size (default 1024)")
    parser.add_argument(
        "--records", type=int, default=RECORDS_DEFAULT, help=f"keys (default {RECORDS_DEFAULT})"
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the key draws (default 1)")
    parser.add_argument(
        "--paced",
        type=float,
        default=0.5,
        metavar="FRACTION",
        help="after each workload's peak rows, run it again on each system at a constant rate "
        "of this fraction of that system's measured peak (default 0.5: the p99 at half load; "
        "0: peak rows only)",
    )
    parser.add_argument(
        "--against-etcd",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also run every workload against a 3-member etcd (default: yes)",
    )
    parser.add_argument(
        "--dir",
        default=None,
        help="a dynamokv cluster directory to use (started if not running); default: a "
        "fresh 3-node cluster in a temporary directory, stopped at the end",
    )
    parser.add_argument(
        "--json",
        type=output_file,
        default=None,
        help="also write the results to this JSON file",
    )
    parser.set_defaults(handler=_run)


def _check(args: argparse.Namespace) -> None:

    if args.duration <= 0 or args.duration > 3600:
        raise CliError(f"--duration must be in (0, 3600] seconds, got {args.duration}")
    if args.ops < 0:
        raise CliError(f"--ops must not be negative, got {args.ops}")
    if not 1 <= args.clients <= 1024:
        raise CliError(f"--clients must be in 1..1024, got {args.clients}")
    if not 1 <= args.value_bytes <= 1 << 20:
        raise CliError(f"--value-bytes must be in 1..1048576, got {args.value_bytes}")
    if not 1 <= args.records <= 10_000_000:
        raise CliError(f"--records must be in 1..10000000, got {args.records}")
    if not 0.0 <= args.paced < 1.0:
        raise CliError(f"--paced must be in [0, 1), got {args.paced}")


@contextmanager
def _dynamokv_cluster(
    args: argparse.Namespace, say: Any, scratch: Path
) -> Iterator[tuple[list[str], list[int]]]:
    """The cluster's HTTP addresses and its node processes' pids, for the run."""
    from dynamokv.impl.runtime._local_cluster import ClusterError, LocalCluster

    directory = Path(args.dir) if args.dir else scratch / "dynamokv"
    try:
        cluster = LocalCluster(
            directory, nodes=3, n=3, r=2, w=2, fsync="always", stop_on_exit=args.dir is None
        )
        if cluster.n != 3 or cluster.r != 2 or cluster.w != 2 or cluster.fsync != "always":
            raise CliError(
                f"{directory} holds a cluster with N={cluster.n} R={cluster.r} W={cluster.w} "
                f"fsync={cluster.fsync}; the benchmark needs N=3 R=2 W=2 fsync=always"
            )
        with cluster:
            started = cluster.up()
            say(
                f"dynamokv: {len(cluster.names)} nodes on {', '.join(cluster.http_addresses())} "
                f"({'started' if started else 'reused'}; N=3 R=2 W=2, fsync=always)"
            )
            pids = [info.pid for info in cluster.processes.values() if info.pid is not None]
            if len(pids) != len(cluster.names):
                raise CliError(f"{directory}: not every node has a running process")
            yield cluster.http_addresses(), pids
    except ClusterError as error:
        raise CliError(str(error)) from error


def _run(args: argparse.Namespace) -> int:
    """Run the benchmark (a SIGTERM unwinds it, so the nodes and etcd members it started stop)."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    _check(args)
    console = Console(highlight=False)
    if not console.is_terminal:
        console.width = max(console.width, 150)

    def say(message: str) -> None:
        console.print(f"[dim]·[/dim] {message}")

    workloads = args.workload or ["A", "B", "C", "W"]
    machine = machine_description()
    wrk = ensure_tool("wrk", "wrk", say)
    etcd_binary = ensure_tool("etcd", "etcd-server", say) if args.against_etcd else ""
    results: list[RunResult] = []
    with tempfile.TemporaryDirectory(prefix="dynamokv-bench-") as scratch_name:
        scratch = Path(scratch_name)
        etcd = EtcdCluster(etcd_binary, scratch / "etcd") if args.against_etcd else None
        try:
            with _dynamokv_cluster(args, say, scratch) as (dynamokv_targets, dynamokv_pids):
                systems: list[tuple[str, list[str], list[int]]] = [
                    ("dynamokv", dynamokv_targets, dynamokv_pids)
                ]
                if etcd is not None:
                    etcd.directory.mkdir(parents=True)
                    etcd.start(say)
                    systems.append(("etcd", etcd.client_addresses, [p.pid for p in etcd.processes]))
                per_run = f"{args.ops} ops" if args.ops else f"{args.duration:g} s"
                say(
                    f"{len(workloads)} workload(s) × {len(systems)} system(s), {per_run} each, "
                    f"{args.clients} connections, {args.records:,} zipfian keys, "
                    f"{args.value_bytes} B values"
                )
                with Progress(
                    TextColumn("{task.description}"),
                    BarColumn(),
                    TextColumn("{task.percentage:>3.0f}%"),
                    TimeElapsedColumn(),
                    console=console,
                    transient=True,
                ) as bar:
                    for system, targets, _pids in systems:
                        task = bar.add_task(f"load {records_label(args)} into {system}", total=None)
                        _run_wrk(
                            wrk, system, "load", targets, args.clients,
                            directory=scratch, records=args.records, read_fraction=0.0,
                            duration=args.duration, ops=0, value_bytes=args.value_bytes,
                            seed=args.seed, load=True,
                            progress=lambda _t, task=task: bar.update(task, advance=0),
                        )  # fmt: skip
                        bar.remove_task(task)
                    for workload in workloads:
                        peaks: dict[str, float] = {}
                        rounds = [0.0, args.paced] if args.paced > 0 else [0.0]
                        for fraction in rounds:
                            for system, targets, pids in systems:
                                rate = fraction * peaks.get(system, 0.0)
                                if fraction > 0 and rate <= 0:
                                    continue
                                total = None if args.ops else args.duration
                                label = f" at {rate:,.0f}/s" if rate > 0 else ""
                                task = bar.add_task(
                                    f"workload {workload} on {system}{label}", total=total
                                )
                                result = _run_wrk(
                                    wrk, system, workload, targets, args.clients,
                                    directory=scratch, records=args.records,
                                    read_fraction=WORKLOADS[workload][0], duration=args.duration,
                                    ops=args.ops, value_bytes=args.value_bytes, seed=args.seed,
                                    load=False,
                                    progress=lambda t, task=task: bar.update(task, completed=t),
                                    server_pids=pids, rate_per_second=rate,
                                )  # fmt: skip
                                bar.remove_task(task)
                                results.append(result)
                                if fraction == 0:
                                    peaks[system] = result.throughput
                                say(
                                    f"{workload} {system} ({result.load}): "
                                    f"{result.throughput:,.0f} ops/s, "
                                    f"p99 {result.percentile_ms(0.99):.1f} ms, "
                                    f"{result.server_cpu_us_per_op:,.0f} µs server CPU per op"
                                )
        finally:
            if etcd is not None:
                etcd.stop()
    table = Table(
        title=f"YCSB workloads, {args.clients} connections, {args.value_bytes} B values, "
        f"{args.records:,} zipfian keys (theta {ZIPFIAN_CONSTANT})",
        title_justify="left",
    )
    for column in (
        "workload", "system", "load", "ops/s", "p50 ms", "p99 ms", "p999 ms", "CPU µs/op",
        "siblings", "503", "other errors", "vs etcd ops/s", "vs etcd p99", "vs etcd CPU",
    ):  # fmt: skip
        table.add_column(
            column, justify="left" if column in ("workload", "system", "load") else "right"
        )
    by_key = {(r.workload, r.system, r.offered_per_second > 0): r for r in results}
    for result in results:
        peer = by_key.get((result.workload, "etcd", result.offered_per_second > 0))
        ratio = ratio_p99 = ratio_cpu = ""
        if result.system == "dynamokv" and peer is not None and peer.throughput > 0:
            ratio = f"{result.throughput / peer.throughput:.2f}×"
            ratio_p99 = f"{result.percentile_ms(0.99) / peer.percentile_ms(0.99):.2f}×"
            ratio_cpu = f"{result.server_cpu_us_per_op / peer.server_cpu_us_per_op:.2f}×"
        table.add_row(
            result.workload,
            result.system,
            result.load,
            f"{result.throughput:,.0f}",
            f"{result.percentile_ms(0.50):.2f}",
            f"{result.percentile_ms(0.99):.2f}",
            f"{result.percentile_ms(0.999):.2f}",
            f"{result.server_cpu_us_per_op:,.0f}",
            f"{result.siblings:,}" if result.system == "dynamokv" else "—",
            f"{result.unavailable:,}",
            f"{result.failed + result.missing + result.errors:,}",
            ratio,
            ratio_p99,
            ratio_cpu,
        )
    console.print(table)
    console.print(
        "CPU µs/op: user + system CPU of the system's three server processes (/proc/PID/stat) "
        "during the row, per answered request; in W every request is a put. load: peak is "
        "closed loop; a rate is a constant-rate row, its latency counted from each request's "
        "scheduled time.",
        soft_wrap=True,
    )
    if args.json:
        write_results(
            Path(args.json),
            benchmark="cluster",
            args=args,
            machine=machine,
            results=[
                {
                    "workload": r.workload,
                    "system": r.system,
                    "load": r.load,
                    "offered_ops_per_second": r.offered_per_second,
                    "ops_per_second": r.throughput,
                    "requests": r.requests,
                    "seconds": r.seconds,
                    "latency_ms_p50": r.percentile_ms(0.5),
                    "latency_ms_p99": r.percentile_ms(0.99),
                    "latency_ms_p999": r.percentile_ms(0.999),
                    "siblings": r.siblings,
                    "unavailable": r.unavailable,
                    "missing": r.missing,
                    "failed": r.failed,
                    "socket_errors": r.errors,
                    "server_cpu_seconds": r.server_cpu_seconds,
                    "server_cpu_us_per_op": r.server_cpu_us_per_op,
                }
                for r in results
            ],
        )
    print(f"cpus: {os.cpu_count()}; python {sys.version.split()[0]}; load generator: wrk")
    return 0


def records_label(args: argparse.Namespace) -> str:
    """``10,000 keys`` for the progress line."""
    return f"{args.records:,} keys"
