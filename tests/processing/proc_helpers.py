"""Helpers shared by the processing tests (importable: the test folder is on sys.path)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

import pytest

from eodag_peps_plus.backends import get_backend
from eodag_peps_plus.backends.base import Backend
from eodag_peps_plus.http_io import Credentials
from eodag_peps_plus.sandbox import DEFAULT_API_KEY, DEFAULT_PASSWORD, DEFAULT_USER, Sandbox

#: Nominal durations are hours: at this scale a 22-date FULL_MAJA takes about 1.8 s.
FAST = 0.00005
#: A 61-day, one-orbit series on 31TCJ (22 L1C dates in the synthetic catalogue).
SERIES: dict[str, Any] = {
    "tile": "31TCJ",
    "start": "2019-03-01",
    "end": "2019-05-01",
    "relative_orbit": 51,
}


def service(sandbox: Sandbox) -> Any:
    return sandbox.services["processing"]


def sandbox_jobs(sandbox: Sandbox) -> int:
    """How many jobs the server holds, whatever protocol created them."""
    return len(service(sandbox).jobs)


def backend_for(sandbox: Sandbox, name: str, credentials: Credentials | None = None) -> Backend:
    creds = (
        credentials
        if credentials is not None
        else Credentials(DEFAULT_USER, DEFAULT_PASSWORD, DEFAULT_API_KEY)
    )
    return get_backend(name, sandbox.url, credentials=creds)


@dataclass
class CliResult:
    code: int
    out: str
    err: str


def run_main(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> CliResult:
    """``peps-plus ARGS`` in this process, through ``main()`` (one-line errors, exit codes)."""
    from eodag_peps_plus.cli import main

    capsys.readouterr()
    monkeypatch.setattr(sys, "argv", ["peps-plus", *args])
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = int(exc.code or 0) if not isinstance(exc.code, str) else 1
    captured = capsys.readouterr()
    return CliResult(code, captured.out, captured.err)
