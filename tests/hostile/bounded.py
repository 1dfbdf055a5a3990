"""Every hostile test is bounded: a call that does not end fails the test instead of hanging CI."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

import pytest

T = TypeVar("T")

#: Seconds one search may take against a loopback server before it counts as hung.
BOUND = 20.0


def within(call: Callable[[], T], seconds: float = BOUND) -> T:
    """``call()`` in a thread: its result or exception, or a failure if it runs too long (the
    thread is a daemon: a hang costs CPU until the session ends, never the CI job)."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = call()
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        pytest.fail(f"still running after {seconds:.0f} s: it hangs")
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]
