"""``peps-plus serve``: PEPS and GEODES as one STAC API, for any STAC client (pystac-client,
QGIS, STAC Browser) and a browser.

Everything is :class:`~eodag_peps_plus.Client`'s: collections, search (``query``, CQL2
``filter``, ``sortby``, ``fields``), queryables from the one vocabulary. An item's ``archive``
asset points to this server's ``/download`` route, which stages the product with the staging
downloader into the server's folder: ``200`` with the file once it is on disk, ``202`` with
``Retry-After`` while it is restored from tape or downloaded (the request started it), and
the downloader's reason when it failed. The server holds the accounts; clients need none.

The HTTP layer is the package's small threaded loopback server (:mod:`.sandbox.app`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import secrets
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from .client import Client
from .discovery import queryables, searchable_collections
from .exceptions import InvalidQueryError, PepsPlusError
from .item_search import ItemSearch
from .logs import get_logger
from .product import Product
from .sandbox.app import Request, Response, Router, SandboxHTTPServer
from .staging.options import StagingOptions

__all__ = ["StacServer", "search_collection"]

logger = get_logger(__name__)

_JSON = "application/json"
_GEOJSON = "application/geo+json"
#: Items per page when the client does not say, and the most it may ask.
DEFAULT_LIMIT, MAX_LIMIT = 10, 1000
#: The largest search body accepted (a CQL2 filter with a detailed polygon fits well within),
#: and how long an idle connection is kept.
MAX_BODY, IDLE_TIMEOUT = 1 << 20, 60.0
#: Search parameters read as lists from a GET query string.
_LISTS = ("collections", "ids")


class StacServer:
    """A STAC API over named clients (``{"peps": Client, "geodes": Client}``)."""

    def __init__(
        self,
        clients: Mapping[str, Client],
        output: str | Path,
        *,
        wait: float = 5.0,
        retry_after: int = 30,
        staging: StagingOptions | None = None,
        max_stagings: int = 16,
    ) -> None:
        """Args:
        clients: backend name -> client; the first is searched when a search names no
            collection.
        output: where downloads go (one folder per backend).
        wait: seconds a download request waits for its product before answering 202.
        retry_after: seconds a 202 tells the client to wait.
        staging: how products are staged (default: ``StagingOptions(quiet=True)``).
        max_stagings: products staged at once; a download asking for one more is answered
            503 with ``Retry-After`` (each staging is a thread and a downloader run).
        """
        if not clients:
            raise InvalidQueryError("serve: give at least one backend")
        self.clients = dict(clients)
        self.output = Path(output)
        self.wait = wait
        self.retry_after = retry_after
        self.max_stagings = max_stagings
        self.staging = staging or StagingOptions(quiet=True)
        self._collections: dict[str, tuple[str, dict[str, Any]]] | None = None
        self._jobs: dict[tuple[str, str], _Job] = {}
        self._lock = threading.Lock()
        #: Signs paging tokens (new at each start: tokens do not outlive the server).
        self._key = secrets.token_bytes(32)
        self.router = Router()
        r = self.router
        for method in ("GET", "POST"):
            r.add(method, "/search", self.search)
        r.add("GET", "/?", self.landing)
        r.add("GET", "/conformance", self.conformance)
        r.add("GET", "/queryables", self.queryables)
        r.add("GET", "/collections", self.collections)
        r.add("GET", "/collections/(?P<cid>[^/]+)", self.collection)
        r.add("GET", "/collections/(?P<cid>[^/]+)/queryables", self.queryables)
        r.add("GET", "/collections/(?P<cid>[^/]+)/items", self.items)
        r.add("GET", "/collections/(?P<cid>[^/]+)/items/(?P<iid>[^/]+)", self.item)
        r.add("GET", "/collections/(?P<cid>[^/]+)/items/(?P<iid>[^/]+)/download", self.download)
        self.httpd: SandboxHTTPServer | None = None

    # -- running ---------------------------------------------------------------------------
    def start(self, host: str = "127.0.0.1", port: int = 0) -> StacServer:
        self.httpd = SandboxHTTPServer((host, port), _Guarded(self.router))
        self.httpd.max_body, self.httpd.idle_timeout = MAX_BODY, IDLE_TIMEOUT
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        assert self.httpd is not None, "start() first"
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def stop(self) -> None:
        """Stop answering, and stop the stagings at their next chunk (a later start resumes
        them from the output folder)."""
        with self._lock:
            for job in self._jobs.values():
                if job.downloader is not None:
                    job.downloader.cancel.set()
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()

    def __enter__(self) -> StacServer:
        return self.start() if self.httpd is None else self

    def __exit__(self, *_: object) -> None:
        self.stop()

    # -- collections -----------------------------------------------------------------------
    @property
    def catalog(self) -> dict[str, tuple[str, dict[str, Any]]]:
        """Collection id -> (backend name, document), read from the servers once."""
        with self._lock:
            if self._collections is None:
                found: dict[str, tuple[str, dict[str, Any]]] = {}
                for name, client in self.clients.items():
                    for document in searchable_collections(client.backend):
                        found.setdefault(str(document["id"]), (name, document))
                self._collections = found
            return self._collections

    def _owner(self, cid: str) -> tuple[str, dict[str, Any]]:
        if cid not in self.catalog:
            raise _NotFound(f"no collection {cid!r}; see /collections")
        return self.catalog[cid]

    def _collection_doc(self, cid: str, base: str) -> dict[str, Any]:
        name, document = self._owner(cid)
        doc = {k: v for k, v in document.items() if k != "links"}
        doc["links"] = [
            _link("self", f"{base}/collections/{cid}", _JSON),
            _link("root", f"{base}/", _JSON),
            _link("parent", f"{base}/", _JSON),
            _link("items", f"{base}/collections/{cid}/items", _GEOJSON),
            _link("http://www.opengis.net/def/rel/ogc/1.0/queryables",
                  f"{base}/collections/{cid}/queryables", "application/schema+json"),
        ]  # fmt: skip
        doc.setdefault("stac_version", "1.0.0")
        doc["peps_plus:backend"] = name
        return doc

    def landing(self, request: Request) -> Response:
        base = request.base_url
        if _wants_html(request):
            return Response.text(_landing_html(self, base), content_type="text/html")
        links = [
            _link("self", f"{base}/", _JSON),
            _link("root", f"{base}/", _JSON),
            _link("conformance", f"{base}/conformance", _JSON),
            _link("data", f"{base}/collections", _JSON),
            {**_link("search", f"{base}/search", _GEOJSON), "method": "GET"},
            {**_link("search", f"{base}/search", _GEOJSON), "method": "POST"},
            _link("http://www.opengis.net/def/rel/ogc/1.0/queryables",
                  f"{base}/queryables", "application/schema+json"),
            *(_link("child", f"{base}/collections/{cid}", _JSON) for cid in self.catalog),
        ]  # fmt: skip
        return Response.json(
            {
                "type": "Catalog",
                "stac_version": "1.0.0",
                "id": "peps-plus",
                "title": "PEPS and GEODES (eodag-peps-plus)",
                "description": "PEPS and GEODES searched through one vocabulary; downloads "
                "staged from tape by this server",
                "conformsTo": self._conformance(),
                "links": links,
            }
        )

    def _conformance(self) -> list[str]:
        classes: set[str] = set()
        for client in self.clients.values():
            classes.update(client.get_conforms_to())
        classes.add("http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core")
        classes.add("http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson")
        classes.add("https://api.stacspec.org/v1.0.0/ogcapi-features")
        return sorted(classes)

    def conformance(self, request: Request) -> Response:
        return Response.json({"conformsTo": self._conformance()})

    def collections(self, request: Request) -> Response:
        base = request.base_url
        docs = [self._collection_doc(cid, base) for cid in self.catalog]
        return Response.json(
            {"collections": docs, "links": [_link("self", f"{base}/collections", _JSON)],
             "numberMatched": len(docs), "numberReturned": len(docs)}
        )  # fmt: skip

    def collection(self, request: Request) -> Response:
        return Response.json(self._collection_doc(request.params["cid"], request.base_url))

    def queryables(self, request: Request) -> Response:
        cid = request.params.get("cid")
        name = self._owner(cid)[0] if cid else next(iter(self.clients))
        fields = queryables(self.clients[name].backend, cid)
        return Response.json(
            {
                "$schema": "https://json-schema.org/draft/2019-09/schema",
                "$id": f"{request.base_url}{request.path}",
                "type": "object",
                "title": f"Queryables of {cid or name}",
                "properties": {q.name: q.json_schema() for q in fields},
                "additionalProperties": False,
            },
            headers={"Content-Type": "application/schema+json"},
        )

    # -- search ----------------------------------------------------------------------------
    def search(self, request: Request) -> Response:
        params = _params(request)
        return self._page(request, params)

    def items(self, request: Request) -> Response:
        params = _params(request)
        params["collections"] = [request.params["cid"]]
        return self._page(request, params)

    def item(self, request: Request) -> Response:
        cid, iid = request.params["cid"], request.params["iid"]
        name, _ = self._owner(cid)
        search = self.clients[name].search(collections=[cid], ids=[iid], max_items=1)
        for product in search.products():
            return Response.json(self._item(search, product, cid, request.base_url),
                                 headers={"Content-Type": _GEOJSON})  # fmt: skip
        raise _NotFound(f"no item {iid!r} in {cid}")

    def _item(self, search: ItemSearch, product: Product, cid: str, base: str) -> dict[str, Any]:
        data = search.item_dict(product)
        cid = str(data.get("collection") or cid)
        cid = cid if cid in self.catalog else (search_collection(search) or cid)
        data["collection"] = cid
        url = f"{base}/collections/{cid}/items/{data['id']}"
        data["links"] = [
            _link("self", url, _GEOJSON),
            _link("collection", f"{base}/collections/{cid}", _JSON),
            _link("parent", f"{base}/collections/{cid}", _JSON),
            _link("root", f"{base}/", _JSON),
        ]
        archive = (data.get("assets") or {}).get("archive")
        if isinstance(archive, dict):
            archive["href"] = f"{url}/download"
        return data

    def _page(self, request: Request, params: dict[str, Any]) -> Response:
        token = params.pop("token", None)
        limit = _limit(params.pop("limit", None))
        wanted = params.get("collections") or []
        wanted = [wanted] if isinstance(wanted, str) else list(wanted)
        owners = {self._owner(str(c))[0] for c in wanted} or {next(iter(self.clients))}
        if len(owners) > 1:
            raise InvalidQueryError(
                f"collections of several servers ({', '.join(sorted(owners))}) in one search; "
                "search each server's collections separately"
            )
        name = owners.pop()
        search = self.clients[name].search(**params)
        index, server_token = _read_token(self._key, token, len(search.queries))
        page = search.backend.search_page(search.queries[index], limit=limit, token=server_token)
        base = request.base_url
        features = [
            self._item(search, p, str(wanted[0]) if len(wanted) == 1 else "", base)
            for p in page.products
        ]
        following: tuple[int, str | None] | None = None
        if page.next_token and page.products:
            following = (index, page.next_token)
        elif index + 1 < len(search.queries):
            following = (index + 1, None)
        links = [_link("root", f"{base}/", _JSON)]
        if following is not None:
            links.append(_next_link(request, params, limit, _write_token(self._key, *following)))
        body: dict[str, Any] = {
            "type": "FeatureCollection",
            "features": features,
            "links": links,
            "numberReturned": len(features),
        }
        if len(search.queries) == 1 and page.matched is not None:
            body["numberMatched"] = page.matched
        if _wants_html(request):
            return Response.text(_results_html(body), content_type="text/html")
        return Response.json(body, headers={"Content-Type": _GEOJSON})

    # -- downloads -------------------------------------------------------------------------
    def download(self, request: Request) -> Response:
        """The product's archive once on disk; ``202`` while it is restored or fetched."""
        cid, iid = request.params["cid"], request.params["iid"]
        name, _ = self._owner(cid)
        key = (name, iid)
        with self._lock:
            job = self._jobs.get(key)
            if job is None or (job.done.is_set() and not job.ok):
                running = sum(1 for j in self._jobs.values() if not j.done.is_set())
                if running >= self.max_stagings:
                    return _error(
                        503, f"{running} products are being staged; ask again later",
                        {"Retry-After": str(self.retry_after)},
                    )  # fmt: skip
                job = self._jobs[key] = _Job(self, name, cid, iid)
                job.start()
        job.done.wait(self.wait)
        if job.done.is_set() and job.ok and job.path is not None:
            return _file(job.path)
        if job.done.is_set():
            return _error(job.http_status, f"{iid}: {job.reason}")
        return Response.json(
            {"id": iid, "status": job.status, "description": "staging started: ask again later"},
            status=202,
            headers={"Retry-After": str(self.retry_after)},
        )


class _Job(threading.Thread):
    """One product brought to the server's folder by the staging downloader."""

    def __init__(self, server: StacServer, name: str, cid: str, iid: str) -> None:
        super().__init__(daemon=True, name=f"stage-{iid[:40]}")
        self.server, self.name_, self.cid, self.iid = server, name, cid, iid
        self.done = threading.Event()
        self.ok = False
        self.path: Path | None = None
        self.status, self.reason = "staging", ""
        #: What a failed staging answers: the archive's refusal (410 Gone) is passed on.
        self.http_status = 502
        self.downloader: Any = None

    def run(self) -> None:
        from .staging import Downloader

        try:
            client = self.server.clients[self.name_]
            found = list(client.search(collections=[self.cid], ids=[self.iid], max_items=1).products())  # fmt: skip
            if not found:
                self.reason, self.http_status = "no such product", 404
                return
            folder = self.server.output / self.name_
            self.downloader = Downloader(client.backend, folder, self.server.staging)
            report = self.downloader.download(found)
            self.ok = report.ok and bool(report.paths)
            self.path = Path(report.paths[0]) if self.ok else None
            self.reason = "; ".join(f"{p.status.value}: {p.reason}" for p in report.products)
            status = report.products[0].status.value if report.products else "failed"
            self.http_status = _STATUS_REPLIES.get(status, 502)
        except PepsPlusError as exc:
            self.reason = str(exc)
        except Exception as exc:  # a thread must report, never die silently
            logger.exception("staging %s failed", self.iid)
            self.reason = f"internal error ({type(exc).__name__})"
        finally:
            self.done.set()


#: A staging's end (its report's status) -> this server's answer.
_STATUS_REPLIES = {"refused": 410, "unavailable": 503, "failed": 502}


class _NotFound(PepsPlusError):
    pass


class _Guarded(Router):
    """The routes, with every failure answered as a STAC API error (one line)."""

    def __init__(self, inner: Router) -> None:
        super().__init__()
        self.routes = [(m, rx, _guard(h)) for m, rx, h in inner.routes]


def _guard(handler: Any) -> Any:
    def guarded(request: Request) -> Response:
        try:
            response: Response = handler(request)
            return response
        except _NotFound as exc:
            return _error(404, str(exc))
        except InvalidQueryError as exc:
            return _error(400, str(exc))
        except NotImplementedError as exc:
            return _error(400, str(exc))
        except PepsPlusError as exc:
            return _error(502, str(exc))

    return guarded


def _error(status: int, text: str, headers: dict[str, str] | None = None) -> Response:
    code = {400: "BadRequest", 404: "NotFound", 410: "Gone", 503: "ServiceUnavailable"}.get(
        status, "BadGateway"
    )
    return Response.json({"code": code, "description": text}, status, headers)


def _link(rel: str, href: str, media: str) -> dict[str, str]:
    return {"rel": rel, "href": href, "type": media}


def search_collection(search: ItemSearch) -> str | None:
    collections = {q.collection for q in search.queries}
    return collections.pop() if len(collections) == 1 else None


def _wants_html(request: Request) -> bool:
    if request.query.get("f"):
        return request.query["f"] == "html"
    accept = request.headers.get("Accept", "")
    return request.method == "GET" and accept.startswith("text/html")


def _params(request: Request) -> dict[str, Any]:
    """Search parameters from a POST body or a GET query string, in ``Client.search``'s names."""
    if request.method == "POST":
        body = request.json()
        if not isinstance(body, dict):
            raise InvalidQueryError("search: the body is not a JSON object")
        params = dict(body)
    else:
        params = {k: v for k, v in request.query.items() if k != "f"}
        for key in _LISTS:
            if isinstance(params.get(key), str):
                params[key] = [v for v in params[key].split(",") if v]
        if isinstance(params.get("bbox"), str):
            params["bbox"] = params["bbox"].split(",")
        for key in ("intersects", "query"):
            if isinstance(params.get(key), str):
                params[key] = _json(key, params[key])
        if params.get("filter-lang") == "cql2-json" and isinstance(params.get("filter"), str):
            params["filter"] = _json("filter", params["filter"])
    if "filter-lang" in params:
        params["filter_lang"] = params.pop("filter-lang")
    return params


def _json(key: str, text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        raise InvalidQueryError(f"{key}: not JSON") from None


def _limit(value: Any) -> int:
    if value is None:
        return DEFAULT_LIMIT
    try:
        limit = int(value)
    except (TypeError, ValueError):
        raise InvalidQueryError(f"limit: {value!r} is not a whole number") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidQueryError(f"limit: {limit} is outside [1, {MAX_LIMIT}]")
    return limit


def _write_token(key: bytes, index: int, token: str | None) -> str:
    """A paging token for clients: the backend's own token (which may hold server URLs)
    signed, so a client cannot make this server fetch a URL of its choosing."""
    raw = json.dumps([index, token]).encode()
    mac = hmac.new(key, raw, hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(mac + raw).decode().rstrip("=")


def _read_token(key: bytes, token: Any, queries: int) -> tuple[int, str | None]:
    if token in (None, ""):
        return 0, None
    try:
        data = base64.urlsafe_b64decode(str(token) + "=" * (-len(str(token)) % 4))
        mac, raw = data[:16], data[16:]
        if not hmac.compare_digest(mac, hmac.new(key, raw, hashlib.sha256).digest()[:16]):
            raise ValueError
        index, inner = json.loads(raw)
        if not isinstance(index, int) or not 0 <= index < queries:
            raise ValueError
        if inner is not None and not isinstance(inner, str):
            raise ValueError
    except (ValueError, TypeError):
        raise InvalidQueryError("token: not a token of this server's search") from None
    return index, inner


def _next_link(request: Request, params: dict[str, Any], limit: int, token: str) -> dict[str, Any]:
    href = f"{request.base_url}{request.path}"
    if request.method == "POST":
        return {**_link("next", href, _GEOJSON), "method": "POST", "merge": True,
                "body": {"token": token, "limit": limit}}  # fmt: skip
    query = {k: v for k, v in request.query.items() if k not in ("token", "limit")}
    query.update(token=token, limit=str(limit))
    return _link("next", f"{href}?{urlencode(query)}", _GEOJSON)


def _file(path: Path) -> Response:
    size = path.stat().st_size

    def chunks() -> Iterator[bytes]:
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                yield chunk

    headers = {
        "Content-Type": "application/zip",
        "Content-Disposition": f'attachment; filename="{path.name}"',
    }
    return Response(200, chunks(), headers, length=size)


def _landing_html(server: StacServer, base: str) -> str:
    base = html.escape(base)  # from the request's Host header
    rows = "".join(
        f"<li><a href='{base}/collections/{html.escape(cid)}/items?f=html'>"
        f"{html.escape(cid)}</a> ({html.escape(name)}): "
        f"{html.escape(str(doc.get('title') or ''))}</li>"
        for cid, (name, doc) in server.catalog.items()
    )
    options = "".join(f"<option>{html.escape(c)}</option>" for c in server.catalog)
    return (
        "<!doctype html><html><head><meta charset='utf-8'><link rel='icon' href='data:,'><title>PEPS and GEODES STAC API"
        "</title></head><body><h1>PEPS and GEODES STAC API</h1>"
        f"<p>STAC clients: open <code>{base}/</code>. JSON: <a href='{base}/?f=json'>landing"
        f"</a>, <a href='{base}/collections'>collections</a>, <a href='{base}/conformance'>"
        "conformance</a>.</p>"
        f"<h2>Collections</h2><ul id='collections'>{rows}</ul>"
        f"<h2>Search</h2><form id='search' action='{base}/search' method='get'>"
        "<input type='hidden' name='f' value='html'>"
        f"<select name='collections'>{options}</select> "
        "<input name='bbox' placeholder='lonmin,latmin,lonmax,latmax'> "
        "<input name='datetime' placeholder='2020-01-01/2020-03-31'> "
        "<input name='limit' value='10' size='4'> <button type='submit'>Search</button>"
        "</form></body></html>"
    )


def _results_html(body: dict[str, Any]) -> str:
    rows = "".join(
        "<tr><td>{}</td><td>{}</td><td>{}</td><td><a href='{}'>download</a></td></tr>".format(
            html.escape(str(f["id"])),
            html.escape(str(f["properties"].get("start_datetime", ""))[:19]),
            html.escape(str(f["properties"].get("order:status", ""))),
            html.escape(str(((f.get("assets") or {}).get("archive") or {}).get("href", ""))),
        )
        for f in body["features"]
    )
    following = next((link["href"] for link in body["links"] if link["rel"] == "next"), None)
    more = f"<p><a id='next' href='{html.escape(following)}'>next page</a></p>" if following else ""
    matched = body.get("numberMatched")
    return (
        "<!doctype html><html><head><meta charset='utf-8'><link rel='icon' href='data:,'><title>Search results</title>"
        f"</head><body><h1>{body['numberReturned']} item(s)"
        f"{f' of {matched}' if matched is not None else ''}</h1>"
        "<table id='results'><tr><th>id</th><th>start</th><th>order:status</th><th></th></tr>"
        f"{rows}</table>{more}</body></html>"
    )
