"""The phi-accrual failure detector (Hayashibara et al.): suspicion that adapts to the rhythm."""

from __future__ import annotations

import math
import random
import statistics

import pytest
from dynamokv.impl.core import GossipConfig
from dynamokv.impl.core._phi import PhiAccrualDetector, PhiConfig, phi_of_silence
from hypothesis import given
from hypothesis import strategies as st

PERIOD = 10


def _steady(detector: PhiAccrualDetector, beats: int, *, start: int = 0) -> int:
    tick = start
    for _ in range(beats):
        detector.heartbeat(tick)
        tick += PERIOD
    return tick - PERIOD


def test_steady_heartbeats_keep_phi_low() -> None:
    detector = PhiAccrualDetector(PhiConfig(first_heartbeat_estimate_ticks=PERIOD))
    last = _steady(detector, 50)
    assert detector.phi(last + PERIOD) < 1.0
    assert not detector.is_suspected(last + PERIOD)


def test_silence_makes_phi_rise_past_the_threshold() -> None:
    detector = PhiAccrualDetector(PhiConfig(first_heartbeat_estimate_ticks=PERIOD))
    last = _steady(detector, 50)
    phis = [detector.phi(last + silence) for silence in range(0, 200, 5)]
    assert phis == sorted(phis), "phi must grow with the silence"
    assert phis[-1] > 8.0
    assert detector.is_suspected(last + 199)
    assert detector.phi(last + 10_000) < float("inf")


def test_a_slow_but_alive_node_with_jitter_is_not_suspected() -> None:
    """Heartbeats every 10 ± 6 ticks, 5,000 of them: never suspected at any tick between.

    The detector learns the jitter (a wider distribution), so false positives stay
    bounded: here there are none.
    """
    rng = random.Random(7)
    detector = PhiAccrualDetector(PhiConfig(min_std_deviation_ticks=1.0))
    tick = 0
    false_positives = 0
    for _ in range(5000):
        detector.heartbeat(tick)
        gap = PERIOD + rng.randint(-6, 6)
        false_positives += any(detector.is_suspected(tick + step) for step in range(1, gap + 1))
        tick += gap
    assert false_positives == 0


def test_a_brief_partition_shorter_than_the_timeout_is_not_suspected() -> None:
    """A partition that ends before the acceptable pause has passed raises no suspicion.

    Reference: Dynamo §4.8.3 (failure detection is local and temporary)
    """
    config = PhiConfig(acceptable_pause_ticks=3 * PERIOD, min_std_deviation_ticks=PERIOD / 2)
    detector = PhiAccrualDetector(config)
    last = _steady(detector, 30)
    timeout = detector.suspicion_delay_ticks()
    assert timeout > 4 * PERIOD
    partition_ticks = 4 * PERIOD  # the next heartbeats were lost for 4 periods
    assert not any(detector.is_suspected(last + t) for t in range(partition_ticks + 1))
    detector.heartbeat(last + partition_ticks)
    assert not detector.is_suspected(last + partition_ticks + PERIOD)
    assert detector.is_suspected(last + partition_ticks + round(timeout) + 2 * PERIOD)


def test_the_sample_window_is_bounded() -> None:
    detector = PhiAccrualDetector(PhiConfig(window_size_max=16))
    _steady(detector, 100)
    assert detector.sample_count == 16


def test_a_node_never_heard_from_is_not_suspected() -> None:
    detector = PhiAccrualDetector()
    assert detector.phi(10**9) == 0.0
    assert not detector.is_suspected(10**9)


def test_the_detector_reports_the_tick_of_the_latest_heartbeat() -> None:
    detector = PhiAccrualDetector()
    assert detector.last_arrival_tick is None
    detector.heartbeat(100)
    detector.heartbeat(130)
    assert detector.last_arrival_tick == 130


def test_ticks_that_run_backwards_are_an_argument_error() -> None:
    detector = PhiAccrualDetector()
    detector.heartbeat(100)
    with pytest.raises(ValueError, match="before the previous one"):
        detector.heartbeat(99)
    with pytest.raises(ValueError):
        PhiConfig(threshold=0)


def test_a_threshold_is_allowed_from_1e_16_to_300() -> None:
    """A threshold stands for the chance 10^-threshold: from the float just below 1
    (10^-16) to about the least a float holds (10^-300). Outside, it is refused."""
    assert PhiConfig(threshold=1e-16).threshold == 1e-16
    assert PhiConfig(threshold=300.0).threshold == 300.0
    for threshold in (0.9e-16, 300.5, math.inf, math.nan):
        with pytest.raises(ValueError, match="threshold must be positive, from 1e-16 to 300"):
            PhiConfig(threshold=threshold)


@given(
    st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=60),
    st.integers(min_value=0, max_value=500),
)
def test_is_suspected_is_phi_at_or_over_the_threshold(gaps: list[int], silence: int) -> None:
    """The cheap deadline comparison agrees with computing phi (away from the boundary)."""
    detector = PhiAccrualDetector()
    tick = 0
    for gap in gaps:
        detector.heartbeat(tick)
        tick += gap
    now = tick - gaps[-1] + silence
    phi = detector.phi(now)
    if abs(phi - detector.config.threshold) > 1e-6:
        assert detector.is_suspected(now) == (phi >= detector.config.threshold)


def test_a_silence_whose_phi_is_the_threshold_exactly_is_suspected() -> None:
    """Suspicion starts *at* the threshold, not only past it: with the threshold set to
    phi of a silence of 30 ticks (8 deviations past the mean of a window of mean 10 and
    deviation 2.5), that silence is suspected and one tick less is not.

    Reference: Dynamo §4.8.3
    """
    probe = PhiAccrualDetector(PhiConfig(first_heartbeat_estimate_ticks=10.0))
    probe.heartbeat(100)
    threshold = probe.phi(130)
    detector = PhiAccrualDetector(
        PhiConfig(threshold=threshold, first_heartbeat_estimate_ticks=10.0)
    )
    detector.heartbeat(100)
    assert detector.phi(130) == threshold
    assert detector.is_suspected(130)
    assert not detector.is_suspected(129)


def test_by_default_a_node_is_suspected_once_phi_reaches_8() -> None:
    """The default threshold is 8: a false suspicion about once in 10^8 intervals if
    they really are normal. Suspicion starts at the first tick whose phi is 8 or more
    (a window of deviation 25 ticks, so phi moves little in a tick).

    Reference: Dynamo §4.8.3
    """
    detector = PhiAccrualDetector(PhiConfig(first_heartbeat_estimate_ticks=100.0))
    detector.heartbeat(0)
    first = next(now for now in range(1_000) if detector.is_suspected(now))
    assert detector.phi(first - 1) < 8.0 <= detector.phi(first)


@pytest.mark.parametrize("threshold", [1e-16, 0.01, 0.1, 0.25, 0.5, 1.0, 8.0, 16.0, 300.0])
def test_suspicion_starts_where_phi_reaches_any_threshold_allowed(threshold: float) -> None:
    """The deadline is solved for the threshold, from the least allowed to the greatest,
    including one below phi at the mean (log10 2: a silence shorter than the mean
    interval is then suspect)."""
    y = PhiConfig(threshold=threshold).y_threshold
    assert phi_of_silence(100.0 + 10.0 * y, 100.0, 10.0) == pytest.approx(threshold, rel=1e-9)
    assert (y < 0) == (threshold < math.log10(2))


def test_the_window_mean_and_deviation_are_those_of_its_intervals() -> None:
    """The detector keeps running sums; its mean and standard deviation are those of the
    intervals in the window (the oldest forgotten once it is full)."""
    detector = PhiAccrualDetector(PhiConfig(window_size_max=4))
    for tick in (0, 10, 30, 40, 70):
        detector.heartbeat(tick)
    window = [10.0, 20.0, 10.0, 30.0]  # the two first-heartbeat estimates were forgotten
    assert detector.mean_ticks() == pytest.approx(statistics.fmean(window))
    assert detector.std_deviation_ticks() == pytest.approx(statistics.pstdev(window))


def test_phi_before_the_last_heartbeat_is_phi_at_it() -> None:
    """A tick earlier than the last arrival (a driver's clocks disagree) is no silence."""
    detector = PhiAccrualDetector(PhiConfig(first_heartbeat_estimate_ticks=PERIOD))
    last = _steady(detector, 5)
    assert detector.phi(last - 3) == detector.phi(last) > 0.0


def test_phi_of_a_silence_far_shorter_than_the_mean_is_zero_not_an_overflow() -> None:
    """``log10(1 + e^z)`` is computed as ``(z + log(1 + e^-z)) / ln 10`` only for a
    large z: for a very negative one, e^-z would overflow a float."""
    assert phi_of_silence(0.0, 1_000_000.0, 1.0) == 0.0
    assert phi_of_silence(1_000_000.0, 0.0, 1.0) > 1e6


def test_phi_is_minus_log10_of_the_chance_the_silence_is_normal() -> None:
    """At the mean a heartbeat is as likely late as early: phi is -log10(1/2)."""
    assert phi_of_silence(100.0, 100.0, 10.0) == pytest.approx(math.log10(2), rel=1e-12)


def test_the_default_window_keeps_the_last_200_intervals() -> None:
    """By default the detector learns a member's rhythm from its last 200 heartbeat
    intervals: long enough to smooth one late beat, short enough to follow a change."""
    detector = PhiAccrualDetector(PhiConfig(first_heartbeat_estimate_ticks=PERIOD))
    _steady(detector, 150)
    assert detector.sample_count == 151  # the first beat counts as two estimated intervals
    _steady(detector, 300, start=150 * PERIOD)
    assert detector.sample_count == 200


@pytest.mark.parametrize("estimate", [10.0, 30.0])
def test_the_first_heartbeat_assumes_two_intervals_a_quarter_either_side_of_the_estimate(
    estimate: float,
) -> None:
    """Before a second heartbeat the detector knows no interval: it assumes two, at the
    estimate less and plus a quarter of it, so its mean is the estimate and its standard
    deviation a quarter of it."""
    config = PhiConfig(first_heartbeat_estimate_ticks=estimate, min_std_deviation_ticks=0.5)
    detector = PhiAccrualDetector(config)
    detector.heartbeat(100)
    assert detector.sample_count == 2
    assert detector.mean_ticks() == estimate
    assert detector.std_deviation_ticks() == estimate / 4
    y = config.y_threshold
    assert detector.suspicion_delay_ticks() == pytest.approx(estimate + y * estimate / 4)


def test_before_any_heartbeat_the_mean_is_zero_and_the_deviation_its_floor() -> None:
    detector = PhiAccrualDetector(PhiConfig(min_std_deviation_ticks=3.0))
    assert detector.sample_count == 0
    assert detector.mean_ticks() == 0.0
    assert detector.std_deviation_ticks() == 3.0


def test_by_default_no_pause_is_acceptable_phi_at_the_mean_interval_is_log10_2() -> None:
    """The default detector adds no acceptable pause to the mean: a silence exactly as
    long as the usual interval is as likely normal as not."""
    detector = PhiAccrualDetector()
    assert detector.config.acceptable_pause_ticks == 0.0
    last = _steady(detector, 20, start=0)
    mean = detector.mean_ticks()
    assert mean == PERIOD
    assert detector.phi(last + PERIOD) == pytest.approx(math.log10(2), rel=1e-12)


def test_a_window_of_two_intervals_is_allowed_and_of_one_refused() -> None:
    """The window must hold the two intervals the first heartbeat assumes."""
    detector = PhiAccrualDetector(PhiConfig(window_size_max=2))
    _steady(detector, 5)
    assert detector.sample_count == 2 and detector.mean_ticks() == PERIOD
    for size in (1, 0, -3):
        with pytest.raises(ValueError, match="window_size_max"):
            PhiConfig(window_size_max=size)


@pytest.mark.parametrize("floor", [0.0, -1.0])
def test_a_deviation_floor_of_zero_or_below_is_refused(floor: float) -> None:
    assert PhiConfig(min_std_deviation_ticks=0.001).min_std_deviation_ticks == 0.001
    with pytest.raises(ValueError, match="min_std_deviation_ticks"):
        PhiConfig(min_std_deviation_ticks=floor)


def test_a_replaced_suspicion_rule_suspects_from_where_its_phi_reaches_the_threshold() -> None:
    """A rule other than :func:`phi_of_silence` (a lab's, through the node's seams) is
    evaluated: suspected at phi equal to the threshold and above, not below."""

    def one_per_tick(silence_ticks: float, mean_ticks: float, deviation_ticks: float) -> float:
        return silence_ticks

    detector = PhiAccrualDetector(PhiConfig(threshold=8.0), phi_rule=one_per_tick)
    detector.heartbeat(100)
    assert [detector.is_suspected(100 + silence) for silence in (0, 7, 8, 9, 50)] == [
        False,
        False,
        True,
        True,
        True,
    ]


@pytest.mark.parametrize("y", [6.53, 6.6, 6.8, 7.5])
def test_phi_far_past_the_mean_is_still_log10_of_one_plus_e_to_the_z(y: float) -> None:
    """phi is computed as ``(max(z, 0) + log(1 + e^-|z|)) / ln 10`` so that e^z cannot
    overflow; far past the mean, up to where e^z still fits a float, it equals
    ``log10(1 + e^z)``, to 1e-14."""
    z = y * (1.5976 + 0.070566 * y * y)
    assert 30.0 < z < 700.0
    assert phi_of_silence(y, 0.0, 1.0) == pytest.approx(math.log10(1 + math.exp(z)), abs=1e-14)


@pytest.mark.parametrize("pause", [-0.5, -1.0, -2.0])
def test_a_negative_acceptable_pause_is_refused(pause: float) -> None:
    assert PhiConfig(acceptable_pause_ticks=0.0).acceptable_pause_ticks == 0.0
    with pytest.raises(ValueError, match="acceptable_pause_ticks"):
        PhiConfig(acceptable_pause_ticks=pause)


@pytest.mark.parametrize("estimate", [0.25, 1.0])
def test_a_first_interval_estimate_of_a_tick_or_less_is_allowed(estimate: float) -> None:
    """Any positive first-interval estimate is allowed, a fraction of a tick included
    (a node that heartbeats every tick); zero or less is refused."""
    detector = PhiAccrualDetector(PhiConfig(first_heartbeat_estimate_ticks=estimate))
    detector.heartbeat(0)
    assert detector.mean_ticks() == estimate
    with pytest.raises(ValueError, match="first_heartbeat_estimate_ticks"):
        PhiConfig(first_heartbeat_estimate_ticks=0.0)


def test_a_deviation_under_one_tick_is_kept_above_a_lower_floor() -> None:
    """The floor is ``min_std_deviation_ticks`` and nothing else: with a floor of 0.1, a
    window of intervals 10 and 11 has its own deviation, half a tick."""
    detector = PhiAccrualDetector(PhiConfig(window_size_max=2, min_std_deviation_ticks=0.1))
    for tick in (0, 10, 21):
        detector.heartbeat(tick)
    assert detector.mean_ticks() == 10.5
    assert detector.std_deviation_ticks() == 0.5


def test_a_long_silence_does_not_slow_the_detection_of_the_next_crash() -> None:
    """A partition or a pause ends: its silence, which the detector already took for a
    failure, enters the window as the suspicion delay at most. Twenty heartbeats later a
    crash is suspected as soon as it was before the silence, not a window's worth of
    heartbeats later (a 36,000-tick silence entered whole made it 19,109 ticks)."""

    def delay_after(silence_ticks: int) -> float:
        detector = PhiAccrualDetector(GossipConfig().phi)
        tick = 0
        for _ in range(150):
            detector.heartbeat(tick)
            tick += 10
        tick += silence_ticks
        for _ in range(21):
            detector.heartbeat(tick)
            tick += 10
        return detector.suspicion_delay_ticks()

    usual = delay_after(0)
    for silence_ticks in (600, 3_000, 36_000):
        assert delay_after(silence_ticks) <= usual * 1.1


def test_a_rhythm_that_slows_for_good_is_learned_within_a_few_heartbeats() -> None:
    """The cap does not freeze the window: a node whose heartbeats come 40 times slower
    from now on is suspected between them for a few heartbeats only."""
    detector = PhiAccrualDetector(GossipConfig().phi)
    tick = 0
    for _ in range(150):
        detector.heartbeat(tick)
        tick += 10
    suspected_before = []
    for beat in range(300):
        tick += 400
        if detector.is_suspected(tick - 1):
            suspected_before.append(beat)
        detector.heartbeat(tick)
    assert suspected_before and max(suspected_before) < 30
