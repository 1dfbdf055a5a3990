"""``peps-plus maja`` end to end: the same life of a job from the command line, and every bad
input refused with one line and nothing sent."""

from __future__ import annotations

import io
import json
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from eodag_peps_plus.processing.ensure import _orbit, _platform, acquisition_day
from eodag_peps_plus.processing.store import JobStore
from eodag_peps_plus.product import Product
from eodag_peps_plus.sandbox import DEFAULT_API_KEY, DEFAULT_PASSWORD, Sandbox

from .proc_helpers import sandbox_jobs, service

SECRETS = (DEFAULT_PASSWORD, DEFAULT_API_KEY)


def _no_secret(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text


@pytest.mark.parametrize("backend", ["peps", "geodes"])
def test_submit_wait_fetch_list(
    run_cli, proc_sandbox: Sandbox, cli_env: dict[str, str], tmp_path: Path, backend: str
) -> None:
    url = proc_sandbox.url
    res = run_cli(
        "maja",
        "submit",
        "-B",
        backend,
        "--url",
        url,
        "-t",
        "T31TCJ",
        "-d",
        "2019-03-01",
        "-e",
        "2019-05-01",
        "-o",
        "51",
        "--json",
    )
    assert res.code == 0, res.err
    [job] = json.loads(res.out)
    assert job["state"] == "pending" and job["backend"] == backend and job["reference"]
    res = run_cli("maja", "status", str(job["id"]))
    assert res.code == 0 and "FULL_MAJA" in res.out
    res = run_cli("maja", "wait", str(job["id"]), "--interval", "0.1", "--max-interval", "0.3")
    assert res.code == 0, res.err
    assert f"job {job['id']}: finished" in res.out
    out_dir = tmp_path / "out"
    res = run_cli("maja", "fetch", str(job["id"]), "-w", str(out_dir), "--no-progress")
    assert res.code == 0, res.err
    assert "downloaded" in res.out and "NOVALD" in res.out and "unprocessed" in res.out
    sim = service(proc_sandbox).jobs[job["reference"]]
    assert sorted(p.name for p in out_dir.glob("*.zip*")) == sorted(
        n for n in sim.results if "NOVALD" not in n
    )
    res = run_cli("maja", "fetch", str(job["id"]), "-w", str(out_dir), "--no-progress")
    assert "already on disk" in res.out and "0 downloaded" in res.out
    res = run_cli("maja", "list", "--json")
    [listed] = json.loads(res.out)
    assert listed["state"] == "finished" and listed["progress"] == 100
    assert {d["outcome"] for d in listed["downloads"]} == {"present", "novald"}
    _no_secret(res.out, res.err)


def test_fetch_before_the_end_downloads_nothing(
    run_cli, proc_sandbox: Sandbox, tmp_path: Path
) -> None:
    proc_sandbox.config.time_scale = 1.0
    res = run_cli(
        "maja",
        "submit",
        "-B",
        "peps",
        "--url",
        proc_sandbox.url,
        "-t",
        "31TCJ",
        "-d",
        "2019-03-01",
        "-e",
        "2019-05-01",
    )
    assert res.code == 0 and "job 1:" in res.out
    res = run_cli("maja", "status")  # every unfinished job
    assert res.code == 0 and "running" in res.out and "STALLED" not in res.out  # issue 23
    res = run_cli("maja", "fetch", "1", "-w", str(tmp_path / "o"), "--no-progress")
    assert res.code == 0 and "not finished yet" in res.out
    assert not (tmp_path / "o").exists() or not list((tmp_path / "o").iterdir())
    res = run_cli("maja", "wait", "1", "--interval", "0.05", "--timeout", "0.2", "--no-progress")
    assert res.code == 1 and "still running" in res.err and "kept in the store" in res.err


BAD = [
    (["-t", "31TC", "-d", "2019-01-01", "-e", "2019-03-01"], "not an MGRS tile"),
    (["-t", "31TCJ", "-d", "2019-01-01", "-e", "2019-02-01"], "at least 50 days"),
    (["-t", "31TCJ", "-d", "2019-01-01", "-e", "2020-06-01"], "at most 366 days"),
    (["-t", "31TCJ", "-d", "2016-01-01", "-e", "2016-03-20"], "not after 2016-04-01"),
    (["-t", "31TCJ", "-d", "2019-01-01", "-e", "2019-03-01", "-o", "144"], "1-143"),
    (["-t", "31TCJ", "-d", "2019-01-01", "-e", "2019-03-01", "-o", "x"], "not an integer"),
    (["-t", "33WXS", "-d", "2019-06-01", "-e", "2019-08-01"], "beyond"),
    (["-t", "31TCJ", "-d", "2019-06-01"], "needs -e/--end"),
    (["-t", "31TCJ", "-d", "2019-06-01", "-e", "2019-08-01", "--cc", "10"], "add --per-product"),
    (
        ["-P", "S2A_MSIL1C_20190302T103326_N0209_R008_T31TCJ_20190302T161026", "-t", "31TCJ"],
        "not both",
    ),
    (["-P", "SENTINEL2A_20190415-105416-455_L2A_T31TCJ_C_V2-2"], "not a Sentinel-2 L1C"),
    (["-P", "S2A_MSIL1C_20190701T110621_N0207_R137_T33WXS_20190701T114012"], "beyond"),
    (["--per-product", "-d", "2019-03-01", "-e", "2019-05-01"], "needs a place"),
]


@pytest.mark.parametrize("backend", ["peps", "geodes"])
@pytest.mark.parametrize(("args", "message"), BAD, ids=[m for _, m in BAD])
def test_bad_input_is_one_line_and_sends_nothing(
    run_cli,
    idle_sandbox: Sandbox,
    cli_env: dict[str, str],
    backend: str,
    args: list[str],
    message: str,
) -> None:
    proc_sandbox = idle_sandbox
    res = run_cli("maja", "submit", "-B", backend, "--url", proc_sandbox.url, *args)
    assert res.code == 1
    assert res.err.startswith("Error: ") and message in res.err and res.err.count("\n") == 1
    assert "Traceback" not in res.err
    assert sandbox_jobs(proc_sandbox) == 0
    assert not any(k.endswith(".execute") for k in proc_sandbox.stats)
    assert JobStore(cli_env["PEPS_PLUS_JOB_STORE"]).list() == []


def test_ten_products_need_confirmation(
    run_cli, proc_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, cli_env: dict[str, str]
) -> None:
    search = [
        "maja",
        "submit",
        "--url",
        proc_sandbox.url,
        "--per-product",
        "-t",
        "31TCJ",
        "-d",
        "2019-03-01",
        "-f",
        "2019-04-30",
        "-o",
        "51",
    ]
    monkeypatch.setattr(sys, "stdin", io.StringIO("n\n"))
    res = run_cli(*search)
    assert res.code == 1 and "per-product MAJA jobs not submitted" in res.err
    assert "Submit" in res.err  # the question was asked
    assert sandbox_jobs(proc_sandbox) == 0
    res = run_cli(*search, "-n")
    assert res.code == 0 and res.out.count("would submit MAJA") >= 10
    assert sandbox_jobs(proc_sandbox) == 0
    res = run_cli(*search, "--yes", "--json")
    assert res.code == 0, res.err
    submitted = json.loads(res.out)
    assert len(submitted) >= 10 and sandbox_jobs(proc_sandbox) == len(submitted)
    assert len({j["id"] for j in submitted}) == len(submitted)


def test_bad_credentials_one_line_no_secret(
    run_cli, proc_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EODAG__PEPS__AUTH__CREDENTIALS__PASSWORD", "not-the-password-1234")
    res = run_cli(
        "maja",
        "submit",
        "-B",
        "peps",
        "--url",
        proc_sandbox.url,
        "-t",
        "31TCJ",
        "-d",
        "2019-03-01",
        "-e",
        "2019-05-01",
    )
    assert res.code == 1 and "credentials refused" in res.err and res.err.count("\n") == 1
    assert "not-the-password-1234" not in res.err + res.out
    assert sandbox_jobs(proc_sandbox) == 0


def _l2a_key(product: Product) -> tuple[str | None, str | None, int | None]:
    return acquisition_day(product), _platform(product), _orbit(product)


def test_ensure_submits_only_missing_dates(
    run_cli, proc_sandbox: Sandbox, cli_env: dict[str, str]
) -> None:
    url = proc_sandbox.url
    args = [
        "maja",
        "ensure",
        "-B",
        "peps",
        "--url",
        url,
        "--geodes-url",
        url,
        "-t",
        "31TCJ",
        "-d",
        "2019-03-01",
        "-e",
        "2019-04-30",
        "-o",
        "51",
        "--yes",
    ]
    res = run_cli(*args)
    assert res.code == 0, res.err
    catalogue = proc_sandbox.catalogue
    low, high = catalogue.entries[0].start.replace(2019, 3, 1, 0, 0, 0), None
    high = low.replace(month=4, day=30) + timedelta(days=1)
    l1c = [
        e
        for e in catalogue
        if e.tile == "31TCJ"
        and e.product_type == "S2MSI1C"
        and low <= e.start < high
        and e.relative_orbit == 51
    ]
    l2a = {
        (e.start.date().isoformat(), e.platform[-1], e.relative_orbit)
        for e in catalogue
        if e.collection == "THEIA_L2A" and e.tile == "31TCJ"
    }
    expected = {
        e.name
        for e in l1c
        if (e.start.date().isoformat(), e.platform[-1], e.relative_orbit) not in l2a
        and (e.cloud_cover or 0) <= 90
    }
    existing = [
        e for e in l1c if (e.start.date().isoformat(), e.platform[-1], e.relative_orbit) in l2a
    ]
    assert expected and existing  # the period mixes both
    sent = {job.inputs["product"] for job in service(proc_sandbox).jobs.values()}
    assert sent == expected
    assert f"{len(existing)} L2A already on GEODES" in res.out
    assert f"{len(expected)} submitted" in res.out
    # A second run finds the jobs in the store and submits nothing more.
    res = run_cli(*args)
    assert (
        res.code == 0 and "0 submitted" in res.out and res.out.count("in store:") == len(expected)
    )
    assert len(service(proc_sandbox).jobs) == len(expected)


def test_ensure_bad_input_sends_nothing(run_cli, idle_sandbox: Sandbox) -> None:
    proc_sandbox = idle_sandbox
    url = proc_sandbox.url
    before = proc_sandbox.stats.get("requests", 0)
    res = run_cli(
        "maja",
        "ensure",
        "--url",
        url,
        "--geodes-url",
        url,
        "-t",
        "33WXS",
        "-d",
        "2019-06-01",
        "-e",
        "2019-07-01",
    )
    assert res.code == 1 and "beyond" in res.err
    assert proc_sandbox.stats.get("requests", 0) == before
