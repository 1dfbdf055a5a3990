"""The state machine of one :meth:`Downloader.download` call: restores asked up front, batched
availability polls, transfers the moment a product is online, a per-product verdict.

Kept apart from :class:`~.scheduler.Downloader` (the entry point); a :class:`Run` lives
exactly as long as one call and gets what it needs as one :class:`~.state.Batch` value (the
archive, the output, the options, the engine and callbacks). Its work is split by lane
(:mod:`.lanes`: start, restores, polls, transfers) over one shared :class:`~.state.RunState`;
this class is the loop that turns them.
"""

from __future__ import annotations

import concurrent.futures as cf
import time
from typing import Any

from ..logs import get_logger
from .lanes import PollLane, RestoreLane, StartLane, TransferLane
from .report import DownloadReport, ProductReport

__all__ = ["Run"]

logger = get_logger(__name__)


class Run(StartLane, RestoreLane, PollLane, TransferLane):
    """One :meth:`Downloader.download` call: every lane, and the loop that turns them."""

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
                    if not expired and now >= self.poll_at() and self.poll_wanted():
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
            wake.append(self.poll_at())
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
