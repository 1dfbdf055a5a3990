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
import dataclasses
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
    """Download ``products`` from ``first``, then each it refused or could not serve from the
    ``sources`` that have it.

    Args:
        first: the source the products were found on.
        products: the batch.
        output_dir: one output (and one ledger) for every source.
        options: the staging options, the same for every source.
        sources: fallback backends or sources (:class:`Source`, e.g. ``EodagSource``), in order of preference among equally soon copies.
        run: passed on to :meth:`Downloader.download` (``executor``, ``on_done``...).

    Returns:
        One report: a product fetched from a fallback says from which source and why.
    """
    report = Downloader(first, output_dir, options).download(products, **run)
    missing = {p.id: p for p in report.products if p.status in FALL_BACK_ON}
    if not missing or not sources:
        return report
    by_id = {p.id: p for p in products}
    names = list(missing)
    best, why_not = _choose(sources, names, by_id)
    fetched: dict[str, ProductReport] = {}
    chosen: dict[int, list[Product]] = {}
    for _, order, _source, copy in best.values():
        chosen.setdefault(order, []).append(copy)
    for order, batch in sorted(chosen.items()):
        source = sources[order]
        sub = Downloader(source, output_dir, options).download(batch, **run)
        for entry in sub.products:
            first_reason = missing[entry.id].reason
            entry.reason = (
                f"from {_label(source)} ({_label(first)}: {first_reason}): {entry.reason}"
            )
            fetched[entry.id] = entry
        report.elapsed += sub.elapsed
    merged: list[ProductReport] = []
    for entry in report.products:
        if entry.id in fetched:
            merged.append(fetched[entry.id])
        elif entry.id in missing:
            tried = "; ".join(why_not[entry.id]) or "no fallback source has it"
            merged.append(dataclasses.replace(entry, reason=f"{entry.reason}; fallback: {tried}"))
        else:
            merged.append(entry)
    return DownloadReport(merged, report.elapsed)


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
