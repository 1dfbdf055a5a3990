"""Helpers shared by the staging tests."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from eodag_peps_plus.backends import get_backend
from eodag_peps_plus.backends.base import Backend
from eodag_peps_plus.http_io import Credentials
from eodag_peps_plus.product import Product
from eodag_peps_plus.query import Query
from eodag_peps_plus.sandbox import DEFAULT_PASSWORD, DEFAULT_USER, Sandbox
from eodag_peps_plus.staging import Downloader

#: Downloader settings scaled for tests: polls every 50-200 ms, backoff capped at 1 s.
FAST: dict[str, Any] = {
    "poll_initial": 0.05,
    "poll_max": 0.2,
    "backoff_base": 0.05,
    "backoff_max": 1.0,
    "quiet": True,
}


def peps_backend(
    sb: Sandbox, *, password: str = DEFAULT_PASSWORD, timeout: float = 10.0
) -> Backend:
    return get_backend(
        "peps", sb.url, credentials=Credentials(DEFAULT_USER, password), timeout=timeout
    )


def all_products(backend: Backend) -> list[Product]:
    return sorted(backend.search(Query.create(collection="S2ST")), key=lambda p: p.id)


def md5_of(path: Path) -> str:
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


def downloader(backend: Backend, out: Path, **options: Any) -> Downloader:
    return Downloader(backend, out, **{**FAST, **options})


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def assert_recovered(report: Any, products: Sequence[Product], folder: Path) -> None:
    """After a transfer process was killed: the batch ended complete, a part was resumed,
    every archive has its catalogue MD5 and no part file is left."""
    assert report.ok, report.format()
    assert any("resumed at byte" in p.reason for p in report.products), report.format()
    assert all(md5_of(folder / f"{p.id}.zip") == p.md5 for p in products)
    assert not list(folder.glob("*.part*"))
