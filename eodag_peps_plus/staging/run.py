"""The state machine of one :meth:`Downloader.download` call: restores asked up front, batched
availability polls, transfers the moment a product is online, a per-product verdict.

Kept apart from :class:`~.scheduler.Downloader` (the entry point) so each transition reads on
its own; a :class:`Run` lives exactly as long as one call, and gets what it needs as one
:class:`Batch` value (the archive, the output, the options, the engine and callbacks).
"""

from __future__ import annotations

import collections
import concurrent.futures as cf
import dataclasses
import heapq
import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ..backends.base import Archive
from ..exceptions import (
    ArchiveRefusedError,
    AuthenticationError,
    ConfigurationError,
    ForeignOriginError,
)
from ..logs import get_logger
from ..product import Availability, Product
from .extract import file_key, name_problem, safe_dir
from .ledger import Ledger, LedgerRow, new_owner
from .on_disk import complete_copy
from .options import StagingOptions
from .progress import Progress
from .report import DownloadReport, DownloadStatus, ProductReport
from .storage import Output, local_part_key
from .transfer import (
    BAD_URL_ERRORS,
    RENEW_EVERY,
    Outcome,
    TransferJob,
    TransferResult,
    credentials_refused,
    link_problem,
    run_transfer,
)
from .workers import ProcessTransfers, TransferProcessLost, default_processes

__all__ = ["NOTE_MAX", "PREPARE_CHUNK", "Batch", "Run", "Track"]

logger = get_logger(__name__)

#: Products named in one "still waiting" line.
NOTE_MAX = 10
#: Products whose ledger rows are created or read in one transaction when a run starts.
PREPARE_CHUNK = 2000


def _clock(timestamp: float) -> str:
    return time.strftime("%H:%M:%S UTC", time.gmtime(timestamp))


@dataclasses.dataclass(frozen=True)
class Batch:
    """What one run is given: where from, where to, how, on which engine, whom to tell."""

    archive: Archive
    output: Output
    options: StagingOptions
    ledger_path: Path
    #: Set to stop transfers at the next chunk (Ctrl-C, credentials refused).
    cancel: threading.Event
    executor: cf.Executor | None = None
    on_done: Callable[[Product, str], None] | None = None
    bytes_bar: Any = None


@dataclasses.dataclass(eq=False, slots=True)
class Track:
    """One product's state in a run (``eq=False``: hashed by identity, a key of the run's
    indexes)."""

    product: Product
    status: DownloadStatus
    reason: str = ""
    availability: Availability = Availability.UNKNOWN
    restore_asked: bool = False
    restore_future: cf.Future[Any] | None = None
    transfer_future: cf.Future[TransferResult] | None = None
    not_before: float = 0.0
    failures: int = 0
    attempts: int = 0
    not_product: int = 0
    restore_errors: int = 0
    received: int = 0
    path: str | None = None
    recheck: bool = False  # an ONLINE product whose last reply said otherwise: poll it too
    last_reply: str = ""  # the archive's last reply that was not the product, in words
    elsewhere: bool = False  # another process holds the transfer claim
    previous_restore: float | None = None  # ledger value before our claim, to undo it
    restore_sent_at: float | None = None  # wall clock: when the archive got the request
    checks: tuple[str, ...] = ()  # what the saved archive was verified against
    present_before: bool = False  # complete and verified before this run: not fetched
    index: int = 0  # position in the batch: ties in the queues keep the caller's order
    furthest: int = 0  # the furthest byte a transfer of this product reached
    first_transfer: float | None = None  # monotonic: when its first transfer began
    in_ready: bool = False  # queued in the run's transfer heap
    in_restore: bool = False  # queued in the run's restore heap
    due_at: float | None = None  # ``not_before`` of this track's entry in the run's due heap

    @property
    def id(self) -> str:
        return self.product.id


class Run:
    """The state of one :meth:`Downloader.download` call.

    Every step costs O(1) per product and event, whatever the batch size: tracks are indexed
    by what they wait for (a restore slot, a transfer slot, a retry time, a poll), and each
    index is updated by :meth:`touch` when a track changes, never rebuilt by a scan.
    """

    def __init__(self, batch: Batch, tracks: list[Track], started: float) -> None:
        self.batch = batch
        self.opts = opts = batch.options
        self.tracks = tracks
        for index, t in enumerate(tracks):
            t.index = index
        self.started = started
        self.deadline = None if opts.timeout is None else started + max(opts.timeout, 0.0)
        self.ledger = Ledger(batch.ledger_path)
        self.part_key = local_part_key()  # workers on other hosts sign sidecars with it too
        self.owner = new_owner()
        self.progress = Progress(len(tracks), quiet=opts.quiet, bytes_bar=batch.bytes_bar)
        self.restore_pool = cf.ThreadPoolExecutor(opts.max_restores, thread_name_prefix="restore")
        self.own_executor = batch.executor is None
        self.executor: cf.Executor = batch.executor or self.own_engine(len(tracks))
        #: The engine hands each transfer's progress back here (a cluster's does not).
        self.in_process = isinstance(self.executor, (cf.ThreadPoolExecutor, ProcessTransfers))
        #: Transfers handed to our own pool beyond its ``max_transfers`` threads: a thread that
        #: finishes takes the next one at once instead of waiting for this loop's next turn
        #: (with small archives the loop, sharing the GIL, cannot keep up). Another executor
        #: gets exactly ``max_transfers``: its own threads are not bounded by it.
        self.queue_depth = opts.max_transfers if self.own_executor else 0
        #: When the scheduler next renews its transfer claims (the workers never do).
        self.renew_at = 0.0
        self.poll_intervals = opts.poll.intervals()
        self.next_poll = started + next(self.poll_intervals)
        self.fatal: BaseException | None = None
        self.polls = 0
        #: The first "still waiting" line comes after the first poll, then every
        #: ``report_every`` seconds.
        self.next_note = started
        self.counts: collections.Counter[str] = collections.Counter(t.status.value for t in tracks)
        #: Tracks not in a final status yet: the run ends when none is left.
        self.unfinished = sum(1 for t in tracks if not t.status.final)
        # -- indexes (see touch) --
        #: Futures in flight and their tracks (at most ``max_restores``/``max_transfers``).
        self.restoring: dict[cf.Future[Any], Track] = {}
        self.transferring: dict[cf.Future[TransferResult], Track] = {}
        #: OFFLINE tracks free to have their restore asked: ``(index, track)``, batch order.
        self.restore_heap: list[tuple[int, Track]] = []
        #: ONLINE tracks free to be transferred: ``(-size, index, track)``, largest first.
        self.ready_heap: list[tuple[int, int, Track]] = []
        #: Tracks whose retry is not due yet: ``(not_before, index, track)``.
        self.due_heap: list[tuple[float, int, Track]] = []
        #: Tracks the availability poll looks at (dicts: ordered sets).
        self.pollable: dict[Track, None] = {}
        #: OFFLINE or RESTORING tracks with no restore request in flight: what the run waits
        #: for (named in the "still waiting" lines, given up at the timeout).
        self.awaited: dict[Track, None] = {}
        #: Loop turns, and tracks looked at (indexed, taken from a queue, polled): a test
        #: checks they stay O(1) per product whatever the batch size.
        self.turns = 0
        self.visits = 0
        self.progress_at = 0.0

    def own_engine(self, batch: int) -> cf.Executor:
        """Child processes for the transfers of a big batch, else threads of this process;
        threads too, with a warning, when the children cannot start and nobody asked for
        them."""
        opts = self.opts
        processes = opts.transfer_processes
        if processes is None:
            processes = default_processes(batch, opts.max_transfers)
        if processes:
            threads = -(-opts.max_transfers // processes)
            engine = ProcessTransfers(processes, threads_per_process=threads)
            try:
                engine.start()
                return engine
            except TransferProcessLost as exc:
                engine.shutdown(wait=False)
                if opts.transfer_processes:
                    raise ConfigurationError(f"{exc}: see the error above") from None
                logger.warning("%s: the transfers run in this process", exc)
        return cf.ThreadPoolExecutor(opts.max_transfers, thread_name_prefix="transfer")

    # -- indexes ------------------------------------------------------------------------------
    def touch(self, t: Track, now: float | None = None) -> None:
        """Put ``t`` in the indexes its state calls for, after any change of its status,
        futures, ``recheck`` or ``not_before``. Heaps are lazy (an entry whose track changed
        since is dropped when it comes out); the sets are exact."""
        self.visits += 1
        status = t.status
        if now is None:
            now = time.monotonic()
        if status is DownloadStatus.ONLINE and t.transfer_future is None:
            if t.not_before > now:
                self.delay(t)
            elif not t.in_ready:
                t.in_ready = True
                heapq.heappush(self.ready_heap, (-(t.product.size or 0), t.index, t))
        elif status is DownloadStatus.OFFLINE and t.restore_future is None:
            if t.not_before > now:
                self.delay(t)
            elif not t.in_restore:
                t.in_restore = True
                heapq.heappush(self.restore_heap, (t.index, t))
        no_restore = t.restore_future is None
        if no_restore and status in (DownloadStatus.OFFLINE, DownloadStatus.RESTORING):
            self.awaited[t] = None
        else:
            self.awaited.pop(t, None)
        if (status is DownloadStatus.RESTORING and no_restore) or (
            status is DownloadStatus.ONLINE and t.recheck and t.transfer_future is None
        ):
            self.pollable[t] = None
        else:
            self.pollable.pop(t, None)

    def delay(self, t: Track) -> None:
        if t.due_at != t.not_before:
            t.due_at = t.not_before
            heapq.heappush(self.due_heap, (t.not_before, t.index, t))

    def next_due(self) -> float | None:
        """When the earliest retry is due (stale heap entries are dropped on the way)."""
        heap = self.due_heap
        while heap:
            when, _, t = heap[0]
            if t.due_at == when:
                return when
            heapq.heappop(heap)
        return None

    def promote_due(self, now: float) -> None:
        """Retries now due go back to their queue."""
        heap = self.due_heap
        while heap and heap[0][0] <= now:
            when, _, t = heapq.heappop(heap)
            self.visits += 1
            if t.due_at == when:
                t.due_at = None
                self.touch(t, now)

    def in_order(self, tracks: Iterable[Track]) -> list[Track]:
        return sorted(tracks, key=lambda t: t.index)

    # -- life cycle ---------------------------------------------------------------------------
    def close(self) -> None:
        self.batch.cancel.set()
        for future in [*self.restoring, *self.transferring]:
            future.cancel()
        self.restore_pool.shutdown(wait=True, cancel_futures=True)
        cf.wait(list(self.transferring), timeout=30)
        for t in self.transferring.values():
            self.ledger.release_transfer(t.id, self.owner)
        if self.own_executor:
            self.executor.shutdown(wait=True, cancel_futures=True)
        self.progress.counts(self.counts, force=True)
        self.progress.close()
        self.ledger.close()

    def report(self) -> DownloadReport:
        reports = [
            ProductReport(
                id=t.id,
                status=t.status,
                reason=t.reason,
                path=t.path,
                availability=t.availability,
                size=t.product.size,
                restore_requested=t.restore_asked,
                attempts=t.attempts,
                received=t.received,
                checks=t.checks,
                restore_sent_at=t.restore_sent_at,
                present_before=t.present_before,
            )
            for t in self.tracks
        ]
        return DownloadReport(reports, time.monotonic() - self.started)

    def set(self, t: Track, status: DownloadStatus, reason: str) -> None:
        if status is not t.status or reason != t.reason:
            logger.info("%s: %s -> %s (%s)", t.id, t.status.value, status.value, reason)
        was_final = t.status.final
        self.counts[t.status.value] -= 1
        self.counts[status.value] += 1
        t.status, t.reason = status, reason
        if status.final and not was_final:
            self.unfinished -= 1
            self.progress.finished(ok=status is DownloadStatus.DONE)
            if status is not DownloadStatus.DONE:
                self.ledger.set_status(t.id, status, reason)
        elif was_final and not status.final:
            self.unfinished += 1
        self.progress.counts(self.counts)
        self.touch(t)

    # -- start --------------------------------------------------------------------------------
    def prepare(self) -> None:
        """Skip what is on disk already; take every other product's state from the catalogue
        record and the ledger (a restore asked by an earlier run is not asked again).

        The ledger rows are created and read a chunk of products per transaction, and the
        output folder is listed once: only products with something on disk are looked at."""
        names: dict[str, str] = {}
        folder = self.batch.output.folder  # an object store (None) is asked per product
        listing = None if folder is None else _listing(folder)
        for start in range(0, len(self.tracks), PREPARE_CHUNK):
            chunk: list[Track] = []
            for t in self.tracks[start : start + PREPARE_CHUNK]:
                if self.usable(t, names):
                    chunk.append(t)
            rows = self.ledger.ensure_many([(t.id, t.product.size, t.product.md5) for t in chunk])
            for t in chunk:
                self.prepare_one(t, rows[t.id], listing)

    def usable(self, t: Track, names: dict[str, str]) -> bool:
        """Whether ``t`` can be saved at all (a bad name or link fails this product alone)."""
        product = t.product
        problem = name_problem(product.id)
        first = names.setdefault(file_key(product.id), product.id)
        if problem is None and first != product.id:
            problem = (
                f"differs from {first!r} only by letter case or Unicode form (the same file "
                "on Windows and macOS)"
            )
        if problem is not None:  # this product fails alone; the batch goes on
            shown = product.id if len(product.id) <= 80 else product.id[:80] + "..."
            self.set(t, DownloadStatus.FAILED, f"cannot be saved: its name {problem}")
            logger.warning("%r: refused as a file name (%s)", shown, problem)
            return False
        problem = link_problem(product.download_url)
        if problem is not None:
            self.set(t, DownloadStatus.FAILED, problem)
            return False
        return True

    def prepare_one(self, t: Track, row: LedgerRow, listing: frozenset[str] | None) -> None:
        product = t.product
        t.availability = product.availability
        on_disk = None
        if listing is None or _may_be_on_disk(product.id, listing):
            on_disk = self.complete_on_disk(t, row)
        if on_disk is not None:
            t.path = on_disk
            checks = ", ".join(t.checks) or "folder contents"
            t.present_before = True
            self.set(
                t, DownloadStatus.DONE, f"already {self.batch.output.where} (verified: {checks})"
            )
            return
        if row.status is DownloadStatus.DONE:  # the file was removed or replaced: fetch again
            self.ledger.set_status(product.id, DownloadStatus.OFFLINE, "file missing")
        # Only a request the archive acknowledged counts: an intent recorded by a run
        # killed before sending it is asked again now.
        recent = row.restore_sent_within(self.opts.restore_retry_after)
        if recent:
            t.restore_sent_at = row.restore_sent_at
        if product.availability is Availability.ONLINE:
            self.set(t, DownloadStatus.ONLINE, "online in the catalogue")
        elif product.availability is Availability.STAGING or recent:
            t.restore_asked = recent
            self.set(t, DownloadStatus.RESTORING, "restore already requested")
        else:
            self.set(t, DownloadStatus.OFFLINE, f"{product.availability.value} in the catalogue")

    def complete_on_disk(self, t: Track, row: LedgerRow) -> str | None:
        """The path of a complete, verified copy of ``t`` already on disk, if any."""
        found = complete_copy(
            t.product,
            (self.batch.output.folder or self.batch.output),
            self.ledger,
            row,
            extract=self.opts.extract,
            delete_archive=self.opts.delete_archive,
        )
        if found is None:
            return None
        t.checks = found.checks
        return found.path

    # -- the loop -----------------------------------------------------------------------------
    def loop(self) -> None:
        self.prepare()
        try:
            while True:
                self.turns += 1
                self.reap()
                if self.fatal is not None:
                    raise self.fatal
                if self.batch.cancel.is_set():
                    self.stop_interrupted()
                    return
                now = time.monotonic()
                expired = self.deadline is not None and now >= self.deadline
                with self.ledger.batch():  # the claims of this turn: one transaction
                    self.promote_due(now)
                    self.dispatch_restores()
                    if expired:
                        self.expire()
                    if not expired and now >= self.next_poll and self.poll_wanted():
                        self.poll()
                        now = time.monotonic()
                    if self.polls and not expired:
                        self.note_waiting(now)
                    self.dispatch_transfers(now)
                busy = self.active_futures()
                if not busy and not self.unfinished:
                    return
                self.wait(busy, now, expired)
        except KeyboardInterrupt:
            logger.warning("interrupted: part files and the ledger are kept; run again to resume")
            raise

    def stop_interrupted(self) -> None:
        """``cancel`` was set: let running transfers stop at their next chunk and say so."""
        cf.wait([f for f in self.active_futures()], timeout=30)
        self.reap()
        for t in self.tracks:
            if not t.status.final:
                self.set(t, t.status, f"interrupted ({t.reason}); run again to continue")

    def active_futures(self) -> list[cf.Future[Any]]:
        return [*self.restoring, *self.transferring]

    def wait(self, busy: list[cf.Future[Any]], now: float, expired: bool) -> None:
        """Sleep until something finishes, a poll is due, a retry is due or the deadline."""
        wake = [now + 5.0]
        if not expired and self.poll_wanted():
            wake.append(self.next_poll)
        # Retries that become due (ready ones already have a slot, or wait for one: a finishing
        # transfer wakes us, so never spin while all slots are busy).
        due = self.next_due()
        if due is not None:
            wake.append(due)
        if self.deadline is not None and not expired:
            wake.append(self.deadline)
        delay = max(0.0, min(wake) - time.monotonic())
        if busy:
            cf.wait(busy, timeout=delay, return_when=cf.FIRST_COMPLETED)
        elif delay > 0:
            time.sleep(delay)

    def expire(self) -> None:
        """Timeout: stop waiting for restores, say why for each product still waiting."""
        limit = self.opts.timeout or 0.0
        span = f"{limit:g} s" if limit < 120 else f"{limit / 60:g} min"
        for t in self.in_order(self.awaited):
            self.set(
                t,
                DownloadStatus.UNAVAILABLE,
                f"{self.why_waiting(t)} when the timeout ({span}) expired; the restore request "
                "is remembered: run again later",
            )

    def why_waiting(self, t: Track) -> str:
        """Why a product is not on disk yet, with when its restore was asked."""
        if t.restore_sent_at is not None:
            asked = f"requested at {_clock(t.restore_sent_at)}"
        else:
            asked = "requested" if t.restore_asked else "not requested yet"
        # Only what the archive said: its availability answer, and its last reply.
        if t.availability is Availability.ONLINE:
            said = f": {t.last_reply}" if t.last_reply else ""
            return (
                f"the archive says it is online, but its download reply was not the product{said}"
            )
        if t.availability is Availability.UNKNOWN:
            return (
                f"the archive does not say where it is (restore {asked}; storage 'unknown' "
                "or not in its availability reply) and it has not come online (ask the "
                "provider's support)"
            )
        if t.status is DownloadStatus.OFFLINE and not t.restore_asked:
            if t.restore_errors:
                return "still offline: the restore request could not be sent"
            return "still offline: restore not requested yet"
        if t.availability is Availability.STAGING:
            if t.restore_sent_at is None and not t.restore_asked:  # staging before we asked
                return "the server says it is restoring (started on its side, no request needed)"
            return f"the server says it is restoring (restore {asked})"
        replied = f" (its reply: {t.last_reply})" if t.last_reply else ""
        return f"restore {asked}; the archive still says it is not online{replied}"

    def note_waiting(self, now: float) -> None:
        """Tell the user early, then every ``report_every`` seconds, which products the run is
        still waiting for and why: not only at the timeout."""
        if now < self.next_note:
            return
        self.next_note = now + self.opts.report_every
        count = len(self.awaited)
        if not count:
            return
        self.visits += count
        first = heapq.nsmallest(NOTE_MAX, self.awaited, key=lambda t: t.index)
        shown = [f"{t.id}: {self.why_waiting(t)}" for t in first]
        if count > NOTE_MAX:
            shown.append(f"... and {count - NOTE_MAX} more")
        left = ""
        if self.deadline is not None:
            left = f"; giving up in {max(0.0, self.deadline - now):.0f} s"
        text = f"still waiting for {count} product(s){left}:\n  " + "\n  ".join(shown)
        logger.info("%s", text)
        self.progress.note(text)

    # -- restores -----------------------------------------------------------------------------
    def dispatch_restores(self) -> None:
        """Ask restores of OFFLINE products, in batch order, while a restore slot is free."""
        running = len(self.restoring)
        now = time.monotonic()
        passed: list[Track] = []  # taken out of the queue but not asked: back after the turn
        while running < self.opts.max_restores and self.restore_heap:
            _, t = heapq.heappop(self.restore_heap)
            t.in_restore = False
            self.visits += 1
            if t.status is not DownloadStatus.OFFLINE or t.restore_future is not None:
                passed.append(t)  # stale: its state changed since it was queued
                continue
            if t.not_before > now:
                passed.append(t)
                continue
            previous = self.ledger.get(t.id)
            if not self.ledger.claim_restore(
                t.id, retry_after=self.opts.restore_retry_after, owner=self.owner
            ):
                t.restore_asked = True
                if previous is not None:
                    t.restore_sent_at = previous.restore_sent_at
                self.set(t, DownloadStatus.RESTORING, "restore already requested (ledger)")
                continue
            asked_before = previous.restore_asked_at if previous is not None else None
            t.restore_future = self.restore_pool.submit(
                self.batch.archive.request_restore, t.product
            )
            self.restoring[t.restore_future] = t
            t.restore_asked = True
            t.previous_restore = asked_before
            self.set(t, DownloadStatus.RESTORING, "restore asked, no answer yet")
            running += 1
        for t in passed:
            self.touch(t, now)

    def restore_done(self, t: Track, future: cf.Future[Any]) -> None:
        t.restore_future = None
        try:
            revealed = future.result()
        except Exception as exc:
            self.restore_failed(t, exc)
            return
        self.ledger.confirm_restore(t.id)
        t.restore_sent_at = time.time()
        if revealed is Availability.ONLINE:
            t.availability = Availability.ONLINE
            self.set(t, DownloadStatus.ONLINE, "online (the archive served data)")
            return
        if revealed is not None and t.availability is not Availability.UNKNOWN:
            t.availability = revealed
        if t.status is DownloadStatus.RESTORING:
            said = "accepted (HTTP 202)" if revealed is Availability.STAGING else "sent"
            self.set(
                t, DownloadStatus.RESTORING, f"restore request {said}; waiting for the archive"
            )

    def restore_failed(self, t: Track, exc: Exception) -> None:
        """A restore request that raised: the account refused stops the run; a link refused or
        unusable fails this product at once; anything else (network, server) is retried."""
        if isinstance(exc, AuthenticationError) and credentials_refused(
            exc, self.batch.archive, t.product
        ):
            self.fatal = exc
            return
        self.ledger.unclaim_restore(t.id, t.previous_restore)  # it may not have landed
        if isinstance(exc, ArchiveRefusedError):  # settled now: asking again changes nothing
            self.set(t, DownloadStatus.REFUSED, str(exc))
            return
        if isinstance(exc, (AuthenticationError, ForeignOriginError)):
            self.set(t, DownloadStatus.FAILED, f"restore request refused: {exc}")
            return
        if isinstance(exc, BAD_URL_ERRORS):
            self.set(t, DownloadStatus.FAILED, f"unusable download link ({exc})")
            return
        t.restore_errors += 1
        if t.restore_errors >= self.opts.max_attempts:
            self.set(
                t, DownloadStatus.FAILED, f"restore request failed {t.restore_errors} times: {exc}"
            )
            return
        t.restore_asked = False
        t.not_before = time.monotonic() + self.backoff(t.restore_errors)
        self.set(t, DownloadStatus.OFFLINE, f"restore request failed ({exc}); retrying")

    # -- polling ------------------------------------------------------------------------------
    def waiting(self) -> list[Track]:
        """The products the next availability poll asks about, in batch order."""
        return self.in_order(self.pollable)

    def poll_wanted(self) -> bool:
        return bool(self.pollable)

    def poll(self) -> None:
        """One batched availability look-up for every waiting product."""
        waiting = self.waiting()
        self.polls += 1
        self.visits += len(waiting)
        self.ledger.commit()  # no lock held while the catalogue answers
        try:
            found = self.batch.archive.availability([t.product for t in waiting])
        except AuthenticationError as exc:
            self.fatal = exc
            return
        except Exception as exc:  # catalogue hiccup: keep waiting, poll later
            logger.warning("availability look-up failed (%s); retrying later", exc)
            found = {}
        now = time.monotonic()
        self.next_poll = now + next(self.poll_intervals)
        with self.ledger.batch():
            for t in waiting:
                availability = found.get(t.id)
                if availability is None:
                    continue
                self.polled(t, availability)
                self.touch(t)

    def polled(self, t: Track, availability: Availability) -> None:
        t.availability = availability
        if availability is Availability.ONLINE:
            t.recheck = False
            if t.status is not DownloadStatus.ONLINE:
                self.set(t, DownloadStatus.ONLINE, "restored: online")
        elif t.status is DownloadStatus.ONLINE:
            # The archive said "not yet" and the catalogue agrees: back to waiting.
            t.recheck = False
            self.after_not_online(t, "the catalogue says it is not online")
        elif availability is Availability.OFFLINE and self.restore_stale(t):
            self.set(t, DownloadStatus.OFFLINE, "still on tape long after the restore request")

    def restore_stale(self, t: Track) -> bool:
        row = self.ledger.get(t.id)
        return row is None or not row.restore_sent_within(self.opts.restore_retry_after)

    def after_not_online(self, t: Track, reason: str) -> None:
        """The archive did not serve the product: wait for a restore."""
        if self.batch.archive.download_starts_restore:
            if not t.restore_asked:
                self.ledger.record_restore(t.id)
                t.restore_sent_at = time.time()
            t.restore_asked = True
            self.set(t, DownloadStatus.RESTORING, reason)
        elif t.restore_asked and not self.restore_stale(t):
            self.set(t, DownloadStatus.RESTORING, reason)
        else:
            self.set(t, DownloadStatus.OFFLINE, reason)
        self.next_poll = min(self.next_poll, time.monotonic() + self.opts.poll_initial)

    # -- transfers ----------------------------------------------------------------------------
    def dispatch_transfers(self, now: float) -> None:
        """Start the largest ready products while a transfer slot is free."""
        running = len(self.transferring)
        if running and now >= self.renew_at:  # workers never write the ledger
            self.ledger.renew_all(self.owner, lease=self.opts.lease)
            self.renew_at = now + RENEW_EVERY
        limit = self.opts.max_transfers + self.queue_depth
        if running >= limit:
            return
        passed: list[Track] = []  # taken out of the queue but not started: back after the turn
        while running < limit and self.ready_heap:
            _, _, t = heapq.heappop(self.ready_heap)
            t.in_ready = False
            self.visits += 1
            if (
                t.status is not DownloadStatus.ONLINE
                or t.transfer_future is not None
                or t.not_before > now
            ):
                passed.append(t)  # stale: its state changed since it was queued
                continue
            if t.recheck and t.not_before <= now:
                t.recheck = False
            if not self.ledger.claim_transfer(t.id, self.owner, lease=self.opts.lease):
                self.held_elsewhere(t)
                passed.append(t)
                continue
            t.elsewhere = False
            row = self.ledger.get(t.id)
            job = TransferJob(
                product=t.product,
                archive=self.batch.archive,
                output=self.batch.output,
                validator=row.validator if row is not None else None,
                owner=self.owner,
                extract=self.opts.extract,
                delete_archive=self.opts.delete_archive,
                stall_timeout=self.opts.stall_timeout,
                min_rate=self.opts.min_rate,
                rate_window=self.opts.rate_window,
                progress=self.progress.transfer if self.in_process else None,
                cancel=self.batch.cancel,  # a cluster engine passes it on to its workers
                part_key=self.part_key,
            )
            t.attempts += 1
            if t.first_transfer is None:
                t.first_transfer = time.monotonic()
            t.transfer_future = self.executor.submit(run_transfer, job)
            self.transferring[t.transfer_future] = t
            self.set(t, DownloadStatus.DOWNLOADING, f"transfer attempt {t.attempts}")
            running += 1
        for t in passed:
            self.touch(t, now)

    def held_elsewhere(self, t: Track) -> None:
        """Another process is fetching it: check back later whether it finished."""
        row = self.ledger.get(t.id)
        if row is not None and row.status is DownloadStatus.DONE:
            path = self.complete_on_disk(t, row)
            if path is not None:
                t.path = path
                self.set(t, DownloadStatus.DONE, "downloaded by another process")
                return
            self.ledger.set_status(t.id, DownloadStatus.OFFLINE, "file missing")
            t.not_before = 0.0  # not on disk after all: claim it at the next turn
            return
        t.elsewhere = True
        t.not_before = time.monotonic() + min(self.opts.poll.maximum, 2.0)
        if t.reason != "being downloaded by another process":
            self.set(t, DownloadStatus.ONLINE, "being downloaded by another process")

    def transfer_done(self, t: Track, future: cf.Future[TransferResult]) -> None:
        t.transfer_future = None
        if self.in_process:
            self.progress.end_transfer(t.id)
        try:
            result = future.result()
        except cf.CancelledError:
            self.ledger.release_transfer(t.id, self.owner)
            self.set(t, DownloadStatus.ONLINE, "interrupted")
            return
        except Exception as exc:  # the executor itself failed (a dask worker died...)
            result = TransferResult(t.id, Outcome.RETRY, f"transfer task failed: {exc!r}")
            self.ledger.release_transfer(t.id, self.owner)  # the part's sidecar still holds
        else:  # the worker reports, the scheduler alone writes the ledger
            self.ledger.record_transfer(
                t.id,
                self.owner,
                validator=result.validator,
                file_size=result.file_size,
                mtime_ns=result.file_mtime_ns,
                extracted=result.extracted is not None,
            )
        t.received += result.received
        outcome = result.outcome
        now = time.monotonic()
        if outcome is Outcome.DONE:
            t.path = result.path
            t.checks = result.checks
            resumed = f", resumed at byte {result.resumed_from}" if result.resumed_from else ""
            self.set(t, DownloadStatus.DONE, f"downloaded, {result.reason}{resumed}")
            if self.batch.on_done is not None and t.path is not None:
                self.batch.on_done(t.product, t.path)
        elif outcome is Outcome.AUTH:
            self.fatal = AuthenticationError(result.reason, result.status_code)
            self.set(t, DownloadStatus.FAILED, result.reason)
        elif outcome is Outcome.CANCELLED:
            self.set(t, DownloadStatus.ONLINE, "interrupted")
        elif outcome is Outcome.FAILED:
            self.set(t, DownloadStatus.FAILED, result.reason)
        elif outcome is Outcome.REFUSED:
            self.set(t, DownloadStatus.REFUSED, result.reason)
        elif outcome is Outcome.NOT_PRODUCT:
            t.not_product += 1
            t.last_reply = result.reason
            online = t.availability is Availability.ONLINE
            if t.not_product > self.opts.max_attempts:
                says = "says it is online but " if online else ""
                self.set(
                    t,
                    DownloadStatus.FAILED,
                    f"the archive {says}answered something else than the product "
                    f"{t.not_product} times (last: {result.reason})",
                )
                return
            if online:
                # Not "on tape": the archive says online and sent something else. Ask again
                # soon, and let the next poll tell if it went offline meanwhile.
                delay = self.backoff(t.not_product)
                t.not_before, t.recheck = now + delay, True
                self.next_poll = min(self.next_poll, now + min(delay, self.opts.poll_initial))
                self.set(
                    t,
                    DownloadStatus.ONLINE,
                    f"the archive says it is online, but its reply was not the product "
                    f"({result.reason}); asking again in {delay:.1f} s",
                )
                return
            self.after_not_online(t, f"not served yet ({result.reason})")
        elif outcome is Outcome.CORRUPT:
            t.failures += 1
            if t.failures >= self.opts.max_attempts:
                self.set(t, DownloadStatus.FAILED, f"{result.reason} ({t.failures} attempts)")
                return
            t.not_before = now + self.backoff(t.failures)
            self.set(t, DownloadStatus.ONLINE, f"{result.reason}; downloading again")
        else:  # RETRY
            progressed = made_progress(t, result, self.opts.min_rate, self.opts.rate_window)
            if not progressed or result.stalled:  # a drip makes progress but must end
                t.failures += 1
            # Attempts that got further are not the same failure again (a link that drops on
            # every try still ends: the part only grows, up to the catalogue size); without
            # a size, the number of attempts is the bound.
            endless = t.product.size is None and t.attempts >= self.opts.max_attempts * 4
            if t.failures >= self.opts.max_attempts or endless:
                self.set(
                    t,
                    DownloadStatus.FAILED,
                    f"{result.reason} (gave up after {t.attempts} attempts)",
                )
                return
            if result.retry_after is not None:
                delay = min(result.retry_after, self.opts.backoff_max)
            else:
                delay = 0.0 if progressed else self.backoff(t.failures)
            t.not_before = now + delay
            if result.status_code is not None:
                t.recheck = True  # a 5xx may also mean "not online": let the poll tell
                self.next_poll = min(self.next_poll, now + min(delay, self.opts.poll_initial))
            self.set(t, DownloadStatus.ONLINE, f"{result.reason}; retrying in {delay:.1f} s")

    def backoff(self, failures: int) -> float:
        return self.opts.retry.delay(failures)

    def reap(self) -> None:
        """Handle the requests and transfers that finished (only the few in flight are looked
        at); their ledger writes go in one transaction."""
        restores = [f for f in self.restoring if f.done()]
        transfers = [f for f in self.transferring if f.done()]
        if not restores and not transfers:
            return
        with self.ledger.batch():
            for future in restores:
                t = self.restoring.pop(future)
                self.restore_done(t, future)
                self.touch(t)
            for transfer in transfers:
                t = self.transferring.pop(transfer)
                self.transfer_done(t, transfer)
                self.touch(t)


def made_progress(t: Track, result: TransferResult, min_rate: float, window: float) -> bool:
    """Whether a failed attempt got further into the archive than any before it, at the
    rate a transfer must keep (``--min-rate`` over ``--rate-window``, counted over all the
    product's attempts): a restart that gets no further, or resumes that each add a few bytes
    and let the product crawl, are the same failure again."""
    end = result.resumed_from + result.received
    if result.received <= 0 or end <= t.furthest:
        return False
    t.furthest = end
    elapsed = time.monotonic() - (t.first_transfer or 0.0)
    return min_rate <= 0 or elapsed < window or end >= min_rate * elapsed


def _listing(folder: Path) -> frozenset[str] | None:
    """The names in the output folder (as :func:`file_key` compares them; a leftover
    extraction folder counts for its product), or ``None`` if it cannot be listed."""
    try:
        names = os.listdir(folder)
    except OSError:
        return None
    keys: set[str] = set()
    for name in names:
        if name.startswith(".") and ".extracting-" in name:
            name = name[1 : name.rindex(".extracting-")]
        keys.add(file_key(name))
    return frozenset(keys)


def _may_be_on_disk(product_id: str, listing: frozenset[str]) -> bool:
    """Whether the output folder holds anything of this product (an archive, a ``.SAFE``
    folder, an extraction leftover): only then is it looked at closely. The name passed
    :func:`name_problem`, so it is its own safe file name."""
    return file_key(f"{product_id}.zip") in listing or file_key(safe_dir(product_id)) in listing
