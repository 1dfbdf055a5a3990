"""The README is executable: every shell and Python example runs, in order, as a newcomer would
run it, against a sandbox on a free port, in an empty folder, with a fresh home and only the
environment the README documents; any non-zero exit or traceback fails.

Markers in README.md (an HTML comment on the line before the fence, invisible once rendered):

* ``<!-- readme-test: skip (why) -->``: not run here (set-up of the project itself, the test
  suite, benchmarks); reported as a skipped test with its reason, never silently;
* ``<!-- readme-test: background (why) -->``: a server (``peps-plus sandbox serve``): started
  in the background, waited for, and stopped at the end;
* ``<!-- readme-test: needs MODULE (why) -->``: an example of an optional extra (``dask``):
  run when MODULE imports, else reported as skipped with the extra to install, since the
  README's own set-up (``pip install '.[test]'``) does not install it.

The README's sandbox port (``8642``) and ``peps-plus serve`` port (``8643``) are replaced by
free ones (a background example waits for the one it names). What the harness adds to the
documented environment, and why: ``PATH`` starts with this interpreter's folder (the README
says to activate the ``.venv``); ``HOME`` is a fresh folder (no user config, a fresh job
store); EODAG's external collections list is an empty local file (no network here); and, for
an editable install only, ``EODAG_PROVIDERS_CFG_DIR`` holds our ``providers.yml`` (EODAG reads
the copy a regular ``pip install .`` ships in the package).

The examples share one session, so they run in order in one process: the suite is run with
pytest-xdist's ``--dist loadfile``, which keeps a file's tests on one worker, in order.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest

from eodag_peps_plus.eodag_support import providers_yaml

README = Path(__file__).resolve().parents[1] / "README.md"
README_PORT = "8642"
#: The README's ``peps-plus serve`` port, replaced by another free one.
SERVE_PORT = "8643"
#: Per example; a hang fails the test instead of blocking CI.
EXAMPLE_TIMEOUT = 240.0
SERVER_START_TIMEOUT = 120.0

_FENCE = re.compile(r"^```(\w*)\s*$")
_MARKER = re.compile(r"<!--\s*readme-test:\s*(\w+)(?:\s+([\w.]+))?\s*(?:\((.*)\))?\s*-->")
_LANGUAGES = {"bash": "shell", "sh": "shell", "shell": "shell", "console": "shell", "python": "python"}  # fmt: skip
_ACTIONS = ("skip", "background", "needs")


@dataclasses.dataclass(frozen=True)
class Example:
    line: int  # of the opening fence, 1-based
    kind: str  # shell or python
    code: str
    action: str | None = None
    reason: str = ""
    #: The module a ``needs`` example requires.
    module: str = ""

    @property
    def name(self) -> str:
        return f"README.md:{self.line}-{self.kind}"

    @property
    def test_id(self) -> str:
        """The name, plus what a partial run selects on (``-k "background or env or needs"``
        runs an extra's examples with the server and environment they use)."""
        tags = [self.action or ""]
        lines = [ln for ln in self.code.splitlines() if ln.strip() and not ln.startswith("#")]
        if self.kind == "shell" and lines and all(ln.startswith("export ") for ln in lines):
            tags.append("env")
        return "-".join([self.name, *filter(None, tags)])


def examples(text: str) -> list[Example]:
    """Every fenced shell or Python block, with the marker on the line before it."""
    found: list[Example] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        fence = _FENCE.match(lines[i])
        if not fence:
            i += 1
            continue
        start = i
        end = next((j for j in range(i + 1, len(lines)) if lines[j].startswith("```")), None)
        if end is None:
            raise ValueError(f"README.md:{start + 1}: unclosed code fence")
        kind = _LANGUAGES.get(fence.group(1).lower())
        before = next((lines[j] for j in range(start - 1, -1, -1) if lines[j].strip()), "")
        marker = _MARKER.fullmatch(before.strip())
        if kind is not None:
            action, module, reason = (
                (marker.group(1), marker.group(2) or "", (marker.group(3) or "").strip())
                if marker
                else (None, "", "")
            )
            code = "\n".join(lines[start + 1 : end]) + "\n"
            found.append(Example(start + 1, kind, code, action, reason, module))
        i = end + 1
    return found


EXAMPLES = examples(README.read_text())


def test_markers_are_known_and_explained() -> None:
    """A skip must say why; an unknown or misspelt marker must not silently run or skip."""
    for example in EXAMPLES:
        if example.action is not None:
            assert example.action in _ACTIONS, f"{example.name}: unknown marker {example.action!r}"
            assert example.reason, f"{example.name}: a marker needs its reason in parentheses"
            assert bool(example.module) == (example.action == "needs"), (
                f"{example.name}: 'needs' and only it names a module"
            )
    lines = README.read_text().splitlines()
    assert sum(bool(_MARKER.fullmatch(line.strip())) for line in lines) == sum(
        e.action is not None for e in EXAMPLES
    ), "a readme-test marker is not on the line right before a shell or Python block"
    assert any(e.action is None for e in EXAMPLES)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _installed_regularly() -> bool:
    return resources.files("eodag_peps_plus").joinpath("providers.yml").is_file()


class Session:
    """One newcomer's shell: a folder, an environment carried from example to example (an
    ``export`` stays set), and the background servers to stop at the end."""

    def __init__(self, root: Path) -> None:
        self.port = str(_free_port())
        self.serve_port = str(_free_port())
        self.cwd = root / "work"
        self.cwd.mkdir()
        home = root / "home"
        home.mkdir()
        offline = root / "ext_collections.json"
        offline.write_text("{}")
        self.env: dict[str, str] = {
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}/usr/local/bin:/usr/bin:/bin",
            "HOME": str(home),
            "LANG": "C.UTF-8",
            "EODAG_EXT_COLLECTIONS_CFG_URI": str(offline),
        }
        if not _installed_regularly():
            providers = root / "providers"
            providers.mkdir()
            (providers / "peps_plus.yml").write_text(providers_yaml())
            self.env["EODAG_PROVIDERS_CFG_DIR"] = str(providers)
        self.servers: list[subprocess.Popen[bytes]] = []
        self.logs = root / "logs"
        self.logs.mkdir()

    def code(self, example: Example) -> str:
        return example.code.replace(README_PORT, self.port).replace(SERVE_PORT, self.serve_port)

    def background(self, example: Example) -> None:
        with (self.logs / f"{example.line}.log").open("wb") as log:  # the server keeps its copy
            server = subprocess.Popen(
                ["bash", "-c", f"exec {self.code(example).strip()}"],
                cwd=self.cwd,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.servers.append(server)
        port = self.serve_port if SERVE_PORT in example.code else self.port
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while time.monotonic() < deadline:
            if server.poll() is not None:
                pytest.fail(
                    f"{example.name} exited: {(self.logs / f'{example.line}.log').read_text()[-2000:]}"
                )
            try:
                with socket.create_connection(("127.0.0.1", int(port)), timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        pytest.fail(f"{example.name}: no server on port {port} after {SERVER_START_TIMEOUT:.0f} s")

    def run(self, example: Example) -> subprocess.CompletedProcess[str]:
        env_file = self.logs / f"{example.line}.env"
        if example.kind == "python":
            args = [sys.executable, "-c", self.code(example)]
        else:
            # set -e: the first failing line fails the example; the environment after it is
            # kept for the next example, as in a shell the user keeps open.
            script = f"set -eo pipefail\n{self.code(example)}\nenv -0 > {env_file}\n"
            args = ["bash", "-c", script]
        run = subprocess.run(
            args,
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=EXAMPLE_TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
        if run.returncode == 0 and env_file.is_file():
            pairs = (item.split("=", 1) for item in env_file.read_text().split("\0") if "=" in item)
            self.env = {k: v for k, v in pairs if k not in ("PWD", "OLDPWD", "SHLVL", "_")}
        return run

    def stop(self) -> None:
        for server in self.servers:
            if server.poll() is None:
                os.killpg(server.pid, signal.SIGINT)
                try:
                    server.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(server.pid, signal.SIGKILL)
                    server.wait(timeout=15)


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    shell = Session(tmp_path_factory.mktemp("readme"))
    yield shell
    shell.stop()


@pytest.mark.slow
@pytest.mark.parametrize("example", EXAMPLES, ids=[e.test_id for e in EXAMPLES])
def test_readme_example(example: Example, session: Session) -> None:
    if example.action == "skip":
        pytest.skip(f"{example.name}: readme-test skip ({example.reason})")
    if example.action == "background":
        session.background(example)
        return
    if example.action == "needs" and importlib.util.find_spec(example.module) is None:
        pytest.skip(f"{example.name}: needs {example.module} ({example.reason})")
    run = session.run(example)
    output = f"--- stdout\n{run.stdout[-3000:]}\n--- stderr\n{run.stderr[-3000:]}"
    assert run.returncode == 0, f"{example.name} exited {run.returncode}\n{example.code}{output}"
    assert "Traceback (most recent call last)" not in run.stdout + run.stderr, output


def test_ci_builds_the_readme_environment_and_runs_its_test_command() -> None:
    """CI builds its environment with the README's command 1 and tests with its command 2,
    read from the README itself: the two cannot drift apart (an extra CI installs first, and
    the README's reader does not, would hide a test needing it)."""
    ci = (README.parent / ".ci" / "run").read_text()
    setup = EXAMPLES[0].code
    assert "pip install '.[test]'" in setup and ".venv/bin/python -m pytest" in setup
    assert "readme_line 'python3 -m venv \\.venv'" in ci
    assert "readme_line '\\.venv/bin/python -m pytest'" in ci
    before_tests = ci[: ci.index('bash -c "$test_cmd"')]
    assert "pip install" not in before_tests, "CI installs something the README does not"
