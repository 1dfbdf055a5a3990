"""Issue 23's smaller ``peps-plus maja`` items: a confirmation nobody can answer, and ``-o``
meaning the orbit in every ``maja`` command."""

from __future__ import annotations

import io
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from eodag_peps_plus.sandbox import Sandbox

from .proc_helpers import sandbox_jobs

MANY = ["-t", "31TCJ", "-d", "2019-03-01", "-f", "2019-05-01"]


@pytest.mark.parametrize("stdin", ["", "no\n"])
def test_unanswered_confirmation_is_a_refusal_naming_yes(
    run_cli: Callable[..., Any], proc_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, stdin: str
) -> None:
    """cron, CI, ``< /dev/null``: no answer is "no", one line naming ``--yes``, exit 1; never
    click's ``Aborted.`` with a Ctrl-C's 130."""
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    res = run_cli("maja", "submit", "--per-product", "-B", "peps", "--url", proc_sandbox.url, *MANY)  # fmt: skip
    assert res.code == 1, res.err
    assert "Aborted" not in res.err and "--yes" in res.err and "Traceback" not in res.err
    assert sandbox_jobs(proc_sandbox) == 0


def test_typed_yes_submits(
    run_cli: Callable[..., Any], proc_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("yes\n"))
    res = run_cli("maja", "submit", "--per-product", "-B", "peps", "--url", proc_sandbox.url, *MANY)  # fmt: skip
    assert res.code == 0, res.err
    assert sandbox_jobs(proc_sandbox) >= 10


def test_calendar_o_is_the_orbit_as_in_submit_and_ensure(
    run_cli: Callable[..., Any],
    proc_sandbox: Sandbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    url = proc_sandbox.url
    where = ["-B", "peps", "--url", url, "--geodes-url", url, "-t", "31TCJ", "-d", "2019-03-01", "-e", "2019-05-01"]  # fmt: skip
    res = run_cli("maja", "calendar", *where, "-o", "51", "--output", "cal.html")
    assert res.code == 0, res.err
    assert (tmp_path / "cal.html").is_file() and not (tmp_path / "51").exists()
    assert "orbit 51" in (tmp_path / "cal.html").read_text()
    # The older spelling still works: -o with a file name is the output, said on stderr.
    res = run_cli("maja", "calendar", *where, "--orbit", "51", "-o", "old.html")
    assert res.code == 0, res.err
    assert (tmp_path / "old.html").is_file() and "--output" in res.err
    res = run_cli("maja", "calendar", *where, "-o", "51")
    assert res.code == 1 and "--output" in res.err and not (tmp_path / "51").exists()
    res = run_cli("maja", "calendar", *where, "-o", "51", "--orbit", "8", "--output", "x.html")
    assert res.code == 1 and "two different orbits" in res.err
