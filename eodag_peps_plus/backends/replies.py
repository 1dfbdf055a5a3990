"""Reading search replies: the one boundary where server JSON becomes typed values.

Servers (or whatever answers at their address) may send a list where an object belongs, a
string where a number does, ``NaN``, a megabyte of text. Mappers read every field through
:class:`Fields`, and :func:`map_features` turns a page's features into products, so a reply
that does not have the promised shape ends the search with one :class:`MalformedReplyError`
naming the server, the product and the field, never a ``KeyError`` traceback or a hang.

Choice: a feature that cannot be mapped fails the search rather than being skipped with a
warning. A skipped product would silently change results (and the counts users compare with
the server's), and a server sending one broken feature is rarely sending good ones around it.

The common page goes through a compiled decoder first (:func:`typed_page`, msgspec): it reads
only the fields mappers use, into types that are each a subset of what the general rule takes,
and skips the rest without building it. Anything it refuses, whatever the reason, sends the
page to the general reading (``orjson`` + :class:`Fields`), which decides and names the fault:
so the fast path only ever *accepts*, and only what the general reading accepts (a property
test holds it to that). One difference is known and kept: a number beyond a double's range
(``1e400``, a 310-digit integer) in a member no mapper reads passes the compiled decoder,
which does not convert what it skips, where ``orjson`` refuses the whole reply.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from typing import Annotated, Any, TypeVar

import msgspec
import orjson

from ..exceptions import MalformedReplyError, json_kind, shorten
from ..geometry import GeometryError, checked_bbox
from ..logs import get_logger
from ..product import Product
from ..vocabulary import iso_utc

logger = get_logger(__name__)

__all__ = [
    "FieldError",
    "Fields",
    "ItemMapper",
    "MAX_DIGITS",
    "MAX_INTEGER",
    "Count",
    "Ident",
    "Percent",
    "TypedLink",
    "Whole",
    "count",
    "footprint",
    "typed_footprint",
    "typed_next_href",
    "typed_page",
    "map_features",
    "md5_hex",
    "next_href",
    "open_feature",
    "reply_count",
    "reply_list",
    "reply_member",
    "reply_object",
]

#: A mapper takes a feature exactly as decoded (anything JSON) and the backend name.
ItemMapper = Callable[[Any, str], Product]
#: Integers larger than this are no size, orbit or count any archive has.
MAX_INTEGER = 2**63 - 1
#: Numeric strings longer than this are refused before conversion (Python refuses very long
#: ones with its own message, and converting them costs quadratic time).
MAX_DIGITS = 30
_MISSING = object()
#: Integers the general rule (which goes through float) takes unchanged: the fast path's range.
_EXACT_INTEGER = 2**53
_MD5 = re.compile(r"[0-9a-fA-F]{32}")

# -- what the compiled decoders read: each type a subset of the general rule's ----------------
#: A count the general rule takes unchanged (``Fields.integer``'s fast range).
Count = Annotated[int, msgspec.Meta(ge=0, le=_EXACT_INTEGER)]
#: A percentage (``Fields.percent``; a JSON integer reads as its float, as there).
Percent = Annotated[float, msgspec.Meta(ge=0, le=100)]
#: An integer ``orjson`` keeps an ``int`` (wider ones it makes floats, which mappers read
#: differently): any other goes to the general reading.
Whole = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]
#: An identifier (``Fields.ident``): a string, or an integer taken as its digits.
Ident = str | Whole
_T = TypeVar("_T")


class TypedLink(msgspec.Struct, gc=False):
    """A link as :func:`next_href` reads it (any other shape goes to the general reading)."""

    rel: str | None = None
    href: str | None = None


def typed_page(decoder: msgspec.json.Decoder[_T], raw: bytes) -> _T | None:
    """``raw`` through a compiled page decoder, ``None`` when it refuses (or when ``raw`` is
    not UTF-8, which ``orjson`` refuses even in a member the decoder skips)."""
    try:
        if not raw.isascii():
            raw.decode()
        return decoder.decode(raw)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        return None  # msgspec.ValidationError is a DecodeError


def typed_next_href(links: list[TypedLink] | None) -> tuple[bool, str | None]:
    """``(ok, href)``: :func:`next_href` of typed links; not ``ok`` when it would raise."""
    for link in links or ():
        if link.rel == "next" and link.href:
            return link.href.startswith(("http://", "https://")), link.href
    return True, None


def typed_footprint(raw: msgspec.Raw) -> tuple[Any, list[float] | None] | None:
    """:func:`footprint` of a raw member (decoded by ``orjson``, as the general reading
    does), ``None`` when the general reading must decide."""
    try:
        value = orjson.loads(memoryview(raw))
        box = checked_bbox(value)
    except (ValueError, GeometryError):
        return None
    return value, box


class FieldError(MalformedReplyError):
    """One field of one feature is missing or of the wrong form.

    Raised by mappers (which do not know which server they read); :func:`map_features`
    re-raises it as a :class:`MalformedReplyError` that names the server and the product.
    """

    def __init__(self, field: str, problem: str, product: str | None = None) -> None:
        super().__init__(f"field {field} {problem}" if field else f"the feature {problem}")
        self.field = field
        self.problem = problem
        self.product = product


class Fields:
    """Typed look-ups in one JSON object of a reply, each naming its field when it fails.

    Missing and ``null`` fields read as ``None`` unless ``required``; a value of the wrong type
    raises :class:`FieldError` with the dotted path (``properties.cloudCover``).

    A search reads some twenty fields of thousands of features, so each read first takes the
    value as it nearly always comes (a non-empty ``str``, an ``int`` in range, a finite
    ``float``) and only then the general rule, and a nested object's dotted path is built only
    when an error names it.
    """

    def __init__(
        self, data: Any, path: str = "", product: str | None = None, *, parent: Any = None
    ) -> None:
        #: ``path`` as given, or ``(parent, key)`` whose path is built on demand.
        self._path: str | tuple[Fields, str] = path if parent is None else (parent, path)
        #: The product's name once known, so later errors can say which product.
        self.product = product
        if not isinstance(data, dict):
            raise FieldError(self.path, f"is not a JSON object ({json_kind(data)})", product)
        self.data: dict[str, Any] = data

    @property
    def path(self) -> str:
        if isinstance(self._path, tuple):
            parent, key = self._path
            self._path = parent.where(key)
        return self._path

    def where(self, key: str) -> str:
        """The dotted path of ``key`` (a key a server made up is quoted and cut short)."""
        name = shorten(key, 40, quote=False)
        path = self.path
        return f"{path}.{name}" if path else name

    def fail(self, key: str, problem: str) -> FieldError:
        return FieldError(self.where(key), problem, self.product)

    def raw(self, key: str, *, required: bool = False) -> Any:
        value = self.data.get(key)
        if value is None and required:
            raise self.fail(key, "is missing")
        return value

    def obj(self, key: str) -> Fields:
        """A nested object; missing or ``null`` reads as an empty one."""
        value = self.data.get(key)
        return Fields({} if value is None else value, key, self.product, parent=self)

    def items(self, key: str) -> list[Any]:
        """A list; missing or ``null`` reads as empty."""
        value = self.data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail(key, f"is not a list ({json_kind(value)})")
        return value

    def ident(self, key: str) -> str:
        """A required identifier: a string, or an integer taken as its digits."""
        value = self.raw(key, required=True)
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        text = self.text(key, required=True)
        assert text is not None  # required=True
        return text

    def text(self, key: str, *, required: bool = False) -> str | None:
        """A string; empty reads as missing."""
        value = self.data.get(key)
        if type(value) is str and value:
            return value
        if value is None or value == "":
            if required:
                raise self.fail(key, "is missing" if value is None else "is empty")
            return None
        if not isinstance(value, str):
            raise self.fail(key, f"is not a string ({json_kind(value)})")
        return value

    def number(self, key: str) -> float | None:
        """A finite number (a numeric string is accepted)."""
        value = self.data.get(key)
        if type(value) is float and math.isfinite(value):
            return value
        if value is None or value == "":
            return None
        number = _to_number(value)
        if number is None:
            raise self.fail(key, f"is not a finite number ({shorten(value)})")
        return number

    def percent(self, key: str) -> float | None:
        """A number from 0 to 100 (a cloud cover of 1e308 is no percentage)."""
        number = self.number(key)
        if number is not None and not 0 <= number <= 100:
            raise self.fail(key, f"is not a percentage ({shorten(number)})")
        return number

    def integer(self, key: str) -> int | None:
        """A non-negative integer (``3.0`` and ``"3"`` accepted)."""
        value = self.data.get(key)
        if type(value) is int and 0 <= value <= _EXACT_INTEGER:
            return value
        if value is None or value == "":
            return None
        return count(value, lambda problem: self.fail(key, problem))

    def md5(self, key: str) -> str | None:
        """An MD5 digest in hex (lower-cased): a wrong one would fail every download later."""
        value = self.text(key)
        return None if value is None else md5_hex(value, lambda problem: self.fail(key, problem))

    def time(self, key: str, *, required: bool = False) -> str | None:
        """An ISO 8601 timestamp, normalised by :func:`~eodag_peps_plus.vocabulary.iso_utc`."""
        value = self.text(key, required=required)
        if value is None:
            return None
        try:
            return iso_utc(value)
        except (ValueError, OverflowError):
            raise self.fail(key, f"is not an ISO 8601 date ({shorten(value)})") from None


def open_feature(
    feature: Any, names: tuple[str, ...], *, id_is_name: bool = True
) -> tuple[Fields, Fields, str, str]:
    """A feature's fields, its properties, its ``id`` and its product name: the first of
    ``names`` found in the properties, else the ``id`` (when ``id_is_name``). Every later
    error of either ``Fields`` names that product.

    Raises:
        FieldError: the feature is not an object, or has no id or no name.
    """
    fields = Fields(feature)
    native_id = fields.ident("id")
    props = fields.obj("properties")
    name = next((text for key in names if (text := props.text(key))), None)
    if name is None:
        if not id_is_name:
            raise props.fail(names[-1], "is missing")
        name = native_id
    fields.product = props.product = name
    return fields, props, native_id, name


def count(value: Any, fail: Callable[[str], Exception]) -> int:
    """A non-negative integer from JSON (``3``, ``3.0``, ``"3"``), else ``fail(problem)``."""
    number = _to_number(value)
    if number is None or not number.is_integer() or not 0 <= number <= MAX_INTEGER:
        raise fail(f"is not a non-negative integer ({shorten(value)})")
    return int(value) if isinstance(value, int) else int(number)


def md5_hex(value: str, fail: Callable[[str], Exception]) -> str:
    """``value`` lower-cased if it is 32 hex digits, else ``fail(problem)``."""
    if not _MD5.fullmatch(value):
        raise fail(f"is not an MD5 digest ({shorten(value)})")
    return value.lower()


def _to_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        if len(value.strip()) > MAX_DIGITS:
            return None
        try:
            value = float(value)
        except ValueError:
            return None
    if not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:  # a JSON integer with hundreds of digits
        return None
    return number if math.isfinite(number) else None


def footprint(item: Fields) -> tuple[Any, list[float] | None]:
    """The feature's footprint, checked once here (see :mod:`eodag_peps_plus.geometry`), and
    its bounding box when the check found it."""
    value = item.data.get("geometry")
    try:
        return value, checked_bbox(value, item.where("geometry"))  # a dict once checked
    except GeometryError as exc:
        raise FieldError(exc.field, exc.problem, item.product) from None


def reply_object(data: Any, what: str) -> dict[str, Any]:
    """The decoded reply, which must be a JSON object (not a list, a string...)."""
    if not isinstance(data, dict):
        raise MalformedReplyError(f"{what}: the reply is not a JSON object ({json_kind(data)})")
    return data


def reply_member(
    data: dict[str, Any], key: str, what: str, field: str | None = None
) -> dict[str, Any]:
    """An object member of a reply (resto's ``properties``); missing or ``null`` reads empty."""
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MalformedReplyError(
            f"{what}: field {field or key} is not a JSON object ({json_kind(value)})"
        )
    return value


def reply_list(data: dict[str, Any], key: str, what: str, field: str | None = None) -> list[Any]:
    """A list member of a reply (``features``, ``links``); missing or ``null`` reads empty."""
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise MalformedReplyError(
            f"{what}: field {field or key} is not a list ({json_kind(value)})"
        )
    return value


def next_href(links: list[Any], what: str, field: str = "links") -> dict[str, Any] | None:
    """The ``rel=next`` link object of a reply's links, its ``href`` an http(s) URL."""
    for link in links:
        if isinstance(link, dict) and link.get("rel") == "next" and link.get("href"):
            href = link["href"]
            if not isinstance(href, str) or not href.startswith(("http://", "https://")):
                raise MalformedReplyError(
                    f"{what}: field {field}: the next link is not an http(s) URL ({shorten(href)})"
                )
            return link
    return None


def reply_count(value: Any, field: str, what: str) -> int | None:
    """A count (``totalResults``, ``numberMatched``); ``None`` when the server gives none."""
    if value is None:
        return None
    number = _to_number(value)
    if number is not None and number.is_integer() and number > MAX_INTEGER:
        # A count no catalogue can hold says nothing: searches go on without it (paging
        # ends with the pages), and a caller asking the count gets "unknown", not an error.
        logger.warning("%s: ignoring the server's %s of %s", what, field, shorten(value))
        return None
    return count(value, lambda problem: MalformedReplyError(f"{what}: field {field} {problem}"))


def map_features(
    features: Iterable[Any], mapper: ItemMapper, backend: str, what: str, start: int = 0
) -> list[Product]:
    """Each feature of a page through ``mapper``; the first one that cannot be mapped ends
    the search with one line naming ``what`` (``PEPS search``), the product and the field
    (or the feature's number, counted from ``start`` when a page is mapped in parts).

    Raises:
        MalformedReplyError: a feature is not an object, or a field is missing or malformed.
    """
    products = []
    for index, feature in enumerate(features, start):
        try:
            products.append(mapper(feature, backend))
        except FieldError as exc:
            name = exc.product or _name_of(feature)
            label = f"product {shorten(name, quote=False)}" if name else f"feature #{index + 1}"
            detail = f" {exc.problem}" if not exc.field else f": {exc}"
            raise MalformedReplyError(f"{what}: {label}{detail}") from None
        except (KeyError, TypeError, ValueError, AttributeError, IndexError, OverflowError) as exc:
            # A safety net: mappers read through Fields, so this means a case they missed.
            name = _name_of(feature)
            label = f"product {shorten(name, quote=False)}" if name else f"feature #{index + 1}"
            raise MalformedReplyError(
                f"{what}: {label}: a field has an unexpected form ({type(exc).__name__}: "
                f"{shorten(str(exc), quote=False)})"
            ) from None
    return products


def _name_of(feature: Any) -> str | None:
    """Whatever names a feature, for messages only."""
    if not isinstance(feature, dict):
        return None
    props = feature.get("properties")
    for value in (
        (props.get("title") or props.get("identifier")) if isinstance(props, dict) else None,
        feature.get("id"),
    ):
        if isinstance(value, str) and value:
            return value
    return None
