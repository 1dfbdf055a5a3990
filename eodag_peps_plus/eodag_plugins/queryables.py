"""EODAG's discovery calls (``list_queryables``, ``discover_collections``) from
:mod:`eodag_peps_plus.discovery`: the shapes EODAG expects, nothing decided here."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field
from pydantic.fields import FieldInfo

from ..backends import Backend
from ..discovery import Queryable, queryables, searchable_collections

__all__ = ["annotated", "eodag_collections", "eodag_queryables"]

_TYPES: dict[str, Any] = {
    "str": str,
    "int": int,
    "float": float,
    "datetime": str,
    "geometry": str | dict[str, Any] | list[float],
    "list": list[str],
}


def annotated(queryable: Queryable) -> Any:
    """``Annotated[type, Field(...)]`` as EODAG's own plugins describe a queryable."""
    kind: Any = _TYPES[queryable.help.kind]
    if queryable.choices:
        kind = Literal[queryable.choices]
    name = queryable.name
    info: FieldInfo = Field(
        default=queryable.default,
        alias=name if ":" in name else None,
        description=queryable.help.text,
        ge=queryable.help.low,
        le=queryable.help.high,
    )
    return Annotated[kind, info]


def eodag_queryables(
    backend: Backend, collection: str | None, defaults: dict[str, Any]
) -> dict[str, Any]:
    """``{python name: Annotated[...]}``, keyed like EODAG's (``eo_cloud_cover`` with alias
    ``eo:cloud_cover``)."""
    return {
        q.name.replace(":", "_"): annotated(q) for q in queryables(backend, collection, defaults)
    }


def eodag_collections(backend: Backend) -> dict[str, Any]:
    """EODAG's external collections configuration for the collections ``backend`` lists and
    can search (``providers_config`` and ``collections_config``, keyed by server name)."""
    documents = searchable_collections(backend)
    return {
        "providers_config": {str(d["id"]): {"_collection": str(d["id"])} for d in documents},
        "collections_config": {
            str(d["id"]): {
                "title": str(d.get("title") or d["id"]),
                "description": str(d.get("description") or d.get("title") or d["id"]),
                "keywords": [str(k) for k in d.get("keywords") or [] if isinstance(k, str)],
                "license": str(d.get("license") or "other"),
            }
            for d in documents
        },
    }
