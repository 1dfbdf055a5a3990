"""A throw-away stac-fastapi-pgstac server: PostgreSQL + PostGIS in a temp dir, pgstac
migrated and loaded, the FastAPI app under uvicorn on a free loopback port.

Used by the session fixture in ``conftest.py``. Every step that depends on the machine
(binaries, extension files, a non-root user) raises :class:`Unavailable` with the reason, so
the tests skip saying why instead of failing obscurely or silently.
"""

from __future__ import annotations

import contextlib
import glob
import importlib.util
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import requests

SETUP_HINT = "install it with: bash .ci/pgstac.sh .venv"


class Unavailable(RuntimeError):
    """PostgreSQL/pgstac cannot run here (the message says why and how to fix it)."""


def free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def postgres_bindir() -> Path:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    found = shutil.which("initdb")
    if found:
        candidates.insert(0, found)
    for path in candidates:
        bindir = Path(path).resolve().parent
        if (bindir / "pg_ctl").exists() and (bindir / "postgres").exists():
            return bindir
    raise Unavailable(f"PostgreSQL server binaries (initdb, pg_ctl) not found; {SETUP_HINT}")


def check_python_packages() -> None:
    missing = [
        name
        for name in ("pypgstac", "stac_fastapi.pgstac", "uvicorn", "psycopg")
        if importlib.util.find_spec(name.split(".")[0]) is None
        or (name == "stac_fastapi.pgstac" and importlib.util.find_spec(name) is None)
    ]
    if missing:
        raise Unavailable(f"Python packages missing: {', '.join(missing)}; {SETUP_HINT}")


def check_postgis(bindir: Path) -> None:
    version = bindir.parent.name
    controls = glob.glob(f"/usr/share/postgresql/{version}/extension/postgis.control")
    if not controls:
        raise Unavailable(
            f"PostGIS for PostgreSQL {version} is not installed "
            f"(postgresql-{version}-postgis-3); {SETUP_HINT}"
        )


def _run_as() -> dict[str, Any]:
    """PostgreSQL refuses to run as root: use the ``postgres`` (else ``nobody``) account."""
    if os.geteuid() != 0:
        return {}
    for name in ("postgres", "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return {"user": entry.pw_uid, "group": entry.pw_gid}
    raise Unavailable("running as root and no 'postgres' or 'nobody' account to run PostgreSQL")


class PgstacServer:
    """``start()`` / ``stop()``; ``url`` is the STAC API root, ``dsn`` the database."""

    def __init__(self) -> None:
        self.bindir = postgres_bindir()
        check_postgis(self.bindir)
        check_python_packages()
        self.run_as = _run_as()
        self.root = Path(tempfile.mkdtemp(prefix="pgstac-test-"))
        self.data = self.root / "data"
        self.pg_port = free_port()
        self.api_port = free_port()
        self.dsn = f"postgresql://postgres:unused@127.0.0.1:{self.pg_port}/postgres"
        self.url = f"http://127.0.0.1:{self.api_port}"
        self.api: subprocess.Popen[bytes] | None = None
        self.pg_started = False

    def _pg(self, *args: str, timeout: float = 60) -> None:
        result = subprocess.run(
            [str(self.bindir / args[0]), *args[1:]],
            capture_output=True,
            timeout=timeout,
            cwd=self.root,
            **self.run_as,
        )
        if result.returncode != 0:
            log = (
                (self.root / "postgres.log").read_text()
                if (self.root / "postgres.log").exists()
                else ""
            )
            detail = (result.stderr.decode(errors="replace") + log)[-800:]
            raise Unavailable(f"PostgreSQL could not start ({args[0]} failed): {detail.strip()}")

    def start(self) -> PgstacServer:
        if self.run_as:
            os.chown(self.root, self.run_as["user"], self.run_as["group"])
        self._pg(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        )
        options = (
            f"-p {self.pg_port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off"
        )
        self._pg(
            "pg_ctl",
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.root / "postgres.log"),
            "-w",
            "-t",
            "60",
            "start",
        )
        self.pg_started = True
        self._migrate()
        return self

    def _migrate(self) -> None:
        from pypgstac.db import PgstacDB
        from pypgstac.migrate import Migrate

        with contextlib.closing(PgstacDB(dsn=self.dsn)) as db:
            Migrate(db).run_migration()
            # numberMatched in search replies (pgstac leaves counting off by default).
            db.query_one(
                "INSERT INTO pgstac_settings (name, value) VALUES ('context', 'on') "
                "ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value RETURNING name"
            )

    def load(self, collections: Iterable[dict[str, Any]], items: Iterable[dict[str, Any]]) -> None:
        from pypgstac.db import PgstacDB
        from pypgstac.load import Loader, Methods

        with contextlib.closing(PgstacDB(dsn=self.dsn)) as db:
            loader = Loader(db)
            loader.load_collections(iter(list(collections)), insert_mode=Methods.upsert)
            loader.load_items(iter(list(items)), insert_mode=Methods.upsert)

    def serve(self) -> str:
        env = {
            **os.environ,
            "PGUSER": "postgres",
            "PGPASSWORD": "unused",
            "PGHOST": "127.0.0.1",
            "PGPORT": str(self.pg_port),
            "PGDATABASE": "postgres",
        }
        # The child keeps its own copy of the descriptor: ours is closed once it has started.
        with open(self.root / "api.log", "wb") as log:
            self.api = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "stac_fastapi.pgstac.app:create_app",
                    "--factory",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.api_port),
                    "--log-level",
                    "warning",
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.api.poll() is not None:
                raise RuntimeError(
                    f"stac-fastapi-pgstac exited: {(self.root / 'api.log').read_text()[-800:]}"
                )
            try:
                if requests.get(f"{self.url}/", timeout=2).ok:
                    return self.url
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError("stac-fastapi-pgstac did not answer within 60 s")

    def stop(self) -> None:
        if self.api is not None:
            self.api.terminate()
            try:
                self.api.wait(10)
            except subprocess.TimeoutExpired:
                self.api.kill()
                self.api.wait(5)
            self.api = None
        if self.pg_started:
            with contextlib.suppress(Unavailable, subprocess.TimeoutExpired):
                self._pg(
                    "pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", timeout=30
                )
            self.pg_started = False
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def running() -> Iterator[PgstacServer]:
    server = PgstacServer()
    try:
        yield server.start()
    finally:
        server.stop()
