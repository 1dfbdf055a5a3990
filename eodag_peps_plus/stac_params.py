"""pystac-client's ``sortby``, ``fields`` and ``filter`` parameters, one ``format_<param>``
function each, read into what our searches can do.

``filter`` (CQL2 text or JSON, parsed by the ``cql2`` package) is translated to fields of the
unified query: a conjunction (``AND``) of comparisons on the queryable properties, a spatial
``S_INTERSECTS`` and a time interval. Anything else (``OR``, ``NOT``, ``LIKE``...) cannot be
sent to PEPS or GEODES searches and is refused with a message naming it, never dropped.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from typing import Any

from .exceptions import InvalidQueryError
from .vocabulary import shown, stac_query_fields

__all__ = [
    "Fields",
    "FieldsLike",
    "FilterLike",
    "SortbyLike",
    "format_fields",
    "format_filter",
    "format_sortby",
]

SortbyLike = str | Sequence[str] | Sequence[Mapping[str, str]] | None
FieldsLike = str | Sequence[str] | Mapping[str, Sequence[str]] | None
FilterLike = str | Mapping[str, Any] | None

#: pystac-client's spellings of a sort direction.
_DIRECTIONS = {"asc": "asc", "ascending": "asc", "desc": "desc", "dsc": "desc", "descending": "desc"}  # fmt: skip
_COMPARISONS = {"=": "eq", "<": "lt", "<=": "lte", ">": "gt", ">=": "gte"}
_TIME_PROPERTIES = ("datetime", "start_datetime", "end_datetime")


def format_sortby(value: SortbyLike) -> tuple[tuple[str, str], ...]:
    """``"-eo:cloud_cover"``, ``"+datetime,id"``, ``["-datetime"]`` or
    ``[{"field": "properties.datetime", "direction": "desc"}]`` -> ``(("datetime", "desc"),)``.

    Raises:
        InvalidQueryError: not one of these shapes.
    """
    if value is None:
        return ()
    if isinstance(value, str):
        value = [v for v in value.split(",") if v.strip()]
    clauses = []
    for clause in value:
        if isinstance(clause, str):
            text = clause.strip()
            direction = "desc" if text.startswith("-") else "asc"
            field = text.lstrip("+-").strip()
        elif isinstance(clause, Mapping) and isinstance(clause.get("field"), str):
            field = str(clause["field"])
            raw = str(clause.get("direction", "asc")).lower()
            if raw not in _DIRECTIONS:
                raise InvalidQueryError(f"sortby: direction {shown(raw)} is not asc or desc")
            direction = _DIRECTIONS[raw]
        else:
            raise InvalidQueryError(
                f"sortby: {shown(clause)} is not '-field', '+field' or {{field, direction}}"
            )
        field = field.removeprefix("properties.")
        if not field:
            raise InvalidQueryError(f"sortby: {shown(clause)} names no field")
        clauses.append((field, direction))
    return tuple(clauses)


@dataclasses.dataclass(frozen=True)
class Fields:
    """The fields extension: what each returned item keeps."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    def apply(self, item: dict[str, Any]) -> dict[str, Any]:
        """``item`` with the excluded fields removed and, when ``include`` is given, only
        those kept (``id``, ``type``, ``links`` and ``stac_version`` always stay, as in the
        extension)."""
        if not self.include and not self.exclude:
            return item
        out = dict(item)
        out["properties"] = dict(item.get("properties") or {})
        if self.include:
            keep = set(self.include) | {"id", "type", "links", "stac_version"}
            props = {k for k in self.include if k.startswith("properties.")}
            for key in list(out):
                if key not in keep and key != "properties":
                    del out[key]
            if "properties" not in keep:
                out["properties"] = {
                    k: v for k, v in out["properties"].items() if f"properties.{k}" in props
                }
        for name in self.exclude:
            if name.startswith("properties."):
                out["properties"].pop(name.removeprefix("properties."), None)
            elif name not in ("id", "type"):
                out.pop(name, None)
        return out


def format_fields(value: FieldsLike) -> Fields:
    """``["-geometry", "properties.eo:cloud_cover"]``, ``"-geometry,+id"`` or
    ``{"include": [...], "exclude": [...]}`` -> :class:`Fields`.

    Raises:
        InvalidQueryError: not one of these shapes.
    """
    if value is None:
        return Fields()
    if isinstance(value, Mapping):
        include, exclude = value.get("include") or (), value.get("exclude") or ()
        if not all(isinstance(v, str) for v in (*include, *exclude)):
            raise InvalidQueryError(f"fields: {shown(value)} is not lists of field names")
        return Fields(tuple(include), tuple(exclude))
    names = value.split(",") if isinstance(value, str) else list(value)
    include, exclude = [], []
    for name in names:
        if not isinstance(name, str) or not name.strip().lstrip("+-"):
            raise InvalidQueryError(f"fields: {shown(name)} is not a field name")
        text = name.strip()
        (exclude if text.startswith("-") else include).append(text.lstrip("+-"))
    return Fields(tuple(include), tuple(exclude))


def format_filter(value: FilterLike, lang: str | None = None) -> dict[str, Any]:
    """CQL2 text or JSON -> unified query fields (not yet normalised).

    Args:
        value: ``"eo:cloud_cover <= 20 AND platform = 'S2A'"`` or its CQL2-JSON.
        lang: ``cql2-text`` or ``cql2-json``; by default, text for a string, JSON otherwise.

    Raises:
        InvalidQueryError: not CQL2, or a construct PEPS and GEODES searches cannot express.
    """
    if value is None:
        return {}
    import cql2

    if lang not in (None, "cql2-text", "cql2-json"):
        raise InvalidQueryError(f"filter_lang: {shown(lang)} is not cql2-text or cql2-json")
    try:
        if lang == "cql2-json" or not isinstance(value, str):
            text = value if isinstance(value, str) else json.dumps(value)
            expr = cql2.parse_json(text)
        else:
            expr = cql2.parse_text(value)
        tree = expr.to_json()
    except (ValueError, TypeError, cql2.ParseError, cql2.ValidationError) as exc:
        raise InvalidQueryError(f"filter: not CQL2 ({shown(str(exc), 120)})") from None
    fields: dict[str, Any] = {}
    _read(tree, fields)
    return fields


def _refuse(what: str) -> InvalidQueryError:
    return InvalidQueryError(
        f"filter: {what} cannot be sent to PEPS or GEODES searches, which take one condition "
        "per property combined with AND; run one search per alternative, or filter the items"
    )


def _put(fields: dict[str, Any], key: str, value: Any) -> None:
    if key in fields and fields[key] != value:
        raise _refuse(f"two conditions on {key}")
    fields[key] = value


def _read(node: Any, fields: dict[str, Any]) -> None:
    if not isinstance(node, Mapping) or "op" not in node:
        raise _refuse(shown(node))
    op, args = str(node["op"]).lower(), list(node.get("args") or [])
    if op == "and":
        for arg in args:
            _read(arg, fields)
        return
    prop = args[0].get("property") if args and isinstance(args[0], Mapping) else None
    if not isinstance(prop, str) or len(args) != 2:
        raise _refuse(f"{op.upper()} ({shown(node, 80)})")
    literal = args[1]
    if op in ("s_intersects", "intersects") and prop in ("geometry", "footprint"):
        if isinstance(literal, Mapping) and "bbox" in literal:
            _put(fields, "bbox", tuple(literal["bbox"]))
        else:
            _put(fields, "geometry", literal)
        return
    if op in ("t_intersects", "anyinteracts") and prop in _TIME_PROPERTIES:
        interval = literal.get("interval") if isinstance(literal, Mapping) else None
        if not isinstance(interval, list) or len(interval) != 2:
            raise _refuse(f"{op.upper()} on {prop} with {shown(literal)}")
        start, end = (_instant(v) for v in interval)
        if start not in (None, ".."):
            _put(fields, "start", start)
        if end not in (None, ".."):
            _put(fields, "end", end)
        return
    if op not in _COMPARISONS and op != "in":
        raise _refuse(f"{op.upper()} on {prop}")
    if prop in _TIME_PROPERTIES:
        instant = _instant(literal)
        if op in (">", ">=", "="):
            _put(fields, "start", instant)
        if op in ("<", "<=", "="):
            _put(fields, "end", instant)
        return
    if prop == "id":
        values = literal if op == "in" else [literal]
        if not isinstance(values, list) or op not in ("=", "in"):
            raise _refuse(f"{op.upper()} on id")
        _put(fields, "identifiers", tuple(str(v) for v in values))
        return
    if prop == "collection" and op == "=":
        _put(fields, "collection", literal)
        return
    if op == "in":
        raise _refuse(f"IN on {prop}")
    for key, value in stac_query_fields({prop: {_COMPARISONS[op]: literal}}).items():
        _put(fields, key, value)


def _instant(value: Any) -> Any:
    if isinstance(value, Mapping):
        value = value.get("timestamp") or value.get("date")
    if value is not None and not isinstance(value, str):
        raise _refuse(f"the time {shown(value)}")
    return value
