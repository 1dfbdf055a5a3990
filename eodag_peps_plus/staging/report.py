"""What a download run reports: one status and one reason per product, then totals."""

from __future__ import annotations

import collections
import dataclasses
import enum

from ..product import Availability

__all__ = ["DownloadReport", "DownloadStatus", "FORMAT_LIMIT", "MEMBER_CHECK", "ProductReport"]


class DownloadStatus(str, enum.Enum):
    OFFLINE = "offline"  # on tape, restore not asked yet
    RESTORING = "restoring"  # restore asked (by us or someone else), waiting
    ONLINE = "online"  # on disk, waiting for a transfer slot (or a retry)
    DOWNLOADING = "downloading"
    DONE = "done"
    FAILED = "failed"  # gave up after retries, or not fixable by retrying
    UNAVAILABLE = "unavailable"  # still not online when the timeout expired
    REFUSED = "refused"  # the archive will not serve it (410 Gone): settled at once

    @property
    def final(self) -> bool:
        return self in (
            DownloadStatus.DONE,
            DownloadStatus.FAILED,
            DownloadStatus.UNAVAILABLE,
            DownloadStatus.REFUSED,
        )


@dataclasses.dataclass(slots=True)
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
    #: What the archive on disk was verified against: ``size``, ``MD5``, ``zip directory``
    #: (central directory readable), ``zip CRCs`` (every member's CRC, when there is no MD5).
    checks: tuple[str, ...] = ()
    #: When the archive acknowledged the restore request (seconds since the epoch).
    restore_sent_at: float | None = None
    #: Complete and verified before this run began: nothing was fetched.
    present_before: bool = False


#: The check a product fetched member by member passed (:mod:`.members`): the report then
#: totals the bytes fetched against the whole archives' sizes.
MEMBER_CHECK = "member CRC-32"
#: :meth:`DownloadReport.format` lists every product of a batch up to this size; beyond, only
#: those not done (this many at most), then the totals.
FORMAT_LIMIT = 200


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

    def format(self, limit: int | None = FORMAT_LIMIT) -> str:
        """A plain-text table, one line per product, then totals.

        Args:
            limit: A batch of more products lists only those not done (at most ``limit``
                of them, with a count of the others): 100,000 lines on a terminal tell
                nothing. ``None``: every product.

        Returns:
            The table, without a final newline.
        """
        shown: list[ProductReport] = self.products
        hidden_done = hidden_other = 0
        if limit is not None and len(self.products) > limit:
            shown = []
            for p in self.products:
                if p.status is DownloadStatus.DONE:
                    hidden_done += 1
                elif len(shown) < limit:
                    shown.append(p)
                else:
                    hidden_other += 1
        width = max([len(p.id) for p in shown] + [7])
        lines = [f"{'product'.ljust(width)}  {'status':<11}  reason", "-" * (width + 40)]
        for p in shown:
            lines.append(f"{p.id.ljust(width)}  {p.status.value:<11}  {p.reason}")
        if hidden_other:
            lines.append(f"... and {hidden_other} more not done")
        if hidden_done:
            lines.append(f"({hidden_done} done product(s) not listed)")
        totals = ", ".join(f"{n} {s}" for s, n in sorted(self.counts().items()))
        lines.append(f"{len(self.products)} product(s) in {self.elapsed:.1f} s: {totals}")
        partial = [p for p in self.products if MEMBER_CHECK in p.checks]
        if partial:
            fetched = sum(p.received for p in partial)
            whole = sum(p.size or 0 for p in partial)
            share = f" ({100 * fetched / whole:.2f} %)" if whole else ""
            lines.append(
                f"members of {len(partial)} archive(s): {fetched} bytes fetched of the "
                f"{whole} bytes of the whole archives{share}"
            )
        return "\n".join(lines)
