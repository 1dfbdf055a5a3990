"""Is this reply the archive? One answer for every caller that asks an archive for bytes.

Archive servers answer many things that are not the product: JSON or HTML error pages with
HTTP 200, XML from a gateway, empty bodies, a length that is not the product's, a 206 for
other bytes than the ones asked. The backends' restore requests and the staging transfers
used to decide this each in their own way (and disagreed, e.g. on XML); they all call
:func:`classify_archive_reply` now, and only decide what each verdict means for them.
"""

from __future__ import annotations

import dataclasses
import email.utils
import enum
import http
import json
import time
from typing import Any

import requests
import urllib3

__all__ = [
    "ArchiveReply",
    "MESSAGE_LIMIT",
    "MESSAGE_TYPES",
    "ReplyKind",
    "ZIP_MAGIC",
    "classify_archive_reply",
    "content_type",
    "is_message_type",
    "parse_retry_after",
    "read_small",
    "snippet",
]

#: Every archive starts with a zip local file header (an empty zip would be PK\x05\x06).
ZIP_MAGIC = b"PK\x03\x04"
#: Content types that are never an archive, whatever the status and the length say
#: (besides every ``text/*`` and every ``+json``/``+xml`` structured type).
MESSAGE_TYPES = frozenset(
    {"application/json", "application/xml", "application/javascript", "application/xhtml"}
)
#: How much of a message body is read to explain it (never a whole archive).
MESSAGE_LIMIT = 65536


class ReplyKind(str, enum.Enum):
    """What a reply to an archive request is."""

    ARCHIVE = "archive"  # can be the product (or the continuation asked for)
    AUTH = "auth"  # the credentials were refused (status, or an error message saying so)
    TRANSIENT = "transient"  # 429/5xx, or a message carrying one: ask again later
    NOT_ARCHIVE = "not_archive"  # anything else that is not the product: not online (yet)
    BAD_RANGE = "bad_range"  # a 206 for other bytes than the ones asked: start over
    #: The archive says it will not serve this product at all (HTTP 410 Gone: GEODES's
    #: answer for a product kept on Tier3): settle it now, asking again changes nothing.
    REFUSED = "refused"


#: Statuses by which an archive says "not this product, not later either". 410 is what
#: GEODES answers for Tier3 (CS-SI/eodag#1776); 451 is the same refusal for legal reasons.
REFUSAL_STATUSES = frozenset({410, 451})


@dataclasses.dataclass(frozen=True)
class ArchiveReply:
    """The verdict on one reply; ``reason`` says why in words a user can act on."""

    kind: ReplyKind
    status: int
    reason: str = ""
    retry_after: float | None = None
    #: The first bytes of a message body (JSON, HTML...), for error messages.
    detail: str = ""
    #: The error code a message body carried (resto's ``ErrorCode``), else the status.
    code: int | None = None

    def __post_init__(self) -> None:
        if self.code is None:
            object.__setattr__(self, "code", self.status)

    @property
    def is_archive(self) -> bool:
        return self.kind is ReplyKind.ARCHIVE


def content_type(response: requests.Response) -> str:
    """The media type of a reply, lower-case, without parameters."""
    return (response.headers.get("Content-Type") or "").split(";")[0].strip().lower()


def is_message_type(kind: str) -> bool:
    """Whether a media type is a message (text, JSON, XML), never archive bytes."""
    return (
        kind.startswith("text/")
        or kind in MESSAGE_TYPES
        or kind.endswith("+json")
        or kind.endswith("+xml")
    )


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds (delta or HTTP date); the sandbox also sends fractions."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def when_to_retry(retry_after: float | None, now: float | None = None) -> str:
    """When a server asked to be asked again, in words: ``"after 60 s (at 21:43 UTC)"``, or
    that it did not say (no ``Retry-After``)."""
    if retry_after is None:
        return "the server did not say when to retry (no Retry-After): try again later"
    at = time.strftime(
        "%H:%M UTC", time.gmtime((time.time() if now is None else now) + retry_after)
    )
    return f"the server asks to retry after {retry_after:.0f} s (at {at})"


def message_of(detail: str) -> str:
    """The message of a JSON error body (GEODES's ``message``, resto's ``ErrorMessage``), else
    the body's start as it is."""
    try:
        data = json.loads(detail)
    except ValueError:
        return detail
    if isinstance(data, dict):
        for key in ("message", "ErrorMessage", "detail", "description"):
            if isinstance(data.get(key), str) and data[key].strip():
                return snippet(data[key].encode())
    return detail


def snippet(data: bytes, limit: int = 160) -> str:
    """The start of a body as one printable line."""
    return data[:limit].decode("utf-8", "replace").replace("\n", " ").replace("\r", " ").strip()


def read_small(response: requests.Response, limit: int = MESSAGE_LIMIT) -> bytes:
    """At most ``limit`` bytes of a body; a connection failure reads as nothing."""
    try:
        data: bytes = response.raw.read(limit, decode_content=True)
    except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError, OSError):
        return b""
    return data or b""


def classify_archive_reply(
    response: requests.Response, *, expected_size: int | None = None, offset: int = 0
) -> ArchiveReply:
    """Say whether ``response`` can be the archive, before a byte of it is saved.

    Args:
        response: a streamed reply (``stream=True``); its body is read (at most
            :data:`MESSAGE_LIMIT` bytes) only when it is not the archive, to explain why.
        expected_size: the product's size from the catalogue, when known.
        offset: the byte the request asked to start from (``Range: bytes=offset-``).

    Returns:
        The verdict. ``ARCHIVE`` still needs the caller's checks on the bytes themselves
        (zip signature, length, checksum): a header cannot prove them.
    """
    status = response.status_code
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    if status in (401, 403):
        return ArchiveReply(ReplyKind.AUTH, status, f"HTTP {status}")
    if status == 429 or status >= 500:
        detail = snippet(read_small(response))
        reason = f"HTTP {status}{': ' + detail if detail else ''}"
        return ArchiveReply(ReplyKind.TRANSIENT, status, reason, retry_after, detail)
    if status in REFUSAL_STATUSES:
        detail = snippet(read_small(response))
        phrase = http.HTTPStatus(status).phrase
        reason = f"HTTP {status} {phrase}{': ' + detail if detail else ''}"
        return ArchiveReply(ReplyKind.REFUSED, status, reason, None, detail)
    if status not in (200, 206):
        detail = snippet(read_small(response))
        reason = f"HTTP {status} instead of the archive{': ' + detail if detail else ''}"
        return ArchiveReply(ReplyKind.NOT_ARCHIVE, status, reason, retry_after, detail)
    kind = content_type(response)
    if is_message_type(kind):
        return _message_reply(status, kind, read_small(response), retry_after)
    length_text = response.headers.get("Content-Length", "").strip()
    length = int(length_text) if length_text.isdigit() else None
    if status == 206:
        crange = response.headers.get("Content-Range", "")
        total = crange.rpartition("/")[2]
        if not crange.startswith(f"bytes {offset}-") or (
            expected_size is not None and total.isdigit() and int(total) != expected_size
        ):
            # Not the continuation we asked for: start over rather than splice.
            reason = f"unexpected Content-Range {crange!r}; restarting"
            return ArchiveReply(ReplyKind.BAD_RANGE, status, reason, 0.0)
        remaining = None if expected_size is None else expected_size - offset
    else:
        remaining = expected_size
    if length == 0:
        return ArchiveReply(ReplyKind.NOT_ARCHIVE, status, f"HTTP {status} with an empty body")
    if length is not None and remaining is not None and length != remaining:
        reason = f"HTTP {status} with {length} bytes where the catalogue says {remaining}"
        return ArchiveReply(ReplyKind.NOT_ARCHIVE, status, reason)
    return ArchiveReply(ReplyKind.ARCHIVE, status)


def _message_reply(status: int, kind: str, body: bytes, retry_after: float | None) -> ArchiveReply:
    """A JSON/HTML/XML/text body: an error message, whatever the status says (resto answers
    errors as ``{"ErrorCode": 403, ...}`` with HTTP 200)."""
    data: Any = None
    if kind == "application/json" or kind.endswith("+json"):
        try:
            data = json.loads(body or b"null")
        except ValueError:
            data = None
    code = str(data.get("ErrorCode", "")) if isinstance(data, dict) else ""
    detail = snippet(body) or "empty"
    if code in ("401", "403"):
        reason = f"HTTP {status} carrying error {code}"
        return ArchiveReply(ReplyKind.AUTH, status, reason, None, detail, int(code))
    if code.isdigit() and (int(code) == 429 or int(code) >= 500):
        reason = f"HTTP {status} carrying error {code}: {detail}"
        return ArchiveReply(ReplyKind.TRANSIENT, status, reason, retry_after, detail, int(code))
    reason = f"HTTP {status} with a {kind} body: {detail}"
    return ArchiveReply(ReplyKind.NOT_ARCHIVE, status, reason, None, detail)
