"""Progress for people: one bar for the batch, one bytes bar per active transfer (tqdm).

Quiet mode disables the bars, and so does an output that is not a terminal (a file or a pipe
would get escape codes and one line per refresh); state changes are logged at INFO either way
(``peps-plus -v``), so a log file tells the same story as the terminal.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Mapping
from typing import Any

from tqdm.auto import tqdm

__all__ = ["Progress", "REFRESH_EVERY"]

#: Seconds between two redraws of the batch bar's counts (state changes come by thousands).
REFRESH_EVERY = 0.1


class Progress:
    def __init__(self, total: int, *, quiet: bool = False, bytes_bar: Any = None) -> None:
        self.quiet = quiet
        self._lock = threading.Lock()
        self._bars: dict[str, Any] = {}
        #: An external bytes bar (EODAG's ProgressCallback for a single product).
        self._external = bytes_bar
        self._next_refresh = 0.0
        self.batch: Any = tqdm(
            total=total, unit="product", desc="products", disable=_disable(quiet or total <= 1)
        )

    def counts(self, counts: Mapping[str, int], *, force: bool = False) -> None:
        """Batch bar postfix: done / downloading / restoring / waiting (/ failed). Called at
        every state change: redrawn at most every :data:`REFRESH_EVERY` seconds (``force``:
        now), and not even formatted when the bar is hidden."""
        if self.batch.disable:
            return
        now = time.monotonic()
        if not force and now < self._next_refresh:
            return
        self._next_refresh = now + REFRESH_EVERY
        waiting = counts.get("offline", 0) + counts.get("online", 0)
        failed = sum(counts.get(s, 0) for s in ("failed", "unavailable", "refused"))
        self.batch.set_postfix_str(
            f"done {counts.get('done', 0)}, downloading {counts.get('downloading', 0)}, "
            f"restoring {counts.get('restoring', 0)}, waiting {waiting}"
            + (f", failed {failed}" if failed else ""),
            refresh=True,
        )

    def note(self, text: str) -> None:
        """A message for the person watching the bars (printed above them); nothing in
        quiet mode, where the same text goes to the log only."""
        if not self.quiet:
            tqdm.write(text, file=sys.stderr)

    def finished(self, n: int = 1, *, ok: bool = True) -> None:
        """``ok=False``: the product ended without being downloaded; the bar does not move, so
        it never shows 100 % for a batch with failures."""
        if ok:
            self.batch.update(n)

    def transfer(self, product_id: str, amount: int, total: int | None, initial: int) -> None:
        """Called from transfer threads: first with ``amount == 0`` to open the bar."""
        with self._lock:
            bar = self._bars.get(product_id)
            if amount == 0:
                if bar is not None:
                    bar.close()
                if self._external is not None:
                    self._external.reset(total=total)
                    if initial:
                        self._external(initial)
                    self._bars[product_id] = self._external
                    return
                self._bars[product_id] = tqdm(
                    total=total,
                    initial=initial,
                    unit="B",
                    unit_scale=True,
                    unit_divisor=1024,
                    desc=product_id[:40],
                    leave=False,
                    disable=_disable(self.quiet),
                )
                return
        if bar is not None:
            bar.update(amount)

    def end_transfer(self, product_id: str) -> None:
        with self._lock:
            bar = self._bars.pop(product_id, None)
        if bar is not None and bar is not self._external:
            bar.close()

    def close(self) -> None:
        with self._lock:
            bars = [b for b in self._bars.values() if b is not self._external]
            self._bars.clear()
        for bar in bars:
            bar.close()
        self.batch.close()


def _disable(quiet: bool) -> bool | None:
    """tqdm's ``disable``: ``None`` lets tqdm hide the bar when its output is not a terminal."""
    return True if quiet else None
