"""The backend-neutral product record every backend maps its catalogue entries to.

It carries STAC property names (EODAG 4 vocabulary) so that EODAG products, pystac items and
the staging downloader all read the same fields whichever server answered.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Any

from .geometry import single_part

__all__ = ["Availability", "Product", "STORAGE_MODES", "TYPICAL_RESTORE_SECONDS", "md5_multihash"]

#: Typical restore time from tape, seconds (PEPS: "2-6 minutes typically, hours when the robot
#: is busy"; GEODES does not document it, so the same figure is assumed). The sandbox emulates
#: it and reports quote it.
TYPICAL_RESTORE_SECONDS: tuple[float, float] = (120.0, 360.0)


def human_size(size: int | None) -> str:
    """``999 B``, ``1.5 kB``, ``6.2 MB``: small sandbox zips and real ones read alike."""
    if size is None:
        return "unknown"
    value = float(size)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} PB"  # pragma: no cover - the loop returns at TB


class Availability(str, enum.Enum):
    """Where the archive file is, as far as the catalogue knows."""

    ONLINE = "online"
    STAGING = "staging"
    OFFLINE = "offline"
    UNKNOWN = "unknown"

    @property
    def order_status(self) -> str:
        """EODAG/STAC ``order:status``: what ``filter_online()`` and the downloader read."""
        return _ORDER_STATUS.get(self.value, "orderable")

    @property
    def is_online(self) -> bool:
        return self is Availability.ONLINE

    @classmethod
    def from_properties(cls, props: dict[str, Any]) -> Availability:
        """Back from STAC/EODAG properties: ``order:status`` (kept current by the downloader),
        except that PEPS's raw ``peps:storage=unknown`` is not "on tape": it may never come back."""
        if props.get("peps:storage") == "unknown":
            return cls.UNKNOWN
        return _ORDER_TO_AVAILABILITY.get(str(props.get("order:status")), cls.UNKNOWN)


#: ``storage.mode`` values of PEPS resto.
STORAGE_MODES: dict[str, Availability] = {
    "disk": Availability.ONLINE,
    "tier2": Availability.ONLINE,
    "staging": Availability.STAGING,
    "tape": Availability.OFFLINE,
    "tier3": Availability.OFFLINE,
    "unknown": Availability.UNKNOWN,
}

#: ``Availability`` value -> ``order:status`` (the others: ``orderable``).
_ORDER_STATUS = {"online": "succeeded", "staging": "ordered"}

_ORDER_TO_AVAILABILITY = {
    "succeeded": Availability.ONLINE,
    "ordered": Availability.STAGING,
    "orderable": Availability.OFFLINE,
}


def md5_multihash(md5_hex: str) -> str:
    """STAC ``file:checksum`` is a multihash: 0xd5 (md5), 0x10 (16 bytes), then the digest."""
    return "d510" + md5_hex.lower()


@dataclasses.dataclass
class Product:
    """One catalogue entry.

    ``id`` is the ESA product name, identical on PEPS and GEODES, so the same product found on
    either backend is recognised; ``native_id`` is the server's own identifier (a UUID on PEPS,
    a URN on GEODES) used to build URLs.
    """

    id: str
    native_id: str
    backend: str
    geometry: dict[str, Any]
    properties: dict[str, Any]
    download_url: str
    size: int | None = None
    md5: str | None = None  # lower-case hex
    availability: Availability = Availability.UNKNOWN
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)
    #: The footprint's bounding box when the mapper found it while checking the footprint
    #: (``None``: not known, computed when needed); not part of the record's identity.
    bbox: list[float] | None = dataclasses.field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        self.geometry = single_part(self.geometry)

    @property
    def filename(self) -> str:
        """The name the legacy script saved the archive under."""
        return f"{self.id}.zip"

    def stac_properties(self) -> dict[str, Any]:
        """Properties plus the fields derived from download metadata and availability."""
        props = dict(self.properties)
        props["order:status"] = self.availability.order_status
        props["eodag:download_link"] = self.download_url
        if self.size is not None:
            props["file:size"] = self.size
        if self.md5:
            props["file:checksum"] = md5_multihash(self.md5)
        return props

    def native_properties(self) -> dict[str, Any]:
        """The server's own id and extra fields as ``<backend>:<key>`` properties: what a
        product needs to be rebuilt from a saved item (EODAG's search results files)."""
        props = {f"{self.backend}:{key}": value for key, value in self.extra.items()}
        props[f"{self.backend}:id"] = self.native_id
        return props
