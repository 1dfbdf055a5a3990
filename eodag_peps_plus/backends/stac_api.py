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

import copy as copy_module
import dataclasses
import functools
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, TypeVar, Union
from urllib.parse import parse_qs, urlsplit

import msgspec
import orjson
import requests

from ..exceptions import (
    BackendError,
    ForeignOriginError,
    InvalidQueryError,
    MalformedReplyError,
    shorten,
)
from ..http_io import archive_headers, error_detail, json_or_error, reply_link_problem, send
from ..logs import get_logger
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
    shown,
)
from .base import Backend, SearchPage
from .paging import PageToken, Walk, past_count, read_token
from .replies import (
    Count,
    Fields,
    ItemMapper,
    footprint,
    map_features,
    md5_hex,
    next_href,
    open_feature,
    reply_count,
    reply_list,
    reply_member,
    reply_object,
    typed_page,
)

__all__ = [
    "FilterBuilder",
    "Router",
    "StacApiBackend",
    "StacProfile",
    "TypedItems",
    "TypedReply",
    "data_asset",
    "generic_item_to_product",
    "overview_href",
    "property_filters",
    "refuse_location",
    "route_by_collection",
    "spatial_filter",
    "standard_filters",
]

logger = get_logger(__name__)
_S = TypeVar("_S", bound="StacApiBackend")

Router = Callable[[Query], "list[str] | None"]
FilterBuilder = Callable[[Query], "dict[str, Any]"]
#: A compiled reading of a server's items: the msgspec Struct of one item, and its mapper
#: (``None`` when only the general rule can decide).
TypedItems = tuple[type, Callable[[Any, str], "Product | None"]]


def spatial_filter(query: Query) -> dict[str, Any]:
    """``bbox`` or ``intersects`` body fields (STAC API core)."""
    if query.bbox:
        return {"bbox": list(query.bbox)}
    if query.point:
        return {"intersects": {"type": "Point", "coordinates": list(query.point)}}
    if query.geometry:
        return {"intersects": query.footprint_geojson()}
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


def data_asset(item: Fields) -> tuple[str | None, Fields]:
    """The archive asset: role ``data`` (not a metadata XML), else the first asset."""
    assets = item.obj("assets")
    entries = [(key, assets.obj(key)) for key in assets.data]
    for key, asset in entries:
        if "data" in _roles(asset) and asset.text("type") != "application/xml":
            return key, asset
    for key, asset in entries:
        return key, asset
    return None, Fields({}, item.where("assets"), item.product)


def overview_href(item: Fields) -> str | None:
    """The quicklook: the first asset with role ``overview`` or ``thumbnail``."""
    assets = item.obj("assets")
    for key in assets.data:
        asset = assets.obj(key)
        roles = _roles(asset)
        if "overview" in roles or "thumbnail" in roles:
            return asset.text("href")
    return None


def _roles(asset: Fields) -> list[Any]:
    return asset.items("roles")


def generic_item_to_product(item: Any, backend: str) -> Product:
    """Any STAC item: properties already in the STAC vocabulary, file extension on the asset.

    Raises:
        FieldError: a field is missing or malformed (see :mod:`.replies`).
    """
    fields, p, native_id, name = open_feature(item, ("title", "identifier"))
    platform = p.text("platform") or ""
    _, asset = data_asset(fields)
    start = p.time("start_datetime") or p.time("datetime")
    if start is None:
        raise p.fail("start_datetime", "is missing (and so is datetime)")
    instrument_list = p.items("instruments")
    if not all(isinstance(i, str) for i in instrument_list):
        raise p.fail("instruments", "holds something other than strings")
    props: dict[str, Any] = {
        "title": name,
        "start_datetime": start,
        "end_datetime": p.time("end_datetime") or start,
        "platform": platform or None,
        "constellation": p.text("constellation") or (constellation(platform) if platform else None),
        "instruments": instrument_list or instruments(p.text("instrument")),
        "product:type": p.text("product:type"),
        "processing:level": processing_level(p.text("processing:level")),
        "eo:cloud_cover": cloud_cover(platform, p.percent("eo:cloud_cover")),
        "sat:absolute_orbit": p.integer("sat:absolute_orbit"),
        "sat:relative_orbit": p.integer("sat:relative_orbit"),
        "sat:orbit_state": orbit_state(p.text("sat:orbit_state")),
        "grid:code": grid_code(p.text("grid:code")),
        "eodag:quicklook": overview_href(fields),
        f"{backend}:collection": fields.text("collection"),
    }
    checksum = asset.text("file:checksum") or ""
    md5 = checksum[4:] if checksum.startswith("d510") and len(checksum) == 36 else None
    shape, box = footprint(fields)
    return Product(
        id=name,
        native_id=native_id,
        backend=backend,
        geometry=shape,
        bbox=box,
        properties={k: v for k, v in props.items() if v is not None},
        download_url=asset.text("href") or "",
        size=asset.integer("file:size"),
        md5=md5_hex(md5, lambda problem: asset.fail("file:checksum", problem)) if md5 else None,
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
    #: Fields searches may be sorted on (our property names), and the server's word for a
    #: descending order (GEODES: ``dsc``).
    sortable: tuple[str, ...] = ("start_datetime", "end_datetime", "eo:cloud_cover", "platform")
    descending: str = "desc"
    route: Router = route_by_collection
    filters: FilterBuilder = standard_filters
    to_product: ItemMapper = generic_item_to_product
    #: A compiled reading of common pages (:data:`TypedItems`), tried before ``to_product``.
    typed_item: TypedItems | None = None


@dataclasses.dataclass
class TypedReply:
    """A page the compiled reading took: its products, the server's count, and what
    ``_follow`` reads of the reply (its ``links``, decoded as the general reading does)."""

    products: list[Product]
    matched: int | None
    data: dict[str, Any]


class _Context(msgspec.Struct, gc=False):
    matched: Count | None = None


@functools.cache
def _page_decoder(item: type) -> msgspec.json.Decoder[Any]:
    """A decoder of item collections of ``item``: what ``_post`` and ``_server_page`` read."""
    page = msgspec.defstruct(
        "TypedPage",
        [
            ("type", str | None, None),
            ("features", list[item] | None, None),  # type: ignore[valid-type]
            ("numberMatched", Count | None, None),
            ("context", _Context | None, None),
            ("links", list[msgspec.Raw] | None, None),
            ("ErrorCode", Union[Any, msgspec.UnsetType], msgspec.UNSET),  # noqa: UP007
        ],
        gc=False,
    )
    return msgspec.json.Decoder(page)


def typed_reply(raw: bytes, typed: TypedItems, backend: str) -> TypedReply | None:
    """A common item collection read by the compiled decoder, its items already mapped;
    ``None`` sends it to the general reading (``_post``, ``_server_page``)."""
    page = typed_page(_page_decoder(typed[0]), raw)
    if page is None or page.ErrorCode is not msgspec.UNSET or page.type != "FeatureCollection":
        return None
    products = []
    for feature in page.features or ():
        product = typed[1](feature, backend)
        if product is None:
            return None
        products.append(product)
    try:
        links = [orjson.loads(memoryview(link)) for link in page.links or ()]
    except ValueError:
        return None
    matched = page.numberMatched
    if matched is None and page.context is not None:
        matched = page.context.matched
    return TypedReply(products, matched, {"links": links})


def _matched(data: dict[str, Any], what: str = "STAC search") -> int | None:
    """``numberMatched`` (OGC API Features) or ``context.matched`` (STAC context ext).

    Raises:
        MalformedReplyError: either is present but not a count.
    """
    matched = reply_count(data.get("numberMatched"), "numberMatched", what)
    if matched is None:
        context = reply_member(data, "context", what)
        matched = reply_count(context.get("matched"), "context.matched", what)
    return matched


def _read_page(
    data: dict[str, Any] | TypedReply, profile: StacProfile | None, what: str
) -> tuple[Any, int | None, dict[str, Any]]:
    """A reply's products (only their number when ``profile`` is ``None``: pages skipped
    are not mapped), the server's count, and the object ``_follow`` reads."""
    if isinstance(data, TypedReply):
        products = data.products if profile else len(data.products)
        return products, data.matched, data.data
    features = reply_list(data, "features", what)
    if profile is None:
        return len(features), _matched(data, what), data
    products = map_features(features, profile.to_product, profile.name, what)
    return products, _matched(data, what), data


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
        self._server_collections: list[dict[str, Any]] | None = None

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

    @property
    def _what(self) -> str:
        return f"{self.server_name} search"

    def _post(
        self, url: str, body: dict[str, Any] | None, method: str = "POST"
    ) -> dict[str, Any] | TypedReply:
        """The reply: read by the profile's compiled reading when it takes it, else the
        checked JSON object (features not yet mapped)."""
        what = self._what
        response = send(self.session, method, url, what, json=body, timeout=self.timeout)
        if response.status_code in (400, 404, 422):
            detail = error_detail(response)
            raise BackendError(
                f"{what}: the server refused the query (HTTP {response.status_code}: {detail}); "
                "remove or change the filter it names",
                response.status_code,
            )
        if self.profile.typed_item is not None and response.status_code < 400:
            typed = typed_reply(response.content, self.profile.typed_item, self.profile.name)
            if typed is not None:
                return typed
        data = reply_object(json_or_error(response, what), what)
        if data.get("type") != "FeatureCollection":
            raise MalformedReplyError(
                f"{what}: the reply is not a STAC ItemCollection (type {shorten(data.get('type'))})",
                response.status_code,
            )
        return data

    def _fetch(self, walk: Walk, request: PageToken, *, link: bool) -> dict[str, Any] | TypedReply:
        assert request.url is not None  # request tokens always have one
        walk.visit(request.method, request.url, body=request.body, link=link)
        return self._post(request.url, request.body, request.method)

    def search_page(
        self, query: Query, *, limit: int | None = None, page: int = 1, token: str | None = None
    ) -> SearchPage:
        """A page of ``limit`` products, gathered from several server pages when the server
        caps pages lower (GEODES: 80), so callers such as EODAG pay their per-page overhead
        once per thousands of products. Server pages are sized to divide ``limit`` exactly,
        which keeps page numbers and tokens consistent.

        Raises:
            MalformedReplyError: a reply or an item is not what a STAC API sends.
            PagingError: the next links loop, or there are more than ``MAX_PAGES`` pages.
            InvalidQueryError: ``token`` is not a token of this backend.
        """
        limit = max(1, limit or self.default_page_size)
        cap = min(self.max_page_size, self.profile.max_page_size)
        page, state = read_token(token, page, self.name)
        if state is not None and state.url is None:
            raise InvalidQueryError(f"not a paging token of this backend (no url): {token}")
        walk = Walk(self._what, state, self.max_pages)
        if limit <= cap:
            products, matched, following = self._server_page(walk, query, limit, page, state)
        else:
            size = next(d for d in range(cap, 0, -1) if limit % d == 0)
            first = (page - 1) * (limit // size) + 1
            products, matched, following = self._server_page(walk, query, size, first, state)
            while len(products) < limit and following:
                more, _, following = self._server_page(walk, query, size, 1, following)
                if not more:
                    break
                products.extend(more)
        return SearchPage(products, matched, walk.token(following) if following else None)

    def _server_page(
        self, walk: Walk, query: Query, limit: int, page: int, state: PageToken | None
    ) -> tuple[list[Product], int | None, PageToken | None]:
        """One page as the server serves it (``limit`` within its cap): its products, the
        count, and the request for the following page."""
        if state is not None:
            request = state
            data = self._fetch(walk, request, link=True)
        else:
            body = self.search_body(query, limit)
            request = PageToken(
                self.name, url=self.base_url + self.profile.search_path, method="POST", body=body
            )
            if page > 1:
                if self.profile.page_param:
                    body[self.profile.page_param] = page
                    request = dataclasses.replace(request, seen=(page - 1) * limit)
                else:
                    skipped = self._skip_pages(walk, request, page - 1)
                    if skipped is None:
                        return [], None, None
                    request = skipped
            data = self._fetch(walk, request, link=page > 1 and not self.profile.page_param)
        products, matched, data = _read_page(data, self.profile, self._what)
        if matched is None:
            matched = request.matched
        if not products and state is None and page == 1:
            self._check_collections(request.body)
        seen = request.seen + len(products)
        following = self._follow(data, request, seen, matched) if products else None
        return products, matched, following

    def _skip_pages(self, walk: Walk, request: PageToken, pages: int) -> PageToken | None:
        """Token-paged servers cannot jump to page N: walk the ``next`` links to it (``None``
        when the results end before)."""
        for index in range(pages):
            data = self._fetch(walk, request, link=index > 0)
            count, matched, data = _read_page(data, None, self._what)
            if matched is None:
                matched = request.matched
            following = (
                self._follow(data, request, request.seen + count, matched) if count else None
            )
            if following is None:
                return None
            request = following
        return request

    def _follow(
        self, data: dict[str, Any], request: PageToken, seen: int, matched: int | None
    ) -> PageToken | None:
        """The request for the next page, from the server's ``next`` link; ``None`` at the
        end (no link, or the server's count reached)."""
        if past_count(seen, matched):
            return None
        link = next_href(reply_list(data, "links", self._what), self._what)
        if link is None:
            return None
        href = str(link["href"])
        problem = reply_link_problem(href, self.base_url, self.credential_origins)
        if problem is not None:  # a next page is the server's word, not a place to go
            raise ForeignOriginError(
                f"{self._what}: refused to follow the next link {shorten(href)}: {problem}"
            )
        method = link.get("method") or "GET"
        if not isinstance(method, str) or method.upper() not in ("GET", "POST"):
            raise MalformedReplyError(
                f"{self._what}: field links: the next link's method is {shorten(method)}"
            )
        if method.upper() == "POST":
            extra = link.get("body") or {}
            if not isinstance(extra, dict):
                raise MalformedReplyError(
                    f"{self._what}: field links: the next link's body is not a JSON object"
                )
            body = {**(request.body or {}), **extra} if link.get("merge") else dict(extra)
            if not body:
                body = dict(request.body or {})
            return PageToken(
                self.name, url=href, method="POST", body=body, seen=seen, matched=matched
            )
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
                    return PageToken(
                        self.name,
                        url=request.url,
                        method="POST",
                        body=body,
                        seen=seen,
                        matched=matched,
                    )
        return PageToken(self.name, url=href, seen=seen, matched=matched)

    # -- collections -------------------------------------------------------------------------
    def check(self, query: Query) -> None:
        self.search_body(query, 1)

    def sorted_by(self: _S, sort: Sequence[tuple[str, str]]) -> _S:
        """A copy whose searches send ``sort`` (``datetime`` is ``start_datetime``, as in
        EODAG); the copy shares this backend's sessions and credentials."""
        clauses = []
        for field, direction in sort:
            name = "start_datetime" if field == "datetime" else field
            if name not in self.profile.sortable:
                raise InvalidQueryError(
                    f"sortby: {self.server_name} searches cannot be sorted on {shown(field, 40)}; "
                    f"sortable: {', '.join(('datetime', *self.profile.sortable))}"
                )
            word = self.profile.descending if direction == "desc" else "asc"
            clauses.append({"field": name, "direction": word})
        copy = copy_module.copy(self)
        copy.profile = dataclasses.replace(self.profile, sort=tuple(clauses))
        return copy

    def collection_documents(self) -> list[dict[str, Any]]:
        """The collections the server lists, as it describes them (cached)."""
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
            data = reply_object(json_or_error(response, what), what)
            self._server_collections = [
                c
                for c in reply_list(data, "collections", what)
                if isinstance(c, dict) and isinstance(c.get("id"), (str, int))
            ]
        return self._server_collections

    def collections(self) -> list[str]:
        """Collection ids the server lists (cached)."""
        return [str(c["id"]) for c in self.collection_documents()]

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
        self,
        product: Product,
        *,
        offset: int = 0,
        if_range: str | None = None,
        end: int | None = None,
    ) -> requests.Response:
        what = f"{self.server_name} download of {product.id}"
        self.require_credentials(what)
        url = self.check_origin(product.download_url, what)
        return self.archive_session.get(
            url, headers=archive_headers(offset, if_range, end), stream=True, timeout=self.timeout
        )
