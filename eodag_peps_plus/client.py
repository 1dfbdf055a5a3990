"""pystac-client-style entry point: ``Client.open("peps").search(...).items()``.

The same search vocabulary as pystac-client (collections, bbox, intersects, datetime, query,
ids, max_items, limit), translated to the unified query, so code written for a STAC API
works against PEPS, and the same code moves to GEODES by changing one name.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

import requests

from .backends import Backend, specs
from .collection_names import resolve
from .eodag_support import open_backend
from .exceptions import InvalidQueryError, UnknownBackendError
from .http_io import Credentials, make_session, redact_url
from .item_search import ItemSearch
from .query import Query

DatetimeLike = str | date | datetime | Sequence[str | date | datetime | None] | None

#: STAC property -> (unified field, operators it can express)
_QUERYABLE: dict[str, tuple[str, tuple[str, ...]]] = {
    "eo:cloud_cover": ("max_cloud_cover", ("lt", "lte")),
    "grid:code": ("tile", ("eq",)),
    "sat:relative_orbit": ("relative_orbit", ("eq",)),
    "sat:absolute_orbit": ("orbit_number", ("eq",)),
    "sat:orbit_state": ("orbit_direction", ("eq",)),
    "platform": ("platform", ("eq",)),
    "product:type": ("product_type", ("eq",)),
    "sar:instrument_mode": ("sensor_mode", ("eq",)),
}
_QUERY_STRING = re.compile(r"^\s*([\w:]+)\s*(<=|>=|=|<|>)\s*(.+?)\s*$")
_OPS = {"=": "eq", "<": "lt", "<=": "lte", ">": "gt", ">=": "gte"}


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
        """Like ``pystac_client.Client.search``; ``extra`` takes unified query fields
        (``tile=``, ``location=``, ``relative_orbit=``...)."""
        if max_items is not None and max_items < 0:
            raise InvalidQueryError("max_items must be >= 0")
        if limit is not None and limit < 1:
            raise InvalidQueryError("limit must be >= 1")
        fields: dict[str, Any] = dict(extra)
        if bbox is not None:
            fields["bbox"] = bbox
        if intersects is not None:
            fields["geometry"] = intersects
        start, end = _interval(datetime)
        fields.update({k: v for k, v in (("start", start), ("end", end)) if v is not None})
        fields.update(_query_fields(query))
        if ids is not None:
            fields["identifiers"] = [ids] if isinstance(ids, str) else list(ids)
        names: list[str | None] = (
            [collections] if isinstance(collections, str) else list(collections or [])
        )
        queries = []
        for name in names or [None]:
            per = dict(fields)
            if name is not None:
                collection, product_type = resolve(name)
                per["collection"] = collection
                if product_type and "product_type" not in per:
                    per["product_type"] = product_type
            queries.append(Query.create(**per))
        return ItemSearch(self.backend, queries, max_items=max_items, limit=limit)


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


def _interval(value: DatetimeLike) -> tuple[Any, Any]:
    """STAC ``datetime``: ``a/b``, ``../b``, ``a/..``, a single instant, or a pair."""
    if value is None:
        return None, None
    if isinstance(value, (date, datetime)):
        return value, value
    if isinstance(value, str):
        if "/" in value:
            start, _, end = value.partition("/")
            return (
                None if start in ("", "..") else _partial(start, first=True),
                None if end in ("", "..") else _partial(end, first=False),
            )
        return _partial(value, first=True), _partial(value, first=False)
    parts = list(value)
    if len(parts) != 2:
        raise InvalidQueryError("datetime: expected 'start/end' or a pair (start, end)")
    return parts[0], parts[1]


def _partial(text: str, *, first: bool) -> str:
    """pystac-client's partial dates: ``2019`` is the whole year, ``2019-03`` the month."""
    text = text.strip()
    if re.fullmatch(r"\d{4}", text):
        return f"{text}-01-01" if first else f"{text}-12-31"
    if re.fullmatch(r"\d{4}-\d{2}", text):
        year, month = (int(v) for v in text.split("-"))
        if not 1 <= month <= 12:
            raise InvalidQueryError(f"datetime: {text!r} is not a month")
        return f"{text}-01" if first else f"{text}-{calendar.monthrange(year, month)[1]:02d}"
    return text


def _query_fields(query: Mapping[str, Any] | Sequence[str] | None) -> dict[str, Any]:
    """The STAC query extension, restricted to what the unified query can express."""
    if not query:
        return {}
    if not isinstance(query, Mapping):
        parsed: dict[str, dict[str, Any]] = {}
        for text in query:
            match = _QUERY_STRING.match(text)
            if not match:
                raise InvalidQueryError(
                    f"query: cannot parse {text!r} (expected like 'eo:cloud_cover<20')"
                )
            prop, op, raw = match.groups()
            parsed.setdefault(prop, {})[_OPS[op]] = raw
        query = parsed
    fields: dict[str, Any] = {}
    for prop, condition in query.items():
        if prop not in _QUERYABLE:
            raise InvalidQueryError(
                f"query: cannot filter on {prop!r}; filterable: {', '.join(sorted(_QUERYABLE))}"
            )
        name, ops = _QUERYABLE[prop]
        condition = condition if isinstance(condition, Mapping) else {"eq": condition}
        for op, value in condition.items():
            if op not in ops:
                raise InvalidQueryError(f"query: {prop} supports {', '.join(ops)}, not {op!r}")
            if name == "tile":
                value = str(value).upper().removeprefix("MGRS-")
            fields[name] = value
    return fields
