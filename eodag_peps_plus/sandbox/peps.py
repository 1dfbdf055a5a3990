"""PEPS resto emulation: ``search.json`` shaped like the recorded reply, and archive downloads
with Basic auth, tape staging and ``Range``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from shapely import wkt
from shapely.errors import ShapelyError
from shapely.geometry import Point, box
from shapely.geometry.base import BaseGeometry
from shapely.prepared import prep

from .app import Request, Response
from .catalogue import TOWNS, Entry

if TYPE_CHECKING:
    from .server import Sandbox

COLLECTIONS = ("S1", "S2", "S2ST", "S3")
PAGE_CAP = 500
_STORAGE_MARK = "@@storage-mode@@"
_LINK_TITLES = {
    "en": {"self": "self", "next": "next", "previous": "previous", "first": "first", "last": "last"},
    "fr": {"self": "self", "next": "suivant", "previous": "précédent", "first": "premier", "last": "dernier"},
}  # fmt: skip


class ParamError(ValueError):
    pass


def iso(moment: datetime) -> str:
    return (
        moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{moment.microsecond // 1000:03d}Z"
    )


def _date(value: str, name: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ParamError(f"Invalid {name} : {value}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _number(value: str, name: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise ParamError(f"Invalid {name} : {value}") from None


def _range(value: str, name: str) -> tuple[float, float]:
    """resto ranges: ``[a,b]``, ``a`` (exact), ``[a,`` / ``,b]`` half-open."""
    match = re.fullmatch(r"\s*[\[\]]?\s*([-\d.]*)\s*,\s*([-\d.]*)\s*[\[\]]?\s*", value)
    if not match:
        number = _number(value, name)
        return number, number
    low, high = match.groups()
    return (
        _number(low, name) if low else float("-inf"),
        _number(high, name) if high else float("inf"),
    )


def _equals(entry: Entry, *, attr: str, wanted: str) -> bool:
    return str(getattr(entry, attr)).lower() == wanted


def _within(entry: Entry, *, attr: str, low: float, high: float) -> bool:
    return bool(low <= getattr(entry, attr) <= high)


def build_filter(params: dict[str, str]) -> tuple[Callable[[Entry], bool], BaseGeometry | None]:
    """Turn resto query parameters into a predicate; raise ``ParamError`` like resto would."""
    tests: list[Callable[[Entry], bool]] = []
    geom: BaseGeometry | None = None
    if params.get("startDate"):
        start = _date(params["startDate"], "startDate")
        tests.append(lambda e: e.start >= start)
    if params.get("completionDate"):
        end = _date(params["completionDate"], "completionDate")
        tests.append(lambda e: e.start <= end)
    if params.get("box"):
        parts = params["box"].split(",")
        if len(parts) != 4:
            raise ParamError(f"Invalid box : {params['box']}")
        lonmin, latmin, lonmax, latmax = (_number(p, "box") for p in parts)
        geom = box(lonmin, latmin, lonmax, latmax)
    elif params.get("lat") or params.get("lon"):
        geom = Point(_number(params.get("lon", ""), "lon"), _number(params.get("lat", ""), "lat"))
    elif params.get("geometry"):
        try:
            geom = wkt.loads(params["geometry"])
        except (ShapelyError, ValueError):
            raise ParamError(f"Invalid geometry : {params['geometry']}") from None
    if params.get("q"):
        town = TOWNS.get(params["q"].strip().lower())
        if town is None:
            return (lambda e: False), None  # resto answered "no results" for unknown places
        geom = Point(*town)
    if geom is not None:
        bounds = geom.bounds
        prepared = prep(geom)

        def intersects(e: Entry) -> bool:
            lonmin, latmin, lonmax, latmax = e.bounds
            if lonmax < bounds[0] or lonmin > bounds[2] or latmax < bounds[1] or latmin > bounds[3]:
                return False
            return bool(prepared.intersects(box(lonmin, latmin, lonmax, latmax)))

        tests.append(intersects)
    for key, attr in (("productType", "product_type"), ("sensorMode", "sensor_mode"), ("platform", "platform"), ("orbitDirection", "orbit_direction")):  # fmt: skip
        if params.get(key):
            wanted = params[key].lower()
            tests.append(functools.partial(_equals, attr=attr, wanted=wanted))
    if params.get("tileid"):
        tile = params["tileid"].upper().removeprefix("T")
        tests.append(lambda e: e.tile == tile)
    for key, attr in (("relativeOrbitNumber", "relative_orbit"), ("orbitNumber", "orbit_number")):
        if params.get(key):
            low, high = _range(params[key], key)
            tests.append(functools.partial(_within, attr=attr, low=low, high=high))
    if params.get("cloudCover"):
        low, high = _range(params["cloudCover"], "cloudCover")
        tests.append(lambda e: e.cloud_cover is not None and low <= e.cloud_cover <= high)
    if params.get("productIdentifier"):
        names = set(params["productIdentifier"].split(","))
        tests.append(lambda e: e.name in names)
    return (lambda e: all(t(e) for t in tests)), geom


class PepsService:
    """Routes under ``/resto``."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self._text_cache: dict[tuple[str, str], str] = {}
        self._by_collection: dict[str | None, list[Entry]] = {}
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
        limit = min(limit, PAGE_CAP)
        try:
            accept, _geom = build_filter(params)
        except ParamError as exc:
            return _error(400, str(exc))
        matches = [e for e in self._entries(collection) if accept(e)]
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
                "exactCount": True,
                "startIndex": (page - 1) * limit + 1,
                "itemsPerPage": len(chunk),
                "totalItemsPerPage": str(limit),
                "query": {
                    "searchFilters": _search_filters(params, limit, page),
                    "analysis": {"query": params.get("q", "")},
                    "processingTime": time.perf_counter() - started,
                },
                "links": _links(base, collection, params, limit, page, total, lang),
            },
            "features": [],
        }
        # Features are cached as JSON text (storage mode spliced in): replies of 500 big
        # features must not make the sandbox the bottleneck of client benchmarks.
        head = json.dumps(body, ensure_ascii=False)[: -len("[]}")]
        features = ", ".join(self._feature_text(e, base) for e in chunk)
        return Response(200, f"{head}[{features}]}}".encode(), {"Content-Type": "application/json"})

    def _feature_text(self, e: Entry, base: str) -> str:
        key = (e.uuid, base)
        text = self._text_cache.get(key)
        if text is None:
            feature = self.render(e, base, storage=_STORAGE_MARK)
            text = json.dumps(feature, ensure_ascii=False)
            self._text_cache[key] = text
        return text.replace(_STORAGE_MARK, self.sandbox.tape.mode(e.uuid), 1)

    def invalidate(self) -> None:
        """Forget everything derived from the catalogue (an entry was reprocessed)."""
        self._text_cache.clear()
        self._by_collection.clear()

    def _entries(self, collection: str | None) -> list[Entry]:
        """Entries of one collection (all PEPS ones for ``None``), indexed once."""
        if not self._by_collection:
            for entry in self.sandbox.catalogue:
                if entry.collection in COLLECTIONS:
                    self._by_collection.setdefault(entry.collection, []).append(entry)
                    self._by_collection.setdefault(None, []).append(entry)
        return self._by_collection.get(collection, [])

    def feature(self, request: Request) -> Response:
        entry = self.sandbox.catalogue.by_uuid.get(request.params["uuid"])
        if entry is None or entry.collection != request.params["collection"]:
            return Response.json({"ErrorMessage": "Not Found", "ErrorCode": 404}, 404)
        return Response.json(self.render(entry, request.base_url))

    def render(self, e: Entry, base: str, storage: str | None = None) -> dict[str, Any]:
        """One feature, with the recorded reply's fields in the recorded order."""
        geometry = {"type": "MultiPolygon", "coordinates": [[e.polygon]]}
        c = e.collection
        day = e.start.strftime("%Y/%m/%d")
        is_s2 = c.startswith("S2")
        keywords = {
            _kw(name): {"name": name, "type": kind, "href": f"{base}/resto/api/collections/{c}/search.json?&lang=en&q={quote(name)}"}
            for name, kind in ((_season(e.start), "season"), (c, "collection"), (e.product_type, "productType"))
        }  # fmt: skip
        download = f"{base}/resto/collections/{c}/{e.uuid}/download"
        return {
            "type": "Feature",
            "id": e.uuid,
            "geometry": geometry,
            "_geometry": geometry,
            "properties": {
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
                "resourceChecksum": e.md5.upper(),
                "updated": iso(e.published),
                "published": iso(e.published),
                "snowCover": None,
                "cloudCover": e.cloud_cover,
                "keywords": keywords,
                "visible": 1,
                "orbitDirection": e.orbit_direction,
                "newVersion": None,
                "isNrt": 0,
                "realtime": "Nominal",
                "dhusIngestDate": iso(e.published),
                "relativeOrbitNumber": None if e.hide_relative_orbit else e.relative_orbit,
                "useDatalake": None,
                "s2TakeId": f"G{e.platform}_{e.start:%Y%m%dT%H%M%S}_{e.orbit_number:06d}_N02.09"
                if is_s2
                else None,
                "mgrs": e.tile,
                "bareSoil": None,
                "highProbaClouds": None,
                "mediumProbaClouds": None,
                "lowProbaClouds": None,
                "snowIce": None,
                "vegetation": None,
                "water": None,
                "isRefined": None,
                "nrtResource": f"/data/NRT/{day}/{e.platform}/{e.name}.zip",
                "services": {
                    "browse": {
                        "title": "Display full resolution product on map",
                        "layer": {
                            "type": "WMS",
                            "url": f"{base}/cgi-bin/mapserver?map=WMS_{c}&data={day}/{e.platform}/{e.name}",
                            "layers": "",
                        },
                    },
                    "download": {
                        "url": download,
                        "mimeType": "application/zip",
                        "size": e.size,
                        "checksum": e.md5.upper(),
                    },
                },  # fmt: skip
                "links": [
                    {
                        "rel": "alternate",
                        "type": "application/json",
                        "title": f"GeoJSON link for {e.uuid}",
                        "href": f"{base}/resto/collections/{c}/{e.uuid}.json?&lang=en",
                    },
                    {
                        "rel": "alternate",
                        "type": "application/atom+xml",
                        "title": f"ATOM link for {e.uuid}",
                        "href": f"{base}/resto/collections/{c}/{e.uuid}.atom?&lang=en",
                    },
                ],  # fmt: skip
                "storage": {"mode": storage or self.sandbox.tape.mode(e.uuid)},
            },
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


def _kw(name: str) -> str:
    return hashlib.sha1(name.encode(), usedforsecurity=False).hexdigest()[:15]


def _season(moment: datetime) -> str:
    return ("Winter", "Spring", "Summer", "Autumn")[(moment.month % 12) // 3]


def _query_id(params: dict[str, str], collection: str | None) -> str:
    import uuid

    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{collection}?{sorted(params.items())}"))


def _search_filters(params: dict[str, str], limit: int, page: int) -> dict[str, Any]:
    names = {
        "startDate": "time:start", "completionDate": "time:end", "geometry": "geo:geometry",
        "box": "geo:box", "lat": "geo:lat", "lon": "geo:lon", "productType": "eo:productType",
        "platform": "eo:platform", "sensorMode": "eo:sensorMode", "tileid": "resto:tileid",
        "relativeOrbitNumber": "eo:relativeOrbitNumber", "orbitNumber": "eo:orbitNumber",
        "orbitDirection": "eo:orbitDirection", "cloudCover": "eo:cloudCover", "q": "searchTerms",
    }  # fmt: skip
    out: dict[str, Any] = {names[k]: v for k, v in params.items() if k in names and v}
    out["count"] = str(limit)
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
) -> list[dict[str, str]]:
    root = (
        f"{base}/resto/api/collections/{collection}"
        if collection
        else f"{base}/resto/api/collections"
    )
    kept = [(k, v) for k, v in params.items() if k not in ("maxRecords", "page")]
    titles = _LINK_TITLES[lang]

    def href(number: int) -> str:
        return f"{root}/search.json?&" + urlencode(
            [*kept, ("maxRecords", limit), ("page", number)], quote_via=quote
        )

    last = max(1, -(-total // limit))
    links = [
        {"rel": "self", "type": "application/json", "title": titles["self"], "href": href(page)}
    ]
    links.append({"rel": "search", "type": "application/opensearchdescription+xml", "title": "OpenSearch Description Document", "href": f"{root}/describe.xml"})  # fmt: skip
    if page > 1:
        links.append({"rel": "previous", "type": "application/json", "title": titles["previous"], "href": href(page - 1)})  # fmt: skip
        links.append(
            {"rel": "first", "type": "application/json", "title": titles["first"], "href": href(1)}
        )
    if page < last:
        links.append(
            {
                "rel": "next",
                "type": "application/json",
                "title": titles["next"],
                "href": href(page + 1),
            }
        )
        links.append(
            {"rel": "last", "type": "application/json", "title": titles["last"], "href": href(last)}
        )
    return links
