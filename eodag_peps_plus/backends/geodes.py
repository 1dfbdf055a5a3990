"""GEODES (CNES, PEPS's successor): the STAC backend configured for its collections and
properties, plus its archive: ``fastavailability``, ``X-API-Key`` downloads, restores.

Products map to the same ``Product.id`` (the ESA name, GEODES's ``identifier``) and the same
STAC property values as the PEPS backend gives for the same catalogue entry, by going through
:mod:`eodag_peps_plus.vocabulary` exactly like ``peps.feature_to_product``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, ClassVar

import msgspec
import requests

from ..collection_names import MAJA_INPUT, MAJA_OUTPUT, ROWS, TITLES, family
from ..exceptions import AuthenticationError, InvalidQueryError
from ..http_io import archive_headers, json_or_error, send
from ..logs import get_logger
from ..product import Availability, Product
from ..query import Query
from ..vocabulary import (
    S1Fields,
    cloud_cover,
    constellation,
    grid_code,
    instruments,
    iso_utc,
    orbit_state,
    processing_level,
    processing_version,
    relative_orbit,
    s1_properties,
)
from .replies import (
    Count,
    FieldError,
    Ident,
    Percent,
    Whole,
    footprint,
    md5_hex,
    open_feature,
    typed_footprint,
)
from .spec import BackendSpec, Probe
from .stac_api import (
    StacApiBackend,
    StacProfile,
    data_asset,
    overview_href,
    property_filters,
    refuse_location,
    spatial_filter,
)

SPEC = BackendSpec(
    name="geodes",
    label="GEODES",
    backend_class="eodag_peps_plus.backends.geodes:GeodesBackend",
    default_url="https://geodes-portal.cnes.fr",
    provider="geodes_plus",
    auth="apikey",
    # CNES serves downloads from gdh-portal-prod too (pyGeodes correct_download_tld rewrites
    # links to it); the sandbox models that second name on loopback as localhost/127.0.0.1.
    host_aliases=(("geodes-portal.", "gdh-portal-prod."), ("127.0.0.1", "localhost")),
    page_cap=80,
    processing="eodag_peps_plus.processing.ogc:OgcProcessing",
    probe=Probe("/api/stac", "stac_version"),
    probe_order=20,
    account_help="create an API key in your GEODES portal profile (https://geodes-portal.cnes.fr)",
    default=True,
    gazetteer=False,
    l2a=True,
)

logger = get_logger(__name__)

#: Product type -> (GEODES collection, value of GEODES ``product:type`` to filter on), from
#: the one collections table.
_ON_GEODES: dict[str, tuple[str, str | None]] = {
    row.product_type: (row.geodes, row.geodes_type) for row in ROWS if row.geodes
}
S1_L1 = _ON_GEODES["GRD"][0]
S1_L2 = _ON_GEODES["OCN"][0]
S2_L1C = _ON_GEODES[MAJA_INPUT.product_type][0]
#: Our product type for THEIA's MAJA L2A (GEODES writes ``REFLECTANCE``): S2MSI2A would
#: claim ESA's Sen2Cor product, which GEODES does not serve.
MAJA_L2A_TYPE = MAJA_OUTPUT.product_type
MAJA_L2A = _ON_GEODES[MAJA_L2A_TYPE][0]
#: The PEPS mirror on GEODES: what a query naming no collection searches, like PEPS did.
PEPS_COLLECTIONS = tuple(dict.fromkeys(r.geodes for r in ROWS if r.peps and r.geodes))
MAJA_L2A_ALIASES = frozenset({MAJA_L2A_TYPE, "REFLECTANCE", "L2A_MAJA", "S2_MSI_L2A_MAJA"})
#: Product type (and GEODES's spellings of MAJA's) -> (collection, ``product:type`` filter).
PRODUCT_TYPES: dict[str, tuple[str, str | None]] = {
    **_ON_GEODES,
    **{alias: (MAJA_L2A, None) for alias in MAJA_L2A_ALIASES},
}
#: GEODES's names of the Sentinel-1 fields.
S1_FIELDS = S1Fields(
    mode=("sar:instrument_mode", "swath"),
    polarisations="sar:polarizations",
    datatake="mission_take_id",
    cycle="sat:orbit_cycle",
)
#: How many products one ``fastavailability`` request asks about.
AVAILABILITY_BATCH = 100


def route(query: Query) -> list[str]:
    """Unified collection / product type -> GEODES collections."""
    if query.product_type:
        if query.product_type in PRODUCT_TYPES:
            collection = PRODUCT_TYPES[query.product_type][0]
            if query.collection and not _compatible(query.collection, collection):
                raise InvalidQueryError(
                    f"product_type {query.product_type} is not in collection {query.collection}"
                )
            return [collection]
        if query.product_type == "S2MSI2A":
            raise InvalidQueryError(
                "product_type S2MSI2A: GEODES has no Sen2Cor L2A; its Sentinel-2 L2A products are "
                f"THEIA's MAJA ones, product_type {MAJA_L2A_TYPE}"
            )
        known = sorted(k for k in PRODUCT_TYPES if k not in MAJA_L2A_ALIASES)
        raise InvalidQueryError(
            f"product_type {query.product_type}: GEODES backend knows "
            f"{', '.join(known)}, {MAJA_L2A_TYPE}"
        )
    if query.collection:
        wanted = family(query.collection)
        found = [c for c in PEPS_COLLECTIONS if _compatible(wanted, c)]
        if found:
            return found
        raise InvalidQueryError(
            f"collection {query.collection}: GEODES has no "
            f"{TITLES.get(query.collection, query.collection)} collection from the PEPS mirror; "
            "search it with another EODAG provider"
        )
    return list(PEPS_COLLECTIONS)


def _compatible(unified: str, geodes: str) -> bool:
    """Whether GEODES collection ``geodes`` holds products of collection ``unified``."""
    return any(r.geodes == geodes and r.unified == family(unified) for r in ROWS)


def filters(query: Query) -> dict[str, Any]:
    """Unified query -> GEODES body fields (``query`` extension on its property names)."""
    refuse_location(query, "GEODES")
    body = spatial_filter(query)
    q: dict[str, dict[str, Any]] = {}
    # PEPS matched products whose start lies in [start, end]; the same test here keeps both
    # backends returning the same products for the same query.
    when: dict[str, Any] = {}
    if query.start:
        when["gte"] = iso_utc(query.start)
    if query.end:
        when["lte"] = iso_utc(query.end)
    if when:
        q["start_datetime"] = when
    if query.identifiers:
        q["identifier"] = {"in": list(query.identifiers)}
    q.update(
        property_filters(
            query,
            tile=lambda tile: f"T{tile}",  # GEODES writes T31TCJ
            orbit_state=str.capitalize,  # and "Descending"
            product_type=lambda name: PRODUCT_TYPES[name][1] if name in PRODUCT_TYPES else None,
        )
    )
    if q:
        body["query"] = q
    return body


def parse_description(text: str | None) -> dict[str, str]:
    """``File size: N bytes\\n\\nIs online: false\\n...`` -> {key: value}: the only place
    GEODES gives size, checksum and online state."""
    info: dict[str, str] = {}
    for line in (text or "").splitlines():
        key, sep, value = line.strip().partition(":")
        if sep:
            info[key.strip().lower()] = value.strip()
    return info


def item_to_product(item: Any, backend: str = "geodes") -> Product:
    """One GEODES item -> :class:`Product` with PEPS's property names and values (the
    general rule, which names any fault).

    Raises:
        FieldError: a field is missing or malformed (see :mod:`.replies`).
    """
    fields, p, native_id, name = open_feature(item, ("identifier",))
    platform = p.text("platform") or name[:3]
    absolute = p.integer("sat:absolute_orbit")
    native_type = p.text("product:type")
    collection = fields.text("collection")
    _, asset = data_asset(fields)
    description = asset.text("description")
    props = _properties(
        name,
        platform,
        absolute,
        native_type,
        collection,
        start=p.time("start_datetime", required=True),
        end=p.time("end_datetime"),
        instrument=p.text("instrument"),
        level=p.text("processing:level"),
        relative=p.integer("sat:relative_orbit"),
        direction=p.text("sat:orbit_state"),
        endpoint=p.text("endpoint_url"),
        created=p.time("datetime"),
        cloud=p.percent("eo:cloud_cover"),
        grid=p.text("grid:code"),
        quicklook=overview_href(fields),
    )
    if platform.startswith("S1"):
        props.update(s1_properties(name, p.data, S1_FIELDS))
    elif platform.startswith("S2") and (
        version := processing_version(name) or p.text("processing:version")
    ):
        props["processing:version"] = version
    shape, box = footprint(fields)
    return _product(name, native_id, backend, (shape, box), props, asset.text("href"), description)


def _properties(
    name: str,
    platform: str,
    absolute: int | None,
    native_type: str | None,
    collection: str | None,
    **read: Any,
) -> dict[str, Any]:
    """A GEODES item's properties in our vocabulary, from its values already read and
    checked (by :class:`~.replies.Fields` or the compiled decoder), ``None`` left out."""
    is_l2a = collection == MAJA_L2A
    start = read["start"]
    props: dict[str, Any] = {
        "title": name,
        "start_datetime": start,
        "end_datetime": read["end"] or start,
        "constellation": constellation(platform),
        "platform": platform,
        "instruments": instruments(read["instrument"]),
        "product:type": MAJA_L2A_TYPE if is_l2a else native_type,
        "processing:level": processing_level(read["level"]),
        "sat:absolute_orbit": absolute,
        "sat:relative_orbit": relative_orbit(name, platform, absolute, read["relative"]),
        "sat:orbit_state": orbit_state(read["direction"]),
        "geodes:collection": collection,
        "geodes:endpoint_url": read["endpoint"],
        "geodes:product_type": native_type if is_l2a else None,
        "created": read["created"],
        "eo:cloud_cover": cloud_cover(platform, read["cloud"]),
        "grid:code": grid_code(read["grid"]),
        "eodag:quicklook": read["quicklook"],
    }
    return {k: v for k, v in props.items() if v is not None}


def _product(
    name: str,
    native_id: str,
    backend: str,
    checked: tuple[Any, list[float] | None],
    props: dict[str, Any],
    href: str | None,
    description: str | None,
) -> Product:
    """The product, with what the data asset's description says (size, MD5, online).

    Raises:
        FieldError: the description's MD5 is not one.
    """
    info = parse_description(description)
    size = re.match(r"\d{1,19}", info.get("file size", ""))
    md5 = info.get("checksum md5")
    online = info.get("is online", "").lower()
    where = "the data asset's description: Checksum MD5"
    return Product(
        id=name,
        native_id=native_id,
        backend=backend,
        geometry=checked[0],
        bbox=checked[1],
        properties=props,
        download_url=href or "",
        size=int(size.group(0)) if size else None,
        md5=md5_hex(md5, lambda problem: FieldError(where, problem, name)) if md5 else None,
        availability=_ONLINE.get(online, Availability.UNKNOWN),
    )


_ONLINE = {"true": Availability.ONLINE, "false": Availability.OFFLINE}


# -- the compiled reading of a common page ------------------------------------------------------
def _named(name: str) -> Any:
    return msgspec.field(default=None, name=name)


class _Asset(msgspec.Struct, gc=False):
    href: str | None = None
    type: str | None = None
    roles: list[str] | None = None
    description: str | None = None


class _Props(msgspec.Struct, gc=False):
    """The properties :func:`item_to_product` reads, each typed within its rule."""

    identifier: str | None = None
    platform: str | None = None
    absolute: Count | None = _named("sat:absolute_orbit")
    product_type: str | None = _named("product:type")
    start: str | None = _named("start_datetime")
    end: str | None = _named("end_datetime")
    instrument: str | None = None
    level: str | None = _named("processing:level")
    relative: Count | None = _named("sat:relative_orbit")
    direction: str | None = _named("sat:orbit_state")
    endpoint: str | None = _named("endpoint_url")
    created: str | None = _named("datetime")
    cloud: Percent | None = _named("eo:cloud_cover")
    grid: str | None = _named("grid:code")
    version: str | None = _named("processing:version")
    mode: str | None = _named("sar:instrument_mode")
    swath: str | None = None
    polarizations: str | list[str] | None = _named("sar:polarizations")
    take: Whole | None = _named("mission_take_id")
    cycle: Whole | None = _named("sat:orbit_cycle")


class _Item(msgspec.Struct, gc=False):
    id: Ident | None = None
    collection: str | None = None
    properties: _Props | None = None
    assets: dict[str, _Asset] | None = None
    geometry: msgspec.Raw = msgspec.Raw(b"null")


def _typed_assets(assets: dict[str, _Asset] | None) -> tuple[_Asset, str | None]:
    """:func:`~.stac_api.data_asset` and :func:`~.stac_api.overview_href` of typed assets."""
    entries = list((assets or {}).values())
    data = next(
        (a for a in entries if a.roles and "data" in a.roles and a.type != "application/xml"),
        entries[0] if entries else _NO_ASSET,
    )
    overview = next(
        (a for a in entries if a.roles and ("overview" in a.roles or "thumbnail" in a.roles)),
        _NO_ASSET,
    )
    return data, overview.href or None


_NO_ASSET = _Asset()


def typed_product(item: _Item, backend: str) -> Product | None:
    """:func:`item_to_product` of a decoded item; ``None`` when only the general rule can
    decide (a required field missing, a date or checksum it would refuse...)."""
    p, native_id = item.properties, item.id
    if p is None or native_id is None or native_id == "" or not p.start:
        return None
    checked = typed_footprint(item.geometry)
    if checked is None:
        return None
    native = str(native_id)
    name = p.identifier or native
    platform = p.platform or name[:3]
    data, quicklook = _typed_assets(item.assets)
    try:
        start, end, created = (iso_utc(t) if t else None for t in (p.start, p.end, p.created))
        props = _properties(
            name,
            platform,
            p.absolute,
            p.product_type or None,
            item.collection or None,
            start=start,
            end=end,
            instrument=p.instrument or None,
            level=p.level or None,
            relative=p.relative,
            direction=p.direction or None,
            endpoint=p.endpoint or None,
            created=created,
            cloud=p.cloud,
            grid=p.grid or None,
            quicklook=quicklook,
        )
        if platform.startswith("S1"):
            values = (p.mode, p.swath, p.polarizations, p.take, p.cycle)
            raw = dict(zip(_S1_KEYS, values, strict=True))
            props.update(s1_properties(name, raw, S1_FIELDS))
        elif platform.startswith("S2") and (version := processing_version(name) or p.version):
            props["processing:version"] = version
        return _product(name, native, backend, checked, props, data.href, data.description)
    except (ValueError, OverflowError, FieldError):
        return None


#: The properties :func:`~eodag_peps_plus.vocabulary.s1_properties` reads (``S1_FIELDS``).
_S1_KEYS = (
    "sar:instrument_mode",
    "swath",
    "sar:polarizations",
    "mission_take_id",
    "sat:orbit_cycle",
)


#: GEODES as a STAC profile; pgstac tests reuse it with other paths.
GEODES_PROFILE = StacProfile(
    name="geodes",
    search_path="/api/stac/search",
    collections_path="/api/stac/collections",
    collections_method="POST",
    max_page_size=80,
    page_param="page",
    sort_key="sortBy",
    sort=({"field": "start_datetime", "direction": "asc"},),
    descending="dsc",
    route=route,
    filters=filters,
    to_product=item_to_product,
    typed_item=(_Item, typed_product),
)


class GeodesBackend(StacApiBackend):
    """``get_backend("geodes", "https://geodes-portal.cnes.fr", credentials=...)``."""

    name: ClassVar[str] = "geodes"
    profile = GEODES_PROFILE
    max_page_size: ClassVar[int] = 80
    default_page_size: ClassVar[int] = 80

    #: What a 410 from GEODES means (CS-SI/eodag#1776; no order call: EODAG PR #2154).
    refusal_meaning: ClassVar[str] = "kept on Tier3, and GEODES offers no restore through its API"
    restores: ClassVar[bool] = False
    #: pyGeodes: 429 means the download quota is spent.
    too_many_requests: ClassVar[str] = "GEODES download quota spent"
    refusal_advice: ClassVar[str] = (
        "to get it: download it from another source that has it online (another backend or "
        "EODAG provider), or ask GEODES support to bring it back from Tier3"
    )

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        # Accept EODAG-style endpoints too (".../api/stac/search").
        base = re.sub(r"/api/stac(/search)?/?$", "", base_url.rstrip("/"))
        super().__init__(base, **kwargs)

    @property
    def server_name(self) -> str:
        return "GEODES"

    # -- archive ------------------------------------------------------------------------------
    def _get_archive(
        self, product: Product, headers: dict[str, str], what: str
    ) -> requests.Response:
        if not product.download_url:
            raise InvalidQueryError(f"{product.id}: no data asset to download on GEODES")
        self.require_credentials(what)
        url = self.check_origin(product.download_url, what)
        try:
            return self.archive_session.get(url, headers=headers, stream=True, timeout=self.timeout)
        except requests.TooManyRedirects:
            # Users saw "Exceeded 30 redirects" when GEODES did not accept their key.
            raise AuthenticationError(
                f"{what}: GEODES redirected in a loop, which is how it refuses a wrong or "
                f"expired API key (X-API-Key); {self.credentials_hint}"
            ) from None

    def open_download(
        self,
        product: Product,
        *,
        offset: int = 0,
        if_range: str | None = None,
        end: int | None = None,
    ) -> requests.Response:
        headers = archive_headers(offset, if_range, end)
        return self._get_archive(product, headers, f"GEODES download of {product.id}")

    def request_restore(self, product: Product) -> Availability | None:
        """Ask for one byte: GEODES's API has no restore call (EODAG PR #2154), so a download
        request is the only way to learn what the archive will do with an offline product.
        Users report **410 Gone** for products on Tier3 (CS-SI/eodag#1776): that is raised as
        :class:`~eodag_peps_plus.exceptions.ArchiveRefusedError`, and the product is settled.

        Raises:
            ArchiveRefusedError: HTTP 410 Gone (kept on Tier3, no restore through the API).
            AuthenticationError: the key was refused (a redirect loop, 401/403).
            QuotaExceededError: HTTP 429, the download quota is spent.
        """
        what = f"GEODES restore of {product.id}"
        headers = {"Range": "bytes=0-0", "Accept-Encoding": "identity"}
        with self._get_archive(product, headers, what) as response:
            return self.restore_reply(response, what)

    def availability(self, products: Sequence[Product]) -> dict[str, Availability]:
        """One ``POST /fastavailability`` per hundred products. It says online or not, never
        "being restored": ``false`` is ``OFFLINE``, whatever we asked before."""
        found: dict[str, Availability] = {}
        todo = [p for p in products if p.download_url]
        for start in range(0, len(todo), AVAILABILITY_BATCH):
            batch = todo[start : start + AVAILABILITY_BATCH]
            body = {
                "availability": [
                    {"href": p.download_url, "endpointURL": _endpoint(p)} for p in batch
                ]
            }
            url = f"{self.base_url}/fastavailability"
            response = send(
                self.session, "POST", url, "GEODES availability", json=body, timeout=self.timeout
            )
            data = json_or_error(response, "GEODES availability")
            online: dict[tuple[str, str], bool] = {}
            for entry in (data or {}).get("products") or []:
                for file in entry.get("files") or []:
                    online[(str(entry.get("id")), str(file.get("checksum", "")).lower())] = bool(
                        file.get("available")
                    )
            for product in batch:
                state = online.get(
                    (product.native_id, (product.md5 or _md5_from_href(product.download_url)))
                )
                if state is None:
                    found[product.id] = Availability.UNKNOWN
                else:
                    found[product.id] = Availability.ONLINE if state else Availability.OFFLINE
        return found


def _endpoint(product: Product) -> str | None:
    value = product.properties.get("geodes:endpoint_url") or product.extra.get("endpoint_url")
    return str(value) if value else None


def _md5_from_href(href: str) -> str:
    return href.rstrip("/").rsplit("/", 1)[-1].lower()


__all__ = [
    "GeodesBackend",
    "GEODES_PROFILE",
    "MAJA_L2A_TYPE",
    "PEPS_COLLECTIONS",
    "filters",
    "item_to_product",
    "parse_description",
    "route",
    "typed_product",
]
