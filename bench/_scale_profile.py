"""Profiling harness for the batch downloader at scale (figures to quote: ``bench/scale.py``).

A sandbox with ``N`` tiny products (half on tape, restores of 0.1-0.3 s) runs in a child
process (:class:`~eodag_peps_plus.sandbox.process.SandboxProcess`) so its CPU time does not
show in the client's profile; the client runs our :class:`~eodag_peps_plus.staging.Downloader`
once per ``N`` and prints wall time, client CPU time and requests per product, and the
loop's work counters; optionally under pyinstrument (the scheduler's thread) or yappi (CPU of
every thread, the transfer workers too: ``pip install yappi``).

    python bench/_scale_profile.py -n 10000 50000
    python bench/_scale_profile.py -n 10000 --profile /tmp/ours.html
    python bench/_scale_profile.py -n 2000 --yappi
"""

from __future__ import annotations

import argparse
import functools
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _offline import timed  # noqa: F401 - sets EODAG up offline before it is imported

from eodag_peps_plus.backends import get_backend
from eodag_peps_plus.http_io import Credentials
from eodag_peps_plus.query import Query
from eodag_peps_plus.sandbox import DEFAULT_PASSWORD, DEFAULT_USER, SandboxConfig
from eodag_peps_plus.sandbox.process import SandboxProcess, staging_sandbox
from eodag_peps_plus.staging import Downloader

FAST = {"poll_initial": 0.05, "poll_max": 0.5, "backoff_base": 0.05, "backoff_max": 1.0}


def _pyinstrument(call: Callable[[], Any], html: str) -> None:
    from pyinstrument import Profiler  # type: ignore[import-not-found,unused-ignore]

    profiler = Profiler(async_mode="disabled")
    with profiler:
        call()
    Path(html).write_text(profiler.output_html())
    print(profiler.output_text(unicode=False, show_all=False)[:8000])


def _yappi(call: Callable[[], Any]) -> None:
    """CPU time per function over all threads; then our own functions by total time."""
    import yappi  # type: ignore[import-not-found,unused-ignore]

    yappi.set_clock_type("cpu")
    yappi.start()
    call()
    yappi.stop()
    by_kind: dict[str, float] = {}
    for thread in yappi.get_thread_stats():
        kind = thread.name.rstrip("0123456789_")
        by_kind[kind] = by_kind.get(kind, 0.0) + thread.ttot
    print("CPU s per thread kind:", {k: round(v, 2) for k, v in by_kind.items()})
    stats = list(yappi.get_func_stats())
    for title, rows in (
        ("self time", sorted(stats, key=lambda e: -e.tsub)[:30]),
        ("ours by total", sorted((e for e in stats if "eodag_peps_plus" in e.full_name),
                                 key=lambda e: -e.ttot)[:40]),
    ):  # fmt: skip
        print(title)
        for e in rows:
            print(f"  {e.tsub:7.2f} self {e.ttot:7.2f} total {e.ncall:8d}  {e.full_name[-90:]}")
    yappi.clear_stats()


def _cprofile(call: Callable[[], Any], callers: str | None) -> None:
    """Deterministic profile of the scheduler's thread (the pools' threads: ``--yappi``)."""
    import cProfile
    import pstats

    profile = cProfile.Profile(time.thread_time)
    profile.enable()
    try:
        call()
    finally:
        profile.disable()
    stats = pstats.Stats(profile).sort_stats("tottime")
    stats.print_stats(30)
    if callers:
        stats.print_callers(callers)


def _eodag_call(url: str, products: list[Any], out: Path) -> Callable[[], Any]:
    """``dag.download_all`` of the same products (EODAG products built beforehand)."""
    import yaml
    from staging import eoproducts, gateway  # type: ignore[import-not-found]

    dag = gateway(url, out)
    settings = {**FAST, "extract": False, "output_dir": str(out), "quiet": True}
    dag.update_providers_config(yaml.safe_dump({"peps": {"download": settings}}))
    results = eoproducts(dag, "peps", products)
    return functools.partial(dag.download_all, results, output_dir=str(out), extract=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, nargs="+", default=[2000])
    parser.add_argument("--profile", help="pyinstrument HTML output")
    parser.add_argument("--yappi", action="store_true", help="CPU time of every thread")
    parser.add_argument("--cprofile", action="store_true", help="cProfile, one thread at a time")
    parser.add_argument("--callers", help="with --cprofile: print who calls functions matching")
    parser.add_argument("--transfers", type=int, default=8, help="max_transfers")
    parser.add_argument("--restores", type=int, default=4, help="max_restores")
    parser.add_argument(
        "--eodag", action="store_true", help="through dag.download_all and our plugin"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    print(f"{'N':>7} {'wall s':>8} {'ms/prod':>8} {'CPU ms/prod':>12} {'req/prod':>9} work/prod")
    config = SandboxConfig(time_scale=0.001, restore_latency=(100.0, 300.0), seed=1)
    for n in args.n:
        make = functools.partial(
            staging_sandbox, n, config=config, size_range=(2_000, 4_000), offline=0.5, seed=1
        )
        with SandboxProcess(make) as sandbox:
            backend = get_backend(
                "peps", sandbox.url, credentials=Credentials(DEFAULT_USER, DEFAULT_PASSWORD)
            )
            products = list(backend.search(Query.create(collection="S2ST")))
            out = Path(tempfile.mkdtemp(prefix="scale-profile-"))
            downloader = Downloader(
                backend, out, quiet=True, max_transfers=args.transfers,
                max_restores=args.restores, **FAST,  # type: ignore[arg-type]
            )  # fmt: skip
            sandbox.clear_stats()
            started, cpu = time.monotonic(), os.times()
            try:
                call = functools.partial(downloader.download, products)
                if args.eodag:
                    call = _eodag_call(sandbox.url, products, out)
                if args.profile:
                    _pyinstrument(call, args.profile)
                elif args.yappi:
                    _yappi(call)
                elif args.cprofile:
                    _cprofile(call, args.callers)
                else:
                    call()
                wall, now = time.monotonic() - started, os.times()
                spent = now.user + now.system - cpu.user - cpu.system
                made = sandbox.stats().get("requests", 0)
                work = {k: round(v / n, 1) for k, v in downloader.work.items()}
                print(
                    f"{n:>7} {wall:8.1f} {wall / n * 1000:8.2f} {spent / n * 1000:12.2f}"
                    f" {made / n:9.2f} {work}"
                )
                sys.stdout.flush()
            finally:
                shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
