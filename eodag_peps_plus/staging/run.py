"""The state machine of one :meth:`Downloader.download` call: restores asked up front, batched
availability polls, transfers the moment a product is online, a per-product verdict.

Kept apart from :class:`~.scheduler.Downloader` (the settings and the entry point) so each
transition reads on its own; the ``_Run`` object lives exactly as long as one call.
"""

from __future__ import annotations

import collections
import concurrent.futures as cf
import dataclasses
import logging
import time
from typing import TYPE_CHECKING, Any

from ..exceptions import AuthenticationError, ForeignOriginError
from ..product import Availability, Product
from .extract import file_key, name_problem
from .ledger import Ledger, LedgerRow, new_owner
from .on_disk import complete_copy
from .progress import Progress
from .report import DownloadReport, DownloadStatus, ProductReport
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

if TYPE_CHECKING:
    from .scheduler import Downloader

logger = logging.getLogger(__name__)

#: Products named in one "still waiting" line.
NOTE_MAX = 10


def _clock(timestamp: float) -> str:
    return time.strftime("%H:%M:%S UTC", time.gmtime(timestamp))


@dataclasses.dataclass
class _Track:
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
    elsewhere: bool = False  # another process holds the transfer claim
    previous_restore: float | None = None  # ledger value before our claim, to undo it
    restore_sent_at: float | None = None  # wall clock: when the archive got the request
    checks: tuple[str, ...] = ()  # what the saved archive was verified against

    @property
    def id(self) -> str:
        return self.product.id


class _Run:
    """The state of one :meth:`Downloader.download` call."""

    def __init__(self, cfg: Downloader, tracks: list[_Track], started: float) -> None:
        self.cfg = cfg
        self.tracks = tracks
        self.started = started
        self.deadline = None if cfg.timeout is None else started + max(cfg.timeout, 0.0)
        self.ledger = Ledger(cfg.ledger_path)
        self.owner = new_owner()
        self.progress = Progress(len(tracks), quiet=cfg.quiet, bytes_bar=cfg.bytes_bar)
        self.restore_pool = cf.ThreadPoolExecutor(cfg.max_restores, thread_name_prefix="restore")
        self.own_executor = cfg.executor is None
        self.executor: cf.Executor = cfg.executor or cf.ThreadPoolExecutor(
            cfg.max_transfers, thread_name_prefix="transfer"
        )
        self.in_process = isinstance(self.executor, cf.ThreadPoolExecutor)
        self.interval = cfg.poll_initial
        self.next_poll = started + cfg.poll_initial
        self.fatal: BaseException | None = None
        self.polls = 0
        #: The first "still waiting" line comes after the first poll, then every
        #: ``report_every`` seconds.
        self.next_note = started
        self.counts: collections.Counter[str] = collections.Counter(t.status.value for t in tracks)

    # -- life cycle ---------------------------------------------------------------------------
    def close(self) -> None:
        self.cfg.cancel.set()
        for t in self.tracks:
            for future in (t.restore_future, t.transfer_future):
                if future is not None:
                    future.cancel()
        self.restore_pool.shutdown(wait=True, cancel_futures=True)
        pending = [t.transfer_future for t in self.tracks if t.transfer_future is not None]
        cf.wait([f for f in pending if f is not None], timeout=30)
        for t in self.tracks:
            if t.transfer_future is not None:
                self.ledger.release_transfer(t.id, self.owner)
        if self.own_executor:
            self.executor.shutdown(wait=True, cancel_futures=True)
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
            )
            for t in self.tracks
        ]
        return DownloadReport(reports, time.monotonic() - self.started)

    def set(self, t: _Track, status: DownloadStatus, reason: str) -> None:
        if status is not t.status or reason != t.reason:
            logger.info("%s: %s -> %s (%s)", t.id, t.status.value, status.value, reason)
        was_final = t.status.final
        self.counts[t.status.value] -= 1
        self.counts[status.value] += 1
        t.status, t.reason = status, reason
        if status.final and not was_final:
            self.progress.finished(ok=status is DownloadStatus.DONE)
            if status is not DownloadStatus.DONE:
                self.ledger.set_status(t.id, status.value, reason)
        self.progress.counts(self.counts)

    # -- start --------------------------------------------------------------------------------
    def prepare(self) -> None:
        """Skip what is on disk already; take every other product's state from the catalogue
        record and the ledger (a restore asked by an earlier run is not asked again)."""
        names: dict[str, str] = {}
        for t in self.tracks:
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
                continue
            problem = link_problem(product.download_url)
            if problem is not None:
                self.set(t, DownloadStatus.FAILED, problem)
                continue
            row = self.ledger.ensure(product.id, product.size, product.md5)
            t.availability = product.availability
            on_disk = self.complete_on_disk(t, row)
            if on_disk is not None:
                t.path = on_disk
                checks = ", ".join(t.checks) or "folder present"
                self.set(t, DownloadStatus.DONE, f"already on disk (verified: {checks})")
                continue
            if row.status == "done":  # the file was removed or replaced since: fetch again
                self.ledger.set_status(product.id, "offline", "file missing")
            # Only a request the archive acknowledged counts: an intent recorded by a run
            # killed before sending it is asked again now.
            recent = row.restore_sent_within(self.cfg.restore_retry_after)
            if recent:
                t.restore_sent_at = row.restore_sent_at
            if product.availability is Availability.ONLINE:
                self.set(t, DownloadStatus.ONLINE, "online in the catalogue")
            elif product.availability is Availability.STAGING or recent:
                t.restore_asked = recent
                self.set(t, DownloadStatus.RESTORING, "restore already requested")
            else:
                self.set(
                    t, DownloadStatus.OFFLINE, f"{product.availability.value} in the catalogue"
                )

    def complete_on_disk(self, t: _Track, row: LedgerRow) -> str | None:
        """The path of a complete, verified copy of ``t`` already on disk, if any."""
        found = complete_copy(
            t.product,
            self.cfg.output_dir,
            self.ledger,
            row,
            extract=self.cfg.extract,
            delete_archive=self.cfg.delete_archive,
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
                self.reap()
                if self.fatal is not None:
                    raise self.fatal
                if self.cfg.cancel.is_set():
                    self.stop_interrupted()
                    return
                now = time.monotonic()
                expired = self.deadline is not None and now >= self.deadline
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
                if not busy and not any(not t.status.final for t in self.tracks):
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
        futures: list[cf.Future[Any]] = []
        for t in self.tracks:
            if t.restore_future is not None:
                futures.append(t.restore_future)
            if t.transfer_future is not None:
                futures.append(t.transfer_future)
        return futures

    def wait(self, busy: list[cf.Future[Any]], now: float, expired: bool) -> None:
        """Sleep until something finishes, a poll is due, a retry is due or the deadline."""
        wake = [now + 5.0]
        if not expired and self.poll_wanted():
            wake.append(self.next_poll)
        # Retries that become due (ready ones already have a slot, or wait for one: a finishing
        # transfer wakes us, so never spin while all slots are busy).
        for t in self.tracks:
            waiting_retry = (t.status is DownloadStatus.ONLINE and t.transfer_future is None) or (
                t.status is DownloadStatus.OFFLINE and t.restore_future is None
            )
            if waiting_retry and t.not_before > now:
                wake.append(t.not_before)
        if self.deadline is not None and not expired:
            wake.append(self.deadline)
        delay = max(0.0, min(wake) - time.monotonic())
        if busy:
            cf.wait(busy, timeout=delay, return_when=cf.FIRST_COMPLETED)
        elif delay > 0:
            time.sleep(delay)

    def expire(self) -> None:
        """Timeout: stop waiting for restores, say why for each product still waiting."""
        limit = self.cfg.timeout or 0.0
        span = f"{limit:g} s" if limit < 120 else f"{limit / 60:g} min"
        for t in self.tracks:
            if t.status not in (DownloadStatus.OFFLINE, DownloadStatus.RESTORING):
                continue
            if t.restore_future is not None:
                continue
            self.set(
                t,
                DownloadStatus.UNAVAILABLE,
                f"{self.why_waiting(t)} when the timeout ({span}) expired; the restore request "
                "is remembered: run again later",
            )

    def why_waiting(self, t: _Track) -> str:
        """Why a product is not on disk yet, with when its restore was asked."""
        if t.restore_sent_at is not None:
            asked = f"requested at {_clock(t.restore_sent_at)}"
        else:
            asked = "requested" if t.restore_asked else "not requested yet"
        if t.availability is Availability.UNKNOWN:
            return (
                f"storage mode 'unknown' (restore {asked}): the archive does not know where "
                "this product is and it has not come online (ask the provider's support)"
            )
        if t.status is DownloadStatus.OFFLINE and not t.restore_asked:
            if t.restore_errors:
                return "still offline: the restore request could not be sent"
            return "still offline: restore not requested yet"
        if t.availability is Availability.STAGING:
            return f"restore under way ({asked}, status staging) but not finished"
        return f"still on tape (restore {asked}, status {t.availability.value})"

    def note_waiting(self, now: float) -> None:
        """Tell the user early, then every ``report_every`` seconds, which products the run is
        still waiting for and why: not only at the timeout."""
        if now < self.next_note:
            return
        self.next_note = now + self.cfg.report_every
        waiting = [
            t
            for t in self.tracks
            if t.status in (DownloadStatus.OFFLINE, DownloadStatus.RESTORING)
            and t.restore_future is None
        ]
        if not waiting:
            return
        shown = [f"{t.id}: {self.why_waiting(t)}" for t in waiting[:NOTE_MAX]]
        if len(waiting) > NOTE_MAX:
            shown.append(f"... and {len(waiting) - NOTE_MAX} more")
        left = ""
        if self.deadline is not None:
            left = f"; giving up in {max(0.0, self.deadline - now):.0f} s"
        text = f"still waiting for {len(waiting)} product(s){left}:\n  " + "\n  ".join(shown)
        logger.info("%s", text)
        self.progress.note(text)

    # -- restores -----------------------------------------------------------------------------
    def dispatch_restores(self) -> None:
        running = sum(1 for t in self.tracks if t.restore_future is not None)
        now = time.monotonic()
        for t in self.tracks:
            if running >= self.cfg.max_restores:
                return
            if t.status is not DownloadStatus.OFFLINE or t.restore_future is not None:
                continue
            if t.not_before > now:
                continue
            previous = self.ledger.get(t.id)
            if not self.ledger.claim_restore(
                t.id, retry_after=self.cfg.restore_retry_after, owner=self.owner
            ):
                t.restore_asked = True
                if previous is not None:
                    t.restore_sent_at = previous.restore_sent_at
                self.set(t, DownloadStatus.RESTORING, "restore already requested (ledger)")
                continue
            asked_before = previous.restore_asked_at if previous is not None else None
            t.restore_future = self.restore_pool.submit(self.cfg.backend.request_restore, t.product)
            t.restore_asked = True
            t.previous_restore = asked_before
            self.set(t, DownloadStatus.RESTORING, "restore requested")
            running += 1

    def restore_done(self, t: _Track, future: cf.Future[Any]) -> None:
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
        elif revealed is not None and t.availability is not Availability.UNKNOWN:
            t.availability = revealed

    def restore_failed(self, t: _Track, exc: Exception) -> None:
        """A restore request that raised: the account refused stops the run; a link refused or
        unusable fails this product at once; anything else (network, server) is retried."""
        if isinstance(exc, AuthenticationError) and credentials_refused(
            exc, self.cfg.backend, t.product
        ):
            self.fatal = exc
            return
        self.ledger.unclaim_restore(t.id, t.previous_restore)  # it may not have landed
        if isinstance(exc, (AuthenticationError, ForeignOriginError)):
            self.set(t, DownloadStatus.FAILED, f"restore request refused: {exc}")
            return
        if isinstance(exc, BAD_URL_ERRORS):
            self.set(t, DownloadStatus.FAILED, f"unusable download link ({exc})")
            return
        t.restore_errors += 1
        if t.restore_errors >= self.cfg.max_attempts:
            self.set(
                t, DownloadStatus.FAILED, f"restore request failed {t.restore_errors} times: {exc}"
            )
            return
        t.restore_asked = False
        t.not_before = time.monotonic() + self.backoff(t.restore_errors)
        self.set(t, DownloadStatus.OFFLINE, f"restore request failed ({exc}); retrying")

    # -- polling ------------------------------------------------------------------------------
    def waiting(self) -> list[_Track]:
        return [
            t
            for t in self.tracks
            if (t.status is DownloadStatus.RESTORING and t.restore_future is None)
            or (t.status is DownloadStatus.ONLINE and t.recheck and t.transfer_future is None)
        ]

    def poll_wanted(self) -> bool:
        return bool(self.waiting())

    def poll(self) -> None:
        """One batched availability look-up for every waiting product."""
        waiting = self.waiting()
        self.polls += 1
        try:
            found = self.cfg.backend.availability([t.product for t in waiting])
        except AuthenticationError as exc:
            self.fatal = exc
            return
        except Exception as exc:  # catalogue hiccup: keep waiting, poll later
            logger.warning("availability look-up failed (%s); retrying later", exc)
            found = {}
        now = time.monotonic()
        self.interval = min(self.interval * self.cfg.poll_factor, self.cfg.poll_max)
        self.next_poll = now + self.interval
        for t in waiting:
            availability = found.get(t.id)
            if availability is None:
                continue
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

    def restore_stale(self, t: _Track) -> bool:
        row = self.ledger.get(t.id)
        return row is None or not row.restore_sent_within(self.cfg.restore_retry_after)

    def after_not_online(self, t: _Track, reason: str) -> None:
        """The archive did not serve the product: wait for a restore."""
        if self.cfg.backend.download_starts_restore:
            if not t.restore_asked:
                self.ledger.record_restore(t.id)
                t.restore_sent_at = time.time()
            t.restore_asked = True
            self.set(t, DownloadStatus.RESTORING, reason)
        elif t.restore_asked and not self.restore_stale(t):
            self.set(t, DownloadStatus.RESTORING, reason)
        else:
            self.set(t, DownloadStatus.OFFLINE, reason)
        self.next_poll = min(self.next_poll, time.monotonic() + self.cfg.poll_initial)

    # -- transfers ----------------------------------------------------------------------------
    def dispatch_transfers(self, now: float) -> None:
        running = sum(1 for t in self.tracks if t.transfer_future is not None)
        if running and now >= getattr(self, "renew_at", 0.0):  # workers never write the ledger
            self.ledger.renew_all(self.owner, lease=self.cfg.lease)
            self.renew_at = now + RENEW_EVERY
        if running >= self.cfg.max_transfers:
            return
        ready = [
            t
            for t in self.tracks
            if t.status is DownloadStatus.ONLINE
            and t.transfer_future is None
            and t.not_before <= now
        ]
        ready.sort(key=lambda t: t.product.size or 0, reverse=True)
        for t in ready:
            if running >= self.cfg.max_transfers:
                return
            if t.recheck and t.not_before <= now:
                t.recheck = False
            if not self.ledger.claim_transfer(t.id, self.owner, lease=self.cfg.lease):
                self.held_elsewhere(t)
                continue
            t.elsewhere = False
            row = self.ledger.get(t.id)
            job = TransferJob(
                product=t.product,
                backend=self.cfg.backend,
                output=self.cfg.output,
                validator=row.validator if row is not None else None,
                owner=self.owner,
                extract=self.cfg.extract,
                delete_archive=self.cfg.delete_archive,
                stall_timeout=self.cfg.stall_timeout,
                min_rate=self.cfg.min_rate,
                rate_window=self.cfg.rate_window,
                progress=self.progress.transfer if self.in_process else None,
                cancel=self.cfg.cancel,  # a cluster engine passes it on to its workers
            )
            t.attempts += 1
            t.transfer_future = self.executor.submit(run_transfer, job)
            self.set(t, DownloadStatus.DOWNLOADING, f"transfer attempt {t.attempts}")
            running += 1

    def held_elsewhere(self, t: _Track) -> None:
        """Another process is fetching it: check back later whether it finished."""
        row = self.ledger.get(t.id)
        if row is not None and row.status == "done":
            path = self.complete_on_disk(t, row)
            if path is not None:
                t.path = path
                self.set(t, DownloadStatus.DONE, "downloaded by another process")
                return
            self.ledger.set_status(t.id, "offline", "file missing")
            t.not_before = 0.0  # not on disk after all: claim it at the next turn
            return
        t.elsewhere = True
        t.not_before = time.monotonic() + min(self.cfg.poll_max, 2.0)
        if t.reason != "being downloaded by another process":
            self.set(t, DownloadStatus.ONLINE, "being downloaded by another process")

    def transfer_done(self, t: _Track, future: cf.Future[TransferResult]) -> None:
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
            if self.cfg.on_done is not None and t.path is not None:
                self.cfg.on_done(t.product, t.path)
        elif outcome is Outcome.AUTH:
            self.fatal = AuthenticationError(result.reason, result.status_code)
            self.set(t, DownloadStatus.FAILED, result.reason)
        elif outcome is Outcome.CANCELLED:
            self.set(t, DownloadStatus.ONLINE, "interrupted")
        elif outcome is Outcome.FAILED:
            self.set(t, DownloadStatus.FAILED, result.reason)
        elif outcome is Outcome.NOT_PRODUCT:
            t.not_product += 1
            if t.not_product > self.cfg.max_attempts:
                self.set(
                    t,
                    DownloadStatus.FAILED,
                    f"the archive answered something else than the product {t.not_product} times "
                    f"(last: {result.reason})",
                )
                return
            self.after_not_online(t, f"not served yet ({result.reason})")
        elif outcome is Outcome.CORRUPT:
            t.failures += 1
            if t.failures >= self.cfg.max_attempts:
                self.set(t, DownloadStatus.FAILED, f"{result.reason} ({t.failures} attempts)")
                return
            t.not_before = now + self.backoff(t.failures)
            self.set(t, DownloadStatus.ONLINE, f"{result.reason}; downloading again")
        else:  # RETRY
            progressed = result.received > 0
            if not progressed or result.stalled:  # a drip makes progress but must end
                t.failures += 1
            if t.failures >= self.cfg.max_attempts or t.attempts >= self.cfg.max_attempts * 4:
                self.set(
                    t,
                    DownloadStatus.FAILED,
                    f"{result.reason} (gave up after {t.attempts} attempts)",
                )
                return
            if result.retry_after is not None:
                delay = min(result.retry_after, self.cfg.backoff_max)
            else:
                delay = 0.0 if progressed else self.backoff(t.failures)
            t.not_before = now + delay
            if result.status_code is not None:
                t.recheck = True  # a 5xx may also mean "not online": let the poll tell
                self.next_poll = min(self.next_poll, now + min(delay, self.cfg.poll_initial))
            self.set(t, DownloadStatus.ONLINE, f"{result.reason}; retrying in {delay:.1f} s")

    def backoff(self, failures: int) -> float:
        return float(min(self.cfg.backoff_base * 2 ** max(failures - 1, 0), self.cfg.backoff_max))

    def reap(self) -> None:
        for t in self.tracks:
            if t.restore_future is not None and t.restore_future.done():
                self.restore_done(t, t.restore_future)
            if t.transfer_future is not None and t.transfer_future.done():
                self.transfer_done(t, t.transfer_future)
