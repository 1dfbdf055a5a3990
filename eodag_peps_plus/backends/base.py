"""The three roles a server plays, and the paging loop every catalogue shares.

* :class:`Catalogue` searches (``search_page``/``search``/``count``): the EODAG search plugin,
  the pystac-style client and the CLI need only this.
* :class:`Archive` answers availability, restores and the bytes of a product: the staging
  downloader depends on this alone, so one batch can draw from several archives (a fallback
  source, the outputs of MAJA jobs) and none has to pretend it can be searched.
* :class:`Account` holds the credentials, the sessions that carry them and the origins they may
  go to: a server's catalogue, archive and processing service share one.

:class:`Backend` is a server that plays all three (PEPS, GEODES); callers see only these
interfaces, so a new server drops in as one module without touching them.
"""

from __future__ import annotations

import abc
import collections
import dataclasses
import functools
import http
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar, TypeVar

import requests

from ..archive_reply import (
    ArchiveReply,
    ReplyKind,
    classify_archive_reply,
    message_of,
    when_to_retry,
)
from ..exceptions import (
    ArchiveRefusedError,
    AuthenticationError,
    BackendError,
    ConfigurationError,
    ForeignOriginError,
    InvalidQueryError,
    PagingError,
    QuotaExceededError,
)
from ..http_io import (
    Credentials,
    OriginBoundAuth,
    make_session,
    redact_url,
    safe_origin,
    split_userinfo,
)
from ..logs import get_logger
from ..product import Availability, Product
from ..query import Query
from .paging import MAX_PAGES, TRAIL, Background, too_many_pages
from .spec import BackendSpec, specs

__all__ = ["Backend", "SearchPage"]

logger = get_logger(__name__)


@dataclasses.dataclass
class SearchPage:
    """One page of results.

    ``next_token`` is opaque to callers: a URL, a page number or a POST body serialised by the
    backend; hand it back to :meth:`Catalogue.search_page` to get the following page.
    """

    products: list[Product]
    matched: int | None
    next_token: str | None = None


class Account:
    """An account on one server: its credentials, the sessions that carry them, and the
    origins they may be sent to (nowhere else)."""

    #: Registry name (``peps``, ``geodes``...).
    name: ClassVar[str]

    def __init__(
        self,
        base_url: str,
        *,
        credentials: Credentials | None = None,
        trusted_origins: Sequence[str] = (),
        session: requests.Session | None = None,
        verify: bool | str = True,
        timeout: float = 60.0,
    ) -> None:
        """Args:
        base_url: the server's base URL. A ``user:password@`` part is taken out (it would
            show in every message) and used as the credentials when none are given.
        credentials: the account; sent only to :attr:`credential_origins`.
        trusted_origins: extra ``scheme://host[:port]`` origins (mirrors) the credentials
            may go to; none by default.
        session: a session for searches (its headers, proxies and ``verify`` are carried
            over to the credential-bearing sessions).
        verify: TLS verification; on by default.
        timeout: seconds to wait for a reply (connect and between bytes).

        Raises:
            ConfigurationError: ``base_url`` or a trusted origin is not an http(s) URL.
        """
        clean, userinfo = split_userinfo(base_url.strip())
        self.base_url = clean.rstrip("/")
        if credentials is None and userinfo is not None:
            credentials = Credentials(username=userinfo[0], password=userinfo[1])
        self.credentials = credentials or Credentials()
        #: Where the credentials may be sent (scheme://host:port), and nowhere else.
        try:
            self.credential_origins = self.spec.credential_origins(self.base_url, trusted_origins)
        except ValueError as exc:
            raise ConfigurationError(f"{self.spec.label} server: {exc}") from None
        self.session = session or make_session(verify=verify)
        self.timeout = timeout
        self._auth = OriginBoundAuth(self.credentials, self.credential_origins, self.spec.auth)

    @property
    def spec(self) -> BackendSpec:
        """This server's record (a generic one for unregistered classes)."""
        known = specs().get(self.name)
        if known is not None and known.backend_class.endswith(f":{type(self).__name__}"):
            return known
        return BackendSpec(
            name=self.name,
            label=self.name.upper(),
            backend_class=f"{type(self).__module__}:{type(self).__name__}",
            default_url="",
            provider=self.name,
            page_cap=getattr(self, "max_page_size", Catalogue.max_page_size),
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.base_url!r})"

    @property
    def credentials_hint(self) -> str:
        """What to check when the server refuses the credentials (ends every refusal): the
        place they came from (``-a`` file, variable, eodag.yml), else how to set them."""
        return self.spec.refused_help(self.credentials.source)

    def _bound_session(self, kind: str) -> requests.Session:
        key = f"_{kind}_session"
        session: requests.Session | None = self.__dict__.get(key)
        if session is None:
            session = make_session(
                kind,  # type: ignore[arg-type]
                auth=self._auth,
                template=self.session,
            )
            self.__dict__[key] = session
        return session

    @property
    def archive_session(self) -> requests.Session:
        """The session for archive requests (downloads, restores), credentials attached.

        It retries failed connections only: what a status means for an archive request (a 503
        with ``Retry-After: 60`` may just say "still on tape") is the staging downloader's call,
        and transport-level retries would hide it, or sleep for minutes.
        """
        return self._bound_session("archive")

    @property
    def service_session(self) -> requests.Session:
        """Credential-bearing session for idempotent service calls (job status, results)."""
        return self._bound_session("search")

    @property
    def submit_session(self) -> requests.Session:
        """Credential-bearing session that never resends a request whose reply was lost."""
        return self._bound_session("submit")

    def check_origin(self, url: str, what: str) -> str:
        """``url`` if the credentials may go there; else refuse before anything is sent.

        Links come from server replies and from results files users edit; a request that
        needs the account must not follow one to another host, or from https to http.

        Raises:
            ForeignOriginError: ``url`` is not one of :attr:`credential_origins`.
        """
        if not self._auth.allows(url):
            shown = redact_url(url)[:200]
            raise ForeignOriginError(
                f"{what}: refused to send the {self.spec.label} {self.spec.credential_words} "
                f"to {shown!r}, which is not the {self.spec.label} server "
                f"({', '.join(sorted(self.credential_origins))}); to trust a mirror, add its "
                f"origin to EODAG__{self.spec.provider.upper()}__AUTH__TRUSTED_ORIGINS"
            )
        return url

    def require_credentials(self, what: str) -> None:
        """Raise before sending a request the server would refuse without the account.

        Raises:
            AuthenticationError: the credentials this server needs are not configured.
        """
        creds, spec = self.credentials, self.spec
        if (spec.auth == "basic" and creds.basic is None) or (
            spec.auth == "apikey" and not creds.api_key
        ):
            need = "a username and password" if spec.auth == "basic" else "an API key"
            raise AuthenticationError(
                f"{what}: you need {need} for {spec.label}: {spec.credentials_help()}"
            )

    def describe(self) -> dict[str, Any]:
        """What a user may want to know in ``--help``/logs (never secrets)."""
        return {"backend": self.name, "url": self.base_url}


_C = TypeVar("_C", bound="Catalogue")


class Catalogue(abc.ABC):
    """A searchable catalogue: pages of products for a query."""

    #: Registry name (``peps``, ``geodes``...).
    name: ClassVar[str]
    #: The largest page the server honours; larger requests are capped silently by servers.
    max_page_size: ClassVar[int] = 500
    default_page_size: ClassVar[int] = 100
    #: Server pages one search may read before :class:`~.paging.PagingError` (see
    #: :mod:`.paging`); an attribute so tests can lower it on an instance.
    max_pages: int = MAX_PAGES

    @abc.abstractmethod
    def search_page(
        self, query: Query, *, limit: int | None = None, page: int = 1, token: str | None = None
    ) -> SearchPage:
        """Fetch one page: page number ``page``, or the page ``token`` points to."""

    def search(
        self, query: Query, *, limit: int | None = None, max_items: int | None = None
    ) -> Iterator[Product]:
        """Every matching product, following the server's paging until exhausted.

        Raises:
            PagingError: paging does not end (see :mod:`.paging`; ``search_page`` bounds the
                server's pages, and a token handed out twice is refused here too).
        """
        size = min(limit or self.max_page_size, self.max_page_size)
        if max_items is not None:
            size = max(1, min(size, max_items))
        yielded = 0
        # The latest tokens only: memory stays flat over a million products. Our backends'
        # tokens carry the walk (pages read, recent requests), so they never repeat and
        # :class:`~.paging.Walk` catches cycles; this catches a backend whose tokens do not.
        tokens: collections.deque[str] = collections.deque(maxlen=TRAIL)
        page = self.search_page(query, limit=size)
        for _ in range(self.max_pages):
            following: Background[SearchPage] | None = None
            more = bool(page.next_token and page.products)
            repeated = more and page.next_token in tokens
            if (
                more
                and not repeated
                and (max_items is None or yielded + len(page.products) < max_items)
            ):
                # The next page is read and mapped while the caller reads this one: the
                # server's time and ours overlap instead of adding up.
                following = Background(
                    functools.partial(self.search_page, query, limit=size, token=page.next_token)
                )
            for product in page.products:
                yield product
                yielded += 1
                if max_items is not None and yielded >= max_items:
                    return
            if repeated:
                raise PagingError(f"{self.name} search: paging came back to a page already read")
            if not more:
                return
            assert page.next_token is not None
            tokens.append(page.next_token)
            if following is None:  # not started: the caller was expected to stop in this page
                page = self.search_page(query, limit=size, token=page.next_token)
            else:
                page = following.result()
        raise too_many_pages(f"{self.name} search", self.max_pages)

    def count(self, query: Query) -> int | None:
        """How many products match, from the server's count (one small request)."""
        return self.search_page(query, limit=1).matched

    def check(self, query: Query) -> None:  # noqa: B027 - a server that takes every field
        """Refuse what this server cannot express, without sending anything: validation
        (EODAG's ``validate``, ``list_queryables``) asks the same translation searches use.

        Raises:
            InvalidQueryError: a field or value this server cannot search on.
        """

    def sorted_by(self: _C, sort: Sequence[tuple[str, str]]) -> _C:
        """This server, searching in the order ``sort`` gives (``(field, "asc"|"desc")``).

        Raises:
            InvalidQueryError: the server cannot sort its searches that way.
        """
        raise InvalidQueryError(
            f"sortby: {self.name.upper()} searches cannot be sorted (its server has no sort "
            "parameter); sort the items yourself, e.g. sorted(search.items(), key=...)"
        )

    def collection_documents(self) -> list[dict[str, Any]]:
        """The server's collections as STAC collection documents (``id``, ``title``...).

        Raises:
            BackendError: the server's list could not be read.
        """
        raise NotImplementedError(f"{self.name} does not list its collections")


class Archive(abc.ABC):
    """Where the bytes of products are: availability, restores from tape, downloads.

    All the staging downloader needs, and picklable (transfers may run in other processes).
    """

    #: Where this archive's credentials may go (``scheme://host:port``): a refusal for a link
    #: there is about the account, one for a link elsewhere is about that link.
    credential_origins: frozenset[str]

    @property
    @abc.abstractmethod
    def credentials_hint(self) -> str:
        """What to check when the archive refuses the credentials (ends every refusal)."""

    @abc.abstractmethod
    def availability(self, products: Sequence[Product]) -> dict[str, Availability]:
        """Current availability of many products, keyed by ``Product.id``.

        Implementations must batch: a few requests for the whole list, never one per product,
        because the staging downloader polls this in a loop.
        """

    #: True when a download request of an offline product itself starts its restore (PEPS):
    #: the staging downloader then need not send a separate restore request after one.
    download_starts_restore: ClassVar[bool] = False

    #: Whether asking can bring an offline product online. GEODES's API cannot (EODAG PR
    #: #2154): its "restore request" is only a probe, so no restore is recorded in the ledger
    #: for it (a restore asked of another source for the same product must not count).
    restores: ClassVar[bool] = True

    #: Why this archive refuses a product (HTTP 410 Gone), when the server documents or is
    #: known for it; the server's own words follow it in the report.
    refusal_meaning: ClassVar[str] = ""
    #: What a user can do about a product this archive refuses.
    refusal_advice: ClassVar[str] = (
        "get it from another source that has it (another backend or EODAG provider)"
    )

    def refusal_reason(self, verdict: ArchiveReply) -> str:
        """A refused product's reason, in the report's words: only what the archive said,
        then what the user can do. (The one place this sentence is made.)"""
        said = f"HTTP {verdict.status} {http.HTTPStatus(verdict.status).phrase}"
        meaning = f": {self.refusal_meaning}" if self.refusal_meaning else ""
        detail = f"; the server said: {message_of(verdict.detail)}" if verdict.detail else ""
        return f"this archive will not serve it ({said}{meaning}{detail}); {self.refusal_advice}"

    #: What a 429 from this archive means, in words (GEODES: its download quota is spent).
    too_many_requests: ClassVar[str] = "too many requests"

    def quota_reason(self, verdict: ArchiveReply) -> str:
        """A 429 in words: what it means here, and when the server said to retry."""
        return (
            f"{self.too_many_requests} (HTTP 429 Too Many Requests); "
            f"{when_to_retry(verdict.retry_after)}"
        )

    def restore_reply(self, response: requests.Response, what: str) -> Availability | None:
        """What the reply to a restore request (a one-byte download) says, through the one
        archive-reply classifier.

        Returns:
            ``ONLINE`` if it is archive bytes, ``STAGING`` if the server accepted the request
            (HTTP 202), else ``None``: the request was sent and the reply was not the product,
            which says nothing about a restore.

        Raises:
            ArchiveRefusedError: the archive will not serve the product (HTTP 410 Gone).
            AuthenticationError: the credentials were refused (status or error message).
            QuotaExceededError: HTTP 429.
            BackendError: a server error (500, 502, 504; a 503 means "not online yet").
        """
        verdict = classify_archive_reply(response)
        status = verdict.status
        if verdict.kind is ReplyKind.REFUSED:
            raise ArchiveRefusedError.from_response(self.refusal_reason(verdict), response)
        if verdict.kind is ReplyKind.AUTH:
            detail = f": {verdict.detail}" if verdict.detail else ""
            raise AuthenticationError.from_response(
                f"{what}: credentials refused ({verdict.reason}{detail}); {self.credentials_hint}",
                response,
                status_code=verdict.code,
            )
        if verdict.kind is ReplyKind.TRANSIENT and status == 429:
            raise QuotaExceededError.from_response(
                f"{what}: {self.quota_reason(verdict)}", response
            )
        if verdict.kind is ReplyKind.TRANSIENT and status in (500, 502, 504):
            raise BackendError.from_response(f"{what}: {verdict.reason}", response)
        if verdict.is_archive and response.raw.read(1):
            return Availability.ONLINE
        return Availability.STAGING if status == 202 else None

    @abc.abstractmethod
    def request_restore(self, product: Product) -> Availability | None:
        """Ask the archive to bring an offline product back online (idempotent).

        May return what the reply revealed (``ONLINE`` if the archive served data, ``STAGING``
        if it accepted the request), or ``None`` when the reply says nothing about it.
        """

    @abc.abstractmethod
    def open_download(
        self,
        product: Product,
        *,
        offset: int = 0,
        if_range: str | None = None,
        end: int | None = None,
    ) -> requests.Response:
        """Start a streamed GET of the archive, from byte ``offset`` when resuming, up to
        byte ``end`` (exclusive) when only a part is wanted (members of the zip).

        The caller checks status, headers and body: servers answer many things that are not
        the product (JSON messages, empty bodies), and only the caller knows what it expected.
        """


class Backend(Account, Catalogue, Archive):
    """A server that is catalogue, archive and account at once, speaking one protocol."""

    def sibling(self, base_url: str) -> Backend:
        """The same kind of server at ``base_url``, a URL read from a file (a job store, a
        results file): it gets this backend's credentials only if ``base_url`` is one of this
        backend's credential origins, so an edited file cannot redirect the account."""
        trusted = safe_origin(base_url) in self.credential_origins
        return type(self)(
            base_url,
            credentials=self.credentials if trusted else None,
            trusted_origins=sorted(self.credential_origins) if trusted else (),
            session=self.session,
            timeout=self.timeout,
        )
