"""The manifest: which segment files are live, and which WAL files still need replaying.

Flushes and compactions change the set of segment files; the manifest records the result as
one small file replaced atomically (write ``MANIFEST.tmp``, ``fdatasync``, rename over
``MANIFEST``, sync the directory). A crash leaves either the old or the new manifest, never a
mix; files the surviving manifest does not name are leftovers of an interrupted flush or
compaction and are deleted on open.

Format: ``DKVMANIFEST 1 <crc32 hex>\\n`` followed by a JSON body (readable with ``cat``,
which helps when teaching recovery).
"""

from __future__ import annotations

import contextlib
import json
import zlib
from dataclasses import dataclass

from ._errors import StorageCorruptionError
from ._files import Files

MANIFEST_NAME = "MANIFEST"
MANIFEST_TEMPORARY_NAME = "MANIFEST.tmp"
_MAGIC = "DKVMANIFEST 1 "


@dataclass(frozen=True)
class Manifest:
    """Durable store metadata.

    Attributes:
        segments: ``(number, tier)`` of every live segment, newest first.
        wal_number_min: The oldest WAL file whose records are not yet in a segment.
        file_number_next: The next unused segment number.
    """

    segments: tuple[tuple[int, int], ...]
    wal_number_min: int
    file_number_next: int

    def encode(self) -> bytes:
        """The file content."""
        body = json.dumps(
            {
                "segments": [[number, tier] for number, tier in self.segments],
                "wal_number_min": self.wal_number_min,
                "file_number_next": self.file_number_next,
            },
            sort_keys=True,
        ).encode()
        return f"{_MAGIC}{zlib.crc32(body):08x}\n".encode() + body

    @classmethod
    def decode(cls, data: bytes, *, path: str) -> Manifest:
        """Parse and verify a manifest file's content."""
        head, _, body = data.partition(b"\n")
        try:
            text = head.decode()
            if not text.startswith(_MAGIC) or int(text[len(_MAGIC) :], 16) != zlib.crc32(body):
                raise ValueError("bad magic or checksum")
            fields = json.loads(body)
            segments = tuple((int(number), int(tier)) for number, tier in fields["segments"])
            manifest = cls(segments, int(fields["wal_number_min"]), int(fields["file_number_next"]))
        except (ValueError, KeyError, TypeError) as error:
            raise StorageCorruptionError(
                f"manifest is damaged ({error})", path=path, offset=0
            ) from None
        return manifest


def write_manifest(files: Files, directory: str, manifest: Manifest) -> None:
    """Replace the manifest atomically and durably.

    Raises:
        OSError: If anything before the rename failed, the old manifest is still in effect.
            If the final directory sync failed, the new one may or may not survive a crash;
            the caller treats that like a failed ``fsync``.
    """
    temporary = f"{directory}/{MANIFEST_TEMPORARY_NAME}"
    if files.exists(temporary):
        files.remove(temporary)
    file = files.create(temporary)
    try:
        file.write(manifest.encode())
        file.sync()
    except OSError:
        file.close()
        with contextlib.suppress(OSError):
            files.remove(temporary)
        raise
    file.close()
    files.rename(temporary, f"{directory}/{MANIFEST_NAME}")
    files.sync_directory(directory)


def read_manifest(files: Files, directory: str) -> Manifest | None:
    """The manifest, or ``None`` for a directory that holds no store yet."""
    path = f"{directory}/{MANIFEST_NAME}"
    if not files.exists(path):
        return None
    return Manifest.decode(files.read_all(path), path=path)
