"""PEPS resto OpenSearch backend.

Speaks ``/resto/api/collections/{S1,S2,S2ST,S3}/search.json`` and maps each feature straight
to a :class:`Product` with plain dict look-ups: no jsonpath, which is where EODAG's generic
configuration spent its time.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import requests

from ..http_io import archive_headers, json_or_error, send
from ..product import STORAGE_MODES, Availability, Product
from ..query import S2ST_START, Query
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
from .base import Backend, SearchPage
from .spec import BackendSpec, Probe

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
    sandbox_service="peps",
)

logger = logging.getLogger(__name__)

#: Availability look-ups cover products with one search; split the group when a covering
#: search would page through more than this many unrelated products.
AVAILABILITY_SPREAD = 4


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


def feature_to_product(feature: dict[str, Any], backend: str = "peps") -> Product:
    """One resto feature -> :class:`Product` (the hot path of every search)."""
    p = feature["properties"]
    name = p.get("title") or p["productIdentifier"]
    platform = p.get("platform") or name[:3]
    absolute = p.get("orbitNumber")
    download = (p.get("services") or {}).get("download") or {}
    storage = ((p.get("storage") or {}).get("mode") or "unknown").lower()
    props: dict[str, Any] = {
        "title": name,
        "start_datetime": iso_utc(p["startDate"]),
        "end_datetime": iso_utc(p.get("completionDate") or p["startDate"]),
        "constellation": constellation(platform),
        "platform": platform,
        "instruments": instruments(p.get("instrument")),
        "product:type": p.get("productType"),
        "processing:level": processing_level(p.get("processingLevel")),
        "sat:absolute_orbit": absolute,
        "sat:relative_orbit": relative_orbit(
            name, platform, absolute, p.get("relativeOrbitNumber")
        ),
        "sat:orbit_state": orbit_state(p.get("orbitDirection")),
        "peps:storage": storage,
        "peps:collection": p.get("collection"),
        "peps:id": feature["id"],
    }
    if p.get("published"):
        props["created"] = iso_utc(p["published"])
    if p.get("updated"):
        props["updated"] = iso_utc(p["updated"])
    props["eo:cloud_cover"] = cloud_cover(platform, p.get("cloudCover"))
    if p.get("mgrs"):
        props["grid:code"] = grid_code(p["mgrs"])
    if p.get("quicklook"):
        props["eodag:quicklook"] = p["quicklook"]
    if platform.startswith("S1"):
        props.update(s1_properties(name, p, S1_FIELDS))
    elif platform.startswith("S2"):
        version = processing_version(name)
        if version:
            props["processing:version"] = version
    size = download.get("size") or p.get("resourceSize")
    checksum = download.get("checksum") or p.get("resourceChecksum")
    return Product(
        id=name,
        native_id=feature["id"],
        backend=backend,
        geometry=feature["geometry"],
        properties={k: v for k, v in props.items() if v is not None},
        download_url=download.get("url") or "",
        size=int(size) if size is not None else None,
        md5=checksum.lower() if checksum else None,
        availability=STORAGE_MODES.get(storage, Availability.UNKNOWN),
    )


def _next_link(body: dict[str, Any]) -> str | None:
    """The ``rel=next`` link; titles are localised ("suivant") and never looked at."""
    for link in (body.get("properties") or {}).get("links") or []:
        if link.get("rel") == "next" and link.get("href"):
            return str(link["href"])
    return None


class PepsBackend(Backend):
    name = "peps"
    max_page_size = 500
    default_page_size = 500

    # -- search ------------------------------------------------------------------------------
    def _search_url(self, collection: str | None) -> str:
        if collection is None:
            return f"{self.base_url}/resto/api/collections/search.json"
        return f"{self.base_url}/resto/api/collections/{collection}/search.json"

    def _get(self, url: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        response = send(
            self.session, "GET", url, "PEPS search", params=params, timeout=self.timeout
        )
        data: dict[str, Any] = json_or_error(response, "PEPS search")
        return data

    def _page(
        self, collection: str | None, params: dict[str, str], limit: int, page: int
    ) -> dict[str, Any]:
        return self._get(
            self._search_url(collection), {**params, "maxRecords": limit, "page": page}
        )

    def search_page(
        self, query: Query, *, limit: int | None = None, page: int = 1, token: str | None = None
    ) -> SearchPage:
        """A page of ``limit`` products, which may span several server pages (the server caps
        at 500): callers such as EODAG pay their per-page overhead once per 10,000 products.

        One collection: page numbers, then the server's ``rel=next`` links. Several (S2 then
        S2ST): offsets into their concatenation. Either way every page but the last is full,
        since EODAG stops paging at the first short page."""
        limit = max(1, limit or self.default_page_size)
        size = min(limit, self.max_page_size)
        collections = route_collections(query)
        params = query_params(query)
        if token is not None and token.isdigit():
            page, token = int(token), None
        state = json.loads(token) if token else {}
        if len(collections) > 1 or limit % size or "o" in state:
            offset = int(state.get("o", (page - 1) * limit))
            return self._range(collections, params, offset, limit, state.get("t"))
        if state.get("u"):
            body, matched = self._get(state["u"]), state.get("m")
        else:
            body = self._page(collections[0], params, size, (page - 1) * (limit // size) + 1)
            matched = _total(body)
        features = list(body.get("features") or [])
        next_url = _next_link(body)
        while len(features) < limit and next_url and body.get("features"):
            body = self._get(next_url)
            features.extend(body.get("features") or [])
            next_url = _next_link(body)
        products = [feature_to_product(f, self.name) for f in features]
        next_token = json.dumps({"u": next_url, "m": matched}) if next_url and products else None
        return SearchPage(products, matched, next_token)

    def _range(
        self,
        collections: list[str | None],
        params: dict[str, str],
        offset: int,
        limit: int,
        totals: list[int] | None,
    ) -> SearchPage:
        """``limit`` products from ``offset`` in the concatenation of several collections."""
        size = min(limit, self.max_page_size)
        cached: dict[tuple[int, int], dict[str, Any]] = {}
        if totals is None:
            totals = []
            for index, collection in enumerate(collections):
                cached[(index, 1)] = self._page(collection, params, size, 1)
                totals.append(_total(cached[(index, 1)]) or 0)
        matched = sum(totals)
        products: list[Product] = []
        position = offset
        for index, (collection, total) in enumerate(zip(collections, totals, strict=True)):
            if position >= total:
                position -= total
                continue
            while len(products) < limit and position < total:
                sub_page, skip = position // size + 1, position % size
                body = cached.get((index, sub_page)) or self._page(
                    collection, params, size, sub_page
                )
                features = (body.get("features") or [])[skip : skip + limit - len(products)]
                if not features:
                    break
                products.extend(feature_to_product(f, self.name) for f in features)
                position += len(features)
            position = 0
            if len(products) >= limit:
                break
        end = offset + len(products)
        next_token = json.dumps({"o": end, "t": totals}) if products and end < matched else None
        return SearchPage(products, matched, next_token)

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
        self, product: Product, *, offset: int = 0, if_range: str | None = None
    ) -> requests.Response:
        what = f"PEPS download of {product.id}"
        return self._archive_get(product, archive_headers(offset, if_range), what)

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
        body = self._page(collection, params, self.max_page_size, 1)
        total = _total(body) or 0
        if len(group) > 1 and total > max(self.max_page_size, AVAILABILITY_SPREAD * len(group)):
            middle = len(group) // 2
            self._availability_group(collection, group[:middle], found)
            self._availability_group(collection, group[middle:], found)
            return
        while True:
            for feature in body.get("features") or []:
                props = feature["properties"]
                name = props.get("title") or props.get("productIdentifier")
                if name in wanted:
                    mode = ((props.get("storage") or {}).get("mode") or "unknown").lower()
                    found[name] = STORAGE_MODES.get(mode, Availability.UNKNOWN)
            next_url = _next_link(body)
            if not next_url or wanted <= found.keys():
                return
            body = self._get(next_url)


def _collection_of(product: Product) -> str | None:
    """The resto collection: a search property, else read from the download URL (products
    re-read from a GeoJSON file may have lost the property); ``None`` searches them all."""
    collection = product.properties.get("peps:collection")
    if collection:
        return str(collection)
    match = re.search(r"/collections/([^/]+)/[^/]+/download", product.download_url)
    return match.group(1) if match else None


def _total(body: dict[str, Any]) -> int | None:
    value = (body.get("properties") or {}).get("totalResults")
    return int(value) if value is not None else None


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _cover(geometries: list[dict[str, Any]]) -> tuple[float, float, float, float]:
    from shapely.geometry import shape

    lonmin = latmin = float("inf")
    lonmax = latmax = float("-inf")
    for geometry in geometries:
        a, b, c, d = shape(geometry).bounds
        lonmin, latmin, lonmax, latmax = (
            min(lonmin, a),
            min(latmin, b),
            max(lonmax, c),
            max(latmax, d),
        )
    return lonmin, latmin, lonmax, latmax
