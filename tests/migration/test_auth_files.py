"""The ``-a`` file in every form: ``email password`` (spaces and special characters kept) for
PEPS, an API key for GEODES (or the environment's), permission warnings, and secrets that
never reach any output, dry runs included."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from eodag_peps_plus.exceptions import AuthenticationError
from eodag_peps_plus.legacy.authfile import read_auth_file
from eodag_peps_plus.sandbox import (
    DEFAULT_API_KEY,
    DEFAULT_PASSWORD,
    DEFAULT_USER,
    Catalogue,
    Sandbox,
    SandboxConfig,
)

from .conftest import Run

ODD_PASSWORD = "p@ss w0rd! \"q\" 'x' $HOME & :%;\\t"
ONE_DAY = ["-c", "S2ST", "-t", "31TCJ", "-d", "2017-01-06", "-f", "2017-01-07", "--timeout", "1"]


def _write(path: Path, text: str, mode: int = 0o600) -> str:
    path.write_text(text)
    path.chmod(mode)
    return str(path)


@pytest.mark.parametrize(
    "line",
    [
        f"{DEFAULT_USER} {ODD_PASSWORD}\n",
        f"{DEFAULT_USER}   {ODD_PASSWORD}\r\n",
        f"\n  {DEFAULT_USER}\t{ODD_PASSWORD}\n",
    ],
    ids=["plain", "crlf-and-blanks", "leading-blank-line"],
)
def test_peps_file_keeps_the_password_byte_for_byte(tmp_path: Path, line: str) -> None:
    credentials = read_auth_file(_write(tmp_path / "peps.txt", line), "peps")
    assert credentials.username == DEFAULT_USER
    assert credentials.password == ODD_PASSWORD
    assert ODD_PASSWORD not in repr(credentials)


def test_peps_password_with_special_characters_downloads(
    legacy: Callable[..., Run], make_sandbox: Callable[..., Sandbox], workdir: Path
) -> None:
    sb = make_sandbox(SandboxConfig(time_scale=0.001, restore_latency=(100, 300),
                                    users={DEFAULT_USER: ODD_PASSWORD}, unknown_restores=True))  # fmt: skip
    auth = _write(workdir / "odd.txt", f"{DEFAULT_USER} {ODD_PASSWORD}\n")
    run = legacy("peps_download", *ONE_DAY, "--backend", "peps", "--url", sb.url, "-a", auth, "-w", "out")  # fmt: skip
    assert run.code == 0, run.text
    assert list((workdir / "out").glob("*.zip"))
    assert ODD_PASSWORD not in run.text


@pytest.mark.parametrize("reply", ["401", "200-json"])
def test_wrong_password_one_line_no_json_saved(
    legacy: Callable[..., Run], make_sandbox: Callable[..., Sandbox], workdir: Path, reply: str
) -> None:
    sb = make_sandbox(SandboxConfig(time_scale=0.001, bad_auth_reply=reply))
    auth = _write(workdir / "bad.txt", f"{DEFAULT_USER} not-the-password\n")
    run = legacy("peps_download", *ONE_DAY, "--backend", "peps", "--url", sb.url, "-a", auth, "-w", "out")  # fmt: skip
    assert run.code != 0
    assert "not-the-password" not in run.text and "Traceback" not in run.text
    saved = [p for p in (workdir / "out").glob("*") if p.is_file() and not p.name.startswith(".")]
    assert saved == []


def test_geodes_key_file_and_environment_key(
    legacy: Callable[..., Run], make_sandbox: Callable[..., Sandbox], workdir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    # Every product downloadable (GEODES's tape restored by the assumed, named profile):
    # this test is about the key and the layout, not about tape.
    sb = make_sandbox(SandboxConfig(time_scale=0.001, restore_latency=(100, 300), unknown_restores=True,
                                    geodes_archive="restore-on-download"))  # fmt: skip
    key = _write(workdir / "key.txt", f"  {DEFAULT_API_KEY}  \n")
    run = legacy("peps_download", *ONE_DAY, "--url", sb.url, "-a", key, "-w", "k")
    assert run.code == 0, run.text
    assert list((workdir / "k").glob("*.zip"))
    # A PEPS-style file on GEODES: the key comes from EODAG's environment variable...
    peps = str(workdir / "peps.txt")
    run = legacy("peps_download", *ONE_DAY, "--url", sb.url, "-a", peps, "-n")
    assert run.code == 254 and "GEODES needs an API key" in run.err  # legacy: sys.exit(-2)
    assert DEFAULT_PASSWORD not in run.text
    monkeypatch.setenv("EODAG__GEODES_PLUS__AUTH__CREDENTIALS__APIKEY", DEFAULT_API_KEY)
    run = legacy("peps_download", *ONE_DAY, "--url", sb.url, "-a", peps, "-w", "env")
    assert run.code == 0, run.text
    # ...and without -a at all.
    run = legacy("peps_download", *ONE_DAY, "--url", sb.url, "-w", "noauth")
    assert run.code == 0, run.text
    assert DEFAULT_API_KEY not in run.text


def test_wrong_api_key_is_refused_in_one_line(
    legacy: Callable[..., Run], make_sandbox: Callable[..., Sandbox], workdir: Path
) -> None:
    sb = make_sandbox(SandboxConfig(time_scale=0.001))
    key = _write(workdir / "key.txt", "not-the-key\n")
    run = legacy("peps_download", *ONE_DAY, "--url", sb.url, "-a", key, "-w", "out")
    assert run.code != 0 and "not-the-key" not in run.text and "Traceback" not in run.text
    assert not [p for p in (workdir / "out").glob("*.zip")]


def test_world_readable_file_gets_a_warning(
    legacy: Callable[..., Run], sandbox: Sandbox, workdir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    auth = _write(workdir / "open.txt", f"{DEFAULT_USER} {DEFAULT_PASSWORD}\n", 0o644)
    with caplog.at_level("WARNING"):
        run = legacy("peps_download", "-t", "31TCJ", "-d", "2017-01-01", "-f", "2017-01-05",
                     "-n", "--backend", "peps", "--url", sandbox.url, "-a", auth)  # fmt: skip
    assert run.code == 0
    assert "readable by other users" in caplog.text + run.err
    assert DEFAULT_PASSWORD not in caplog.text + run.text


@pytest.mark.parametrize(
    ("text", "backend", "message"),
    [
        ("", "peps", "expected 'email password'"),
        ("just-one-token\n", "peps", "expected 'email password'"),
        (f"{DEFAULT_USER} {DEFAULT_PASSWORD}\n", "geodes", "GEODES needs an API key"),
    ],
)
def test_bad_auth_files(
    tmp_path: Path, text: str, backend: str, message: str, clean_env: dict[str, str]
) -> None:
    with pytest.raises(AuthenticationError, match=message) as info:
        read_auth_file(_write(tmp_path / "a.txt", text), backend)
    assert DEFAULT_PASSWORD not in str(info.value)


def test_missing_auth_file_is_one_line(
    legacy: Callable[..., Run], sandbox: Sandbox, workdir: Path
) -> None:
    run = legacy("peps_download", "-t", "31TCJ", "-n", "--url", sandbox.url, "-a", "nope.txt")
    assert run.code == 254 and run.err.strip().endswith("auth file not found: nope.txt")


@pytest.mark.parametrize("backend", ["peps", "geodes"])
def test_dry_run_output_holds_no_secret(
    legacy: Callable[..., Run], sandbox: Sandbox, workdir: Path, catalogue: Catalogue,
    backend: str,
) -> None:  # fmt: skip
    auth = str(workdir / ("peps.txt" if backend == "peps" else "geodes.txt"))
    run = legacy("peps_download", "-c", "S2ST", "-t", "31TCJ", "-d", "2017-01-01", "-f",
                 "2017-02-01", "-n", "--backend", backend, "--url", sandbox.url, "-a", auth)  # fmt: skip
    assert run.code == 0
    written = (workdir / "search.json").read_text()
    for secret in (DEFAULT_PASSWORD, DEFAULT_API_KEY):
        assert secret not in run.text and secret not in written
