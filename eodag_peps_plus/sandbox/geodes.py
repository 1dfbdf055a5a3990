"""GEODES emulation: STAC API search shaped like the recorded reply
(``fixtures/geodes_search_S2_L1C.json``), collections, ``fastavailability``, and API-key
protected downloads over the same catalogue and tape library as the PEPS emulation.

Deliberately reproduced quirks of the real service: items are URNs whose ESA name is only in
``properties.identifier``; size, MD5 and online state are only in the data asset's
``description`` text; the ``next`` link is a GET on ``/collections/{id}/items`` that drops
every filter (and carries a different ``limit``); pages are capped at 80 silently.

Switches for tests live on the service object, e.g.
``sandbox.services["geodes"].quota_exhausted = True``.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from shapely.errors import ShapelyError
from shapely.geometry import shape

from .app import Request, Response
from .catalogue import Entry
from .peps import ParamError, build_filter
from .tape import ONLINE_MODES

if TYPE_CHECKING:
    from .server import Sandbox

URN_NAMESPACE = uuid.UUID("0b7a4c8e-3f52-4d2e-9a61-5c3e2f1d9e07")
S1_L1, S1_L2, S2_L1C = "PEPS_S1_L1", "PEPS_S1_L2", "PEPS_S2_L1C"
L2A = "THEIA_REFLECTANCE_SENTINEL2_L2A"
COLLECTION_TITLES = {
    S1_L1: "Sentinel-1 Level-1 (GRD, SLC) from the PEPS archive",
    S1_L2: "Sentinel-1 Level-2 (OCN) from the PEPS archive",
    S2_L1C: "Sentinel-2 Level-1C from the PEPS archive",
    L2A: "THEIA Sentinel-2 surface reflectance (MAJA L2A)",
    "THEIA_SNOW_SENTINEL2_L2B": "THEIA Sentinel-2 snow cover (L2B)",
    "THEIA_WATERQUAL_SENTINEL2_L2B": "THEIA Sentinel-2 water quality (L2B)",
}
PAGE_CAP = 80
DEFAULT_LIMIT = 20
#: Properties the search accepts in ``query`` (unknown ones are refused with HTTP 400).
QUERYABLES = (
    "identifier",
    "product:type",
    "start_datetime",
    "end_datetime",
    "datetime",
    "grid:code",
    "sat:relative_orbit",
    "sat:absolute_orbit",
    "sat:orbit_state",
    "eo:cloud_cover",
    "platform",
    "instrument",
    "sar:polarizations",
    "sar:instrument_mode",
    "swath",
    "endpoint_url",
    "processing:level",
    "dataset",
)
NUMERIC = frozenset({"sat:relative_orbit", "sat:absolute_orbit", "eo:cloud_cover"})
TIMES = frozenset({"start_datetime", "end_datetime", "datetime"})
OPERATORS = ("eq", "neq", "in", "contains", "lt", "lte", "gt", "gte")
SORTABLE = (
    "start_datetime",
    "end_datetime",
    "identifier",
    "id",
    "platform",
    "eo:cloud_cover",
    "datetime",
)
STAC_EXTENSIONS = [
    f"https://stac-extensions.github.io/{ext}/schema.json"
    for ext in (
        "product/v0.1.0",
        "processing/v1.2.0",
        "projection/v2.0.0",
        "sat/v1.1.0",
        "scientific/v1.0.0",
        "sar/v1.1.0",
        "eo/v2.0.0",
        "sentinel-2/v1.0.0",
        "view/v1.0.0",
        "grid/v1.1.0",
        "raster/v2.0.0",
    )
]
REFERENCES = [
    {
        "url": f"http://www.naturalearthdata.com/downloads/10m-{kind}/",
        "author": "Natural Earth",
        "dataset": dataset,
        "license": lic,
    }
    for kind, dataset, lic in (
        ("physical-vectors/10m-coastline", "Coastline", "Free of Charge"),
        ("cultural-vectors/10m-admin-0-countries", "Admin level 0 - Countries", "Free of Charge"),
        (
            "cultural-vectors/10m-admin-1-states-provinces",
            "Admin level 1 - States, Provinces",
            "Free of Charge",
        ),
        (
            "physical-vectors/10m-rivers-lake-centerlines",
            "Rivers and lake centerlines",
            "Free of charge",
        ),
        ("physical-vectors/10m-physical-labels", "Marine Regions", "Free of charge"),
    )
]
_LEVELS = {"LEVEL1C": "L1C", "LEVEL1": "L1", "LEVEL2": "L2", "L2A": "L2A"}
_DOWNLOAD = (
    r"/api/download/(?P<urn>URN:FEATURE:DATA:gdh:[0-9a-f-]{36}:V\d+)/files/(?P<md5>[0-9a-f]{32})"
)
_SEASONS = ("winter", "spring", "summer", "autumn")


class QueryError(ValueError):
    pass


def geodes_collection(entry: Entry) -> str | None:
    if entry.collection == "S1":
        return S1_L2 if entry.product_type == "OCN" else S1_L1
    if entry.collection in ("S2", "S2ST"):
        return S2_L1C
    if entry.collection == "THEIA_L2A":
        return L2A
    return None


def urn(entry: Entry) -> str:
    return f"URN:FEATURE:DATA:gdh:{uuid.uuid3(URN_NAMESPACE, entry.name)}:V1"


def iso(moment: datetime) -> str:
    moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _time_value(value: Any, name: str) -> str:
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise QueryError(f"Invalid date for {name}: {value!r}") from None
    return iso(parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc))


def _predicate(field: str, op: str, value: Any) -> Callable[[dict[str, Any]], bool]:
    """One ``query`` clause on a rendered property dict."""
    if op not in OPERATORS:
        raise QueryError(
            f"Unsupported operator {op!r} on {field} (supported: {', '.join(OPERATORS)})"
        )
    if op == "in":
        if not isinstance(value, list):
            raise QueryError(f"Operator 'in' on {field} needs a list")
        values = [_time_value(v, field) if field in TIMES else v for v in value]
        return lambda p: p.get(field) in values
    if field in TIMES:
        value = _time_value(value, field)
    elif field in NUMERIC and (not isinstance(value, (int, float)) or isinstance(value, bool)):
        raise QueryError(f"Invalid value for {field}: {value!r} is not a number")
    if op == "eq":
        return lambda p: p.get(field) == value
    if op == "neq":
        return lambda p: p.get(field) != value
    if op == "contains":
        return lambda p: p.get(field) is not None and value in p[field]
    compare: dict[str, Callable[[Any, Any], bool]] = {
        "lt": lambda a, b: a < b,
        "lte": lambda a, b: a <= b,
        "gt": lambda a, b: a > b,
        "gte": lambda a, b: a >= b,
    }
    check = compare[op]
    return lambda p: p.get(field) is not None and check(p[field], value)


class GeodesService:
    """Routes under ``/api/stac``, ``/api/download``, ``/fastavailability``."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        #: 429 on every download while set (quota exhausted).
        self.quota_exhausted = False
        #: ``Retry-After`` of those 429 replies (``None``: no header).
        self.retry_after: str | None = "1"
        #: How a wrong key is answered: ``403``, ``401`` or ``redirect`` (a loop).
        self.bad_key_reply = "403"
        self.page_cap = PAGE_CAP
        self._lock = threading.Lock()
        self._by_collection: dict[str, list[Entry]] | None = None
        self._by_urn: dict[str, Entry] = {}
        self._properties: dict[str, dict[str, Any]] = {}
        self._match_cache: dict[str, list[Entry]] = {}
        r = sandbox.router
        r.add("GET", r"/api/stac/?", self.root)
        r.add("GET", r"/api/stac/conformance", self.conformance)
        r.add("GET", r"/api/stac/collections/?", self.collections)
        r.add("POST", r"/api/stac/collections/?", self.collections)
        r.add("GET", r"/api/stac/collections/(?P<collection>[^/]+)", self.collection)
        r.add("GET", r"/api/stac/collections/(?P<collection>[^/]+)/items", self.items)
        r.add("GET", r"/api/stac/collections/(?P<collection>[^/]+)/items/(?P<urn>[^/]+)", self.item)
        r.add("POST", r"/api/stac/search", self.search)
        r.add("GET", r"/api/stac/search", self.search)
        r.add("POST", r"/fastavailability", self.fastavailability)
        r.add("GET", r"/availability/(?P<name>[^/]+)", self.availability)
        r.add("GET", _DOWNLOAD, self.download)
        r.add("HEAD", _DOWNLOAD, self.download)
        r.add("GET", r"/api/quicklook/(?P<urn>[^/]+)/files/(?P<md5>[0-9a-f]{32})", self.quicklook)

    # -- catalogue views ---------------------------------------------------------------------
    def invalidate(self) -> None:
        """Forget everything derived from the catalogue (an entry was reprocessed)."""
        with self._lock:
            self._by_collection = None
            self._by_urn.clear()
            self._properties.clear()
            self._match_cache.clear()

    @property
    def by_collection(self) -> dict[str, list[Entry]]:
        with self._lock:
            if self._by_collection is None:
                groups: dict[str, list[Entry]] = {}
                for entry in self.sandbox.catalogue:
                    collection = geodes_collection(entry)
                    if collection:
                        groups.setdefault(collection, []).append(entry)
                        self._by_urn[urn(entry)] = entry
                self._by_collection = groups
            return self._by_collection

    def entry_for(self, item_id: str) -> Entry | None:
        self.by_collection  # noqa: B018 - builds the index
        return self._by_urn.get(item_id)

    def properties(self, entry: Entry) -> dict[str, Any]:
        """The item's properties, in the recorded reply's order (cached: treat as read-only)."""
        cached = self._properties.get(entry.uuid)
        if cached is None:
            cached = self._properties[entry.uuid] = self._render_properties(entry)
        return cached

    def _render_properties(self, entry: Entry) -> dict[str, Any]:
        collection = geodes_collection(entry) or ""
        is_s1 = entry.collection == "S1"
        lonmin, latmin, lonmax, latmax = entry.bounds
        p0, p2 = entry.polygon[0], entry.polygon[2]
        tile = entry.tile
        name = entry.name
        version = re.search(r"_N(\d{2})(\d{2})_", name)
        props: dict[str, Any] = {}
        if tile:
            props["grid:code"] = f"T{tile}"
        props["product:type"] = entry.product_type
        props["sar:instrument_mode"] = entry.sensor_mode
        props["endpoint_url"] = _endpoint_url(entry, collection)
        props["proj:bbox"] = f"{p0[0]},{p0[1]},{p2[0]},{p2[1]}"
        props["latest"] = True
        props["instrument"] = entry.instrument
        props["references"] = REFERENCES
        props["sat:orbit_state"] = entry.orbit_direction.capitalize()
        props["identifier"] = name
        props["keywords"] = [
            f"location:{'northern' if latmin >= 0 else 'southern'}",
            f"season:{_SEASONS[(entry.start.month % 12) // 3]}",
        ]
        props["sat:relative_orbit"] = entry.relative_orbit
        props["product:timeliness"] = "Nominal"
        props["area"] = round((lonmax - lonmin) * (latmax - latmin) * 111.32 * 111.32 * 0.72, 4)
        if is_s1:
            props["sar:polarizations"] = "VV VH"
            props["swath"] = entry.sensor_mode
        elif collection == S2_L1C:
            baseline = f"{version.group(1)}.{version.group(2)}" if version else "02.04"
            props["s2:datatake_id"] = (
                f"G{entry.platform}_{entry.start:%Y%m%dT%H%M%S}_{entry.orbit_number:06d}_N{baseline}"
            )
            props["processing:version"] = baseline
        elif collection == L2A:
            props["processing:version"] = "2.2"
        props["endpoint_description"] = "Link to product in datalake"
        props["platform"] = entry.platform
        props["sat:absolute_orbit"] = entry.orbit_number
        props["dataset"] = collection
        props["version"] = "00.00"
        props["continent_code"] = ["EU"] if 35 <= latmin <= 72 and -25 <= lonmin <= 45 else ["OC"]
        props["start_datetime"] = iso(entry.start)
        props["datetime"] = iso(entry.published)
        props["processing:level"] = _LEVELS.get(entry.processing_level, entry.processing_level)
        if entry.cloud_cover is not None:
            props["eo:cloud_cover"] = entry.cloud_cover
        props["sci:doi"] = "[]"
        props["political"] = _political(latmin, lonmin)
        props["end_datetime"] = iso(entry.end)
        return props

    def render(self, entry: Entry, base: str) -> dict[str, Any]:
        """One STAC item, shaped like the recorded one."""
        collection = geodes_collection(entry) or ""
        item_id = urn(entry)
        lonmin, latmin, lonmax, latmax = entry.bounds
        api = f"{base}/api/stac"
        online = self.sandbox.tape.mode(entry.uuid) in ONLINE_MODES
        ql_md5 = uuid.uuid5(URN_NAMESPACE, f"ql:{entry.name}").hex
        ql_key = f"{entry.start:%Y/%m/%d}/{entry.platform}/{entry.name}_quicklook.jpg"
        data_key = f"{entry.name}.zip"
        centroid = shape({"type": "Polygon", "coordinates": [entry.polygon]}).centroid
        return {
            "stac_version": "1.0.0-beta.2",
            "stac_extensions": STAC_EXTENSIONS,
            "id": item_id,
            "bbox": [lonmin, latmin, lonmax, latmax],
            "geometry": {"coordinates": [entry.polygon], "type": "Polygon"},
            "centroid": {"lon": centroid.x, "lat": centroid.y},
            "type": "Feature",
            "collection": collection,
            "properties": self.properties(entry),
            "links": [
                {"href": api, "rel": "root", "type": "application/json", "title": "STAC gdh root"},
                {
                    "href": f"{api}/collections/{collection}",
                    "rel": "collection",
                    "type": "application/json",
                    "title": "Item collection",
                },
                {
                    "href": f"{api}/collections/{collection}/items/{item_id}",
                    "rel": "self",
                    "type": "application/geo+json",
                    "title": item_id,
                },
                {
                    "href": "https://spdx.org/licenses/Apache-2.0.html",
                    "rel": "license",
                    "type": "application/html",
                    "title": "Apache License 2.0",
                },
            ],
            "assets": {
                ql_key: {
                    "href": f"{base}/api/quicklook/{item_id}/files/{ql_md5}?scope=gdh",
                    "title": ql_key,
                    "description": _description(18684, True, "QUICKLOOK_SD", ql_md5),
                    "type": "image/jpeg",
                    "roles": ["overview"],
                },
                data_key: {
                    "href": f"{base}/api/download/{item_id}/files/{entry.md5}",
                    "title": data_key,
                    "description": _description(entry.size, online, "RAWDATA", entry.md5),
                    "type": "application/zip",
                    "roles": ["data"],
                },
            },
        }

    # -- STAC API ----------------------------------------------------------------------------
    def root(self, request: Request) -> Response:
        api = f"{request.base_url}/api/stac"
        return Response.json(
            {
                "stac_version": "1.0.0",
                "type": "Catalog",
                "id": "gdh",
                "title": "STAC gdh root",
                "description": "GEODES catalogue (sandbox)",
                "conformsTo": _CONFORMANCE,
                "links": [
                    {"href": api, "rel": "self", "type": "application/json"},
                    {
                        "href": api,
                        "rel": "root",
                        "type": "application/json",
                        "title": "STAC gdh root",
                    },
                    {"href": f"{api}/collections", "rel": "data", "type": "application/json"},
                    {
                        "href": f"{api}/conformance",
                        "rel": "conformance",
                        "type": "application/json",
                    },
                    {
                        "href": f"{api}/search",
                        "rel": "search",
                        "type": "application/geo+json",
                        "method": "POST",
                    },
                    {
                        "href": f"{api}/search",
                        "rel": "search",
                        "type": "application/geo+json",
                        "method": "GET",
                    },
                ],
            }
        )

    def conformance(self, request: Request) -> Response:
        return Response.json({"conformsTo": _CONFORMANCE})

    def collection_doc(self, collection: str, base: str) -> dict[str, Any]:
        entries = self.by_collection.get(collection, [])
        if entries:
            bounds = [e.bounds for e in entries]
            bbox = [
                min(b[0] for b in bounds),
                min(b[1] for b in bounds),
                max(b[2] for b in bounds),
                max(b[3] for b in bounds),
            ]
            interval: list[str | None] = [iso(entries[0].start), iso(max(e.end for e in entries))]
        else:
            bbox = [-180.0, -90.0, 180.0, 90.0]
            interval = ["2015-06-23T00:00:00.000Z", None]
        api = f"{base}/api/stac"
        return {
            "stac_version": "1.0.0",
            "type": "Collection",
            "id": collection,
            "title": COLLECTION_TITLES[collection],
            "description": COLLECTION_TITLES[collection],
            "license": "proprietary",
            "extent": {"spatial": {"bbox": [bbox]}, "temporal": {"interval": [interval]}},
            "links": [
                {
                    "href": f"{api}/collections/{collection}",
                    "rel": "self",
                    "type": "application/json",
                },
                {"href": api, "rel": "root", "type": "application/json"},
                {
                    "href": f"{api}/collections/{collection}/items",
                    "rel": "items",
                    "type": "application/geo+json",
                },
            ],
        }

    def collections(self, request: Request) -> Response:
        docs = [self.collection_doc(c, request.base_url) for c in COLLECTION_TITLES]
        return Response.json(
            {
                "collections": docs,
                "links": [
                    {
                        "href": f"{request.base_url}/api/stac/collections",
                        "rel": "self",
                        "type": "application/json",
                    }
                ],
                "context": {"returned": len(docs), "limit": len(docs), "matched": len(docs)},
            }
        )

    def collection(self, request: Request) -> Response:
        name = request.params["collection"]
        if name not in COLLECTION_TITLES:
            return _error(404, f"Collection {name} not found")
        return Response.json(self.collection_doc(name, request.base_url))

    def item(self, request: Request) -> Response:
        entry = self.entry_for(request.params["urn"])
        if entry is None or geodes_collection(entry) != request.params["collection"]:
            return _error(404, f"Item {request.params['urn']} not found")
        return Response.json(self.render(entry, request.base_url))

    def items(self, request: Request) -> Response:
        """What the recorded ``next`` link points to: the collection, without any filter."""
        body: dict[str, Any] = {"collections": [request.params["collection"]]}
        for key in ("limit", "page"):
            if request.query.get(key):
                body[key] = request.query[key]
        return self._search(body, request)

    def search(self, request: Request) -> Response:
        self.sandbox.count("geodes.search")
        if request.method == "POST":
            try:
                body = request.json()
            except ValueError:
                return _error(400, "Request body is not JSON")
            if not isinstance(body, dict):
                return _error(400, "Request body must be a JSON object")
        else:
            body = {k: v for k, v in request.query.items()}
            for key in ("collections", "ids"):
                if key in body:
                    body[key] = [v for v in str(body[key]).split(",") if v]
            if "bbox" in body:
                body["bbox"] = [float(v) for v in str(body["bbox"]).split(",")]
        return self._search(body, request)

    def _search(self, body: dict[str, Any], request: Request) -> Response:
        try:
            limit = int(DEFAULT_LIMIT if body.get("limit") is None else body["limit"])
            page = int(1 if body.get("page") is None else body["page"])
            if limit < 1 or page < 1:
                raise ValueError
        except (TypeError, ValueError):
            return _error(400, "limit and page must be positive integers")
        limit = min(limit, self.page_cap)
        try:
            matches = self._matches(body)
        except QueryError as exc:
            return _error(400, str(exc))
        chunk = matches[(page - 1) * limit : page * limit]
        base = request.base_url
        collections = body.get("collections") or []
        path = (
            f"{base}/api/stac/collections/{collections[0]}/items"
            if collections
            else f"{base}/api/stac/search"
        )
        links = [
            {
                "href": f"{path}?limit={limit}&page={page}",
                "rel": "self",
                "type": "application/json",
                "title": "this search page",
            }
        ]
        if page * limit < len(matches):
            # The recorded reply: self "limit=1&page=1", next "limit=2&page=2".
            links.append(
                {
                    "href": f"{path}?limit={limit * (page + 1)}&page={page + 1}",
                    "rel": "next",
                    "type": "application/json",
                    "title": "next search page",
                }
            )
        return Response.json(
            {
                "stac_version": "1.0.0-beta.1",
                "stac_extensions": [],
                "type": "FeatureCollection",
                "features": [self.render(e, base) for e in chunk],
                "links": links,
                "context": {"returned": len(chunk), "limit": limit, "matched": len(matches)},
            }
        )

    def _matches(self, body: dict[str, Any]) -> list[Entry]:
        """Matching entries, cached per query: paging re-runs the same search many times."""
        key = json.dumps(
            {k: v for k, v in body.items() if k not in ("page", "limit")}, sort_keys=True
        )
        with self._lock:
            cached = self._match_cache.get(key)
        if cached is not None:
            return cached
        found = self._find(body)
        with self._lock:
            self._match_cache[key] = found
            while len(self._match_cache) > 32:
                self._match_cache.pop(next(iter(self._match_cache)))
        return found

    def _find(self, body: dict[str, Any]) -> list[Entry]:
        groups = self.by_collection
        collections = body.get("collections")
        if collections is not None and not isinstance(collections, list):
            raise QueryError("collections must be a list")
        names = [c for c in (collections or groups) if c in groups]
        if len(names) == 1:
            candidates = groups[names[0]]
        else:
            candidates = sorted(
                (e for n in names for e in groups[n]), key=lambda e: (e.start, e.name)
            )
        tests = self._tests(body)
        geometry = self._geometry_test(body)
        ids = body.get("ids")
        wanted_ids = set(ids) if isinstance(ids, list) else None
        out = []
        for entry in candidates:
            if geometry is not None and not geometry(entry):
                continue
            props = self.properties(entry)
            if all(test(props) for test in tests) and (
                wanted_ids is None or urn(entry) in wanted_ids
            ):
                out.append(entry)
        return self._sorted(out, body.get("sortBy") or body.get("sortby"))

    def _tests(self, body: dict[str, Any]) -> list[Callable[[dict[str, Any]], bool]]:
        query = body.get("query") or {}
        if not isinstance(query, dict):
            raise QueryError("query must be an object")
        tests: list[Callable[[dict[str, Any]], bool]] = []
        for field, clause in query.items():
            if field not in QUERYABLES:
                raise QueryError(
                    f"Property {field!r} is not queryable; queryable: {', '.join(QUERYABLES)}"
                )
            if not isinstance(clause, dict):
                raise QueryError(f'query.{field} must be an object like {{"eq": value}}')
            tests.extend(_predicate(field, op, value) for op, value in clause.items())
        return tests

    def _geometry_test(self, body: dict[str, Any]) -> Callable[[Entry], bool] | None:
        params: dict[str, str] = {}
        if body.get("bbox") is not None:
            bbox = body["bbox"]
            if not isinstance(bbox, list) or len(bbox) != 4:
                raise QueryError("bbox must be [lonmin, latmin, lonmax, latmax]")
            params["box"] = ",".join(str(v) for v in bbox)
        elif body.get("intersects") is not None:
            try:
                params["geometry"] = shape(body["intersects"]).wkt
            except (ShapelyError, ValueError, KeyError, TypeError, AttributeError):
                raise QueryError("intersects is not a GeoJSON geometry") from None
        else:
            return None
        try:
            test, _ = build_filter(params)
        except ParamError as exc:
            raise QueryError(str(exc)) from None
        return test

    def _sorted(self, entries: list[Entry], sort: Any) -> list[Entry]:
        if not sort:
            return entries
        if not isinstance(sort, list):
            raise QueryError("sortBy must be a list of {field, direction}")
        for clause in reversed(sort):
            field = str(clause.get("field", "")).removeprefix("properties.")
            if field not in SORTABLE:
                raise QueryError(f"Cannot sort on {field!r}; sortable: {', '.join(SORTABLE)}")
            direction = str(clause.get("direction", "asc")).lower()
            key = "identifier" if field == "id" else field
            values = {e.uuid: self.properties(e).get(key) for e in entries}
            entries = sorted(
                entries,
                key=lambda e: (
                    values[e.uuid] is None,
                    "" if values[e.uuid] is None else values[e.uuid],
                ),
                reverse=direction in ("dsc", "desc"),
            )
        return entries

    # -- availability ------------------------------------------------------------------------
    def fastavailability(self, request: Request) -> Response:
        self.sandbox.count("geodes.fastavailability")
        try:
            body = request.json()
            wanted = body["availability"]
            hrefs = [str(item["href"]) for item in wanted]
        except (ValueError, KeyError, TypeError):
            return _error(400, 'Expected {"availability": [{"href": ..., "endpointURL": ...}]}')
        products: dict[str, dict[str, Any]] = {}
        for href in hrefs:
            match = re.search(_DOWNLOAD + "$", href)
            entry = self.entry_for(match.group("urn")) if match else None
            if entry is None or match is None or match.group("md5") != entry.md5:
                continue
            online = self.sandbox.tape.mode(entry.uuid) in ONLINE_MODES
            record = products.setdefault(urn(entry), {"id": urn(entry), "files": []})
            record["files"].append({"checksum": entry.md5, "available": online})
        return Response.json({"products": list(products.values())})

    def availability(self, request: Request) -> Response:
        entry = self.sandbox.catalogue.by_name.get(request.params["name"])
        if entry is None or geodes_collection(entry) is None:
            return _error(404, f"Product {request.params['name']} not found")
        online = self.sandbox.tape.mode(entry.uuid) in ONLINE_MODES
        return Response.json(
            {
                "id": urn(entry),
                "name": entry.name,
                "files": [{"checksum": entry.md5, "available": online}],
            }
        )

    # -- archive -----------------------------------------------------------------------------
    def download(self, request: Request) -> Response:
        self.sandbox.count("geodes.download")
        if self.quota_exhausted:
            headers = {"Retry-After": self.retry_after} if self.retry_after else {}
            return Response.json({"code": 429, "message": "Download quota exceeded"}, 429, headers)
        key = request.headers.get("X-API-Key")
        if not key:
            return _error(401, "Missing API key: send it in the X-API-Key header")
        if not self.sandbox.check_api_key(key):
            if self.bad_key_reply == "redirect":
                return Response(302, b"", {"Location": f"{request.base_url}{request.path}"})
            status = 401 if self.bad_key_reply == "401" else 403
            return _error(status, "Invalid API key")
        entry = self.entry_for(request.params["urn"])
        if entry is None or request.params["md5"] != entry.md5:
            return _error(404, "File not found")
        return self.sandbox.serve_archive(entry, request)

    def quicklook(self, request: Request) -> Response:
        return Response(
            200, b"\xff\xd8\xff\xe0\x00\x10JFIF\x00sandbox\xff\xd9", {"Content-Type": "image/jpeg"}
        )


_CONFORMANCE = [
    "https://api.stacspec.org/v1.0.0/core",
    "https://api.stacspec.org/v1.0.0/item-search",
    "https://api.stacspec.org/v1.0.0/item-search#query",
    "https://api.stacspec.org/v1.0.0/item-search#sort",
    "https://api.stacspec.org/v1.0.0/collections",
    "https://api.stacspec.org/v1.0.0/ogcapi-features",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
]


def _description(size: int, online: bool, datatype: str, md5: str) -> str:
    return (
        f"File size: {size} bytes\n\nIs reference: false\n\nIs online: {str(online).lower()}\n\n"
        f"Datatype: {datatype}\n\nChecksum MD5: {md5}"
    )


def _endpoint_url(entry: Entry, collection: str) -> str:
    bucket = {
        S1_L1: "sentinel1-l1",
        S1_L2: "sentinel1-l2",
        S2_L1C: "sentinel2-l1c",
        L2A: "muscate-l2a",
    }.get(collection, "data")
    if entry.tile:
        tile = entry.tile
        where = f"{tile[:2]}/{tile[2]}/{tile[3:]}/"
    else:
        where = f"{entry.platform}/{entry.sensor_mode}/"
    return f"https://s3.datalake.cnes.fr/{bucket}/{where}{entry.start:%Y/%m/%d}/{entry.name}.zip"


def _political(lat: float, lon: float) -> dict[str, Any]:
    """A coarse political block with the recorded nesting (continent > country > region > state)."""
    if 35 <= lat <= 72 and -25 <= lon <= 45:
        continent, country, region, state = (
            ("Europe", "6255148"),
            ("France", "3017382"),
            ("Occitanie", "11071623"),
            ("Haute-Garonne", "3013767"),
        )
    else:
        continent, country, region, state = (
            ("Oceania", "6255151"),
            ("Guam", "4043988"),
            ("Guam", "4043988"),
            ("Guam", "4043988"),
        )
    return {
        "continents": [
            {
                "id": f"continent:{continent[0]}:{continent[1]}",
                "name": continent[0],
                "countries": [
                    {
                        "id": f"country:{country[0]}:{country[1]}",
                        "name": country[0],
                        "gcover": 0.12,
                        "pcover": 100,
                        "regions": [
                            {
                                "id": f"region:{region[0]}:{region[1]}",
                                "name": region[0],
                                "gcover": 0.37,
                                "pcover": 100,
                                "states": [
                                    {
                                        "id": f"state:{state[0]}:{state[1]}",
                                        "name": state[0],
                                        "gcover": 1.53,
                                        "pcover": 100,
                                    }
                                ],
                            }
                        ],
                    }
                ],
            }
        ],
    }


def _error(status: int, message: str) -> Response:
    return Response.json({"code": status, "message": message}, status)
