"""Every product from a source that has it: a product the first source refuses (GEODES's
410 Gone for Tier3) or cannot serve before the timeout is looked up on the fallback sources
by its name, and fetched from the one that has it online soonest, into the same output and
ledger, with one report naming each product's source.

It sits above ``staging`` (which sees archives only) because it searches catalogues too: a
fallback source is a whole backend, found by name, then handed to the staging downloader.

Order of preference per product: a copy online now, then one the server says it is
restoring, then one on tape at a source that restores on request (PEPS), in the order the
sources were given; a source that cannot restore is never asked to. Identity: the name; and
size and MD5 when both sources publish them (a copy that differs is refused); the transfer
then checks the archive's own contents (zip directory, CRCs) as for any product.
"""

from __future__ import annotations

import abc
import concurrent.futures as cf
import dataclasses
import queue
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .backends.base import Archive, Backend, Catalogue
from .backends.spec import BackendSpec
from .logs import get_logger
from .product import Availability, Product
from .query import Query
from .staging.options import StagingOptions
from .staging.report import DownloadReport, DownloadStatus, ProductReport
from .staging.scheduler import Downloader

logger = get_logger(__name__)

#: Product names asked of a fallback source in one search.
LOOKUP_CHUNK = 50
#: Seconds of quiet that end a group of products handed over, and the longest a group waits
#: to fill: refusals come in bursts, and one look-up serves a burst.
GATHER = (0.2, 1.0)
#: Groups fetched at once, each by its own downloader.
GROUPS_AT_ONCE = 4
#: What the first source's report must say for a product to be looked up elsewhere.
FALL_BACK_ON = (DownloadStatus.REFUSED, DownloadStatus.UNAVAILABLE)


class Source(Catalogue, Archive):
    """A fallback source that is not a whole :class:`Backend` (an EODAG provider, see
    :mod:`~eodag_peps_plus.eodag_source`): a catalogue to look products up by name, an archive
    to fetch them, and a record naming it in reports."""

    @property
    @abc.abstractmethod
    def spec(self) -> BackendSpec:
        """The source's record (its ``label`` names it in reports)."""


#: What ``sources=[...]`` takes.
AnySource = Backend | Source


def _label(source: AnySource) -> str:
    return source.spec.label


def _rank(source: AnySource, product: Product) -> int | None:
    """How soon a source's copy can be fetched (lower first), or ``None`` if it cannot."""
    if product.availability is Availability.ONLINE:
        return 0
    if product.availability is Availability.STAGING:
        return 1
    if source.download_starts_restore:  # tape first; 'unknown' storage may come back too
        return 2 if product.availability is Availability.OFFLINE else 3
    return None


def _same(first: Product, other: Product) -> str | None:
    """Why ``other`` is not the same archive as ``first`` (``None``: it is, as far as both
    catalogues tell)."""
    if first.size is not None and other.size is not None and first.size != other.size:
        return f"size {other.size} where the first source says {first.size}"
    if first.md5 and other.md5 and first.md5.lower() != other.md5.lower():
        return f"MD5 {other.md5} where the first source says {first.md5}"
    return None


def look_up(source: AnySource, names: Sequence[str]) -> dict[str, Product]:
    """The products of ``names`` a source's catalogue has, by name (a few searches)."""
    found: dict[str, Product] = {}
    for start in range(0, len(names), LOOKUP_CHUNK):
        chunk = list(names[start : start + LOOKUP_CHUNK])
        for product in source.search(Query.create(identifiers=chunk), max_items=len(chunk) * 2):
            if product.id in chunk:
                found.setdefault(product.id, product)
    return found


def download_with_fallback(
    first: Backend,
    products: Sequence[Product],
    output_dir: str | Path,
    options: StagingOptions | None = None,
    *,
    sources: Sequence[AnySource] = (),
    **run: Any,
) -> DownloadReport:
    """Download ``products`` from ``first``; each it refuses is looked up on the ``sources``
    and fetched from the one that has it soonest, while ``first``'s batch goes on (a product
    still unavailable at the timeout is handed over when the batch ends).

    Args:
        first: the source the products were found on.
        products: the batch.
        output_dir: one output (and one ledger) for every source.
        options: the staging options, the same for every source.
        sources: fallback backends or sources (:class:`Source`, e.g. ``EodagSource``), in order of preference among equally soon copies.
        run: passed on to :meth:`Downloader.download` (``executor``, ``on_done``...);
            with ``sources``, ``on_done`` may be called from two threads at once.

    Returns:
        One report: a product fetched from a fallback says from which source and why.

    Raises:
        AuthenticationError: a source refused its credentials (the other runs are stopped).
    """
    if not sources:
        return Downloader(first, output_dir, options).download(products, **run)
    started = time.monotonic()
    handover = _Handover(first, sources, {p.id: p for p in products}, output_dir, options, run)
    downloader = Downloader(first, output_dir, options)
    try:
        report = downloader.download(products, **{**run, "on_settled": handover.settled})
        handover.finish(report)
    finally:
        handover.stop()
    merged = [handover.merged(entry) for entry in report.products]
    return DownloadReport(merged, time.monotonic() - started)


class _Handover:
    """The fallback side of a batch: products the first source gave up on arrive one by one
    (:meth:`settled`, from the first run's thread), and a worker thread looks each group up
    and fetches it from the chosen sources into the same output, while the first run goes on.
    """

    def __init__(
        self,
        first: Backend,
        sources: Sequence[AnySource],
        by_id: dict[str, Product],
        output_dir: str | Path,
        options: StagingOptions | None,
        run: dict[str, Any],
    ) -> None:
        self.first, self.sources, self.by_id = first, sources, by_id
        self.output_dir, self.options, self.run = output_dir, options, dict(run)
        #: The caller's own ``on_settled``, told first (the fallback runs get none).
        self.told = self.run.pop("on_settled", None)
        self.inbox: queue.SimpleQueue[tuple[str, str] | None] = queue.SimpleQueue()
        #: The first source's reason per product handed over, what each fallback did, and
        #: why each source was passed over.
        self.reasons: dict[str, str] = {}
        self.fetched: dict[str, ProductReport] = {}
        self.why_not: dict[str, list[str]] = {}
        self.error: BaseException | None = None
        self.stopping = self.ended = False
        self.running: list[Downloader] = []
        self.lock = threading.Lock()
        self.worker = threading.Thread(target=self._work, name="fallback", daemon=True)
        self.worker.start()

    def settled(self, product: Product, status: DownloadStatus, reason: str) -> None:
        if self.told is not None:
            self.told(product, status, reason)
        if status in FALL_BACK_ON and product.id in self.by_id:
            self.inbox.put((product.id, reason))

    def finish(self, report: DownloadReport) -> None:
        """The first run is over: hand over what it ended without telling (none, normally),
        then wait for the fallbacks."""
        for entry in report.products:
            if entry.status in FALL_BACK_ON and entry.id not in self.reasons:
                self.inbox.put((entry.id, entry.reason))
        self.inbox.put(None)
        self.worker.join()
        if self.error is not None:
            raise self.error

    def stop(self) -> None:
        """Stop the fallback transfers at their next chunk (Ctrl-C, an error in the first
        run); a later run resumes them from the output folder."""
        with self.lock:
            self.stopping = True
            for downloader in self.running:
                downloader.cancel.set()
        self.inbox.put(None)
        self.worker.join(timeout=60)

    def _work(self) -> None:
        """Gather what arrives together (refusals come in bursts: one look-up each), then
        fetch each group in a thread of its own, so that no group waits for another's."""
        futures: list[cf.Future[None]] = []
        try:
            with cf.ThreadPoolExecutor(GROUPS_AT_ONCE, thread_name_prefix="fallback") as pool:
                while (group := self._gather()) is not None:
                    fresh = {name: why for name, why in group.items() if name not in self.reasons}
                    self.reasons.update(fresh)
                    if fresh:
                        futures.append(pool.submit(self._fetch, fresh))
            for future in futures:
                future.result()
        except BaseException as exc:  # raised in the caller's thread by finish()
            self.error = exc

    def _gather(self) -> dict[str, str] | None:
        """The next group: what arrives until a quiet spell (``None``: the first run ended
        and everything was handed over)."""
        if self.ended or (item := self.inbox.get()) is None:
            return None
        group, until = dict([item]), time.monotonic() + GATHER[1]
        while time.monotonic() < until:
            try:
                more = self.inbox.get(timeout=GATHER[0])
            except queue.Empty:
                break
            if more is None:
                self.ended = True
                break
            group[more[0]] = more[1]
        return group

    def _fetch(self, group: dict[str, str]) -> None:
        best, why_not = _choose(self.sources, list(group), self.by_id)
        self.why_not.update(why_not)
        chosen: dict[int, list[Product]] = {}
        for _, order, _source, copy in best.values():
            chosen.setdefault(order, []).append(copy)
        for order, batch in sorted(chosen.items()):
            source = self.sources[order]
            downloader = Downloader(source, self.output_dir, self.options)
            with self.lock:
                if self.stopping:
                    return
                self.running.append(downloader)
            sub = downloader.download(batch, **self.run)
            for entry in sub.products:
                entry.reason = (
                    f"from {_label(source)} ({_label(self.first)}: {group[entry.id]}): "
                    f"{entry.reason}"
                )
                self.fetched[entry.id] = entry

    def merged(self, entry: ProductReport) -> ProductReport:
        """The report line of a product: the fallback's when one fetched it, else the first
        source's (with why no fallback could, when one was tried)."""
        if entry.id in self.fetched:
            return self.fetched[entry.id]
        if entry.id in self.reasons and entry.status in FALL_BACK_ON:
            tried = "; ".join(self.why_not.get(entry.id, [])) or "no fallback source has it"
            return dataclasses.replace(entry, reason=f"{entry.reason}; fallback: {tried}")
        return entry


def _choose(
    sources: Sequence[AnySource], names: list[str], by_id: dict[str, Product]
) -> tuple[dict[str, tuple[int, int, AnySource, Product]], dict[str, list[str]]]:
    """For each product, the soonest copy of the same archive among ``sources`` (earlier
    sources first among equals), and why each other source was passed over."""
    best: dict[str, tuple[int, int, AnySource, Product]] = {}
    why_not: dict[str, list[str]] = {name: [] for name in names}
    for order, source in enumerate(sources):
        try:
            found = look_up(source, names)
        except Exception as exc:  # one source's trouble: the others may still have them
            logger.warning("fallback %s: look-up failed (%s)", _label(source), exc)
            for name in names:
                why_not[name].append(f"{_label(source)}: look-up failed ({exc})")
            continue
        for name in names:
            copy = found.get(name)
            if copy is None:
                why_not[name].append(f"{_label(source)}: not in its catalogue")
                continue
            differs = _same(by_id[name], copy)
            if differs:
                why_not[name].append(f"{_label(source)}: another archive ({differs})")
                continue
            rank = _rank(source, copy)
            if rank is None:
                why_not[name].append(
                    f"{_label(source)}: {copy.availability.value} there, and it restores "
                    "nothing on request"
                )
                continue
            if name not in best or (rank, order) < best[name][:2]:
                best[name] = (rank, order, source, copy)
    return best, why_not


__all__ = ["FALL_BACK_ON", "AnySource", "Source", "download_with_fallback", "look_up"]
