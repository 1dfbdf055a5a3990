"""Imported first by every benchmark: EODAG must not reach the network or read the user's
config, so runs are repeatable on any machine."""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from eodag_peps_plus.sandbox import Sandbox

T = TypeVar("T")

os.environ.setdefault("EODAG_CFG_DIR", tempfile.mkdtemp(prefix="bench-eodag-"))
_EXT = Path(os.environ["EODAG_CFG_DIR"]) / "ext_collections.json"
if not _EXT.exists():
    _EXT.write_text("{}")
os.environ.setdefault("EODAG_EXT_COLLECTIONS_CFG_URI", str(_EXT))


def timed(func: Callable[[], T]) -> tuple[float, T]:
    """(seconds, result) of one call."""
    start = time.perf_counter()
    result = func()
    return time.perf_counter() - start, result


@contextlib.contextmanager
def sandbox_process(make: Callable[[], Sandbox]) -> Iterator[str]:
    """Serve ``make()``'s sandbox from a child process and yield its URL.

    A real server runs elsewhere: in the same process its threads would compete with the
    client under test for the GIL and blur the figures."""
    from eodag_peps_plus.sandbox.process import SandboxProcess

    with SandboxProcess(make) as served:
        yield served.url
