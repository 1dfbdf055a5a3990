"""One exception tree for the whole package, so callers can catch ``PepsPlusError``.

The CLI turns any of these into a single error line and a non-zero exit code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import requests

__all__ = [
    "EXCERPT_CHARS",
    "SHOWN_CHARS",
    "AuthenticationError",
    "BackendError",
    "ConfigurationError",
    "DownloadError",
    "ForeignOriginError",
    "InvalidQueryError",
    "MalformedReplyError",
    "PagingError",
    "PepsPlusError",
    "ProcessingError",
    "ProductNotAvailableError",
    "QuotaExceededError",
    "UnknownBackendError",
    "json_kind",
    "redact_url",
    "shorten",
]

#: Longest piece of a user's or server's value an error line quotes.
SHOWN_CHARS = 60


def shorten(value: Any, limit: int = SHOWN_CHARS, *, quote: bool = True) -> str:
    """``repr(value)`` (a printable string itself if not ``quote``) cut to ``limit`` characters:
    error lines stay one readable line even when a server sends a megabyte where a number
    belongs, or a line break in a name."""
    plain = isinstance(value, str) and not quote and value.isprintable()
    text = value if plain else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def json_kind(value: Any) -> str:
    """JSON's name for a decoded value's type (``object``, ``list``...), for messages."""
    if value is None:
        return "null"
    names = {dict: "object", list: "list", tuple: "list", str: "string", bool: "boolean"}
    return names.get(type(value), "number" if isinstance(value, (int, float)) else "value")


#: Longest piece of a server's reply body an error keeps (:attr:`BackendError.excerpt`).
EXCERPT_CHARS = 200

_Error = TypeVar("_Error", bound="BackendError")


class PepsPlusError(Exception):
    """Base of every error raised on purpose by eodag-peps-plus.

    Every error pickles with its fields (``status_code``, ``url``...), whatever its
    constructor takes: errors cross process boundaries (transfer processes, dask workers,
    process pools), and the default pickling calls ``cls(*args)`` with the message alone,
    which loses the fields or fails (CS-SI/eodag#1809).
    """

    def __reduce__(self) -> tuple[Any, ...]:
        return _rebuild, (type(self), self.args, self.__dict__)


def _rebuild(cls: type[BaseException], args: tuple[Any, ...], state: dict[str, Any]) -> Any:
    """An error of ``cls`` with these ``args`` and attributes, without calling ``__init__``."""
    error = cls.__new__(cls, *args)
    error.args = args
    error.__dict__.update(state)
    return error


class InvalidQueryError(PepsPlusError, ValueError):
    """The user's query cannot be sent: the message says which field and why."""


class ConfigurationError(PepsPlusError, ValueError):
    """A setting cannot be used (a base URL that is not http(s), a bad trusted origin)."""


class BackendError(PepsPlusError):
    """The server answered something we cannot use (HTTP error, resto ``ErrorCode``, bad JSON).

    Besides the one-line message, the fields say what the server did, for reports and for
    code that decides by status rather than by reading messages.

    Attributes:
        status_code: the HTTP status (or resto ``ErrorCode``), ``None`` when there was no reply.
        url: the request's URL without any ``user:password@`` part, when known.
        excerpt: the start of the reply's body (at most :data:`EXCERPT_CHARS`), when read.
    """

    def __init__(
        self,
        message: str,
        status_code: int | None = None,
        *,
        url: str | None = None,
        excerpt: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.url = redact_url(url) if url else None
        self.excerpt = excerpt

    @property
    def server(self) -> str | None:
        """``scheme://host[:port]`` of :attr:`url`, the server that failed."""
        if not self.url:
            return None
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}" if parts.netloc else None

    @classmethod
    def from_response(
        cls: type[_Error],
        message: str,
        response: requests.Response,
        *,
        status_code: int | None = None,
    ) -> _Error:
        """The one conversion point from a server's reply to an error with its fields.

        Args:
            message: the one line users read.
            response: the reply; its body is quoted only if already read (a streamed
                download is never read here).
            status_code: overrides the HTTP status (a resto ``ErrorCode`` sent with HTTP 200).

        Returns:
            The error, not raised.
        """
        body = response._content if isinstance(response._content, bytes) else None
        excerpt = None
        if body:
            text = body[: EXCERPT_CHARS * 4].decode("utf-8", "replace")
            excerpt = " ".join(text.split())[:EXCERPT_CHARS]
        return cls(
            message,
            response.status_code if status_code is None else status_code,
            url=response.url or None,
            excerpt=excerpt,
        )


def redact_url(url: str) -> str:
    """The URL without any ``user:password@`` part: for messages, errors, logs and reports.

    Here rather than in :mod:`.http_io` because errors keep URLs and cannot import it."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()


class MalformedReplyError(BackendError):
    """A reply lacks a field its protocol promises or has it in the wrong form; the message
    names the server, the product when known, and the field."""


class PagingError(BackendError):
    """Paging went wrong on the server's side: a ``next`` link leading back to a page already
    read, or more pages than any real search needs. Raised rather than returning what was read,
    which would pass for a complete result."""


class AuthenticationError(BackendError):
    """Credentials are missing or refused (HTTP 401/403, or a JSON error in place of data)."""


class ForeignOriginError(BackendError):
    """A link would take the credentials to a host they do not belong to; nothing was sent."""


class QuotaExceededError(BackendError):
    """The server says too many requests (HTTP 429) and retries did not help."""


class ArchiveRefusedError(BackendError):
    """The archive says it will not serve this product at all (HTTP 410 Gone: GEODES's answer
    for a product kept on Tier3); asking again changes nothing."""


class UnknownBackendError(PepsPlusError, KeyError):
    """No backend registered under that name or URL."""

    def __str__(self) -> str:  # KeyError quotes its message; we want it plain
        return str(self.args[0]) if self.args else ""


class ProductNotAvailableError(PepsPlusError):
    """The product is offline (on tape) and cannot be downloaded yet."""


class DownloadError(PepsPlusError):
    """A transfer failed in a way retries cannot fix (size or checksum mismatch, not a product)."""


class ProcessingError(PepsPlusError):
    """A processing request was refused or a job failed."""
