"""The state one batch run shares between its lanes (:mod:`.lanes`): the tracks, the indexes
of what each waits for, the ledger, the counts, and the few steps every lane takes.

Every step costs O(1) per product and event, whatever the batch size: tracks are indexed by
what they wait for (a restore slot, a transfer slot, a retry time, a poll), and each index is
updated by :meth:`RunState.touch` when a track changes, never rebuilt by a scan.
"""

from __future__ import annotations

import collections
import concurrent.futures as cf
import dataclasses
import heapq
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ..backends.base import Archive
from ..exceptions import (
    ConfigurationError,
)
from ..logs import get_logger
from ..product import Availability, Product
from .ledger import Ledger, LedgerRow, new_owner
from .on_disk import complete_copy
from .options import StagingOptions
from .progress import Progress
from .report import DownloadStatus
from .storage import Output, local_part_key
from .transfer import (
    TransferResult,
)
from .workers import ProcessTransfers, TransferProcessLost, default_processes

__all__ = ["Batch", "RunState", "Track"]

#: The run's logger, whichever module holds the step: users filter one name.
logger = get_logger("eodag_peps_plus.staging.run")


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
    #: Told of each product that ends without a file (refused, failed, unavailable), at once:
    #: a fallback takes it over while the batch goes on.
    on_settled: Callable[[Product, DownloadStatus, str], None] | None = None
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


class RunState:
    """The state of one :meth:`Downloader.download` call, and the steps all lanes share."""

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
        #: The shortest and longest restores seen ending in this run (seconds from the
        #: request to the poll that found the product online), ``None`` before the first.
        self.restore_span: tuple[float, float] | None = None
        #: When to poll sooner than ``next_poll`` if a transfer slot is free (``None``: no
        #: restore is due).
        self.fast_poll_at: float | None = None
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

    # -- shared steps ------------------------------------------------------------------------
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
                if self.batch.on_settled is not None:
                    self.batch.on_settled(t.product, status, reason)
        elif was_final and not status.final:
            self.unfinished += 1
        self.progress.counts(self.counts)
        self.touch(t)

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

    def backoff(self, failures: int) -> float:
        return self.opts.retry.delay(failures)
