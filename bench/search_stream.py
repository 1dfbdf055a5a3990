"""Streaming search at scale (issue 13): peak memory and items/s of ``peps-plus search --json``
and ``Client.search().items()`` for 15k, 100k and 1M products, on PEPS and GEODES.

The products are the sandbox's synthetic Sentinel-1 collection (made page by page, see
``eodag_peps_plus.sandbox.synthetic``), served from a child process. Each search runs in a
process of its own, whose peak RSS is read from ``wait4``: memory flat in N is the point
(the machine may be shared, so items/s are indicative). The results file is checked complete
(one feature per line) and deleted.

    python bench/search_stream.py [--quick] [--sizes 15000 100000 1000000]
        [--backends peps geodes] [--paths cli client]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _offline import sandbox_process  # noqa: E402 - sets EODAG up offline before it is imported

from eodag_peps_plus.sandbox import Catalogue, Sandbox, SandboxConfig  # noqa: E402

SIZES = (15_000, 100_000, 1_000_000)
QUICK_SIZES = (2_000, 10_000)

#: ``Client.search().items()`` in a process of its own (prints the items read).
CLIENT = """
import sys
from eodag_peps_plus import Client
backend, url, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
items = Client.open(url, backend=backend).search(collections="S1", max_items=n).items()
print(sum(1 for _ in items))
"""


def run(command: list[str], stdout: int | None) -> tuple[float, float, str]:
    """(seconds, peak RSS in MB, stdout) of one child process."""
    start = time.perf_counter()
    process = subprocess.Popen(
        command, stdout=stdout, stderr=subprocess.PIPE, text=True, env=dict(os.environ)
    )
    out = process.stdout.read() if process.stdout else ""
    err = process.stderr.read() if process.stderr else ""
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise SystemExit(f"{' '.join(command[:6])}... failed: {err.strip()[-500:]}")
    return seconds, usage.ru_maxrss / 1024, out


def cli(backend: str, url: str, n: int, folder: Path) -> tuple[float, float]:
    results = folder / "results.geojson"
    seconds, rss, _ = run(
        [sys.executable, "-m", "eodag_peps_plus", "search", "-B", backend, "--url", url,
         "-c", "S1", "--max-items", str(n), "--json", str(results)],
        subprocess.DEVNULL,
    )  # fmt: skip
    with results.open("rb") as handle:
        features = sum(1 for _ in handle) - 2  # one per line, between the head and the tail
    results.unlink()
    if features != n:
        raise SystemExit(f"{backend} cli: {features} features written, {n} expected")
    return seconds, rss


def client(backend: str, url: str, n: int, folder: Path) -> tuple[float, float]:
    seconds, rss, out = run([sys.executable, "-c", CLIENT, backend, url, str(n)], subprocess.PIPE)
    if int(out.strip() or 0) != n:
        raise SystemExit(f"{backend} client: {out.strip()} items read, {n} expected")
    return seconds, rss


PATHS = {"cli": (cli, "peps-plus search --json"), "client": (client, "Client.search().items()")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"sizes {QUICK_SIZES}")
    parser.add_argument("--sizes", type=int, nargs="+", default=None)
    parser.add_argument("--backends", nargs="+", default=["peps", "geodes"])
    parser.add_argument("--paths", nargs="+", choices=sorted(PATHS), default=["cli", "client"])
    args = parser.parse_args()
    sizes = sorted(args.sizes or (QUICK_SIZES if args.quick else SIZES))
    config = SandboxConfig(time_scale=0.01, synthetic_products=max(sizes))
    print(f"synthetic S1 products served from a child process; sizes {sizes}")
    print(f"  {'backend':<8} {'path':<26} {'products':>10} {'seconds':>8} {'items/s':>8} "
          f"{'peak RSS MB':>12} {'kB/product over smallest':>25}")  # fmt: skip
    with (
        sandbox_process(lambda: Sandbox(Catalogue([]), config)) as url,
        tempfile.TemporaryDirectory(prefix="search-stream-") as folder,
    ):
        for backend in args.backends:
            for path in args.paths:
                measure, label = PATHS[path]
                first: tuple[int, float] | None = None
                for n in sizes:
                    seconds, rss = measure(backend, url, n, Path(folder))
                    first = first or (n, rss)
                    growth = (
                        f"{(rss - first[1]) * 1024 / (n - first[0]):.2f}" if n > first[0] else "-"
                    )
                    print(
                        f"  {backend:<8} {label:<26} {n:>10,} {seconds:>8.1f} "
                        f"{n / seconds:>8.0f} {rss:>12.1f} {growth:>25}",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
