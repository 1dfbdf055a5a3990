"""The sandbox: one loopback HTTP server emulating PEPS (and, as they are added, GEODES and the
processing services) over a shared synthetic catalogue and tape library.
"""

from __future__ import annotations

import collections
import dataclasses
import re
import threading
from collections.abc import Iterable
from types import TracebackType
from typing import Any

from ..logs import get_logger
from ..product import TYPICAL_RESTORE_SECONDS
from .app import Request, Response, Router, SandboxHTTPServer, TokenBucket
from .catalogue import Catalogue, Entry
from .faults import Fault, FaultPlan
from .tape import DISTRIBUTIONS, ONLINE_MODES, TapeLibrary

__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_PASSWORD",
    "DEFAULT_USER",
    "OFFLINE_REPLIES",
    "Sandbox",
    "SandboxConfig",
]

logger = get_logger(__name__)

#: Demo account; the sandbox is local, so these are not secrets.
DEFAULT_USER = "user@example.com"
DEFAULT_PASSWORD = "sandbox-password"  # noqa: S105 - public sandbox credential
DEFAULT_API_KEY = "sandbox-api-key"
OFFLINE_REPLIES = ("202-json", "200-json", "404", "503", "200-empty")
#: How GEODES answers a download of a product that is not online. ``evidence`` (the default)
#: is what users reported: HTTP 410 Gone for Tier3 (tape), and no restore ever (CS-SI/eodag
#: #1776; no order call in the API, EODAG PR #2154). ``restore-on-download`` is an
#: assumption kept as a named option: the download starts a restore and answers like PEPS.
GEODES_ARCHIVES = ("evidence", "restore-on-download")
#: Archive replies :attr:`Sandbox.served` remembers.
SERVED_LOG = 100_000
#: How GEODES answers a wrong or expired API key: a redirect loop (reported: pyGeodes
#: troubleshooting, "Exceeded 30 redirects"), or a plain 401/403.
BAD_KEY_REPLIES = ("redirect", "401", "403")


@dataclasses.dataclass
class SandboxConfig:
    """Knobs of the emulation. Durations are nominal seconds multiplied by ``time_scale``."""

    time_scale: float = 1.0
    restore_latency: tuple[float, float] = TYPICAL_RESTORE_SECONDS
    max_concurrent_restores: int | None = None
    #: Products whose storage is ``unknown`` are restored like taped ones. ``False`` is a
    #: fault to switch on: they never come online (some never did on the real PEPS).
    unknown_restores: bool = True
    per_connection_bps: float | None = None
    total_bps: float | None = None
    #: How a download of a product that is not online is answered (undocumented on PEPS).
    offline_reply: str = "202-json"
    #: How wrong PEPS credentials are answered: ``401`` or ``200-json``.
    bad_auth_reply: str = "401"
    users: dict[str, str] = dataclasses.field(
        default_factory=lambda: {DEFAULT_USER: DEFAULT_PASSWORD}
    )
    api_keys: set[str] = dataclasses.field(default_factory=lambda: {DEFAULT_API_KEY})
    seed: int = 0
    #: Shape of the restore latency draw within ``restore_latency`` (see ``tape.draw_latency``):
    #: ``uniform``, ``exponential``, ``lognormal``, ``fixed``.
    latency_distribution: str = "uniform"
    #: Product names whose restore, once asked, never finishes (they stay ``staging``).
    never_finish: frozenset[str] = frozenset()
    #: Seconds (not scaled) before the "not online yet" reply: a busy front end.
    offline_reply_delay: float = 0.0
    #: Send ``ETag`` (and honour ``If-Range``); off emulates a server without validators.
    send_etag: bool = True
    #: Faults armed when the sandbox starts (tests usually arm them later: ``sb.faults.add``).
    faults: tuple[Fault, ...] = ()
    #: Searches of Sentinel-1 see this many synthetic GRD products made page by page, for
    #: million-product searches (see :mod:`.synthetic`); 0, the default, serves the catalogue.
    synthetic_products: int = 0
    #: GEODES's answer to a download of an offline product: see :data:`GEODES_ARCHIVES`.
    geodes_archive: str = "evidence"
    #: GEODES's answer to a wrong API key: see :data:`BAD_KEY_REPLIES`.
    geodes_bad_key_reply: str = "redirect"
    #: Fault: every GEODES download answers 429 (quota spent), with ``Retry-After:
    #: geodes_retry_after`` seconds, or without the header when that is ``None``.
    geodes_quota_exhausted: bool = False
    geodes_retry_after: str | None = "60"
    #: Share of GEODES products whose download link is on CNES's alternate host
    #: (``gdh-portal-prod`` for ``geodes-portal``; on loopback ``localhost`` for ``127.0.0.1``
    #: and back): links CNES's own client rewrites to that host (pyGeodes correct_download_tld).
    geodes_alternate_links: float = 0.25

    def __post_init__(self) -> None:
        if self.offline_reply not in OFFLINE_REPLIES:
            raise ValueError(f"offline_reply must be one of {', '.join(OFFLINE_REPLIES)}")
        if self.geodes_archive not in GEODES_ARCHIVES:
            raise ValueError(f"geodes_archive must be one of {', '.join(GEODES_ARCHIVES)}")
        if self.geodes_bad_key_reply not in BAD_KEY_REPLIES:
            raise ValueError(f"geodes_bad_key_reply must be one of {', '.join(BAD_KEY_REPLIES)}")
        if not 0.0 <= self.geodes_alternate_links <= 1.0:
            raise ValueError("geodes_alternate_links must be between 0 and 1")
        if self.latency_distribution not in DISTRIBUTIONS:
            raise ValueError(f"latency_distribution must be one of {', '.join(DISTRIBUTIONS)}")
        self.never_finish = frozenset(self.never_finish)


class Sandbox:
    """Start with ``with Sandbox() as sb: ... sb.url``, or ``start()``/``stop()``."""

    def __init__(
        self,
        catalogue: Catalogue | None = None,
        config: SandboxConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        services: Iterable[str] = ("peps", "geodes", "processing"),
    ) -> None:
        self.catalogue = catalogue if catalogue is not None else Catalogue.default()
        self.config = config or SandboxConfig()
        self.router = Router()
        self.faults = FaultPlan()
        #: The archive bytes asked for, ``(name, start, end)`` per reply that serves them, the
        #: latest :data:`SERVED_LOG` (tests and benches count range requests with it).
        self.served: collections.deque[tuple[str, int, int]] = collections.deque(maxlen=SERVED_LOG)
        for fault in self.config.faults:
            self.faults.add(dataclasses.replace(fault))
        initial = {e.uuid: e.storage for e in self.catalogue}
        self.tape = TapeLibrary(
            lambda key: initial.get(key, "unknown"),
            latency=self.config.restore_latency,
            time_scale=self.config.time_scale,
            max_concurrent=self.config.max_concurrent_restores,
            seed=self.config.seed,
            unknown_restores=self.config.unknown_restores,
            distribution=self.config.latency_distribution,
            never_finish=frozenset(
                self.catalogue.by_name[name].uuid
                for name in self.config.never_finish
                if name in self.catalogue.by_name
            ),
        )
        self.services: dict[str, Any] = {}
        for name in services:
            self._load_service(name)
        self.httpd = SandboxHTTPServer((host, port), self.router)
        self.httpd.per_connection_rate = self.config.per_connection_bps
        self.httpd.total_bucket = TokenBucket(self.config.total_bps)
        self._thread: threading.Thread | None = None

    def _load_service(self, name: str) -> None:
        if name == "peps":
            from .peps import PepsService

            self.services[name] = PepsService(self)
        elif name == "geodes":
            try:
                from .geodes import GeodesService  # type: ignore[import-not-found,unused-ignore]
            except ImportError:
                return
            self.services[name] = GeodesService(self)
        elif name == "processing":
            try:
                from .processing import ProcessingService  # type: ignore[import-not-found,unused-ignore]
            except ImportError:
                return
            self.services[name] = ProcessingService(self)
        else:
            raise ValueError(f"unknown sandbox service {name!r}")

    # -- life cycle --------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return "http://{}:{}".format(*self.httpd.server_address[:2])

    def start(self) -> Sandbox:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self.httpd.serve_forever,
                kwargs={"poll_interval": 0.05},  # quick stop(): tests start many sandboxes
                name="sandbox",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread.join(5)
            self._thread = None
        self.httpd.server_close()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- shared helpers for services ---------------------------------------------------------
    @property
    def stats(self) -> Any:
        return self.httpd.stats

    def count(self, key: str) -> None:
        self.httpd.count(key)

    def check_password(self, user: str, password: str) -> bool:
        return self.config.users.get(user) == password

    def check_api_key(self, key: str | None) -> bool:
        return key is not None and key in self.config.api_keys

    def serve_archive(self, entry: Entry, request: Request) -> Response:
        """The archive if online (with ``Range``/``If-Range``), else the configured "not yet"
        reply after starting a restore, as the real download request did."""
        if self.tape.mode(entry.uuid) not in ONLINE_MODES:
            mode = self.tape.request_restore(entry.uuid)
            self.count("restore_via_download")
            reply = self.offline_reply(entry, mode)
            reply.delay = self.config.offline_reply_delay
            reply.gauge = "restore"
            return reply
        archive = self.archive_of(entry)
        etag = f'"{entry.md5}"'
        headers = {
            "Content-Type": "application/zip",
            "Content-Disposition": f'attachment; filename="{entry.name}.zip"',
            "Accept-Ranges": "bytes",
        }
        if self.config.send_etag:
            headers["ETag"] = etag
        start, end, status = 0, archive.size, 200
        range_header = request.headers.get("Range")
        if_range = request.headers.get("If-Range")
        if range_header and (if_range is None or (self.config.send_etag and if_range == etag)):
            match = re.fullmatch(r"bytes=(\d+)-(\d*)", range_header.strip())
            if not match or int(match.group(1)) >= archive.size:
                return Response(416, b"", {"Content-Range": f"bytes */{archive.size}"})
            start = int(match.group(1))
            end = min(archive.size, int(match.group(2)) + 1) if match.group(2) else archive.size
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{archive.size}"
        self.count("archive_bytes_served")
        self.count("archive_replies")
        self.served.append((entry.name, start, end))
        body = archive.iter_bytes(start, end)
        response = Response(status, body, headers, length=end - start, gauge="archive")
        return self.faults.apply(entry.name, response)

    def archive_of(self, entry: Entry) -> Any:
        """The entry's archive, built once, not per request (:attr:`Entry.archive`: a
        hand-made one hashes all its bytes when built, which made every range request of a
        member selection cost the whole archive's MD5), and never one per product for the
        server's lifetime (generated ones come from a bounded cache)."""
        return entry.archive

    def entry(self, name: str) -> Entry:
        """The catalogue entry of a product name (tests arm faults and read state by name)."""
        return self.catalogue.by_name[name]

    def replace_entry(self, name: str, **changes: Any) -> Entry:
        """Reprocess a product in place (new bytes, checksum and ETag under the same name);
        services drop whatever they cached about it."""
        from .scenarios import replace_entry

        entry = replace_entry(self.catalogue, name, **changes)
        for service in self.services.values():
            invalidate = getattr(service, "invalidate", None)
            if callable(invalidate):
                invalidate()
        return entry

    def restores_asked(self, name: str) -> int:
        """How many times a restore of ``name`` was asked (downloads of offline products too)."""
        return self.tape.asked[self.entry(name).uuid]

    @property
    def peaks(self) -> Any:
        """Most replies ever sent at once per gauge: ``archive`` streams, ``restore`` replies."""
        return self.httpd.peaks

    def offline_reply(self, entry: Entry, mode: str) -> Response:
        message = {
            "ErrorCode": 202,
            "ErrorMessage": (
                f"Product {entry.name} is being retrieved from tape (storage: {mode}); "
                "try again later"
            ),
        }
        variant = self.config.offline_reply
        if variant == "202-json":
            return Response.json(message, 202)
        if variant == "200-json":
            return Response.json(message, 200)
        if variant == "404":
            return Response.json({"ErrorCode": 404, "ErrorMessage": "Product not available"}, 404)
        if variant == "503":
            error = {"ErrorCode": 503, "ErrorMessage": "Product not online"}
            return Response.json(error, 503, {"Retry-After": "60"})
        return Response(200, b"", {"Content-Type": "application/zip"})
