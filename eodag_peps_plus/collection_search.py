"""``CollectionSearch``: pystac-client's collection search over a server's collection list
(free text, box and time interval, matched here: PEPS and GEODES lists are short)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from typing import Any

import pystac

from .query import parse_datetime

__all__ = ["CollectionSearch"]


class CollectionSearch:
    """The collections that match, in the server's order, up to ``max_collections``."""

    def __init__(
        self,
        collections: Sequence[pystac.Collection],
        *,
        q: str | Sequence[str] | None = None,
        bbox: Sequence[float] | None = None,
        interval: tuple[Any, Any] = (None, None),
        max_collections: int | None = 10,
    ) -> None:
        words = [q] if isinstance(q, str) else list(q or [])
        self._terms = [t.lower() for w in words for t in re.split(r"[\s,]+", w) if t]
        self._bbox = tuple(float(v) for v in bbox) if bbox else None
        start, end = interval
        self._start = parse_datetime(start, "datetime") if start else None
        self._end = parse_datetime(end, "datetime", end=True) if end else None
        self._all = list(collections)
        self.max_collections = max_collections

    def _matches(self, collection: pystac.Collection) -> bool:
        keywords = collection.keywords or []
        text = " ".join([collection.id, collection.title or "", collection.description, *keywords])
        text = text.lower()
        if any(term not in text for term in self._terms):
            return False
        if self._bbox is not None:
            lonmin, latmin, lonmax, latmax = self._bbox
            if not any(
                b[0] <= lonmax and lonmin <= b[2] and b[1] <= latmax and latmin <= b[3]
                for b in collection.extent.spatial.bboxes
            ):
                return False
        start = self._start or _aware(None, high=False)
        end = self._end or _aware(None, high=True)
        return any(
            _aware(finish, high=True) >= start and _aware(begin, high=False) <= end
            for begin, finish in collection.extent.temporal.intervals
        )

    def collections(self) -> Iterator[pystac.Collection]:
        found = 0
        for collection in self._all:
            if self.max_collections is not None and found >= self.max_collections:
                return
            if self._matches(collection):
                found += 1
                yield collection

    def collection_list(self) -> list[pystac.Collection]:
        return list(self.collections())

    def collections_as_dicts(self) -> Iterator[dict[str, Any]]:
        for collection in self.collections():
            yield collection.to_dict()

    def matched(self) -> int:
        return sum(1 for c in self._all if self._matches(c))


def _aware(moment: datetime | None, *, high: bool) -> datetime:
    """``moment`` with a time zone; an open end is the far past or future."""
    if moment is None:
        return (datetime.max if high else datetime.min).replace(tzinfo=timezone.utc)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
