"""The MAJA calendar: its highlighted dates are exactly ``maja ensure --dry-run``'s list."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from processing.proc_helpers import FAST, backend_for

from eodag_peps_plus.processing.base import JobState
from eodag_peps_plus.processing.jobs import MajaJobs
from eodag_peps_plus.processing.store import JobStore
from eodag_peps_plus.report import maja_calendar, write_calendar
from eodag_peps_plus.sandbox import (
    DEFAULT_API_KEY,
    DEFAULT_PASSWORD,
    DEFAULT_USER,
    Sandbox,
    SandboxConfig,
)

PERIOD = ["-t", "31TCJ", "-d", "2019-03-01", "-e", "2019-06-30"]
NAME_DAY = re.compile(r"_(\d{4})(\d{2})(\d{2})T\d{6}_")


def _day(name: str) -> str:
    match = NAME_DAY.search(name)
    assert match, name
    return "-".join(match.groups())


@pytest.fixture
def filled(make_sandbox: Callable[..., Sandbox], tmp_path: Path) -> tuple[Sandbox, Path, Any]:
    """A sandbox and a job store holding a finished FULL_MAJA series (with NOVALD dates) and a
    per-product job for one date ensure would otherwise submit."""
    sandbox = make_sandbox(config=SandboxConfig(time_scale=FAST))
    store = tmp_path / "jobs.sqlite3"
    jobs = MajaJobs(backend_for(sandbox, "peps"), JobStore(store))
    series = jobs.submit_series("31TCJ", "2019-03-01", "2019-04-25", 51)
    assert jobs.wait(series.id, interval=0.05, max_interval=0.2).state is JobState.FINISHED
    geodes = backend_for(sandbox, "geodes")
    before = maja_calendar(jobs, geodes, "31TCJ", "2019-03-01", "2019-06-30", 51)
    assert len(before.report.missing) >= 3
    jobs.submit_products([before.report.missing[0]])
    return sandbox, store, before.report.missing[0].id


def _cli(store: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "EODAG__PEPS__AUTH__CREDENTIALS__USERNAME": DEFAULT_USER,
        "EODAG__PEPS__AUTH__CREDENTIALS__PASSWORD": DEFAULT_PASSWORD,
        "EODAG__GEODES_PLUS__AUTH__CREDENTIALS__APIKEY": DEFAULT_API_KEY,
        "PEPS_PLUS_JOB_STORE": str(store),
        "EODAG_CFG_FILE": str(cwd / "no-eodag.yml"),
    }
    return subprocess.run(
        [sys.executable, "-m", "eodag_peps_plus", *args],
        capture_output=True, text=True, cwd=cwd, env=env, timeout=180,
    )  # fmt: skip


@pytest.mark.parametrize(("backend", "orbit"), [("peps", None), ("geodes", "51")])
def test_highlighted_dates_equal_ensure_dry_run(
    filled: tuple[Sandbox, Path, str],
    tmp_path: Path,
    open_page: Any,
    backend: str,
    orbit: str | None,
) -> None:
    sandbox, store, in_store = filled
    where = ["-B", backend, "--url", sandbox.url, "--geodes-url", sandbox.url, *PERIOD]
    dry = _cli(store, "maja", "ensure", *where, *(["-o", orbit] if orbit else []), "--dry-run",
               cwd=tmp_path)  # fmt: skip
    assert dry.returncode == 0, dry.stderr
    would = re.findall(r"missing:\s+(\S+) \(would submit\)", dry.stdout)
    assert would and in_store not in would

    made = _cli(store, "maja", "calendar", *where, *(["--orbit", orbit] if orbit else []),
                "--output", "calendar.html", "--png", "calendar.png", cwd=tmp_path)  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert (tmp_path / "calendar.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    page = open_page(tmp_path / "calendar.html")
    assert page.console_errors() == []
    cells = page.js(
        "return Array.from(document.querySelectorAll('td.day.would-submit')).map("
        "c => [c.dataset.date, c.dataset.submit])"
    )
    assert sorted(c[0] for c in cells) == sorted({_day(n) for n in would})
    assert sorted(n for c in cells for n in c[1].split()) == sorted(would)
    rows = page.js(
        "return Array.from(document.querySelectorAll('table.days tr.would-submit'))"
        ".map(r => r.dataset.date)"
    )
    assert sorted(rows) == sorted(c[0] for c in cells)
    # The store's jobs are on their dates, with their state; NOVALD results are marked.
    job_cell = page.js(
        "return document.querySelector(`td.day[data-date='${arguments[0]}']`).textContent",
        _day(in_store),
    )
    assert re.search(r"job \d+ (submitting|pending|running|finished)", job_cell)
    assert in_store not in {n for c in cells for n in c[1].split()}
    assert page.js("return document.querySelectorAll('td.day.novald').length") > 0
    assert page.js("return document.querySelectorAll('td.day.has-l2a').length") > 0
    assert f"ensure would submit {len(would)}" in made.stdout


def test_calendar_from_python_and_bad_input(
    filled: tuple[Sandbox, Path, str], tmp_path: Path
) -> None:
    sandbox, store, _ = filled
    jobs = MajaJobs(backend_for(sandbox, "peps"), JobStore(store))
    cal = maja_calendar(jobs, backend_for(sandbox, "geodes"), "T31TCJ", "2019-03-01", "2019-06-30")
    assert cal.highlighted == sorted({_dt(p.id) for p in cal.report.missing})
    from datetime import date

    # issue 23: the dates the store's series produced are present, not highlighted
    [series] = [r for r in JobStore(store).list() if r.process == "FULL_MAJA"]
    stamps = [re.search(r"_(\d{4})(\d{2})(\d{2})-\d{6}", r.name) for r in series.results]
    produced = {date(*map(int, m.groups())) for m in stamps if m}
    resent = [p.id for p in cal.report.missing if "_R051_" in p.id and _dt(p.id) in produced]
    assert produced and not resent  # (other orbits' products of those dates are still missing)
    html = write_calendar(cal, tmp_path / "c.html").read_text()
    assert html.count('class="day') >= 92 and "<script" not in html

    bad = _cli(store, "maja", "calendar", "--url", sandbox.url, "--geodes-url", sandbox.url,
               "-t", "33WXS", "-d", "2019-06-01", "-e", "2019-07-01", "--output", "x.html",
               cwd=tmp_path)  # fmt: skip
    assert bad.returncode == 1 and bad.stderr.startswith("Error: ")
    assert len(bad.stderr.strip().splitlines()) == 1 and not (tmp_path / "x.html").exists()
    none = _cli(store, "maja", "calendar", "--url", sandbox.url, *PERIOD, cwd=tmp_path)
    assert none.returncode != 0 and "--output" in none.stderr


def _dt(name: str) -> Any:
    from datetime import date

    return date.fromisoformat(_day(name))
