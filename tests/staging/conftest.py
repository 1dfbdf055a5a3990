"""Fixtures for staging tests: small catalogues and fresh sandboxes with a fast tape."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from eodag_peps_plus.sandbox import Catalogue, Sandbox, SandboxConfig
from eodag_peps_plus.sandbox.scenarios import staging_catalogue


@pytest.fixture(scope="session")
def small_catalogue() -> Catalogue:
    """8 products of 100-250 kB, half on tape."""
    return staging_catalogue(8, size_range=(100_000, 250_000), offline=0.5, seed=1)


@pytest.fixture
def staging_sandbox() -> Iterator[Callable[..., Sandbox]]:
    """``staging_sandbox(catalogue, **config)``: a fresh sandbox, restores of 0.1-0.3 s."""
    started: list[Sandbox] = []

    def factory(catalogue: Catalogue, **config: Any) -> Sandbox:
        config.setdefault("time_scale", 0.001)
        config.setdefault("restore_latency", (100.0, 300.0))
        sb = Sandbox(catalogue, SandboxConfig(**config), services=("peps",)).start()
        started.append(sb)
        return sb

    yield factory
    for sb in started:
        sb.stop()
