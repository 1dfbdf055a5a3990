"""The interface every backend implements, and the paging loop they all share.

Callers (EODAG plugins, the pystac-style client, the staging downloader, processing) only see
this interface, so a new server drops in as one module without touching them.
"""

from __future__ import annotations

import abc
import dataclasses
import logging
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import requests

from ..http_io import Credentials, make_session
from ..product import Availability, Product
from ..query import Query

if TYPE_CHECKING:
    from ..processing.base import ProcessingBackend

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class SearchPage:
    """One page of results.

    ``next_token`` is opaque to callers: a URL, a page number or a POST body serialised by the
    backend; hand it back to :meth:`Backend.search_page` to get the following page.
    """

    products: list[Product]
    matched: int | None
    next_token: str | None = None


class Backend(abc.ABC):
    """A catalogue + archive (+ processing) service speaking one protocol."""

    #: Registry name (``peps``, ``geodes``...).
    name: ClassVar[str]
    #: The largest page the server honours; larger requests are capped silently by servers.
    max_page_size: ClassVar[int] = 500
    default_page_size: ClassVar[int] = 100

    def __init__(
        self,
        base_url: str,
        *,
        credentials: Credentials | None = None,
        session: requests.Session | None = None,
        verify: bool | str = True,
        timeout: float = 60.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials or Credentials()
        self.session = session or make_session(verify=verify)
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.base_url!r})"

    # -- search -------------------------------------------------------------------------------
    @abc.abstractmethod
    def search_page(
        self, query: Query, *, limit: int | None = None, page: int = 1, token: str | None = None
    ) -> SearchPage:
        """Fetch one page: page number ``page``, or the page ``token`` points to."""

    def search(
        self, query: Query, *, limit: int | None = None, max_items: int | None = None
    ) -> Iterator[Product]:
        """Every matching product, following the server's paging until exhausted."""
        size = min(limit or self.max_page_size, self.max_page_size)
        if max_items is not None:
            size = max(1, min(size, max_items))
        yielded = 0
        page = self.search_page(query, limit=size)
        while True:
            for product in page.products:
                yield product
                yielded += 1
                if max_items is not None and yielded >= max_items:
                    return
            if not page.next_token or not page.products:
                return
            page = self.search_page(query, limit=size, token=page.next_token)

    def count(self, query: Query) -> int | None:
        """How many products match, from the server's count (one small request)."""
        return self.search_page(query, limit=1).matched

    # -- archive ------------------------------------------------------------------------------
    @abc.abstractmethod
    def availability(self, products: Sequence[Product]) -> dict[str, Availability]:
        """Current availability of many products, keyed by ``Product.id``.

        Implementations must batch: a few requests for the whole list, never one per product,
        because the staging downloader polls this in a loop.
        """

    #: True when a download request of an offline product itself starts its restore (PEPS):
    #: the staging downloader then need not send a separate restore request after one.
    download_starts_restore: ClassVar[bool] = False

    @abc.abstractmethod
    def request_restore(self, product: Product) -> Availability | None:
        """Ask the archive to bring an offline product back online (idempotent).

        May return what the reply revealed (``ONLINE`` if the archive served data, ``STAGING``
        if it accepted the request), or ``None`` when the reply says nothing about it.
        """

    @abc.abstractmethod
    def open_download(
        self, product: Product, *, offset: int = 0, if_range: str | None = None
    ) -> requests.Response:
        """Start a streamed GET of the archive, from byte ``offset`` when resuming.

        The caller checks status, headers and body: servers answer many things that are not
        the product (JSON messages, empty bodies), and only the caller knows what it expected.
        """

    @property
    def archive_session(self) -> requests.Session:
        """The session for archive requests (downloads, restores).

        It retries failed connections only: what a status means for an archive request (a 503
        with ``Retry-After: 60`` may just say "still on tape") is the staging downloader's call,
        and transport-level retries would hide it, or sleep for minutes.
        """
        session: requests.Session | None = self.__dict__.get("_archive_session")
        if session is None:
            verify = self.session.verify if self.session.verify is not None else True
            session = make_session(status_forcelist=(), verify=verify)
            for adapter in session.adapters.values():
                retry = getattr(adapter, "max_retries", None)
                if retry is not None:  # urllib3 would still sleep on 503/429 + Retry-After
                    adapter.max_retries = retry.new(respect_retry_after_header=False)  # type: ignore[attr-defined]
            session.headers.update(self.session.headers)
            self.__dict__["_archive_session"] = session
        return session

    def auth_headers(self) -> dict[str, str]:
        """Headers that authenticate archive and processing requests (API keys)."""
        return {}

    # -- processing ---------------------------------------------------------------------------
    def processing(self) -> ProcessingBackend:
        """The processing service of this server (MAJA); not every backend has one."""
        from ..processing import processing_for

        return processing_for(self)

    def describe(self) -> dict[str, Any]:
        """What a user may want to know in ``--help``/logs (never secrets)."""
        return {"backend": self.name, "url": self.base_url}
