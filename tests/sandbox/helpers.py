"""Helpers shared by the sandbox tests."""

from __future__ import annotations

import contextlib
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests


@contextlib.contextmanager
def serve_cli(*options: str, timeout: float = 120) -> Iterator[str]:
    """Run ``peps-plus sandbox serve --port 0 OPTIONS`` and yield what it printed up to
    "Press Ctrl-C"; the server is stopped on exit (bounded: a silent server fails the test)."""
    command = [sys.executable, "-m", "eodag_peps_plus", "sandbox", "serve", "--port", "0"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [*command, *options], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    out: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        with process.stdout:  # closed at the server's end (an open pipe warns when collected)
            for line in process.stdout:
                out.put(line.rstrip("\n"))

    threading.Thread(target=pump, daemon=True).start()
    try:
        yield "\n".join(_lines(out, "Press Ctrl-C", timeout))
    finally:
        process.terminate()
        process.wait(timeout=30)


def _lines(stream: queue.Queue[str], until: str, timeout: float) -> list[str]:
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while not lines or until not in lines[-1]:
        try:
            lines.append(stream.get(timeout=max(0.1, deadline - time.monotonic())))
        except queue.Empty:
            pytest.fail(f"no {until!r} within {timeout} s; got {lines}")
    return lines


def peps_feature(url: str, collection: str, name: str) -> dict[str, Any]:
    """The PEPS resto feature of product ``name`` (a search by ``productIdentifier``)."""
    search = requests.get(
        f"{url}/resto/api/collections/{collection}/search.json",
        params={"productIdentifier": name},
        timeout=60,
    ).json()
    (feature,) = search["features"]
    return dict(feature)
