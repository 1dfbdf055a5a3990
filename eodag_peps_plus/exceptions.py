"""One exception tree for the whole package, so callers can catch ``PepsPlusError``.

The CLI turns any of these into a single error line and a non-zero exit code.
"""

from __future__ import annotations

from typing import Any

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


class PepsPlusError(Exception):
    """Base of every error raised on purpose by eodag-peps-plus."""


class InvalidQueryError(PepsPlusError, ValueError):
    """The user's query cannot be sent: the message says which field and why."""


class ConfigurationError(PepsPlusError, ValueError):
    """A setting cannot be used (a base URL that is not http(s), a bad trusted origin)."""


class BackendError(PepsPlusError):
    """The server answered something we cannot use (HTTP error, resto ``ErrorCode``, bad JSON)."""

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


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
