"""The tape library: offline products come online some time after someone asks for them.

Latencies are nominal seconds (what a user would wait on the real archive) multiplied by the
sandbox's ``time_scale``, so tests and benchmarks run the real state machine in seconds. Each
product's latency is a deterministic draw from ``(seed, product)``: every client measured against
a fresh sandbox with the same seed faces the same robot, whatever order it asks in.
"""

from __future__ import annotations

import dataclasses
import heapq
import math
import random
import threading
import time
from collections import Counter, deque
from collections.abc import Callable

from ..product import TYPICAL_RESTORE_SECONDS

__all__ = [
    "DISTRIBUTIONS",
    "LatencyDraw",
    "OFFLINE_MODES",
    "ONLINE_MODES",
    "TapeLibrary",
    "draw_latency",
]

ONLINE_MODES = ("disk", "tier2")
OFFLINE_MODES = ("tape", "tier3")

#: Names accepted for ``distribution``; parameters come from ``latency = (low, high)``.
DISTRIBUTIONS = ("uniform", "exponential", "lognormal", "fixed")

LatencyDraw = Callable[[random.Random], float]


def draw_latency(
    rng: random.Random, distribution: str | LatencyDraw, low: float, high: float
) -> float:
    """One nominal latency in seconds.

    ``uniform``: in [low, high]; ``exponential``: low + an exponential tail of mean high - low;
    ``lognormal``: median sqrt(low * high), about 95 % of draws in [low, high] (long tail, like
    a busy robot); ``fixed``: always ``low``; or any callable taking the random generator.
    """
    if callable(distribution):
        return max(0.0, float(distribution(rng)))
    if distribution == "uniform":
        return rng.uniform(low, high)
    if distribution == "exponential":
        return low + rng.expovariate(1.0 / max(high - low, 1e-9))
    if distribution == "lognormal":
        lo, hi = max(low, 1e-9), max(high, low, 1e-9)
        mu = (math.log(lo) + math.log(hi)) / 2
        sigma = max((math.log(hi) - math.log(lo)) / 3.92, 1e-9)
        return rng.lognormvariate(mu, sigma)
    if distribution == "fixed":
        return low
    raise ValueError(_unknown(distribution))


def _unknown(distribution: object) -> str:
    return f"unknown latency distribution {distribution!r}; known: {', '.join(DISTRIBUTIONS)}"


@dataclasses.dataclass
class _Restore:
    ready_at: float | None  # None: waiting for a free drive
    latency: float


class TapeLibrary:
    """Per-product storage modes that change with (scaled) time.

    ``unknown`` products are restored like taped ones. ``unknown_restores=False`` is a fault:
    they never come online, as some did on the real archive (clients must give up on them
    instead of looping). Products in ``never_finish`` go ``staging`` when asked and stay there
    forever (the stuck robot users reported).
    """

    def __init__(
        self,
        initial: Callable[[str], str],
        *,
        latency: tuple[float, float] = TYPICAL_RESTORE_SECONDS,
        time_scale: float = 1.0,
        max_concurrent: int | None = None,
        seed: int = 0,
        unknown_restores: bool = True,
        never_finish: frozenset[str] = frozenset(),
        clock: Callable[[], float] = time.monotonic,
        distribution: str | LatencyDraw = "uniform",
    ) -> None:
        if not callable(distribution) and distribution not in DISTRIBUTIONS:
            raise ValueError(_unknown(distribution))
        self._initial = initial
        self.latency = latency
        self.time_scale = time_scale
        self.max_concurrent = max_concurrent
        self.unknown_restores = unknown_restores
        self.never_finish = set(never_finish)
        self.distribution = distribution
        self.seed = seed
        self._clock = clock
        self._modes: dict[str, str] = {}
        self._restores: dict[str, _Restore] = {}
        self._queue: deque[str] = deque()  # FIFO of restores waiting for a drive
        #: (ready time, product) of started restores, and how many are started.
        self._due: list[tuple[float, str]] = []
        self._started = 0
        self._lock = threading.Lock()
        self.restore_requests = 0
        #: Restore requests per product (every ask, including redundant ones).
        self.asked: Counter[str] = Counter()
        #: When each product's restore started and came online (clock values).
        self.started_at: dict[str, float] = {}
        self.online_at: dict[str, float] = {}

    def latency_for(self, key: str) -> float:
        """The scaled restore latency of ``key`` (deterministic: benchmarks compute bounds)."""
        rng = random.Random(f"{self.seed}|{key}")
        low, high = self.latency
        return draw_latency(rng, self.distribution, low, high) * self.time_scale

    def _advance(self) -> None:
        """Finish due restores and start queued ones. Due restores come off a heap: this runs
        on every status look-up, with hundreds of restores under way."""
        now = self._clock()
        while self._due and self._due[0][0] <= now:
            ready_at, key = heapq.heappop(self._due)
            restore = self._restores.get(key)
            if restore is None or restore.ready_at != ready_at:
                continue  # forced to another state meanwhile (set_mode)
            self._modes[key] = "disk"
            self.online_at[key] = ready_at
            del self._restores[key]
            self._started -= 1
        while self._queue and (self.max_concurrent is None or self._started < self.max_concurrent):
            key = self._queue.popleft()
            restore = self._restores[key]
            restore.ready_at = now + restore.latency
            self._started += 1
            heapq.heappush(self._due, (restore.ready_at, key))

    def mode(self, key: str) -> str:
        with self._lock:
            self._advance()
            if key in self._modes:
                return self._modes[key]
            mode = self._initial(key)
            if mode == "staging":  # somebody else asked before us
                self._modes[key] = "staging"
                self._start(key)
            return self._modes.get(key, mode)

    def is_online(self, key: str) -> bool:
        return self.mode(key) in ONLINE_MODES

    def _start(self, key: str) -> None:
        if key in self._restores or key in self.never_finish:
            return
        self.started_at.setdefault(key, self._clock())
        self._restores[key] = _Restore(None, self.latency_for(key))
        self._queue.append(key)
        self._advance()

    def request_restore(self, key: str) -> str:
        """Ask for a restore; returns the mode after asking (idempotent)."""
        mode = self.mode(key)
        with self._lock:
            self.restore_requests += 1
            self.asked[key] += 1
            if mode in ONLINE_MODES or mode == "staging":
                return mode
            if mode == "unknown" and not self.unknown_restores:
                return mode
            self._modes[key] = "staging"
            self._start(key)
            return "staging"

    def set_mode(self, key: str, mode: str) -> None:
        """Force a state (tests: take a product offline again, or make it vanish)."""
        with self._lock:
            self._modes[key] = mode
            restore = self._restores.pop(key, None)
            if restore is not None and restore.ready_at is not None:
                self._started -= 1
            if key in self._queue:
                self._queue.remove(key)
