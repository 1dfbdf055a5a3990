"""pystac-client-style entry point: ``Client.open("peps").search(...).items()``.

The same search vocabulary as pystac-client (collections, bbox, intersects, datetime, query,
ids, max_items, limit), translated to the unified query, so code written for a STAC API
works against PEPS, and the same code moves to GEODES by changing one name.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import pystac
import requests

from . import vocabulary
from .backends import Backend, open_backend, specs
from .collection_search import CollectionSearch
from .discovery import searchable_collections
from .exceptions import InvalidQueryError, UnknownBackendError
from .http_io import Credentials, make_session, redact_url
from .item_search import ItemSearch, Modifier
from .product import Product
from .query import Query, unified_fields
from .stac_params import (
    FieldsLike,
    FilterLike,
    SortbyLike,
    format_fields,
    format_filter,
    format_sortby,
)
from .vocabulary import shown

if TYPE_CHECKING:
    from .staging import StagingOptions
    from .staging.report import DownloadReport

__all__ = ["Client", "DatetimeLike", "ItemsLike"]

DatetimeLike = str | date | datetime | Sequence[str | date | datetime | None] | None
#: What :meth:`Client.download` takes.
ItemsLike = (
    str
    | os.PathLike[str]
    | pystac.ItemCollection
    | pystac.Item
    | Mapping[str, Any]
    | Iterable[pystac.Item | Mapping[str, Any] | Product]
)
_API = "https://api.stacspec.org/v1.0.0"
#: What this client implements whatever the server (sort depends on the server).
_CONFORMANCE = (
    f"{_API}/core",
    f"{_API}/item-search",
    f"{_API}/item-search#query",
    f"{_API}/item-search#fields",
    f"{_API}/item-search#filter",
    f"{_API}/collections",
    f"{_API}/collection-search",
    f"{_API}/collection-search#free-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
)
_SORT = f"{_API}/item-search#sort"
#: pystac-client's ``ConformanceClasses`` by name -> how their URIs end.
_ENDINGS = {
    "CORE": "/core",
    "COLLECTIONS": "/collections",
    "ITEM_SEARCH": "/item-search",
    "FIELDS": "/item-search#fields",
    "SORT": "/item-search#sort",
    "QUERY": "/item-search#query",
    "FILTER": "/item-search#filter",
    "COLLECTION_SEARCH": "/collection-search",
    "COLLECTION_SEARCH_FREE_TEXT": "/collection-search#free-text",
}
#: Headers that carry an account: refused in ``headers=`` (they would follow every link).
_CREDENTIAL_HEADERS = frozenset({"authorization", "x-api-key", "cookie", "proxy-authorization"})


class Client:
    """A backend opened by name (``peps``, ``geodes``) or by URL."""

    def __init__(self, backend: Backend, *, modifier: Modifier | None = None) -> None:
        self.backend = backend
        self.modifier = modifier

    def __repr__(self) -> str:
        return f"<Client {self.backend.name} {self.backend.base_url}>"

    @classmethod
    def open(
        cls,
        url: str | None = None,
        *,
        backend: str | None = None,
        credentials: Credentials | None = None,
        verify: bool | str = True,
        headers: Mapping[str, str] | None = None,
        modifier: Modifier | None = None,
        timeout: float | None = None,
        parameters: Mapping[str, Any] | None = None,
        request_modifier: Any = None,
        stac_io: Any = None,
        ignore_conformance: bool | None = None,
    ) -> Client:
        """Open a backend by name, or a server URL whose kind is detected.

        Args:
            url: a backend name (``geodes``, ``peps``; default: the default backend, GEODES;
                each at the provider's configured endpoint,
                ``EODAG__<PROVIDER>__SEARCH__API_ENDPOINT`` or eodag.yml, else the public
                server), or an http(s) base URL.
            backend: the kind of server at ``url``, when detection should be skipped.
            credentials: the account; default: the provider's EODAG credentials. They are
                sent only to the server's own origin (and ``trusted_origins`` in the config).
            verify: TLS verification (on by default).
            headers: extra HTTP headers sent with every request (not credentials: those go
                in ``credentials``, which are bound to the server's origin).
            modifier: called on every item, collection and their dicts before they are
                handed out, to change them in place (pystac-client's hook).
            timeout: seconds to wait for a reply.
            parameters: not supported (pystac-client's extra query parameters: requests
                here are each server's own dialect).
            request_modifier: not supported (requests are each server's own dialect).
            stac_io: not supported (the backend does the HTTP).
            ignore_conformance: accepted for compatibility (conformance is this client's).

        Returns:
            A client for that server.

        Raises:
            UnknownBackendError: ``url`` is neither a backend name nor a server of a known kind.
            InvalidQueryError: a credential header in ``headers``.
            NotImplementedError: ``parameters``, ``request_modifier`` or ``stac_io`` given.
        """
        del ignore_conformance
        _refuse_open_arguments(parameters, request_modifier, stac_io, headers)
        opened = _open_url(url, backend, credentials, verify)
        if headers:
            opened.session.headers.update(headers)
        if timeout is not None:
            opened.timeout = timeout
        return cls(opened, modifier=modifier)

    @property
    def url(self) -> str:
        return self.backend.base_url

    # -- collections -----------------------------------------------------------------------
    def _collection(self, document: Mapping[str, Any]) -> pystac.Collection:
        collection = pystac.Collection.from_dict(dict(document), preserve_dict=True)
        if self.modifier is not None:
            self.modifier(collection)
        return collection

    def get_collections(self) -> Iterator[pystac.Collection]:
        """The server's collections that :meth:`search` can search (GEODES: its collections
        endpoint; PEPS: its documented ``S1``, ``S2``, ``S2ST``, ``S3``).

        Raises:
            BackendError: the server's list could not be read.
        """
        for document in searchable_collections(self.backend):
            yield self._collection(document)

    def get_collection(self, collection_id: str) -> pystac.Collection:
        """One collection by the server's name (``PEPS_S2_L1C``, ``S2ST``).

        Raises:
            InvalidQueryError: the server has no searchable collection of that name.
        """
        documents = searchable_collections(self.backend)
        for document in documents:
            if document["id"] == collection_id:
                return self._collection(document)
        raise InvalidQueryError(
            f"no collection {shown(collection_id)} on {self.backend.spec.label}; it has: "
            f"{', '.join(str(d['id']) for d in documents)}"
        )

    def collection_search(
        self,
        *,
        q: str | Sequence[str] | None = None,
        bbox: Sequence[float] | None = None,
        datetime: DatetimeLike = None,
        max_collections: int | None = 10,
        limit: int | None = None,
        **unsupported: Any,
    ) -> CollectionSearch:
        """pystac-client's collection search, done here over the server's (short) list as
        pystac-client does for servers without the extension: free text, box, time.

        Raises:
            NotImplementedError: ``query``, ``filter``, ``sortby`` or ``fields`` (no server
                here filters collections; filter ``get_collections()`` yourself).
        """
        del limit
        given = sorted(k for k, v in unsupported.items() if v is not None)
        if given:
            raise NotImplementedError(
                f"collection_search({', '.join(given)}=...): only q, bbox and datetime are "
                "supported here; filter get_collections() yourself"
            )
        start, end = vocabulary.datetime_interval(datetime)
        return CollectionSearch(
            list(self.get_collections()), q=q, bbox=bbox, interval=(start, end),
            max_collections=max_collections,
        )  # fmt: skip

    # -- conformance -----------------------------------------------------------------------
    def get_conforms_to(self) -> list[str]:
        """The STAC API conformance classes this client implements for this server (the
        server's own may differ: requests are translated)."""
        classes = list(_CONFORMANCE)
        try:
            self.backend.sorted_by((("datetime", "asc"),))
        except InvalidQueryError:
            return classes
        return [*classes, _SORT]

    def conforms_to(self, *conformance_classes: Any) -> bool:
        """Whether every class given (pystac-client's ``ConformanceClasses``, their names
        such as ``"ITEM_SEARCH"``, or URIs) is implemented here."""
        mine = self.get_conforms_to()
        for wanted in conformance_classes:
            name = str(getattr(wanted, "name", wanted))
            ending = _ENDINGS.get(name.upper(), str(getattr(wanted, "value", wanted)))
            if not any(c.endswith(ending) for c in mine):
                return False
        return True

    # -- items -----------------------------------------------------------------------------
    def get_items(self, *ids: str, recursive: bool | None = None) -> Iterator[pystac.Item]:
        """Items by product identifier (ESA names), any collection.

        Raises:
            InvalidQueryError: an identifier that is not a name.
        """
        del recursive
        if not ids:
            raise NotImplementedError(
                "get_items() without ids would read the whole catalogue; use "
                "search(collections=..., max_items=...)"
            )
        return self.search(ids=list(ids)).items()

    def download(
        self,
        items: ItemsLike,
        output: str | os.PathLike[str],
        options: StagingOptions | None = None,
        **overrides: Any,
    ) -> DownloadReport:
        """Download products found earlier, restoring those on tape first (the staging of
        ``peps-plus download``, with its options and its report).

        Args:
            items: pystac items, an ``ItemCollection``, item dicts, products, or the path of a
                GeoJSON file (``peps-plus search --json``, ``eodag search``,
                ``item_collection().save_object(...)``).
            output: a folder, or an fsspec URL (``s3://bucket/prefix``).
            options: the staging settings (:class:`~eodag_peps_plus.staging.StagingOptions`);
                default: its defaults.
            **overrides: some of its fields (``timeout``, ``extract``, ``quiet``...).

        Returns:
            The report: ``report.ok``, ``report.paths``, ``print(report.format())``.

        Raises:
            InvalidQueryError: ``items`` cannot be read as products of this server.
            ConfigurationError: a setting out of its bounds.
            AuthenticationError: the archive refused the credentials.
        """
        from .eodag_plugins.convert import products_from_items
        from .staging import Downloader

        products = products_from_items(items, self.backend.name)
        downloader = Downloader(self.backend, os.fspath(output), options, **overrides)
        return downloader.download(products)

    def get_all_items(self) -> Iterator[pystac.Item]:
        raise NotImplementedError(
            "get_all_items() would read the whole catalogue; use search(collections=..., "
            "max_items=...)"
        )

    def search(
        self,
        *,
        collections: str | Sequence[str] | None = None,
        bbox: Sequence[float] | str | None = None,
        intersects: Mapping[str, Any] | str | None = None,
        datetime: DatetimeLike = None,
        query: Mapping[str, Any] | Sequence[str] | None = None,
        ids: str | Sequence[str] | None = None,
        max_items: int | None = None,
        limit: int | None = None,
        sortby: SortbyLike = None,
        fields: FieldsLike = None,
        filter: FilterLike = None,  # noqa: A002 - pystac-client's name
        filter_lang: str | None = None,
        method: str | None = None,
        **extra: Any,
    ) -> ItemSearch:
        """Search like ``pystac_client.Client.search``.

        Args:
            collections: one name or several, in PEPS (``S2ST``), EODAG (``S2_MSI_L1C``) or
                GEODES (``PEPS_S2_L1C``) spelling; several make one search each, chained.
            bbox: ``[lonmin, latmin, lonmax, latmax]`` (corners in either order).
            intersects: a GeoJSON geometry (or WKT).
            datetime: ``a/b``, ``../b``, ``a/..``, one instant, a pair, or a partial date.
            query: the STAC query extension on the queryable properties
                (:data:`eodag_peps_plus.vocabulary.QUERYABLES`).
            ids: product identifiers.
            max_items: stop after this many items.
            limit: page size asked of the server.
            sortby: ``"-eo:cloud_cover"``, ``["+datetime"]``... (PEPS cannot sort: refused).
            fields: what each item keeps: ``["-geometry"]`` or ``{"include": [...]}``.
            filter: CQL2 text or JSON: comparisons on the queryable properties, joined by
                AND, ``S_INTERSECTS`` and time intervals; anything else is refused by name.
            filter_lang: ``cql2-text`` or ``cql2-json`` (default: from ``filter``'s type).
            method: ``GET`` or ``POST``, accepted (each backend uses its server's method).
            **extra: any other query field in any spelling (``tile=``, ``location=``...).

        Returns:
            An :class:`ItemSearch`; nothing is sent before its results are read.

        Raises:
            InvalidQueryError: one line naming the parameter and the fault.
        """
        _check_paging(max_items, limit)
        start, end = vocabulary.datetime_interval(datetime)
        order, keep = format_sortby(sortby), format_fields(fields)
        given: dict[str, Any] = {
            "bbox": bbox, "intersects": intersects,
            "start_datetime": start,  # another spelling than start=: both given is refused
            "end_datetime": end, "ids": ids, **extra,
        }  # fmt: skip
        queries = _queries(collections, given, query, filter, filter_lang, method)
        return ItemSearch(
            self.backend, queries, max_items=max_items, limit=limit, sortby=order, fields=keep,
            modifier=self.modifier,
        )  # fmt: skip


def _refuse_open_arguments(
    parameters: Any, request_modifier: Any, stac_io: Any, headers: Mapping[str, str] | None
) -> None:
    """``Client.open``'s pystac-client arguments that have no meaning here, and credentials
    in ``headers`` (they would follow every link)."""
    for name, value, instead in (
        ("parameters", parameters, "give the search fields to search()"),
        ("request_modifier", request_modifier, "use headers= or modifier="),
        ("stac_io", stac_io, "use headers=, timeout= and verify="),
    ):
        if value is not None:
            raise NotImplementedError(
                f"Client.open({name}=...): requests here are translated to each server's "
                f"own dialect, so there is no STAC request to change; {instead}"
            )
    refused = sorted(k for k in headers or {} if k.lower() in _CREDENTIAL_HEADERS)
    if refused:
        raise InvalidQueryError(
            f"headers: {', '.join(refused)} would go to every host a link points to; "
            "give the account as credentials=, which is sent to the server only"
        )


def _open_url(
    url: str | None, backend: str | None, credentials: Credentials | None, verify: bool | str
) -> Backend:
    """The backend ``Client.open`` names: a backend name, or a URL of a known kind."""
    if url is None or url in specs():
        return open_backend(url, credentials=credentials, verify=verify)
    if not re.match(r"^https?://", url):
        raise UnknownBackendError(
            f"{url[:200]!r} is neither a backend name ({', '.join(sorted(specs()))}) nor "
            "an http(s) URL"
        )
    kind, base = (backend, url) if backend else _detect(url, verify)
    return open_backend(kind, base, credentials=credentials, verify=verify)


def _check_paging(max_items: Any, limit: Any) -> None:
    for name, value, low in (("max_items", max_items, 0), ("limit", limit, 1)):
        if value is not None and (
            not isinstance(value, int) or isinstance(value, bool) or value < low
        ):
            raise InvalidQueryError(f"{name}: {shown(value)} is not a whole number >= {low}")


def _collection_names(collections: Any) -> list[Any]:
    """``search``'s ``collections`` as a list of names, ``[None]`` for none."""
    if isinstance(collections, str) or collections is None:
        return [collections]
    if isinstance(collections, Sequence) and collections:
        names = list(collections)
        if None in names:  # [None] is not "no collection": it would search everything
            raise InvalidQueryError(
                f"collections: {shown(collections)} holds None, which names no collection "
                "(leave collections out to search without one)"
            )
        return names
    raise InvalidQueryError(f"collections: {shown(collections)} is not a name or a list of names")


def _queries(
    collections: Any,
    given: dict[str, Any],
    query: Mapping[str, Any] | Sequence[str] | None,
    filter: FilterLike,  # noqa: A002 - pystac-client's name
    filter_lang: str | None,
    method: str | None,
) -> list[Query]:
    """One query per collection named, from ``search``'s keyword fields (``given``, updated
    with the ``query`` and ``filter`` fields), in the order ``search`` checks them."""
    if method is not None and str(method).upper() not in ("GET", "POST"):
        raise InvalidQueryError(f"method: {shown(method)} is not GET or POST")
    for source in (vocabulary.stac_query_fields(query), format_filter(filter, filter_lang)):
        for key, value in source.items():
            if f"query {key}" in given and given[f"query {key}"] != value:
                raise InvalidQueryError(f"{key} given in both query and filter")
            given[f"query {key}"] = value
    names = _collection_names(collections)
    merged = _merge(given)
    queries = []
    for name in names:
        per = dict(merged)
        if name is not None:
            if per.get("collection", name) != name:
                raise InvalidQueryError(
                    f"collections and collection both given ({shown(name)} and "
                    f"{shown(per['collection'])})"
                )
            per["collection"] = name
        queries.append(Query.create(**per))
    return queries


def _merge(fields: dict[str, Any]) -> dict[str, Any]:
    """The ``query`` extension's filters beside the keyword ones: the same field given both
    ways with different values is refused by the vocabulary, not silently overwritten."""
    plain = {k: v for k, v in fields.items() if not k.startswith("query ")}
    merged = unified_fields(plain)
    for key, value in fields.items():
        if key.startswith("query "):
            field = key.removeprefix("query ")
            if field in merged and not Query.same_value(field, merged[field], value):
                raise InvalidQueryError(
                    f"{field} given twice with different values ({shown(merged[field])} "
                    f"and {shown(value)} in query)"
                )
            merged[field] = value
    return merged


def _detect(url: str, verify: bool | str) -> tuple[str, str]:
    """(backend name, base URL) for a server URL, from the probes in the backend records.

    A URL ending in a probe's path names that kind; otherwise probes run in registry order
    (resto first, since one host, the sandbox, may serve both)."""
    session = make_session(retries=1, verify=verify)
    root = redact_url(url).rstrip("/")
    probing = sorted(
        ((s.probe_order, name, s.probe) for name, s in specs().items() if s.probe),
        key=lambda entry: (entry[0], entry[1]),
    )
    for _, name, probe in probing:
        if probe.path != "/" and root.endswith(probe.path.rstrip("/")):
            return name, root[: -len(probe.path.rstrip("/"))]
    for _, name, probe in probing:
        try:
            response = session.get(root + probe.path, params=dict(probe.params), timeout=10)
            if response.ok and probe.key in response.json():
                return name, root
        except (requests.RequestException, ValueError, TypeError):
            continue
    labels = " nor as ".join(specs()[name].label for _, name, _ in probing)
    names = " or ".join(repr(name) for _, name, _ in probing)
    raise UnknownBackendError(f"{root[:200]} answers neither as {labels}; pass backend={names}")
