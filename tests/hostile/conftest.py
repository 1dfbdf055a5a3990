"""Hostile servers for trust-boundary tests, over real HTTP on loopback.

``hostile`` is a server whose every route a test writes (bad JSON, cycles, redirects, drips);
``collector`` listens on a *second* loopback address (127.0.0.2), stands for a foreign host,
records every request, and fails the test if any of them carried a credential.
"""

from __future__ import annotations

import base64
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from eodag_peps_plus.sandbox.app import Request, Response, Router, SandboxHTTPServer

#: Headers that carry credentials; any of them reaching a foreign host is a leak.
CREDENTIAL_HEADERS = ("authorization", "x-api-key", "cookie", "proxy-authorization")

Reply = Response | Callable[[Request], Response]


class HostileServer:
    """A loopback server whose routes a test defines; it records every request it gets."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.router = Router()
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self.server = SandboxHTTPServer((host, 0), self.router)
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def route(self, method: str, pattern: str, reply: Reply) -> None:
        """Answer ``method`` on paths matching the regex ``pattern`` with ``reply``."""

        def handler(request: Request) -> Response:
            with self._lock:
                self.requests.append(request)
            return reply(request) if callable(reply) else reply

        self.router.add(method, pattern, handler)

    def start(self) -> HostileServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def leaked(request: Request) -> list[str]:
    """What credential a request carried: headers, or a user:password in the query/path."""
    found = [h for h in CREDENTIAL_HEADERS if request.headers.get(h)]
    decoded = " ".join(f"{k}={v}" for k, v in request.query.items()).lower()
    found += [w for w in ("password", "apikey", "api_key") if w in decoded]
    return found


class Collector(HostileServer):
    """A foreign host: answers anything with a small binary body, and remembers who came."""

    def __init__(self) -> None:
        super().__init__("127.0.0.2")
        body = b"PK\x03\x04" + b"\0" * 60
        for method in ("GET", "POST", "HEAD", "DELETE"):
            self.route(method, "/.*", Response(200, body, {"Content-Type": "application/zip"}))

    def leaks(self) -> list[tuple[str, str, list[str]]]:
        return [(r.method, r.path, leaked(r)) for r in self.requests if leaked(r)]


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture
def hostile() -> Iterator[HostileServer]:
    server = HostileServer().start()
    yield server
    server.stop()


@pytest.fixture
def collector() -> Iterator[Collector]:
    """Fails the test at teardown if any request that reached it carried a credential."""
    server = Collector().start()
    yield server
    server.stop()
    leaks = server.leaks()
    assert not leaks, f"credentials reached the foreign host {server.url}: {leaks}"


@pytest.fixture
def tiny_disk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], Path]]:
    """``tiny_disk("2m")``: a folder on a tmpfs of that size (root only; skipped elsewhere)."""
    mounted: list[Path] = []

    def make(size: str) -> Path:
        folder = tmp_path_factory.mktemp("tiny")
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
            capture_output=True,
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
        mounted.append(folder)
        return folder

    yield make
    for folder in mounted:
        subprocess.run(["umount", "-l", str(folder)], check=False)
