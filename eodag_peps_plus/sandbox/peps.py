"""PEPS resto emulation: ``search.json`` shaped like the recorded reply, and archive downloads
with Basic auth, tape staging and ``Range``.
"""

from __future__ import annotations

import bisect
import collections
import functools
import hashlib
import json
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from . import synthetic
from .app import Request, Response
from .catalogue import Entry, iso, place
from .filters import FilterError, build_filter, parse_date

if TYPE_CHECKING:
    from .server import Sandbox

COLLECTIONS = ("S1", "S2", "S2ST", "S3")
PAGE_CAP = 500
_STORAGE_MARK = "@@storage-mode@@"
#: resto's own dictionaries (``RestoDictionary_en``/``_fr``): page links and feature links.
_LINK_TITLES = {
    "en": {"self": "self", "next": "next", "previous": "previous", "first": "first", "last": "last",
           "json": "GeoJSON link for {}", "atom": "ATOM link for {}"},
    "fr": {"self": "self", "next": "suivant", "previous": "précédent", "first": "premier", "last": "dernier",
           "json": "Lien GeoJSON pour {}", "atom": "Lien ATOM pour {}"},
}  # fmt: skip
#: Above this many matches resto estimated the count and said so with ``exactCount: false``
#: (the threshold is the sandbox's choice: the recorded reply only shows an exact 47).
EXACT_COUNT_LIMIT = 10_000
#: Properties only Sentinel-2 features carry (null when the archive has no value): the
#: recorded S2 feature has them, real S1 features do not.
_S2_ONLY = ("bareSoil", "highProbaClouds", "mediumProbaClouds", "lowProbaClouds", "snowIce",
            "vegetation", "water")  # fmt: skip
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")  # fmt: skip
#: Land cover keywords of S1 features over land (resto's ``landuse`` type; share in %).
_LANDUSE = (("Cultivated", 48.2), ("Forest", 31.5), ("Herbaceous", 12.9))


#: Query parameters that choose a page of the matches, not the matches.
_PAGING = frozenset({"page", "maxRecords"})
#: Queries whose matches are kept (availability polls repeat a few date windows).
_MATCH_CACHE = 32


def _mission_fields(e: Entry) -> dict[str, Any]:
    """A resto feature's mission-specific fields: Sentinel-1's, or Sentinel-2's."""
    if e.collection == "S1":
        bucket, prefix = e.datalake
        return {
            "swath": e.swath,
            "polarisation": e.polarisation,
            "missionTakeId": e.mission_take_id,
            "cycleNumber": e.cycle,
            "bucket": bucket,
            "prefix": prefix,
        }
    return {
        "s2TakeId": f"G{e.platform}_{e.start:%Y%m%dT%H%M%S}_{e.orbit_number:06d}_N02.09",
        "mgrs": e.tile,
        **dict.fromkeys(_S2_ONLY),
    }


def _services(e: Entry, base: str, day: str) -> dict[str, Any]:
    """A resto feature's ``services``: its WMS layer and its download."""
    c = e.collection
    return {
        "browse": {
            "title": "Display full resolution product on map",
            "layer": {
                "type": "WMS",
                "url": f"{base}/cgi-bin/mapserver?map=WMS_{c}&data={day}/{e.platform}/{e.name}",
                "layers": "",
            },
        },
        "download": {
            "url": f"{base}/resto/collections/{c}/{e.uuid}/download",
            "mimeType": "application/zip",
            "size": e.size,
            "checksum": e.checksum,
        },
    }


def _feature_links(e: Entry, base: str, lang: str) -> list[dict[str, Any]]:
    """A resto feature's ``links``: its JSON and Atom alternates, titled in ``lang``."""
    c, titles = e.collection, _LINK_TITLES[lang]
    return [
        {
            "rel": "alternate",
            "type": "application/json",
            "title": titles["json"].format(e.uuid),
            "href": f"{base}/resto/collections/{c}/{e.uuid}.json?&lang={lang}",
        },
        {
            "rel": "alternate",
            "type": "application/atom+xml",
            "title": titles["atom"].format(e.uuid),
            "href": f"{base}/resto/collections/{c}/{e.uuid}.atom?&lang={lang}",
        },
    ]


__all__ = ["COLLECTIONS", "PAGE_CAP", "PepsService", "build_filter", "iso"]


class PepsService:
    """Routes under ``/resto``."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self._text_cache: dict[tuple[str, str, str], str] = {}
        self._by_collection: dict[str | None, list[Entry]] = {}
        #: Per collection: starts sorted, and the catalogue positions in that order.
        self._by_start: dict[str | None, tuple[list[datetime], list[int]]] = {}
        self._match_cache: collections.OrderedDict[
            tuple[str | None, tuple[tuple[str, str], ...]], list[Entry]
        ] = collections.OrderedDict()
        self._lock = threading.Lock()
        router = sandbox.router
        router.add("GET", r"/resto/api/collections/(?P<collection>[^/]+)/search\.json", self.search)
        router.add("GET", r"/resto/api/collections/search\.json", self.search)
        router.add(
            "GET",
            r"/resto/collections/(?P<collection>[^/]+)/(?P<uuid>[0-9a-f-]{36})\.json",
            self.feature,
        )
        router.add(
            "GET",
            r"/resto/collections/(?P<collection>[^/]+)/(?P<uuid>[0-9a-f-]{36})/download/?",
            self.download,
        )
        router.add(
            "HEAD",
            r"/resto/collections/(?P<collection>[^/]+)/(?P<uuid>[0-9a-f-]{36})/download/?",
            self.download,
        )

    # -- search ------------------------------------------------------------------------------
    def search(self, request: Request) -> Response:
        started = time.perf_counter()
        self.sandbox.count("peps.search")
        collection = request.params.get("collection")
        if collection is not None and collection not in COLLECTIONS:
            return Response.json({"ErrorMessage": "Not Found", "ErrorCode": 404}, 404)
        params = request.query
        try:
            limit = int(params.get("maxRecords") or 20)
            page = int(params.get("page") or 1)
            if limit < 1 or page < 1:
                raise ValueError
        except ValueError:
            return _error(400, "Invalid maxRecords or page")
        asked_page = bool(params.get("page"))
        limit = min(limit, PAGE_CAP)
        try:
            accept, _geom = build_filter(params)
        except FilterError as exc:
            return _error(400, str(exc))
        matches: Sequence[Entry] | None = synthetic.matches(self.sandbox, collection)
        if matches is None:
            matches = self._matches(collection, params, accept)
        total = len(matches)
        chunk = matches[(page - 1) * limit : page * limit]
        base = request.base_url
        lang = "fr" if params.get("lang") == "fr" else "en"
        body = {
            "type": "FeatureCollection",
            "properties": {
                "title": "",
                "id": str(_query_id(params, collection)),
                "totalResults": total,
                "exactCount": total <= EXACT_COUNT_LIMIT,
                "startIndex": (page - 1) * limit + 1,
                "itemsPerPage": len(chunk),
                "totalItemsPerPage": str(limit),
                "query": {
                    "searchFilters": _search_filters(params, limit, page if asked_page else None),
                    "analysis": {"query": params.get("q", "")},
                    "processingTime": time.perf_counter() - started,
                },
                "links": _links(base, collection, params, limit, page, total, lang, asked_page),
            },
            "features": [],
        }
        # Features are cached as JSON text (storage mode spliced in): replies of 500 big
        # features must not make the sandbox the bottleneck of client benchmarks.
        head = json.dumps(body, ensure_ascii=False)[: -len("[]}")]
        features = ", ".join(self._feature_text(e, base, lang) for e in chunk)
        return Response(200, f"{head}[{features}]}}".encode(), {"Content-Type": "application/json"})

    def _feature_text(self, e: Entry, base: str, lang: str) -> str:
        key = (e.uuid, base, lang)
        text = self._text_cache.get(key)
        if text is None:
            feature = self.render(e, base, storage=_STORAGE_MARK, lang=lang)
            text = json.dumps(feature, ensure_ascii=False)
            if not isinstance(e, synthetic.SyntheticEntry):
                self._text_cache[key] = text
        return text.replace(_STORAGE_MARK, self.sandbox.tape.mode(e.uuid), 1)

    def invalidate(self) -> None:
        """Forget everything derived from the catalogue (an entry was reprocessed)."""
        with self._lock:
            self._text_cache.clear()
            self._by_collection.clear()
            self._by_start.clear()
            self._match_cache.clear()

    def _entries(self, collection: str | None) -> list[Entry]:
        """Entries of one collection (all PEPS ones for ``None``), indexed once."""
        with self._lock:
            if not self._by_collection:
                for entry in self.sandbox.catalogue:
                    if entry.collection in COLLECTIONS:
                        self._by_collection.setdefault(entry.collection, []).append(entry)
                        self._by_collection.setdefault(None, []).append(entry)
            return self._by_collection.get(collection, [])

    def _matches(
        self, collection: str | None, params: dict[str, str], accept: Callable[[Entry], bool]
    ) -> list[Entry]:
        """The entries a query matches, in catalogue order.

        Paging through 100,000 products or polling availability by date window must not scan
        the whole catalogue per request: candidates come from a date index (bisection on
        ``startDate``/``completionDate``) and the matches of recent queries are kept, keyed by
        everything but the page."""
        key = (collection, tuple(sorted((k, v) for k, v in params.items() if k not in _PAGING)))
        with self._lock:
            cached = self._match_cache.get(key)
            if cached is not None:
                self._match_cache.move_to_end(key)
                return cached
        entries = self._entries(collection)
        candidates = self._date_window(collection, entries, params)
        matches = [e for e in candidates if accept(e)]
        with self._lock:
            self._match_cache[key] = matches
            while len(self._match_cache) > _MATCH_CACHE:
                self._match_cache.popitem(last=False)
        return matches

    def _date_window(
        self, collection: str | None, entries: list[Entry], params: dict[str, str]
    ) -> list[Entry]:
        """Entries whose start lies in the query's dates (all of them without dates), in
        catalogue order; the caller's filter still applies every test."""
        if not params.get("startDate") and not params.get("completionDate"):
            return entries
        with self._lock:
            index = self._by_start.get(collection)
            if index is None:
                order = sorted(range(len(entries)), key=lambda i: entries[i].start)
                index = ([entries[i].start for i in order], order)
                self._by_start[collection] = index
        starts, order = index
        low, high = 0, len(starts)
        if params.get("startDate"):
            low = bisect.bisect_left(starts, parse_date(params["startDate"], "startDate"))
        if params.get("completionDate"):
            end = parse_date(params["completionDate"], "completionDate")
            high = bisect.bisect_right(starts, end)
        if high - low == len(entries):
            return entries
        return [entries[i] for i in sorted(order[low:high])]

    def feature(self, request: Request) -> Response:
        entry = self.sandbox.catalogue.by_uuid.get(request.params["uuid"])
        if entry is None or entry.collection != request.params["collection"]:
            return Response.json({"ErrorMessage": "Not Found", "ErrorCode": 404}, 404)
        lang = "fr" if request.query.get("lang") == "fr" else "en"
        return Response.json(self.render(entry, request.base_url, lang=lang))

    def render(
        self, e: Entry, base: str, storage: str | None = None, lang: str = "en"
    ) -> dict[str, Any]:
        """One feature, with the recorded reply's fields in the recorded order; Sentinel-1
        features carry S1's fields (swath, polarisation, datatake, cycle, datalake location)
        instead of S2's (tile, S2 datatake, land cover shares)."""
        geometry = {"type": "MultiPolygon", "coordinates": [[e.polygon]]}
        c = e.collection
        day = e.start.strftime("%Y/%m/%d")
        is_s1 = c == "S1"
        props: dict[str, Any] = {
            "collection": c,
            "productIdentifier": e.name,
            "parentIdentifier": f"urn:ogc:def:EOP:ESA::SENTINEL-{c[1]}:",
            "title": e.name,
            "description": None,
            "organisationName": "ESA",
            "startDate": iso(e.start),
            "completionDate": iso(e.end),
            "productType": e.product_type,
            "processingLevel": e.processing_level,
            "platform": e.platform,
            "instrument": e.instrument,
            "resolution": None,
            "sensorMode": e.sensor_mode,
            "orbitNumber": e.orbit_number,
            "quicklook": f"{base}/quicklook/{day}/{e.platform}/{e.name}_quicklook.jpg",
            "thumbnail": None,
            "resourceSize": e.size,
            "resourceChecksum": e.checksum,
            "updated": iso(e.published),
            "published": iso(e.published),
            "snowCover": None,
            # Real S1 features write an integer 0 (GEODES writes 0.0).
            "cloudCover": int(e.cloud_cover or 0) if is_s1 else e.cloud_cover,
            "keywords": _keywords(e, base, lang),
            "visible": 1,
            "orbitDirection": e.orbit_direction,
            "newVersion": None,
            "isNrt": 0,
            "realtime": "Nominal",
            "dhusIngestDate": iso(e.published),
            "relativeOrbitNumber": None if e.hide_relative_orbit else e.relative_orbit,
            "useDatalake": None,
        }
        props.update(_mission_fields(e))
        props["isRefined"] = None
        props["nrtResource"] = f"/data/NRT/{day}/{e.platform}/{e.name}.zip"
        props["services"] = _services(e, base, day)
        props["links"] = _feature_links(e, base, lang)
        props["storage"] = {"mode": storage or self.sandbox.tape.mode(e.uuid)}
        return {
            "type": "Feature",
            "id": e.uuid,
            "geometry": geometry,
            "_geometry": geometry,
            "properties": props,
        }

    # -- download ----------------------------------------------------------------------------
    def download(self, request: Request) -> Response:
        self.sandbox.count("peps.download")
        creds = request.basic_auth()
        if creds is None:
            return Response(401, b"", {"WWW-Authenticate": 'Basic realm="resto"'})
        if not self.sandbox.check_password(*creds):
            if self.sandbox.config.bad_auth_reply == "200-json":
                return Response.json({"ErrorCode": 401, "ErrorMessage": "Unauthorized"}, 200)
            return Response.json({"ErrorCode": 401, "ErrorMessage": "Unauthorized"}, 401)
        entry = self.sandbox.catalogue.by_uuid.get(request.params["uuid"])
        if entry is None or entry.collection != request.params["collection"]:
            return Response.json({"ErrorMessage": "Not Found", "ErrorCode": 404}, 404)
        return self.sandbox.serve_archive(entry, request)


def _error(code: int, message: str) -> Response:
    return Response.json({"ErrorCode": code, "ErrorMessage": message}, code)


@functools.lru_cache(maxsize=8192)
def _keyword(
    name: str, kind: str, parent: str | None, link: str, extra: tuple[tuple[str, Any], ...]
) -> tuple[str, dict[str, Any]]:
    """One keyword and its hash key (cached: features share most of their keywords; the
    dicts are shared, treat them as read-only)."""
    key = hashlib.sha1(f"{kind}:{name}".encode(), usedforsecurity=False).hexdigest()[:15]
    keyword: dict[str, Any] = {"name": name, "type": kind}
    extras = dict(extra)
    if "normalized" in extras:
        keyword["normalized"] = extras.pop("normalized")
    if parent:
        keyword["parentHash"] = parent
    keyword.update(extras)
    keyword["href"] = f"{link}&q={quote(name)}"
    return key, keyword


def _keywords(e: Entry, base: str, lang: str) -> dict[str, dict[str, Any]]:
    """resto's keyword map, in the recorded order: 12 types on every feature (``parentHash``
    links instrument to platform, day to month to year); S1 features over land add the
    places and land cover (``normalized`` name and ``value`` share in %) as resto did."""
    out: dict[str, dict[str, Any]] = {}
    link = f"{base}/resto/api/collections/{e.collection}/search.json?&lang={lang}"

    def add(name: str, kind: str, parent: str | None = None, **extra: Any) -> str:
        key, keyword = _keyword(name, kind, parent, link, tuple(extra.items()))
        out[key] = keyword
        return key

    add(_season(e.start), "season")
    add(e.collection, "collection")
    add(e.product_type, "productType")
    add(e.processing_level, "processingLevel")
    platform = add(e.platform[0].lower() + e.platform[1:], "platform")
    instrument = add(e.instrument.lower(), "instrument", platform)
    add(e.sensor_mode, "sensorMode", instrument)
    add(e.orbit_direction.capitalize(), "orbitDirection")
    add("Nominal", "realtime")
    year = add(f"{e.start:%Y}", "year")
    month = add(_MONTHS[e.start.month - 1], "month", year)
    add(f"{e.start:%d}", "day", month)
    where = place(e)
    if e.collection == "S1":
        parent = None
        for kind, (name, _geonames) in zip(
            ("continent", "country", "region", "state"), where, strict=True
        ):
            parent = add(name, kind, parent, normalized=name.lower(), value=100)
        for name, share in _LANDUSE:
            add(name, "landuse", normalized=name.lower(), value=share)
    return out


def _season(moment: datetime) -> str:
    return ("Winter", "Spring", "Summer", "Autumn")[(moment.month % 12) // 3]


def _query_id(params: dict[str, str], collection: str | None) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{collection}?{sorted(params.items())}"))


def _search_filters(params: dict[str, str], limit: int, page: int | None) -> dict[str, Any]:
    """resto's echo of the query: ``startPage`` only when the request named a page;
    ``language`` and the analysed ``searchTerms`` when it named a language."""
    names = {
        "startDate": "time:start", "completionDate": "time:end", "geometry": "geo:geometry",
        "box": "geo:box", "lat": "geo:lat", "lon": "geo:lon", "productType": "eo:productType",
        "platform": "eo:platform", "sensorMode": "eo:sensorMode", "tileid": "resto:tileid",
        "relativeOrbitNumber": "eo:relativeOrbitNumber", "orbitNumber": "eo:orbitNumber",
        "orbitDirection": "eo:orbitDirection", "cloudCover": "eo:cloudCover", "q": "searchTerms",
    }  # fmt: skip
    out: dict[str, Any] = {names[k]: v for k, v in params.items() if k in names and v}
    if params.get("lang"):
        out["language"] = params["lang"]
        out.setdefault("searchTerms", params.get("q", ""))
    out["count"] = str(limit)
    if page is not None:
        out["startPage"] = str(page)
    return out


def _links(
    base: str,
    collection: str | None,
    params: dict[str, str],
    limit: int,
    page: int,
    total: int,
    lang: str,
    asked_page: bool,
) -> list[dict[str, str]]:
    """Page links keep the request's parameters in the request's order (resto rebuilt them
    from the query string); the self link has no ``page`` when the request had none."""
    root = (
        f"{base}/resto/api/collections/{collection}"
        if collection
        else f"{base}/resto/api/collections"
    )
    titles = _LINK_TITLES[lang]

    def href(number: int | None) -> str:
        pairs = [(k, v) for k, v in params.items() if k != "page" or number is not None]
        if number is not None:
            pairs = [(k, str(number) if k == "page" else v) for k, v in pairs]
            if "page" not in params:
                pairs.append(("page", str(number)))
        return f"{root}/search.json?&" + urlencode(pairs, quote_via=quote)

    last = max(1, -(-total // limit))
    links = [
        {
            "rel": "self",
            "type": "application/json",
            "title": titles["self"],
            "href": href(page if asked_page else None),
        },
        {
            "rel": "search",
            "type": "application/opensearchdescription+xml",
            "title": "OpenSearch Description Document",
            "href": f"{root}/describe.xml",
        },
    ]
    if page > 1:
        links.append({"rel": "previous", "type": "application/json", "title": titles["previous"], "href": href(page - 1)})  # fmt: skip
        links.append({"rel": "first", "type": "application/json", "title": titles["first"], "href": href(1)})  # fmt: skip
    if page < last:
        links.append({"rel": "next", "type": "application/json", "title": titles["next"], "href": href(page + 1)})  # fmt: skip
        links.append({"rel": "last", "type": "application/json", "title": titles["last"], "href": href(last)})  # fmt: skip
    return links
