"""``peps-plus serve`` over real HTTP, with pystac-client as the client: pystac-client's
documented calls give the ids ``Client.search`` gives; queryables come from the vocabulary;
a download answers 202 and stages the product, then serves it; bad input is a 400 line."""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pystac_client
import pytest
import requests

from eodag_peps_plus import Client
from eodag_peps_plus.discovery import queryables
from eodag_peps_plus.http_io import Credentials
from eodag_peps_plus.sandbox import Sandbox, SandboxConfig
from eodag_peps_plus.stac_server import StacServer
from eodag_peps_plus.staging import StagingOptions
from tests.test_pystac_parity import BOX, DOCUMENTED

FAST = StagingOptions(poll_initial=0.05, poll_max=0.2, timeout=120.0, quiet=True)


@pytest.fixture(scope="module")
def slow_tape(catalogue: Any) -> Iterator[Sandbox]:
    with Sandbox(catalogue, SandboxConfig(time_scale=0.005)) as sb:
        yield sb


@pytest.fixture(scope="module")
def clients(slow_tape: Sandbox, credentials: Credentials) -> dict[str, Client]:
    return {
        "geodes": Client.open(f"{slow_tape.url}/api/stac", credentials=credentials),
        "peps": Client.open(slow_tape.url, backend="peps", credentials=credentials),
    }


@pytest.fixture(scope="module")
def server(
    clients: dict[str, Client], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StacServer]:
    with StacServer(clients, tmp_path_factory.mktemp("served"), wait=0.5, staging=FAST) as srv:
        yield srv


@pytest.mark.parametrize(("documented", "plain"), DOCUMENTED)
@pytest.mark.parametrize("collection", ["S2ST", "PEPS_S2_L1C"])
def test_pystac_client_documented_calls_through_the_server(
    server: StacServer,
    clients: dict[str, Client],
    collection: str,
    documented: dict[str, Any],
    plain: dict[str, Any],
) -> None:
    theirs = pystac_client.Client.open(server.url)
    base: dict[str, Any] = {"collections": [collection], "max_items": 25}
    if "bbox" not in plain and "intersects" not in documented and "platform" not in plain:
        base["bbox"] = BOX
    ids = [i.id for i in theirs.search(**base, **documented, limit=10).items()]
    client = clients["peps" if collection == "S2ST" else "geodes"]
    assert ids and ids == [i.id for i in client.search(**base, **plain).items()]


def test_collections_sort_fields_pages_and_queryables(
    server: StacServer, clients: dict[str, Client]
) -> None:
    theirs = pystac_client.Client.open(server.url)
    assert {c.id for c in theirs.get_collections()} == {
        "S1", "S2", "S2ST", "S3", "PEPS_S1_L1", "PEPS_S1_L2", "PEPS_S2_L1C",
        "THEIA_REFLECTANCE_SENTINEL2_L2A",
    }  # fmt: skip
    assert theirs.get_collection("PEPS_S2_L1C").title
    common = {"collections": ["PEPS_S2_L1C"], "bbox": BOX, "max_items": 30}
    search = theirs.search(**common, sortby="-eo:cloud_cover", limit=7)
    pages = list(search.pages_as_dicts())
    assert [len(p["features"]) for p in pages] == [7, 7, 7, 7, 2]
    ids = [f["id"] for p in pages for f in p["features"]]
    assert ids == [i.id for i in clients["geodes"].search(**common, sortby="-eo:cloud_cover").items()]  # fmt: skip
    assert search.matched() == clients["geodes"].search(**common).matched()
    slim = next(theirs.search(**common, fields=["-geometry"]).items_as_dicts())
    assert "geometry" not in slim
    schema = requests.get(f"{server.url}/collections/PEPS_S2_L1C/queryables", timeout=30).json()
    wanted = {q.name for q in queryables(clients["geodes"].backend, "PEPS_S2_L1C")}
    assert set(schema["properties"]) == wanted and "location" not in wanted
    assert schema["properties"]["platform"]["enum"] == ["S2A", "S2B", "S2C"]
    assert "location" in requests.get(f"{server.url}/collections/S2ST/queryables", timeout=30).json()["properties"]  # fmt: skip


def test_offline_download_answers_202_then_the_file(server: StacServer, slow_tape: Sandbox) -> None:
    theirs = pystac_client.Client.open(server.url)
    items = list(theirs.search(collections=["S2ST"], bbox=BOX, datetime="2018", max_items=20).items())  # fmt: skip
    item = next(i for i in items if i.properties["order:status"] == "orderable")
    href = item.assets["archive"].href
    assert href.startswith(server.url)
    first = requests.get(href, timeout=30)
    assert first.status_code == 202 and int(first.headers["Retry-After"]) > 0
    assert first.json()["status"] == "staging"
    deadline = time.monotonic() + 120
    reply = first
    while reply.status_code == 202 and time.monotonic() < deadline:
        time.sleep(0.3)
        reply = requests.get(href, timeout=30)
    assert reply.status_code == 200, reply.text
    assert reply.headers["Content-Type"] == "application/zip"
    assert hashlib.md5(reply.content).hexdigest() == item.properties["file:checksum"][4:]  # noqa: S324 - the archive's checksum
    assert slow_tape.restores_asked(item.id) >= 1
    again = requests.get(href, timeout=30)  # on disk now: at once
    assert again.status_code == 200 and again.content == reply.content


def test_geodes_tape_product_is_410_with_the_reason(server: StacServer) -> None:
    theirs = pystac_client.Client.open(server.url)
    items = theirs.search(collections=["PEPS_S2_L1C"], bbox=BOX, datetime="2018", max_items=20)
    item = next(i for i in items.items() if i.properties["order:status"] == "orderable")
    reply = requests.get(item.assets["archive"].href, timeout=30)
    deadline = time.monotonic() + 60
    while reply.status_code == 202 and time.monotonic() < deadline:
        time.sleep(0.2)
        reply = requests.get(item.assets["archive"].href, timeout=30)
    assert reply.status_code == 410
    assert "Tier3" in reply.json()["description"]


@pytest.mark.parametrize(
    ("path", "status", "text"),
    [
        ("/search?collections=S2ST,PEPS_S2_L1C", 400, "several servers"),
        ("/search?collections=S2ST&filter=platform IN ('S2A')", 400, "IN on platform"),
        ("/search?collections=S2ST&token=AAAA", 400, "not a token"),
        ("/search?collections=S2ST&limit=0", 400, "limit"),
        ("/search?collections=S9", 404, "no collection 'S9'"),
        ("/collections/S2ST/items/NOPE/download", 404, "no such product"),
        ("/collections/NOPE", 404, "no collection"),
    ],
)
def test_bad_requests_are_one_line(server: StacServer, path: str, status: int, text: str) -> None:
    reply = requests.get(server.url + path, timeout=60)
    assert reply.status_code == status
    assert text in reply.json()["description"]


def test_a_forged_token_cannot_send_the_server_elsewhere(server: StacServer) -> None:
    first = requests.get(f"{server.url}/search?collections=S2ST&limit=2", timeout=30).json()
    href = next(link["href"] for link in first["links"] if link["rel"] == "next")
    token = href.split("token=")[1].split("&")[0]
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    reply = requests.get(f"{server.url}/search?collections=S2ST&limit=2&token={forged}", timeout=30)  # fmt: skip
    assert reply.status_code == 400


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_peps_plus_serve_command(slow_tape: Sandbox, tmp_path: Path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "EODAG__PEPS__SEARCH__API_ENDPOINT": slow_tape.url,
        "EODAG__GEODES_PLUS__SEARCH__API_ENDPOINT": slow_tape.url,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "eodag_peps_plus", "serve", "--port", str(port),
         "-w", str(tmp_path)],
        env=env, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                landing = requests.get(url, timeout=5).json()
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        assert "search" in {link["rel"] for link in landing["links"]}
        found = pystac_client.Client.open(url).search(collections=["S2ST"], max_items=3)
        assert len(list(found.items())) == 3
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
    assert "STAC API of geodes, peps" in err and "Traceback" not in err


def test_stagings_at_once_are_bounded(
    make_sandbox: Any, credentials: Credentials, tmp_path: Path
) -> None:
    sb = make_sandbox(SandboxConfig(time_scale=0.05))  # restores take seconds
    clients = {"peps": Client.open(sb.url, backend="peps", credentials=credentials)}
    with StacServer(clients, tmp_path, wait=0, max_stagings=1, staging=FAST) as srv:
        items = requests.get(
            f"{srv.url}/search?collections=S2ST&bbox=1,43.4,1.6,43.8&datetime=2018&limit=20",
            timeout=30,
        ).json()["features"]
        offline = [f for f in items if f["properties"]["order:status"] == "orderable"][:2]
        first = requests.get(offline[0]["assets"]["archive"]["href"], timeout=30)
        second = requests.get(offline[1]["assets"]["archive"]["href"], timeout=30)
    assert first.status_code == 202
    assert second.status_code == 503 and second.headers["Retry-After"]
    assert "being staged" in second.json()["description"]


def _raw(url: str, request: bytes, timeout: float = 30) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(request)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
        return reply


@pytest.mark.parametrize(
    ("length", "status"), [(str(1 << 40), b"413"), ("-5", b"400"), ("12abc", b"400")]
)
def test_a_body_too_large_or_unreadable_is_refused_unread(
    server: StacServer, length: str, status: bytes
) -> None:
    """A client announcing a terabyte (or nonsense) gets one refusal and a closed connection,
    before the server reads (or waits for) a byte of it."""
    head = f"POST /search HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n".encode()
    reply = _raw(server.url, head + b"{")
    assert reply.split(b" ")[1] == status, reply[:200]
    assert b"Connection: close" in reply


def test_a_silent_connection_is_closed(server: StacServer) -> None:
    """Idle connections each hold a thread: the server ends them after its idle timeout."""
    assert server.httpd is not None
    before, server.httpd.idle_timeout = server.httpd.idle_timeout, 0.5
    try:
        started = time.monotonic()
        assert _raw(server.url, b"GET /conformance HTTP/1.1\r\n", timeout=30) == b""
        assert time.monotonic() - started < 20
    finally:
        server.httpd.idle_timeout = before
