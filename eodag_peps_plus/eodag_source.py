"""Any EODAG provider the user has configured, as a fallback source (``eodag:NAME``).

Products are looked up by name through EODAG's own search for that provider, and their bytes
come from the link EODAG's search gave, with the credentials EODAG's own auth plugin for that
provider builds: this package never reads that provider's credentials. The GET itself is ours
(not EODAG's ``stream_download``) because the staging downloader resumes with ``Range`` and
checks zip members with partial reads, which EODAG's stream cannot do; verification and the
ledger are then the same as for every other archive.

Availability is only what EODAG's product says (``order:status``, the one vocabulary of
:meth:`Availability.from_properties`). Nothing is ordered: an offline copy is reported as
such and never fetched (see :func:`~eodag_peps_plus.fallback.download_with_fallback`).
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

import requests

from .backends.base import SearchPage
from .backends.spec import BackendSpec
from .exceptions import (
    AuthenticationError,
    BackendError,
    ConfigurationError,
    ForeignOriginError,
    InvalidQueryError,
)
from .fallback import Source
from .http_io import archive_headers, make_session, redact_url, safe_origin
from .product import Availability, Product
from .query import Query

if TYPE_CHECKING:
    from eodag import EODataAccessGateway
    from eodag.api.product import EOProduct

__all__ = ["PREFIX", "EodagSource", "open_eodag_source"]

#: How a fallback names an EODAG provider (``--fallback eodag:cop_dataspace``).
PREFIX = "eodag:"
#: The download plugins whose links are plain HTTP(S) GETs this module can resume.
HTTP_PLUGINS = ("HTTPDownload",)
#: Redirect hops one download may follow.
MAX_REDIRECTS = 10
#: Checksums in STAC ``file:checksum`` are multihashes; ``d510`` is MD5 (16 bytes).
_MD5_MULTIHASH = "d510"


def _md5(value: Any) -> str | None:
    text = str(value or "").lower()
    if text.startswith(_MD5_MULTIHASH) and len(text) == 36:
        return text[4:]
    return None


def _size(value: Any) -> int | None:
    try:
        size = int(value)
    except (TypeError, ValueError):
        return None
    return size if size > 0 else None


class EodagSource(Source):
    """One provider of an EODAG gateway, as a catalogue searched by product name and an
    archive of plain HTTP downloads.

    Args:
        dag: the gateway, configured as the user likes (``eodag.yml``, ``add_provider``...).
        provider: the provider's name in that gateway.
        timeout: seconds to wait for a reply (connect and between bytes).

    Raises:
        ConfigurationError: the gateway has no such provider.
    """

    name = "eodag"

    def __init__(self, dag: EODataAccessGateway, provider: str, *, timeout: float = 60.0) -> None:
        if provider not in dag.providers:
            raise ConfigurationError(
                f"{PREFIX}{provider}: EODAG has no such provider (configured: "
                f"{', '.join(sorted(dag.providers))})"
            )
        self.dag = dag
        self.provider = provider
        self.timeout = timeout
        self.session = make_session("archive")
        self._found: dict[str, EOProduct] = {}
        conf = dag.providers[provider].config
        urls = [getattr(conf, "url", None)]
        for topic in ("search", "api", "download", "auth"):
            plugin_conf = getattr(conf, topic, None)
            for key in ("api_endpoint", "base_uri", "matching_url"):
                urls.append(getattr(plugin_conf, key, None))
        #: Where EODAG's credentials for this provider may go, and nowhere else.
        self.credential_origins = frozenset(
            o for o in (safe_origin(u) for u in urls if isinstance(u, str) and u) if o
        )

    @property
    def spec(self) -> BackendSpec:
        """A record for messages: the source is named ``eodag:PROVIDER`` in reports."""
        label = f"{PREFIX}{self.provider}"
        return BackendSpec(
            name=label, label=label, backend_class="", default_url="", provider=self.provider
        )

    @property
    def credentials_hint(self) -> str:
        return (
            f"check the credentials of the EODAG provider {self.provider!r} "
            f"(eodag.yml or EODAG__{self.provider.upper()}__AUTH__CREDENTIALS__...)"
        )

    def __repr__(self) -> str:
        return f"EodagSource({self.provider!r})"

    # -- catalogue: by name only -----------------------------------------------------------------
    def _lookup(self, name: str) -> EOProduct | None:
        try:
            with warnings.catch_warnings():  # EODAG 4's id search calls its own deprecated API
                warnings.simplefilter("ignore", DeprecationWarning)
                results = self.dag.search(provider=self.provider, id=name, raise_errors=True)
        except Exception as exc:  # EODAG's errors are many classes; one message for the user
            raise BackendError(f"{self.spec.label}: search for {name} failed: {exc}") from None
        for eo in results[:10]:  # an id search; bounded whatever the server sends
            if eo.properties.get("title") == name or eo.properties.get("id") == name:
                return eo
        return None

    def _product(self, eo: EOProduct, name: str) -> Product:
        props = dict(eo.properties)
        asset = next((dict(a) for a in eo.assets.values() if "data" in (a.get("roles") or [])), {})
        return Product(
            id=name,
            native_id=str(props.get("id") or name),
            backend=self.spec.name,
            geometry=eo.geometry.__geo_interface__ if eo.geometry is not None else {},
            properties=props,
            download_url=str(eo.remote_location or ""),
            size=_size(props.get("file:size") or asset.get("file:size")),
            md5=_md5(props.get("file:checksum") or asset.get("file:checksum")),
            availability=Availability.from_properties(props),
        )

    def search_page(
        self, query: Query, *, limit: int | None = None, page: int = 1, token: str | None = None
    ) -> SearchPage:
        """The products named by ``query.identifiers`` (one EODAG search each).

        Raises:
            InvalidQueryError: the query does not name products.
        """
        if not query.identifiers:
            raise InvalidQueryError(f"{self.spec.label}: only searches by product name")
        products = []
        for name in query.identifiers:
            eo = self._lookup(name)
            if eo is not None:
                self._found[name] = eo
                products.append(self._product(eo, name))
        return SearchPage(products, len(products))

    # -- archive ---------------------------------------------------------------------------------
    def availability(self, products: Sequence[Product]) -> dict[str, Availability]:
        """What EODAG's search says now (EODAG has no batch status call: one search each)."""
        found = self.search_page(Query.create(identifiers=[p.id for p in products]))
        now = {p.id: p.availability for p in found.products}
        return {p.id: now.get(p.id, Availability.UNKNOWN) for p in products}

    restores = False  # nothing is ordered through this adapter (yet)

    def request_restore(self, product: Product) -> Availability | None:
        return None

    def _auth(self, product: Product) -> Any:
        eo = self._found.get(product.id)
        if eo is None:
            eo = self._lookup(product.id)
            if eo is None:
                raise BackendError(f"{self.spec.label}: {product.id} is no longer found")
            self._found[product.id] = eo
        kind = type(eo.downloader).__name__
        if kind not in HTTP_PLUGINS:
            raise ConfigurationError(
                f"{self.spec.label}: its download plugin {kind} is not one this package can "
                f"resume ({', '.join(HTTP_PLUGINS)})"
            )
        return eo.downloader_auth.authenticate() if eo.downloader_auth is not None else None

    def open_download(
        self,
        product: Product,
        *,
        offset: int = 0,
        if_range: str | None = None,
        end: int | None = None,
    ) -> requests.Response:
        """A streamed GET of EODAG's link with EODAG's auth, following redirects one hop at a
        time: the credentials go only to the provider's configured origins (whatever headers
        EODAG's auth plugin sets, none is carried to another host).

        Raises:
            ForeignOriginError: EODAG's link itself is on another origin.
            AuthenticationError: the redirects do not end (how GEODES-like servers refuse a
                wrong key).
        """
        url = product.download_url
        auth = self._auth(product)
        if auth is not None and safe_origin(url) not in self.credential_origins:
            raise ForeignOriginError(
                f"{self.spec.label}: refused to send its EODAG credentials to "
                f"{redact_url(url)[:200]!r}, not one of the provider's configured origins "
                f"({', '.join(sorted(self.credential_origins))})"
            )
        headers = archive_headers(offset, if_range, end)
        for _ in range(MAX_REDIRECTS + 1):
            bound = auth if safe_origin(url) in self.credential_origins else None
            response = self.session.get(
                url, auth=bound, headers=headers, stream=True, timeout=self.timeout,
                allow_redirects=False,
            )  # fmt: skip
            location = response.headers.get("Location")
            if not response.is_redirect or not location:
                return response
            response.close()
            url = urljoin(url, location)
        raise AuthenticationError(
            f"{self.spec.label}: {product.id}: more than {MAX_REDIRECTS} redirects, which is "
            f"how some servers refuse a wrong or expired key; {self.credentials_hint}"
        )


@functools.cache
def _gateway() -> EODataAccessGateway:
    from eodag import EODataAccessGateway

    return EODataAccessGateway()


def open_eodag_source(name: str, dag: EODataAccessGateway | None = None) -> EodagSource:
    """``eodag:NAME`` (or ``NAME``) as a source: the provider of ``dag``, by default of an
    EODAG gateway configured as EODAG configures itself (its provider files and plugins,
    ``eodag.yml``, ``EODAG__...`` variables), made once per process.

    Raises:
        ConfigurationError: EODAG has no such provider.
    """
    return EodagSource(dag if dag is not None else _gateway(), name.removeprefix(PREFIX))
