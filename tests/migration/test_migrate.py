"""``peps-plus migrate``: each documented legacy command line becomes eodag, peps-plus and
Python that run as printed against the sandbox and give the legacy command's products."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from eodag_peps_plus.sandbox import DEFAULT_API_KEY, DEFAULT_PASSWORD, Sandbox, SandboxConfig

from .conftest import Run, auth_file, server_env
from .examples import PEPS_DOWNLOAD
from .test_peps_download import BACKENDS, unified_ids


@pytest.fixture
def migrate(
    clean_env: dict[str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Run]:
    """``peps-plus migrate ARGS`` in this process (the printed commands run as subprocesses)."""
    from eodag_peps_plus.cli import main

    def run(*args: str, env: dict[str, str] | None = None) -> Run:
        with monkeypatch.context() as patch:
            for key, value in (env or {}).items():
                patch.setenv(key, value)
            patch.setattr(sys, "argv", ["peps-plus", "migrate", *args])
            capsys.readouterr()
            code = 0
            try:
                main()
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run


def ids_in(text: str) -> set[str]:
    """Product names at the start of printed lines (peps-plus -n, the Python snippets)."""
    return {line.split()[0] for line in text.splitlines() if line.startswith(("S1", "S2"))}


def _sections(text: str) -> dict[int, set[str]]:
    """Products printed under each ``### N`` marker."""
    found: dict[int, set[str]] = {}
    current = -1
    for line in text.splitlines():
        if line.startswith("### "):
            current = int(line.split()[1])
            found[current] = set()
        elif current >= 0:
            found[current] |= ids_in(line)
    return found


@pytest.mark.parametrize("backend", BACKENDS)
def test_peps_plus_and_python_forms_run_as_printed(
    migrate: Callable[..., Run], shell: Callable[..., Run], sandbox: Sandbox, workdir: Path,
    backend: str,
) -> None:  # fmt: skip
    """Every documented example: the printed peps-plus command and Python snippet list the
    unified search's products (all examples in one shell and one Python process)."""
    env = server_env(sandbox.url, backend)
    commands, snippets, expected = [], [], {}
    for index, (args, fields) in enumerate(PEPS_DOWNLOAD):
        legacy_line = ["peps_download.py", *args, "-a", auth_file(workdir, backend), "-n"]
        expected[index] = unified_ids(sandbox.url, backend, fields)
        printed = migrate("--only", "peps-plus", "--", *legacy_line, env=env)
        assert printed.code == 0, printed.err
        assert printed.out.startswith(f"peps-plus download -B {backend}")
        commands.append(f"echo '### {index}'\n{printed.out}")
        snippet = migrate("--only", "python", "--", *legacy_line, env=env)
        assert snippet.code == 0, snippet.err
        snippets.append(f"print('### {index}', flush=True)\n{snippet.out}")
    run = shell("\n".join(commands), env=env)
    assert run.code == 0, run.err
    assert _sections(run.out) == expected
    run = shell("\n".join(snippets), python=True, env=env)
    assert run.code == 0, run.err
    assert _sections(run.out) == expected


EODAG_CASES = [PEPS_DOWNLOAD[i] for i in (0, 4, 5, 8)]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("args", "fields"), EODAG_CASES, ids=[" ".join(a) for a, _ in EODAG_CASES])
def test_eodag_form_runs_as_printed(
    migrate: Callable[..., Run], shell: Callable[..., Run], sandbox: Sandbox, workdir: Path,
    backend: str, args: list[str], fields: dict[str, Any],
) -> None:  # fmt: skip
    env = server_env(sandbox.url, backend)
    printed = migrate("--only", "eodag", "--", "peps_download.py", *args, "-n", env=env)
    assert printed.code == 0, printed.err
    assert printed.out.startswith("eodag search")
    run = shell(printed.out, env=env)
    assert run.code == 0, run.err
    features = json.loads((workdir / "search_results.geojson").read_text())["features"]
    assert {f["id"] for f in features} == unified_ids(sandbox.url, backend, fields)
    # eodag writes <collection>.json beside the results: EODAG's own, not a "S2ST" stub
    assert not (workdir / "S2ST.json").exists() and not (workdir / "S2.json").exists()
    if fields["collection"].startswith("S2"):
        assert "S2_MSI_L1C" in printed.out


@pytest.mark.parametrize("backend", BACKENDS)
def test_download_translations_keep_the_legacy_layout(
    migrate: Callable[..., Run], shell: Callable[..., Run], legacy: Callable[..., Run],
    make_sandbox: Callable[..., Sandbox], workdir: Path, backend: str,
) -> None:  # fmt: skip
    # Every product downloadable (GEODES's tape restored by the assumed, named profile):
    # this test is about the key and the layout, not about tape.
    sb = make_sandbox(SandboxConfig(time_scale=0.001, restore_latency=(100, 300), unknown_restores=True,
                                    geodes_archive="restore-on-download"))  # fmt: skip
    env = server_env(sb.url, backend)
    day = ["-c", "S2ST", "-t", "31TCJ", "-d", "2017-01-06", "-f", "2017-01-07", "-x"]
    reference = legacy("peps_download", *day, "-w", "legacy", "--backend", backend, "--url",
                       sb.url, "-a", auth_file(workdir, backend))  # fmt: skip
    assert reference.code == 0, reference.text
    wanted = sorted(p.name for p in (workdir / "legacy").iterdir() if not p.name.startswith("."))
    assert wanted and all(name.endswith(".SAFE") for name in wanted)
    for form, folder in (("peps-plus", "new"), ("eodag", "eodag"), ("python", "py")):
        printed = migrate("--only", form, "--", "peps_download.py", *day, "-w", folder, env=env)
        run = shell(printed.out, env=env, python=form == "python")
        assert run.code == 0, f"{form}: {run.err}"
        got = sorted(p.name for p in (workdir / folder).iterdir() if not p.name.startswith("."))
        assert got == wanted, form


def test_full_output_names_what_has_no_equivalent_and_no_secret(
    migrate: Callable[..., Run], sandbox: Sandbox, workdir: Path
) -> None:
    env = server_env(sandbox.url, "geodes")
    run = migrate("--", "python", "./peps_download.py", "-c", "S2ST", "-l", "Toulouse",
                  "-a", "peps.txt", "-d", "2017-01-01", "-f", "2017-02-01", "--windows",
                  "--json", "out.json", env=env)  # fmt: skip
    assert run.code == 0, run.err
    for section in ("# --- eodag", "# --- peps-plus", "# --- python", "# --- not carried over"):
        assert section in run.out
    for option in ("-a peps.txt", "--windows", "--json out.json", "-l Toulouse"):
        assert f"#   {option}" in run.out
    assert "--lat 43.60426 --lon 1.44367" in run.out  # GEODES: the town's point
    assert DEFAULT_PASSWORD not in run.out + run.err and DEFAULT_API_KEY not in run.out


def test_whole_output_is_a_runnable_shell_script(
    migrate: Callable[..., Run], shell: Callable[..., Run], sandbox: Sandbox
) -> None:
    env = server_env(sandbox.url, "peps")
    run = migrate("--backend", "peps", "--", "peps_download.py", "-c", "S2ST", "-t", "31TCJ",
                  "-d", "2017-01-01", "-f", "2017-01-10", "-n", env=env)  # fmt: skip
    assert run.code == 0, run.err
    done = shell(run.out, env=env)
    assert done.code == 0, done.err
    assert len(ids_in(done.out)) >= 4  # peps-plus, then Python, listing the same products


def test_script_file_every_call_translated(
    migrate: Callable[..., Run], workdir: Path, sandbox: Sandbox
) -> None:
    script = workdir / "cron.sh"
    script.write_text(
        "#!/bin/bash\nset -e\ncd /data\n"
        "python peps_download.py -c S2ST -t 31TCJ -a peps.txt \\\n"
        "    -d 2017-01-01 -f 2017-02-01 -w /data/s2 # nightly\n"
        "echo done; /opt/tools/full_maja_process.py -t 31TCJ -a peps.txt -d 2019-03-01 "
        "-e 2019-05-01 -l 31TCJ.log && full_maja_download.py -a peps.txt -l 31TCJ.log -w l2a\n"
        "peps_maja_process.py -t 31TCJ -a peps.txt -d 2019-03-01 -f 2019-03-10 -p list.txt\n"
        "peps_maja_download.py -p list.txt -a peps.txt -w l2a\n"
        "python peps_download.py -t 31TC -a peps.txt\n"
    )
    run = migrate("--file", str(script), env=server_env(sandbox.url, "geodes"))
    assert run.code == 1  # the last call is refused, and said so
    assert f"{script}:9: cannot translate peps_download" in run.err and "MGRS tile" in run.err
    assert run.out.count("# legacy:") == 5
    assert "peps-plus download -B geodes -c S2ST" in run.out
    assert "peps-plus maja submit -B geodes -t 31TCJ -d 2019-03-01 -e 2019-05-01" in run.out
    assert "peps-plus maja submit --per-product -B geodes -t 31TCJ" in run.out
    assert "peps-plus maja fetch -w l2a --log 31TCJ.log" in run.out
    assert "peps-plus maja fetch -w l2a --products-file list.txt" in run.out


@pytest.mark.parametrize("backend", BACKENDS)
def test_maja_translations_run_as_printed(
    migrate: Callable[..., Run], shell: Callable[..., Run], make_sandbox: Callable[..., Sandbox],
    workdir: Path, backend: str,
) -> None:  # fmt: skip
    sb = make_sandbox(SandboxConfig(time_scale=0.00005))
    env = server_env(sb.url, backend)
    old = ["full_maja_process.py", "-t", "31TCJ", "-a", "peps.txt", "-d", "2019-03-01", "-e",
           "2019-05-01", "-o", "51", "-l", "a.log"]  # fmt: skip
    for form in ("peps-plus", "python"):
        printed = migrate("--only", form, "--", *old, env=env)
        # two users (two stores): one store refuses the same series twice without --resubmit
        own = {**env, "PEPS_PLUS_JOB_STORE": str(workdir / f"{form}.sqlite3")}
        run = shell(printed.out, env=own, python=form == "python")
        assert run.code == 0, run.err
    assert len(sb.services["processing"].jobs) == 2
    printed = migrate("--only", "peps-plus", "--", "peps_maja_process.py", "-t", "31TCJ", "-d",
                      "2019-03-01", "-f", "2019-03-10", "-o", "51", "-p", "l.txt", env=env)  # fmt: skip
    run = shell(printed.out, env=env)
    assert run.code == 0, run.err
    assert len(sb.services["processing"].jobs) > 2
    printed = migrate("--only", "python", "--", "full_maja_download.py", "-l", "a.log", "-w", "l2a", env=env)  # fmt: skip
    assert "read_job_log(Path('a.log'))" in printed.out  # bound to the log's job, never "all"
    run = shell(printed.out, env=env, python=True)
    assert run.code == 0, run.err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ls", "-l"], "no legacy command found"),
        (["peps_download.py", "-t", "31TCJ", "-l", "Toulouse"], "not tile and location"),
        (["full_maja_process.py", "-t", "31TCJ", "-d", "2019-03-01", "-e", "2019-03-05"], "days"),
        (["peps_maja_process.py", "-t", "31TCJ"], "Missing option '-p'"),
    ],
)
def test_untranslatable_lines_are_one_line_errors(
    migrate: Callable[..., Run], args: list[str], message: str
) -> None:
    run = migrate("--", *args)
    assert run.code == 1 and message in run.err and "Traceback" not in run.err
