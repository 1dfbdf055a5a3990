"""Fixtures for MAJA processing tests: a fresh sandbox per test (jobs are state), a job store
in a temporary folder, the façade on either backend, and an in-process ``peps-plus`` runner."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from eodag_peps_plus.processing.jobs import MajaJobs
from eodag_peps_plus.processing.store import JobStore
from eodag_peps_plus.sandbox import (
    DEFAULT_API_KEY,
    DEFAULT_PASSWORD,
    DEFAULT_USER,
    Catalogue,
    Sandbox,
    SandboxConfig,
)

from .proc_helpers import FAST, CliResult, backend_for, run_main


@pytest.fixture
def proc_sandbox(make_sandbox: Callable[..., Sandbox]) -> Sandbox:
    return make_sandbox(config=SandboxConfig(time_scale=FAST))


@pytest.fixture(scope="module")
def idle_sandbox(catalogue: Catalogue) -> Iterator[Sandbox]:
    """One sandbox for tests that must send nothing (they assert it stays empty)."""
    with Sandbox(catalogue, SandboxConfig(time_scale=FAST)) as sb:
        yield sb


@pytest.fixture
def store(tmp_path: Path) -> JobStore:
    return JobStore(tmp_path / "jobs.sqlite3")


@pytest.fixture(params=["peps", "geodes"])
def backend_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def jobs(proc_sandbox: Sandbox, store: JobStore, backend_name: str) -> MajaJobs:
    return MajaJobs(backend_for(proc_sandbox, backend_name), store)


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    """Credentials the EODAG way and a job store, for the CLI (in-process or subprocess)."""
    env = {
        "EODAG__PEPS__AUTH__CREDENTIALS__USERNAME": DEFAULT_USER,
        "EODAG__PEPS__AUTH__CREDENTIALS__PASSWORD": DEFAULT_PASSWORD,
        "EODAG__GEODES_PLUS__AUTH__CREDENTIALS__APIKEY": DEFAULT_API_KEY,
        "PEPS_PLUS_JOB_STORE": str(tmp_path / "cli-jobs.sqlite3"),
        "EODAG_CFG_FILE": str(tmp_path / "no-eodag.yml"),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return {**os.environ, **env}


@pytest.fixture
def run_cli(
    cli_env: dict[str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., CliResult]]:
    """``peps-plus ARGS`` in this process, through ``main()`` (one-line errors, exit codes)."""

    def run(*args: str) -> CliResult:
        return run_main(monkeypatch, capsys, *args)

    yield run
