"""Shared fixtures: sandboxes on ephemeral loopback ports, offline EODAG configuration."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from eodag_peps_plus.http_io import Credentials
from eodag_peps_plus.sandbox import (
    DEFAULT_API_KEY,
    DEFAULT_PASSWORD,
    DEFAULT_USER,
    Catalogue,
    Sandbox,
    SandboxConfig,
)

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "reference" / "fixtures"
LOCAL_FIXTURES = Path(__file__).resolve().parent / "fixtures"


def recorded(name: str) -> Path:
    """Recorded server replies: ``../shared`` when present, else the copy in tests/fixtures."""
    shared = FIXTURES / name
    return shared if shared.exists() else LOCAL_FIXTURES / name


@pytest.fixture(scope="session")
def fixture_path() -> Callable[[str], Path]:
    """``fixture_path("peps_search_S2ST_page1.json")``: path of a real recorded reply."""
    return recorded


@pytest.fixture(scope="session", autouse=True)
def _offline_eodag(tmp_path_factory: pytest.TempPathFactory) -> None:
    """EODAG must never reach the network or the user's config during tests."""
    cfg = tmp_path_factory.mktemp("eodag_cfg")
    ext = cfg / "ext_collections.json"
    ext.write_text(json.dumps({}))
    os.environ["EODAG_CFG_DIR"] = str(cfg)
    os.environ["EODAG_EXT_COLLECTIONS_CFG_URI"] = str(ext)
    os.environ.setdefault("EODAG_STRICT_COLLECTIONS", "false")


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    """The default synthetic catalogue, built once per test session."""
    return Catalogue.default()


@pytest.fixture(scope="session")
def sandbox(catalogue: Catalogue) -> Iterator[Sandbox]:
    """A shared read-mostly sandbox (search tests). Tests that change state use ``make_sandbox``."""
    with Sandbox(catalogue, SandboxConfig(time_scale=0.01)) as sb:
        yield sb


@pytest.fixture
def make_sandbox(catalogue: Catalogue) -> Iterator[Callable[..., Sandbox]]:
    """Factory for a fresh sandbox with its own state: ``make_sandbox(config=..., catalogue=...)``."""
    started: list[Sandbox] = []

    def factory(
        config: SandboxConfig | None = None, catalogue_: Catalogue | None = None
    ) -> Sandbox:
        sb = Sandbox(catalogue_ or catalogue, config or SandboxConfig(time_scale=0.01)).start()
        started.append(sb)
        return sb

    yield factory
    for sb in started:
        sb.stop()


@pytest.fixture(scope="session")
def credentials() -> Credentials:
    return Credentials(DEFAULT_USER, DEFAULT_PASSWORD, DEFAULT_API_KEY)
