"""Fault injection for archive downloads, switchable per test.

Each fault fires a given number of times (``times``; ``None`` = always), optionally only for
some products, so a test can say "the first two downloads of X drop at byte 10,000".
"""

from __future__ import annotations

import dataclasses
import threading

from .app import Response


@dataclasses.dataclass
class Fault:
    #: ``drop`` (close at byte ``at``), ``status`` (answer ``status`` with ``retry_after``),
    #: ``slow`` (wait ``delay`` s), ``truncate`` (announce full length, send ``at`` bytes),
    #: ``corrupt`` (flip bytes: checksum mismatch), ``json200`` (JSON error with HTTP 200).
    kind: str
    at: int = 0
    status: int = 503
    retry_after: float | None = None
    delay: float = 0.0
    times: int | None = 1
    products: frozenset[str] | None = None  # product names; None = every product

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
        if fault.kind == "drop":
            response.drop_after = fault.at
        elif fault.kind == "truncate":
            response.truncate_at = fault.at
        elif fault.kind == "slow":
            response.delay = fault.delay
        elif fault.kind == "corrupt":
            response.body = _corrupt(response.body)
        elif fault.kind == "status":
            headers = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after else {}
            return Response.json(
                {"ErrorCode": fault.status, "ErrorMessage": "Service temporarily unavailable"},
                fault.status,
                headers,
            )
        elif fault.kind == "json200":
            return Response.json({"ErrorCode": 500, "ErrorMessage": "Internal error"}, 200)
        return response


def _corrupt(body: object) -> object:
    """Same length, different bytes: only a checksum can tell."""
    if isinstance(body, bytes):
        return body[:-1] + bytes([body[-1] ^ 0xFF]) if body else body

    def flipped() -> object:
        first = True
        for chunk in body:  # type: ignore[attr-defined]
            if first and chunk:
                chunk = bytes([chunk[0] ^ 0xFF]) + chunk[1:]
                first = False
            yield chunk

    return flipped()
