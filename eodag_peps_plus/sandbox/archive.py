"""Real zip archives of any exact size, generated on the fly and never held in memory.

The sandbox must serve files whose length and MD5 match what its catalogue advertises, at any
size, with ``Range`` support, without storing gigabytes: payload bytes are a deterministic
function of their offset, and the zip headers around them are computed once.
"""

from __future__ import annotations

import functools
import hashlib
import random
import struct
import zlib
from collections.abc import Iterator

__all__ = ["ArchiveFile", "BLOCK", "BytesArchive", "minimum_size"]

BLOCK = 1 << 16
_NOISE = 1 << 12
_DOS_TIME, _DOS_DATE = 0, (2020 - 1980) << 9 | 1 << 5 | 1


def _local_header(name: bytes, crc: int, size: int) -> bytes:
    return (
        struct.pack(
            "<IHHHHHIIIHH",
            0x04034B50,
            20,
            0,
            0,
            _DOS_TIME,
            _DOS_DATE,
            crc,
            size,
            size,
            len(name),
            0,
        )
        + name
    )


def _central_header(name: bytes, crc: int, size: int, offset: int) -> bytes:
    return struct.pack(
        "<IHHHHHHIIIHHHHHII",
        0x02014B50, 20, 20, 0, 0, _DOS_TIME, _DOS_DATE, crc, size, size,
        len(name), 0, 0, 0, 0, 0o100644 << 16, offset,
    ) + name  # fmt: skip


def _end_record(count: int, cd_size: int, cd_offset: int) -> bytes:
    return struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, cd_size, cd_offset, 0)


def _member_names(name: str) -> tuple[bytes, bytes]:
    return f"{name}.SAFE/manifest.safe".encode(), f"{name}.SAFE/measurement/data.bin".encode()


def _manifest(name: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<xfdu:XFDU xmlns:xfdu="urn:ccsds:schema:xfdu:1" version="sandbox">'
        f"<metadataSection><productName>{name}</productName></metadataSection></xfdu:XFDU>\n"
    ).encode()


def minimum_size(name: str) -> int:
    """The smallest archive of ``name``: zip headers and manifest with an empty payload.

    Catalogues must advertise at least this: a smaller size cannot be served as announced.
    """
    manifest_name, payload_name = _member_names(name)
    names = len(manifest_name) + len(payload_name)
    return 2 * 30 + 2 * 46 + 2 * names + 22 + len(_manifest(name))


class ArchiveFile:
    """A stored (uncompressed) zip ``<name>.zip`` holding ``<name>.SAFE/manifest.safe`` and a
    payload, exactly ``size`` bytes long.

    Raises:
        ValueError: ``size`` is below :func:`minimum_size` (the bytes served would not be the
            size advertised).
    """

    def __init__(self, name: str, size: int, seed: int) -> None:
        overhead = minimum_size(name)
        if size < overhead:
            raise ValueError(f"archive {name}: {size} bytes is below its minimum of {overhead}")
        self.name = name
        self.seed = seed
        self._manifest_name, self._payload_name = _member_names(name)
        self.manifest = _manifest(name)
        self.size = size
        self.payload_size = size - overhead

    @functools.cached_property
    def _block(self) -> bytes:
        """Up to 64 KiB of payload: 4 KiB of seeded noise repeated (drawing 64 KiB of random
        bytes per product was most of the time spent checksumming a whole catalogue); no
        more than the payload needs, so 100,000 tiny archives stay small in memory."""
        repeats = min(BLOCK, max(self.payload_size, 1) + _NOISE - 1) // _NOISE
        return random.Random(self.seed).randbytes(_NOISE) * repeats

    def _payload(self, start: int, end: int) -> Iterator[bytes]:
        block = self._block
        period = len(block)
        pos = start
        while pos < end:
            offset = pos % period
            take = min(period - offset, end - pos)
            yield block[offset : offset + take]
            pos += take

    @functools.cached_property
    def _payload_crc(self) -> int:
        crc = 0
        for chunk in self._payload(0, self.payload_size):
            crc = zlib.crc32(chunk, crc)
        return crc

    @functools.cached_property
    def _frame(self) -> tuple[bytes, bytes]:
        """Bytes before and after the payload."""
        mcrc = zlib.crc32(self.manifest)
        head1 = _local_header(self._manifest_name, mcrc, len(self.manifest)) + self.manifest
        head2 = _local_header(self._payload_name, self._payload_crc, self.payload_size)
        prefix = head1 + head2
        cd = _central_header(self._manifest_name, mcrc, len(self.manifest), 0)
        cd += _central_header(self._payload_name, self._payload_crc, self.payload_size, len(head1))
        cd_offset = len(prefix) + self.payload_size
        suffix = cd + _end_record(2, len(cd), cd_offset)
        return prefix, suffix

    @functools.cached_property
    def md5(self) -> str:
        digest = hashlib.md5(usedforsecurity=False)
        for chunk in self.iter_bytes():
            digest.update(chunk)
        return digest.hexdigest()

    def iter_bytes(self, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Bytes ``[start, end)`` of the file, in chunks of at most 64 KiB."""
        end = self.size if end is None else min(end, self.size)
        prefix, suffix = self._frame
        payload_start = len(prefix)
        payload_end = payload_start + self.payload_size
        if start < payload_start:
            yield prefix[start : min(end, payload_start)]
        lo, hi = max(start, payload_start), min(end, payload_end)
        if lo < hi:
            yield from self._payload(lo - payload_start, hi - payload_start)
        if end > payload_end:
            yield suffix[max(start, payload_end) - payload_end : end - payload_end]


class BytesArchive:
    """An archive given as bytes (a hand-made zip: zip64, lying directories...), served like
    the generated ones."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.size = len(data)
        self.md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()

    def iter_bytes(self, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        end = self.size if end is None else min(end, self.size)
        for pos in range(start, end, BLOCK):
            yield self.data[pos : min(end, pos + BLOCK)]
