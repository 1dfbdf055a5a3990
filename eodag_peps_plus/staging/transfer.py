"""One transfer attempt of one archive: stream to ``<name>.zip.part``, verify, rename.

The attempt never decides to wait or retry; it reports an :class:`Outcome` and the scheduler
decides. What it guarantees:

* only bytes that can be the product reach the part file: a reply that is not the archive
  (:func:`~eodag_peps_plus.archive_reply.classify_archive_reply`) is never written;
* a part file is resumed with ``Range`` only with ``If-Range`` set to the validator recorded
  for its bytes (in its sidecar, :class:`~.storage.PartState`, written before the bytes), and
  a reply that does not continue it exactly restarts it;
* a transfer that stalls (no byte for ``stall_timeout`` seconds, or less than ``min_rate``
  bytes/s over ``rate_window`` seconds) is cut and reported for a resume, so a server that
  drips bytes cannot hold it forever;
* ``<name>.zip`` appears only by an atomic commit (a rename, or one upload to an object store:
  :mod:`.storage`) after the checks it could get passed: the catalogue's length and MD5 when
  known, and always the zip structure (central directory; every member's CRC when the
  catalogue has no MD5), so a truncated archive never lands;
* whatever goes wrong with one product (its name, its link, an unexpected error) is this
  product's outcome, never an exception that ends the batch.

A job is a plain picklable object, so any ``concurrent.futures.Executor`` (threads, processes,
a dask cluster: :mod:`.cluster`) can run :func:`run_transfer`. The attempt never opens the
ledger: the scheduler is its only writer, and records what the :class:`TransferResult` brings
back (the part's validator, the final size and mtime, the extraction).
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import errno
import hashlib
import io
import os
import random
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

import requests
import urllib3

from ..archive_reply import (
    ZIP_MAGIC,
    ArchiveReply,
    ReplyKind,
    classify_archive_reply,
    parse_retry_after,
    snippet,
)
from ..backends.base import Archive
from ..exceptions import AuthenticationError, DownloadError, PepsPlusError
from ..files import disk_advice, write_all
from ..http_io import HeadersTimeout, MalformedHeaders, head_deadline, iter_body, safe_origin
from ..logs import get_logger
from ..product import Product
from .extract import clean_leftovers, extract_archive
from .ledger import MemberRecord
from .options import MIN_RATE, RATE_WINDOW, STALL_TIMEOUT

if TYPE_CHECKING:
    from .members import MemberFetch
from .storage import (
    BINARY,
    O_NOFOLLOW,
    ObjectStore,
    Output,
    PartState,
    file_md5,
    local_part_key,
    open_output,
    own_file_problem,
)

logger = get_logger(__name__)

CHUNK = 1 << 18
#: The scheduler renews the claims of its running transfers this often.
RENEW_EVERY = 5.0
#: Seconds between two looks of a transfer at its part's sidecar (taken over by another?).
TAKEOVER_CHECK_EVERY = 1.0
#: Bytes of a new part before its sidecar is written: fewer are cheaper to fetch again after
#: a ``kill -9`` than to remember (creating the sidecar costs more than a small archive).
SIDECAR_AFTER = 64 * 1024
#: Failures of the connection, not of the disk (requests' errors are also ``OSError``s).
NETWORK_ERRORS = (
    requests.exceptions.RequestException,
    urllib3.exceptions.HTTPError,
    ConnectionError,
    TimeoutError,
)
#: A link that no retry can fix.
BAD_URL_ERRORS = (
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidSchema,
    requests.exceptions.InvalidURL,
    requests.exceptions.URLRequired,
    urllib3.exceptions.LocationParseError,
)
#: Read timeouts: the server sent nothing for ``stall_timeout`` seconds.
STALL_ERRORS = (
    requests.exceptions.ReadTimeout,
    urllib3.exceptions.ReadTimeoutError,
    TimeoutError,
)

__all__ = [
    "Outcome",
    "StallGuard",
    "TransferJob",
    "TransferResult",
    "check_zip",
    "classify_reply",
    "credentials_refused",
    "file_md5",
    "link_problem",
    "parse_retry_after",
    "run_transfer",
]


class Outcome(str, enum.Enum):
    DONE = "done"
    RETRY = "retry"  # transient: 429/5xx, dropped connection; resume when possible
    NOT_PRODUCT = "not_product"  # the reply was not the archive: not online (yet)
    CORRUPT = "corrupt"  # complete but the checksum or the content is wrong
    FAILED = "failed"  # nothing to retry (bad name, disk error)
    AUTH = "auth"  # credentials refused: the whole run stops
    CANCELLED = "cancelled"
    REFUSED = "refused"  # the archive will not serve this product (410 Gone): settled


@dataclasses.dataclass
class TransferResult:
    product_id: str
    outcome: Outcome
    reason: str = ""
    retry_after: float | None = None
    path: str | None = None
    extracted: str | None = None
    received: int = 0
    resumed_from: int = 0
    status_code: int | None = None
    #: The part file must be discarded (the server's bytes no longer continue it).
    restart: bool = False
    #: The transfer was cut because it stalled (counts against the attempt budget).
    stalled: bool = False
    #: What the saved archive was checked against (``size``, ``MD5``, ``zip directory``,
    #: ``zip CRCs``), for the report.
    checks: tuple[str, ...] = ()
    #: For the scheduler to record in the ledger: the validator of the part file kept for a
    #: resume (``None``: nothing resumable), and the final archive's size and modification
    #: time (a later run trusts an archive that still has them without re-hashing it).
    validator: str | None = None
    file_size: int | None = None
    file_mtime_ns: int | None = None
    #: Members a selection wrote or verified, by path, for the scheduler to record when the
    #: attempt could not (a cluster's workers: ``job.ledger``).
    members: tuple[tuple[str, MemberRecord], ...] = ()


class CancelFlag(Protocol):
    """``threading.Event`` in-process; a cluster's flag on its workers (:mod:`.cluster`)."""

    def is_set(self) -> bool: ...


@dataclasses.dataclass
class TransferJob:
    """Everything one attempt needs; ``progress`` and a ``threading.Event`` as ``cancel`` only
    make sense in-process and are dropped when the job is pickled to another process.

    ``validator`` is the one the ledger recorded for the part file: it is used only for a part
    without a sidecar (left by an earlier version); ``owner`` tags the scheduler's claim.
    """

    product: Product
    archive: Archive
    output: Output | Path
    validator: str | None = None
    owner: str = ""
    extract: bool = False
    delete_archive: bool = False
    #: Stall guard: no byte for ``stall_timeout`` s, or under ``min_rate`` bytes/s over
    #: ``rate_window`` s (``min_rate`` 0 disables the rate check).
    stall_timeout: float = STALL_TIMEOUT
    min_rate: float = MIN_RATE
    rate_window: float = RATE_WINDOW
    #: ``progress(product_id, bytes_now, total, initial)``: called with each chunk.
    progress: Callable[[str, int, int | None, int], None] | None = None
    cancel: CancelFlag | None = None
    #: The key sidecars are signed with (:func:`~.storage.local_part_key` when empty): a
    #: scheduler passes its own, so workers elsewhere resume each other's parts.
    part_key: str = dataclasses.field(default="", repr=False)
    #: A regular expression over member paths: only the matching members are fetched, by
    #: range requests (:mod:`.members`), instead of the whole archive.
    members: str | None = None
    #: The ledger a member selection records each member in as it lands (:class:`~.ledger.
    #: MemberBook`); ``None`` on a cluster, whose workers may not reach it safely: the
    #: scheduler then records them from the result, and passes the records in ``recorded``.
    ledger: Path | None = None
    recorded: tuple[tuple[str, MemberRecord], ...] = ()

    def __repr__(self) -> str:  # short, for the logs of a cluster
        return f"TransferJob({self.product.id!r}, {self.archive!r}, {self.output!r})"

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["progress"] = None
        if isinstance(state["cancel"], threading.Event):
            state["cancel"] = None
        return state


#: The end of a transfer kept in memory to read the zip directory from (most products'
#: directories are smaller).
TAIL_BYTES = 256 * 1024


class _PartRefused(Exception):
    """The part file is not one this attempt may write (a link, another user's file...)."""


class _TakenOver(Exception):
    """Another attempt created the part file this one was about to create."""


@dataclasses.dataclass
class _Flow:
    """One reply streaming into the part file: where it is, and what it has checked so far."""

    out: IO[bytes]
    start: int
    digest: Any
    guard: StallGuard
    next_look: float
    position: int = 0
    received: int = 0
    #: The first bytes, held back until the zip signature is checked.
    head: bytes = b""


class _Attempt:
    def __init__(self, job: TransferJob) -> None:
        self.job = job
        self.product = job.product
        self.name = job.product.id
        self.output = open_output(job.output)
        self.part = self.output.part(self.name)
        self.key = job.part_key or local_part_key()
        self.size = job.product.size
        self.md5 = (job.product.md5 or "").lower() or None
        self.validator: str | None = None  # of the bytes in the part file
        self.state: PartState | None = None  # what this attempt's sidecar says
        self.state_written = False  # the sidecar is on disk (a new part has none at first)
        self.inode: int | None = None  # of the part file this attempt writes
        self.part_found = False  # a part file was there when the attempt began
        #: The last bytes written: the zip directory is read from them, not from the file.
        self.tail = bytearray()

    def result(self, outcome: Outcome, reason: str = "", **kwargs: Any) -> TransferResult:
        return TransferResult(self.name, outcome, reason, **kwargs)

    # -- the attempt ------------------------------------------------------------------------
    def run(self) -> TransferResult:
        if self.job.cancel is not None and self.job.cancel.is_set():  # queued before Ctrl-C
            return self.result(Outcome.CANCELLED, "interrupted")
        offset = self._resumable_offset()
        validator = self.validator = self.validator if offset else None
        if offset and self.size is not None and offset == self.size:
            return self._finish(file_md5(self.part), received=0, resumed_from=offset)
        with head_deadline(self.job.stall_timeout):  # a head that never comes is a stall too
            response = self.job.archive.open_download(
                self.product, offset=offset, if_range=validator
            )
        with response:
            verdict = classify_reply(self.product, response, offset, archive=self.job.archive)
            if verdict is not None:
                if verdict.restart:
                    self._forget_part()
                verdict.validator = self.validator
                return verdict
            start = offset if response.status_code == 206 else 0
            return self._stream(response, start)

    def _resumable_offset(self) -> int:
        """Bytes of the part file worth keeping: only in a regular file of ours (never through
        a link), with a strong validator recorded for them (its sidecar, signed by this user
        for this very file; the ledger's for a part without one), for this very product (same
        catalogue size and MD5), and never more than the catalogue size."""
        try:
            info = self.part.lstat()
        except FileNotFoundError:
            return 0
        self.part_found = True
        problem = own_file_problem(info)
        if problem is not None:
            logger.warning("%s: not resuming %s: %s", self.name, self.part, problem)
            return 0
        state = PartState.read(self.part, self.key)
        self.validator = _recorded_validator(
            state, info.st_ino, self.job.validator, self.size, self.md5
        )
        if not self.validator or info.st_size == 0:
            return 0
        if self.size is not None and info.st_size > self.size:
            return 0
        self.inode = info.st_ino
        return info.st_size

    # -- streaming: one small check after another ---------------------------------------------
    def _stream(self, response: requests.Response, start: int) -> TransferResult:
        validator = strong_validator(response)
        flow: _Flow | None = None
        try:
            with self._prepare_part(start, validator) as out:
                flow = _begin(self.job, out, start, response)
                for chunk in iter_body(response):
                    stop = self._take(flow, chunk, response) if chunk else None
                    if stop is not None:
                        return stop
                # A whole reply shorter than a zip signature (and not empty):
                stop = self._not_zip(flow, response, "") if flow.head else None
                if stop is not None:
                    return stop
                out.flush()
                os.fsync(out.fileno())
        except _PartRefused as exc:
            return self.result(Outcome.FAILED, f"refusing to write {self.part}: {exc}")
        except _TakenOver:
            return self._taken_over(0, start)
        except STALL_ERRORS as exc:
            position = flow.position if flow is not None else start
            why = f"stalled: no byte for {self.job.stall_timeout:g} s after {position} bytes"
            return self._cut(f"{why} ({type(exc).__name__})", flow, start)
        except NETWORK_ERRORS as exc:
            return self._lost(flow, start, exc)
        except OSError as exc:
            self._remember()  # what was written is kept for a resume once it can go on
            return self.result(Outcome.FAILED, _write_failure(self.part, exc))
        return self._ended(flow, response)

    @contextlib.contextmanager
    def _prepare_part(self, start: int, validator: str | None) -> Iterator[IO[bytes]]:
        """The part file, opened without following links: continued from ``start`` (its
        sidecar names the continued bytes before one is written), or new (the old bytes and
        their sidecar go before any new byte is written)."""
        if not start:
            if self.part_found:
                self.part.unlink(missing_ok=True)
            PartState.path(self.part).unlink(missing_ok=True)
        self.validator = validator
        out = _open_part(self.output, self.part, start, self.inode)
        try:
            self.inode = os.fstat(out.fileno()).st_ino
            self.state = PartState(validator, self.size, self.md5, new_token(), self.inode)
            if start:
                self._write_state()
            yield out
        finally:
            out.close()

    def _take(
        self, flow: _Flow, chunk: bytes, response: requests.Response
    ) -> TransferResult | None:
        """One chunk through every check: the zip signature, the catalogue size, then write
        it, then the sidecar, Ctrl-C, a takeover and the stall guard. ``None``: go on."""
        if flow.position == 0:
            flow.head += chunk
            if len(flow.head) < len(ZIP_MAGIC) and len(flow.head) != self.size:
                return None
            if not flow.head.startswith(ZIP_MAGIC):
                return self._not_zip(flow, response, "...")
            chunk, flow.head = flow.head, b""
        if self.size is not None and flow.position + len(chunk) > self.size:
            flow.out.close()
            self._forget_part()
            return self.result(
                Outcome.CORRUPT, f"the reply is longer than the catalogue size {self.size}"
            )
        self._write(flow, chunk)
        return self._after_write(flow)

    def _write(self, flow: _Flow, chunk: bytes) -> None:
        write_all(flow.out.fileno(), chunk)
        _keep_tail(self.tail, chunk)
        flow.digest.update(chunk)
        flow.position += len(chunk)
        flow.received += len(chunk)
        if self.job.progress is not None:
            self.job.progress(self.name, len(chunk), self.size, flow.start)

    def _after_write(self, flow: _Flow) -> TransferResult | None:
        if not self.state_written and flow.received >= SIDECAR_AFTER:
            if self._taken_over_now():
                return self._taken_over(flow.received, flow.start)
            self._write_state()
        cancel = self.job.cancel
        if cancel is not None and cancel.is_set():
            self._remember()
            return self._partial(Outcome.CANCELLED, "interrupted", flow)
        now = time.monotonic()
        if now >= flow.next_look:
            flow.next_look = now + TAKEOVER_CHECK_EVERY
            if self._taken_over_now():
                return self._taken_over(flow.received, flow.start)
        stalled = flow.guard.check(now, flow.received)
        if stalled:
            return self._cut(f"{stalled} after {flow.position} bytes", flow, flow.start)
        return None

    def _not_zip(self, flow: _Flow, response: requests.Response, more: str) -> TransferResult:
        flow.out.close()
        self._forget_part()
        return self.result(
            Outcome.NOT_PRODUCT,
            f"the reply is not a zip archive ({snippet(flow.head[:40])!r}{more})",
            status_code=response.status_code,
        )

    def _ended(self, flow: _Flow | None, response: requests.Response) -> TransferResult:
        """The reply ended: empty, short (resume it), or whole (verify and commit it)."""
        assert flow is not None
        if flow.position == 0:
            self._forget_part()
            return self.result(
                Outcome.NOT_PRODUCT,
                f"HTTP {response.status_code} with an empty body",
                status_code=response.status_code,
            )
        if self.size is not None and flow.position < self.size:
            self._remember()
            reason = f"the reply ended after {flow.position} of {self.size} bytes"
            return self._partial(Outcome.RETRY, reason, flow)
        return self._finish(flow.digest, received=flow.received, resumed_from=flow.start)

    def _lost(self, flow: _Flow | None, start: int, exc: BaseException) -> TransferResult:
        total = self.size if self.size is not None else "?"
        position = flow.position if flow is not None else start
        self._remember()
        reason = f"connection lost after {position} of {total} bytes ({type(exc).__name__})"
        if flow is None:
            return self.result(Outcome.RETRY, reason, resumed_from=start, validator=self.validator)
        return self._partial(Outcome.RETRY, reason, flow)

    def _partial(self, outcome: Outcome, reason: str, flow: _Flow) -> TransferResult:
        """A transfer that ends before the archive does: its part is kept for a resume."""
        return self.result(
            outcome,
            reason,
            received=flow.received,
            resumed_from=flow.start,
            validator=self.validator,
        )

    def _taken_over(self, received: int, start: int) -> TransferResult:
        """Another attempt (of a later run: this one's scheduler was killed) writes this part
        now: leave it alone, and never commit it."""
        why = "another transfer took this part over"
        return self.result(Outcome.RETRY, why, received=received, resumed_from=start)

    def _finish(self, digest: Any, *, received: int, resumed_from: int) -> TransferResult:
        """Verify the part file with every check available, then give it its final name."""
        if self.state is not None and self._taken_over_now():
            return self._taken_over(received, resumed_from)
        actual = digest.hexdigest()
        checks = _verify_part(
            self.part, self.size, self.md5, self.tail, actual, resumed_from + received
        )
        if isinstance(checks, str):
            self._forget_part()
            return self.result(
                Outcome.CORRUPT, checks, received=received, resumed_from=resumed_from
            )
        try:
            stored = self.output.commit(self.part, self.name, actual)
        except OSError as exc:
            if not isinstance(self.output, ObjectStore):
                raise
            # The verified part stays: the next attempt only uploads it again.
            kept = {"resumed_from": resumed_from, "validator": self.validator}
            return self.result(Outcome.RETRY, str(exc), received=received, **kept)
        if self.state_written:
            PartState.path(self.part).unlink(missing_ok=True)
        done = {"file_size": stored.size, "file_mtime_ns": stored.mtime_ns}
        extracted = None
        if self.job.extract and self.output.folder is not None:
            final = Path(stored.location)
            clean_leftovers(final.parent, self.name)
            try:
                folder = extract_archive(final, self.name, delete_archive=self.job.delete_archive)
            except DownloadError as exc:
                return self.result(
                    Outcome.FAILED, str(exc), path=str(final), received=received, **done
                )
            extracted = str(folder)
        return self.result(
            Outcome.DONE,
            _verified(checks, self.size, self.md5),
            path=extracted or stored.location,
            extracted=extracted,
            received=received,
            resumed_from=resumed_from,
            checks=tuple(checks),
            **done,
        )

    def _write_state(self) -> None:
        assert self.state is not None
        self.state = _write_sidecar(self.output, self.part, self.state.signed(self.part, self.key))
        self.state_written = True

    def _taken_over_now(self) -> bool:
        """Whether another attempt writes this part now. Once this one's sidecar is written,
        another one shows by rewriting it; before, by writing a sidecar at all (this one
        removed the old one) or by a new part file in its place."""
        return _part_taken_over(self.part, self.key, self.state, self.state_written, self.inode)

    def _remember(self) -> None:
        """Before leaving a part to resume: its sidecar, if it has none yet."""
        if self.state is not None and not self.state_written and not self._taken_over_now():
            try:
                self._write_state()
            except OSError as exc:  # resumed from the ledger's validator instead
                logger.debug("%s: sidecar not written (%s)", self.name, exc)

    def _cut(self, reason: str, flow: _Flow | None, start: int) -> TransferResult:
        """A stalled transfer: the part file is kept for a ``Range`` resume."""
        self._remember()
        return self.result(
            Outcome.RETRY,
            f"{reason}; resuming",
            received=flow.received if flow is not None else 0,
            resumed_from=start,
            stalled=True,
            validator=self.validator,
        )

    def _forget_part(self) -> None:
        PartState.forget(self.part)
        self.validator = None


def _open_part(output: Output, part: Path, start: int, inode: int | None) -> IO[bytes]:
    """Unbuffered: chunks go straight to ``write`` (a buffered file costs three more
    system calls to open, each a chance for another thread to take the GIL). Never
    through a link: a continued part must be the very file checked before, ours alone;
    a new one is created, never an existing file opened."""
    flags = (os.O_RDWR if start else os.O_WRONLY | os.O_CREAT | os.O_EXCL) | O_NOFOLLOW
    try:
        fd = _open_fd(output, part, flags)
    except FileExistsError:  # another attempt created it since this one removed it
        raise _TakenOver from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _PartRefused("it is a symbolic link") from None
        raise
    if start:
        info = os.fstat(fd)
        problem = own_file_problem(info)
        if problem is None and info.st_ino != inode:
            problem = "it was replaced since it was checked"
        if problem is not None:
            os.close(fd)
            raise _PartRefused(problem)
    return os.fdopen(fd, "r+b" if start else "wb", buffering=0)


def _open_fd(output: Output, part: Path, flags: int) -> int:
    try:
        return os.open(part, flags | BINARY, 0o644)
    except FileNotFoundError:  # no part folder (a new worker's disk): made once, not per try
        if flags & os.O_CREAT == 0:
            raise
        output.prepare()
        return os.open(part, flags | BINARY, 0o644)


def _verify_part(
    part: Path, size: int | None, md5: str | None, last: bytearray, actual_md5: str, end: int
) -> list[str] | str:
    """What the part passed (size, MD5, zip directory or CRCs), or what it failed."""
    checks: list[str] = ["size"] if size is not None else []
    if md5 is not None:
        if actual_md5 != md5:
            return f"MD5 {actual_md5} does not match the catalogue's {md5}"
        checks.append("MD5")
    # Without a catalogue MD5 the member CRCs are the only check of the content.
    tail = (end - len(last), bytes(last)) if md5 is not None else None
    problem = check_zip(part, crcs=md5 is None, tail=tail)
    if problem is not None:
        return problem
    checks.append("zip directory" if md5 is not None else "zip CRCs")
    return checks


def _keep_tail(tail: bytearray, chunk: bytes) -> None:
    """Keep the last :data:`TAIL_BYTES` written (amortised: trimmed when twice as long)."""
    tail += memoryview(chunk)[-TAIL_BYTES:]
    excess = len(tail) - TAIL_BYTES
    if excess > TAIL_BYTES:
        del tail[:excess]


def _part_taken_over(
    part: Path, key: str, state: PartState | None, written: bool, inode: int | None
) -> bool:
    """:meth:`_Attempt._taken_over_now`, from what the attempt knows of its part."""
    if state is None:
        return False
    if written:
        return state.taken_over(part, key)
    try:
        PartState.path(part).stat()
        return True
    except FileNotFoundError:
        pass
    try:
        return part.stat().st_ino != inode
    except FileNotFoundError:
        return True


def _begin(job: TransferJob, out: IO[bytes], start: int, response: requests.Response) -> _Flow:
    """The flow of a reply into ``out``, continued from ``start`` (its MD5 so far)."""
    if start:
        digest = file_md5(out.fileno(), start)
        out.seek(start)
        out.truncate(start)
    else:
        digest = hashlib.md5(usedforsecurity=False)
    set_read_timeout(response, job.stall_timeout)
    if job.progress is not None:
        job.progress(job.product.id, 0, job.product.size, start)
    next_look = time.monotonic() + TAKEOVER_CHECK_EVERY
    return _Flow(out, start, digest, StallGuard(job), next_look, position=start)


def _write_sidecar(output: Output, part: Path, signed: PartState) -> PartState:
    """Write ``signed`` next to ``part`` (making the part folder on a new worker's disk)."""
    try:
        signed.write(part)
    except FileNotFoundError:
        output.prepare()
        signed.write(part)
    return signed


def _verified(checks: list[str], size: int | None, md5: str | None) -> str:
    """The reason of a committed archive: what it passed, and what the catalogue lacked."""
    missing = [what for what, known in (("size", size), ("MD5", md5)) if not known]
    note = f" (no {' or '.join(missing)} in the catalogue)" if missing else ""
    return f"verified: {', '.join(checks)}{note}"


def _recorded_validator(
    state: PartState | None, inode: int, ledger: str | None, size: int | None, md5: str | None
) -> str | None:
    """The validator recorded for a part file: its sidecar's, for this very file and product;
    the ledger's for a part without a sidecar."""
    if state is None:
        return ledger
    if state.size == size and (state.md5 or None) == md5 and state.inode == inode:
        return state.validator
    return None


def _write_failure(part: Path, exc: OSError) -> str:
    """Why the part file could not be written, and what to do about it (a full disk...)."""
    advice = disk_advice(exc)
    why = f"cannot write {part}: {exc.strerror or exc}"
    return f"{why}; {advice}" if advice else why


class StallGuard:
    """The minimum-rate half of the stall guard (the no-byte half is the socket's read
    timeout): bytes are counted over tumbling windows of ``rate_window`` seconds."""

    def __init__(self, job: TransferJob) -> None:
        self.min_rate = job.min_rate
        self.window = job.rate_window
        self.since = time.monotonic()
        self.base = 0

    def check(self, now: float, received: int) -> str | None:
        """``None`` while the rate holds, else what went wrong."""
        elapsed = now - self.since
        if self.min_rate <= 0 or elapsed < self.window:
            return None
        got = received - self.base
        if got < self.min_rate * elapsed:
            return (
                f"stalled: {got} bytes in {elapsed:.1f} s, under the minimum rate of "
                f"{self.min_rate:g} bytes/s"
            )
        self.since, self.base = now, received
        return None


def set_read_timeout(response: requests.Response, seconds: float) -> None:
    """Bound every further read of ``response`` to ``seconds`` without a byte.

    The backends open downloads with their request timeout; the stall timeout, a property of
    the transfer, is set on the socket once the headers are in (urllib3 sets the timeout again
    for the next request on a pooled connection). A reply with ``Connection: close`` has
    already left its connection object, so the socket is then found under the body's reader.
    """
    if seconds <= 0:
        return
    connection = getattr(response.raw, "connection", None)
    sock = getattr(connection, "sock", None)
    if sock is None:
        reader = getattr(getattr(response.raw, "_fp", None), "fp", None)
        sock = getattr(getattr(reader, "raw", None), "_sock", None)
    if sock is None or not hasattr(sock, "settimeout"):
        logger.debug("no socket to set a stall timeout on; the rate check still applies")
        return
    try:
        current = sock.gettimeout()
        sock.settimeout(seconds if current is None else min(current, seconds))
    except OSError:
        pass


def strong_validator(response: requests.Response) -> str | None:
    """The reply's ``ETag`` or ``Last-Modified``; ``None`` for a weak one (weak validators
    cannot guard byte ranges)."""
    validator = response.headers.get("ETag") or response.headers.get("Last-Modified")
    return None if validator is None or validator.startswith("W/") else validator


def check_zip(path: Path, *, crcs: bool, tail: tuple[int, bytes] | None = None) -> str | None:
    """``None`` if ``path`` is a readable zip (its central directory, and with ``crcs`` the
    CRC of every member), else what is wrong with it, for the report.

    ``tail`` is ``(offset, bytes)``, the end of the file as it was written: the directory is
    read from it when it holds the whole directory (one open and a dozen seeks less per
    archive), else from the file.
    """
    if tail is not None and not crcs:
        try:
            return _zip_problem(_Window(*tail), crcs=False)
        except _OutsideWindow:
            pass
    return _zip_problem(path, crcs=crcs)


def _zip_problem(source: Path | _Window, *, crcs: bool) -> str | None:
    try:
        with zipfile.ZipFile(source) as archive:
            if crcs:
                bad = archive.testzip()
                if bad is not None:
                    return f"the archive is corrupt: member {bad!r} fails its CRC check"
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError) as exc:
        return f"the archive is not a complete zip file ({exc})"
    except NotImplementedError as exc:  # a compression method Python lacks: cannot test
        logger.debug("%s: zip CRCs not checked (%s)", getattr(source, "name", source), exc)
    return None


class _OutsideWindow(Exception):
    """A read before the bytes a :class:`_Window` holds (deliberately not an ``OSError``,
    which zipfile would take for a broken archive)."""


class _Window(io.RawIOBase):
    """The end of a file, ``data`` from ``offset`` on, as a read-only seekable file."""

    def __init__(self, offset: int, data: bytes) -> None:
        super().__init__()
        self.offset, self.data = offset, data
        self.size = self.pos = offset + len(data)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.pos, io.SEEK_END: self.size}[whence]
        if base + offset < 0:
            raise OSError("seek before the start of the file")  # as a file would
        self.pos = base + offset
        return self.pos

    def tell(self) -> int:
        return self.pos

    def read(self, size: int | None = -1) -> bytes:
        if self.pos < self.offset:
            raise _OutsideWindow
        start = self.pos - self.offset
        stop = len(self.data) if size is None or size < 0 else start + size
        chunk = self.data[start:stop]
        self.pos += len(chunk)
        return chunk


def new_token() -> str:
    """An attempt's token (unique, not secret: ``random`` is reseeded in a forked child)."""
    return f"{random.getrandbits(128):032x}"


def classify_reply(
    product: Product, response: requests.Response, offset: int = 0, *, archive: Archive
) -> TransferResult | None:
    """``None`` if the reply can be the product (or its continuation), else the outcome."""
    verdict = classify_archive_reply(response, expected_size=product.size, offset=offset)
    outcome = _OUTCOMES[verdict.kind]
    if outcome is None:
        return None
    reason = verdict.reason
    if outcome is Outcome.AUTH:
        reason = auth_message(verdict, archive)
    elif outcome is Outcome.REFUSED:
        reason = archive.refusal_reason(verdict)
    elif verdict.status == 429:
        reason = archive.quota_reason(verdict)
    return TransferResult(
        product.id,
        outcome,
        reason,
        retry_after=verdict.retry_after,
        status_code=verdict.status,
        restart=verdict.kind is ReplyKind.BAD_RANGE,
    )


_OUTCOMES: dict[ReplyKind, Outcome | None] = {
    ReplyKind.ARCHIVE: None,
    ReplyKind.AUTH: Outcome.AUTH,
    ReplyKind.TRANSIENT: Outcome.RETRY,
    ReplyKind.NOT_ARCHIVE: Outcome.NOT_PRODUCT,
    ReplyKind.BAD_RANGE: Outcome.RETRY,
    ReplyKind.REFUSED: Outcome.REFUSED,
}


def auth_message(verdict: ArchiveReply, archive: Archive) -> str:
    return f"credentials refused by the archive ({verdict.reason}): {archive.credentials_hint}"


def credentials_refused(exc: AuthenticationError, archive: Archive, product: Product) -> bool:
    """Whether an authentication error concerns the account (stop the whole batch: every
    product would fail the same way) or only this product's link (it fails alone).

    A refusal by the server (HTTP 401/403) or one for a link on the archive's own origin is
    about the account; one raised for a link to another origin (a download URL edited to
    point elsewhere, which the archive refuses to send credentials to) is about the link.
    """
    if exc.status_code in (401, 403):
        return True
    return safe_origin(product.download_url) in archive.credential_origins


def link_problem(url: str) -> str | None:
    """Why a download link cannot be fetched at all (checked before anything is sent), or
    ``None``; whether the credentials may go there is the backend's decision."""
    shown = repr(url[:200] + "..." if len(url) > 200 else url)
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError as exc:
        return f"unusable download link {shown} ({exc})"
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return f"unusable download link {shown}: not an http(s) URL"
    return None


def run_transfer(job: TransferJob) -> TransferResult:
    """One attempt; every error a server, a link or a name can cause becomes this product's
    outcome (an unexpected one too: it fails this product, not the batch)."""
    product = job.product
    try:
        attempt: _Attempt | MemberFetch
        if job.members is not None:
            from .members import MemberFetch  # it is built on this module's pieces

            attempt = MemberFetch(job)
        else:
            attempt = _Attempt(job)
    except PepsPlusError as exc:  # an unsafe name
        return TransferResult(product.id, Outcome.FAILED, str(exc))
    except Exception as exc:  # a record this code cannot handle
        return TransferResult(product.id, Outcome.FAILED, _unexpected(product, exc))
    try:
        return attempt.run()
    except AuthenticationError as exc:
        refused = credentials_refused(exc, job.archive, product)
        return attempt.result(Outcome.AUTH if refused else Outcome.FAILED, str(exc))
    except BAD_URL_ERRORS as exc:
        return attempt.result(
            Outcome.FAILED, f"unusable download link {product.download_url[:200]!r} ({exc})"
        )
    except (HeadersTimeout, MalformedHeaders) as exc:  # their message says it all
        return attempt.result(Outcome.RETRY, str(exc))
    except requests.exceptions.ConnectTimeout:
        host = safe_origin(product.download_url) or "the archive"
        return attempt.result(Outcome.RETRY, f"{host} did not accept the connection in time")
    except NETWORK_ERRORS as exc:
        return attempt.result(Outcome.RETRY, f"request failed: {type(exc).__name__}: {exc}")
    except PepsPlusError as exc:  # DownloadError, a backend refusing this product's link...
        return attempt.result(Outcome.FAILED, str(exc))
    except OSError as exc:
        return attempt.result(Outcome.FAILED, f"file system error: {exc}")
    except Exception as exc:
        return attempt.result(Outcome.FAILED, _unexpected(product, exc))


def _unexpected(product: Product, exc: Exception) -> str:
    """An error no rule foresaw: logged with its traceback at DEBUG, reported in one line, and
    not retried (the same record would fail the same way)."""
    logger.debug("%s: unexpected error in its transfer", product.id, exc_info=True)
    return f"unexpected error: {type(exc).__name__}: {str(exc)[:200]}"
