"""GEODES emulation: the STAC API (root, collections, items, ``/search`` with the ``query``
and ``sortBy`` extensions, paging) over the same catalogue and tape library as the PEPS
emulation. Items are rendered by :mod:`.geodes_items`, filtered by the shared engine in
:mod:`.filters`; the archive routes (availability, downloads) come from :mod:`.geodes_archive`.

Deliberately reproduced quirks: the ``next`` link is a GET on ``/collections/{id}/items`` that
drops every filter (and carries a different ``limit``); pages are capped at 80 silently.

Switches for tests live on the service object, e.g.
``sandbox.services["geodes"].quota_exhausted = True``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from . import synthetic
from .app import Request, Response
from .catalogue import Entry, iso
from .filters import (
    NUMERIC,
    OPERATORS,
    QUERYABLES,
    TIMES,
    FilterError,
    stac_geometry_test,
    stac_tests,
)
from .geodes_archive import GeodesArchive, alternate_base
from .geodes_archive import error as _error
from .geodes_items import (
    COLLECTION_TITLES,
    L2A,
    REFERENCES,
    S1_L1,
    S1_L2,
    S2_L1C,
    STAC_EXTENSIONS,
    URN_NAMESPACE,
    collection_doc,
    geodes_collection,
    item_properties,
    render_item,
    urn,
)

if TYPE_CHECKING:
    from .server import Sandbox

__all__ = [
    "COLLECTION_TITLES", "DEFAULT_LIMIT", "L2A", "NUMERIC", "OPERATORS", "PAGE_CAP",
    "QUERYABLES", "REFERENCES", "S1_L1", "S1_L2", "S2_L1C", "SORTABLE", "STAC_EXTENSIONS",
    "TIMES", "URN_NAMESPACE", "GeodesService", "geodes_collection", "iso", "urn",
]  # fmt: skip

PAGE_CAP = 80
DEFAULT_LIMIT = 20
SORTABLE = (
    "start_datetime",
    "end_datetime",
    "identifier",
    "id",
    "platform",
    "eo:cloud_cover",
    "datetime",
)


class GeodesService(GeodesArchive):
    """Routes under ``/api/stac``, plus the archive routes of :class:`GeodesArchive`."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        config = sandbox.config
        self.quota_exhausted = config.geodes_quota_exhausted
        self.retry_after = config.geodes_retry_after
        self.bad_key_reply = config.geodes_bad_key_reply
        self.archive_profile = config.geodes_archive
        self.alternate_links = config.geodes_alternate_links
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
        self.add_archive_routes()

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
        if isinstance(entry, synthetic.SyntheticEntry):
            return item_properties(entry)
        cached = self._properties.get(entry.uuid)
        if cached is None:
            cached = self._properties[entry.uuid] = item_properties(entry)
        return cached

    def render(self, entry: Entry, base: str) -> dict[str, Any]:
        """One STAC item, shaped like the recorded one."""
        download_base = base
        if int(entry.md5[:4], 16) < self.alternate_links * 0x10000:
            download_base = alternate_base(base)
        return render_item(entry, base, self.properties(entry), self._online(entry), download_base)

    def collection_doc(self, collection: str, base: str) -> dict[str, Any]:
        return collection_doc(collection, self.by_collection.get(collection, []), base)

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
                body["bbox"] = str(body["bbox"]).split(",")  # the engine checks the numbers
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
        except FilterError as exc:
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

    def _matches(self, body: dict[str, Any]) -> Sequence[Entry]:
        """Matching entries, cached per query: paging re-runs the same search many times."""
        lazy = synthetic.matches(self.sandbox, body.get("collections"))
        if lazy is not None:
            return lazy
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
            raise FilterError("collections must be a list")
        names = [c for c in (collections or groups) if c in groups]
        if len(names) == 1:
            candidates = groups[names[0]]
        else:
            candidates = sorted(
                (e for n in names for e in groups[n]), key=lambda e: (e.start, e.name)
            )
        tests = stac_tests(body.get("query"))
        geometry = stac_geometry_test(body)
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

    def _sorted(self, entries: list[Entry], sort: Any) -> list[Entry]:
        if not sort:
            return entries
        if not isinstance(sort, list):
            raise FilterError("sortBy must be a list of {field, direction}")
        for clause in reversed(sort):
            field = str(clause.get("field", "")).removeprefix("properties.")
            if field not in SORTABLE:
                raise FilterError(f"Cannot sort on {field!r}; sortable: {', '.join(SORTABLE)}")
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


_CONFORMANCE = [
    "https://api.stacspec.org/v1.0.0/core",
    "https://api.stacspec.org/v1.0.0/item-search",
    "https://api.stacspec.org/v1.0.0/item-search#query",
    "https://api.stacspec.org/v1.0.0/item-search#sort",
    "https://api.stacspec.org/v1.0.0/collections",
    "https://api.stacspec.org/v1.0.0/ogcapi-features",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
]
