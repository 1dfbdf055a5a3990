"""Issue 23's smaller items, as a PEPS user meets them: ``-v`` after the subcommand, sizes in
the rows, what ``-x`` keeps, the sandbox's start lines pasted as printed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from eodag_peps_plus.cli.sandbox import startup_lines
from eodag_peps_plus.sandbox import DEFAULT_PASSWORD, DEFAULT_USER, Sandbox, SandboxConfig

README = Path(__file__).resolve().parents[1] / "README.md"
DAY = ["-c", "S2ST", "-t", "31TCJ", "-d", "2017-01-06", "-f", "2017-01-07"]


def run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:  # fmt: skip
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("EODAG__", "PEPS_PLUS_"))}
    return subprocess.run(
        [sys.executable, "-m", "eodag_peps_plus", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**clean, "EODAG_CFG_FILE": str(cwd / "no-eodag.yml"), **(env or {})},
        timeout=180,
        check=False,
    )


def peps_env(url: str) -> dict[str, str]:
    return {
        "EODAG__PEPS__AUTH__CREDENTIALS__USERNAME": DEFAULT_USER,
        "EODAG__PEPS__AUTH__CREDENTIALS__PASSWORD": DEFAULT_PASSWORD,
    }


def test_verbose_after_the_subcommand(sandbox: Sandbox, tmp_path: Path) -> None:
    args = ["search", "-B", "peps", "--url", sandbox.url, *DAY]
    after = run(*args, "-v", cwd=tmp_path)
    assert after.returncode == 0, after.stderr
    before = run("-v", *args, cwd=tmp_path)
    assert before.returncode == 0, before.stderr
    assert "INFO " in after.stderr and "INFO " in before.stderr
    assert "INFO " not in run(*args, cwd=tmp_path).stderr


def test_rows_show_sizes_in_their_unit(sandbox: Sandbox, tmp_path: Path) -> None:
    """Sandbox zips are kB: every row said ``0.0 MB``."""
    done = run("search", "-B", "peps", "--url", sandbox.url, *DAY, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    rows = done.stdout.splitlines()[2:]
    assert rows and all(re.search(r"\d \b(kB|MB|GB)\b|\d B\b", row) for row in rows), rows
    assert "0.0 MB" not in done.stdout


def test_extract_keeps_the_zip_unless_delete_archive(make_sandbox: object, tmp_path: Path) -> None:
    """Decided (README, Moving from PEPS): ``peps-plus download -x`` keeps ``<name>.zip`` as
    EODAG's ``extract`` does; ``--delete-archive`` removes it, as ``peps_download -x`` did."""
    sb = make_sandbox(SandboxConfig(time_scale=0.001, restore_latency=(100, 300)))  # type: ignore[operator]
    env = peps_env(sb.url)
    common = ["download", "-B", "peps", "--url", sb.url, *DAY, "-x", "--quiet", "--timeout", "2"]
    kept = run(*common, "-w", "kept", cwd=tmp_path, env=env)
    assert kept.returncode == 0, kept.stderr
    safes = sorted(p.stem for p in (tmp_path / "kept").glob("*.SAFE"))
    assert safes and sorted(p.stem for p in (tmp_path / "kept").glob("*.zip")) == safes
    gone = run(*common, "--delete-archive", "-w", "gone", cwd=tmp_path, env=env)
    assert gone.returncode == 0, gone.stderr
    assert sorted(p.stem for p in (tmp_path / "gone").glob("*.SAFE")) == safes
    assert not list((tmp_path / "gone").glob("*.zip"))
    helped = run("download", "--help", cwd=tmp_path)
    assert "keeping" in helped.stdout and "--delete-archive" in helped.stdout


def test_sandbox_start_lines_paste_as_printed(sandbox: Sandbox, tmp_path: Path) -> None:
    """Every variable the README sets is printed, the password's too (read from the package
    when pasted: no password is printed): pasted as is, the first download no longer fails."""
    exports = [ln.strip() for ln in startup_lines(sandbox) if ln.strip().startswith("export ")]
    names = {line.split()[1].split("=", 1)[0] for line in exports}
    documented = set(re.findall(r"^export (EODAG__\w+)=", README.read_text(), re.MULTILINE))
    assert documented <= names, documented - names
    assert DEFAULT_PASSWORD not in "\n".join(startup_lines(sandbox))
    shell = subprocess.run(
        ["bash", "-c", "\n".join([*exports, "env"])],
        capture_output=True, text=True, cwd=tmp_path, timeout=60, check=False,
    )  # fmt: skip
    assert f"EODAG__PEPS__AUTH__CREDENTIALS__PASSWORD={DEFAULT_PASSWORD}" in shell.stdout
