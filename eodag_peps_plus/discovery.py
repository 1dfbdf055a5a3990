"""What a backend can search, read from the one vocabulary: the fields, their types, allowed
values and defaults (EODAG's ``list_queryables``, a STAC server's ``/queryables``), and the
collections a server has that the vocabulary can search.

Nothing here is a second table: fields and values come from :mod:`.vocabulary`, and whether a
server accepts one is asked of the backend's own translation (:meth:`Backend.check`), so a
field a server refuses at search time is never advertised.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from . import vocabulary
from .backends.base import Backend
from .exceptions import InvalidQueryError
from .logs import get_logger
from .query import Query
from .vocabulary import FIELD_CHOICES, FIELD_FORMS, FIELD_HELP, FieldHelp

__all__ = ["Queryable", "field_of", "queryables", "searchable_collections"]

logger = get_logger(__name__)

#: A value of each kind, to ask a backend whether it can search a field at all.
_SAMPLES: dict[str, Any] = {
    "str": "x",
    "int": 1,
    "float": 1.0,
    "datetime": datetime(2020, 1, 1, tzinfo=timezone.utc),
    "geometry": "POINT (1 43)",
    "list": ("x",),
}


@dataclasses.dataclass(frozen=True)
class Queryable:
    """One searchable field, as discovery shows it.

    Attributes:
        field: the unified field (``max_cloud_cover``).
        help: its name, kind and bounds (:data:`~.vocabulary.FIELD_HELP`).
        choices: the accepted values when they are a fixed list, else ``None``.
        default: the value the collection implies (``S2_MSI_L1C`` -> ``S2MSI1C``), if any.
    """

    field: str
    help: FieldHelp
    choices: tuple[str, ...] | None = None
    default: Any = None

    @property
    def name(self) -> str:
        return self.help.name

    def json_schema(self) -> dict[str, Any]:
        """The JSON Schema of this field (STAC API filter extension ``/queryables``)."""
        kind = self.help.kind
        schema: dict[str, Any] = {"title": self.help.text}
        if kind == "datetime":
            schema.update(type="string", format="date-time")
        elif kind == "geometry":
            schema["$ref"] = "https://geojson.org/schema/Geometry.json"
        elif kind == "list":
            schema.update(type="array", items={"type": "string"})
        else:
            schema["type"] = {"str": "string", "int": "integer", "float": "number"}[kind]
        if self.choices is not None:
            schema["enum"] = list(self.choices)
        if self.help.low is not None:
            schema["minimum"] = self.help.low
        if self.help.high is not None:
            schema["maximum"] = self.help.high
        if self.default is not None:
            schema["default"] = self.default
        return schema


def _accepts(backend: Backend, query: Query) -> bool:
    try:
        backend.check(query)
    except InvalidQueryError:
        return False
    return True


def _base(collection: str | None, defaults: Mapping[str, Any]) -> Query:
    fields = {"collection": collection} if collection else {}
    if defaults.get("product:type"):
        fields["product_type"] = defaults["product:type"]
    return Query.create(**fields)


def queryables(
    backend: Backend, collection: str | None = None, defaults: Mapping[str, Any] | None = None
) -> list[Queryable]:
    """Every field ``backend`` can search in ``collection``, with its allowed values.

    Args:
        backend: the server's backend.
        collection: a collection name in any spelling; ``None`` for all.
        defaults: the provider's collection block (``product:type``...) when searching
            through EODAG.

    Returns:
        The queryables, in the vocabulary's order.

    Raises:
        InvalidQueryError: ``collection`` is not a name the vocabulary knows, or this server
            cannot search it.
    """
    base = _base(collection, defaults or {})
    backend.check(base)
    found = []
    for field, help in FIELD_HELP.items():
        default: Any = getattr(base, field, None) if field != "collection" else collection
        choices: tuple[str, ...] | None = None
        if field == "collection":
            choices = tuple(
                c for c in sorted(vocabulary.COLLECTION_ALIASES) if _searchable(backend, c)
            )
        elif field in FIELD_CHOICES:
            choices = tuple(v for v in FIELD_CHOICES[field] if _allowed(backend, base, field, v))
            if not choices:
                continue
        elif not _accepts(backend, base.replace(**{field: _SAMPLES[help.kind]})):
            continue
        found.append(Queryable(field, help, choices, default))
    return found


def _allowed(backend: Backend, base: Query, field: str, value: str) -> bool:
    try:
        query = Query.create(**{**base.as_dict(), field: value})
    except InvalidQueryError:
        return False
    return _accepts(backend, query)


def _searchable(backend: Backend, name: str) -> bool:
    try:
        return _accepts(backend, Query.create(collection=name))
    except InvalidQueryError:
        return False


def searchable_collections(backend: Backend) -> list[dict[str, Any]]:
    """The collections the server lists that the vocabulary can search (the others are
    logged: a listed collection that every search refuses would be a trap).

    Raises:
        BackendError: the server's list could not be read.
    """
    found = []
    for document in backend.collection_documents():
        if _searchable(backend, str(document["id"])):
            found.append(document)
        else:
            logger.debug("%s collection %s: not searchable here", backend.name, document["id"])
    return found


def field_of(name: str) -> str | None:
    """The unified field a discovery name or any spelling stands for."""
    field = vocabulary.FIELD_SPELLINGS.get(name)
    return FIELD_FORMS.get(field, field) if field else None
