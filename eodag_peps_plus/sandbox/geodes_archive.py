"""GEODES's archive side: ``fastavailability``, per-product availability, ``X-API-Key``
downloads (quota, bad-key replies) and quicklooks, over the shared tape library."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from .app import Request, Response
from .catalogue import Entry
from .geodes_items import geodes_collection, urn
from .tape import ONLINE_MODES

if TYPE_CHECKING:
    from .server import Sandbox

__all__ = ["DOWNLOAD_ROUTE", "GeodesArchive", "error"]

DOWNLOAD_ROUTE = (
    r"/api/download/(?P<urn>URN:FEATURE:DATA:gdh:[0-9a-f-]{36}:V\d+)/files/(?P<md5>[0-9a-f]{32})"
)


def error(status: int, message: str) -> Response:
    """GEODES's error body."""
    return Response.json({"code": status, "message": message}, status)


class GeodesArchive:
    """Archive routes; :class:`~.geodes.GeodesService` mixes them in (one switchboard for
    tests: ``sandbox.services["geodes"].quota_exhausted = True``)."""

    sandbox: Sandbox
    #: 429 on every download while set (quota exhausted).
    quota_exhausted: bool = False
    #: ``Retry-After`` of those 429 replies (``None``: no header).
    retry_after: str | None = "1"
    #: How a wrong key is answered: ``403``, ``401`` or ``redirect`` (a loop).
    bad_key_reply: str = "403"

    def entry_for(self, item_id: str) -> Entry | None:  # pragma: no cover - the service's
        raise NotImplementedError

    def add_archive_routes(self) -> None:
        r = self.sandbox.router
        r.add("POST", r"/fastavailability", self.fastavailability)
        r.add("GET", r"/availability/(?P<name>[^/]+)", self.availability)
        r.add("GET", DOWNLOAD_ROUTE, self.download)
        r.add("HEAD", DOWNLOAD_ROUTE, self.download)
        r.add("GET", r"/api/quicklook/(?P<urn>[^/]+)/files/(?P<md5>[0-9a-f]{32})", self.quicklook)

    def _online(self, entry: Entry) -> bool:
        return self.sandbox.tape.mode(entry.uuid) in ONLINE_MODES

    def fastavailability(self, request: Request) -> Response:
        self.sandbox.count("geodes.fastavailability")
        try:
            body = request.json()
            wanted = body["availability"]
            hrefs = [str(item["href"]) for item in wanted]
        except (ValueError, KeyError, TypeError):
            return error(400, 'Expected {"availability": [{"href": ..., "endpointURL": ...}]}')
        products: dict[str, dict[str, Any]] = {}
        for href in hrefs:
            match = re.search(DOWNLOAD_ROUTE + "$", href)
            entry = self.entry_for(match.group("urn")) if match else None
            if entry is None or match is None or match.group("md5") != entry.md5:
                continue
            record = products.setdefault(urn(entry), {"id": urn(entry), "files": []})
            record["files"].append({"checksum": entry.md5, "available": self._online(entry)})
        return Response.json({"products": list(products.values())})

    def availability(self, request: Request) -> Response:
        entry = self.sandbox.catalogue.by_name.get(request.params["name"])
        if entry is None or geodes_collection(entry) is None:
            return error(404, f"Product {request.params['name']} not found")
        return Response.json(
            {
                "id": urn(entry),
                "name": entry.name,
                "files": [{"checksum": entry.md5, "available": self._online(entry)}],
            }
        )

    def download(self, request: Request) -> Response:
        self.sandbox.count("geodes.download")
        if self.quota_exhausted:
            headers = {"Retry-After": self.retry_after} if self.retry_after else {}
            return Response.json({"code": 429, "message": "Download quota exceeded"}, 429, headers)
        key = request.headers.get("X-API-Key")
        if not key:
            return error(401, "Missing API key: send it in the X-API-Key header")
        if not self.sandbox.check_api_key(key):
            if self.bad_key_reply == "redirect":
                return Response(302, b"", {"Location": f"{request.base_url}{request.path}"})
            status = 401 if self.bad_key_reply == "401" else 403
            return error(status, "Invalid API key")
        entry = self.entry_for(request.params["urn"])
        if entry is None or request.params["md5"] != entry.md5:
            return error(404, "File not found")
        return self.sandbox.serve_archive(entry, request)

    def quicklook(self, request: Request) -> Response:
        return Response(
            200, b"\xff\xd8\xff\xe0\x00\x10JFIF\x00sandbox\xff\xd9", {"Content-Type": "image/jpeg"}
        )
