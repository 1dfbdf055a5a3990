"""The batch downloader: restores asked up front, batched status polls, transfers the moment
a product is online, and a report that says what happened to every product and why.

In the spirit of sentinelsat's ``Downloader``, with what PEPS users lacked:

* offline products get their restore asked at once (bounded pool) while online products
  download (separate bounded pool, largest first so the batch ends with short transfers);
* status changes come from :meth:`Backend.availability` over all waiting products at once,
  on an adaptive interval (short first, backing off to a cap), never one request per product;
* the user's ``timeout`` ends the waiting, not the program: what is still offline (including
  ``unknown`` products that never come back) is reported, and the ledger remembers the
  restore requests so the next run only has to wait;
* transfers run on any ``concurrent.futures.Executor`` (a dask client's executor spreads them
  over machines writing to shared storage).
"""

from __future__ import annotations

import collections
import concurrent.futures as cf
import dataclasses
import enum
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from ..backends.base import Backend
from ..exceptions import AuthenticationError, PepsPlusError
from ..product import Availability, Product
from .extract import clean_leftovers, extract_archive, safe_dir
from .ledger import LEDGER_NAME, Ledger, new_owner
from .progress import Progress
from .transfer import Outcome, TransferJob, TransferResult, file_md5, run_transfer, zip_path

logger = logging.getLogger(__name__)


class DownloadStatus(str, enum.Enum):
    OFFLINE = "offline"  # on tape, restore not asked yet
    RESTORING = "restoring"  # restore asked (by us or someone else), waiting
    ONLINE = "online"  # on disk, waiting for a transfer slot (or a retry)
    DOWNLOADING = "downloading"
    DONE = "done"
    FAILED = "failed"  # gave up after retries, or not fixable by retrying
    UNAVAILABLE = "unavailable"  # still not online when the timeout expired

    @property
    def final(self) -> bool:
        return self in (DownloadStatus.DONE, DownloadStatus.FAILED, DownloadStatus.UNAVAILABLE)


@dataclasses.dataclass
class ProductReport:
    """What happened to one product."""

    id: str
    status: DownloadStatus
    reason: str
    path: str | None = None
    availability: Availability = Availability.UNKNOWN
    size: int | None = None
    restore_requested: bool = False
    attempts: int = 0
    received: int = 0


@dataclasses.dataclass
class DownloadReport:
    products: list[ProductReport]
    elapsed: float

    def with_status(self, *statuses: DownloadStatus) -> list[ProductReport]:
        return [p for p in self.products if p.status in statuses]

    @property
    def done(self) -> list[ProductReport]:
        return self.with_status(DownloadStatus.DONE)

    @property
    def paths(self) -> list[str]:
        return [p.path for p in self.done if p.path]

    @property
    def ok(self) -> bool:
        return all(p.status is DownloadStatus.DONE for p in self.products)

    def counts(self) -> dict[str, int]:
        return dict(collections.Counter(p.status.value for p in self.products))

    def format(self) -> str:
        """A plain-text table, one line per product, then totals."""
        width = max([len(p.id) for p in self.products] + [7])
        lines = [f"{'product'.ljust(width)}  {'status':<11}  reason", "-" * (width + 40)]
        for p in self.products:
            lines.append(f"{p.id.ljust(width)}  {p.status.value:<11}  {p.reason}")
        totals = ", ".join(f"{n} {s}" for s, n in sorted(self.counts().items()))
        lines.append(f"{len(self.products)} product(s) in {self.elapsed:.1f} s: {totals}")
        return "\n".join(lines)


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

    @property
    def id(self) -> str:
        return self.product.id


class Downloader:
    """Download many products from one backend into ``output_dir``.

    Durations are seconds. ``poll_initial``/``poll_factor``/``poll_max`` shape the adaptive
    availability polling; ``timeout`` (``None``: no limit) bounds the wait for restores;
    ``restore_retry_after`` is how old a recorded restore request must be before it is asked
    again for a product still offline.
    """

    def __init__(
        self,
        backend: Backend,
        output_dir: str | Path,
        *,
        executor: cf.Executor | None = None,
        max_transfers: int = 8,
        max_restores: int = 4,
        timeout: float | None = None,
        poll_initial: float = 5.0,
        poll_factor: float = 1.5,
        poll_max: float = 60.0,
        extract: bool = False,
        delete_archive: bool = False,
        quiet: bool = False,
        state_dir: str | Path | None = None,
        max_attempts: int = 5,
        backoff_base: float = 1.0,
        backoff_max: float = 300.0,
        restore_retry_after: float = 1800.0,
        lease: float = 60.0,
        on_done: Callable[[Product, str], None] | None = None,
        bytes_bar: Any = None,
    ) -> None:
        if max_transfers < 1 or max_restores < 1:
            raise ValueError("max_transfers and max_restores must be at least 1")
        self.backend = backend
        self.output_dir = Path(output_dir)
        self.executor = executor
        self.max_transfers = max_transfers
        self.max_restores = max_restores
        self.timeout = timeout
        self.poll_initial = poll_initial
        self.poll_factor = poll_factor
        self.poll_max = max(poll_max, poll_initial)
        self.extract = extract
        self.delete_archive = delete_archive
        self.quiet = quiet
        self.ledger_path = Path(state_dir or self.output_dir) / LEDGER_NAME
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.restore_retry_after = restore_retry_after
        self.lease = lease
        self.on_done = on_done
        self.bytes_bar = bytes_bar
        #: Set to stop transfers at the next chunk (Ctrl-C, credentials refused).
        self.cancel = threading.Event()

    # -- public -------------------------------------------------------------------------------
    def download(self, products: Iterable[Product]) -> DownloadReport:
        """Run the batch to its end (all done, failed, or unavailable at the timeout).

        Raises :class:`AuthenticationError` at once when the archive refuses the credentials;
        Ctrl-C stops transfers at the next chunk, keeping what the next run resumes.
        """
        started = time.monotonic()
        self.cancel.clear()
        self.output_dir.mkdir(parents=True, exist_ok=True)
        tracks: dict[str, _Track] = {}
        for product in products:
            tracks.setdefault(product.id, _Track(product, DownloadStatus.OFFLINE))
        run = _Run(self, list(tracks.values()), started)
        try:
            run.loop()
        finally:
            run.close()
        return run.report()


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
            self.progress.finished()
            if status is not DownloadStatus.DONE:
                self.ledger.set_status(t.id, status.value, reason)
        self.progress.counts(self.counts)

    # -- start --------------------------------------------------------------------------------
    def prepare(self) -> None:
        """Skip what is on disk already; take every other product's state from the catalogue
        record and the ledger (a restore asked by an earlier run is not asked again)."""
        for t in self.tracks:
            product = t.product
            row = self.ledger.ensure(product.id, product.size, product.md5)
            t.availability = product.availability
            on_disk = self.complete_on_disk(t, row.file_size, row.file_mtime_ns, row.extracted)
            if on_disk is not None:
                t.path = on_disk
                self.set(t, DownloadStatus.DONE, "already on disk (verified)")
                continue
            if row.status == "done":  # the file was removed or replaced since: fetch again
                self.ledger.set_status(product.id, "offline", "file missing")
            recent = row.restore_asked_at is not None and (
                time.time() - row.restore_asked_at < self.cfg.restore_retry_after
            )
            if product.availability is Availability.ONLINE:
                self.set(t, DownloadStatus.ONLINE, "online in the catalogue")
            elif product.availability is Availability.STAGING or recent:
                t.restore_asked = recent
                self.set(t, DownloadStatus.RESTORING, "restore already requested")
            else:
                self.set(
                    t, DownloadStatus.OFFLINE, f"{product.availability.value} in the catalogue"
                )

    def complete_on_disk(
        self, t: _Track, size: int | None, mtime_ns: int | None, extracted: bool
    ) -> str | None:
        """The path of a complete copy: ``<name>.SAFE`` (legacy layout), or ``<name>.zip``
        whose length and MD5 match the catalogue (re-hashed unless the ledger recorded this
        very file)."""
        out = self.cfg.output_dir
        name = t.id
        safe = out / safe_dir(name)
        archive = zip_path(out, name)
        clean_leftovers(out, name)
        if safe.is_dir() and (
            extracted or (safe / "manifest.safe").exists() or not archive.exists()
        ):
            if self.cfg.delete_archive and archive.exists() and extracted:
                archive.unlink(missing_ok=True)
            return str(safe)
        if not archive.is_file():
            return None
        info = archive.stat()
        expected_size, expected_md5 = t.product.size, t.product.md5
        if expected_size is not None and info.st_size != expected_size:
            logger.warning(
                "%s exists but has %d bytes, not %d: fetching it again",
                archive,
                info.st_size,
                expected_size,
            )
            return None
        if size == info.st_size and mtime_ns == info.st_mtime_ns:
            pass  # this very file was verified by an earlier run
        elif expected_md5 is not None:
            if file_md5(archive).hexdigest() != expected_md5.lower():
                logger.warning(
                    "%s exists but its MD5 does not match the catalogue: fetching it again", archive
                )
                return None
            self.ledger.mark_done(name, info.st_size, info.st_mtime_ns)
        else:
            return None  # nothing to verify it against: do not trust it
        if self.cfg.extract:
            try:
                folder = extract_archive(archive, name, delete_archive=self.cfg.delete_archive)
            except PepsPlusError as exc:
                logger.warning("%s: %s", name, exc)
                return None
            self.ledger.mark_extracted(name)
            return str(folder)
        return str(archive)

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
            if t.availability is Availability.UNKNOWN:
                why = (
                    "storage mode 'unknown': the archive does not know where this product is "
                    "and it never came online (ask the provider's support)"
                )
            elif t.status is DownloadStatus.OFFLINE and not t.restore_asked:
                why = "still offline: the restore request could not be sent"
            elif t.availability is Availability.STAGING:
                why = "restore under way (staging) but not finished"
            else:
                why = "still on tape (restore requested)"
            self.set(
                t,
                DownloadStatus.UNAVAILABLE,
                f"{why} when the timeout ({span}) expired; the restore request is "
                "remembered: run again later",
            )

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
            if not self.ledger.claim_restore(t.id, retry_after=self.cfg.restore_retry_after):
                t.restore_asked = True
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
        except AuthenticationError as exc:
            self.fatal = exc
            return
        except Exception as exc:  # network or server error: the request may not have landed
            self.ledger.unclaim_restore(t.id, t.previous_restore)
            t.restore_errors += 1
            if t.restore_errors >= self.cfg.max_attempts:
                self.set(
                    t,
                    DownloadStatus.FAILED,
                    f"restore request failed {t.restore_errors} times: {exc}",
                )
                return
            t.restore_asked = False
            t.not_before = time.monotonic() + self.backoff(t.restore_errors)
            self.set(t, DownloadStatus.OFFLINE, f"restore request failed ({exc}); retrying")
            return
        if revealed is Availability.ONLINE:
            t.availability = Availability.ONLINE
            self.set(t, DownloadStatus.ONLINE, "online (the archive served data)")
        elif revealed is not None and t.availability is not Availability.UNKNOWN:
            t.availability = revealed

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
        asked = row.restore_asked_at if row is not None else None
        return asked is None or time.time() - asked >= self.cfg.restore_retry_after

    def after_not_online(self, t: _Track, reason: str) -> None:
        """The archive did not serve the product: wait for a restore."""
        if self.cfg.backend.download_starts_restore:
            if not t.restore_asked:
                self.ledger.record_restore(t.id)
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
            job = TransferJob(
                product=t.product,
                backend=self.cfg.backend,
                output_dir=self.cfg.output_dir,
                ledger_path=self.cfg.ledger_path,
                owner=self.owner,
                lease=self.cfg.lease,
                extract=self.cfg.extract,
                delete_archive=self.cfg.delete_archive,
                progress=self.progress.transfer if self.in_process else None,
                cancel=self.cfg.cancel if self.in_process else None,
            )
            t.attempts += 1
            t.transfer_future = self.executor.submit(run_transfer, job)
            self.set(t, DownloadStatus.DOWNLOADING, f"transfer attempt {t.attempts}")
            running += 1

    def held_elsewhere(self, t: _Track) -> None:
        """Another process is fetching it: check back later whether it finished."""
        row = self.ledger.get(t.id)
        if row is not None and row.status == "done":
            path = self.complete_on_disk(t, row.file_size, row.file_mtime_ns, row.extracted)
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
        self.ledger.release_transfer(t.id, self.owner)
        t.received += result.received
        outcome = result.outcome
        now = time.monotonic()
        if outcome is Outcome.DONE:
            t.path = result.path
            resumed = f", resumed at byte {result.resumed_from}" if result.resumed_from else ""
            self.set(t, DownloadStatus.DONE, f"downloaded, size and MD5 {result.reason}{resumed}")
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
            if not progressed:
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


def wait_until_online(
    backend: Backend,
    product: Product,
    *,
    timeout: float,
    poll_initial: float = 5.0,
    poll_factor: float = 1.5,
    poll_max: float = 60.0,
) -> Availability:
    """Ask the restore of one product if needed and poll until it is online or ``timeout``
    seconds passed; returns the last availability seen (for streaming, where no file and
    no ledger are involved)."""
    availability = product.availability
    if availability is not Availability.ONLINE:
        revealed = backend.request_restore(product)
        if revealed is Availability.ONLINE:
            return revealed
    deadline = time.monotonic() + timeout
    interval = poll_initial
    found = backend.availability([product]).get(product.id, availability)
    while found is not Availability.ONLINE and time.monotonic() + interval <= deadline:
        time.sleep(interval)
        interval = min(interval * poll_factor, poll_max)
        found = backend.availability([product]).get(product.id, found)
    return found


def download(
    backend: Backend, products: Sequence[Product], output_dir: str | Path, **options: Any
) -> DownloadReport:
    """Shortcut: ``Downloader(backend, output_dir, **options).download(products)``."""
    return Downloader(backend, output_dir, **options).download(products)
