"""Fixtures for the legacy drop-in commands and ``peps-plus migrate``: auth files of every
form, a clean environment (no user config, a job store in a temporary folder), and in-process
and subprocess runners bounded in time."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from eodag_peps_plus.sandbox import DEFAULT_API_KEY, DEFAULT_PASSWORD, DEFAULT_USER

BIN = Path(sys.executable).parent
#: Every subprocess gets this long at most: a hang fails the test instead of blocking CI.
SUBPROCESS_TIMEOUT = 240


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The current folder (legacy scripts write ``search.json`` there), with auth files."""
    monkeypatch.chdir(tmp_path)
    peps = tmp_path / "peps.txt"
    peps.write_text(f"{DEFAULT_USER} {DEFAULT_PASSWORD}\n")
    key = tmp_path / "geodes.txt"
    key.write_text(f"{DEFAULT_API_KEY}\n")
    for path in (peps, key):
        path.chmod(0o600)
    return tmp_path


def auth_file(workdir: Path, backend: str) -> str:
    return str(workdir / ("peps.txt" if backend == "peps" else "geodes.txt"))


@pytest.fixture
def clean_env(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """No credentials or server from the environment or the user's eodag.yml; a private
    job store."""
    for key in list(os.environ):
        if key.startswith(("EODAG__", "PEPS_PLUS_")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("EODAG_CFG_FILE", str(workdir / "no-eodag.yml"))
    monkeypatch.setenv("PEPS_PLUS_JOB_STORE", str(workdir / "jobs.sqlite3"))
    return dict(os.environ)


@pytest.fixture
def legacy(
    clean_env: dict[str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., Run]]:
    """``legacy("peps_download", *args, stdin=...)``: the console script, in this process,
    through the same entry point (one-line errors, exit codes)."""
    from eodag_peps_plus.cli import main
    from eodag_peps_plus.cli.legacy import COMMANDS

    def run(name: str, *args: str, stdin: str | None = None) -> Run:
        capsys.readouterr()
        monkeypatch.setattr(sys, "argv", [name, *args])
        if stdin is not None:
            import io

            monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        code = 0
        try:
            main(COMMANDS[name])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    yield run


@pytest.fixture
def shell(clean_env: dict[str, str], workdir: Path) -> Callable[..., Run]:
    """Run a printed command line (bash) or Python snippet with the venv's tools first on
    PATH, bounded in time."""

    def run(text: str, *, python: bool = False, env: dict[str, str] | None = None) -> Run:
        environment = {**clean_env, **(env or {}), "PATH": f"{BIN}:{clean_env.get('PATH', '')}"}
        argv = [sys.executable, "-c", text] if python else ["bash", "-e", "-c", text]
        done = subprocess.run(
            argv,
            cwd=workdir,
            env=environment,
            capture_output=True,
            text=True,
            timeout=SUBPROCESS_TIMEOUT,
            check=False,
        )
        return Run(done.returncode, done.stdout, done.stderr)

    return run


def server_env(url: str, backend: str) -> dict[str, str]:
    """What eodag, peps-plus and the Python snippets read: the sandbox URL and account."""
    return {
        "EODAG__PEPS__SEARCH__API_ENDPOINT": url,
        "EODAG__GEODES_PLUS__SEARCH__API_ENDPOINT": url,
        "EODAG__PEPS__AUTH__CREDENTIALS__USERNAME": DEFAULT_USER,
        "EODAG__PEPS__AUTH__CREDENTIALS__PASSWORD": DEFAULT_PASSWORD,
        "EODAG__GEODES_PLUS__AUTH__CREDENTIALS__APIKEY": DEFAULT_API_KEY,
        "PEPS_PLUS_LEGACY_BACKEND": backend,
    }
