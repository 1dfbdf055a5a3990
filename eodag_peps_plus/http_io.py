"""HTTP plumbing shared by every backend: one retrying session and one error mapping.

Like pystac-client's ``StacApiIO``: retries (429, 5xx, dropped connections, honouring
``Retry-After``) live in the transport, so backend code reads as the protocol it speaks.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import functools
import heapq
import http.client
import ipaddress
import itertools
import os
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

import orjson
import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from . import __version__
from .exceptions import AuthenticationError, BackendError, QuotaExceededError, redact_url
from .logs import get_logger

__all__ = [
    "BoundSession",
    "CREDENTIAL_HEADERS",
    "Credentials",
    "MAX_REPLY_BYTES",
    "OriginBoundAuth",
    "RETRY_STATUSES",
    "SessionKind",
    "USER_AGENT",
    "archive_headers",
    "check_status",
    "error_detail",
    "iter_body",
    "json_or_error",
    "make_session",
    "origin",
    "redact_url",
    "safe_origin",
    "send",
    "split_userinfo",
]

logger = get_logger(__name__)

USER_AGENT = f"eodag-peps-plus/{__version__}"
RETRY_STATUSES = (429, 500, 502, 503, 504)


@dataclasses.dataclass(frozen=True)
class Credentials:
    """Account secrets; ``repr`` never shows them so they cannot leak into logs."""

    username: str | None = dataclasses.field(default=None, repr=False)
    password: str | None = dataclasses.field(default=None, repr=False)
    api_key: str | None = dataclasses.field(default=None, repr=False)
    #: Where they came from, for messages (``the -a file peps.txt``, a variable's name): set
    #: by :func:`eodag_peps_plus.credentials.resolve`; never a secret, never compared.
    source: str = dataclasses.field(default="", repr=False, compare=False)

    def __repr__(self) -> str:
        parts = []
        if self.username:
            parts.append("username=***")
        if self.password:
            parts.append("password=***")
        if self.api_key:
            parts.append("api_key=***")
        return f"Credentials({', '.join(parts)})"

    @property
    def basic(self) -> tuple[str, str] | None:
        if self.username is None or self.password is None:
            return None
        return (self.username, self.password)


#: How a session treats failures, by what its requests are for.
#: ``search``: retry 429/5xx and dropped connections, honouring ``Retry-After`` (idempotent
#: searches, availability and status look-ups). ``archive``: retry failed connections only and
#: never sleep on ``Retry-After`` (what a 503 means for a download is the staging downloader's
#: call). ``submit``: retry only connections that never reached the server (a job must never be
#: sent twice because a reply was lost).
SessionKind = Literal["search", "archive", "submit"]


def make_session(
    kind: SessionKind = "search",
    *,
    retries: int = 4,
    backoff_factor: float = 0.5,
    pool_size: int = 16,
    verify: bool | str = True,
    auth: OriginBoundAuth | None = None,
    template: requests.Session | None = None,
) -> requests.Session:
    """The one place sessions are built: retries by ``kind``, credentials bound to origins.

    Args:
        kind: what the session's requests are for (see :data:`SessionKind`).
        retries: attempts after the first, for ``search`` sessions.
        backoff_factor: urllib3's exponential backoff factor.
        pool_size: connections kept per host.
        verify: TLS verification (a CA bundle path, or ``False`` only when asked for).
        auth: credentials and the origins they may go to; re-checked at every redirect hop.
        template: a user's session whose headers, proxies and ``verify`` are carried over.

    Returns:
        A :class:`BoundSession`.
    """
    retry = _retry(kind, retries, backoff_factor)
    adapter = DeadlineAdapter(max_retries=retry, pool_connections=pool_size, pool_maxsize=pool_size)
    session = BoundSession()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    session.verify = verify
    if template is not None:
        session.headers.update(template.headers)
        session.proxies.update(template.proxies)
        session.verify = template.verify if template.verify is not None else verify
    session.auth = auth
    return session


def _retry(kind: SessionKind, retries: int, backoff_factor: float) -> Retry:
    """``make_session``'s retry policy for ``kind`` (see :data:`SessionKind`)."""
    if kind == "search":
        return Retry(
            total=retries,
            connect=min(retries, 2),
            read=retries,
            status=retries,
            backoff_factor=backoff_factor,
            backoff_max=30,
            status_forcelist=RETRY_STATUSES,
            allowed_methods=frozenset({"GET", "HEAD", "POST"}),
            respect_retry_after_header=True,
            raise_on_status=False,
        )
    return Retry(
        total=retries if kind == "archive" else 2,
        connect=min(retries, 2) if kind == "archive" else 2,
        read=retries if kind == "archive" else 0,
        status=0,
        other=None if kind == "archive" else 0,
        backoff_factor=backoff_factor,
        backoff_max=30,
        status_forcelist=(),
        allowed_methods=frozenset({"GET", "HEAD"}) if kind == "archive" else None,
        respect_retry_after_header=False,
        raise_on_status=False,
    )


# -- one deadline from connect to the last header -------------------------------------------------
#
# urllib3's read timeout bounds each wait for a byte, so a server that drips its headers (one
# line a second) or accepts and then answers nothing (each retry waiting its full timeout)
# holds a request far longer than asked. Every session built here gives a request its read
# timeout, *in total* from the moment it began to connect (or was sent, on a reused connection),
# for the connect, the status line and every header: a watchdog shuts the socket at that
# deadline, and the request fails at once (never retried) with :class:`HeadersTimeout`. Past the
# headers, the read timeout bounds each wait for a chunk.


class HeadersTimeout(requests.exceptions.ReadTimeout):
    """The server accepted the connection but had not sent its whole reply head in time."""


class MalformedHeaders(requests.exceptions.InvalidHeader):
    """The reply head broke http.client's limits (a header line over 64 KiB, over 100
    headers): a hostile or broken server, not a connection failure."""


class _HeadLate(Exception):
    """Raised inside urllib3: deliberately neither ``OSError`` nor ``HTTPException``, which its
    retry loop would retry (each retry waiting the whole deadline again)."""


class _HeadBad(Exception):
    """A reply head over http.client's limits; as :class:`_HeadLate`, not retried."""


class _Watchdog:
    """One thread for every request's header deadline: a heap of (deadline, socket), the
    socket shut down when its deadline passes (a timer thread per request would cost more
    than a small archive's request)."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Any]] = []
        self._done: set[int] = set()
        self._fired: set[int] = set()
        self._cond = threading.Condition()
        self._count = itertools.count()
        self._thread: threading.Thread | None = None

    def watch(self, deadline: float, sock: Any) -> int:
        with self._cond:
            key = next(self._count)
            heapq.heappush(self._heap, (deadline, key, sock))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="peps-plus-header-deadline", daemon=True
                )
                self._thread.start()
            elif self._heap[0][1] == key:
                self._cond.notify()
            return key

    def release(self, key: int) -> bool:
        """Stop watching; whether the deadline had fired."""
        with self._cond:
            if key in self._fired:
                self._fired.discard(key)
                return True
            self._done.add(key)
            return False

    def _run(self) -> None:
        with self._cond:
            while True:
                while self._heap and self._heap[0][1] in self._done:
                    self._done.discard(heapq.heappop(self._heap)[1])
                if not self._heap:
                    if not self._cond.wait(60.0) and not self._heap:
                        self._thread = None
                        return
                    continue
                deadline, key, sock = self._heap[0]
                wait = deadline - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                heapq.heappop(self._heap)
                self._fired.add(key)
                # The plain socket's shutdown (an SSL socket's would unwrap it first).
                with contextlib.suppress(OSError, TypeError):
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)


_WATCHDOG = _Watchdog()


def _new_watchdog() -> None:
    """A forked child (a transfer process) gets its own: the parent's thread is not there, and
    its lock may have been held at the fork."""
    global _WATCHDOG
    _WATCHDOG = _Watchdog()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_watchdog)


#: A tighter head deadline for the requests of this context (a transfer's stall timeout).
_HEAD_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "peps_plus_head_deadline", default=None
)


@contextlib.contextmanager
def head_deadline(seconds: float | None) -> Iterator[None]:
    """Within this block, requests get at most ``seconds`` for their reply head (a download's
    stall timeout: the server that never starts a transfer is as stalled as one that stops)."""
    token = _HEAD_DEADLINE.set(seconds if seconds and seconds > 0 else None)
    try:
        yield
    finally:
        _HEAD_DEADLINE.reset(token)


def _head_limit(read_timeout: Any) -> float | None:
    limit = float(read_timeout) if isinstance(read_timeout, (int, float)) else None
    tighter = _HEAD_DEADLINE.get()
    if tighter is not None:
        limit = tighter if limit is None or limit <= 0 else min(limit, tighter)
    return limit if limit is not None and limit > 0 else None


class _DeadlineMixin:
    """``getresponse`` within the read timeout in total, and a head over http.client's limits
    raised as such (urllib3 would call it a dropped connection, and retry it)."""

    timeout: Any
    sock: Any
    #: When this connection began to connect, for the request that opened it: its deadline
    #: counts from there (a reused connection's, from the request).
    _connect_started: float | None = None

    def connect(self) -> None:
        self._connect_started = time.monotonic()
        super().connect()  # type: ignore[misc]

    def getresponse(self) -> Any:
        limit = _head_limit(self.timeout)
        started, self._connect_started = self._connect_started, None
        if limit is None or self.sock is None:
            return self._head()
        deadline = (started or time.monotonic()) + limit
        remaining = max(deadline - time.monotonic(), 0.001)
        if self.timeout is None or remaining < self.timeout:
            self.timeout = remaining  # urllib3 applies it to the socket in ``getresponse``
        key = _WATCHDOG.watch(deadline, self.sock)
        try:
            response = self._head()
        except (_HeadBad, _HeadLate):
            _WATCHDOG.release(key)
            raise
        except (OSError, http.client.HTTPException) as exc:
            fired = _WATCHDOG.release(key)
            if fired or isinstance(exc, TimeoutError):
                raise _HeadLate(limit) from None
            raise
        if _WATCHDOG.release(key):  # shut at the very end of the head: the body is gone
            response.close()
            raise _HeadLate(limit)
        return response

    def _head(self) -> Any:
        try:
            return super().getresponse()  # type: ignore[misc]
        except http.client.HTTPException as exc:
            # LineTooLong (a line over 64 KiB) and "got more than 100 headers"
            if str(exc).startswith("got more than"):
                raise _HeadBad(str(exc)) from None
            raise


def _pair(timeout: Any) -> tuple[float | None, float | None]:
    """requests' ``timeout`` (a number, or a (connect, read) pair) as a pair."""
    if isinstance(timeout, tuple):
        return timeout[0], timeout[1]
    return timeout, timeout


class _HTTPConnection(_DeadlineMixin, urllib3.connection.HTTPConnection):
    pass


class _HTTPSConnection(_DeadlineMixin, urllib3.connection.HTTPSConnection):
    pass


class _HTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


_POOLS = {"http": _HTTPPool, "https": _HTTPSPool}


class DeadlineAdapter(HTTPAdapter):
    """requests' adapter whose pools use the deadline connections above, and whose failures
    of the reply head are :class:`HeadersTimeout` and :class:`MalformedHeaders`."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if not proxy.lower().startswith("socks"):
            manager.pool_classes_by_scheme = _POOLS
        return manager

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        tighter = _HEAD_DEADLINE.get()
        if tighter is not None and kwargs.get("timeout") is not None:
            # The deadline counts from the connect: a connect cannot take longer either.
            connect, read = _pair(kwargs["timeout"])
            kwargs["timeout"] = (tighter if connect is None else min(connect, tighter), read)
        try:
            return super().send(request, *args, **kwargs)
        except _HeadLate as exc:
            raise HeadersTimeout(
                f"{_host(request.url or '')} accepted the connection but had not sent its reply "
                f"headers after {exc.args[0]:g} s",
                request=request,
            ) from None
        except _HeadBad as exc:
            raise MalformedHeaders(
                f"{_host(request.url or '')} sent a reply head no client accepts ({exc})",
                request=request,
            ) from None


# -- credentials bound to their origin ------------------------------------------------------------

#: Headers that carry a credential: never forwarded to an origin the credential is not for.
CREDENTIAL_HEADERS = ("Authorization", "X-API-Key")


@functools.lru_cache(maxsize=1024)
def origin(url: str) -> str:
    """``scheme://host:port`` of a URL, lower-cased, default port explicit (remembered: one
    download asks it of the same link four times).

    Raises:
        ValueError: the URL has no http(s) scheme or no host.
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {redact_url(url)!r}")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        raise ValueError(f"bad port in URL {redact_url(url)!r}") from None
    host = parts.hostname.lower().rstrip(".")
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}"


def reply_link_problem(url: str, server: str, allowed: Iterable[str]) -> str | None:
    """Why a link taken from a server's reply (a job status, a results page, a file) must not
    be fetched, or ``None``: it is not http(s), it points at a link-local address (a cloud
    metadata service), at this machine when the server is not on it, at a private address that
    is not the server's, or at another origin than ``allowed`` (the server's, and those the
    user opted in to)."""
    try:
        target = origin(url)
    except ValueError:
        return "it is not an http(s) URL"
    address, server_address = _address(url), _address(server)
    if address is not None and address != server_address:
        if address.is_link_local:
            return "it points at a link-local address (where cloud metadata services answer)"
        if address.is_loopback and not (server_address is not None and server_address.is_loopback):
            return "it points at this machine (a loopback address), and the server is not on it"
        if address.is_private and not address.is_loopback:
            return "it points at a private network address that is not the server's"
    if target not in allowed:
        return f"it points at another origin than the server's ({safe_origin(server)})"
    return None


def _address(url: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    host = urlsplit(url).hostname or ""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def safe_origin(url: str) -> str | None:
    """:func:`origin`, or ``None`` for a URL that has none (relative, other scheme)."""
    try:
        return origin(url)
    except ValueError:
        return None


def split_userinfo(url: str) -> tuple[str, tuple[str, str] | None]:
    """``http://user:pw@host/x`` -> (``http://host/x``, (user, pw)): a password in a URL would
    otherwise end up in error messages, logs and the job store."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, None
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    clean = parts._replace(netloc=hostport).geturl()
    return clean, (unquote(user), unquote(password))


class OriginBoundAuth(requests.auth.AuthBase):
    """HTTP Basic or ``X-API-Key``, attached only to requests for the origins it belongs to.

    ``requests`` drops ``Authorization`` on a redirect to another host but forwards custom
    headers such as ``X-API-Key``, and follows https -> http on the same host with the
    password: this auth (with :class:`BoundSession`) re-checks the origin at every hop and
    strips every credential header elsewhere, so a 302 to another host, a link in a reply or
    an edited results file never hands a secret over.
    """

    def __init__(
        self, credentials: Credentials, origins: Iterable[str], kind: str | None = None
    ) -> None:
        """Args:
        credentials: the secrets.
        origins: ``scheme://host:port`` origins (see :func:`origin`) they belong to.
        kind: ``basic`` or ``apikey``: which secret the server takes; by default the API
            key when there is one, else HTTP Basic.
        """
        self.credentials = credentials
        self.origins = frozenset(origins)
        self.kind = kind or ("apikey" if credentials.api_key else "basic")

    def __repr__(self) -> str:
        return f"OriginBoundAuth({self.credentials!r}, origins={sorted(self.origins)})"

    def allows(self, url: str) -> bool:
        return safe_origin(url) in self.origins

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        for header in CREDENTIAL_HEADERS:
            request.headers.pop(header, None)
        if not self.allows(request.url or ""):
            return request
        if self.kind == "apikey" and self.credentials.api_key:
            request.headers["X-API-Key"] = self.credentials.api_key
        elif self.kind == "basic" and self.credentials.basic:
            # UTF-8, as curl and the legacy scripts sent them (requests would use Latin-1,
            # which cannot carry every password and garbles the ones it can).
            user, password = (part.encode("utf-8") for part in self.credentials.basic)
            request.prepare_auth(requests.auth.HTTPBasicAuth(user, password))
        return request


class BoundSession(requests.Session):
    """A session whose redirects never carry credentials to another origin.

    ``rebuild_auth`` runs at every redirect hop: every credential header is dropped, and the
    session's :class:`OriginBoundAuth` re-attaches them only if the new URL is one of its
    origins (netrc is not consulted: a redirect must not pick up other secrets either).
    """

    def merge_environment_settings(
        self,
        url: str | bytes | None,
        proxies: Any,
        stream: Any,
        verify: Any,
        cert: Any,
    ) -> Any:
        """requests' own merge, with the environment's part read once per origin: requests
        reads every variable (proxies, ``no_proxy``, CA bundle) again for each request, which
        was the largest client cost of a batch of small archives (0.7 ms a request)."""
        key = safe_origin(url) if isinstance(url, str) else None
        if not self.trust_env or proxies or verify not in (True, None) or key is None:
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        cache: dict[str, Any] = self.__dict__.setdefault("_environment", {})
        found = cache.get(key)
        if found is None:
            found = super().merge_environment_settings(url, {}, None, verify, None)
            if len(cache) < 64:  # a few origins per session; never a growing table
                cache[key] = found
        return {
            "proxies": found["proxies"],
            "stream": stream if stream is not None else self.stream,
            "verify": found["verify"],
            "cert": cert if cert is not None else self.cert,
        }

    def rebuild_auth(
        self, prepared_request: requests.PreparedRequest, response: requests.Response
    ) -> None:
        for header in CREDENTIAL_HEADERS:
            prepared_request.headers.pop(header, None)
        if isinstance(self.auth, OriginBoundAuth):
            self.auth(prepared_request)


def archive_headers(
    offset: int = 0, if_range: str | None = None, end: int | None = None
) -> dict[str, str]:
    """Headers for fetching an archive, resumed from ``offset`` when the file is unchanged
    (up to byte ``end``, exclusive, when given: a member of the archive).

    Identity encoding: a compressed transfer would change lengths and break Range arithmetic.
    """
    headers = {
        "Accept": "application/zip, application/octet-stream;q=0.9, */*;q=0.1",
        "Accept-Encoding": "identity",
    }
    if offset or end is not None:
        headers["Range"] = f"bytes={offset}-{'' if end is None else end - 1}"
        if if_range:
            headers["If-Range"] = if_range
    return headers


def iter_body(
    response: requests.Response, size: int = 1 << 20, *, decode: bool = False
) -> Iterator[bytes]:
    """The body as it arrives: ``read1`` hands over whatever bytes came, where
    ``iter_content`` waits for a whole chunk (forever, from a server that drips) and loses the
    bytes before a dropped connection.

    Args:
        response: a streamed response.
        size: the most bytes one piece may hold.
        decode: undo ``Content-Encoding`` (gzip...); archives are fetched in identity
            encoding and read raw.
    """
    raw = response.raw
    if not hasattr(raw, "read1"):
        yield from response.iter_content(size)
        return
    while True:
        data = raw.read1(size, decode_content=decode) if decode else raw.read1(size)
        if not data:
            return
        yield data


#: The largest reply body read into memory (a search page of 500 products is a few MB).
MAX_REPLY_BYTES = 256 * 1024 * 1024


def send(
    session: requests.Session,
    method: str,
    url: str,
    what: str,
    *,
    deadline: float | None = None,
    max_bytes: int = MAX_REPLY_BYTES,
    **kwargs: Any,
) -> requests.Response:
    """``session.request`` whose failures become one clear ``BackendError``, and whose reply
    is read whole within ``deadline`` seconds and ``max_bytes``.

    ``timeout`` bounds each wait for a byte only: a server that drips one byte every few
    seconds, or streams without end, would otherwise hold the caller forever.

    Args:
        session: the session to send with.
        method: HTTP method.
        url: the URL.
        what: what the request is for, in messages.
        deadline: seconds for the whole reply; default twice ``timeout`` (at least 30).
        max_bytes: the largest body accepted.
        **kwargs: ``requests`` arguments (``params``, ``json``, ``timeout``...).

    Each request is logged at INFO (``peps-plus -v``) with its status and duration.

    Raises:
        BackendError: network failure, TLS failure, a reply too slow or too large.
    """
    kwargs["stream"] = True
    timeout = kwargs.get("timeout")
    limit = deadline if deadline is not None else max(30.0, 2 * float(timeout or 60.0))
    started = time.monotonic()
    try:
        response = session.request(method, url, **kwargs)
        response._content = _read_whole(response, what, url, started, limit, max_bytes)
        logger.info(
            "%s: %s %s -> HTTP %s in %.2f s",
            what,
            method,
            redact_url(response.url or url),
            response.status_code,
            time.monotonic() - started,
        )
        return response
    except (HeadersTimeout, MalformedHeaders, requests.RequestException) as exc:
        raise _request_error(exc, what, url) from None


def _read_whole(
    response: requests.Response, what: str, url: str, started: float, limit: float, max_bytes: int
) -> bytes:
    """``send``'s reply body, refused past ``max_bytes`` or ``limit`` seconds after ``started``."""
    chunks, size = [], 0
    with response:
        for chunk in iter_body(response, decode=True):
            size += len(chunk)
            if size > max_bytes:
                raise BackendError(
                    f"{what}: {_host(url)} sent a reply larger than {max_bytes // 2**20} MB",
                    response.status_code,
                    url=url,
                )
            if time.monotonic() - started > limit:
                raise BackendError(
                    f"{what}: {_host(url)} took more than {limit:g} s to send its reply",
                    response.status_code,
                    url=url,
                )
            chunks.append(chunk)
    return b"".join(chunks)


def _request_error(exc: Exception, what: str, url: str) -> BackendError:
    """``send``'s one-line error for a request that failed before its reply was read."""
    if isinstance(exc, (HeadersTimeout, MalformedHeaders)):
        return BackendError(f"{what}: {exc}", url=url)
    if isinstance(exc, requests.exceptions.SSLError):
        return BackendError(
            f"{what}: TLS verification failed for {_host(url)} ({exc.__class__.__name__})", url=url
        )
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return BackendError(f"{what}: {_host(url)} did not accept the connection in time", url=url)
    if isinstance(exc, requests.exceptions.Timeout):
        return BackendError(f"{what}: {_host(url)} did not answer in time", url=url)
    if isinstance(exc, requests.exceptions.ConnectionError):
        hint = _CONNECTION_HINTS.get(safe_origin(url) or "", "is the URL right and the server up?")
        return BackendError(f"{what}: cannot connect to {_host(url)} ({hint})", url=url)
    return BackendError(
        f"{what}: request to {_host(url)} failed ({exc.__class__.__name__})", url=url
    )


#: What to tell a user who cannot connect to an origin, by origin (a retired public server).
_CONNECTION_HINTS: dict[str, str] = {}


def connection_hint(url: str, hint: str) -> None:
    """Say ``hint`` instead of "is the URL right?" when a connection to ``url``'s origin
    fails (backend records register it for a retired public server)."""
    key = safe_origin(url)
    if key:
        _CONNECTION_HINTS[key] = hint


def _host(url: str) -> str:
    parts = urlsplit(redact_url(url))
    return f"{parts.scheme}://{parts.netloc}"


def json_or_error(response: requests.Response, what: str, hint: str = "") -> Any:
    """Decode a JSON reply or raise the typed error that says what to fix (``hint``: see
    :func:`check_status`)."""
    check_status(response, what, hint)
    try:
        data = orjson.loads(response.content)  # several times faster than json on big pages
    except ValueError:
        snippet = response.text[:120].replace("\n", " ")
        raise BackendError.from_response(
            f"{what}: the server did not answer JSON (HTTP {response.status_code}: {snippet!r})",
            response,
        ) from None
    if isinstance(data, dict) and "ErrorCode" in data:  # resto errors, sometimes with HTTP 200
        code = data.get("ErrorCode")
        message = data.get("ErrorMessage", "")
        exc_type = AuthenticationError if code in (401, 403, "401", "403") else BackendError
        raise exc_type.from_response(
            f"{what}: server error {code}: {message}", response, status_code=_int_or_none(code)
        )
    return data


def check_status(response: requests.Response, what: str, hint: str = "") -> None:
    """Raise the typed error an HTTP status means.

    Args:
        response: the reply.
        what: what the request was for, in messages.
        hint: what to check when the credentials are refused (the backend's
            ``credentials_hint``, naming where they came from).
    """
    status = response.status_code
    if status in (401, 403):
        hint = hint or "check the credentials in your EODAG config (eodag.yml or variables)"
        raise AuthenticationError.from_response(
            f"{what}: credentials refused (HTTP {status}); {hint}", response
        )
    if status == 429:
        raise QuotaExceededError.from_response(
            f"{what}: too many requests (HTTP 429) even after retries; wait and try again",
            response,
        )
    if status >= 400:
        detail = error_detail(response)
        raise BackendError.from_response(
            f"{what}: HTTP {status}{': ' + detail if detail else ''}", response
        )


def error_detail(response: requests.Response) -> str:
    """The server's own words about an error (JSON message field, or the start of the body)."""
    try:
        data = response.json()
    except ValueError:
        return response.text[:200].strip().replace("\n", " ")
    if isinstance(data, dict):
        for key in ("ErrorMessage", "description", "detail", "message", "title"):
            if data.get(key):
                return str(data[key])
    return str(data)[:200]


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
