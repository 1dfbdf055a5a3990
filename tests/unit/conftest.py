"""The unit tier: pure code, no server, no network, no subprocess; the whole tier runs in
seconds (``pytest tests/unit``). Tests that need a sandbox or a real server live beside it."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest


class NetworkUsed(AssertionError):
    """A unit test tried to reach a server: it belongs outside ``tests/unit``."""


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    def refuse(self: socket.socket, address: Any, *args: Any) -> None:
        raise NetworkUsed(f"a unit test tried to connect to {address!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    yield
