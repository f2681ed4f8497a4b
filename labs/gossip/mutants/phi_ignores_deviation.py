"""phi_of_silence ignores the standard deviation: y = silence - mean, in ticks.

phi then no longer adapts to how irregular the heartbeats are: a node whose
heartbeats arrive late, but regularly late, is declared dead.
"""

from __future__ import annotations

import math

CAUGHT_BY = "3.1"
ALSO_CAUGHT_BY = ("3.2", "4.1")


def phi_of_silence(silence_ticks: float, mean_ticks: float, std_deviation_ticks: float) -> float:
    y = silence_ticks - mean_ticks
    z = y * (1.5976 + 0.070566 * y * y)
    if z > 30.0:
        return (z + math.log1p(math.exp(-z))) / math.log(10.0)
    return math.log1p(math.exp(z)) / math.log(10.0)
