"""The sandbox's HTTP machinery: a threaded server on loopback, a tiny router, streaming
responses with bandwidth caps and connection drops.

Services (PEPS resto, GEODES, WPS, OGC Processes) register routes on one server, so a single
URL serves both families of paths, as a client written for the real servers expects.
"""

from __future__ import annotations

import base64
import collections
import dataclasses
import json
import re
import threading
import time
from collections.abc import Callable, Iterable
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ..logs import get_logger

__all__ = ["Handler", "Request", "Response", "Router", "SandboxHTTPServer", "TokenBucket"]

logger = get_logger(__name__)


@dataclasses.dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: Message
    body: bytes
    params: dict[str, str]
    base_url: str

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def basic_auth(self) -> tuple[str, str] | None:
        header = self.headers.get("Authorization", "")
        if not header.lower().startswith("basic "):
            return None
        try:
            user, _, password = base64.b64decode(header[6:]).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        return user, password


@dataclasses.dataclass
class Response:
    status: int = 200
    body: bytes | Iterable[bytes] = b""
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    #: Content-Length of an iterable body (required for it).
    length: int | None = None
    #: Fault injection: close the connection after this many body bytes.
    drop_after: int | None = None
    #: Send only this many body bytes but announce the full length (a truncated reply).
    truncate_at: int | None = None
    #: Seconds to wait before answering (slow replies).
    delay: float = 0.0
    #: Fault injection: after this many body bytes, stall for ``stall_for`` seconds.
    stall_at: int | None = None
    stall_for: float = 0.0
    #: Count this reply in the server's concurrency gauge of that name while it is sent.
    gauge: str | None = None

    @classmethod
    def json(cls, data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        body = json.dumps(data, ensure_ascii=False).encode()
        return cls(status, body, {"Content-Type": "application/json", **(headers or {})})

    @classmethod
    def text(cls, text: str, status: int = 200, content_type: str = "text/plain") -> Response:
        return cls(status, text.encode(), {"Content-Type": f"{content_type}; charset=utf-8"})


Handler = Callable[[Request], Response]


class TokenBucket:
    """Caps bytes per second; shared by all connections for the total, one per connection."""

    def __init__(self, rate: float | None, burst: float | None = None) -> None:
        self.rate = rate
        self.capacity = burst if burst is not None else (rate or 0) / 20
        self.tokens = self.capacity
        self.stamp = time.monotonic()
        self.lock = threading.Lock()

    def take(self, amount: int) -> None:
        if not self.rate:
            return
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            self.tokens -= amount
            wait = -self.tokens / self.rate if self.tokens < 0 else 0.0
        if wait > 0:
            time.sleep(wait)


class Router:
    def __init__(self) -> None:
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = []

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        """``pattern`` is a regex on the path with named groups, anchored at both ends."""
        self.routes.append((method.upper(), re.compile(f"^{pattern}$"), handler))

    def match(self, method: str, path: str) -> tuple[Handler, dict[str, str]] | None | bool:
        """The handler and groups; ``False`` if the path exists for another method."""
        seen_path = False
        for route_method, regex, handler in self.routes:
            found = regex.match(path)
            if found:
                seen_path = True
                if route_method == method:
                    return handler, found.groupdict()
        return False if seen_path else None


class SandboxHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], router: Router) -> None:
        self.router = router
        self.stats: collections.Counter[str] = collections.Counter()
        self.stats_lock = threading.Lock()
        self.per_connection_rate: float | None = None
        self.total_bucket = TokenBucket(None)
        #: Replies being sent now, and the most ever sent at once, per gauge name.
        self.gauges: collections.Counter[str] = collections.Counter()
        self.peaks: collections.Counter[str] = collections.Counter()
        #: The largest request body read (``None``: any); a larger one gets 413 unread, so a
        #: client cannot make a public server hold gigabytes in memory.
        self.max_body: int | None = None
        #: Seconds a connection may stay silent before it is closed (``None``: forever); a
        #: public server sets it, or idle connections each hold a thread for good.
        self.idle_timeout: float | None = None
        super().__init__(address, _RequestHandler)

    def count(self, key: str, amount: int = 1) -> None:
        with self.stats_lock:
            self.stats[key] += amount

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients hanging up (a downloader interrupted, a killed process) are normal here."""
        import sys

        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)

    def gauge(self, key: str, delta: int) -> None:
        with self.stats_lock:
            self.gauges[key] += delta
            self.peaks[key] = max(self.peaks[key], self.gauges[key])


#: A reply after which the connection ends (its request body was left unread).
_CLOSE = {"Connection": "close"}


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    #: Headers and body leave in separate writes: with Nagle on, every small reply waits for
    #: the client's delayed ACK (40 ms on Linux), which capped a client at 25 replies/s.
    disable_nagle_algorithm = True
    server: SandboxHTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        logger.debug("%s %s", self.address_string(), format % args)

    def setup(self) -> None:
        super().setup()
        if self.server.idle_timeout is not None:
            self.connection.settimeout(self.server.idle_timeout)

    def _body(self) -> bytes | Response:
        """The request body, or the reply refusing it (a bad or too large Content-Length)."""
        text = (self.headers.get("Content-Length") or "0").strip()
        if not text.isdigit() or len(text) > 18:
            self.close_connection = True
            return Response.json(
                {"ErrorCode": 400, "ErrorMessage": "bad Content-Length"}, 400, _CLOSE
            )
        length, limit = int(text), self.server.max_body
        if limit is not None and length > limit:
            self.close_connection = True
            message = f"request body over {limit} bytes"
            return Response.json({"ErrorCode": 413, "ErrorMessage": message}, 413, _CLOSE)
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        parts = urlsplit(self.path)
        body = self._body()
        if isinstance(body, Response):
            self._send(body)
            return
        host = self.headers.get("Host") or "{}:{}".format(*self.server.server_address[:2])
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        self.server.count("requests")
        found = self.server.router.match(self.command, parts.path)
        if not isinstance(found, tuple):
            status = 405 if found is False else 404
            response = Response.json({"ErrorCode": status, "ErrorMessage": "Not Found"}, status)
        else:
            handler, params = found
            request = Request(
                self.command, parts.path, query, self.headers, body, params, f"http://{host}"
            )
            try:
                response = handler(request)
            except Exception as exc:  # the emulator must answer like a server, not crash
                logger.exception("sandbox handler failed")
                response = Response.json({"ErrorCode": 500, "ErrorMessage": str(exc)}, 500)
        self._send(response)

    do_GET = do_POST = do_DELETE = do_HEAD = _handle

    def _send(self, response: Response) -> None:
        if response.gauge is None:
            self._write(response)
            return
        self.server.gauge(response.gauge, 1)
        try:
            self._write(response)
        finally:
            self.server.gauge(response.gauge, -1)

    def _write(self, response: Response) -> None:
        if response.delay:
            time.sleep(response.delay)
        body = response.body
        length = len(body) if isinstance(body, bytes) else response.length
        self.send_response(response.status)
        for key, value in response.headers.items():
            self.send_header(key, value)
        if length is not None:
            self.send_header("Content-Length", str(length))
        if response.drop_after is not None or response.truncate_at is not None:
            self.send_header("Connection", "close")
            self.close_connection = True
        # what a reply costs besides its body (benches weigh requests against bytes with it)
        head = getattr(self, "_headers_buffer", [])  # the status line and headers, unsent
        self.server.count("header_bytes_sent", sum(map(len, head)) + 2)
        self.end_headers()
        if self.command == "HEAD":
            return
        chunks = [body] if isinstance(body, bytes) else body
        limit = response.drop_after if response.drop_after is not None else response.truncate_at
        bucket = TokenBucket(self.server.per_connection_rate)
        sent = 0
        stall_at = response.stall_at
        try:
            for chunk in chunks:
                if limit is not None and sent + len(chunk) > limit:
                    chunk = chunk[: max(0, limit - sent)]
                for piece in _slices(chunk, 16384):
                    if stall_at is not None and sent <= stall_at < sent + len(piece):
                        head = stall_at - sent
                        self.wfile.write(piece[:head])
                        self.wfile.flush()
                        time.sleep(response.stall_for)
                        piece, sent, stall_at = piece[head:], sent + head, None
                    bucket.take(len(piece))
                    self.server.total_bucket.take(len(piece))
                    self.wfile.write(piece)
                    sent += len(piece)
                    self.server.count("bytes_sent", len(piece))
                if limit is not None and sent >= limit:
                    break
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
            return
        if limit is not None:
            self.close_connection = True


def _slices(data: bytes, size: int) -> Iterable[bytes]:
    view = memoryview(data)
    for start in range(0, len(data), size):
        yield view[start : start + size].tobytes()
