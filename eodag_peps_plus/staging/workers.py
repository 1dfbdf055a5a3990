"""Transfers in worker processes on this machine, so that a big batch uses more than one core.

With small archives a batch is bound by the client's CPU, and a Python process runs Python on
one core at a time (the GIL): the scheduler, the restore requests and every transfer take
turns, and the more threads, the more time goes into handing the lock over.
:class:`ProcessTransfers` runs the transfers in a few child processes, each with its own
threads, while the scheduler and its ledger stay in this one (the single writer, as with
:mod:`.cluster`).

The children are plain ``python -c`` processes running :func:`_child_main`, talking over
their standard input and output (length-prefixed pickles), not ``multiprocessing`` ones: no
start method to choose, and a user's script is never imported again in a child. The archive
goes to each child once (its credentials still bound to their origins); a job travels
without it. A child ignores Ctrl-C (the scheduler decides what stops), stops its transfers
at the next chunk when the batch is cancelled or when its pipe closes (the scheduler was
killed: the parts stay for the next run), and a child that dies fails the jobs it held with
:class:`TransferProcessLost` (the scheduler retries them, resuming their parts) while the
next job starts a new child.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import itertools
import logging
import os
import pickle
import signal
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from ..backends.base import Archive
from ..logs import ROOT, get_logger
from .flags import FlagMirror
from .transfer import TransferJob, TransferResult, run_transfer

logger = get_logger(__name__)

__all__ = ["PROCESSES_FROM", "ProcessTransfers", "TransferProcessLost", "default_processes"]

#: Seconds a child has to start and import what it needs.
START_TIMEOUT = 60.0
#: Seconds between two forwards of a running transfer's progress.
PROGRESS_EVERY = 0.5
#: Batches from this many products run their transfers in processes by default (each child
#: costs about 35 MB, most of it ``requests``: at this size, 14 kB per product for two).
PROCESSES_FROM = 5_000
#: The most processes chosen by default (``max_transfers`` threads are shared among them).
MAX_DEFAULT_PROCESSES = 4
#: The largest message either side accepts (a job is a few kB, an archive a few tens).
MAX_MESSAGE = 64 * 1024 * 1024

_HEADER = struct.Struct(">Q")


class TransferProcessLost(RuntimeError):
    """The child process running a transfer ended before it reported."""


def default_processes(batch: int, max_transfers: int) -> int:
    """How many transfer processes a batch of ``batch`` products gets when the user did not
    say: none under :data:`PROCESSES_FROM` products (the threads of this process keep up with
    a small batch, and a child costs memory and half a second to start), on one core, or in a
    frozen application (whose executable is not a Python to start a child with)."""
    cores = os.cpu_count() or 1
    if batch < PROCESSES_FROM or cores < 2 or max_transfers < 2:
        return 0
    if getattr(sys, "frozen", False) or not sys.executable:
        return 0
    return min(cores, max_transfers, MAX_DEFAULT_PROCESSES)


def _send(stream: IO[bytes], lock: threading.Lock, message: tuple[Any, ...]) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    with lock:
        stream.write(_HEADER.pack(len(data)) + data)
        stream.flush()


def _receive(stream: IO[bytes]) -> tuple[Any, ...] | None:
    """The next message; ``None`` at the end of the stream.

    Raises:
        ValueError: a message too large or cut short (the other side is not one of ours).
    """
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    (size,) = _HEADER.unpack(header)
    if size > MAX_MESSAGE:
        raise ValueError(f"message of {size} bytes")
    data = stream.read(size)
    if len(data) < size:
        return None
    message = pickle.loads(data)  # noqa: S301 - our own child, over its own pipe
    if not isinstance(message, tuple) or not message:
        raise ValueError("not a message")
    return message


#: The child's program: the pipes are set aside for the protocol before anything is imported,
#: so that whatever a library prints goes to stderr, never into a message.
_CHILD_ENTRY = (
    "import os; i, o = os.dup(0), os.dup(1); os.dup2(2, 1); "
    "from eodag_peps_plus.staging.workers import _child_main; "
    "_child_main({threads}, i, o, {level})"
)


class _Call:
    __slots__ = ("future", "progress", "flag")

    def __init__(
        self,
        future: cf.Future[TransferResult],
        progress: Callable[[str, int, int | None, int], None] | None,
        flag: threading.Event | None,
    ) -> None:
        self.future = future
        self.progress = progress
        self.flag = flag


class _Child:
    """One worker process, seen from the scheduler's side."""

    def __init__(self, threads: int) -> None:
        package_root = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
        try:
            # The child logs what this process would (``-v`` shows its transfers' debug lines).
            level = logging.getLogger(ROOT).getEffectiveLevel()
            program = _CHILD_ENTRY.format(threads=int(threads), level=int(level))
            self.process = subprocess.Popen(
                [sys.executable, "-c", program],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=env,
            )
        except OSError as exc:
            raise TransferProcessLost(f"a transfer process did not start ({exc})") from None
        assert self.process.stdin is not None and self.process.stdout is not None
        self.stdin: IO[bytes] = self.process.stdin
        self.stdout: IO[bytes] = self.process.stdout
        self.lock = threading.Lock()
        self.calls: dict[int, _Call] = {}
        self.archives: set[int] = set()
        self.flags: set[int] = set()
        self.alive = True
        self.ready = threading.Event()

    def send(self, message: tuple[Any, ...]) -> bool:
        """``False`` if the child is gone (its reader fails what it held)."""
        try:
            _send(self.stdin, self.lock, message)
            return True
        except (OSError, ValueError):
            return False

    def close(self, timeout: float) -> None:
        """End the child (``stdin`` closed is its signal to stop) and close its pipes: an
        unreaped child or an open pipe warns when collected."""
        with contextlib.suppress(OSError):
            self.stdin.close()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        with contextlib.suppress(OSError):
            self.stdout.close()


class ProcessTransfers(cf.Executor):
    """A ``concurrent.futures`` executor running transfers in child processes of this machine.

    Use it as a context manager, or let :class:`~.scheduler.Downloader` start one
    (``transfer_processes``)::

        with ProcessTransfers(2, threads_per_process=4) as engine:
            Downloader(archive, "out", max_transfers=8).download(products, executor=engine)

    Args:
        processes: child processes (each started at its first job).
        threads_per_process: transfers one child runs at once.

    Raises:
        ValueError: fewer than one process or thread.
    """

    def __init__(self, processes: int, *, threads_per_process: int = 4) -> None:
        if processes < 1 or threads_per_process < 1:
            raise ValueError("processes and threads_per_process must be at least 1")
        self.processes = processes
        self.threads = threads_per_process
        self._children: list[_Child] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._archives: dict[int, Archive] = {}  # kept alive: their id() is their key
        self._mirror: FlagMirror[int] = FlagMirror(
            self._tell_children, self._busy, name="transfers-cancel"
        )
        self._closed = False

    def __repr__(self) -> str:
        return f"ProcessTransfers({self.processes}, threads_per_process={self.threads})"

    def __enter__(self) -> ProcessTransfers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown(wait=True)

    # -- start ----------------------------------------------------------------------------------
    def start(self, timeout: float = START_TIMEOUT) -> None:
        """Start every child now and wait until each can take jobs.

        Raises:
            TransferProcessLost: a child could not start (its error is on stderr).
        """
        with self._lock:
            while len(self._children) < self.processes:
                self._start_child()
            children = list(self._children)
        deadline = time.monotonic() + timeout
        for child in children:
            if not child.ready.wait(max(0.0, deadline - time.monotonic())) or not child.alive:
                raise TransferProcessLost(
                    f"a transfer process did not start (exit code {child.process.poll()})"
                )

    def _start_child(self) -> _Child:
        child = _Child(self.threads)
        self._children.append(child)
        threading.Thread(
            target=self._read, args=(child,), name=f"transfers-{child.process.pid}", daemon=True
        ).start()
        return child

    # -- Executor -------------------------------------------------------------------------------
    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future[Any]:
        """Run ``run_transfer(job)`` in a child (the only call the scheduler makes).

        Raises:
            TypeError: another function or other arguments.
            RuntimeError: after :meth:`shutdown`.
        """
        if self._closed:
            raise RuntimeError("cannot submit transfers after shutdown")
        if fn is not run_transfer or kwargs or len(args) != 1:
            raise TypeError("ProcessTransfers runs run_transfer(job) only")
        job = args[0]
        if not isinstance(job, TransferJob):
            raise TypeError(f"not a TransferJob: {job!r}")
        future: cf.Future[TransferResult] = cf.Future()
        future.set_running_or_notify_cancel()
        flag = job.cancel if isinstance(job.cancel, threading.Event) else None
        state = job.__getstate__()  # without its progress callback and threading.Event
        state["archive"] = id(job.archive)
        state["cancel"] = id(flag) if flag is not None else None
        with self._lock:
            if self._closed:
                raise RuntimeError("cannot submit transfers after shutdown")
            try:
                child = self._pick()
            except TransferProcessLost as exc:  # the scheduler retries, then gives up
                future.set_exception(exc)
                return future
            call_id = next(self._ids)
            child.calls[call_id] = _Call(future, job.progress, flag)
            if flag is not None:  # after the call is counted: the mirror sees us busy
                self._mirror.add(id(flag), flag)
            new_archive = id(job.archive) not in child.archives
            if new_archive:
                child.archives.add(id(job.archive))
                self._archives[id(job.archive)] = job.archive
        sent = True
        if new_archive:
            sent = child.send(("archive", id(job.archive), job.archive))
        if sent and flag is not None and flag.is_set():
            sent = child.send(("cancel", id(flag)))
        if sent:
            sent = child.send(("call", call_id, state, job.progress is not None))
        if not sent:
            self._fail(child, call_id)
        return future

    def _pick(self) -> _Child:
        """The live child with the fewest jobs, a new one while fewer than ``processes``."""
        self._children = [c for c in self._children if c.alive]
        if len(self._children) < self.processes:
            return self._start_child()
        return min(self._children, key=lambda c: len(c.calls))

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Let the children finish what they run (stopped at the next chunk if the batch was
        cancelled), then end them."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            children = list(self._children)
        self._mirror.close()
        for child in children:
            child.send(("stop",))
        for child in children:
            child.close(60.0 if wait else 5.0)

    # -- replies --------------------------------------------------------------------------------
    def _read(self, child: _Child) -> None:
        """Resolve the futures of ``child`` as its replies come; fail the rest at its end."""
        try:
            while True:
                message = _receive(child.stdout)
                if message is None:
                    break
                kind = message[0]
                if kind == "ready":
                    child.ready.set()
                elif kind == "progress":
                    found = child.calls.get(message[1])
                    if found is not None:
                        self._progress(found, message[2])
                elif kind == "done":
                    _, call_id, result, pending = message
                    with self._lock:
                        call = child.calls.pop(call_id, None)
                    if call is None:
                        continue
                    if pending:
                        self._progress(call, pending)
                    if isinstance(result, BaseException):
                        call.future.set_exception(result)
                    else:
                        call.future.set_result(result)
        except (OSError, ValueError, pickle.UnpicklingError, EOFError) as exc:
            logger.debug("transfer process %s: %s", child.process.pid, exc)
        finally:
            child.close(5.0)  # its output ended: reap it (a dead child is never picked again)
            code = child.process.poll()
            with self._lock:
                child.alive = False
                lost = list(child.calls)
            child.ready.set()
            for call_id in lost:
                self._fail(child, call_id, code)

    @staticmethod
    def _progress(call: _Call, args: tuple[Any, ...]) -> None:
        """A progress bar that fails must not stop the replies (nor the batch)."""
        if call.progress is None:
            return
        try:
            call.progress(*args)
        except Exception as exc:
            logger.debug("progress callback failed: %s", exc)

    def _fail(self, child: _Child, call_id: int, code: int | None = None) -> None:
        with self._lock:
            call = child.calls.pop(call_id, None)
        if call is not None and not call.future.done():
            ended = f"exit code {code}" if code is not None else "its pipe closed"
            call.future.set_exception(
                TransferProcessLost(f"transfer process {child.process.pid} ended ({ended})")
            )

    # -- cancellation ---------------------------------------------------------------------------
    def _busy(self) -> bool:
        with self._lock:
            return any(c.calls for c in self._children)

    def _tell_children(self, key: int) -> None:
        """Every child stops the transfers of the batch whose flag is ``key``."""
        with self._lock:
            children = list(self._children)
        for child in children:
            child.send(("cancel", key))


# -- the child side ---------------------------------------------------------------------------------
class _Forward:
    """A transfer's progress callback in a child: the opening call and the bytes since the
    last forward go to the scheduler at most every :data:`PROGRESS_EVERY` seconds (a small
    archive that is done sooner sends none)."""

    def __init__(self, call_id: int, send: Callable[[tuple[Any, ...]], None]) -> None:
        self.call_id = call_id
        self.send = send
        self.opening: tuple[Any, ...] | None = None
        self.started = False
        self.bytes = 0
        self.next_at = time.monotonic() + PROGRESS_EVERY

    def __call__(self, product_id: str, amount: int, total: int | None, initial: int) -> None:
        if amount == 0:
            self.opening = (product_id, 0, total, initial)
            return
        self.bytes += amount
        now = time.monotonic()
        if now >= self.next_at and self.opening is not None:
            self.next_at = now + PROGRESS_EVERY
            if not self.started:
                self.started = True
                self.send(("progress", self.call_id, self.opening))
            self.send(("progress", self.call_id, (self.opening[0], self.bytes, *self.opening[2:])))
            self.bytes = 0

    def pending(self) -> tuple[Any, ...] | None:
        """What the scheduler has not been told yet, if it was told of this transfer."""
        if not self.started or self.opening is None or not self.bytes:
            return None
        return (self.opening[0], self.bytes, *self.opening[2:])


def _child_main(threads: int, fd_in: int, fd_out: int, level: int = logging.WARNING) -> None:
    """A child's life: take jobs from ``fd_in``, run them on ``threads`` threads, answer on
    ``fd_out`` (the pipes the parent gave as stdin and stdout; stdout is now stderr), log
    at ``level`` to stderr."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the scheduler's to handle
    logging.basicConfig(
        level=logging.WARNING, format="%(levelname)s %(name)s (transfer process): %(message)s"
    )
    logging.getLogger(ROOT).setLevel(level)
    inbox = os.fdopen(fd_in, "rb")
    outbox = os.fdopen(fd_out, "wb")
    lock = threading.Lock()

    def send(message: tuple[Any, ...]) -> None:
        try:
            _send(outbox, lock, message)
        except (OSError, ValueError):  # the scheduler is gone: its transfers stop below
            for event in flags.values():
                event.set()

    archives: dict[int, Archive] = {}
    flags: dict[int, threading.Event] = {}
    pool = cf.ThreadPoolExecutor(threads, thread_name_prefix="transfer")

    def run(call_id: int, state: dict[str, Any], wants_progress: bool) -> None:
        forward = _Forward(call_id, send) if wants_progress else None
        try:
            job = TransferJob.__new__(TransferJob)
            job.__dict__.update(state)
            job.archive = archives[state["archive"]]
            key = state["cancel"]
            job.cancel = flags.setdefault(key, threading.Event()) if key is not None else None
            job.progress = forward
            result: Any = run_transfer(job)
        except BaseException as exc:  # run_transfer reports; this is a bug: say it
            result = RuntimeError(f"{type(exc).__name__}: {exc}")
        send(("done", call_id, result, forward.pending() if forward else None))

    send(("ready",))
    while True:
        try:
            message = _receive(inbox)
        except (OSError, ValueError, pickle.UnpicklingError, EOFError):
            message = None
        if message is None or message[0] == "stop":
            if message is None:  # the scheduler died or closed us: stop at the next chunk
                for event in flags.values():
                    event.set()
            break
        kind = message[0]
        if kind == "archive":
            archives[message[1]] = message[2]
        elif kind == "cancel":
            flags.setdefault(message[1], threading.Event()).set()
        elif kind == "call":
            pool.submit(run, *message[1:])
    pool.shutdown(wait=True)
