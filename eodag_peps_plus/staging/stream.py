"""Streaming one archive without a file or a ledger (EODAG's ``stream_download``): wait for
its restore, open it, and hand out bytes that are checked for length and MD5 as they pass.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import Iterator

import requests

from ..backends.base import Archive
from ..exceptions import AuthenticationError, DownloadError, ProductNotAvailableError
from ..logs import get_logger
from ..product import Availability, Product
from .options import PollSchedule, StagingOptions
from .transfer import (
    NETWORK_ERRORS,
    STALL_TIMEOUT,
    Outcome,
    classify_reply,
    iter_body,
    set_read_timeout,
)

__all__ = ["ArchiveStream", "open_stream", "verified_chunks", "wait_until_online"]

logger = get_logger(__name__)


def wait_until_online(
    archive: Archive,
    product: Product,
    *,
    timeout: float,
    poll: PollSchedule | None = None,
) -> Availability:
    """Ask the restore of one product if needed and poll until it is online or ``timeout``
    seconds passed, on ``poll`` (default: :class:`StagingOptions`'); returns the last
    availability seen (for streaming, where no file and no ledger are involved)."""
    availability = product.availability
    if availability is not Availability.ONLINE:
        revealed = archive.request_restore(product)
        if revealed is Availability.ONLINE:
            return revealed
    deadline = time.monotonic() + timeout
    found = archive.availability([product]).get(product.id, availability)
    for interval in (poll or StagingOptions().poll).intervals():
        if found is Availability.ONLINE or time.monotonic() + interval > deadline:
            break
        time.sleep(interval)
        found = archive.availability([product]).get(product.id, found)
    return found


@dataclasses.dataclass
class ArchiveStream:
    """An open archive: ``chunks`` raise :class:`DownloadError` at the end if the bytes were
    not the whole product (short, or MD5 mismatch), so no consumer keeps a wrong copy."""

    chunks: Iterator[bytes]
    length: int | None
    filename: str


def open_stream(
    archive: Archive,
    product: Product,
    byte_range: tuple[int | None, int | None] = (None, None),
    *,
    stall_timeout: float = STALL_TIMEOUT,
) -> ArchiveStream:
    """Open the archive of an online product for streaming.

    Args:
        archive: the archive serving the product.
        product: the product; its catalogue size and MD5 are checked when known.
        byte_range: ``(start, end)``, inclusive, ``None`` for open ends; partial streams are
            length-checked only.
        stall_timeout: seconds without a byte after which reading the stream fails.

    Returns:
        The stream, with its length when the catalogue gives a size.

    Raises:
        AuthenticationError: the archive refused the credentials.
        ProductNotAvailableError: the archive answered something else than the product.
        DownloadError: the server ignored the byte range.
    """
    start, end = byte_range
    offset = start or 0
    response = archive.open_download(product, offset=offset)
    verdict = classify_reply(product, response, offset, archive=archive)
    if verdict is not None:
        response.close()
        if verdict.outcome is Outcome.AUTH:
            raise AuthenticationError(verdict.reason, verdict.status_code)
        raise ProductNotAvailableError(f"{product.id}: {verdict.reason}")
    if offset and response.status_code != 206:
        response.close()
        raise DownloadError(f"{product.id}: the server ignored the byte range")
    set_read_timeout(response, stall_timeout)
    size = product.size
    length = (size - offset) if size is not None else None
    if end is not None and length is not None:
        length = min(length, end + 1 - offset)
    whole = offset == 0 and end is None
    return ArchiveStream(
        verified_chunks(response, product, length, whole), length, product.filename
    )


def verified_chunks(
    response: requests.Response, product: Product, length: int | None, whole: bool
) -> Iterator[bytes]:
    """The body, cut at ``length``; raises :class:`DownloadError` at the end when it was short
    or (``whole``) its MD5 differs from the catalogue's."""
    digest = hashlib.md5(usedforsecurity=False)
    sent = 0
    started = time.monotonic()
    with response:
        try:
            for chunk in iter_body(response):
                if length is not None and sent + len(chunk) > length:
                    chunk = chunk[: length - sent]
                if whole:
                    digest.update(chunk)
                sent += len(chunk)
                yield chunk
                if length is not None and sent >= length:
                    break
        except NETWORK_ERRORS as exc:  # a stall or a dropped connection
            raise DownloadError(
                f"{product.id}: stream interrupted after {sent} bytes ({type(exc).__name__})"
            ) from None
    if length is not None and sent != length:
        raise DownloadError(f"{product.id}: stream ended after {sent} of {length} bytes")
    if whole and product.md5 and digest.hexdigest() != product.md5:
        raise DownloadError(f"{product.id}: MD5 mismatch, the streamed copy is corrupt")
    logger.debug("%s streamed in %.1f s", product.id, time.monotonic() - started)
