"""A batch's cancel flag, copied to transfers that run elsewhere (processes, a dask cluster).

The scheduler cancels a batch by setting a ``threading.Event`` that only its own process can
see. Each remote engine has its own way to pass the news on (a pipe message, a dask
``Event``); what they share is when to do it, and that lives here: a thread looks at the
flags while transfers run, and passes each one on once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["FlagMirror", "WATCH_EVERY"]

K = TypeVar("K", bound=Hashable)

#: Seconds between two looks at the flags.
WATCH_EVERY = 0.2


class FlagMirror(Generic[K]):
    """Calls ``fire(key)`` once for each flag added under ``key`` that gets set, within
    ``every`` seconds, while ``busy()`` says transfers are running (or flags were just set).

    ``busy`` is called without this object's lock held, so an engine may hold its own lock
    while it calls :meth:`add`.
    """

    def __init__(
        self,
        fire: Callable[[K], object],
        busy: Callable[[], bool],
        *,
        name: str,
        every: float = WATCH_EVERY,
    ) -> None:
        self._fire = fire
        self._busy = busy
        self._name = name
        self._every = every
        self._lock = threading.Lock()
        self._flags: dict[K, threading.Event] = {}
        self._added = 0  # bumped by every add: the watcher stops only if nothing came since
        self._watcher: threading.Thread | None = None
        self._closed = False

    def add(self, key: K, flag: threading.Event) -> None:
        """Follow ``flag`` under ``key`` (a key already followed keeps its first flag)."""
        with self._lock:
            self._flags.setdefault(key, flag)
            self._added += 1
            if self._watcher is None and not self._closed:
                self._watcher = threading.Thread(target=self._watch, name=self._name, daemon=True)
                self._watcher.start()

    def close(self, *, fire_all: bool = False) -> None:
        """Stop watching; with ``fire_all``, pass on every flag still followed, set or not
        (the engine is going away: its transfers must stop)."""
        with self._lock:
            self._closed = True
        for key in self._take(lambda flag: fire_all or flag.is_set()):
            self._fire(key)

    def _take(self, which: Callable[[threading.Event], bool]) -> list[K]:
        with self._lock:
            keys = [key for key, flag in self._flags.items() if which(flag)]
            for key in keys:
                del self._flags[key]
        return keys

    def _watch(self) -> None:
        while True:
            with self._lock:
                added = self._added
                closed = self._closed
            if closed:
                break
            fired = self._take(lambda flag: flag.is_set())
            for key in fired:
                self._fire(key)
            if not fired and not self._busy():
                with self._lock:
                    if self._added == added or self._closed:
                        self._watcher = None
                        return
                continue
            time.sleep(self._every)
        with self._lock:
            self._watcher = None
