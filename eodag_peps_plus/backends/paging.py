"""Page tokens and the bounds of every paging loop, in one place for every backend.

A :class:`PageToken` is what ``Backend.search_page`` hands callers to get the following page:
JSON with readable keys, opaque to callers, checked when it comes back (EODAG stores it in
saved results, so a user may hand back anything). Bare page numbers, which EODAG sends for
``page=N``, are read here too (:func:`read_token`).

Tokens also carry the walk's state (server pages read, fingerprints of recent requests), so
paging stays bounded whoever drives it (EODAG's ``search_all``, the client, ``Backend.search``):
a :class:`Walk` refuses a request already made (a ``next`` link to itself, or any cycle) and
more than :data:`MAX_PAGES` server pages. Backends also stop on an empty page and once the
products read reach the server's count.

Choice: a search that meets a cycle or the page cap raises :class:`PagingError` (one error
line): returning what was read would pass for a complete result. Availability look-ups, which
are polled again and treat unseen products as unknown, stop with a warning instead.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import requests

from ..exceptions import InvalidQueryError, PagingError, shorten
from ..logs import get_logger

__all__ = [
    "Background",
    "MAX_PAGES",
    "MAX_TOKEN_CHARS",
    "PageToken",
    "TRAIL",
    "Walk",
    "fingerprint",
    "past_count",
    "read_token",
    "too_many_pages",
]

logger = get_logger(__name__)

#: Server pages one search may read: 10 million products at PEPS's 500 per page, 1.6 million
#: at GEODES's 80 (a million-product search reads 12,500), and a bound on a server that links
#: to new pages forever. Nothing kept per page grows with it (see :class:`Walk`).
MAX_PAGES = 20_000
#: Fingerprints of the latest requests a token remembers: any cycle up to this length is
#: recognised across ``search_page`` calls (within one call, every request is remembered);
#: longer ones end at the server's count or at :data:`MAX_PAGES`.
TRAIL = 32
#: Longest token accepted back (a token holds a URL, a search body and the trail).
MAX_TOKEN_CHARS = 100_000


@dataclasses.dataclass(frozen=True)
class PageToken:
    """Where a search continues, and how far it has come.

    Either a request to send (``method``, ``url``, ``body``: a server's ``next`` link, or our
    own search with the server's page token), or an ``offset`` into several collections read
    one after the other (PEPS's S2 then S2ST, whose ``totals`` are fixed at the first page).
    """

    #: Registry name of the backend that issued the token.
    backend: str
    url: str | None = None
    method: str = "GET"
    body: dict[str, Any] | None = None
    offset: int | None = None
    totals: tuple[int, ...] | None = None
    #: Products returned before the page this token points to.
    seen: int = 0
    #: The server's count, when it gave one.
    matched: int | None = None
    #: Server pages read so far by the search.
    pages: int = 0
    #: Fingerprints of the latest requests (see :func:`fingerprint`).
    trail: tuple[str, ...] = ()

    def encode(self) -> str:
        """Compact JSON, keys readable, defaults left out."""
        state: dict[str, Any] = {"backend": self.backend}
        for field in dataclasses.fields(self)[1:]:
            value = getattr(self, field.name)
            if value != field.default:
                state[field.name] = list(value) if isinstance(value, tuple) else value
        return json.dumps(state, separators=(",", ":"))

    @classmethod
    def decode(cls, text: str, backend: str) -> PageToken:
        """A token handed back by a caller, checked field by field.

        Raises:
            InvalidQueryError: not a token, or one issued by another backend.
        """
        if len(text) > MAX_TOKEN_CHARS:
            raise _bad_token(text, f"longer than {MAX_TOKEN_CHARS} characters")
        try:
            state = json.loads(text)
        except ValueError:
            raise _bad_token(text, "not JSON") from None
        if not isinstance(state, dict):
            raise _bad_token(text, "not a JSON object")
        if state.get("backend") != backend:
            raise _bad_token(text, f"issued by {shorten(state.get('backend'))}, not {backend}")
        unknown = set(state) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise _bad_token(text, f"unknown key(s) {', '.join(sorted(unknown))}")
        fields: dict[str, Any] = {"backend": backend}
        checks = {
            "url": (str,),
            "method": (str,),
            "body": (dict,),
            "offset": (int,),
            "totals": (list,),
            "seen": (int,),
            "matched": (int,),
            "pages": (int,),
            "trail": (list,),
        }
        for key, types in checks.items():
            value = state.get(key)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, types):
                raise _bad_token(text, f"{key} is not a {types[0].__name__}")
            if isinstance(value, int) and value < 0:
                raise _bad_token(text, f"{key} is negative")
            fields[key] = value
        for key, member in (("totals", int), ("trail", str)):
            if key in fields:
                items = fields[key]
                if not all(isinstance(v, member) and not isinstance(v, bool) for v in items):
                    raise _bad_token(text, f"{key} holds something other than {member.__name__}s")
                fields[key] = tuple(items)
        if fields.get("method", "GET") not in ("GET", "POST"):
            raise _bad_token(text, "method is neither GET nor POST")
        if "url" in fields and not fields["url"].startswith(("http://", "https://")):
            raise _bad_token(text, "url is not an http(s) URL")
        if "url" not in fields and "offset" not in fields:
            raise _bad_token(text, "neither url nor offset")
        return cls(**fields)


def _bad_token(text: str, why: str) -> InvalidQueryError:
    return InvalidQueryError(f"not a paging token of this backend ({why}): {shorten(text)}")


def read_token(token: str | None, page: int, backend: str) -> tuple[int, PageToken | None]:
    """``(page number, token)`` from what a caller handed back.

    EODAG hands back a bare page number for ``search(page=N)``: it means page ``N`` from the
    start, like ``page``. Anything else must be a token this backend issued.

    Raises:
        InvalidQueryError: a page number below 1 or beyond :data:`MAX_PAGES`, or a token that
            is not one of ours.
    """
    if token is not None and token.strip().isdigit():
        page, token = int(token), None
    if not 1 <= page <= MAX_PAGES:
        raise InvalidQueryError(f"page {page}: pages are numbered from 1 to {MAX_PAGES}")
    return page, PageToken.decode(token, backend) if token else None


def fingerprint(method: str, url: str, params: Any = None, body: Any = None) -> str:
    """A short digest of one request (URL with its query, and its body): two requests with
    the same fingerprint would read the same page."""
    full = requests.Request(method, url, params=params).prepare().url or url
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{method} {full} {canonical}".encode()).hexdigest()[:16]


class Walk:
    """The server pages one search reads, carried from token to token.

    :meth:`visit` before every request: it refuses one already made (a cycle) and one past
    the page cap, so a loop that calls it before each request cannot run forever.
    """

    def __init__(
        self, what: str, token: PageToken | None = None, max_pages: int = MAX_PAGES
    ) -> None:
        #: What is being read, for messages (``PEPS search``).
        self.what = what
        self.max_pages = max_pages
        self.pages = token.pages if token else 0
        # One ``search_page`` call's requests (a few server pages) after the token's trail of
        # at most TRAIL: a walk lives for one call, so this never grows with the search.
        self._trail = list(token.trail) if token else []
        self._seen = set(self._trail)

    def visit(
        self, method: str, url: str, params: Any = None, body: Any = None, *, link: bool = True
    ) -> None:
        """Record a request about to be sent: ``link`` when it comes from the server (a
        ``next`` link or token), not when we computed it (page N of our own search, which may
        be read twice, e.g. for a count, and cannot loop).

        Raises:
            PagingError: a server link repeats a request already made in this search, or the
                search has read :attr:`max_pages` pages.
        """
        mark = fingerprint(method, url, params, body)
        if link and mark in self._seen:
            raise PagingError(
                f"{self.what}: the server's next link leads back to a page already read "
                f"({shorten(url, 120, quote=False)}), after {self.pages} page(s); stopped "
                "rather than loop forever"
            )
        if self.pages >= self.max_pages:
            raise too_many_pages(self.what, self.max_pages)
        self.pages += 1
        self._seen.add(mark)
        self._trail.append(mark)

    def token(self, where: PageToken) -> str:
        """The encoded token continuing this walk at ``where`` (its ``pages`` and ``trail``
        are the walk's)."""
        trail = tuple(self._trail[-TRAIL:])
        return dataclasses.replace(where, pages=self.pages, trail=trail).encode()


def too_many_pages(what: str, max_pages: int) -> PagingError:
    """The error of a search past the page cap."""
    return PagingError(
        f"{what}: more than {max_pages} pages; narrow the search (dates, area, collection) "
        "or set a maximum number of items"
    )


def past_count(seen: int, matched: int | None) -> bool:
    """Whether the server's own count says there is nothing more to read."""
    return matched is not None and seen >= matched


_T = TypeVar("_T")


class Background(Generic[_T]):
    """``call()`` in a thread of its own, its value (or its error) for :meth:`result`: the
    next server page is read while this one is mapped or read by the caller, so the server's
    time and ours overlap instead of adding up. A daemon thread: a caller that stops reading
    leaves it to end with its request (bounded by the request's own deadline)."""

    def __init__(self, call: Callable[[], _T]) -> None:
        self._done = threading.Event()
        self._value: _T | None = None
        self._error: BaseException | None = None
        threading.Thread(target=self._run, args=(call,), daemon=True, name="prefetch").start()

    def _run(self, call: Callable[[], _T]) -> None:
        try:
            self._value = call()
        except BaseException as exc:  # noqa: BLE001 - handed to the reader, raised there
            self._error = exc
        finally:
            self._done.set()

    def result(self) -> _T:
        """The value, once the call is done; its exception raised here instead."""
        self._done.wait()
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]
