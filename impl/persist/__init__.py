"""How a node's writes reach its disk, and its reads come back: one path for every driver.

The core emits :class:`~dynamokv.impl.core.Persist` effects and reads through a
:class:`~dynamokv.impl.core.MemberStorageView`. :class:`StoreAdapter` is both, over the
node's two :class:`~dynamokv.impl.storage.Store` instances: pending writes visible at once
(:class:`PendingWrites`), one record format (:mod:`~dynamokv.impl.persist._records`), group
commit through the store, and a cache of decoded version sets. The trio runtime wraps it in
a writer loop; the simulator drives it over fault-injecting files. This package sits
between the core and the store, and below both drivers.
"""

from __future__ import annotations

from ._adapter import CACHE_BYTES_MAX, StoreAdapter, StoreLike
from ._pending import PendingWrites
from ._records import decode_versions, encode_versions

__all__ = [
    "CACHE_BYTES_MAX",
    "PendingWrites",
    "StoreAdapter",
    "StoreLike",
    "decode_versions",
    "encode_versions",
]
