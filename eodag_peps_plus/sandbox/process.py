"""Serve a sandbox from a child process, as a real server runs elsewhere.

In the process under test, the sandbox's threads would compete with the client for the GIL
and blur any figure measured on the client; benchmarks and scale tests serve it from a child
and read its request counters over a pipe.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .server import Sandbox, SandboxConfig

__all__ = [
    "REPLY_TIMEOUT",
    "START_TIMEOUT",
    "SandboxProcess",
    "SandboxProcessError",
    "staging_sandbox",
]

#: Seconds to wait for the child to build its catalogue and listen (100,000 products take
#: about 10 s to generate on an idle core).
START_TIMEOUT = 300.0
#: Seconds to wait for the child to answer a command or to stop.
REPLY_TIMEOUT = 30.0


class SandboxProcessError(RuntimeError):
    """The child did not start, answer or stop in time, or its sandbox failed to build."""


def staging_sandbox(
    count: int, *, config: SandboxConfig | None = None, **catalogue: Any
) -> Sandbox:
    """A PEPS-only sandbox over :func:`~.scenarios.staging_catalogue` (``count`` products,
    ``catalogue`` passed on): a picklable factory with ``functools.partial`` for ``spawn``."""
    from .scenarios import staging_catalogue
    from .server import Sandbox

    return Sandbox(staging_catalogue(count, **catalogue), config, services=("peps",))


def _serve(make: Callable[[], Sandbox], conn: Connection) -> None:
    """The child: build, listen, then answer commands until ``stop`` or the parent goes."""
    try:
        sandbox = make().start()
    except Exception as exc:  # reported to the parent as one line, not a child traceback
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", sandbox.url))
    try:
        while True:
            try:
                command = conn.recv()
            except (EOFError, OSError):  # the parent is gone
                return
            if command == "stats":
                conn.send(dict(sandbox.stats))
            elif command == "peaks":
                conn.send(dict(sandbox.peaks))
            elif command == "clear":
                with sandbox.httpd.stats_lock:
                    sandbox.httpd.stats.clear()
                conn.send(True)
            else:  # "stop"
                conn.send(True)
                return
    finally:
        sandbox.stop()


class SandboxProcess:
    """``with SandboxProcess(lambda: Sandbox(...)) as sp: ... sp.url, sp.stats()``.

    Args:
        make: Builds the sandbox in the child. With ``fork`` (the default on Linux) any
            callable works and the child inherits what the parent built (a large catalogue
            is generated once); with ``spawn`` it must be picklable (``functools.partial`` of
            :func:`staging_sandbox`).
        start_method: A :mod:`multiprocessing` start method.
        start_timeout: Seconds the child may take to build and listen.

    Raises:
        SandboxProcessError: from :meth:`start`, :meth:`stats` or :meth:`clear_stats` when the
            child fails or does not answer in time.
    """

    def __init__(
        self,
        make: Callable[[], Sandbox],
        *,
        start_method: str = "fork",
        start_timeout: float = START_TIMEOUT,
    ) -> None:
        self._make = make
        self._context: Any = multiprocessing.get_context(start_method)  # typeshed: no .Process
        self._start_timeout = start_timeout
        self._conn: Connection | None = None
        self._process: Any = None
        self._lock = threading.Lock()
        self.url = ""

    def start(self) -> SandboxProcess:
        parent, child = self._context.Pipe()
        self._process = self._context.Process(
            target=_serve, args=(self._make, child), name="sandbox", daemon=True
        )
        self._process.start()
        child.close()
        self._conn = parent
        if not parent.poll(self._start_timeout):
            self.stop()
            raise SandboxProcessError(f"the sandbox did not start in {self._start_timeout:g} s")
        try:
            kind, value = parent.recv()
        except (EOFError, OSError):
            kind, value = "error", "the sandbox process exited while starting"
        if kind != "ready":
            self.stop()
            raise SandboxProcessError(f"the sandbox did not start: {value}")
        self.url = str(value)
        return self

    def _ask(self, command: str) -> Any:
        with self._lock:
            if self._conn is None:
                raise SandboxProcessError("the sandbox process is not running")
            try:
                self._conn.send(command)
                if not self._conn.poll(REPLY_TIMEOUT):
                    raise SandboxProcessError(f"the sandbox did not answer {command!r} in time")
                return self._conn.recv()
            except (EOFError, OSError) as exc:
                raise SandboxProcessError(f"the sandbox process is gone ({exc})") from None

    def stats(self) -> dict[str, int]:
        """The child's counters (``requests``, ``peps.search``, ``peps.download``, ...)."""
        return dict(self._ask("stats"))

    def peaks(self) -> dict[str, int]:
        """Most replies ever sent at once, per gauge (``archive``, ``restore``)."""
        return dict(self._ask("peaks"))

    def clear_stats(self) -> None:
        """Zero the counters (between the clients measured against one sandbox)."""
        self._ask("clear")

    @property
    def pid(self) -> int | None:
        return None if self._process is None else int(self._process.pid)

    def stop(self) -> None:
        """Ask the child to stop; terminate, then kill, a child that does not (bounded)."""
        process, conn = self._process, self._conn
        self._process = self._conn = None
        if conn is not None:
            try:
                conn.send("stop")
                if conn.poll(REPLY_TIMEOUT):
                    conn.recv()
            except (EOFError, OSError):
                pass
            conn.close()
        if process is None:
            return
        process.join(REPLY_TIMEOUT)
        if process.is_alive():
            process.terminate()
            process.join(REPLY_TIMEOUT)
        if process.is_alive():
            process.kill()
            process.join(REPLY_TIMEOUT)

    def __enter__(self) -> SandboxProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
