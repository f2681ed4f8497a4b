"""Immutable sorted segment files: what a memtable becomes when it is flushed.

A segment holds records sorted by sort key (ring position, then key; see :mod:`._format`),
cut into blocks of about ``block_bytes_target`` bytes, each with its own CRC-32. An index
(the first sort key of every block) and a bloom filter live at the end of the file and are
loaded on open; a point read then costs one bisect, at most one ``pread`` of one block, one
checksum and one ``bytes.find``. Memory per segment is the index and the bloom filter, about
40 bytes per block plus 10 bits per key, so two million keys never sit in RAM.

Layout::

    header   magic "DKVSEG" | version u16 | segment number u64 | crc32 u32
    block*   count u16 | count x 16-byte ring positions | count x span | keys and values |
             crc32 u32 (of everything before it in the block)
    span     key start u32 | value start u32 | value end u32 (offsets in the block; the
             key ends where its value starts; a delete marker has an empty value and the
             top bit of its value end set)
    bloom    word count u64 | hash count u32 | words (u64 each) | crc32 u32
    index    block count u32 | per block: sort key length u16 | sort key | offset u64 |
             length u32 | crc32 u32
    footer   index offset u64 | index length u32 | bloom offset u64 | bloom length u32 |
             entry count u64 | magic "DKVSEG" | version u16 | crc32 u32

The ring positions of a block sit side by side, so a point read finds its key's position
with one ``bytes.find`` in C instead of a binary search in Python; the span at the same
index then gives the key and the value with one ``unpack_from``.

**The bloom filter is blocked**: a key sets (and a read tests) four bits of one 64-bit word,
the word chosen by the first 8 bytes of the key's MD5 position and the four bits by the next
24 (see :func:`bloom_probe`). The probe is computed once per read and tested against every
segment with one index, one ``&`` and one compare, about 0.1 µs in Python, where four
probes spread over the whole filter cost about 0.6 µs per segment. With 10 bits per key the
false-positive rate is about 2 % instead of 1.2 % (a 64-bit word holds about six keys, and
some words more), the price of one cheap test per segment.

**The block cache.** A block is verified (CRC) when it is read from the file; the store's
:class:`BlockCache` then keeps it, so that the next point read of that block costs neither
the ``pread`` nor the checksum, as RocksDB's block cache does (it too verifies a block when
it loads it, not on every hit). Hits take no lock; the cache evicts the oldest blocks first
(FIFO, counted in bytes: with random reads that hits about as often as LRU, and a hit costs
one dict lookup). Range scans (compaction) bypass it. The blocks of a segment that a
compaction replaced leave the cache when the segment is closed. Measured with 200,000 keys
in two segments and every block cached: 1.6 times the point reads per CPU-second of an
empty cache (``docs/benchmarks.md``). Blocks are kept as read, not decoded into dicts: a
decoded block costs about 100 bytes more per record, and the decoding (~10 µs a block)
comes back on every re-read once the data outgrows the cache.
"""

from __future__ import annotations

import contextlib
import struct
import sys
import threading
import zlib
from array import array
from bisect import bisect_right
from collections import deque
from collections.abc import Iterator
from typing import Final

from dynamokv.spec.errors import invariant

from ._errors import StorageCorruptionError
from ._files import Files, ReadableFile, WritableFile
from ._format import POSITION_BYTES

SEGMENT_MAGIC = b"DKVSEG"
SEGMENT_VERSION = 2
_HEADER = struct.Struct("<6sHQ")
_HEADER_BYTES = _HEADER.size + 4
_FOOTER = struct.Struct("<QIQIQ6sH")
_FOOTER_BYTES = _FOOTER.size + 4
_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_SPAN = struct.Struct("<III")
_INDEX_ENTRY = struct.Struct("<QI")
_BLOOM_HEADER = struct.Struct("<QI")
_WRITE_BUFFER_BYTES = 1 << 20

BLOCK_ENTRIES_MAX = 65_535
"""Entries in one block (the count is a u16)."""

BLOOM_HASHES_COUNT = 4
"""Bits a key sets in its bloom word (see :func:`bloom_probe`)."""

BLOOM_WORD_BITS = 64

BLOOM_PROBE = struct.Struct("<QI")
BLOOM_PAIR_MASKS: Final = tuple((1 << (i & 63)) | (1 << (i >> 6)) for i in range(4096))
"""Two of a key's four bits from 12 bits of its position: bit ``i & 63`` and bit ``i >> 6``."""


def bloom_probe(sort_key: bytes) -> tuple[int, int]:
    """A key's bloom probe: ``(selector, mask)``.

    The key's word in a filter of ``words_count`` words is ``selector % words_count``
    (``selector``: bytes 0-7 of its MD5 position, little-endian); the key is possibly in the
    segment when that word has every bit of ``mask`` set. The mask's four bits (fewer if two
    coincide) are four 6-bit numbers read from bytes 8-10 of the position.
    """
    selector, bits = BLOOM_PROBE.unpack_from(sort_key)
    return selector, BLOOM_PAIR_MASKS[bits & 0xFFF] | BLOOM_PAIR_MASKS[(bits >> 12) & 0xFFF]


def _little_endian_words(words: array[int]) -> bytes:
    if sys.byteorder == "little":
        return words.tobytes()
    swapped = array("Q", words)
    swapped.byteswap()
    return swapped.tobytes()


def _words_from_little_endian(data: bytes) -> array[int]:
    words = array("Q")
    words.frombytes(data)
    if sys.byteorder != "little":
        words.byteswap()
    return words


CRC32_RESIDUE = 0x2144DF1C
"""``zlib.crc32(data + crc32(data).to_bytes(4, "little"))`` for every ``data``."""

_SPAN_BYTES = 12
invariant(_SPAN.size == _SPAN_BYTES, "span layout")
DELETED_FLAG = 1 << 31
"""Set in a span's value end for a delete marker (a block is far smaller than 2 GiB)."""


class Absent:
    """Type of :data:`ABSENT`."""


ABSENT: Final = Absent()
"""A lookup result: this source knows nothing about the key (look in older sources)."""

Lookup = bytes | None | Absent
"""``bytes`` (a value), ``None`` (a delete marker) or :data:`ABSENT`."""


def segment_name(number: int) -> str:
    """File name of segment ``number``."""
    return f"segment-{number:010d}.dkv"


def parse_segment_name(name: str) -> int | None:
    """The number in a segment file name, or ``None`` for other names."""
    if name.startswith("segment-") and name.endswith(".dkv") and name[8:-4].isdigit():
        return int(name[8:-4])
    return None


class BlockCache:
    """Verified segment blocks of one store, bounded by ``bytes_max`` (see the module docstring).

    Each segment keeps its own ``block index -> block`` dict; this object bounds their
    total and evicts in the order blocks came in.

    Args:
        bytes_max: the bound; 0 turns caching off.
    """

    def __init__(self, bytes_max: int) -> None:
        self.bytes_max = bytes_max
        self.bytes = 0
        self._order: deque[tuple[dict[int, bytes], int]] = deque()
        self._lock = threading.Lock()

    def admit(self, blocks: dict[int, bytes], index: int, block: bytes) -> None:
        """Cache ``block`` (just read and verified) as block ``index`` of ``blocks``' segment."""
        if self.bytes_max <= 0 or len(block) > self.bytes_max:
            return
        with self._lock:
            if index in blocks:
                return
            blocks[index] = block
            self._order.append((blocks, index))
            self.bytes += len(block)
            self._evict()

    def forget(self, blocks: dict[int, bytes]) -> None:
        """A segment is closed: its blocks leave the cache."""
        with self._lock:
            self.bytes -= sum(len(block) for block in blocks.values())
            blocks.clear()

    def _evict(self) -> None:
        order = self._order
        while self.bytes > self.bytes_max and order:
            blocks, index = order.popleft()
            block = blocks.pop(index, None)
            if block is not None:
                self.bytes -= len(block)


class SegmentWriter:
    """Streams sorted records into a new segment file; :meth:`finish` makes it durable."""

    def __init__(
        self,
        files: Files,
        path: str,
        number: int,
        *,
        entries_count_expected: int,
        block_bytes_target: int,
        bloom_bits_per_key: int,
    ) -> None:
        self.path = path
        self._files = files
        self._file: WritableFile = files.create(path)
        self._block_bytes_target = block_bytes_target
        words_count = max(1, -(-entries_count_expected * bloom_bits_per_key // BLOOM_WORD_BITS))
        self._bloom_words = array("Q", bytes(8 * words_count))
        self._buffer = bytearray()
        head = _HEADER.pack(SEGMENT_MAGIC, SEGMENT_VERSION, number)
        self._buffer += head + _U32.pack(zlib.crc32(head))
        self._offset = 0  # bytes already handed to the file
        self._index: list[tuple[bytes, int, int]] = []
        self._block_first_key: bytes = b""
        self._block_positions: list[bytes] = []
        self._block_keys: list[bytes] = []
        self._block_values: list[bytes | None] = []
        self._block_bytes = 0
        self._last_sort_key: bytes | None = None
        self.entries_count = 0

    def add(self, sort_key: bytes, value: bytes | None) -> None:
        """Append one record; sort keys must strictly increase."""
        # Every flushed and compacted record passes here.
        last = self._last_sort_key
        if last is not None and sort_key <= last:
            invariant(False, "segment records must be added in strictly increasing sort-key order")
        self._last_sort_key = sort_key
        key = sort_key[POSITION_BYTES:]
        keys = self._block_keys
        if not keys:
            self._block_first_key = sort_key
        self._block_positions.append(sort_key[:POSITION_BYTES])
        keys.append(key)
        self._block_values.append(value)
        self._block_bytes += (
            POSITION_BYTES + _SPAN_BYTES + len(key) + (len(value) if value is not None else 0)
        )
        selector, mask = bloom_probe(sort_key)
        words = self._bloom_words
        words[selector % len(words)] |= mask
        self.entries_count += 1
        if self._block_bytes >= self._block_bytes_target or len(keys) == BLOCK_ENTRIES_MAX:
            self._finish_block()

    def _finish_block(self) -> None:
        keys = self._block_keys
        count = len(keys)
        if count == 0:
            return
        spans: list[int] = []
        parts: list[bytes] = []
        offset = 2 + count * (POSITION_BYTES + _SPAN_BYTES)
        for key, value in zip(keys, self._block_values, strict=True):
            value_start = offset + len(key)
            parts.append(key)
            if value is None:
                spans += (offset, value_start, value_start | DELETED_FLAG)
                offset = value_start
            else:
                parts.append(value)
                offset = value_start + len(value)
                spans += (offset - len(value) - len(key), value_start, offset)
        body = b"".join(
            (
                _U16.pack(count),
                b"".join(self._block_positions),
                struct.pack(f"<{3 * count}I", *spans),
                b"".join(parts),
            )
        )
        block = body + _U32.pack(zlib.crc32(body))
        self._index.append((self._block_first_key, self._offset + len(self._buffer), len(block)))
        self._buffer += block
        self._block_positions = []
        self._block_keys = []
        self._block_values = []
        self._block_bytes = 0
        if len(self._buffer) >= _WRITE_BUFFER_BYTES:
            self._drain()

    def _drain(self) -> None:
        if self._buffer:
            self._file.write(bytes(self._buffer))
            self._offset += len(self._buffer)
            self._buffer = bytearray()

    def finish(self) -> int:
        """Write bloom filter, index and footer, ``fdatasync``, close; return the file size.

        The caller syncs the directory (once for all files it created).
        """
        self._finish_block()
        bloom_offset = self._offset + len(self._buffer)
        words = self._bloom_words
        bloom = _BLOOM_HEADER.pack(len(words), BLOOM_HASHES_COUNT) + _little_endian_words(words)
        bloom += _U32.pack(zlib.crc32(bloom))
        self._buffer += bloom
        index_offset = self._offset + len(self._buffer)
        parts = [_U32.pack(len(self._index))]
        for first_key, offset, length in self._index:
            parts.append(_U16.pack(len(first_key)) + first_key + _INDEX_ENTRY.pack(offset, length))
        index = b"".join(parts)
        index += _U32.pack(zlib.crc32(index))
        self._buffer += index
        footer = _FOOTER.pack(
            index_offset,
            len(index),
            bloom_offset,
            len(bloom),
            self.entries_count,
            SEGMENT_MAGIC,
            SEGMENT_VERSION,
        )
        self._buffer += footer + _U32.pack(zlib.crc32(footer))
        self._drain()
        self._file.sync()
        self._file.close()
        return self._offset

    def abandon(self) -> None:
        """Close and remove the unfinished file (best effort, after an error)."""
        with contextlib.suppress(OSError):
            self._file.close()
            self._files.remove(self.path)


class Segment:
    """An open, immutable segment file: index and bloom filter in memory, blocks on disk.

    Safe for concurrent readers. The store counts references (``refs``) and closes the file
    only when no version of the store and no reader uses it.
    """

    def __init__(
        self, files: Files, path: str, number: int, tier: int, *, cache: BlockCache | None = None
    ) -> None:
        self.path = path
        self.number = number
        self.tier = tier
        self.refs = 0
        self._cache = cache if cache is not None and cache.bytes_max > 0 else None
        self._cached: dict[int, bytes] = {}
        self._file: ReadableFile = files.open_read(path)
        try:
            self._load()
        except BaseException:
            self._file.close()
            raise
        self._read_at = self._file.read_at

    def _corrupt(self, message: str, offset: int) -> StorageCorruptionError:
        return StorageCorruptionError(message, path=self.path, offset=offset)

    def _load(self) -> None:
        size_bytes = self._file.size()
        self.size_bytes = size_bytes
        if size_bytes < _HEADER_BYTES + _FOOTER_BYTES:
            raise self._corrupt(f"segment file is too short ({size_bytes} bytes)", 0)
        head = self._file.read_at(0, _HEADER_BYTES)
        if zlib.crc32(head[: _HEADER.size]) != _U32.unpack_from(head, _HEADER.size)[0]:
            raise self._corrupt("segment header checksum mismatch", 0)
        magic, version, number = _HEADER.unpack_from(head)
        if magic == SEGMENT_MAGIC and version != SEGMENT_VERSION:
            raise self._corrupt(
                f"segment file format version {version}; this build reads version "
                f"{SEGMENT_VERSION} only (a store written by another build)",
                0,
            )
        if magic != SEGMENT_MAGIC or number != self.number:
            raise self._corrupt("segment header has the wrong magic or number", 0)
        footer_offset = size_bytes - _FOOTER_BYTES
        footer = self._file.read_at(footer_offset, _FOOTER_BYTES)
        if zlib.crc32(footer[: _FOOTER.size]) != _U32.unpack_from(footer, _FOOTER.size)[0]:
            raise self._corrupt("segment footer checksum mismatch", footer_offset)
        (
            index_offset,
            index_length,
            bloom_offset,
            bloom_length,
            self.entries_count,
            magic,
            version,
        ) = _FOOTER.unpack_from(footer)
        if magic != SEGMENT_MAGIC or version != SEGMENT_VERSION:
            raise self._corrupt("segment footer has the wrong magic or version", footer_offset)
        if not (
            bloom_offset >= _HEADER_BYTES
            and bloom_offset + bloom_length == index_offset
            and index_offset + index_length == footer_offset
        ):
            raise self._corrupt("segment footer offsets are inconsistent", footer_offset)
        bloom = self._checked(bloom_offset, bloom_length, "bloom filter")
        words_count, hashes_count = _BLOOM_HEADER.unpack_from(bloom)
        if (
            hashes_count != BLOOM_HASHES_COUNT
            or words_count == 0
            or len(bloom) - 4 - _BLOOM_HEADER.size != words_count * 8
        ):
            raise self._corrupt("bloom filter has the wrong shape", bloom_offset)
        self.bloom_words = _words_from_little_endian(bloom[_BLOOM_HEADER.size : -4])
        """The blocked bloom filter, one 64-bit word per array item (see :func:`bloom_probe`)."""
        index = self._checked(index_offset, index_length, "index")
        (blocks_count,) = _U32.unpack_from(index, 0)
        position = 4
        first_keys: list[bytes] = []
        offsets: list[int] = []
        lengths: list[int] = []
        try:
            for _ in range(blocks_count):
                (key_length,) = _U16.unpack_from(index, position)
                position += 2
                first_keys.append(index[position : position + key_length])
                position += key_length
                offset, length = _INDEX_ENTRY.unpack_from(index, position)
                position += _INDEX_ENTRY.size
                offsets.append(offset)
                lengths.append(length)
        except struct.error:
            raise self._corrupt("index does not decode", index_offset) from None
        if position != len(index) - 4 or first_keys != sorted(first_keys):
            raise self._corrupt("index is malformed", index_offset)
        self._first_keys = first_keys
        # Packed arrays, not lists of ints: 12 bytes per block instead of about 70.
        self._offsets = array("Q", offsets)
        self._lengths = array("I", lengths)
        self.first_sort_key = first_keys[0] if first_keys else None

    def _checked(self, offset: int, length: int, what: str) -> bytes:
        data = self._file.read_at(offset, length)
        if len(data) != length or length < 4:
            raise self._corrupt(f"{what} runs past the end of the file", offset)
        if zlib.crc32(memoryview(data)[:-4]) != _U32.unpack_from(data, length - 4)[0]:
            raise self._corrupt(f"{what} checksum mismatch", offset)
        return data

    def may_contain(self, sort_key: bytes) -> bool:
        """Bloom filter test: ``False`` means the key is certainly not in this segment.

        The store's read path inlines this test with a probe computed once per read.
        """
        selector, mask = bloom_probe(sort_key)
        words = self.bloom_words
        return words[selector % len(words)] & mask == mask

    def _block(self, index: int) -> bytes:
        offset = self._offsets[index]
        length = self._lengths[index]
        block = self._read_at(offset, length)
        # The CRC-32 of data followed by its own CRC (little-endian) is a constant residue,
        # so the whole block is verified without slicing off the stored checksum.
        if len(block) != length or zlib.crc32(block) != CRC32_RESIDUE:
            raise self._corrupt("block checksum mismatch", offset)
        return block

    def get(self, sort_key: bytes) -> Lookup:
        """The record for ``sort_key`` in this segment, or :data:`ABSENT`.

        The bloom filter is the caller's to test first (:meth:`may_contain`): the store
        skips it for the oldest segment, where a key that every newer source missed is
        either present or nowhere.
        """
        index = bisect_right(self._first_keys, sort_key) - 1
        if index < 0:
            return ABSENT
        block = self._cached.get(index)
        if block is None:
            block = self._read_block(index)
        # One function from here on, not a helper per step: this is every read's hot path.
        positions_end = 2 + POSITION_BYTES * _U16.unpack_from(block, 0)[0]
        digest = sort_key[:POSITION_BYTES]
        found = block.find(digest, 2, positions_end)
        while found != -1 and (found - 2) % POSITION_BYTES:
            found = block.find(digest, found + 1, positions_end)
        if found == -1:
            return ABSENT
        key = sort_key[POSITION_BYTES:]
        # Entries with this ring position sit next to each other, ordered by key (an MD5
        # collision between two keys is rare, and can be made on purpose, but is handled).
        # Entry i's position is at 2 + 16 i and its span at positions_end + 12 i.
        while True:
            key_start, value_start, value_end = _SPAN.unpack_from(
                block, positions_end + (found - 2) // 4 * 3
            )
            if block[key_start:value_start] == key:
                if value_end & DELETED_FLAG:
                    return None
                return block[value_start:value_end]
            found += POSITION_BYTES
            if found >= positions_end or block[found : found + POSITION_BYTES] != digest:
                return ABSENT

    def _read_block(self, index: int) -> bytes:
        """Read and verify block ``index``, and offer it to the block cache."""
        offset = self._offsets[index]
        length = self._lengths[index]
        block = self._read_at(offset, length)
        if len(block) != length or zlib.crc32(block) != CRC32_RESIDUE:
            raise self._corrupt("block checksum mismatch", offset)
        if self._cache is not None:
            self._cache.admit(self._cached, index, block)
        return block

    def scan(self, low: bytes, high: bytes | None) -> Iterator[tuple[bytes, bytes | None]]:
        """Records with ``low <= sort key < high`` (``high=None``: to the end), in order."""
        index = max(0, bisect_right(self._first_keys, low) - 1)
        while index < len(self._offsets):
            if high is not None and self._first_keys[index] >= high:
                return
            block = self._block(index)
            (count,) = _U16.unpack_from(block, 0)
            positions_end = 2 + POSITION_BYTES * count
            spans = struct.unpack_from(f"<{3 * count}I", block, positions_end)
            for entry_index in range(count):
                key_start, value_start, value_end = spans[3 * entry_index : 3 * entry_index + 3]
                start = 2 + POSITION_BYTES * entry_index
                sort_key = block[start : start + POSITION_BYTES] + block[key_start:value_start]
                if sort_key < low:
                    continue
                if high is not None and sort_key >= high:
                    return
                if value_end & DELETED_FLAG:
                    yield sort_key, None
                else:
                    yield sort_key, block[value_start:value_end]
            index += 1

    def close(self) -> None:
        """Close the file; only when ``refs`` reached zero."""
        invariant(self.refs == 0, "a segment is closed only when nothing references it")
        if self._cache is not None:
            self._cache.forget(self._cached)
        self._file.close()
