"""Real zip archives of any exact size, generated on the fly and never held in memory.

The sandbox must serve files whose length and MD5 match what its catalogue advertises, at any
size, with ``Range`` support, without storing gigabytes. An archive holds a product's file
tree (:mod:`.safe_layout`): data files are stored members whose bytes are a deterministic
function of their offset; text files are deflated members made from the product name and a
seed, compressed when first needed (a small cache, so many-GB archives cost no memory); the
zip headers around them are computed once.

Exact size: every file gets its real share of the archive, text files at least a well-formed
document naming the product and data files at least one byte; the largest data file (a 10 m
band, a measurement) takes what remains. The rule for small sizes: an archive too small for
its tree's headers and smallest files (:func:`tree_minimum`) holds instead ``manifest.safe``
and one payload, ``measurement/data.bin`` (what every archive held before the trees; staging
benchmarks of 2-4 kB products still use it); below that (:func:`minimum_size`) no archive
can be served at the size advertised.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import itertools
import random
import struct
import zlib
from collections.abc import Iterator, Sequence
from typing import NamedTuple

__all__ = [
    "ArchiveFile",
    "BLOCK",
    "BytesArchive",
    "DEFLATE_FROM",
    "File",
    "minimum_size",
    "tree_minimum",
]

BLOCK = 1 << 16
_NOISE = 1 << 12
_DOS_TIME, _DOS_DATE = 0, (2020 - 1980) << 9 | 1 << 5 | 1
_STORED, _DEFLATED = 0, 8
#: Local header (30) + central header (46) bytes besides the name, written twice.
_PER_MEMBER = 30 + 46
_END = 22
#: (path inside ``<name>.SAFE``, share of a real archive, is text)
File = tuple[str, float, bool]


def _local_header(name: bytes, crc: int, csize: int, size: int, method: int) -> bytes:
    return struct.pack(
        "<IHHHHHIIIHH", 0x04034B50, 20, 0, method, _DOS_TIME, _DOS_DATE, crc, csize, size,
        len(name), 0,
    ) + name  # fmt: skip


def _central_header(
    name: bytes, crc: int, csize: int, size: int, offset: int, method: int
) -> bytes:
    return struct.pack(
        "<IHHHHHHIIIHHHHHII",
        0x02014B50, 20, 20, 0, method, _DOS_TIME, _DOS_DATE, crc, csize, size,
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
    return 2 * _PER_MEMBER + 2 * names + _END + len(_manifest(name))


# -- text members --------------------------------------------------------------------------
@functools.cache
def _filler() -> tuple[bytes, tuple[int, ...]]:
    """64 KiB of XML lines with numbers (deflates about 3 to 1, as real metadata does), and
    where each line starts."""
    rng = random.Random(20180101)
    lines = [
        f'<v n="{i}">{rng.randrange(10**6)} {rng.randrange(10**9)} {rng.random():.9f}</v>\n'
        for i in range(1600)
    ]
    starts = (0, *itertools.accumulate(map(len, lines[:-1])))
    return "".join(lines).encode(), starts


def _text_parts(name: str, path: str) -> tuple[bytes, bytes]:
    return _frame_of(name, path == "manifest.safe")


@functools.lru_cache(maxsize=64)
def _frame_of(name: str, manifest: bool) -> tuple[bytes, bytes]:
    tag = "xfdu:XFDU" if manifest else "sandbox"
    head = f'<?xml version="1.0" encoding="UTF-8"?>\n<{tag} product="{name}">\n'
    return head.encode(), f"</{tag}>\n".encode()


#: Length of the shortest document without the product name (sandbox, manifest).
_FRAME_LENGTH = {
    manifest: sum(map(len, _text_parts("", "manifest.safe" if manifest else "x")))
    for manifest in (False, True)
}


def _shortest(name: str, path: str) -> int:
    """Length of a text member's shortest document."""
    return _FRAME_LENGTH[path == "manifest.safe"] + len(name.encode())


def _text(name: str, path: str, length: int, seed: int) -> bytes:
    """A well-formed document of ``length`` bytes (or the shortest one, if longer)."""
    head, tail = _text_parts(name, path)
    room = length - len(head) - len(tail)
    if room <= 0:
        return head + tail
    filler, starts = _filler()
    first = starts[(zlib.crc32(path.encode()) ^ seed) % len(starts)]
    if first + room <= len(filler):
        body = filler[first : first + room]
    else:
        body = (filler[first:] + filler * (room // len(filler) + 1))[:room]
    cut = body.rfind(b"\n") + 1
    return head + body[:cut] + b" " * (room - cut) + tail


#: Text members from this many bytes are deflated; shorter ones stored (deflate gains little
#: on them, and a catalogue's checksums are computed much faster).
DEFLATE_FROM = 1024


@functools.lru_cache(maxsize=256)
def _deflated(name: str, path: str, length: int, seed: int) -> tuple[int, bytes]:
    """(CRC-32, raw deflate bytes) of a text member: a bounded cache, recomputed when
    evicted (metadata of a multi-GB product is MBs)."""
    data = _text(name, path, length, seed)
    return zlib.crc32(data), zlib.compress(data, 6, wbits=-15)


def tree_minimum(name: str, files: Sequence[File]) -> int:
    """The smallest archive holding ``files`` (every text at its shortest, data 1 byte)."""
    total = _END
    for path, _, text in files:
        total += _PER_MEMBER + 2 * len(f"{name}.SAFE/{path}".encode())
        total += _shortest(name, path) if text else 1
    return total


# -- the archive ---------------------------------------------------------------------------
class _Member(NamedTuple):
    path: str
    size: int  # uncompressed
    text: bool
    #: Stored bytes kept: a text member shorter than :data:`DEFLATE_FROM`, or the minimal
    #: layout's manifest (data members are generated, long texts deflated on demand).
    held: bytes | None = None
    deflated: bool = False
    phase: int = 0  # where a data member's bytes start in the noise block


class _Part(NamedTuple):
    """A run of the file: bytes held (headers, short texts), or a member's generated bytes."""

    start: int
    end: int
    held: bytes | None
    member: _Member | None


class ArchiveFile:
    """A zip ``<name>.zip`` holding ``<name>.SAFE/...``: the tree ``files`` when ``size``
    allows it, else ``manifest.safe`` and a payload, exactly ``size`` bytes long.

    Raises:
        ValueError: ``size`` is below :func:`minimum_size` (the bytes served would not be the
            size advertised).
    """

    def __init__(
        self, name: str, size: int, seed: int, files: Sequence[File] | None = None
    ) -> None:
        overhead = minimum_size(name)
        if size < overhead:
            raise ValueError(f"archive {name}: {size} bytes is below its minimum of {overhead}")
        self.name = name
        self.seed = seed
        self.size = size
        smallest = tree_minimum(name, files) if files else size + 1
        if files and size >= smallest:
            self.members = _tree_members(name, size, seed, files, smallest)
        else:
            manifest_name, payload_name = (n.decode() for n in _member_names(name))
            manifest = _manifest(name)
            self.members = (
                _Member(manifest_name.split("/", 1)[1], len(manifest), False, held=manifest),
                _Member(payload_name.split("/", 1)[1], size - overhead, False),
            )

    @functools.cached_property
    def _block(self) -> bytes:
        """Up to 64 KiB of payload: 4 KiB of seeded noise repeated (drawing 64 KiB of random
        bytes per product was most of the time spent checksumming a whole catalogue); no
        more than the largest data member needs, so 100,000 tiny archives stay small."""
        largest = max((m.size for m in self.members if m.held is None), default=1)
        repeats = min(BLOCK, max(largest, 1) + _NOISE - 1) // _NOISE
        return random.Random(self.seed).randbytes(_NOISE) * repeats

    def _payload(self, phase: int, start: int, end: int) -> Iterator[bytes]:
        block = self._block
        period = len(block)
        pos = start + phase
        end += phase
        while pos < end:
            offset = pos % period
            take = min(period - offset, end - pos)
            yield block[offset : offset + take]
            pos += take

    def _data(self, member: _Member, start: int, end: int) -> Iterator[bytes]:
        """Bytes ``[start, end)`` of a member as stored in the zip."""
        if member.deflated:
            yield _deflated(self.name, member.path, member.size, self.seed)[1][start:end]
        elif member.held is not None:
            yield member.held[start:end]
        else:
            yield from self._payload(member.phase, start, end)

    def _stored(self, member: _Member) -> tuple[int, int, int]:
        """(CRC-32, bytes in the zip, method) of a member."""
        if member.deflated:
            crc, data = _deflated(self.name, member.path, member.size, self.seed)
            return crc, len(data), _DEFLATED
        if member.held is not None:
            return zlib.crc32(member.held), member.size, _STORED
        block = self._block
        if member.phase % len(block) + member.size <= len(block):
            start = member.phase % len(block)
            return zlib.crc32(block[start : start + member.size]), member.size, _STORED
        crc = 0
        for chunk in self._data(member, 0, member.size):
            crc = zlib.crc32(chunk, crc)
        return crc, member.size, _STORED

    @functools.cached_property
    def _parts(self) -> tuple[tuple[int, ...], tuple[_Part, ...]]:
        """The file as runs, and where each starts: adjacent held bytes (headers, short
        texts, the directory) are one run, each generated member another."""
        parts: list[_Part] = []
        directory: list[bytes] = []
        held: list[bytes] = []
        pos = start = 0
        for member in self.members:
            name = f"{self.name}.SAFE/{member.path}".encode()
            crc, csize, method = self._stored(member)
            held.append(_local_header(name, crc, csize, member.size, method))
            directory.append(_central_header(name, crc, csize, member.size, pos, method))
            pos += len(held[-1])
            if member.held is not None:
                held.append(member.held)
            else:
                parts.append(_Part(start, pos, b"".join(held), None))
                parts.append(_Part(pos, pos + csize, None, member))
                held, start = [], pos + csize
            pos += csize
        cd = b"".join(directory)
        held += [cd, _end_record(len(self.members), len(cd), pos)]
        parts.append(_Part(start, pos + len(cd) + 22, b"".join(held), None))
        if parts[-1].end != self.size:  # a bug in the plan, never a short or long file
            raise AssertionError(f"{self.name}: {parts[-1].end} bytes, not {self.size}")
        return tuple(p.start for p in parts), tuple(parts)

    @functools.cached_property
    def md5(self) -> str:
        digest = hashlib.md5(usedforsecurity=False)
        pending: list[bytes] = []
        held = 0
        for chunk in self.iter_bytes():  # small runs (headers) hashed together: fewer calls
            pending.append(chunk)
            held += len(chunk)
            if held >= BLOCK:
                digest.update(b"".join(pending))
                pending, held = [], 0
        digest.update(b"".join(pending))
        return digest.hexdigest()

    def iter_bytes(self, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Bytes ``[start, end)`` of the file, in chunks of at most 64 KiB."""
        end = self.size if end is None else min(end, self.size)
        starts, parts = self._parts
        index = max(0, bisect.bisect_right(starts, start) - 1)
        while index < len(parts) and parts[index].start < end:
            part = parts[index]
            lo, hi = max(start, part.start) - part.start, min(end, part.end) - part.start
            if lo < hi:
                if part.held is not None:
                    yield part.held[lo:hi]
                elif part.member is not None:
                    yield from self._data(part.member, lo, hi)
            index += 1


def _tree_members(
    name: str, size: int, seed: int, files: Sequence[File], smallest: int
) -> tuple[_Member, ...]:
    """Every file at its share of what the smallest tree leaves (texts deflated beyond their
    shortest document); the largest data file takes the rest, or everything beyond the
    smallest tree when the deflated texts do not leave it a byte (small sizes)."""
    extra = size - smallest
    total = sum(share for _, share, _ in files)
    largest = max(
        (i for i, (_, _, text) in enumerate(files) if not text), key=lambda i: files[i][1]
    )
    least = [_shortest(name, path) if text else 1 for path, _, text in files]
    lengths = [
        n + int(extra * share / total) for n, (_, share, _) in zip(least, files, strict=True)
    ]
    deflate = [text and n >= DEFLATE_FROM for n, (_, _, text) in zip(lengths, files, strict=True)]
    grown = 0
    for i, (path, _, _) in enumerate(files):
        if i != largest:
            stored = len(_deflated(name, path, lengths[i], seed)[1]) if deflate[i] else lengths[i]
            grown += stored - least[i]
    lengths[largest] = least[largest] + extra - grown
    if lengths[largest] < 1:  # every other file at its smallest: the rest is >= 1 byte
        lengths, deflate = [*least], [False] * len(files)
        lengths[largest] += extra
    return tuple(
        _Member(path, n, True, None, True)
        if d
        else _Member(path, n, True, _text(name, path, n, seed))
        if text
        else _Member(path, n, False, phase=(i * 1031) % _NOISE)
        for i, ((path, _, text), n, d) in enumerate(zip(files, lengths, deflate, strict=True))
    )


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
