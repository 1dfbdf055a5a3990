"""A loopback TCP server that speaks whatever a test writes on the socket: a front end that
accepts and never answers, headers dripped one by one, a head over any sane size. The HTTP
servers of :mod:`.conftest` cannot misbehave below the body."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator

Handler = Callable[[socket.socket], None]


class RawServer:
    """Each connection is read up to the end of the request head, then given to ``handler``."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.stopped = threading.Event()
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        host, port = self.listener.getsockname()[:2]
        return f"http://{host}:{port}"

    def _serve(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            conn.settimeout(30)
            data = b""
            while b"\r\n\r\n" not in data:
                got = conn.recv(65536)
                if not got:
                    return
                data += got
            self.handler(conn)

    def stop(self) -> None:
        self.stopped.set()
        self.listener.close()


def silent(conn: socket.socket) -> None:
    """Accept, read the request, answer nothing (until the client gives up)."""
    with contextlib.suppress(OSError):
        while conn.recv(65536):  # a request body is read, and nothing is sent back
            pass


def drip_headers(conn: socket.socket, pause: float = 0.2) -> None:
    """A status line, then one header every ``pause`` seconds, for ever."""
    conn.sendall(b"HTTP/1.1 200 OK\r\n")
    for n in range(100_000):
        time.sleep(pause)
        conn.sendall(b"X-Drip-%d: 1\r\n" % (n % 50))


def huge_header(conn: socket.socket) -> None:
    """One header line of 1 MB."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * (1 << 20) + b"\r\n\r\n")


def many_headers(conn: socket.socket) -> None:
    """5,000 headers."""
    lines = b"".join(b"X-H%d: 1\r\n" % n for n in range(5000))
    conn.sendall(b"HTTP/1.1 200 OK\r\n" + lines + b"Content-Length: 0\r\n\r\n")


@contextlib.contextmanager
def raw_server(handler: Handler) -> Iterator[RawServer]:
    server = RawServer(handler)
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def black_hole() -> Iterator[str]:
    """The URL of a port that never accepts: its one-place queue is full, so the kernel drops
    every further connection attempt (a firewall that drops, a server that is down hard)."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=0)
    filler = socket.create_connection(listener.getsockname()[:2])
    host, port = listener.getsockname()[:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        filler.close()
        listener.close()
