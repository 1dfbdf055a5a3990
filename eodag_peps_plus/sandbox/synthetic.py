"""A synthetic Sentinel-1 GRD collection of any size (a million products), made page by page.

The default catalogue (about 18,000 entries, built up front) cannot show whether a client's
memory stays flat over a million-product search. With ``SandboxConfig(synthetic_products=N)``
(``peps-plus sandbox serve --synthetic N``), searches of Sentinel-1 (PEPS collection ``S1``,
GEODES collection ``PEPS_S1_L1``) see instead ``N`` GRD products, entry ``i`` computed from
``i`` alone when a page asks for it: the sandbox holds none of them, replies have the shapes
of the real ones (the services render these entries like any other), and two runs serve the
same products.

What the mode does not do: every filter but the collection is ignored (the count is always
``N``, one product every 30 seconds from 2030 on, in time order), and the products are for
searching only (no feature page, no download, no availability: the tape library does not
know them, so replies show their storage as ``unknown``).

Hooks: ``PepsService.search`` and ``GeodesService._matches`` ask :func:`matches` first;
``PepsService._feature_text`` and ``GeodesService.properties`` do not cache a
:class:`SyntheticEntry` (a million cached renderings is the growth this mode measures).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, overload

from .catalogue import UUID_NAMESPACE, Entry, s1_tracks

if TYPE_CHECKING:
    from .server import Sandbox

__all__ = [
    "EPOCH",
    "GEODES_COLLECTION",
    "PEPS_COLLECTION",
    "SIZE",
    "STEP",
    "SyntheticEntries",
    "SyntheticEntry",
    "entry",
    "matches",
]

#: When the synthetic products start, and the time between two of them (names stay unique).
EPOCH = datetime(2030, 1, 1, tzinfo=timezone.utc)
STEP = timedelta(seconds=30)
#: Collections that show the synthetic products: PEPS's ``S1`` path, GEODES's GRD collection.
PEPS_COLLECTION = "S1"
GEODES_COLLECTION = "PEPS_S1_L1"
#: Archive size of every synthetic product (bytes; never downloaded).
SIZE = 51_000


class SyntheticEntry(Entry):
    """An entry made on demand: the services render it without caching it."""

    @property
    def md5(self) -> str:
        """A digest of the name: the archive is never made (a million of them would be)."""
        return hashlib.md5(self.name.encode(), usedforsecurity=False).hexdigest()


def entry(index: int) -> SyntheticEntry:
    """Product number ``index`` (from 0), the same on every call."""
    tracks = s1_tracks()
    track = tracks[index % len(tracks)]
    platform = "S1A" if index % 2 == 0 else "S1B"
    sensing = EPOCH + STEP * index
    stop = sensing + timedelta(seconds=25)
    cycle = (sensing - EPOCH).days // 12
    absolute = track.absolute(platform, cycle)
    take = index % 0xFFFFFF
    name = (
        f"{platform}_IW_GRDH_1SDV_{sensing:%Y%m%dT%H%M%S}_{stop:%Y%m%dT%H%M%S}_"
        f"{absolute:06d}_{take:06X}_{index % 0xFFFF:04X}"
    )
    return SyntheticEntry(
        uuid=str(uuid.uuid5(UUID_NAMESPACE, name)), name=name, collection="S1",
        platform=platform, product_type="GRD", processing_level="LEVEL1",
        instrument="SAR-C SAR", sensor_mode="IW", start=sensing, end=stop,
        orbit_number=absolute, relative_orbit=track.relative, orbit_direction=track.direction,
        cloud_cover=0.0, tile=None, polygon=[list(p) for p in track.polygon], size=SIZE,
        storage="tape" if index % 3 else "disk", published=stop + timedelta(hours=3),
        seed=index, mission_take_id=take, cycle=cycle + 1, polarisation="VV VH", swath="IW",
    )  # fmt: skip


class SyntheticEntries(Sequence[Entry]):
    """``size`` entries, each made when read: what the services slice a page from."""

    def __init__(self, size: int) -> None:
        self.size = size

    def __len__(self) -> int:
        return self.size

    @overload
    def __getitem__(self, index: int) -> Entry: ...

    @overload
    def __getitem__(self, index: slice) -> list[Entry]: ...

    def __getitem__(self, index: int | slice) -> Entry | list[Entry]:
        if isinstance(index, slice):
            return [entry(i) for i in range(*index.indices(self.size))]
        if not -self.size <= index < self.size:
            raise IndexError(index)
        return entry(index % self.size)


def matches(sandbox: Sandbox, collections: Any) -> SyntheticEntries | None:
    """The synthetic products if the sandbox serves them and the search asks for their
    collection (a PEPS path's collection, or a GEODES body's ``collections`` list), else
    ``None``: the service searches its catalogue as usual."""
    size = sandbox.config.synthetic_products
    if not size:
        return None
    wanted = collections if isinstance(collections, list) else [collections]
    if PEPS_COLLECTION in wanted or GEODES_COLLECTION in wanted:
        return SyntheticEntries(size)
    return None
