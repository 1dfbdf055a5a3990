"""Fault injection for archive downloads, switchable per test.

Each fault fires a given number of times (``times``; ``None`` = always), optionally only for
some products, so a test can say "the first two downloads of X drop at byte 10,000". Every
kind is something a real archive server did to PEPS users at some point.
"""

from __future__ import annotations

import dataclasses
import math
import threading
from collections.abc import Iterable, Iterator

from .app import Response

__all__ = ["Fault", "FaultPlan", "KINDS"]

#: What each kind does to the reply of an online product.
KINDS: dict[str, str] = {
    "drop": "close the connection after `at` body bytes (full length announced)",
    "stall": "stop sending for `delay` seconds after `at` body bytes",
    "status": "answer `status` (429, 500, 503...) with an optional Retry-After",
    "slow": "wait `delay` seconds before answering",
    "truncate": "a complete reply whose body is only `at` bytes (short Content-Length)",
    "corrupt": "same length, one byte flipped: only the checksum can tell",
    "json200": "a JSON error message with HTTP 200 (`status` is its ErrorCode)",
    "html200": "an HTML error page with HTTP 200",
    "empty200": "HTTP 200 with an empty body",
    "wrongtype": "the right bytes announced as text/html",
    "login200": "a login page (HTML form) with HTTP 200, as a portal's front end sends",
    "biglength": "a Content-Length of `at` bytes (not the product's size), then the archive",
}


@dataclasses.dataclass
class Fault:
    """One armed fault; ``kind`` is a key of :data:`KINDS`."""

    kind: str
    at: int = 0
    status: int = 503
    retry_after: float | None = None
    delay: float = 0.0
    times: int | None = 1
    products: frozenset[str] | None = None  # product names; None = every product

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; known: {', '.join(KINDS)}")
        if self.products is not None and not isinstance(self.products, frozenset):
            self.products = frozenset(self.products)

    def applies_to(self, name: str) -> bool:
        return (self.products is None or name in self.products) and self.times != 0


class FaultPlan:
    """The faults currently armed; ``apply`` consumes them as downloads are served."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self.fired: list[tuple[str, str]] = []

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def arm(self, kind: str, **kwargs: object) -> Fault:
        """``plan.arm("drop", at=1000, products={name})``: shorthand for ``add(Fault(...))``."""
        return self.add(Fault(kind, **kwargs))  # type: ignore[arg-type]

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, name: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.applies_to(name):
                    if fault.times is not None:
                        fault.times -= 1
                    self.fired.append((fault.kind, name))
                    return fault
        return None

    def apply(self, name: str, response: Response) -> Response:
        """Turn a good download response into the faulty one the armed plan asks for."""
        fault = self.take(name)
        if fault is None:
            return response
        kind = fault.kind
        if kind == "drop":
            response.drop_after = fault.at
        elif kind == "stall":
            response.stall_at, response.stall_for = fault.at, fault.delay
        elif kind == "slow":
            response.delay = fault.delay
        elif kind == "truncate":
            response.body = _head(_chunks(response.body), fault.at)
            response.length = fault.at
        elif kind == "corrupt":
            response.body = _corrupt(_chunks(response.body))
        elif kind == "status":
            headers = {}
            if fault.retry_after is not None:
                # HTTP allows whole seconds only (urllib3 rejects fractions).
                headers["Retry-After"] = str(max(0, math.ceil(fault.retry_after)))
            return _keep_gauge(
                Response.json(
                    {"ErrorCode": fault.status, "ErrorMessage": "Service temporarily unavailable"},
                    fault.status,
                    headers,
                ),
                response,
            )
        elif kind == "json200":
            code = fault.status if fault.status != 503 else 500
            error = {"ErrorCode": code, "ErrorMessage": "Internal error"}
            return _keep_gauge(Response.json(error, 200), response)
        elif kind == "html200":
            page = "<!DOCTYPE html><html><body><h1>Maintenance</h1><p>Back soon.</p></body></html>"
            return _keep_gauge(Response.text(page, 200, "text/html"), response)
        elif kind == "login200":
            page = (
                "<!DOCTYPE html><html><body><form method='post' action='/login'>"
                "<input name='username'><input type='password' name='password'>"
                "</form></body></html>"
            )
            return _keep_gauge(Response.text(page, 200, "text/html"), response)
        elif kind == "biglength":
            response.length = fault.at
        elif kind == "empty200":
            return _keep_gauge(Response(200, b"", {"Content-Type": "application/zip"}), response)
        elif kind == "wrongtype":
            response.headers["Content-Type"] = "text/html; charset=utf-8"
        return response


def _keep_gauge(new: Response, old: Response) -> Response:
    new.gauge = old.gauge
    return new


def _chunks(body: bytes | Iterable[bytes]) -> Iterable[bytes]:
    return [body] if isinstance(body, bytes) else body


def _head(chunks: Iterable[bytes], limit: int) -> Iterator[bytes]:
    sent = 0
    for chunk in chunks:
        if sent >= limit:
            return
        piece = chunk[: limit - sent]
        sent += len(piece)
        yield piece


def _corrupt(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Same length, different bytes: only a checksum can tell."""
    first = True
    for chunk in chunks:
        if first and chunk:
            chunk = chunk[:-1] + bytes([chunk[-1] ^ 0xFF])
            first = False
        yield chunk
