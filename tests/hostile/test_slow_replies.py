"""A reply that drips, or never ends, cannot hold a search: the whole reply has a deadline
and a size limit, not only each wait for a byte."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from eodag_peps_plus.backends import get_backend
from eodag_peps_plus.exceptions import BackendError
from eodag_peps_plus.http_io import make_session, send
from eodag_peps_plus.query import Query
from eodag_peps_plus.sandbox.app import Response

from .conftest import HostileServer


def _drip(pause: float, count: int) -> Iterator[bytes]:
    for _ in range(count):
        time.sleep(pause)
        yield b" "


def test_a_dripping_search_reply_ends_at_the_deadline(hostile: HostileServer) -> None:
    body = _drip(0.3, 10_000)  # one byte every 0.3 s: each read is quick, the reply endless
    reply = Response(200, body, {"Content-Type": "application/json"}, length=10_000)
    hostile.route("GET", "/resto/api/collections/S2ST/search.json", reply)
    backend = get_backend("peps", hostile.url, timeout=1.0)
    started = time.monotonic()
    with pytest.raises(BackendError, match="took more than"):
        send(backend.session, "GET", f"{hostile.url}/resto/api/collections/S2ST/search.json",
             "PEPS search", timeout=1.0, deadline=2.0)  # fmt: skip
    assert time.monotonic() - started < 30


def test_an_endless_reply_is_cut_at_the_size_limit(hostile: HostileServer) -> None:
    def endless() -> Iterator[bytes]:
        while True:
            yield b"[" * 65536

    hostile.route(
        "GET", "/big", Response(200, endless(), {"Content-Type": "application/json"}, length=2**40)
    )
    with pytest.raises(BackendError, match="larger than 1 MB"):
        send(make_session(), "GET", f"{hostile.url}/big", "search", timeout=5, max_bytes=2**20)


def test_search_reply_deadline_follows_the_backend_timeout(hostile: HostileServer) -> None:
    reply = Response(200, _drip(0.4, 1000), {"Content-Type": "application/json"}, length=1000)
    hostile.route("GET", "/resto/api/collections/S2ST/search.json", reply)
    backend = get_backend("peps", hostile.url, timeout=1.0)
    with pytest.raises(BackendError, match="took more than 30 s"):
        backend.count(Query.create(collection="S2ST", start="2020-01-01"))
