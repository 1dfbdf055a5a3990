"""The lanes of a batch run, each one kind of work with its own transitions: a product
arrives (:class:`StartLane`), has its restore asked (:class:`RestoreLane`), is polled until
online (:class:`PollLane`) and transferred (:class:`TransferLane`, where one table,
:data:`OUTCOME_HANDLERS`, says what each transfer outcome leads to). They share one
:class:`~.state.RunState`; :class:`~.run.Run` is all of them plus the loop.
"""

from __future__ import annotations

import concurrent.futures as cf
import heapq
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..exceptions import (
    ArchiveRefusedError,
    AuthenticationError,
    ForeignOriginError,
)
from ..logs import get_logger
from ..product import Availability
from .file_names import file_key, name_problem, safe_dir
from .ledger import LedgerRow, MemberBook, MemberRecord
from .report import DownloadStatus
from .state import RunState, Track
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

__all__ = [
    "DUE_POLLS",
    "NOTE_MAX",
    "OUTCOME_HANDLERS",
    "PREPARE_CHUNK",
    "PollLane",
    "RestoreLane",
    "StartLane",
    "TransferLane",
    "made_progress",
]

#: The run's logger, whichever module holds the step: users filter one name.
logger = get_logger("eodag_peps_plus.staging.run")

#: Products named in one "still waiting" line.
NOTE_MAX = 10
#: While products may come online any moment (their restores have run about as long as those
#: seen ending) and a transfer slot is free, the poll comes every ``1/DUE_POLLS`` of the longest
#: restore seen (at least ``poll_initial``, at most the usual backoff): a product is noticed
#: within about 5 % of its restore time, for a few more polls of the whole batch.
DUE_POLLS = 20
#: Products whose ledger rows are created or read in one transaction when a run starts.
PREPARE_CHUNK = 2000


def _clock(timestamp: float) -> str:
    return time.strftime("%H:%M:%S UTC", time.gmtime(timestamp))


class StartLane(RunState):
    """What is on disk already is done; every other product starts from its catalogue record
    and the ledger."""

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
        # An archive that cannot restore (GEODES) records none: a restore asked of another
        # source for the same product (a fallback) must not count for it.
        recent = self.batch.archive.restores and row.restore_sent_within(
            self.opts.restore_retry_after
        )
        if recent:
            t.restore_sent_at = row.restore_sent_at
        if product.availability is Availability.ONLINE:
            self.set(t, DownloadStatus.ONLINE, "online in the catalogue")
        elif product.availability is Availability.STAGING or recent:
            t.restore_asked = recent
            self.set(t, DownloadStatus.RESTORING, "restore already requested")
        else:
            self.set(t, DownloadStatus.OFFLINE, f"{product.availability.value} in the catalogue")


class RestoreLane(RunState):
    """Restore requests for offline products, a bounded pool of them at a time."""

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
            if self.batch.archive.restores and not self.ledger.claim_restore(
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
        if self.batch.archive.restores:
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


class PollLane(RunState):
    """Batched availability polls of what waits for a restore, and what the user is told
    about it (every ``report_every`` seconds, and at the timeout)."""

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
        now, wall = time.monotonic(), time.time()
        self.next_poll = now + next(self.poll_intervals)
        due = False
        with self.ledger.batch():
            for t in waiting:
                availability = found.get(t.id)
                if availability is None:
                    continue
                self.polled(t, availability, wall)
                self.touch(t)
                due = due or self.due(t, wall)
        self.fast_poll_at = None
        if due and self.restore_span is not None:
            step = max(self.opts.poll_initial, self.restore_span[1] / DUE_POLLS)
            self.fast_poll_at = now + step

    def poll_at(self) -> float:
        """When the next poll is due: after the backoff, or sooner while restores are due and
        a transfer slot is free (a product found online then starts at once; with every slot
        busy it would only wait in the queue, so the backoff is kept)."""
        fast = self.fast_poll_at
        if fast is not None and len(self.transferring) < self.opts.max_transfers:
            return min(self.next_poll, fast)
        return self.next_poll

    def due(self, t: Track, wall: float) -> bool:
        """Whether ``t`` may come online any moment: its restore has run about as long as
        the restores this run saw end (not a product long overdue: that one waits for the
        usual backoff, a stuck robot is not polled faster)."""
        span, sent = self.restore_span, t.restore_sent_at
        if span is None or sent is None or t.status is not DownloadStatus.RESTORING:
            return False
        return span[0] / 2 <= wall - sent <= 2 * span[1]

    def polled(self, t: Track, availability: Availability, wall: float) -> None:
        t.availability = availability
        if availability is Availability.ONLINE:
            t.recheck = False
            if t.status is DownloadStatus.RESTORING and t.restore_sent_at is not None:
                took = max(0.0, wall - t.restore_sent_at)
                lo, hi = self.restore_span or (took, took)
                self.restore_span = (min(lo, took), max(hi, took))
            if t.status is not DownloadStatus.ONLINE:
                self.set(t, DownloadStatus.ONLINE, "restored: online")
        elif t.status is DownloadStatus.ONLINE:
            # The archive said "not yet" and the catalogue agrees: back to waiting.
            t.recheck = False
            self.after_not_online(t, "the catalogue says it is not online")
        elif availability is Availability.OFFLINE and self.restore_stale(t):
            self.set(t, DownloadStatus.OFFLINE, "still on tape long after the restore request")

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


class TransferLane(RunState):
    """Transfers of online products, largest first, and what each outcome leads to."""

    def dispatch_transfers(self, now: float) -> None:
        """Start the largest ready products while a transfer slot is free."""
        running = len(self.transferring)
        if running and now >= self.renew_at:  # workers never write the ledger
            self.ledger.renew_all(self.owner, lease=self.opts.lease)
            self.renew_at = now + RENEW_EVERY
        if self.queue_depth and self.ready_heap:
            running -= self.requeue_smaller(now)
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
                members=self.opts.members,
                ledger=self.batch.ledger_path if self.in_process else None,
                recorded=self.member_records(t),
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

    def requeue_smaller(self, now: float) -> int:
        """Transfers handed to the pool but not started yet (its queue is first in, first out)
        that are smaller than the largest ready product go back to the run's queue, so the
        pool starts the largest first: a large product that comes online late must not wait
        behind small ones and end the batch alone. Returns how many went back."""
        top = _top_ready(self.ready_heap, now)
        if top is None:
            return 0
        back = 0
        for future, t in list(self.transferring.items()):
            if (t.product.size or 0) < top and future.cancel():
                del self.transferring[future]
                t.transfer_future = None
                t.attempts -= 1
                self.ledger.release_transfer(t.id, self.owner)
                self.set(t, DownloadStatus.ONLINE, "queued behind a larger product")
                back += 1
        return back

    def member_records(self, t: Track) -> tuple[tuple[str, MemberRecord], ...]:
        """The members the ledger recorded for ``t``, for workers that cannot read it."""
        if self.opts.members is None or self.in_process:
            return ()
        return tuple(MemberBook(self.ledger, t.id).done().items())

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
        """Record what a finished transfer reported, then take the step its outcome calls for
        (:data:`OUTCOME_HANDLERS`)."""
        t.transfer_future = None
        if self.in_process:
            self.progress.end_transfer(t.id)
        result = self.transfer_result(t, future)
        if result is None:
            return
        t.received += result.received
        OUTCOME_HANDLERS[result.outcome](self, t, result, time.monotonic())

    def transfer_result(self, t: Track, future: cf.Future[TransferResult]) -> TransferResult | None:
        """The worker's report, written to the ledger (the scheduler alone writes it); a
        failure of the engine itself as a retry; ``None`` for a cancelled task."""
        try:
            result = future.result()
        except cf.CancelledError:
            self.ledger.release_transfer(t.id, self.owner)
            self.set(t, DownloadStatus.ONLINE, "interrupted")
            return None
        except Exception as exc:  # the executor itself failed (a dask worker died...)
            self.ledger.release_transfer(t.id, self.owner)  # the part's sidecar still holds
            return TransferResult(t.id, Outcome.RETRY, f"transfer task failed: {exc!r}")
        self.ledger.record_transfer(
            t.id,
            self.owner,
            validator=result.validator,
            file_size=result.file_size,
            mtime_ns=result.file_mtime_ns,
            extracted=result.extracted is not None,
        )
        if result.members:  # a cluster's member selection: recorded here, not by its worker
            book = MemberBook(self.ledger, t.id)
            for name, record in result.members:
                book.record(name, record)
        return result

    # -- one handler per outcome (OUTCOME_HANDLERS) ---------------------------------------------
    def on_done(self, t: Track, result: TransferResult, now: float) -> None:
        t.path = result.path
        t.checks = result.checks
        resumed = f", resumed at byte {result.resumed_from}" if result.resumed_from else ""
        self.set(t, DownloadStatus.DONE, f"downloaded, {result.reason}{resumed}")
        if self.batch.on_done is not None and t.path is not None:
            self.batch.on_done(t.product, t.path)

    def on_auth(self, t: Track, result: TransferResult, now: float) -> None:
        self.fatal = AuthenticationError(result.reason, result.status_code)
        self.set(t, DownloadStatus.FAILED, result.reason)

    def on_cancelled(self, t: Track, result: TransferResult, now: float) -> None:
        self.set(t, DownloadStatus.ONLINE, "interrupted")

    def on_failed(self, t: Track, result: TransferResult, now: float) -> None:
        self.set(t, DownloadStatus.FAILED, result.reason)

    def on_refused(self, t: Track, result: TransferResult, now: float) -> None:
        self.set(t, DownloadStatus.REFUSED, result.reason)

    def on_not_product(self, t: Track, result: TransferResult, now: float) -> None:
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

    def on_corrupt(self, t: Track, result: TransferResult, now: float) -> None:
        t.failures += 1
        if t.failures >= self.opts.max_attempts:
            self.set(t, DownloadStatus.FAILED, f"{result.reason} ({t.failures} attempts)")
            return
        t.not_before = now + self.backoff(t.failures)
        self.set(t, DownloadStatus.ONLINE, f"{result.reason}; downloading again")

    def on_retry(self, t: Track, result: TransferResult, now: float) -> None:
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


#: What each transfer outcome leads to: the one table of the transfer lane's transitions.
OUTCOME_HANDLERS: dict[Outcome, Callable[[TransferLane, Track, TransferResult, float], None]] = {
    Outcome.DONE: TransferLane.on_done,
    Outcome.AUTH: TransferLane.on_auth,
    Outcome.CANCELLED: TransferLane.on_cancelled,
    Outcome.FAILED: TransferLane.on_failed,
    Outcome.REFUSED: TransferLane.on_refused,
    Outcome.NOT_PRODUCT: TransferLane.on_not_product,
    Outcome.CORRUPT: TransferLane.on_corrupt,
    Outcome.RETRY: TransferLane.on_retry,
}


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


def _top_ready(heap: list[tuple[int, int, Track]], now: float) -> int | None:
    """The size of the largest product ready to start now (stale entries dropped on the way),
    or ``None``."""
    while heap:
        _, _, t = heap[0]
        if t.status is DownloadStatus.ONLINE and t.transfer_future is None and t.in_ready:
            return t.product.size or 0 if t.not_before <= now else None
        heapq.heappop(heap)
        t.in_ready = False
    return None


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
