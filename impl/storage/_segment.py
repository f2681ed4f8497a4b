"""Immutable sorted segment files: what a memtable becomes when it is flushed.

A segment holds records sorted by sort key (ring position, then key; see :mod:`._format`),
cut into blocks of about ``block_bytes_target`` bytes, each with its own CRC-32. An index
(the first sort key of every block) and a bloom filter live at the end of the file and are
loaded on open; a point read of a block not yet cached costs one bisect, one ``pread``, one
checksum and one decode of the block. Memory per segment is the index and the bloom filter,
about 40 bytes per block plus 10 bits per key, so two million keys never sit in RAM.

Layout::

    header   magic "DKVSEG" | version u16 | segment number u64 | crc32 u32
    block*   records | crc32 u32 (of the records)
    records  a MessagePack array: sort key, value, sort key, value... (each a bin; a
             delete marker's value is nil)
    bloom    word count u64 | hash count u32 | words (u64 each) | crc32 u32
    index    block count u32 | per block: sort key length u16 | sort key | offset u64 |
             length u32 | crc32 u32
    footer   index offset u64 | index length u32 | bloom offset u64 | bloom length u32 |
             entry count u64 | magic "DKVSEG" | version u16 | crc32 u32

A block is MessagePack so that decoding it is one call in C (about 1 µs for a 2 KiB block
of 15 records, against 5 µs for the same records sliced out of a packed layout in Python):
a point read decodes every block it reads, once, and keeps it decoded.

**The bloom filter is blocked**: a key sets (and a read tests) four bits of one 64-bit word,
the word chosen by the first 8 bytes of the key's MD5 position and the four bits by the next
24 (see :func:`bloom_probe`). The probe is computed once per read and tested against every
segment with one index, one ``&`` and one compare, about 0.1 µs in Python, where four
probes spread over the whole filter cost about 0.6 µs per segment. With 10 bits per key the
false-positive rate is about 2 % instead of 1.2 % (a 64-bit word holds about six keys, and
some words more), the price of one cheap test per segment.

**The block cache keeps blocks decoded.** A block is verified (CRC) and decoded when it is
read from the file; the store's :class:`BlockCache` then keeps its records in the segment's
dict :attr:`Segment.records`, so that a warm point read of the segment is one dict lookup:
no ``pread``, no checksum (RocksDB's block cache too verifies a block when it loads it, not
on every hit), no bisect of the index and no search in the block. Hits take no lock. The
cache evicts whole blocks, oldest first (FIFO, counted in bytes of memory: with random reads
that hits about as often as LRU), and knows when a segment has every block cached, so that
a miss there settles the read without the bloom filter (:attr:`Segment.complete_epoch`).
Range scans (compaction) bypass it. The blocks of a segment that a compaction replaced
leave the cache when the segment is closed. A decoded record costs about twice its bytes
in a raw block (two Python ``bytes`` objects and a dict slot), which the bound counts.
"""

from __future__ import annotations

import contextlib
import struct
import sys
import threading
import zlib
from array import array
from bisect import bisect_left, bisect_right
from collections import deque
from collections.abc import Iterable, Iterator
from typing import Final

import msgpack
from dynamokv.spec.errors import invariant

from ._errors import StorageCorruptionError, StorageError
from ._files import Files, ReadableFile, WritableFile

SEGMENT_MAGIC = b"DKVSEG"
SEGMENT_VERSION = 3
_HEADER = struct.Struct("<6sHQ")
_HEADER_BYTES = _HEADER.size + 4
_FOOTER = struct.Struct("<QIQIQ6sH")
_FOOTER_BYTES = _FOOTER.size + 4
_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_INDEX_ENTRY = struct.Struct("<QI")
_BLOOM_HEADER = struct.Struct("<QI")
_WRITE_BUFFER_BYTES = 1 << 20

SCAN_READ_BYTES = 256 * 1024
"""Bytes of adjacent blocks a scan reads at once (see ``Segment._blocks``)."""

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


class Absent:
    """Type of :data:`ABSENT`."""


ABSENT: Final = Absent()
"""A lookup result: this source knows nothing about the key (look in older sources)."""

Lookup = bytes | None | Absent
"""``bytes`` (a value), ``None`` (a delete marker) or :data:`ABSENT`."""


def decode_block(block: bytes | memoryview) -> tuple[tuple[bytes, ...], list[bytes | None]]:
    """A verified block's sort keys (ascending) and values (``None``: a delete marker).

    The one reader of the block layout: point reads decode a block once and keep it decoded
    (:class:`BlockCache`), scans decode each block they pass. The checksum was verified
    before, so a block that does not decode was written wrong, not damaged on disk; it is
    reported as corruption all the same.
    """
    try:
        items = msgpack.unpackb(memoryview(block)[:-4])
    except (ValueError, TypeError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError):
        items = None
    if type(items) is not list or len(items) % 2 or not items:
        raise ValueError("block does not decode")
    return tuple(items[0::2]), items[1::2]


def decoded_charge(block: bytes, records_count: int) -> int:
    """What block ``block`` costs the cache once decoded into ``records_count`` records.

    Counted from the block's length rather than record by record (the block holds each
    sort key and value once, plus a few bytes of framing): see
    :data:`DECODED_RECORD_OVERHEAD_BYTES` and :data:`DECODED_BLOCK_OVERHEAD_BYTES`.
    """
    return len(block) + records_count * DECODED_RECORD_OVERHEAD_BYTES + DECODED_BLOCK_OVERHEAD_BYTES


def segment_name(number: int) -> str:
    """File name of segment ``number``."""
    return f"segment-{number:010d}.dkv"


def parse_segment_name(name: str) -> int | None:
    """The number in a segment file name, or ``None`` for other names."""
    if name.startswith("segment-") and name.endswith(".dkv") and name[8:-4].isdigit():
        return int(name[8:-4])
    return None


COMPLETION_GAP_FRACTION = 0.02
"""A segment with at most this fraction of its blocks uncached gets them read too."""

DECODED_RECORD_OVERHEAD_BYTES = 128
"""Memory a decoded record costs beyond its share of the block's bytes: two ``bytes``
objects' headers and rounding (about 80 bytes), its slot in the segment's record dict
(about 40 bytes, amortized over the dict's free slots) and in its block's key tuple (8)."""

DECODED_BLOCK_OVERHEAD_BYTES = 320
"""Memory a decoded block costs besides its records: its key tuple, its entry in the
segment's block dict and in the cache's eviction order. Both constants were measured with
``tracemalloc``; a test keeps the charge within a quarter of what the cache allocates."""


class BlockCache:
    """Decoded segment blocks of one store, bounded by ``bytes_max`` (see the module docstring).

    Each segment keeps the records of its cached blocks in one dict (:attr:`Segment.records`)
    and which blocks those are (``block index -> (sort keys, charge)``); this object bounds
    their total, counted as memory (:data:`DECODED_RECORD_OVERHEAD_BYTES`), and evicts whole
    blocks in the order they came in. Admission, eviction and the question "is this block
    cached" take :attr:`lock`; a hit in a segment's record dict takes none (a segment is
    immutable, so a record found there is right even while its block is being evicted).

    Args:
        bytes_max: the bound; 0 turns caching off.
    """

    def __init__(self, bytes_max: int) -> None:
        self.bytes_max = bytes_max
        self.bytes = 0
        self._order: deque[tuple[Segment, int]] = deque()
        self._epoch = 0
        self.lock = threading.Lock()

    def admit(
        self,
        segment: Segment,
        index: int,
        sort_keys: tuple[bytes, ...],
        values: list[bytes | None],
        charge: int,
    ) -> None:
        """Cache block ``index`` of ``segment`` (just read, verified and decoded)."""
        if charge > self.bytes_max:
            return
        with self.lock:
            blocks = segment.cached_blocks
            if index in blocks or segment.closed:
                return
            # Records first, then the block's entry: whoever sees the entry (under the lock)
            # finds every record of the block.
            segment.records.update(zip(sort_keys, values, strict=True))
            blocks[index] = (sort_keys, charge)
            if len(blocks) == segment.blocks_count:
                self._epoch += 1
                segment.complete_epoch = self._epoch
            self._order.append((segment, index))
            self.bytes += charge
            order = self._order
            while self.bytes > self.bytes_max and order:
                evicted_segment, evicted_index = order.popleft()
                self._drop(evicted_segment, evicted_index)

    def _drop(self, segment: Segment, index: int) -> None:
        entry = segment.cached_blocks.pop(index, None)
        if entry is None:
            return  # the segment was closed (forgotten) since
        sort_keys, charge = entry
        segment.complete_epoch = 0  # before any record leaves: see Segment.complete_epoch
        pop = segment.records.pop
        for sort_key in sort_keys:
            pop(sort_key, None)
        self.bytes -= charge

    def forget(self, segment: Segment) -> None:
        """A segment is closed: its blocks leave the cache."""
        with self.lock:
            self.bytes -= sum(charge for _, charge in segment.cached_blocks.values())
            segment.closed = True
            segment.complete_epoch = 0
            segment.cached_blocks.clear()
            segment.records.clear()


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
        self._block_items: list[bytes | None] = []  # sort key, value, sort key, value...
        self._pack = msgpack.Packer(use_bin_type=True).pack  # one per writer: not thread-safe
        self._block_bytes = 0
        self._last_sort_key: bytes | None = None
        self.entries_count = 0

    def add(self, sort_key: bytes, value: bytes | None) -> None:
        """Append one record; sort keys must strictly increase (see :meth:`add_all`)."""
        self.add_all(((sort_key, value),))

    def add_all(self, records: Iterable[tuple[bytes, bytes | None]]) -> int:
        """Append ``records`` in order; sort keys must strictly increase. Returns their count.

        Every flushed and compacted record passes here, so the writer's state lives in
        locals for the length of the loop: one call per run of records, not one per record.
        """
        last = self._last_sort_key
        items = self._block_items
        block_bytes = self._block_bytes
        block_bytes_target = self._block_bytes_target
        words = self._bloom_words
        words_count = len(words)
        count = 0
        for sort_key, value in records:
            if last is not None and sort_key <= last:
                invariant(
                    False, "segment records must be added in strictly increasing sort-key order"
                )
            last = sort_key
            if not items:
                self._block_first_key = sort_key
            items += (sort_key, value)
            block_bytes += len(sort_key) + (len(value) if value is not None else 0)
            selector, mask = bloom_probe(sort_key)
            words[selector % words_count] |= mask
            count += 1
            if block_bytes >= block_bytes_target or len(items) >= 2 * BLOCK_ENTRIES_MAX:
                self._finish_block()
                items = self._block_items
                block_bytes = 0
        self._last_sort_key = last
        self._block_bytes = block_bytes
        self.entries_count += count
        return count

    def _finish_block(self) -> None:
        items = self._block_items
        if not items:
            return
        body = self._pack(items)
        buffer = self._buffer
        self._index.append((self._block_first_key, self._offset + len(buffer), len(body) + 4))
        buffer += body
        buffer += _U32.pack(zlib.crc32(body))
        self._block_items = []
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
        self.records: dict[bytes, bytes | None] = {}
        """Every record of this segment's cached blocks, by sort key (``None``: a delete
        marker). A hit here is a whole point read of this segment: the store's read path
        probes it inline."""
        self.cached_blocks: dict[int, tuple[tuple[bytes, ...], int]] = {}
        """The cached blocks: ``index -> (their sort keys, their charge in bytes)``."""
        self.complete_epoch = 0
        """Non-zero while every block of the segment is cached, a new number each time that
        becomes true (:class:`BlockCache`): a reader that finds the same non-zero number
        before and after a miss in :attr:`records` knows the key is not in the segment."""
        self.closed = False
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
        self.blocks_count = blocks_count
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

    def _decoded(self, index: int) -> tuple[tuple[bytes, ...], list[bytes | None], int]:
        """Read, verify and decode block ``index``: its sort keys, values and cache charge."""
        offset = self._offsets[index]
        length = self._lengths[index]
        block = self._read_at(offset, length)
        if len(block) != length:
            raise self._corrupt("block checksum mismatch", offset)
        sort_keys, values = self._verified(block, offset)
        return sort_keys, values, decoded_charge(block, len(sort_keys))

    def _verified(
        self, block: bytes | memoryview, offset: int
    ) -> tuple[tuple[bytes, ...], list[bytes | None]]:
        """Verify and decode the block read from ``offset``: its sort keys and values."""
        # The CRC-32 of data followed by its own CRC (little-endian) is a constant residue,
        # so the whole block is verified without slicing off the stored checksum.
        if zlib.crc32(block) != CRC32_RESIDUE:
            raise self._corrupt("block checksum mismatch", offset)
        try:
            return decode_block(block)
        except ValueError:
            raise self._corrupt("block does not decode", offset) from None

    def _blocks(
        self, start: int, end: int
    ) -> Iterator[tuple[tuple[bytes, ...], list[bytes | None]]]:
        """Blocks ``start``..``end - 1``, verified and decoded, in order.

        Adjacent blocks are read together, up to :data:`SCAN_READ_BYTES` per read: a scan
        of a whole segment (a compaction) makes one read per run of blocks instead of one
        per block of a few records.
        """
        offsets = self._offsets
        lengths = self._lengths
        index = start
        while index < end:
            run_offset = offsets[index]
            run_end = index + 1
            run_bytes = lengths[index]
            while (
                run_end < end
                and run_bytes < SCAN_READ_BYTES
                and offsets[run_end] == run_offset + run_bytes
            ):
                run_bytes += lengths[run_end]
                run_end += 1
            data = self._read_at(run_offset, run_bytes)
            if len(data) != run_bytes:
                raise self._corrupt("block checksum mismatch", run_offset + len(data))
            view = memoryview(data)
            position = 0
            for block_index in range(index, run_end):
                length = lengths[block_index]
                yield self._verified(view[position : position + length], offsets[block_index])
                position += length
            index = run_end

    def get(self, sort_key: bytes) -> Lookup:
        """The record for ``sort_key`` in this segment, or :data:`ABSENT`.

        The bloom filter is the caller's to test first (:meth:`may_contain`): the store
        skips it for the oldest segment, where a key that every newer source missed is
        either present or nowhere. A block read here is decoded and offered to the cache.
        """
        found = self.records.get(sort_key, ABSENT)
        if found is not ABSENT:
            return found
        index = bisect_right(self._first_keys, sort_key) - 1
        if index < 0:
            return ABSENT
        cache = self._cache
        if cache is not None:
            with cache.lock:
                if index in self.cached_blocks:  # cached, so the key is not in this segment
                    return self.records.get(sort_key, ABSENT)
        sort_keys, values, charge = self._decoded(index)
        if cache is not None:
            cache.admit(self, index, sort_keys, values, charge)
            self._complete_if_nearly(cache)
        position = bisect_left(sort_keys, sort_key)
        if position < len(sort_keys) and sort_keys[position] == sort_key:
            return values[position]
        return ABSENT

    def _complete_if_nearly(self, cache: BlockCache) -> None:
        """Read the last few uncached blocks of a segment that is almost wholly cached.

        Once every block is cached, a miss in :attr:`records` settles a read without the
        bloom filter (:attr:`complete_epoch`). Reads of random keys leave a few blocks of a
        hot segment untouched for long (each block is read once its first key is asked
        for), so a segment that lacks at most :data:`COMPLETION_GAP_FRACTION` of its
        blocks has them read too, when the cache has room for them. Best effort: a block
        that fails to read is left to the read that needs it.
        """
        blocks = self.cached_blocks
        missing = self.blocks_count - len(blocks)
        if not 0 < missing <= self.blocks_count * COMPLETION_GAP_FRACTION:
            return
        charge_per_block = sum(charge for _, charge in blocks.values()) / len(blocks)
        if cache.bytes + missing * charge_per_block > cache.bytes_max:
            return
        for index in range(self.blocks_count):
            if index not in blocks:
                try:
                    sort_keys, values, charge = self._decoded(index)
                except (OSError, StorageError):
                    return
                cache.admit(self, index, sort_keys, values, charge)

    def scan(self, low: bytes, high: bytes | None) -> Iterator[tuple[bytes, bytes | None]]:
        """Records with ``low <= sort key < high`` (``high=None``: to the end), in order.

        Scans (compaction, anti-entropy, transfers) decode the blocks they pass and leave
        the cache alone.
        """
        first_keys = self._first_keys
        start = max(0, bisect_right(first_keys, low) - 1)
        end = len(first_keys) if high is None else bisect_left(first_keys, high)
        for sort_keys, values in self._blocks(start, end):
            if sort_keys[0] >= low and (high is None or sort_keys[-1] < high):
                yield from zip(sort_keys, values, strict=True)  # the whole block is in range
                continue
            for sort_key, value in zip(sort_keys, values, strict=True):
                if sort_key < low:
                    continue
                if high is not None and sort_key >= high:
                    return
                yield sort_key, value

    def close(self) -> None:
        """Close the file; only when ``refs`` reached zero."""
        invariant(self.refs == 0, "a segment is closed only when nothing references it")
        if self._cache is not None:
            self._cache.forget(self)
        self.closed = True
        self._file.close()
