"""One credential resolver: one precedence for every source, errors that name the source the
refused secret came from, a results file's products fetched with their own provider's account,
and no secret in any output. Commands run as users run them, against the sandbox over HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from eodag_peps_plus.backends import open_backend, spec_for
from eodag_peps_plus.backends.credentials import resolve
from eodag_peps_plus.exceptions import AuthenticationError
from eodag_peps_plus.http_io import Credentials
from eodag_peps_plus.sandbox import (
    DEFAULT_API_KEY,
    DEFAULT_PASSWORD,
    DEFAULT_USER,
    Sandbox,
    SandboxConfig,
)

PEPS_USER = "EODAG__PEPS__AUTH__CREDENTIALS__USERNAME"
PEPS_PASSWORD = "EODAG__PEPS__AUTH__CREDENTIALS__PASSWORD"
GEODES_KEY = "EODAG__GEODES_PLUS__AUTH__CREDENTIALS__APIKEY"
WRONG = "wr0ng-s3cret-that-must-never-show"
ONE_DAY = ["-c", "S2ST", "-t", "31TCJ", "-d", "2017-01-06", "-f", "2017-01-07"]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No credential or endpoint from the environment; eodag.yml is ``home/eodag.yml``."""
    for key in list(os.environ):
        if key.startswith(("EODAG__", "PEPS_PLUS_")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("EODAG_CFG_FILE", str(tmp_path / "eodag.yml"))
    monkeypatch.setenv("PEPS_PLUS_JOB_STORE", str(tmp_path / "jobs.sqlite3"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o600)
    return path


def _run(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "eodag_peps_plus", *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=180,
    )


def _drop_in(name: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
    code = f"import sys; from eodag_peps_plus.cli import main; from eodag_peps_plus.cli.legacy import COMMANDS; sys.argv = {[name, *map(str, args)]!r}; main(COMMANDS[{name!r}])"  # fmt: skip
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180)


# -- the one precedence ---------------------------------------------------------------------------


def test_precedence_code_url_file_environment_gateway_eodag_yml(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    yml = _write(home / "eodag.yml", "peps:\n  auth:\n    credentials:\n"
                 "      username: from-yml\n      password: yml-pw\n")  # fmt: skip
    found = resolve("peps")
    assert (found.username, found.source) == ("from-yml", f"peps.auth.credentials in {yml}")
    gateway = {"username": "from-gateway", "password": "gw-pw"}
    found = resolve("peps", eodag_config=gateway)
    assert (found.username, found.source) == (
        "from-gateway",
        "EODAG's peps.auth.credentials setting",
    )
    # EODAG read the gateway's config from eodag.yml: the file is named.
    found = resolve("peps", eodag_config={"username": "from-yml", "password": "yml-pw"})
    assert found.source == f"peps.auth.credentials in {yml}"
    monkeypatch.setenv(PEPS_USER, "from-env")
    monkeypatch.setenv(PEPS_PASSWORD, "env-pw")
    found = resolve("peps", eodag_config=gateway)
    assert (found.username, found.source) == ("from-env", f"{PEPS_PASSWORD} and {PEPS_USER}")
    auth = _write(home / "peps.txt", "from-file file-pw\n")
    found = resolve("peps", auth_file=auth, eodag_config=gateway)
    assert (found.username, found.source) == ("from-file", f"the -a file {auth}")
    found = resolve("peps", url="http://from-url:url-pw@127.0.0.1:9", auth_file=auth)
    assert (found.username, found.source) == ("from-url", "the user:password@ of the server URL")
    given = Credentials("from-code", "code-pw")
    found = resolve("peps", given=given, url="http://u:p@127.0.0.1:9", auth_file=auth)
    assert (found.username, found.source) == ("from-code", "credentials given in code")
    assert "pw" not in repr(found)


def test_a_source_without_the_secret_this_server_takes_is_passed_over(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A PEPS-style file for GEODES: the key comes from the next source that has one, and
    the file is named when none has."""
    auth = _write(home / "peps.txt", f"{DEFAULT_USER} {DEFAULT_PASSWORD}\n")
    with pytest.raises(AuthenticationError, match=r"peps\.txt holds an account") as info:
        resolve("geodes", auth_file=auth)
    assert GEODES_KEY in str(info.value) and DEFAULT_PASSWORD not in str(info.value)
    monkeypatch.setenv(GEODES_KEY, DEFAULT_API_KEY)
    found = resolve("geodes", auth_file=auth)
    assert (found.api_key, found.source) == (DEFAULT_API_KEY, GEODES_KEY)
    # A basic-auth pair in the environment is no API key: eodag.yml's key is taken.
    monkeypatch.delenv(GEODES_KEY)
    monkeypatch.setenv("EODAG__GEODES_PLUS__AUTH__CREDENTIALS__USERNAME", "someone")
    _write(
        home / "eodag.yml",
        f"geodes_plus:\n  auth:\n    credentials:\n      apikey: {DEFAULT_API_KEY}\n",
    )
    assert resolve("geodes").source.startswith("geodes_plus.auth.credentials in ")


def test_help_text_comes_from_each_backend_record() -> None:
    """``-B geodes`` never hears about PEPS's variables, and the reverse."""
    geodes, peps = spec_for("geodes").credentials_help(), spec_for("peps").credentials_help()
    assert GEODES_KEY in geodes and "PEPS" not in geodes and "geodes-portal" in geodes
    assert PEPS_USER in peps and PEPS_PASSWORD in peps and "GEODES" not in peps


# -- errors name the source -----------------------------------------------------------------------


@pytest.fixture
def quick(make_sandbox: Callable[..., Sandbox]) -> Sandbox:
    return make_sandbox(SandboxConfig(time_scale=0.001, restore_latency=(100, 300)))


def test_wrong_password_in_the_auth_file_is_blamed_on_the_file(
    home: Path, quick: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The environment holds the right account; the ``-a`` file wins, and is named."""
    auth = _write(home / "peps.txt", f"{DEFAULT_USER} {WRONG}\n")
    monkeypatch.setenv(PEPS_USER, DEFAULT_USER)
    monkeypatch.setenv(PEPS_PASSWORD, DEFAULT_PASSWORD)
    run = _drop_in("peps_download", *ONE_DAY, "--backend", "peps", "--url", quick.url,
                   "-a", auth, "-w", "out", "--timeout", "1")  # fmt: skip
    text = run.stdout + run.stderr
    assert run.returncode != 0, text
    assert f"the -a file {auth}" in text, text
    assert "eodag.yml" not in text and PEPS_USER not in text
    assert WRONG not in text and DEFAULT_PASSWORD not in text


@pytest.mark.parametrize("where", ["environment", "eodag.yml"])
def test_wrong_geodes_key_names_where_it_was_set(home: Path, quick: Sandbox, where: str) -> None:
    env = {"EODAG__GEODES_PLUS__SEARCH__API_ENDPOINT": quick.url}
    if where == "environment":
        env[GEODES_KEY] = WRONG
        named = GEODES_KEY
    else:
        yml = _write(
            home / "eodag.yml", f"geodes_plus:\n  auth:\n    credentials:\n      apikey: {WRONG}\n"
        )
        named = f"geodes_plus.auth.credentials in {yml}"
    run = _run("download", *ONE_DAY, "-w", home / "out", "--timeout", "0.2", "--quiet", env=env)
    text = run.stdout + run.stderr
    assert run.returncode != 0, text
    assert f"check the GEODES API key in {named}" in text, text
    assert WRONG not in text


def test_missing_key_says_how_to_set_it_for_this_backend(home: Path, quick: Sandbox) -> None:
    backend = open_backend("geodes", quick.url)
    with pytest.raises(AuthenticationError) as info:
        backend.require_credentials("GEODES download")
    message = str(info.value)
    assert "you need an API key for GEODES" in message and GEODES_KEY in message
    assert "PEPS" not in message


# -- a results file follows its provider ----------------------------------------------------------


def test_results_file_is_downloaded_from_its_own_provider(home: Path, quick: Sandbox) -> None:
    """``peps-plus download --search-results`` of a GEODES file uses GEODES and its key, not
    the default (or PEPS) account; ``-B peps`` on it is refused in one line."""
    env = {
        "EODAG__GEODES_PLUS__SEARCH__API_ENDPOINT": quick.url,
        GEODES_KEY: DEFAULT_API_KEY,
        "EODAG__PEPS__SEARCH__API_ENDPOINT": "http://127.0.0.1:9",
        PEPS_USER: DEFAULT_USER,
        PEPS_PASSWORD: WRONG,
    }
    results = home / "r.geojson"
    run = _run("search", "-B", "geodes", *ONE_DAY, "--json", results, env=env)
    assert run.returncode == 0, run.stderr
    assert '"eodag:provider":"geodes_plus"' in results.read_text()
    refused = _run("download", "-B", "peps", "--search-results", results, "-w", home / "x", env=env)
    (line,) = refused.stderr.strip().splitlines()
    assert refused.returncode == 1 and "holds GEODES products" in line and "-B peps" in line
    run = _run("download", "--search-results", results, "-w", home / "out", "--quiet",
               "--timeout", "2", env=env)  # fmt: skip
    text = run.stdout + run.stderr
    # GEODES (evidence profile) refuses its Tier3 products with 410 (exit 2); the online ones
    # arrive with the GEODES key, and nothing is blamed on the (wrong) PEPS account.
    assert run.returncode in (0, 2) and " done " in text, text
    assert run.returncode == 0 or "refused by GEODES" in text, text
    assert "PEPS" not in text.replace("--fallback peps", "")
    assert list((home / "out").iterdir())
    assert WRONG not in text and DEFAULT_API_KEY not in text


# -- the job store holds URLs, never secrets ------------------------------------------------------


def test_a_stored_job_gets_the_account_only_on_its_own_origin(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A job is followed at the URL the store recorded, with the account the resolver finds
    for its backend, and only if that URL is one of the account's origins (a store file edited
    to name another host gets no key)."""
    from eodag_peps_plus.processing.jobs import MajaJobs
    from eodag_peps_plus.processing.store import JobStore

    monkeypatch.setenv(GEODES_KEY, DEFAULT_API_KEY)
    monkeypatch.setenv("EODAG__GEODES_PLUS__SEARCH__API_ENDPOINT", "http://127.0.0.1:9")
    jobs = MajaJobs(None, JobStore(home / "jobs.sqlite3"))
    own = jobs.processing_for("geodes", "http://127.0.0.1:9").backend
    assert own.credentials.api_key == DEFAULT_API_KEY and own.credentials.source == GEODES_KEY
    foreign = jobs.processing_for("geodes", "http://127.0.0.2:9").backend
    assert foreign.credentials.api_key is None


def test_eodag_download_names_the_variable_of_a_refused_key(
    home: Path, quick: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """EODAG's own path (auth plugin -> download plugin): the same resolver, the same line."""
    from eodag_peps_plus.eodag_support import gateway

    monkeypatch.setenv(GEODES_KEY, WRONG)
    dag = gateway(geodes_plus=quick.url)
    results = dag.search(provider="geodes_plus", collection="S2_MSI_L1C", tileid="31TCJ",
                         start="2017-01-06", end="2017-01-08", limit=1)  # fmt: skip
    assert len(results) == 1
    with pytest.raises(Exception) as info:
        dag.download(results[0], output_dir=str(home / "out"), timeout=0.05, wait=0.01)
    message = str(info.value)
    assert f"check the GEODES API key in {GEODES_KEY}" in message, message
    assert WRONG not in message
