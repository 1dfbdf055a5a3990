"""Issue 23: the job store is part of what exists. ``maja ensure`` and the calendar count the
L2A a FULL_MAJA series produced (or is producing) as present; the same inputs are never sent
twice without ``--resubmit``, from ``maja submit`` as from the legacy drop-ins."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from eodag_peps_plus.processing.ensure import name_day
from eodag_peps_plus.processing.jobs import MajaJobs
from eodag_peps_plus.processing.store import JobStore
from eodag_peps_plus.sandbox import Sandbox

from .proc_helpers import SERIES, backend_for, sandbox_jobs

ENSURE = ["-t", "31TCJ", "-d", "2019-03-01", "-e", "2019-05-01", "-o", "51"]


def _ensure(run_cli: Callable[..., Any], url: str, *extra: str) -> Any:
    return run_cli("maja", "ensure", "-B", "peps", "--url", url, "--geodes-url", url, *ENSURE, *extra)  # fmt: skip


def _listed(out: str, word: str) -> set[str]:
    return set(re.findall(rf"^\s+{word}:\s+(\S+)", out, re.MULTILINE))


def test_ensure_counts_a_fetched_full_maja_series(
    run_cli: Callable[..., Any], proc_sandbox: Sandbox, cli_env: dict[str, str], tmp_path: Any
) -> None:
    url = proc_sandbox.url
    before = _ensure(run_cli, url, "--dry-run")
    assert before.code == 0, before.err
    wanted = _listed(before.out, "missing")
    assert wanted
    summary = re.search(r"(\d+) L1C product\(s\) on (\d+) date\(s\)", before.out)
    assert summary, before.out
    products, dates = int(summary.group(1)), int(summary.group(2))
    l1c = [
        e
        for e in proc_sandbox.catalogue
        if e.tile == "31TCJ" and e.product_type == "S2MSI1C" and e.relative_orbit == 51
        and "2019-03-01" <= e.start.date().isoformat() <= "2019-05-01"
    ]  # fmt: skip
    assert products == len(l1c) and dates == len({e.start.date() for e in l1c})

    store = JobStore(cli_env["PEPS_PLUS_JOB_STORE"])
    jobs = MajaJobs(backend_for(proc_sandbox, "peps"), store)
    running = jobs.submit_series(**SERIES)
    under_way = _ensure(run_cli, url, "--dry-run")
    assert not _listed(under_way.out, "missing"), under_way.out  # the series covers them all
    assert _listed(under_way.out, "in store") == wanted
    assert f"job {running.id} FULL_MAJA" in under_way.out
    forced = _ensure(run_cli, url, "--dry-run", "--resubmit")  # the user insists
    assert _listed(forced.out, "missing") == wanted

    jobs.wait(running.id, interval=0.05, max_interval=0.2, timeout=60)
    jobs.fetch(running.id, tmp_path / "l2a")
    done = store.get(running.id)
    produced = {name_day(r.name) for r in done.results}
    after = _ensure(run_cli, url, "--dry-run")
    missing = _listed(after.out, "missing")
    assert all(name_day(n) not in produced for n in missing), (produced, missing)
    assert {n for n in wanted if name_day(n) in produced} <= _listed(after.out, "in store")
    assert sandbox_jobs(proc_sandbox) == 1  # dry runs sent nothing

    # Without --dry-run nothing produced is sent again; --resubmit would.
    sent = _ensure(run_cli, url, "--yes")
    assert sent.code == 0, sent.err
    assert sandbox_jobs(proc_sandbox) == 1 + len(missing)


def test_same_series_twice_needs_resubmit(
    run_cli: Callable[..., Any], proc_sandbox: Sandbox
) -> None:
    args = ["maja", "submit", "-B", "peps", "--url", proc_sandbox.url, "-t", "31TCJ", "-d", "2019-03-01", "-e", "2019-05-01", "-o", "51"]  # fmt: skip
    assert run_cli(*args).code == 0
    again = run_cli(*args)
    assert again.code == 1 and "--resubmit" in again.err and "job 1" in again.err
    assert sandbox_jobs(proc_sandbox) == 1
    assert run_cli(*args, "--resubmit").code == 0
    assert sandbox_jobs(proc_sandbox) == 2
    other = run_cli(*args[:-2])  # another orbit choice: other inputs, sent
    assert other.code == 0, other.err


def test_per_product_twice_needs_resubmit(
    run_cli: Callable[..., Any], proc_sandbox: Sandbox
) -> None:
    """The legacy README's per-product examples overlap: the second must not silently make
    duplicates of the first's jobs."""
    search = ["--per-product", "-B", "peps", "--url", proc_sandbox.url, "-t", "31TCJ", "-d", "2019-03-01", "-f", "2019-03-10"]  # fmt: skip
    first = run_cli("maja", "submit", *search, "-o", "51")
    assert first.code == 0, first.err
    count = sandbox_jobs(proc_sandbox)
    second = run_cli("maja", "submit", *search)  # both orbits: includes the first's products
    assert second.code == 1 and "already have a job" in second.err and "--resubmit" in second.err
    assert sandbox_jobs(proc_sandbox) == count
