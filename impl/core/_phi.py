"""The phi-accrual failure detector (Hayashibara et al., SRDS 2004), in ticks.

A fixed timeout ("suspect a node after T ticks of silence") is wrong in both
directions at once: too short for a node whose heartbeats arrive late because
gossip is an epidemic (a new heartbeat reaches a given node after a random
number of rounds), too long for a node that heartbeats like a metronome. The
phi-accrual detector instead keeps the recent *inter-arrival times* of a node's
heartbeats, models them as a normal distribution, and reports

    phi(now) = -log10( P(a heartbeat arrives later than now - last_arrival) )

so phi = 1 means a 10 % chance that the silence is normal, phi = 8 one in 10^8.
A caller picks a threshold (8 by default, as in Akka and Cassandra); the
detector adapts the effective timeout to what it has seen.

Dynamo itself uses "a purely local notion of failure detection" (Dynamo §4.8.3):
a node is suspected by the nodes that cannot reach it, and that suspicion only
steers requests away from it (sloppy quorum, hinted handoff). It never removes
the node from the ring; only an explicit leave does (Dynamo §4.8.1). This module
is that local notion: it knows nothing of membership.

Sans-IO: time is a tick count passed in by the caller, and nothing here reads a
clock. The distribution's tail uses the logistic approximation of the normal
CDF that Akka uses, evaluated in log space so it neither overflows nor returns
infinity: phi grows without bound, smoothly, as the silence lengthens.
"""

from __future__ import annotations

import functools
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from dynamokv.spec.errors import ArgumentError, invariant

__all__ = ["PhiAccrualDetector", "PhiConfig", "phi_of_silence"]

_LN_10 = math.log(10.0)

THRESHOLD_MIN = 1e-16
"""The least threshold: 10^-threshold, the chance it stands for, is then the float just
below 1 (any less and the chance is 1, and every silence suspect)."""
THRESHOLD_MAX = 300.0
"""The greatest threshold: a chance of 10^-300, near the least a float holds (about
10^-308)."""


@dataclass(frozen=True, kw_only=True)
class PhiConfig:
    """The detector's parameters, all in ticks except the threshold.

    Attributes:
        threshold: phi at or above which the node is suspected (8: a false positive
            about once in 10^8 intervals, if the intervals really are normal); from
            ``THRESHOLD_MIN`` (10^-16) to ``THRESHOLD_MAX`` (300).
        window_size_max: inter-arrival samples kept; older ones are forgotten, so the
            detector follows a node whose rhythm changes.
        min_std_deviation_ticks: a floor under the measured standard deviation. A node
            that heartbeats perfectly regularly would otherwise make phi explode after
            one tick of lateness.
        acceptable_pause_ticks: added to the mean: a silence this much longer than
            usual is still normal (a garbage-collection pause, a brief partition).
        first_heartbeat_estimate_ticks: the interval assumed before two heartbeats have
            been seen; the window starts as two samples at mean ± mean/4.
    """

    threshold: float = 8.0
    window_size_max: int = 200
    min_std_deviation_ticks: float = 1.0
    acceptable_pause_ticks: float = 0.0
    first_heartbeat_estimate_ticks: float = 10.0

    @functools.cached_property
    def y_threshold(self) -> float:
        """Standard deviations past the mean at which phi reaches :attr:`threshold`."""
        return _y_at_threshold(self.threshold)

    def __post_init__(self) -> None:
        if not THRESHOLD_MIN <= self.threshold <= THRESHOLD_MAX:
            raise ArgumentError(
                f"threshold must be positive, from {THRESHOLD_MIN} to {THRESHOLD_MAX},"
                f" got {self.threshold}"
            )
        if self.window_size_max < 2:
            raise ArgumentError("window_size_max must be at least 2")
        if not self.min_std_deviation_ticks > 0:
            raise ArgumentError("min_std_deviation_ticks must be positive")
        if self.acceptable_pause_ticks < 0:
            raise ArgumentError("acceptable_pause_ticks must not be negative")
        if not self.first_heartbeat_estimate_ticks > 0:
            raise ArgumentError("first_heartbeat_estimate_ticks must be positive")


def _phi_of(y: float) -> float:
    """phi for a silence ``y`` standard deviations past the mean.

    The logistic approximation of the normal tail, P(X > y) ~ 1 / (1 + e^z) with
    z = y·(1.5976 + 0.070566·y²), so phi = log10(1 + e^z), computed as
    ``(max(z, 0) + log(1 + e^-|z|)) / ln 10``: e^-|z| is at most 1, so nothing
    overflows for large z, and for very negative z it is log(1 + e^z) as written.
    """
    z = y * (1.5976 + 0.070566 * y * y)
    return (max(z, 0.0) + math.log1p(math.exp(-abs(z)))) / _LN_10  # log(1 + e^z), e^-|z| <= 1


def phi_of_silence(silence_ticks: float, mean_ticks: float, std_deviation_ticks: float) -> float:
    """The suspicion level after ``silence_ticks`` without a heartbeat (phi accrual).

    The heartbeats' inter-arrival times are modelled as a normal distribution with
    this mean and standard deviation; phi is -log10 of the chance that a heartbeat
    arrives later than the silence so far: 1 means a 10 % chance that the silence is
    normal, 8 one in 10^8. It grows with the silence, without bound.

    Args:
        silence_ticks: ticks since the last heartbeat arrived.
        mean_ticks: the mean inter-arrival time (plus any acceptable pause).
        std_deviation_ticks: the inter-arrival times' standard deviation (positive).

    Returns:
        phi, with the normal tail approximated as Akka does:
        ``log10(1 + e^z)`` for ``z = y·(1.5976 + 0.070566·y²)``, ``y`` the silence's
        distance from the mean in standard deviations; for any silence, however
        long (``e^z`` overflows a float past z ≈ 709: ``log10(1 + e^z)`` is then
        ``(z + log(1 + e^-z)) / ln 10``).
    """
    return _phi_of((silence_ticks - mean_ticks) / std_deviation_ticks)


def _y_at_threshold(threshold: float) -> float:
    """The ``y`` (standard deviations past the mean) at which phi reaches ``threshold``.

    Solved by bisection on the monotone :func:`_phi_of`, once per :class:`PhiConfig`
    (:attr:`PhiConfig.y_threshold`); with it, suspicion is one comparison of the silence
    against a deadline.
    """
    low, high = -10.0, 1000.0  # phi(-10) ~ 1e-38 and phi(1000) ~ 3e7: every threshold between
    while True:
        middle = (low + high) / 2
        if middle in (low, high):  # low and high are adjacent floats
            return high
        if _phi_of(middle) >= threshold:
            high = middle
        else:
            low = middle


class PhiAccrualDetector:
    """Suspicion of one remote node, from the arrival ticks of its heartbeats.

    Feed it :meth:`heartbeat` whenever fresh evidence that the node is alive
    arrives (in gossip: its heartbeat counter went up); ask :meth:`phi` or
    :meth:`is_suspected` at any tick. Before the first heartbeat there is no
    evidence either way and phi is 0.

    Memory is bounded by ``window_size_max``; the running sums make every call O(1).
    """

    def __init__(
        self,
        config: PhiConfig | None = None,
        *,
        phi_rule: Callable[[float, float, float], float] = phi_of_silence,
    ) -> None:
        """Create a detector that has seen no heartbeat yet.

        ``phi_rule`` is the suspicion function (:func:`phi_of_silence`); only labs and
        tests pass another, through the node's :class:`~dynamokv.impl.core.Seams`.
        """
        self.config = config if config is not None else PhiConfig()
        self._phi_rule = phi_rule
        self._intervals: deque[float] = deque()
        self._sum = 0.0
        self._sum_of_squares = 0.0
        self._last_arrival_tick: int | None = None
        self._y_threshold = self.config.y_threshold
        self._suspicion_delay_ticks = math.inf

    @property
    def last_arrival_tick(self) -> int | None:
        """The tick of the latest heartbeat, or ``None`` before the first."""
        return self._last_arrival_tick

    @property
    def sample_count(self) -> int:
        """Inter-arrival samples in the window (at most ``window_size_max``)."""
        return len(self._intervals)

    def _add(self, interval: float) -> None:
        intervals = self._intervals
        window_size_max = self.config.window_size_max
        if len(intervals) == window_size_max:
            dropped = intervals.popleft()
            self._sum -= dropped
            self._sum_of_squares -= dropped * dropped
        intervals.append(interval)
        self._sum += interval
        self._sum_of_squares += interval * interval
        if len(intervals) > window_size_max:
            invariant(False, "phi: window overflow")

    def heartbeat(self, now: int) -> None:
        """Record that a heartbeat of the node arrived at tick ``now``.

        Raises:
            dynamokv.spec.errors.ArgumentError: ``now`` is earlier than the previous heartbeat (ticks only grow).
        """
        last = self._last_arrival_tick
        if last is None:
            estimate = self.config.first_heartbeat_estimate_ticks
            self._add(estimate - estimate / 4)
            self._add(estimate + estimate / 4)
        elif now < last:
            raise ArgumentError(f"heartbeat at tick {now} before the previous one at {last}")
        else:
            # A silence the detector already took for a failure (a partition, a paused
            # process) is no sample of the node's rhythm: it enters the window as the
            # suspicion delay at most, or one partition would slow the detection of the
            # next crash for a whole window of heartbeats. A rhythm that really slows
            # still moves the window, by up to that delay a sample.
            self._add(min(float(now - last), self._suspicion_delay_ticks))
        self._last_arrival_tick = now
        mean = self.mean_ticks() + self.config.acceptable_pause_ticks
        self._suspicion_delay_ticks = mean + self._y_threshold * self.std_deviation_ticks()

    def mean_ticks(self) -> float:
        """The mean inter-arrival time in the window (0 before the first heartbeat)."""
        return self._sum / len(self._intervals) if self._intervals else 0.0

    def std_deviation_ticks(self) -> float:
        """The window's standard deviation, floored at ``min_std_deviation_ticks``."""
        count = len(self._intervals)
        if count == 0:
            return self.config.min_std_deviation_ticks
        mean = self._sum / count
        variance = max(0.0, self._sum_of_squares / count - mean * mean)
        return max(math.sqrt(variance), self.config.min_std_deviation_ticks)

    def phi(self, now: int) -> float:
        """The suspicion level at tick ``now``: -log10 of the chance the silence is normal."""
        last = self._last_arrival_tick
        if last is None:
            return 0.0
        silence = max(0, now - last)
        mean = self.mean_ticks() + self.config.acceptable_pause_ticks
        return self._phi_rule(float(silence), mean, self.std_deviation_ticks())

    def is_suspected(self, now: int) -> bool:
        """Whether phi has reached the threshold at tick ``now``.

        A node asks this for every peer every round. For :func:`phi_of_silence`, whose
        inverse is solved once per threshold, it is one comparison of the silence with
        :meth:`suspicion_delay_ticks` (the same answer: phi grows with the silence); a
        replaced rule is evaluated.
        """
        last = self._last_arrival_tick
        if last is None:
            return False
        if self._phi_rule is phi_of_silence:
            return now - last >= self._suspicion_delay_ticks
        return self.phi(now) >= self.config.threshold

    def suspicion_delay_ticks(self) -> float:
        """How long a silence (from the last heartbeat) makes phi reach the threshold.

        The detector's current effective timeout under :func:`phi_of_silence`:
        mean + acceptable pause + y·std, where phi(y) = threshold; it moves as the
        window does. Infinite before the first heartbeat.
        """
        return self._suspicion_delay_ticks
