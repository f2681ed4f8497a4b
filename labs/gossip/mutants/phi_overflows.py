"""phi_of_silence computes log10(1 + e^z) directly: a long silence overflows.

math.exp raises OverflowError past z ≈ 709: a node silent for long enough makes
the detector crash instead of suspecting it.
"""

from __future__ import annotations

import math

CAUGHT_BY = "3.1"
ALSO_CAUGHT_BY = ("3.2",)


def phi_of_silence(silence_ticks: float, mean_ticks: float, std_deviation_ticks: float) -> float:
    y = (silence_ticks - mean_ticks) / std_deviation_ticks
    z = y * (1.5976 + 0.070566 * y * y)
    return math.log10(1 + math.exp(z))
