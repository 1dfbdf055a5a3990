"""PEPS resto OpenSearch backend.

Speaks ``/resto/api/collections/{S1,S2,S2ST,S3}/search.json`` and maps each feature straight
to a :class:`Product` with plain dict look-ups: no jsonpath, which is where EODAG's generic
configuration spent its time.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import msgspec
import requests

from ..collection_names import TITLES
from ..exceptions import (
    InvalidQueryError,
    PagingError,
)
from ..geometry import geometry_bbox
from ..http_io import archive_headers, json_or_error, send
from ..logs import get_logger
from ..product import STORAGE_MODES, Availability, Product
from ..query import S2ST_START, Query
from ..vocabulary import (
    COLLECTIONS,
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
from .base import Backend, SearchPage
from .paging import Background, PageToken, Walk, past_count, read_token
from .replies import (
    Count,
    Ident,
    Percent,
    TypedLink,
    Whole,
    footprint,
    map_features,
    md5_hex,
    next_href,
    open_feature,
    reply_count,
    reply_list,
    reply_member,
    reply_object,
    typed_footprint,
    typed_next_href,
    typed_page,
)
from .spec import BackendSpec, Probe

__all__ = [
    "AVAILABILITY",
    "AVAILABILITY_SPREAD",
    "PepsBackend",
    "S1_FIELDS",
    "SEARCH",
    "SPEC",
    "feature_to_product",
    "query_params",
    "read_reply",
    "route_collections",
    "typed_reply",
]

SPEC = BackendSpec(
    name="peps",
    label="PEPS",
    backend_class="eodag_peps_plus.backends.peps:PepsBackend",
    default_url="https://peps.cnes.fr",
    provider="peps",
    auth="basic",
    page_cap=500,
    processing="eodag_peps_plus.processing.wps:WpsProcessing",
    probe=Probe("/resto/api/collections/search.json", "properties", (("maxRecords", "1"),)),
    probe_order=10,
    retired=(
        "PEPS is retired; its successor GEODES holds the same products: use -B geodes (the "
        "default) or Client.open('geodes')"
    ),
    gazetteer=True,
)

logger = get_logger(__name__)

#: Availability look-ups cover products with one search; split the group when a covering
#: search would page through more than this many unrelated products.
AVAILABILITY_SPREAD = 4
SEARCH = "PEPS search"
AVAILABILITY = "PEPS availability"


def collection_document(name: str, base_url: str) -> dict[str, Any]:
    """A STAC collection document for one PEPS collection."""
    return {
        "type": "Collection",
        "stac_version": "1.0.0",
        "id": name,
        "title": TITLES.get(name, name),
        "description": f"PEPS {TITLES.get(name, name)} (CNES Sentinel mirror)",
        "license": "other",
        "keywords": ["PEPS", "Sentinel"],
        "extent": {
            "spatial": {"bbox": [[-180.0, -90.0, 180.0, 90.0]]},
            "temporal": {"interval": [["2014-04-03T00:00:00Z", None]]},
        },
        "links": [
            {
                "rel": "items",
                "href": f"{base_url}/resto/api/collections/{name}/search.json",
                "type": "application/geo+json",
            }
        ],
    }


#: resto's names of the Sentinel-1 fields.
S1_FIELDS = S1Fields(
    mode=("sensorMode", "swath"),
    polarisations="polarisation",
    datatake="missionTakeId",
    cycle="cycleNumber",
)


def _fmt_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def query_params(query: Query) -> dict[str, str]:
    """The resto parameters for a query (collection routing is separate)."""
    params: dict[str, str] = {}
    if query.start:
        params["startDate"] = _fmt_time(query.start)
    if query.end:
        params["completionDate"] = _fmt_time(query.end)
    if query.bbox:
        params["box"] = ",".join(f"{v:g}" for v in query.bbox)
    if query.point:
        params["lon"], params["lat"] = (f"{v:g}" for v in query.point)
    if query.geometry:
        params["geometry"] = query.geometry
    if query.location:
        params["q"] = query.location
    if query.tile:
        params["tileid"] = query.tile
    if query.product_type:
        params["productType"] = query.product_type
    if query.sensor_mode:
        params["sensorMode"] = query.sensor_mode
    if query.platform:
        params["platform"] = query.platform
    if query.relative_orbit:
        params["relativeOrbitNumber"] = str(query.relative_orbit)
    if query.orbit_number:
        params["orbitNumber"] = str(query.orbit_number)
    if query.orbit_direction:
        params["orbitDirection"] = query.orbit_direction
    if query.max_cloud_cover is not None:
        params["cloudCover"] = f"[0,{query.max_cloud_cover:g}]"
    if query.identifiers:
        params["productIdentifier"] = ",".join(query.identifiers)
    return params


def route_collections(query: Query) -> list[str | None]:
    """Sentinel-2 lives in ``S2`` before 2016-12-05 and ``S2ST`` after: ask whichever the
    dates need, so users never have to know. ``None`` means all collections."""
    if query.collection not in ("S2", "S2ST"):
        return [query.collection]
    wanted: list[str | None] = []
    if query.start is None or query.start < S2ST_START:
        wanted.append("S2")
    if query.end is None or query.end >= S2ST_START:
        wanted.append("S2ST")
    return wanted


def feature_to_product(feature: Any, backend: str = "peps") -> Product:
    """One resto feature -> :class:`Product` (the general rule, which names any fault).

    Raises:
        FieldError: a field is missing or malformed (see :mod:`.replies`).
    """
    item, p, native_id, name = open_feature(
        feature, ("title", "productIdentifier"), id_is_name=False
    )
    platform = p.text("platform") or name[:3]
    absolute = p.integer("orbitNumber")
    download = p.obj("services").obj("download")
    storage = p.obj("storage").text("mode")
    props = _properties(
        name,
        native_id,
        platform,
        absolute,
        storage,
        start=p.time("startDate", required=True),
        end=p.time("completionDate"),
        instrument=p.text("instrument"),
        product_type=p.text("productType"),
        level=p.text("processingLevel"),
        relative=p.integer("relativeOrbitNumber"),
        direction=p.text("orbitDirection"),
        collection=p.text("collection"),
        created=p.time("published"),
        updated=p.time("updated"),
        cloud=p.percent("cloudCover"),
        mgrs=p.text("mgrs"),
        quicklook=p.text("quicklook"),
    )
    if platform.startswith("S1"):
        props.update(s1_properties(name, p.data, S1_FIELDS))
    shape, box = footprint(item)
    return Product(
        id=name,
        native_id=native_id,
        backend=backend,
        geometry=shape,
        properties=props,
        download_url=download.text("url") or "",
        size=download.integer("size") or p.integer("resourceSize"),
        md5=download.md5("checksum") or p.md5("resourceChecksum"),
        availability=STORAGE_MODES.get(props["peps:storage"], Availability.UNKNOWN),
        bbox=box,
    )


def _properties(
    name: str,
    native_id: str,
    platform: str,
    absolute: int | None,
    storage: str | None,
    **read: Any,
) -> dict[str, Any]:
    """A resto feature's properties in our vocabulary, from its values already read and
    checked (by :class:`~.replies.Fields` or the compiled decoder), ``None`` left out."""
    start = read["start"]
    props: dict[str, Any] = {
        "title": name,
        "start_datetime": start,
        "end_datetime": read["end"] or start,
        "constellation": constellation(platform),
        "platform": platform,
        "instruments": instruments(read["instrument"]),
        "product:type": read["product_type"],
        "processing:level": processing_level(read["level"]),
        "sat:absolute_orbit": absolute,
        "sat:relative_orbit": relative_orbit(name, platform, absolute, read["relative"]),
        "sat:orbit_state": orbit_state(read["direction"]),
        "peps:storage": (storage or "unknown").lower(),
        "peps:collection": read["collection"],
        "peps:id": native_id,
        "created": read["created"],
        "updated": read["updated"],
        "eo:cloud_cover": cloud_cover(platform, read["cloud"]),
        "grid:code": grid_code(read["mgrs"]),
        "eodag:quicklook": read["quicklook"],
    }
    props = {k: v for k, v in props.items() if v is not None}
    if platform.startswith("S2") and (version := processing_version(name)):
        props["processing:version"] = version
    return props


# -- the compiled reading of a common page ------------------------------------------------------
class _Download(msgspec.Struct, gc=False):
    url: str | None = None
    size: Count | None = None
    checksum: str | None = None


class _Services(msgspec.Struct, gc=False):
    download: _Download | None = None


class _Storage(msgspec.Struct, gc=False):
    mode: str | None = None


class _Props(msgspec.Struct, gc=False):
    """The properties :func:`feature_to_product` reads, each typed within its rule."""

    title: str | None = None
    productIdentifier: str | None = None  # noqa: N815 - resto's names
    platform: str | None = None
    orbitNumber: Count | None = None  # noqa: N815
    storage: _Storage | None = None
    startDate: str | None = None  # noqa: N815
    completionDate: str | None = None  # noqa: N815
    instrument: str | None = None
    productType: str | None = None  # noqa: N815
    processingLevel: str | None = None  # noqa: N815
    relativeOrbitNumber: Count | None = None  # noqa: N815
    orbitDirection: str | None = None  # noqa: N815
    collection: str | None = None
    published: str | None = None
    updated: str | None = None
    cloudCover: Percent | None = None  # noqa: N815
    mgrs: str | None = None
    quicklook: str | None = None
    services: _Services | None = None
    resourceSize: Count | None = None  # noqa: N815
    resourceChecksum: str | None = None  # noqa: N815
    sensorMode: str | None = None  # noqa: N815
    swath: str | None = None
    polarisation: str | list[str] | None = None
    missionTakeId: Whole | None = None  # noqa: N815
    cycleNumber: Whole | None = None  # noqa: N815


class _Feature(msgspec.Struct, gc=False):
    id: Ident | None = None
    properties: _Props | None = None
    geometry: msgspec.Raw = msgspec.Raw(b"null")


class _PageProps(msgspec.Struct, gc=False):
    totalResults: Count | None = None  # noqa: N815
    links: list[TypedLink] | None = None


class _Page(msgspec.Struct, gc=False):
    properties: _PageProps | None = None
    features: list[_Feature] | None = None
    #: resto's error replies (``json_or_error`` raises on the key, whatever its value).
    ErrorCode: Any | msgspec.UnsetType = msgspec.UNSET  # noqa: N815


_PAGE = msgspec.json.Decoder(_Page)
_NO_DOWNLOAD = _Download()


#: The properties :func:`~eodag_peps_plus.vocabulary.s1_properties` reads (``S1_FIELDS``).
_S1_KEYS = ("sensorMode", "swath", "polarisation", "missionTakeId", "cycleNumber")


def _typed_product(feature: _Feature, backend: str) -> Product | None:
    """:func:`feature_to_product` of a decoded feature; ``None`` when only the general rule
    can decide (a required field missing, a date or checksum it would refuse...)."""
    p, native_id = feature.properties, feature.id
    if p is None or native_id is None or native_id == "":
        return None
    name = p.title or p.productIdentifier
    start = p.startDate
    checked = typed_footprint(feature.geometry)
    if not name or not start or checked is None:
        return None
    platform = p.platform or name[:3]
    download = (p.services.download if p.services else None) or _NO_DOWNLOAD
    md5 = download.checksum or p.resourceChecksum or None
    try:
        times = [
            iso_utc(t) if t else None for t in (start, p.completionDate, p.published, p.updated)
        ]
        if md5 is not None:
            md5 = md5_hex(md5, ValueError)
    except (ValueError, OverflowError):
        return None
    props = _properties(
        name,
        str(native_id),
        platform,
        p.orbitNumber,
        p.storage.mode if p.storage else None,
        start=times[0],
        end=times[1],
        instrument=p.instrument or None,
        product_type=p.productType or None,
        level=p.processingLevel or None,
        relative=p.relativeOrbitNumber,
        direction=p.orbitDirection or None,
        collection=p.collection or None,
        created=times[2],
        updated=times[3],
        cloud=p.cloudCover,
        mgrs=p.mgrs or None,
        quicklook=p.quicklook or None,
    )
    if platform.startswith("S1"):
        raw = {k: getattr(p, k) for k in _S1_KEYS}
        props.update(s1_properties(name, raw, S1_FIELDS))
    return Product(
        id=name,
        native_id=str(native_id),
        backend=backend,
        geometry=checked[0],
        properties=props,
        download_url=download.url or "",
        size=download.size or p.resourceSize,
        md5=md5,
        availability=STORAGE_MODES.get(props["peps:storage"], Availability.UNKNOWN),
        bbox=checked[1],
    )


def typed_reply(raw: bytes, backend: str) -> _Reply | None:
    """A common resto page read by the compiled decoder, its features already mapped;
    ``None`` sends it to the general reading (:func:`read_reply`, ``feature_to_product``)."""
    page = typed_page(_PAGE, raw)
    if page is None or page.ErrorCode is not msgspec.UNSET:
        return None
    props = page.properties or _PageProps()
    ok, next_url = typed_next_href(props.links)
    if not ok:
        return None
    products = []
    for feature in page.features or ():
        product = _typed_product(feature, backend)
        if product is None:
            return None
        products.append(product)
    return _Reply(products, props.totalResults, next_url, mapped=True)


@dataclasses.dataclass
class _Reply:
    """One resto search reply, checked: features (not yet mapped, or already products when
    the compiled reading took the page: ``mapped``), count, next link."""

    features: list[Any]
    matched: int | None
    next_url: str | None
    mapped: bool = False


def read_reply(data: Any, what: str) -> _Reply:
    """``features``, ``properties.totalResults`` and the ``rel=next`` link (titles are
    localised, "suivant", and never looked at), each checked for its JSON type.

    Raises:
        MalformedReplyError: naming the field that is not what resto sends.
    """
    body = reply_object(data, what)
    props = reply_member(body, "properties", what)
    matched = reply_count(props.get("totalResults"), "properties.totalResults", what)
    link = next_href(reply_list(props, "links", what, "properties.links"), what, "properties.links")
    return _Reply(reply_list(body, "features", what), matched, link["href"] if link else None)


class PepsBackend(Backend):
    name = "peps"
    max_page_size = 500
    default_page_size = 500

    # -- search ------------------------------------------------------------------------------
    def check(self, query: Query) -> None:
        route_collections(query)
        query_params(query)

    def collection_documents(self) -> list[dict[str, Any]]:
        return [collection_document(name, self.base_url) for name in COLLECTIONS]

    def _search_url(self, collection: str | None) -> str:
        if collection is None:
            return f"{self.base_url}/resto/api/collections/search.json"
        return f"{self.base_url}/resto/api/collections/{collection}/search.json"

    def _get(
        self, url: str, params: dict[str, Any] | None = None, *, mapped: bool = True
    ) -> _Reply:
        """One reply; ``mapped``: through the compiled reading first (searches; availability
        reads the features' raw storage, malformed ones included)."""
        response = send(self.session, "GET", url, SEARCH, params=params, timeout=self.timeout)
        if mapped and response.ok:
            reply = typed_reply(response.content, self.name)
            if reply is not None:
                return reply
        return read_reply(json_or_error(response, SEARCH), SEARCH)

    def _page(
        self,
        walk: Walk,
        collection: str | None,
        params: dict[str, str],
        limit: int,
        page: int,
        *,
        mapped: bool = True,
    ) -> _Reply:
        url = self._search_url(collection)
        params = {**params, "maxRecords": str(limit), "page": str(page)}
        walk.visit("GET", url, params, link=False)
        return self._get(url, params, mapped=mapped)

    def _follow(self, walk: Walk, url: str, *, mapped: bool = True) -> _Reply:
        walk.visit("GET", url)
        return self._get(url, mapped=mapped)

    def _products(self, reply: _Reply, features: list[Any], start: int = 0) -> list[Product]:
        if reply.mapped:
            return list(features)
        return map_features(features, feature_to_product, self.name, SEARCH, start)

    def search_page(
        self, query: Query, *, limit: int | None = None, page: int = 1, token: str | None = None
    ) -> SearchPage:
        """A page of ``limit`` products, which may span several server pages (the server caps
        at 500): callers such as EODAG pay their per-page overhead once per 10,000 products.

        One collection: page numbers, then the server's ``rel=next`` links, up to the server's
        count. Several (S2 then S2ST): offsets into their concatenation. Either way every page
        but the last is full, since EODAG stops paging at the first short page.

        Raises:
            MalformedReplyError: a reply or a feature is not what resto sends.
            PagingError: the next links loop, or there are more than ``MAX_PAGES`` pages.
            InvalidQueryError: ``token`` is not a token of this backend.
        """
        limit = max(1, limit or self.default_page_size)
        size = min(limit, self.max_page_size)
        collections = route_collections(query)
        params = query_params(query)
        page, state = read_token(token, page, self.name)
        walk = Walk(SEARCH, state, self.max_pages)
        if len(collections) > 1 or limit % size or (state and state.offset is not None):
            offset = state.offset if state and state.offset is not None else (page - 1) * limit
            totals = list(state.totals) if state and state.totals is not None else None
            return self._range(walk, collections, params, offset, limit, totals)
        if state is not None and state.url:
            reply, matched, seen = self._follow(walk, state.url), state.matched, state.seen
        else:
            first = (page - 1) * (limit // size) + 1
            reply = self._page(walk, collections[0], params, size, first)
            matched, seen = reply.matched, (page - 1) * limit
        # Each server page is mapped while the next one is read (see :class:`.paging.Background`).
        products: list[Product] = []
        pending, gathered, next_url = reply.features, len(reply.features), reply.next_url
        while (
            gathered < limit
            and next_url
            and reply.features
            and not past_count(seen + gathered, matched)
        ):
            following = Background(functools.partial(self._follow, walk, next_url))
            products += self._products(reply, pending, len(products))
            reply = following.result()
            pending, next_url = reply.features, reply.next_url
            gathered += len(pending)
        products += self._products(reply, pending, len(products))
        seen += len(products)
        if not next_url or not reply.features or past_count(seen, matched):
            return SearchPage(products, matched, None)
        return SearchPage(
            products,
            matched,
            walk.token(PageToken(self.name, url=next_url, matched=matched, seen=seen)),
        )

    def _range(
        self,
        walk: Walk,
        collections: list[str | None],
        params: dict[str, str],
        offset: int,
        limit: int,
        totals: list[int] | None,
    ) -> SearchPage:
        """``limit`` products from ``offset`` in the concatenation of several collections."""
        size = min(limit, self.max_page_size)
        cached: dict[tuple[int, int], _Reply] = {}
        unknown = False  # a collection's server gave no count: the sum is no count either
        if totals is None:
            totals = []
            for index, collection in enumerate(collections):
                cached[(index, 1)] = self._page(walk, collection, params, size, 1)
                counted = cached[(index, 1)].matched
                unknown = unknown or counted is None
                totals.append(counted or 0)
        if len(totals) != len(collections):
            raise InvalidQueryError("not a paging token of this query (collections differ)")
        matched: int | None = None if unknown else sum(totals)
        products: list[Product] = []
        position = offset
        for index, (collection, total) in enumerate(zip(collections, totals, strict=True)):
            if position >= total:
                position -= total
                continue
            while len(products) < limit and position < total:
                sub_page, skip = position // size + 1, position % size
                reply = cached.get((index, sub_page)) or self._page(
                    walk, collection, params, size, sub_page
                )
                features = reply.features[skip : skip + limit - len(products)]
                if not features:
                    break
                products.extend(self._products(reply, features))
                position += len(features)
            position = 0
            if len(products) >= limit:
                break
        end = offset + len(products)
        if not products or end >= sum(totals):
            return SearchPage(products, matched, None)
        return SearchPage(
            products, matched, walk.token(PageToken(self.name, offset=end, totals=tuple(totals)))
        )

    # -- archive ------------------------------------------------------------------------------
    def _archive_get(
        self, product: Product, headers: dict[str, str], what: str
    ) -> requests.Response:
        """A GET of the product's archive link, with the account, only if the link is PEPS's."""
        self.require_credentials(what)
        url = self.check_origin(product.download_url, what)
        return self.archive_session.get(
            url, params={"issuerId": "peps"}, headers=headers, stream=True, timeout=self.timeout
        )

    #: A PEPS download request of an offline product is what starts its restore.
    download_starts_restore = True

    def open_download(
        self,
        product: Product,
        *,
        offset: int = 0,
        if_range: str | None = None,
        end: int | None = None,
    ) -> requests.Response:
        what = f"PEPS download of {product.id}"
        return self._archive_get(product, archive_headers(offset, if_range, end), what)

    def request_restore(self, product: Product) -> Availability | None:
        """On PEPS a download request is what starts a restore; ask for one byte only so an
        online product does not start streaming.

        Whatever is not data (202, JSON with 200, 404, 503, an empty body) means "not online
        yet, restore asked"; only a credentials refusal or a server error is raised.
        """
        headers = {"Range": "bytes=0-0", "Accept-Encoding": "identity"}
        with self._archive_get(product, headers, f"PEPS restore of {product.id}") as response:
            return self.restore_reply(response, "PEPS restore")

    def availability(self, products: Sequence[Product]) -> dict[str, Availability]:
        """Storage modes from catalogue searches that each cover a group of products (same
        collection, nearby dates), so polling costs a few requests per batch, not one per
        product."""
        found: dict[str, Availability] = {}
        groups: dict[str | None, list[Product]] = {}
        for product in products:
            groups.setdefault(_collection_of(product), []).append(product)
        for collection, group in groups.items():
            group.sort(key=lambda p: p.properties["start_datetime"])
            self._availability_group(collection, group, found)
        return found

    def _availability_group(
        self, collection: str | None, group: list[Product], found: dict[str, Availability]
    ) -> None:
        wanted = {p.id for p in group}
        last = group[-1].properties
        query = Query(
            start=_parse(group[0].properties["start_datetime"]),
            end=_parse(last.get("end_datetime") or last["start_datetime"]),
            bbox=_cover([p.geometry for p in group]),
        )
        params = query_params(query)
        walk = Walk(AVAILABILITY, max_pages=self.max_pages)
        reply = self._page(walk, collection, params, self.max_page_size, 1, mapped=False)
        total = reply.matched or 0
        if len(group) > 1 and total > max(self.max_page_size, AVAILABILITY_SPREAD * len(group)):
            middle = len(group) // 2
            self._availability_group(collection, group[:middle], found)
            self._availability_group(collection, group[middle:], found)
            return
        while True:
            for feature in reply.features:
                props = feature.get("properties") if isinstance(feature, dict) else None
                if not isinstance(props, dict):
                    continue  # searches report malformed features; here they just say nothing
                name = props.get("title") or props.get("productIdentifier")
                if isinstance(name, str) and name in wanted:
                    storage = props.get("storage")
                    mode = storage.get("mode") if isinstance(storage, dict) else None
                    mode = mode.lower() if isinstance(mode, str) else "unknown"
                    found[name] = STORAGE_MODES.get(mode, Availability.UNKNOWN)
            if not reply.next_url or not reply.features or wanted <= found.keys():
                return
            try:
                reply = self._follow(walk, reply.next_url, mapped=False)
            except PagingError as exc:
                logger.warning("%s; products not seen stay unknown", exc)
                return


def _collection_of(product: Product) -> str | None:
    """The resto collection: a search property, else read from the download URL (products
    re-read from a GeoJSON file may have lost the property); ``None`` searches them all."""
    collection = product.properties.get("peps:collection")
    if collection:
        return str(collection)
    match = re.search(r"/collections/([^/]+)/[^/]+/download", product.download_url)
    return match.group(1) if match else None


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _cover(geometries: list[dict[str, Any]]) -> tuple[float, float, float, float] | None:
    """The box around footprints (``None`` when none has a position)."""
    boxes = [box for geometry in geometries if (box := geometry_bbox(geometry))]
    if not boxes:
        return None
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )
