"""A static loopback server of search pages shaped like the recorded PEPS and GEODES replies.

Every feature is a copy of a real recorded one (``tests/fixtures``: every field the servers
send, keywords, links, assets and all) under its own identifiers, so a search reads the JSON
a real server sends. Pages are encoded once and served as bytes from a child process: the
server costs next to nothing and the figures are the client's.

* PEPS: ``GET .../search.json?maxRecords=M&page=P`` with resto's ``properties.totalResults``
  and ``rel=next`` links;
* GEODES: ``POST /api/stac/search`` (``limit``, ``page`` in the body), its ``GET`` next link
  ``/api/stac/collections/{id}/items?limit=L&page=P``, and ``POST /fastavailability`` (what
  EODAG's built-in ``geodes`` provider asks once per page).
"""

from __future__ import annotations

import contextlib
import copy
import json
import re
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"
PEPS_NAME = re.compile(r"^(S2[AB]_MSIL1C_)(\d{8}T\d{6})(_N\d{4}_R\d{3}_T)(\w{5})(_\d{8}T\d{6})$")


def peps_features(count: int) -> list[dict[str, Any]]:
    """``count`` copies of the recorded PEPS S2ST features, each with its own names."""
    recorded = json.loads((FIXTURES / "peps_search_S2ST_page1.json").read_text())["features"]
    features = []
    for index in range(count):
        feature = copy.deepcopy(recorded[index % len(recorded)])
        props = feature["properties"]
        name = _renamed(props["title"], index)
        native = str(uuid.uuid5(uuid.NAMESPACE_URL, f"peps/{index}"))
        feature["id"] = native
        props["title"] = props["productIdentifier"] = name
        download = props["services"]["download"]
        download["url"] = re.sub(r"/[0-9a-f-]{36}/", f"/{native}/", download["url"])
        download["checksum"] = props["resourceChecksum"] = _md5(index).upper()
        props["storage"]["mode"] = "disk" if index % 2 else "tape"
        features.append(feature)
    return features


def geodes_features(count: int) -> list[dict[str, Any]]:
    """``count`` copies of the recorded GEODES S2 L1C item, each with its own names."""
    recorded = json.loads((FIXTURES / "geodes_search_S2_L1C.json").read_text())["features"][0]
    text = json.dumps(recorded)
    old_urn, old_name = recorded["id"], recorded["properties"]["identifier"]
    old_md5 = "86f828c4c7e921615d1cd0476604f780"
    features = []
    for index in range(count):
        urn = f"URN:FEATURE:DATA:gdh:{uuid.uuid5(uuid.NAMESPACE_URL, f'geodes/{index}')}:V1"
        online = "true" if index % 2 else "false"
        features.append(
            json.loads(
                text.replace(old_urn, urn)
                .replace(old_name, _renamed(old_name, index))
                .replace(old_md5, _md5(index))
                .replace("Is online: false", f"Is online: {online}")
            )
        )
    return features


def _renamed(name: str, index: int) -> str:
    """A recorded product name with a datatake time of its own (still a valid name)."""
    match = PEPS_NAME.match(name)
    assert match, name
    day, clock = divmod(index, 86_400)
    hours, rest = divmod(clock, 3600)
    stamp = f"{match[2][:6]}{1 + day % 28:02d}T{hours:02d}{rest // 60:02d}{rest % 60:02d}"
    return f"{match[1]}{stamp}{match[3]}{match[4]}{match[5]}"


def _md5(index: int) -> str:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"md5/{index}").hex


class _Pages:
    """The encoded pages, made once per page size on first request."""

    def __init__(self, url: str, peps: list[dict[str, Any]], geodes: list[dict[str, Any]]):
        self.url, self.peps, self.geodes = url, peps, geodes
        #: GEODES URN -> online, as the data asset's description says.
        self.online = {
            item["id"]: any(
                "data" in asset["roles"] and "Is online: true" in asset["description"]
                for asset in item["assets"].values()
            )
            for item in geodes
        }
        self.cache: dict[tuple[str, int, int], bytes] = {}
        self.lock = threading.Lock()

    def peps_page(self, path: str, size: int, page: int) -> bytes:
        key = ("peps", size, page)
        with self.lock:
            if key not in self.cache:
                chunk = self.peps[(page - 1) * size : page * size]
                links = [{"rel": "self", "type": "application/json", "title": "self",
                          "href": f"{self.url}{path}?maxRecords={size}&page={page}"}]  # fmt: skip
                if page * size < len(self.peps):
                    links.append({"rel": "next", "type": "application/json", "title": "next",
                                  "href": f"{self.url}{path}?maxRecords={size}&page={page + 1}"})  # fmt: skip
                body = {
                    "type": "FeatureCollection",
                    "properties": {
                        "title": "",
                        "id": str(uuid.uuid4()),
                        "totalResults": len(self.peps),
                        "exactCount": True,
                        "startIndex": (page - 1) * size + 1,
                        "itemsPerPage": len(chunk),
                        "totalItemsPerPage": str(len(chunk)),
                        "links": links,
                    },  # fmt: skip
                    "features": chunk,
                }
                self.cache[key] = json.dumps(body).encode()
            return self.cache[key]

    def geodes_page(self, size: int, page: int) -> bytes:
        key = ("geodes", size, page)
        with self.lock:
            if key not in self.cache:
                chunk = self.geodes[(page - 1) * size : page * size]
                base = f"{self.url}/api/stac/collections/PEPS_S2_L1C/items?limit={size}"
                links = [{"href": f"{base}&page={page}", "rel": "self",
                          "type": "application/json", "title": "this search page"}]  # fmt: skip
                if page * size < len(self.geodes):
                    links.append({"href": f"{base}&page={page + 1}", "rel": "next",
                                  "type": "application/json", "title": "next search page"})  # fmt: skip
                body = {
                    "stac_version": "1.0.0-beta.1", "stac_extensions": [],
                    "type": "FeatureCollection", "features": chunk, "links": links,
                    "context": {"returned": len(chunk), "limit": size,
                                "matched": len(self.geodes)},
                }  # fmt: skip
                self.cache[key] = json.dumps(body).encode()
            return self.cache[key]


def _handler(pages: _Pages) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, body: bytes, status: int = 200) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            if parts.path.endswith("/search.json"):
                size = int(query.get("maxRecords", 500))
                self._send(pages.peps_page(parts.path, size, int(query.get("page", 1))))
            elif "/api/stac/collections/" in parts.path and parts.path.endswith("/items"):
                self._send(pages.geodes_page(int(query.get("limit", 80)), int(query["page"])))
            elif parts.path == "/api/stac/collections":
                self._send(json.dumps({"collections": [], "links": []}).encode())
            else:
                self._send(b'{"detail": "not found"}', 404)

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            if self.path.startswith("/api/stac/search"):
                self._send(pages.geodes_page(int(body.get("limit", 80)), int(body.get("page", 1))))
            elif self.path.startswith("/fastavailability"):
                products = []
                for wanted in body["availability"]:
                    urn, md5 = wanted["href"].split("/api/download/")[1].split("/files/")
                    online = pages.online.get(urn, False)
                    products.append({"id": urn, "files": [{"checksum": md5, "available": online}]})
                self._send(json.dumps({"products": products}).encode())
            else:
                self._send(b'{"detail": "not found"}', 404)

    return Handler


def _serve(count: int) -> None:
    """The child: listen, print the URL, serve until stdin closes (the parent went)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    server.RequestHandlerClass = _handler(_Pages(url, peps_features(count), geodes_features(count)))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(url, flush=True)
    sys.stdin.read()
    server.shutdown()


@contextlib.contextmanager
def static_server(count: int) -> Iterator[str]:
    """Serve ``count`` PEPS and ``count`` GEODES products from a child process; its URL."""
    process = subprocess.Popen(
        [sys.executable, __file__, str(count)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdin and process.stdout
    try:
        url = process.stdout.readline().strip()
        if not url.startswith("http://"):
            raise RuntimeError("the static server did not start")
        yield url
    finally:
        process.stdin.close()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


if __name__ == "__main__":
    _serve(int(sys.argv[1]))
