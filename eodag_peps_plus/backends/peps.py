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
    orbit_state,
    processing_level,
    processing_version,
    relative_orbit,
    s1_properties,
)
from .base import Backend, SearchPage
from .paging import Background, PageToken, Walk, past_count, read_token
from .replies import (
    geometry,
    map_features,
    next_href,
    open_feature,
    reply_count,
    reply_list,
    reply_member,
    reply_object,
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
    """One resto feature -> :class:`Product` (the hot path of every search).

    Raises:
        FieldError: a field is missing or malformed (see :mod:`.replies`).
    """
    item, p, native_id, name = open_feature(
        feature, ("title", "productIdentifier"), id_is_name=False
    )
    platform = p.text("platform") or name[:3]
    absolute = p.integer("orbitNumber")
    download = p.obj("services").obj("download")
    storage = (p.obj("storage").text("mode") or "unknown").lower()
    start = p.time("startDate", required=True)
    props: dict[str, Any] = {
        "title": name,
        "start_datetime": start,
        "end_datetime": p.time("completionDate") or start,
        "constellation": constellation(platform),
        "platform": platform,
        "instruments": instruments(p.text("instrument")),
        "product:type": p.text("productType"),
        "processing:level": processing_level(p.text("processingLevel")),
        "sat:absolute_orbit": absolute,
        "sat:relative_orbit": relative_orbit(
            name, platform, absolute, p.integer("relativeOrbitNumber")
        ),
        "sat:orbit_state": orbit_state(p.text("orbitDirection")),
        "peps:storage": storage,
        "peps:collection": p.text("collection"),
        "peps:id": native_id,
        "created": p.time("published"),
        "updated": p.time("updated"),
        "eo:cloud_cover": cloud_cover(platform, p.percent("cloudCover")),
        "grid:code": grid_code(p.text("mgrs")),
        "eodag:quicklook": p.text("quicklook"),
    }
    if platform.startswith("S1"):
        props.update(s1_properties(name, p.data, S1_FIELDS))
    elif platform.startswith("S2"):
        props["processing:version"] = processing_version(name)
    return Product(
        id=name,
        native_id=native_id,
        backend=backend,
        geometry=geometry(item),
        properties={k: v for k, v in props.items() if v is not None},
        download_url=download.text("url") or "",
        size=download.integer("size") or p.integer("resourceSize"),
        md5=download.md5("checksum") or p.md5("resourceChecksum"),
        availability=STORAGE_MODES.get(storage, Availability.UNKNOWN),
    )


@dataclasses.dataclass
class _Reply:
    """One resto search reply, checked: features (not yet mapped), count, next link."""

    features: list[Any]
    matched: int | None
    next_url: str | None


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

    def _get(self, url: str, params: dict[str, Any] | None = None) -> _Reply:
        response = send(self.session, "GET", url, SEARCH, params=params, timeout=self.timeout)
        return read_reply(json_or_error(response, SEARCH), SEARCH)

    def _page(
        self, walk: Walk, collection: str | None, params: dict[str, str], limit: int, page: int
    ) -> _Reply:
        url = self._search_url(collection)
        params = {**params, "maxRecords": str(limit), "page": str(page)}
        walk.visit("GET", url, params, link=False)
        return self._get(url, params)

    def _follow(self, walk: Walk, url: str) -> _Reply:
        walk.visit("GET", url)
        return self._get(url)

    def _products(self, features: list[Any], start: int = 0) -> list[Product]:
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
            products += self._products(pending, len(products))
            reply = following.result()
            pending, next_url = reply.features, reply.next_url
            gathered += len(pending)
        products += self._products(pending, len(products))
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
                products.extend(self._products(features))
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
        reply = self._page(walk, collection, params, self.max_page_size, 1)
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
                reply = self._follow(walk, reply.next_url)
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
