"""pystac-client-style entry point: ``Client.open("peps").search(...).items()``.

The same search vocabulary as pystac-client (collections, bbox, intersects, datetime, query,
ids, max_items, limit), translated to the unified query, so code written for a STAC API
works against PEPS, and the same code moves to GEODES by changing one name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

import requests

from . import vocabulary
from .backends import Backend, specs
from .eodag_support import open_backend
from .exceptions import InvalidQueryError, UnknownBackendError
from .http_io import Credentials, make_session, redact_url
from .item_search import ItemSearch
from .query import Query
from .vocabulary import shown

DatetimeLike = str | date | datetime | Sequence[str | date | datetime | None] | None


class Client:
    """A backend opened by name (``peps``, ``geodes``) or by URL."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def __repr__(self) -> str:
        return f"<Client {self.backend.name} {self.backend.base_url}>"

    @classmethod
    def open(
        cls,
        url: str = "peps",
        *,
        backend: str | None = None,
        credentials: Credentials | None = None,
        verify: bool | str = True,
    ) -> Client:
        """Open a backend by name, or a server URL whose kind is detected.

        Args:
            url: a backend name (``peps``, ``geodes``: the provider's configured endpoint,
                ``EODAG__<PROVIDER>__SEARCH__API_ENDPOINT`` or eodag.yml, else the public
                server), or an http(s) base URL.
            backend: the kind of server at ``url``, when detection should be skipped.
            credentials: the account; default: the provider's EODAG credentials. They are
                sent only to the server's own origin (and ``trusted_origins`` in the config).
            verify: TLS verification (on by default).

        Returns:
            A client for that server.

        Raises:
            UnknownBackendError: ``url`` is neither a backend name nor a server of a known kind.
        """
        if url in specs():
            return cls(open_backend(url, credentials=credentials, verify=verify))
        if not re.match(r"^https?://", url):
            raise UnknownBackendError(
                f"{url[:200]!r} is neither a backend name ({', '.join(sorted(specs()))}) nor "
                "an http(s) URL"
            )
        name, base = (backend, url) if backend else _detect(url, verify)
        return cls(open_backend(name, base, credentials=credentials, verify=verify))

    @property
    def url(self) -> str:
        return self.backend.base_url

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
            **extra: any other query field in any spelling of the vocabulary (``tile=``,
                ``location=``, ``relative_orbit=``, ``platform="sentinel-2a"``...).

        Returns:
            An :class:`ItemSearch`; nothing is sent before its results are read.

        Raises:
            InvalidQueryError: one line naming the parameter and the fault.
        """
        for name, value, low in (("max_items", max_items, 0), ("limit", limit, 1)):
            if value is not None and (
                not isinstance(value, int) or isinstance(value, bool) or value < low
            ):
                raise InvalidQueryError(f"{name}: {shown(value)} is not a whole number >= {low}")
        start, end = vocabulary.datetime_interval(datetime)
        fields: dict[str, Any] = {
            "bbox": bbox,
            "intersects": intersects,
            "start_datetime": start,  # another spelling than start=: both given is refused
            "end_datetime": end,
            "ids": ids,
            **extra,
        }
        for key, value in vocabulary.stac_query_fields(query).items():
            fields[f"query {key}"] = value
        if isinstance(collections, str) or collections is None:
            names: list[Any] = [collections]
        elif isinstance(collections, Sequence) and collections:
            names = list(collections)
        else:
            raise InvalidQueryError(
                f"collections: {shown(collections)} is not a name or a list of names"
            )
        merged = _merge(fields)
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
        return ItemSearch(self.backend, queries, max_items=max_items, limit=limit)


def _merge(fields: dict[str, Any]) -> dict[str, Any]:
    """The ``query`` extension's filters beside the keyword ones: the same field given both
    ways with different values is refused by the vocabulary, not silently overwritten."""
    plain = {k: v for k, v in fields.items() if not k.startswith("query ")}
    merged = vocabulary.unified_fields(plain, Query.same_value)
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
