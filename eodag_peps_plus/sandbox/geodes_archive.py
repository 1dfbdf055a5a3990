"""GEODES's archive side: ``fastavailability``, per-product availability, ``X-API-Key``
downloads (quota, bad-key replies) and quicklooks, over the shared tape library.

By default it answers as users reported the real one does (``SandboxConfig.geodes_archive
= "evidence"``): a download of a product on Tier3 (tape) is **410 Gone** and restores
nothing, since GEODES's API has no restore call; ``fastavailability`` says ``false`` for it.
``"restore-on-download"`` is the assumption the sandbox used to make (a download starts a
restore and answers like PEPS did), kept as a named option.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from .app import Request, Response
from .catalogue import Entry
from .geodes_items import geodes_collection, urn
from .tape import OFFLINE_MODES, ONLINE_MODES

if TYPE_CHECKING:
    from .server import Sandbox

__all__ = ["DOWNLOAD_ROUTE", "GeodesArchive", "error"]

DOWNLOAD_ROUTE = (
    r"/api/download/(?P<urn>URN:FEATURE:DATA:gdh:[0-9a-f-]{36}:V\d+)/files/(?P<md5>[0-9a-f]{32})"
)


def error(status: int, message: str) -> Response:
    """GEODES's error body (the shape is assumed: the reports quote statuses, not bodies)."""
    return Response.json({"code": status, "message": message}, status)


def alternate_base(base_url: str) -> str:
    """The other host name CNES serves the same downloads from: ``gdh-portal-prod`` for
    ``geodes-portal`` (pyGeodes ``correct_download_tld``); on loopback, where there are no
    such names, ``localhost`` for ``127.0.0.1`` and back (the same socket, another name)."""
    scheme, _, rest = base_url.partition("://")
    host, colon, port = rest.partition(":")
    if host.startswith("geodes-portal."):
        host = "gdh-portal-prod." + host.removeprefix("geodes-portal.")
    elif host.startswith("gdh-portal-prod."):
        host = "geodes-portal." + host.removeprefix("gdh-portal-prod.")
    elif host == "127.0.0.1":
        host = "localhost"
    elif host == "localhost":
        host = "127.0.0.1"
    return f"{scheme}://{host}{colon}{port}"


class GeodesArchive:
    """Archive routes; :class:`~.geodes.GeodesService` mixes them in (one switchboard for
    tests: ``sandbox.services["geodes"].quota_exhausted = True``)."""

    sandbox: Sandbox
    #: 429 on every download while set (quota exhausted).
    quota_exhausted: bool = False
    #: ``Retry-After`` of those 429 replies (``None``: no header).
    retry_after: str | None = "60"
    #: How a wrong key is answered: ``redirect`` (a loop), ``403`` or ``401``.
    bad_key_reply: str = "redirect"
    #: ``evidence`` (410 Gone for Tier3) or ``restore-on-download`` (an assumption).
    archive_profile: str = "evidence"

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
        if self.archive_profile == "evidence":
            mode = self.sandbox.tape.mode(entry.uuid)
            if mode in OFFLINE_MODES or mode == "unknown":
                self.sandbox.count("geodes.gone")
                return error(
                    410,
                    f"File {entry.name}.zip is stored on Tier3 and cannot be downloaded",
                )
            # A product somebody else is restoring (``staging``) is not Tier3: it is served
            # once online, and meanwhile answers like any file that is not there yet.
        return self.sandbox.serve_archive(entry, request)

    def quicklook(self, request: Request) -> Response:
        return Response(
            200, b"\xff\xd8\xff\xe0\x00\x10JFIF\x00sandbox\xff\xd9", {"Content-Type": "image/jpeg"}
        )
