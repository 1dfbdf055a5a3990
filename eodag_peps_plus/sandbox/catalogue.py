"""A deterministic, synthetic but realistic Sentinel catalogue shared by every emulated server.

PEPS resto and GEODES STAC views are two renderings of the same entries, which is what lets
tests check that one query gives the same products on both backends.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import uuid
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta, timezone

from shapely.geometry import Polygon

from .archive import ArchiveFile, BytesArchive, minimum_size
from .s1_orbit import SLICE, Pass, passes_over
from .safe_layout import fitting_tree, s2_absolute_orbit, smallest_archive

__all__ = [
    "Catalogue",
    "Entry",
    "PLACES",
    "RIVERS",
    "S1_AREA",
    "S1_OTHER_AREAS",
    "S2ST_START",
    "STORAGE_WEIGHTS",
    "TILES",
    "TOWNS",
    "TYPICAL_SIZES",
    "UUID_NAMESPACE",
    "generate",
    "iso",
    "place",
    "s1_tracks",
    "square_footprint",
    "stable_unit",
    "tile_entries",
]

UUID_NAMESPACE = uuid.UUID("6f1c1f0e-9a1b-4c55-8f43-7d1e5c0a9b21")
S2ST_START = datetime(2016, 12, 5, tzinfo=timezone.utc)

#: MGRS tile -> (centre lon, centre lat, S2 relative orbits). Approximate centres are enough.
TILES: dict[str, tuple[float, float, tuple[int, ...]]] = {
    "31TCJ": (1.25, 43.65, (51, 8)),  # Toulouse
    "31UDQ": (2.60, 48.65, (51, 108)),  # Paris
    "30TXQ": (-0.55, 44.85, (94,)),  # Bordeaux
    "31TFJ": (5.45, 43.30, (108,)),  # Marseille
    "32TLR": (6.90, 45.00, (108, 65)),  # Alps
    "55PDR": (146.58, 13.98, (2,)),  # Pacific (the recorded fixture's tile)
    "33WXS": (16.50, 69.20, (22,)),  # Northern Norway, beyond 60N: MAJA refuses it
}
#: Towns resto's gazetteer resolved with ``q=`` (name -> lon, lat).
TOWNS: dict[str, tuple[float, float]] = {
    "toulouse": (1.444, 43.604),
    "paris": (2.352, 48.857),
    "bordeaux": (-0.579, 44.838),
    "marseille": (5.370, 43.296),
    "grenoble": (5.724, 45.188),
}
#: Where the catalogue has Sentinel-1 products: around tile 31TCJ (Toulouse). Every pass
#: covering at least 15 % of it gives a slice (:mod:`.s1_orbit`): relative orbits 59 and 132
#: ascending, 8 and 110 descending, each ~250 x 170 km, tilted along its track.
S1_AREA = (0.7, 43.15, 1.8, 44.15)
#: Other places with Sentinel-1 products (Paris, Marseille), seen only by the passes covering
#: most of them: a search there finds products, and the catalogue stays small.
S1_OTHER_AREAS = ((2.1, 48.15, 3.1, 49.15), (4.9, 42.8, 5.9, 43.8))
#: Operations of each Sentinel-1 satellite (S1B failed on 2021-12-23).
_S1_SERVICE = {
    "S1A": (datetime(2014, 10, 3, tzinfo=timezone.utc), None),
    "S1B": (datetime(2016, 9, 26, tzinfo=timezone.utc), datetime(2021, 12, 23, tzinfo=timezone.utc)),
}  # fmt: skip
#: (product type, level, name's type field) of the products of one IW pass.
_S1_PRODUCTS = (("GRD", "LEVEL1", "GRDH_1SDV"), ("SLC", "LEVEL1", "SLC__1SDV"), ("OCN", "LEVEL2", "OCN__2SDV"))  # fmt: skip
#: Typical archive sizes in bytes; the sandbox scales them down (``size_scale``, 3e-5 by
#: default: 21 kB of S2 data, 51 kB GRD, 135 kB SLC, on top of the ~2-15 kB of zip headers and
#: smallest files of each product's SAFE tree; a whole-catalogue MD5 check stays quick).
TYPICAL_SIZES = {"S2MSI1C": 700e6, "GRD": 1.7e9, "SLC": 4.5e9, "OCN": 7e6, "L2A": 900e6}
#: Storage of older products; anything recent is on disk. ``tier2`` is online like ``disk``.
STORAGE_WEIGHTS = (
    ("tape", 0.60),
    ("disk", 0.20),
    ("tier2", 0.05),
    ("tier3", 0.05),
    ("staging", 0.05),
    ("unknown", 0.05),
)

#: Coarse political location, (name, GeoNames id) from continent to state: Europe is France's
#: Occitanie, anything else the Pacific around the recorded tile (GEODES ``political``, PEPS
#: location keywords).
PLACES = {
    "europe": (("Europe", "6255148"), ("France", "3017382"), ("Occitanie", "11071623"), ("Haute-Garonne", "3013767")),
    "pacific": (("Oceania", "6255151"), ("Guam", "4043988"), ("Guam", "4043988"), ("Guam", "4043988")),
}  # fmt: skip
#: Rivers a Sentinel-1 footprint crosses (GEODES ``hydrology``), by S1 relative orbit.
RIVERS = {
    8: ("Garonne", "Gers"), 59: ("Tarn", "Aveyron"), 110: ("Garonne", "Ariège"),
    132: ("Garonne", "Tarn"),
}  # fmt: skip


@dataclasses.dataclass
class Entry:
    """One product as the archive knows it; renderers turn it into resto or STAC JSON."""

    uuid: str
    name: str
    collection: str  # S1, S2, S2ST, or THEIA_L2A (GEODES only)
    platform: str
    product_type: str
    processing_level: str
    instrument: str
    sensor_mode: str
    start: datetime
    end: datetime
    orbit_number: int
    relative_orbit: int
    orbit_direction: str
    cloud_cover: float | None
    tile: str | None
    polygon: list[list[float]]
    size: int
    storage: str
    published: datetime
    #: A record without ``relativeOrbitNumber`` (clients must compute it). Real PEPS S1 records
    #: always carry it, so the default catalogue never sets this; tests of the fallback do.
    hide_relative_orbit: bool = False
    seed: int = 0
    #: Sentinel-1 only: datatake id (the name's 6-hex field, as a number), orbit cycle,
    #: polarisations as PEPS and GEODES write them (``"VV VH"``) and swath (``"IW"``).
    mission_take_id: int | None = None
    cycle: int | None = None
    polarisation: str | None = None
    swath: str | None = None
    #: The archive's bytes, when a test gives them (a hand-made zip); else generated.
    content: bytes | None = dataclasses.field(default=None, repr=False)

    def __post_init__(self) -> None:
        """Refuse a size the archive cannot be served at: the advertised size must be the
        number of bytes served, or no client can ever complete the download."""
        if self.content is not None:
            if self.size != len(self.content):
                raise ValueError(f"{self.name}: size {self.size} is not its content's")
            return
        smallest = minimum_size(self.name)
        if self.size < smallest:
            raise ValueError(f"{self.name}: size {self.size} is below the minimum {smallest}")

    @functools.cached_property
    def bounds(self) -> tuple[float, float, float, float]:
        lons = [p[0] for p in self.polygon]
        lats = [p[1] for p in self.polygon]
        return min(lons), min(lats), max(lons), max(lats)

    @property
    def archive(self) -> ArchiveFile | BytesArchive:
        """The archive served: generated ones from a bounded cache (a 100,000-product
        catalogue holds a few thousand at most), a hand-made one built once per entry (it
        hashes all its bytes when built)."""
        if self.content is not None:
            return self._given_archive
        return _archive(self.name, self.size, self.seed)

    @functools.cached_property
    def _given_archive(self) -> BytesArchive:
        return BytesArchive(self.content or b"")

    @functools.cached_property
    def shape(self) -> Polygon:
        """The footprint as a polygon (searches test it once its bounds match)."""
        return Polygon(self.polygon)

    @functools.cached_property
    def centroid(self) -> tuple[float, float]:
        """Footprint centroid (GEODES items carry it; cached like the checksum)."""
        point = self.shape.centroid
        return point.x, point.y

    @functools.cached_property
    def md5(self) -> str:
        """Computed once per entry: catalogue replies list thousands of checksums."""
        return self.archive.md5

    @property
    def checksum(self) -> str:
        """The MD5 as PEPS wrote it: lowercase for S1 and for recent S2 (processing baseline
        04.00 and later), uppercase for older S2. Clients must accept both."""
        if self.collection in ("S2", "S2ST") and "_N04" not in self.name:
            return self.md5.upper()
        return self.md5

    @property
    def datalake(self) -> tuple[str, str]:
        """``(bucket, key)`` of the archive in CNES's object store (GEODES ``endpoint_url``,
        PEPS S1 ``bucket``/``prefix``): ``sentinel1-grd/YYYY/MM/DD/<name>.zip`` for S1,
        ``sentinel2-l1c/14/U/LD/YYYY/MM/DD/<name>.zip`` for S2, as the recorded items show."""
        day = f"{self.start:%Y/%m/%d}"
        if self.collection == "S1":
            return f"sentinel1-{self.product_type.lower()}", f"{day}/{self.name}.zip"
        bucket = "sentinel2-l1c" if self.collection in ("S2", "S2ST") else "muscate-l2a"
        tile = self.tile or ""
        where = f"{tile[:2]}/{tile[2:3]}/{tile[3:]}/" if tile else ""
        return bucket, f"{where}{day}/{self.name}.zip"


@functools.lru_cache(maxsize=4096)
def _archive(name: str, size: int, seed: int) -> ArchiveFile:
    return ArchiveFile(name, size, seed, fitting_tree(name, size))


def _scaled_size(name: str, typical: float, draw: float, size_scale: float) -> int:
    """A size drawn around ``typical``, scaled down, on top of the smallest archive holding
    the product's whole SAFE tree (its headers weigh the same at any scale: without them,
    files would lose their real shares in small archives)."""
    return smallest_archive(name) + int(typical * draw * size_scale)


def iso(moment: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS.mmmZ``, the form both servers write."""
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds")[:-6] + "Z"


def stable_unit(*parts: object) -> float:
    """A deterministic number in [0, 1) from anything hashable: catalogues never drift."""
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def square_footprint(
    lon: float, lat: float, half_lon: float = 0.55, half_lat: float = 0.5
) -> list[list[float]]:
    return [
        [round(lon - half_lon, 6), round(lat - half_lat, 6)],
        [round(lon + half_lon, 6), round(lat - half_lat, 6)],
        [round(lon + half_lon, 6), round(lat + half_lat, 6)],
        [round(lon - half_lon, 6), round(lat + half_lat, 6)],
        [round(lon - half_lon, 6), round(lat - half_lat, 6)],
    ]


def _storage(start: datetime, now: datetime, key: str) -> str:
    if now - start < timedelta(days=365):
        return "disk"
    draw = stable_unit("storage", key)
    for mode, weight in STORAGE_WEIGHTS:
        if draw < weight:
            return mode
        draw -= weight
    return "tape"


def _s2_platforms(day: datetime) -> list[str]:
    platforms = ["S2A"]
    if day >= datetime(2017, 3, 7, tzinfo=timezone.utc):
        platforms.append("S2B")
    return platforms


def generate(
    *,
    start: datetime = datetime(2015, 7, 1, tzinfo=timezone.utc),
    end: datetime = datetime(2024, 12, 31, tzinfo=timezone.utc),
    now: datetime = datetime(2025, 6, 1, tzinfo=timezone.utc),
    size_scale: float = 3e-5,
    tiles: Iterable[str] = tuple(TILES),
    s1: bool = True,
    l2a_tiles: Iterable[str] = ("31TCJ", "31UDQ"),
) -> list[Entry]:
    """The default catalogue: about 9,000 S2 L1C, 2,500 S1 and some THEIA L2A entries."""
    entries: list[Entry] = []
    l2a = set(l2a_tiles)
    for tile in tiles:
        lon, lat, orbits = TILES[tile]
        entries.extend(tile_entries(tile, lon, lat, orbits, start, end, now, size_scale, l2a))
    if s1:
        entries.extend(_s1_entries(start, end, now, size_scale))
    entries.sort(key=lambda e: (e.start, e.name))
    return entries


def tile_entries(
    tile: str, lon: float, lat: float, orbits: Iterable[int], start: datetime, end: datetime,
    now: datetime, size_scale: float = 3e-5, l2a: set[str] | frozenset[str] = frozenset(),
) -> Iterator[Entry]:  # fmt: skip
    """The Sentinel-2 products of one tile centred at ``(lon, lat)``, every 5 days from
    ``start`` to ``end``, in acquisition-loop order (callers sort)."""
    orbits = tuple(orbits)
    l2a = set(l2a)
    day = start
    while day <= end:
        for platform in _s2_platforms(day):
            for rel in orbits:
                yield from _s2_entries(tile, lon, lat, rel, platform, day, now, size_scale, l2a)
        day += timedelta(days=5)


def _s2_entries(
    tile: str, lon: float, lat: float, rel: int, platform: str, day: datetime,
    now: datetime, size_scale: float, l2a: set[str],
) -> Iterator[Entry]:  # fmt: skip
    key = f"{tile}{rel}{platform}{day:%Y%m%d}"
    if stable_unit("gap", key) < 0.1:  # no acquisition that day
        return
    sensing = day.replace(hour=10, minute=30) + timedelta(seconds=int(stable_unit("t", key) * 1800))
    if platform == "S2B":
        sensing += timedelta(days=2, hours=0)
    processed = sensing + timedelta(hours=5, minutes=int(stable_unit("p", key) * 60))
    baseline = "N0209" if sensing.year < 2022 else "N0400"
    absolute = s2_absolute_orbit(platform, sensing, rel)
    if sensing < S2ST_START:
        name = (
            f"{platform}_OPER_PRD_MSIL1C_PDMC_{processed:%Y%m%dT%H%M%S}_R{rel:03d}_"
            f"V{sensing:%Y%m%dT%H%M%S}_{sensing:%Y%m%dT%H%M%S}_T{tile}"
        )
        collection = "S2"
    else:
        name = (
            f"{platform}_MSIL1C_{sensing:%Y%m%dT%H%M%S}_{baseline}_R{rel:03d}_T{tile}_"
            f"{processed:%Y%m%dT%H%M%S}"
        )
        collection = "S2ST"
    shift = (rel % 3 - 1) * 0.15
    clouds = round(stable_unit("c", key) ** 1.5 * 100, 4)
    size = _scaled_size(
        name, TYPICAL_SIZES["S2MSI1C"], 0.8 + 0.4 * stable_unit("s", key), size_scale
    )
    yield Entry(
        uuid=str(uuid.uuid5(UUID_NAMESPACE, name)), name=name, collection=collection,
        platform=platform, product_type="S2MSI1C", processing_level="LEVEL1C", instrument="MSI",
        sensor_mode="INS-NOBS", start=sensing, end=sensing, orbit_number=absolute,
        relative_orbit=rel, orbit_direction="descending", cloud_cover=clouds, tile=tile,
        polygon=square_footprint(lon + shift, lat), size=size, storage=_storage(sensing, now, name),
        published=processed + timedelta(hours=2), seed=int(stable_unit("seed", name) * 2**31),
    )  # fmt: skip
    if tile in l2a and sensing.year >= 2017 and clouds < 90 and stable_unit("l2a", key) < 0.7:
        l2a_name = (
            f"SENTINEL2{platform[-1]}_{sensing:%Y%m%d-%H%M%S}-{sensing.microsecond // 1000:03d}"
            f"_L2A_T{tile}_C_V2-2"
        )
        size2 = _scaled_size(
            l2a_name, TYPICAL_SIZES["L2A"], 0.8 + 0.4 * stable_unit("s2", key), size_scale
        )
        yield Entry(
            uuid=str(uuid.uuid5(UUID_NAMESPACE, l2a_name)), name=l2a_name,
            collection="THEIA_L2A", platform=platform, product_type="REFLECTANCE",
            processing_level="L2A", instrument="MSI", sensor_mode="INS-NOBS", start=sensing,
            end=sensing, orbit_number=absolute, relative_orbit=rel,
            orbit_direction="descending", cloud_cover=clouds, tile=tile,
            polygon=square_footprint(lon, lat), size=size2, storage="disk",
            published=processed + timedelta(days=3), seed=int(stable_unit("seed", l2a_name) * 2**31),
        )  # fmt: skip


def s1_tracks() -> tuple[Pass, ...]:
    """The Sentinel-1 slices of the catalogue: every pass over :data:`S1_AREA`, the passes
    covering most of :data:`S1_OTHER_AREAS`."""
    found = {(p.relative, p.direction, p.offset): p for p in passes_over((S1_AREA,))}
    for extra in passes_over(S1_OTHER_AREAS, share=0.8):
        found.setdefault((extra.relative, extra.direction, extra.offset), extra)
    return tuple(found.values())


def _s1_entries(
    start: datetime, end: datetime, now: datetime, size_scale: float
) -> Iterator[Entry]:
    for track in s1_tracks():
        for platform, (first, last) in _S1_SERVICE.items():
            until = min(end, last or end)
            cycle = track.cycle_at(platform, max(start, first))
            while (sensing := track.start(platform, cycle)) <= until:
                sensing = sensing.replace(microsecond=sensing.microsecond // 1000 * 1000)
                yield from _s1_products(track, platform, cycle, sensing, now, size_scale)
                cycle += 1


def _s1_products(
    track: Pass, platform: str, cycle: int, sensing: datetime, now: datetime,
    size_scale: float,
) -> Iterator[Entry]:  # fmt: skip
    """The GRD, SLC and OCN products of one pass (one datatake, the same footprint)."""
    stop = sensing + timedelta(seconds=SLICE)
    absolute = track.absolute(platform, cycle)
    take = f"{int(stable_unit('take', platform, sensing) * 0xFFFFFF):06X}"
    for ptype, level, label in _S1_PRODUCTS:
        key = f"{platform}{ptype}{sensing:%Y%m%dT%H%M%S}"
        crc = f"{int(stable_unit('crc', key) * 0xFFFF):04X}"
        name = (
            f"{platform}_IW_{label}_{sensing:%Y%m%dT%H%M%S}_{stop:%Y%m%dT%H%M%S}_"
            f"{absolute:06d}_{take}_{crc}"
        )
        size = _scaled_size(
            name, TYPICAL_SIZES[ptype], 0.9 + 0.2 * stable_unit("s", key), size_scale
        )
        yield Entry(
            uuid=str(uuid.uuid5(UUID_NAMESPACE, name)), name=name, collection="S1",
            platform=platform, product_type=ptype, processing_level=level,
            instrument="SAR-C SAR", sensor_mode="IW", start=sensing, end=stop,
            orbit_number=absolute, relative_orbit=track.relative,
            orbit_direction=track.direction, cloud_cover=0.0, tile=None,
            polygon=[list(p) for p in track.polygon], size=size,
            storage=_storage(sensing, now, name), published=stop + timedelta(hours=3),
            seed=int(stable_unit("seed", name) * 2**31), mission_take_id=int(take, 16),
            cycle=cycle + 1, polarisation="VV VH", swath="IW",
        )  # fmt: skip


def place(entry: Entry) -> tuple[tuple[str, str], ...]:
    """Where a footprint lies (see :data:`PLACES`)."""
    lonmin, latmin = entry.bounds[:2]
    return PLACES["europe" if 35 <= latmin <= 72 and -25 <= lonmin <= 45 else "pacific"]


class Catalogue:
    """Entries indexed by UUID and by name; the sandbox's single source of truth."""

    def __init__(self, entries: Iterable[Entry]) -> None:
        self.entries = list(entries)
        self.by_uuid = {e.uuid: e for e in self.entries}
        self.by_name = {e.name: e for e in self.entries}

    @classmethod
    def default(cls, **kwargs: object) -> Catalogue:
        return cls(generate(**kwargs))  # type: ignore[arg-type]

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[Entry]:
        return iter(self.entries)
