"""Impossible inputs to ``maja submit`` are one clear line, nothing is sent or stored, no
secret and no 10,000-character echo reaches the terminal (tiles: the core validator,
``vocabulary.mgrs_tile``, seen from ``maja submit`` over a sandbox)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from eodag_peps_plus.http_io import redact_url
from eodag_peps_plus.processing.store import JobStore
from eodag_peps_plus.sandbox import DEFAULT_PASSWORD, Sandbox

from .proc_helpers import sandbox_jobs

PERIOD = ["-d", "2019-03-01", "-e", "2019-05-01"]
GOOD = "S2A_MSIL1C_20190302T103326_N0209_R008_T31TCJ_20190302T161026"

TILES = [
    ("00CAA", "UTM zones are 01 to 60"),
    ("61TCJ", "UTM zones are 01 to 60"),
    ("31ICJ", "no latitude band I"),
    ("31OCJ", "no latitude band O"),
    ("31TSJ", "no column S in UTM zone 31"),
    ("31TCW", "no row W"),
]


def _submit_fails(run_cli: Callable[..., Any], sandbox: Sandbox, store: str, *args: str) -> str:
    res = run_cli("maja", "submit", "--url", sandbox.url, *args)
    assert res.code == 1, res.out
    assert res.err.startswith("Error: ") and res.err.count("\n") == 1, res.err
    assert "Traceback" not in res.err
    assert sandbox_jobs(sandbox) == 0 and JobStore(store).list() == []
    return str(res.err)


@pytest.mark.parametrize(("tile", "message"), TILES)
def test_impossible_tile_one_line(
    run_cli: Callable[..., Any],
    idle_sandbox: Sandbox,
    cli_env: dict[str, str],
    tile: str,
    message: str,
) -> None:
    err = _submit_fails(run_cli, idle_sandbox, cli_env["PEPS_PLUS_JOB_STORE"], "-t", tile, *PERIOD)
    assert message in err


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (GOOD.replace("20190302T103326", "20191340T103326"), "is not a date"),
        (GOOD.replace("20190302T103326", "20190230T103326"), "is not a date"),
        (GOOD.replace("T31TCJ", "T00CAA"), "UTM zones are 01 to 60"),
        (GOOD.replace("T31TCJ", "T31TCZ"), "no row Z"),
    ],
)
def test_impossible_product_name_one_line(
    run_cli: Callable[..., Any],
    idle_sandbox: Sandbox,
    cli_env: dict[str, str],
    name: str,
    message: str,
) -> None:
    err = _submit_fails(run_cli, idle_sandbox, cli_env["PEPS_PLUS_JOB_STORE"], "-P", name)
    assert message in err


@pytest.mark.parametrize(
    "content",
    [b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe", b"S2A_\xff\xfe\n", b"abc\x00def\n"],
    ids=["png", "latin1", "nul"],
)
def test_binary_products_file_one_line(
    run_cli: Callable[..., Any],
    idle_sandbox: Sandbox,
    cli_env: dict[str, str],
    tmp_path: Path,
    content: bytes,
) -> None:
    path = tmp_path / "products.txt"
    path.write_bytes(content)
    err = _submit_fails(
        run_cli, idle_sandbox, cli_env["PEPS_PLUS_JOB_STORE"], "--products-file", str(path)
    )
    assert "--products-file" in err


@pytest.mark.parametrize("command", ["submit", "ensure"])
def test_password_in_url_is_refused_never_shown_nor_stored(
    run_cli: Callable[..., Any], idle_sandbox: Sandbox, cli_env: dict[str, str], command: str
) -> None:
    secret = "pw-in-url-12345"
    url = idle_sandbox.url.replace("http://", f"http://user%40example.com:{secret}@")
    res = run_cli("maja", command, "--url", url, "-t", "31TCJ", *PERIOD)
    assert res.code == 1 and res.err.count("\n") == 1
    assert "user and password in the URL are refused" in res.err
    assert secret not in res.err + res.out
    assert sandbox_jobs(idle_sandbox) == 0
    store = Path(cli_env["PEPS_PLUS_JOB_STORE"])
    assert not store.exists() or secret.encode() not in store.read_bytes()


def test_stored_url_never_keeps_userinfo() -> None:
    assert redact_url("https://u:p@host:8443/x?y=1") == "https://host:8443/x?y=1"
    assert redact_url("http://host/x") == "http://host/x"


@pytest.mark.parametrize(
    "args",
    [
        ["-t", "3" * 10_000, *PERIOD],
        ["-t", "31TCJ", "-d", "2" * 10_000, "-e", "2019-05-01"],
        ["-t", "31TCJ", *PERIOD, "-o", "9" * 10_000 + "x"],
        ["-P", "S2A_MSIL1C_" + "A" * 10_000],
        ["-P", "X" * 10_000],
    ],
    ids=["tile", "date", "orbit", "product", "not-a-product"],
)
def test_huge_inputs_are_clipped_in_the_error_line(
    run_cli: Callable[..., Any], idle_sandbox: Sandbox, cli_env: dict[str, str], args: list[str]
) -> None:
    err = _submit_fails(run_cli, idle_sandbox, cli_env["PEPS_PLUS_JOB_STORE"], *args)
    assert len(err) < 400 and "characters)" in err


def test_secret_free_sandbox_password_not_in_errors(
    run_cli: Callable[..., Any], idle_sandbox: Sandbox
) -> None:
    res = run_cli("maja", "submit", "--url", idle_sandbox.url, "-t", "00CAA", *PERIOD)
    assert DEFAULT_PASSWORD not in res.err + res.out
