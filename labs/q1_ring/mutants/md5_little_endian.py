"""md5_position reads the digest little-endian: every key lands somewhere else.

Nodes that disagree on byte order disagree on who stores every key.
"""

from __future__ import annotations

import hashlib

CAUGHT_BY = "1.1"
ALSO_CAUGHT_BY = ("1.2",)


def md5_position(key: bytes) -> int:
    return int.from_bytes(hashlib.md5(key).digest(), "little")
