"""Helpers shared by the staging tests."""

from __future__ import annotations

import hashlib
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
