"""Members of a remote zip: only the bytes asked for, verified like whole archives.

A Sentinel archive is a zip whose central directory, at its end, lists every member with its
offset, sizes and CRC-32. One range request reads that directory, then one range request per
run of adjacent selected members reads their local headers and data, nothing else. The
requests go through the archive's own session (:meth:`Archive.open_download`, origin-bound,
with the reply classifier, head deadline and stall guard of whole transfers), and the outcome
is a :class:`~.transfer.TransferResult` the scheduler retries or settles like any other, so a
bad member fails its product alone.

Every member is checked against its directory entry (local header name, sizes, CRC-32) and
reaches its final name only by an atomic rename, then is recorded in the ledger
(:class:`~.ledger.MemberBook`): a run killed in the middle of a selection continues member by
member (on a cluster, whose workers never open the ledger, the scheduler records them from
the attempt's result: a kill in the middle of an attempt leaves them to the CRC rule below).
On the next run a member is not fetched again when

* the ledger recorded it with the directory's CRC-32 and size, and the file still has that
  size and the modification time recorded: trusted without reading it;
* else, a file of the right size whose CRC-32 matches the directory's (read from the local
  disk, far cheaper than fetching it again; CRC-32 catches truncation, torn writes and bit
  rot, which is what a killed run or a bad disk leaves, though not a file forged on purpose
  by someone who can already write the user's folder), then recorded.

Anything else is fetched again. Names follow the extraction rule: a member path that would
leave the output folder fails the product.
"""

from __future__ import annotations

import dataclasses
import glob
import os
import re
import stat
import struct
import threading
import time
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import requests

from ..exceptions import ConfigurationError, DownloadError
from ..http_io import head_deadline, iter_body
from ..logs import get_logger
from .extract import check_expansion
from .file_names import name_problem
from .ledger import MemberBook, MemberRecord
from .report import MEMBER_CHECK
from .storage import BINARY, O_NOFOLLOW, open_output
from .transfer import (
    NETWORK_ERRORS,
    STALL_ERRORS,
    Outcome,
    StallGuard,
    TransferJob,
    TransferResult,
    classify_reply,
    set_read_timeout,
    strong_validator,
)

logger = get_logger(__name__)

__all__ = [
    "GROUPS",
    "Member",
    "MemberFetch",
    "member_pattern",
    "on_disk",
    "parse_directory",
    "select",
]

#: The end of the archive read first when nothing is known of its kind of product: the end
#: record, and small directories with it; a longer directory (a Sentinel-2 L1C's ~150
#: members, ~25 KB) takes one more read of exactly the rest, so only a shorter one costs bytes.
TAIL_READ = 16 * 1024
#: Bytes added to the directory an archive of the same kind had (:class:`_TailSizes`).
TAIL_SLACK = 512
#: The longest first read a learned size asks for (a directory longer still: two reads).
TAIL_MAX = 64 * 1024
#: Seconds an archive's first read waits for another of its kind to learn its length.
LEARN_WAIT = 2.0
#: Most members a directory may list (real products have a few hundred).
MAX_MEMBERS = 200_000
_EOCD = struct.Struct("<IHHHHIIH")
_LOCATOR = struct.Struct("<IIQI")
_EOCD64 = struct.Struct("<IQHHIIQQQQ")
_CENTRAL = struct.Struct("<IHHHHHHIIIHHHHHII")
_LOCAL = struct.Struct("<IHHHHHIIIHH")
_EOCD_SIG, _LOCATOR_SIG, _EOCD64_SIG = 0x06054B50, 0x07064B50, 0x06064B50
_CENTRAL_SIG, _LOCAL_SIG = 0x02014B50, 0x04034B50
_METHODS = {0: "stored", 8: "deflate"}


#: The named groups users ask for, as regular expressions over member paths (the one table
#: the CLI's --bands / --polarisation / --metadata read). Sentinel-2 band files end in
#: ``_B04.jp2`` (L1C) or ``_B04_10m.jp2`` (L2A); Sentinel-1 measurement, annotation and
#: calibration files carry ``-vv-`` in their names; metadata is the manifest and the XML.
GROUPS: dict[str, tuple[tuple[str, ...], str]] = {
    "band": (
        ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10", "B11",
         "B12", "TCI", "AOT", "WVP", "SCL"),
        r"_{}(_\d+m)?\.jp2$",
    ),
    "polarisation": (("VV", "VH", "HH", "HV"), r"-{}-"),
    "metadata": (("all",), r"(manifest\.safe|\.xml)$"),
}  # fmt: skip


def member_pattern(
    include: Sequence[str] = (),
    *,
    bands: Sequence[str] = (),
    polarisations: Sequence[str] = (),
    metadata: bool = False,
) -> str | None:
    """One regular expression for a member selection (``None``: the whole archive).

    Raises:
        ConfigurationError: a band or polarisation not in :data:`GROUPS`, or an ``include``
            that is not a regular expression.
    """
    parts = list(include)
    for group, asked in (("band", bands), ("polarisation", polarisations)):
        names, template = GROUPS[group]
        for name in asked:
            if name.strip().upper() not in names:
                raise ConfigurationError(f"unknown {group} {name!r}; known: {', '.join(names)}")
            parts.append(
                template.format(
                    re.escape(
                        name.strip().lower() if group == "polarisation" else name.strip().upper()
                    )
                )
            )
    if metadata:
        parts.append(GROUPS["metadata"][1])
    for part in include:
        try:
            re.compile(part)
        except re.error as exc:
            raise ConfigurationError(
                f"--include {part!r} is not a regular expression ({exc})"
            ) from None
    return "|".join(f"(?:{p})" for p in parts) if parts else None


class _TailSizes:
    """The length of the directory (and end records) of the last archive read in this
    process, per kind of product (mission and the name's second field, the satellite left
    out: ``S2_MSIL1C``, ``S1_IW``).
    Archives of one kind list the same files under names of the same length, so the next
    one's first read is that length plus :data:`TAIL_SLACK`, not a guess: the bytes of the
    last members a fixed guess would read with the directory are not fetched. A longer
    directory costs one more read of the rest, not bytes. While the first archive of a kind
    is read, the others of that kind wait for it (at most :data:`LEARN_WAIT` s): a batch's
    first transfers start together and would all read :data:`TAIL_READ`."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sizes: dict[str, int] = {}
        self.learning: dict[str, threading.Event] = {}

    @staticmethod
    def kind(name: str) -> str:
        return f"{name[:2]}_{name.split('_')[1] if '_' in name else ''}"

    def guess(self, name: str) -> tuple[int, bool]:
        """The first read's length, and whether this attempt is the one learning the kind
        (it then calls :meth:`release` when its read is over, learned or not)."""
        kind = self.kind(name)
        with self.lock:
            known = self.sizes.get(kind)
            first = self.learning.get(kind)
            if known is None and first is None:
                self.learning[kind] = threading.Event()
                return TAIL_READ, True
        if known is None and first is not None:
            first.wait(LEARN_WAIT)
            with self.lock:
                known = self.sizes.get(kind)
        return (TAIL_READ if known is None else min(TAIL_MAX, known + TAIL_SLACK)), False

    def learn(self, name: str, length: int) -> None:
        with self.lock:
            if len(self.sizes) >= 256:  # bounded: a batch has a few kinds
                self.sizes.clear()
            self.sizes[self.kind(name)] = length

    def release(self, name: str) -> None:
        with self.lock:
            first = self.learning.pop(self.kind(name), None)
        if first is not None:
            first.set()


_TAILS = _TailSizes()


class _Stop(Exception):
    """Ends the product's attempt with ``result``."""

    def __init__(self, result: TransferResult) -> None:
        super().__init__(result.reason)
        self.result = result


class _BadZip(ValueError):
    """The directory or a local header is not what a zip holds (the server lies)."""


@dataclasses.dataclass(frozen=True)
class Member:
    """One directory entry: where its local header starts, and what its data must be."""

    name: str
    offset: int
    compressed_size: int
    size: int
    crc: int
    method: int


@dataclasses.dataclass(frozen=True)
class Directory:
    members: tuple[Member, ...]
    #: Where the directory starts: the end of the members' data.
    start: int


def find_end(tail: bytes, tail_start: int, archive_size: int) -> tuple[int, int, int, int]:
    """``(entries, directory size, directory offset, end-record offset)`` from the end of
    the archive, following a zip64 locator when the classic record says to.

    Raises:
        _BadZip: no end record, or values outside the archive.
    """
    at = tail.rfind(b"PK\x05\x06", 0, max(0, len(tail) - _EOCD.size + 4))
    if at < 0:
        raise _BadZip("no zip end record at the end of the archive")
    _, _, _, _, count, cd_size, cd_offset, _ = _EOCD.unpack_from(tail, at)
    end_at = tail_start + at
    if count == 0xFFFF or cd_size == 0xFFFFFFFF or cd_offset == 0xFFFFFFFF:
        loc = at - _LOCATOR.size
        if loc < 0 or _LOCATOR.unpack_from(tail, loc)[0] != _LOCATOR_SIG:
            raise _BadZip("a zip64 archive without its zip64 end locator")
        record = _LOCATOR.unpack_from(tail, loc)[2] - tail_start
        if record < 0 or record + _EOCD64.size > loc:
            raise _BadZip("the zip64 end record is outside the archive's end")
        fields = _EOCD64.unpack_from(tail, record)
        if fields[0] != _EOCD64_SIG:
            raise _BadZip("the zip64 locator points to no zip64 end record")
        count, cd_size, cd_offset = fields[7], fields[8], fields[9]
        end_at = tail_start + record
    if cd_offset + cd_size > end_at or count > MAX_MEMBERS or cd_size > archive_size:
        raise _BadZip("the zip end record places the directory outside the archive")
    return count, cd_size, cd_offset, end_at


def parse_directory(data: bytes, count: int, cd_offset: int) -> Directory:
    """The members listed in ``data``, the whole central directory.

    Raises:
        _BadZip: a record is cut or not a directory record, or a member's data would overlap
            the directory.
    """
    members: list[Member] = []
    pos = 0
    for _ in range(count):
        if pos + _CENTRAL.size > len(data):
            raise _BadZip("the zip directory is shorter than its end record says")
        fields = _CENTRAL.unpack_from(data, pos)
        if fields[0] != _CENTRAL_SIG:
            raise _BadZip("the zip directory holds something that is not a member record")
        flags, method, crc, csize, usize = fields[3], fields[4], fields[7], fields[8], fields[9]
        nlen, elen, clen, offset = fields[10], fields[11], fields[12], fields[16]
        start = pos + _CENTRAL.size
        if start + nlen + elen + clen > len(data):
            raise _BadZip("a zip directory record runs past the directory")
        raw = data[start : start + nlen]
        name = raw.decode("utf-8" if flags & 0x800 else "cp437", errors="replace")
        extra = data[start + nlen : start + nlen + elen]
        usize, csize, offset = _zip64_sizes(extra, usize, csize, offset)
        if offset + _LOCAL.size + nlen + csize > cd_offset:
            raise _BadZip(f"member {name[:100]!r}: its data would run into the zip directory")
        members.append(Member(name, offset, csize, usize, crc, method))
        pos = start + nlen + elen + clen
    return Directory(tuple(members), cd_offset)


def _zip64_sizes(extra: bytes, usize: int, csize: int, offset: int) -> tuple[int, int, int]:
    """The zip64 extra field's values for the fields the record marks as 0xFFFFFFFF."""
    pos = 0
    while pos + 4 <= len(extra):
        tag, size = struct.unpack_from("<HH", extra, pos)
        body = extra[pos + 4 : pos + 4 + size]
        if tag == 1:
            values = [v for (v,) in struct.iter_unpack("<Q", body[: len(body) // 8 * 8])]
            taken = iter(values)
            try:
                usize = next(taken) if usize == 0xFFFFFFFF else usize
                csize = next(taken) if csize == 0xFFFFFFFF else csize
                offset = next(taken) if offset == 0xFFFFFFFF else offset
            except StopIteration:
                raise _BadZip("a zip64 extra field is shorter than its record says") from None
        pos += 4 + size
    return usize, csize, offset


def member_path_problem(name: str) -> str | None:
    """Why a member cannot be written under the output folder (the extraction rule: no
    absolute path, no ``..``, every part a name :func:`~.extract.name_problem` accepts)."""
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or not path.parts:
        return "it is an absolute path"
    for part in path.parts:
        problem = "it climbs out with '..'" if part == ".." else name_problem(part)
        if problem is not None:
            return f"{part[:80]!r}: {problem}"
    return None


def _spans(members: list[Member], directory: Directory) -> list[list[Member]]:
    """Runs of selected members that lie next to each other: one request each.

    Runs separated by other members are not merged into one request: the bytes between them
    would be fetched for nothing, and a request costs about as much on the wire as the small
    gaps it saves (bench/partial.py: a reply's status and headers ~370 B, the gap between a
    Sentinel-2 L1C's two runs of metadata files ~370 B at the sandbox's scale, far more on
    real products), so the body bytes stay exactly the members'."""
    ordered = sorted(directory.members, key=lambda m: m.offset)
    after = {m.offset: nxt.offset for m, nxt in zip(ordered, ordered[1:], strict=False)}
    runs: list[list[Member]] = []
    for member in sorted(members, key=lambda m: m.offset):
        if runs and after.get(runs[-1][-1].offset) == member.offset:
            runs[-1].append(member)
        else:
            runs.append([member])
    return runs


class _Body:
    """A range reply read as exact lengths, through the stall guard and the cancel flag."""

    def __init__(self, fetch: MemberFetch, response: requests.Response) -> None:
        self.fetch = fetch
        self.chunks = iter_body(response)
        self.buffer = b""
        self.guard = fetch.guard()

    def read(self, size: int) -> Iterator[bytes]:
        while size > 0:
            if not self.buffer:
                self.buffer = next(self.chunks, b"")
                if not self.buffer:
                    raise _Stop(self.fetch.retry("the reply ended before the member did"))
                self.fetch.received += len(self.buffer)
                self.fetch.check_flow(self.guard)
            piece, self.buffer = self.buffer[:size], self.buffer[size:]
            size -= len(piece)
            yield piece

    def read_all(self, size: int) -> bytes:
        return b"".join(self.read(size))


class MemberFetch:
    """One attempt at the selected members of one product (what ``run_transfer`` runs when
    the job has a member pattern)."""

    def __init__(self, job: TransferJob) -> None:
        self.job = job
        self.product = job.product
        self.name = job.product.id
        self.pattern = re.compile(job.members or "")
        output = open_output(job.output)
        if output.folder is None:
            raise DownloadError("member selection needs a local output folder, not a URL")
        self.root = Path(output.folder)
        self.size = job.product.size
        self.validator: str | None = None
        self.received = 0
        self.book = _open_book(job.ledger, self.name)
        #: Without a ledger: what this attempt wrote or verified, for the scheduler.
        self.landed: list[tuple[str, MemberRecord]] = []

    def result(self, outcome: Outcome, reason: str = "", **kwargs: Any) -> TransferResult:
        return TransferResult(self.name, outcome, reason, **kwargs)

    def retry(self, reason: str) -> TransferResult:

        return self.result(Outcome.RETRY, reason, received=self.received)

    def corrupt(self, reason: str) -> TransferResult:

        return self.result(Outcome.CORRUPT, reason, received=self.received)

    def guard(self) -> StallGuard:
        return StallGuard(self.job)

    def check_flow(self, guard: StallGuard) -> None:
        cancel = self.job.cancel
        if cancel is not None and cancel.is_set():
            raise _Stop(self.result(Outcome.CANCELLED, "interrupted", received=self.received))
        stalled = guard.check(time.monotonic(), self.received)
        if stalled:
            raise _Stop(self.result(Outcome.RETRY, stalled, received=self.received, stalled=True))

    # -- the attempt ------------------------------------------------------------------------
    def run(self) -> TransferResult:
        result = self._attempt()
        if self.landed:
            return dataclasses.replace(result, members=tuple(self.landed))
        return result

    def _attempt(self) -> TransferResult:
        try:
            return self._run()
        except _Stop as stop:
            return stop.result
        except _BadZip as exc:
            return self.corrupt(f"the archive's zip structure is wrong: {exc}")
        except STALL_ERRORS as exc:  # the socket's read timeout: the no-byte half of the guard
            why = f"stalled: no byte for {self.job.stall_timeout:g} s ({type(exc).__name__})"
            return self.result(Outcome.RETRY, why, received=self.received, stalled=True)
        except NETWORK_ERRORS as exc:
            return self.retry(f"connection lost reading members ({type(exc).__name__})")
        finally:
            if self.book is not None:
                self.book.ledger.close()

    def _selection(self, directory: Directory) -> list[Member]:
        chosen = select(self.pattern, directory)
        if isinstance(chosen, str):
            raise _Stop(self.result_failed(chosen))
        return chosen

    def _run(self) -> TransferResult:

        directory = self._directory()
        chosen = self._selection(directory)
        self.root.mkdir(parents=True, exist_ok=True)
        check_expansion(
            f"{self.name} (members matching {self.pattern.pattern!r})",
            len(chosen),
            sum(m.size for m in chosen),
            sum(m.compressed_size for m in chosen),
            self.root,
            advice="select fewer members",
        )
        recorded = dict(self.job.recorded)
        if self.book is not None and any(os.path.lexists(self.root / m.name) for m in chosen):
            recorded = self.book.done()
        there = {m.name: self._already_there(m, recorded.get(m.name)) for m in chosen}
        todo = [m for m in chosen if there[m.name] is None]
        for run in _spans(todo, directory):
            self._fetch_run(run, directory)
        wanted = sum(m.compressed_size for m in chosen)
        whole = self.size if self.size is not None else 0
        share = f" ({100 * self.received / whole:.2f} % of the archive's {whole})" if whole else ""
        by_ledger = sum(1 for how in there.values() if how == "ledger")
        return self.result(
            Outcome.DONE,
            f"{len(chosen)} members verified (CRC-32, size), {len(chosen) - len(todo)} already "
            f"there ({by_ledger} recorded by the ledger); {self.received} bytes fetched for "
            f"{wanted} bytes of members{share}",
            path=str(self.root / PurePosixPath(chosen[0].name).parts[0]),
            received=self.received,
            checks=(MEMBER_CHECK, "member size"),
        )

    def _already_there(self, member: Member, record: MemberRecord | None) -> str | None:
        how, mtime_ns = on_disk(self.root / member.name, member, record)
        if how == "crc":
            self._record(member, mtime_ns)
        return how

    def _record(self, member: Member, mtime_ns: int) -> None:
        record = MemberRecord(member.crc, member.size, mtime_ns)
        if self.book is not None:
            self.book.record(member.name, record)
        else:
            self.landed.append((member.name, record))

    # -- requests -----------------------------------------------------------------------------
    def _open(self, start: int, end: int) -> requests.Response:
        """A reply of exactly bytes ``[start, end)`` of the archive (as its first reply said
        it is, with ``If-Range``), or the product's outcome."""

        with head_deadline(self.job.stall_timeout):
            response = self.job.archive.open_download(
                self.product, offset=start, end=end, if_range=self.validator
            )
        unsized = dataclasses.replace(self.product, size=None)
        verdict = classify_reply(unsized, response, start, archive=self.job.archive)
        if verdict is not None:
            response.close()
            verdict.received = self.received
            raise _Stop(verdict)
        crange = response.headers.get("Content-Range", "")
        total = "*" if self.size is None else str(self.size)
        expected = f"bytes {start}-{end - 1}/"
        if response.status_code != 206 or not crange.startswith(expected):
            response.close()
            raise _Stop(
                self.retry(
                    f"the archive answered {crange or 'the whole file'!r} "
                    f"to a request for bytes {start}-{end - 1}"
                )
            )
        if total != "*" and crange.rpartition("/")[2] != total:
            response.close()
            raise _Stop(
                self.retry(
                    f"the archive is now {crange.rpartition('/')[2]} bytes, "
                    f"the catalogue says {total}"
                )
            )
        if self.validator is None:
            self.validator = strong_validator(response)
        set_read_timeout(response, self.job.stall_timeout)
        return response

    def _read(self, start: int, end: int) -> bytes:
        with self._open(start, end) as response:
            return _Body(self, response).read_all(end - start)

    def _archive_size(self) -> int:
        if self.size is not None:
            return self.size
        with self._open(0, 1) as response:
            total = response.headers.get("Content-Range", "").rpartition("/")[2]
        if not total.isdigit():
            raise _Stop(self.retry("the archive did not say its size (Content-Range)"))
        self.size = int(total)
        return self.size

    def _directory(self) -> Directory:
        size = self._archive_size()
        guess, learning = _TAILS.guess(self.name)
        try:
            tail_start = max(0, size - guess)
            tail = self._read(tail_start, size)
            try:
                count, cd_size, cd_offset, end_at = find_end(tail, tail_start, size)
            except _BadZip:
                if guess >= TAIL_READ or tail_start == 0:
                    raise
                tail_start = max(0, size - TAIL_READ)  # an end record further back
                tail = self._read(tail_start, size)
                count, cd_size, cd_offset, end_at = find_end(tail, tail_start, size)
            _TAILS.learn(self.name, size - cd_offset)
        finally:
            if learning:
                _TAILS.release(self.name)
        if cd_offset < tail_start:  # a directory longer than the first read: the rest of it
            tail = self._read(cd_offset, tail_start) + tail
            tail_start = cd_offset
        data = tail[cd_offset - tail_start : cd_offset - tail_start + cd_size]
        if cd_offset + cd_size > end_at:
            raise _BadZip("the zip directory overlaps its end record")
        return parse_directory(data, count, cd_offset)

    def _fetch_run(self, run: list[Member], directory: Directory) -> None:
        ordered = sorted(directory.members, key=lambda m: m.offset)
        after = {m.offset: n.offset for m, n in zip(ordered, ordered[1:], strict=False)}
        start = run[0].offset
        end = after.get(run[-1].offset, directory.start)
        with self._open(start, end) as response:
            body = _Body(self, response)
            position = start
            for member in run:
                if position != member.offset:
                    raise _BadZip(f"member {member.name[:100]!r} is not where listed")
                position += self._fetch_member(body, member)
                stop = after.get(member.offset, directory.start)
                for _ in body.read(stop - position):  # a data descriptor, if any
                    pass
                position = stop

    def _fetch_member(self, body: _Body, member: Member) -> int:
        """Stream one member into its file; bytes read from its local header on."""
        header = body.read_all(_LOCAL.size)
        fields = _LOCAL.unpack(header)
        if fields[0] != _LOCAL_SIG:
            raise _BadZip(
                f"member {member.name[:100]!r}: no local header at offset "
                f"{member.offset} (the directory's offsets are wrong)"
            )
        nlen, elen = fields[9], fields[10]
        local_name = body.read_all(nlen)
        body.read_all(elen)
        if local_name.decode("utf-8", errors="replace") != member.name and (
            local_name.decode("cp437", errors="replace") != member.name
        ):
            raise _BadZip(f"member {member.name[:100]!r}: the local header names another file")
        read = _LOCAL.size + nlen + elen + member.compressed_size
        self._write(member, body.read(member.compressed_size))
        return read

    def _write(self, member: Member, data: Iterator[bytes]) -> None:
        target = self.root / member.name
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.parent.resolve().is_relative_to(self.root.resolve()):
            raise _Stop(
                self.result_failed(
                    f"member {member.name[:100]!r} would escape the output folder (through a link)"
                )
            )
        part = target.with_name(f".{target.name}.part-{os.getpid()}")
        _remove_dead_parts(target)
        part.unlink(missing_ok=True)
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL | O_NOFOLLOW | BINARY, 0o644)
        inflate = zlib.decompressobj(-15) if member.method == 8 else None
        crc, size = 0, 0
        try:
            with os.fdopen(fd, "wb") as out:
                for piece in data:
                    plain = inflate.decompress(piece) if inflate is not None else piece
                    crc, size = zlib.crc32(plain, crc), size + len(plain)
                    if size > member.size:
                        break
                    out.write(plain)
                if inflate is not None and size <= member.size:
                    rest = inflate.flush()
                    crc, size = zlib.crc32(rest, crc), size + len(rest)
                    out.write(rest)
                out.flush()
                os.fsync(out.fileno())
            if size != member.size or crc != member.crc:
                raise _Stop(
                    self.corrupt(
                        f"member {member.name[:100]!r} fails its check: {size} bytes with CRC "
                        f"{crc:08x} where the directory says {member.size} bytes, CRC "
                        f"{member.crc:08x}"
                    )
                )
            os.replace(part, target)
            self._record(member, target.lstat().st_mtime_ns)
        except zlib.error as exc:
            raise _Stop(
                self.corrupt(f"member {member.name[:100]!r} does not inflate ({exc})")
            ) from None
        finally:
            part.unlink(missing_ok=True)

    def result_failed(self, reason: str) -> TransferResult:

        return self.result(Outcome.FAILED, reason, received=self.received)


def _open_book(path: Path | None, product_id: str) -> MemberBook | None:
    """The product's member records in the ledger at ``path`` (never creating one: a job
    without a reachable ledger re-verifies members on disk by CRC)."""
    if path is None or not Path(path).is_file():
        return None
    return MemberBook.attach(path, product_id)


def _remove_dead_parts(target: Path) -> None:
    """Remove the part files of ``target`` left by processes of this host that are gone (a
    run killed in the middle of a member); a live one's part is its own business. Not on
    Windows, where ``os.kill(pid, 0)`` would end the process: parts stay there."""
    if os.name == "nt":
        return
    for part in target.parent.glob(f".{glob.escape(target.name)}.part-*"):
        pid = part.name.rpartition("-")[2]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            part.unlink(missing_ok=True)
        except OSError:  # alive under another user, or no such call here
            pass


def on_disk(target: Path, member: Member, record: MemberRecord | None) -> tuple[str | None, int]:
    """How a member's file is known to be right (``ledger``, ``crc``; ``None``: fetch it, the
    rule is in the module's docstring), and the file's modification time."""
    try:
        info = target.lstat()
    except OSError:
        return None, 0
    if not stat.S_ISREG(info.st_mode) or info.st_size != member.size:
        return None, 0
    if record == MemberRecord(member.crc, member.size, info.st_mtime_ns):
        return "ledger", info.st_mtime_ns
    crc = 0
    with open(target, "rb") as handle:
        while block := handle.read(1 << 20):
            crc = zlib.crc32(block, crc)
    return ("crc" if crc == member.crc else None), info.st_mtime_ns


def select(pattern: re.Pattern[str], directory: Directory) -> list[Member] | str:
    """The members ``pattern`` selects, each one this code can write safely; or why the
    product fails (nothing matches, a path escaping the folder, a compression method)."""
    chosen = [m for m in directory.members if not m.name.endswith("/") and pattern.search(m.name)]
    if not chosen:
        return (
            f"no member of the archive matches {pattern.pattern!r} "
            f"({len(directory.members)} members)"
        )
    for member in chosen:
        problem = member_path_problem(member.name)
        if problem is not None:
            return (
                f"refusing archive member {member.name[:100]!r}: {problem} "
                "(it would escape the output folder)"
            )
        if member.method not in _METHODS:
            return (
                f"member {member.name[:100]!r}: compression method {member.method} "
                "is not supported (stored and deflate are)"
            )
    return chosen
