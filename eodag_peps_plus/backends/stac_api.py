"""A generic STAC API backend: POST ``/search`` with the ``query`` extension, following
whatever paging the server offers.

Servers disagree on paging: GEODES numbers pages (``page`` in the body, a GET ``next`` link to
``/collections/{id}/items?page=N`` that drops the filters), stac-fastapi-pgstac hands out a
POST ``next`` link whose body carries a ``token``, others a GET link with ``token=``. The
backend keeps the search body it sent and continues with the token or page number the server
advertised, so filters are never lost, and counts come from ``numberMatched`` or
``context.matched``, whichever is present.

What differs between servers (paths, page cap, collection routing, filter vocabulary, item
mapping) is a :class:`StacProfile`, so one class serves GEODES, pgstac or any other STAC API.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable, Sequence
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import requests
from shapely import wkt
from shapely.geometry import mapping

from ..exceptions import BackendError, InvalidQueryError
from ..http_io import archive_headers, error_detail, json_or_error, send
from ..product import Availability, Product
from ..query import Query
from ..vocabulary import (
    cloud_cover,
    constellation,
    grid_code,
    instruments,
    iso_utc,
    orbit_state,
    processing_level,
)
from .base import Backend, SearchPage

logger = logging.getLogger(__name__)

Router = Callable[[Query], "list[str] | None"]
FilterBuilder = Callable[[Query], "dict[str, Any]"]
ItemMapper = Callable[[dict[str, Any], str], Product]


def spatial_filter(query: Query) -> dict[str, Any]:
    """``bbox`` or ``intersects`` body fields (STAC API core)."""
    if query.bbox:
        return {"bbox": list(query.bbox)}
    if query.point:
        return {"intersects": {"type": "Point", "coordinates": list(query.point)}}
    if query.geometry:
        return {"intersects": dict(mapping(wkt.loads(query.geometry)))}
    return {}


def refuse_location(query: Query, server: str) -> None:
    """A STAC API has no gazetteer; guessing a town's extent would silently change results."""
    if query.location:
        raise InvalidQueryError(
            f"location: {server} cannot search by place name ({query.location!r}); give a "
            "bbox, a point (lon,lat) or a WKT geometry instead"
        )


def property_filters(
    query: Query,
    *,
    tile: Callable[[str], str | None] = grid_code,
    orbit_state: Callable[[str], str] = str,
    product_type: Callable[[str], str | None] = str,
) -> dict[str, dict[str, Any]]:
    """The ``query``-extension filters on common STAC properties; servers differ only in how
    they spell a few values (GEODES: ``T31TCJ``, ``Descending``), hence the formatters."""
    q: dict[str, dict[str, Any]] = {}
    native_type = product_type(query.product_type) if query.product_type else None
    if native_type:
        q["product:type"] = {"eq": native_type}
    if query.platform:
        q["platform"] = {"eq": query.platform}
    if query.sensor_mode:
        q["sar:instrument_mode"] = {"eq": query.sensor_mode}
    if query.tile:
        q["grid:code"] = {"eq": tile(query.tile)}
    if query.relative_orbit:
        q["sat:relative_orbit"] = {"eq": query.relative_orbit}
    if query.orbit_number:
        q["sat:absolute_orbit"] = {"eq": query.orbit_number}
    if query.orbit_direction:
        q["sat:orbit_state"] = {"eq": orbit_state(query.orbit_direction)}
    if query.max_cloud_cover is not None:
        q["eo:cloud_cover"] = {"lte": query.max_cloud_cover}
    return q


def standard_filters(query: Query) -> dict[str, Any]:
    """Plain STAC vocabulary: ``datetime`` interval, ``ids`` and ``query`` on common fields."""
    refuse_location(query, "this STAC API")
    body = spatial_filter(query)
    if query.start or query.end:
        start = iso_utc(query.start) if query.start else ".."
        end = iso_utc(query.end) if query.end else ".."
        body["datetime"] = f"{start}/{end}"
    if query.identifiers:
        body["ids"] = list(query.identifiers)
    q = property_filters(query)
    if q:
        body["query"] = q
    return body


def route_by_collection(query: Query) -> list[str] | None:
    """Use the query's collection name as the server's (generic servers)."""
    return [query.collection] if query.collection else None


def data_asset(item: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """The archive asset: role ``data`` (not a metadata XML), else the first asset."""
    assets: dict[str, Any] = item.get("assets") or {}
    for key, asset in assets.items():
        if "data" in (asset.get("roles") or []) and asset.get("type") != "application/xml":
            return key, asset
    for key, asset in assets.items():
        return key, asset
    return None, {}


def overview_href(item: dict[str, Any]) -> str | None:
    for asset in (item.get("assets") or {}).values():
        roles = asset.get("roles") or []
        if "overview" in roles or "thumbnail" in roles:
            return str(asset.get("href"))
    return None


def generic_item_to_product(item: dict[str, Any], backend: str) -> Product:
    """Any STAC item: properties already in the STAC vocabulary, file extension on the asset."""
    p = item.get("properties") or {}
    name = str(p.get("title") or p.get("identifier") or item["id"])
    platform = str(p.get("platform") or "")
    _, asset = data_asset(item)
    start = p.get("start_datetime") or p.get("datetime")
    props: dict[str, Any] = {
        "title": name,
        "start_datetime": iso_utc(start) if start else None,
        "end_datetime": iso_utc(p.get("end_datetime") or start) if start else None,
        "platform": platform or None,
        "constellation": p.get("constellation") or (constellation(platform) if platform else None),
        "instruments": p.get("instruments") or instruments(p.get("instrument")),
        "product:type": p.get("product:type"),
        "processing:level": processing_level(p.get("processing:level")),
        "eo:cloud_cover": cloud_cover(platform, p.get("eo:cloud_cover")),
        "sat:absolute_orbit": p.get("sat:absolute_orbit"),
        "sat:relative_orbit": p.get("sat:relative_orbit"),
        "sat:orbit_state": orbit_state(p.get("sat:orbit_state")),
        "grid:code": grid_code(p.get("grid:code")),
        "eodag:quicklook": overview_href(item),
        f"{backend}:collection": item.get("collection"),
    }
    checksum = str(asset.get("file:checksum") or "")
    md5 = checksum[4:] if checksum.startswith("d510") and len(checksum) == 36 else None
    size = asset.get("file:size")
    return Product(
        id=name,
        native_id=str(item["id"]),
        backend=backend,
        geometry=item.get("geometry") or {},
        properties={k: v for k, v in props.items() if v is not None},
        download_url=str(asset.get("href") or ""),
        size=int(size) if size is not None else None,
        md5=md5,
        availability=Availability.UNKNOWN,
    )


@dataclasses.dataclass(frozen=True)
class StacProfile:
    """Everything server-specific about a STAC API."""

    name: str = "stac"
    #: Paths below the backend's base URL.
    search_path: str = "/search"
    collections_path: str = "/collections"
    collections_method: str = "GET"
    #: The largest page the server honours (GEODES: 80).
    max_page_size: int = 100
    #: Body key for page numbers when the server pages by number (GEODES: ``page``).
    page_param: str | None = None
    #: Sort clause: body key (``sortby``, GEODES ``sortBy``) and value.
    sort_key: str = "sortby"
    sort: tuple[dict[str, str], ...] = ()
    route: Router = route_by_collection
    filters: FilterBuilder = standard_filters
    to_product: ItemMapper = generic_item_to_product


def _matched(data: dict[str, Any]) -> int | None:
    """``numberMatched`` (OGC API Features) or ``context.matched`` (STAC context ext)."""
    for value in (data.get("numberMatched"), (data.get("context") or {}).get("matched")):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def _next_link(data: dict[str, Any]) -> dict[str, Any] | None:
    for link in data.get("links") or []:
        if isinstance(link, dict) and link.get("rel") == "next" and link.get("href"):
            return link
    return None


@dataclasses.dataclass
class _Request:
    """One search request, serialisable into an opaque paging token."""

    method: str
    url: str
    body: dict[str, Any] | None
    seen: int = 0
    matched: int | None = None

    def token(self) -> str:
        return json.dumps(
            {"m": self.method, "u": self.url, "b": self.body, "n": self.seen, "M": self.matched},
            separators=(",", ":"),
        )

    @classmethod
    def from_token(cls, token: str) -> _Request:
        try:
            state = json.loads(token)
            return cls(
                state["m"], state["u"], state.get("b"), int(state.get("n", 0)), state.get("M")
            )
        except (ValueError, KeyError, TypeError):
            raise InvalidQueryError(f"not a paging token of this backend: {token[:60]!r}") from None


class StacApiBackend(Backend):
    """Search any STAC API; archive access is server-specific (see ``GeodesBackend``)."""

    name: ClassVar[str] = "stac"
    profile: StacProfile = StacProfile()
    max_page_size: ClassVar[int] = 500
    default_page_size: ClassVar[int] = 100

    def __init__(
        self,
        base_url: str,
        *,
        profile: StacProfile | None = None,
        collections: Sequence[str] | None = None,
        **options: Any,
    ) -> None:
        """``collections`` forces the server collections searched, bypassing the profile's
        routing (server-native names, e.g. GEODES's ``THEIA_SNOW_SENTINEL2_L2B``);
        ``options`` are :class:`Backend`'s (credentials, session, verify, timeout)."""
        super().__init__(base_url, **options)
        if profile is not None:
            self.profile = profile
        self.forced_collections = list(collections) if collections else None
        self._server_collections: list[str] | None = None

    def describe(self) -> dict[str, Any]:
        return {"backend": self.profile.name, "url": self.base_url}

    @property
    def server_name(self) -> str:
        return self.profile.name.upper() if self.profile.name.islower() else self.profile.name

    # -- search ------------------------------------------------------------------------------
    def search_body(self, query: Query, limit: int) -> dict[str, Any]:
        """The POST body for a query (without paging state)."""
        body: dict[str, Any] = {}
        collections = self.forced_collections or self.profile.route(query)
        if collections:
            body["collections"] = collections
        body.update(self.profile.filters(query))
        if self.profile.sort:
            body[self.profile.sort_key] = [dict(s) for s in self.profile.sort]
        body["limit"] = limit
        return body

    def _post(self, url: str, body: dict[str, Any] | None, method: str = "POST") -> dict[str, Any]:
        what = f"{self.server_name} search"
        response = send(self.session, method, url, what, json=body, timeout=self.timeout)
        if response.status_code in (400, 404, 422):
            detail = error_detail(response)
            raise BackendError(
                f"{what}: the server refused the query (HTTP {response.status_code}: {detail}); "
                "remove or change the filter it names",
                response.status_code,
            )
        data = json_or_error(response, what)
        if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
            raise BackendError(
                f"{what}: the reply is not a STAC ItemCollection", response.status_code
            )
        return data

    def search_page(
        self, query: Query, *, limit: int | None = None, page: int = 1, token: str | None = None
    ) -> SearchPage:
        """A page of ``limit`` products, gathered from several server pages when the server
        caps pages lower (GEODES: 80), so callers such as EODAG pay their per-page overhead
        once per thousands of products. Server pages are sized to divide ``limit`` exactly,
        which keeps page numbers and tokens consistent."""
        limit = max(1, limit or self.default_page_size)
        cap = min(self.max_page_size, self.profile.max_page_size)
        if limit <= cap:
            return self._server_page(query, limit, page, token)
        size = next(d for d in range(cap, 0, -1) if limit % d == 0)
        if token is not None and token.isdigit():
            page, token = int(token), None
        first = self._server_page(query, size, (page - 1) * (limit // size) + 1, token)
        products, following = list(first.products), first.next_token
        while len(products) < limit and following:
            more = self._server_page(query, size, 1, following)
            if not more.products:
                break
            products.extend(more.products)
            following = more.next_token
        return SearchPage(products, first.matched, following)

    def _server_page(self, query: Query, limit: int, page: int, token: str | None) -> SearchPage:
        """One page as the server serves it (``limit`` within its cap)."""
        if token is not None and token.isdigit():  # EODAG may hand back a bare page number
            page, token = int(token), None
        if token:
            request = _Request.from_token(token)
        else:
            body = self.search_body(query, limit)
            request = _Request("POST", self.base_url + self.profile.search_path, body)
            if page > 1:
                if self.profile.page_param:
                    body[self.profile.page_param] = page
                    request.seen = (page - 1) * limit
                else:
                    request = self._skip_pages(request, page - 1)
                    if request.url == "":
                        return SearchPage([], request.matched, None)
        data = self._post(request.url, request.body, request.method)
        products = [
            self.profile.to_product(f, self.profile.name) for f in data.get("features") or []
        ]
        matched = _matched(data)
        if matched is None:
            matched = request.matched
        if not products and not token and page == 1:
            self._check_collections(request.body)
        seen = request.seen + len(products)
        following = self._follow(data, request, seen, matched) if products else None
        return SearchPage(products, matched, following.token() if following else None)

    def _skip_pages(self, request: _Request, pages: int) -> _Request:
        """Token-paged servers cannot jump to page N: walk the ``next`` links to it."""
        for _ in range(pages):
            data = self._post(request.url, request.body, request.method)
            count = len(data.get("features") or [])
            matched = _matched(data) if _matched(data) is not None else request.matched
            following = (
                self._follow(data, request, request.seen + count, matched) if count else None
            )
            if following is None:
                return _Request("GET", "", None, request.seen + count, matched)
            request = following
        return request

    def _follow(
        self, data: dict[str, Any], request: _Request, seen: int, matched: int | None
    ) -> _Request | None:
        """The request for the next page, from the server's ``next`` link."""
        if matched is not None and seen >= matched:
            return None
        link = _next_link(data)
        if link is None:
            return None
        href = str(link["href"])
        method = str(link.get("method") or "GET").upper()
        if method == "POST":
            extra = link.get("body") or {}
            body = {**(request.body or {}), **extra} if link.get("merge") else dict(extra)
            if not body:
                body = dict(request.body or {})
            return _Request("POST", href, body, seen, matched)
        params = parse_qs(urlsplit(href).query)
        if request.method == "POST" and request.body is not None:
            # Re-POST our own body with the server's token or page: a GET link may drop the
            # filters (GEODES links to /collections/{id}/items?page=N) or the page size.
            for key in ("token", self.profile.page_param or "page"):
                if key in params:
                    value: Any = params[key][-1]
                    if key != "token" and str(value).isdigit():
                        value = int(value)
                    body = {k: v for k, v in request.body.items() if k not in ("token", "page")}
                    body[key] = value
                    return _Request("POST", request.url, body, seen, matched)
        return _Request("GET", href, None, seen, matched)

    # -- collections -------------------------------------------------------------------------
    def collections(self) -> list[str]:
        """Collection ids the server lists (cached)."""
        if self._server_collections is None:
            url = self.base_url + self.profile.collections_path
            what = f"{self.server_name} collections"
            if self.profile.collections_method == "POST":
                response = send(
                    self.session, "POST", url, what, json={"limit": 10000}, timeout=self.timeout
                )
            else:
                response = send(
                    self.session, "GET", url, what, params={"limit": 10000}, timeout=self.timeout
                )
            data = json_or_error(response, what)
            self._server_collections = [
                str(c["id"])
                for c in (data.get("collections") or [])
                if isinstance(c, dict) and "id" in c
            ]
        return self._server_collections

    def _check_collections(self, body: dict[str, Any] | None) -> None:
        """An empty result may mean a misspelt collection: servers answer "nothing found"
        rather than an error, which users would misread as "no data"."""
        wanted = list((body or {}).get("collections") or [])
        if not wanted:
            return
        try:
            known = self.collections()
        except BackendError:
            return
        missing = [c for c in wanted if c not in known]
        if missing and known:
            raise InvalidQueryError(
                f"unknown collection(s) {', '.join(missing)} on {self.server_name} "
                f"({self.base_url}); it has: {', '.join(sorted(known)[:30])}"
            )

    # -- archive: only servers we know how to download from -----------------------------------
    def availability(self, products: Sequence[Product]) -> dict[str, Availability]:
        return {p.id: p.availability for p in products}

    def request_restore(self, product: Product) -> Availability | None:
        raise BackendError(f"{self.server_name} offers no restore from tape")

    def open_download(
        self, product: Product, *, offset: int = 0, if_range: str | None = None
    ) -> requests.Response:
        what = f"{self.server_name} download of {product.id}"
        self.require_credentials(what)
        url = self.check_origin(product.download_url, what)
        return self.archive_session.get(
            url, headers=archive_headers(offset, if_range), stream=True, timeout=self.timeout
        )
