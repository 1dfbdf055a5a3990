"""Our errors as EODAG's own exception types, so EODAG users catch what they already know
(``RequestError`` and its subclasses) whichever provider failed."""

from __future__ import annotations

from eodag.utils.exceptions import (
    AuthenticationError as EodagAuthenticationError,
)
from eodag.utils.exceptions import (
    QuotaExceededError as EodagQuotaExceededError,
)
from eodag.utils.exceptions import (
    RequestError,
    ValidationError,
)

from ..exceptions import (
    AuthenticationError,
    BackendError,
    InvalidQueryError,
    PepsPlusError,
    QuotaExceededError,
)

__all__ = ["to_eodag"]


def to_eodag(exc: PepsPlusError) -> Exception:
    """The EODAG exception that means ``exc``, with the same one-line message.

    ``InvalidQueryError`` -> ``ValidationError``; ``AuthenticationError`` -> EODAG's
    ``AuthenticationError``; ``QuotaExceededError`` -> EODAG's ``QuotaExceededError``; any
    other error (a server reply we cannot use, paging that does not end) -> ``RequestError``
    carrying the HTTP status when there was one.
    """
    message = str(exc)
    if isinstance(exc, InvalidQueryError):
        return ValidationError(message)
    if isinstance(exc, AuthenticationError):
        return EodagAuthenticationError(message)
    converted: RequestError
    if isinstance(exc, QuotaExceededError):
        converted = EodagQuotaExceededError(message)
    else:
        converted = RequestError(message)
    converted.status_code = exc.status_code if isinstance(exc, BackendError) else None
    return converted
