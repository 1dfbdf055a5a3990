"""The cancel-flag mirror shared by the process and dask engines."""

from __future__ import annotations

import threading
import time

from eodag_peps_plus.staging.flags import FlagMirror
from tests.staging.helpers import wait_for


class _Engine:
    """Just what an engine gives the mirror: a lock it holds while adding, and work."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = 0
        self.fired: list[str] = []
        self.mirror: FlagMirror[str] = FlagMirror(
            self.fired.append, self.busy, name="t", every=0.01
        )

    def busy(self) -> bool:
        with self.lock:
            return self.running > 0

    def submit(self, key: str, flag: threading.Event) -> None:
        with self.lock:  # the engine's lock held while adding: no deadlock with busy()
            self.running += 1
            self.mirror.add(key, flag)


def test_each_set_flag_is_passed_on_once_while_busy() -> None:
    engine = _Engine()
    a, b = threading.Event(), threading.Event()
    engine.submit("a", a)
    engine.submit("a", a)
    engine.submit("b", b)
    a.set()
    wait_for(lambda: engine.fired == ["a"], 5, "a passed on")
    time.sleep(0.1)
    assert engine.fired == ["a"]
    b.set()
    wait_for(lambda: engine.fired == ["a", "b"], 5, "b passed on")


def test_the_watcher_stops_when_idle_and_comes_back() -> None:
    engine = _Engine()
    flag = threading.Event()
    engine.submit("a", flag)
    with engine.lock:
        engine.running = 0
    wait_for(lambda: engine.mirror._watcher is None, 5, "the watcher to stop")
    flag.set()  # set while nothing runs: passed on when the next transfer is submitted
    time.sleep(0.05)
    assert engine.fired == []
    engine.submit("b", threading.Event())
    wait_for(lambda: engine.fired == ["a"], 5, "a passed on")


def test_close_passes_on_set_flags_or_all() -> None:
    engine = _Engine()
    done, running = threading.Event(), threading.Event()
    engine.submit("idle", running)
    engine.submit("cancelled", done)
    done.set()
    engine.mirror.close()
    assert "cancelled" in engine.fired and "idle" not in engine.fired
    other = _Engine()
    other.submit("x", threading.Event())
    other.mirror.close(fire_all=True)
    assert other.fired == ["x"]
