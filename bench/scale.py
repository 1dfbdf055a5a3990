"""Scale benchmark (issue 13): does a batch of N products cost the same per product at 1k,
10k and 50k?

Tiny products (2-4 kB), half on tape, 8 parallel transfers, against a PEPS sandbox served from
a child process (its own GIL), tape restores at a small time scale (nominal 2-6 min ->
0.24-0.72 s by default). For each N, in the same run, each client runs in a fresh *spawned*
child process against a fresh sandbox (same catalogue, same per-product restore latencies):

* ``raw``: the server's own limit. 8 threads with plain ``requests`` sessions (Basic auth,
  the product's download URL + ``issuerId=peps``, as the backend sends it) making the minimal
  requests: one GET per online product; per tape product one restore request (a GET with
  ``Range: bytes=0-0``, which is how PEPS starts a restore, answered 202) and one GET sent
  when the tape says the restore is done: the loop knows each product's latency (it is a
  deterministic draw of seed and product: an oracle no real client has), so it never polls.
  A GET answered 202 anyway is retried 10 ms later (and counted in requests/product).
* ``ours``: ``staging.Downloader`` (Python API), polling scaled to the time scale, with its
  defaults otherwise: from 5,000 products its transfers run in child processes
  (``staging.workers``).
* ``eodag``: ``dag.download_all`` through our EODAG plugin (provider ``peps``).
* ``dask``: ``Downloader(...).download(executor=DaskTransfers(2))``: the distributed engine on a local
  cluster of 2 worker processes (:func:`dask_executor`: the one place to change it).

Printed per N and client: seconds, overhead beyond raw ``(t - t_raw) / N`` in ms, requests
per product (counted by the sandbox; catalogue searches separately), products whose file has
the catalogue MD5, the client's CPU time (with its transfer processes), and the client's
memory: peak RSS during the batch above its RSS just before (products already searched and
in memory; VmHWM reset before the batch, ``ru_maxrss`` where that is not allowed) plus the
peak of each transfer process it started, per product (a dask cluster's workers are not
counted: they outlive the batch). Then the slope
of the overhead vs N (least squares) and the issue's targets, pass/fail. Figures are noisy
on a shared machine: run it alone for numbers to quote.

    python bench/scale.py --quick                 # 1k and 5k
    python bench/scale.py --sizes 1000 10000 50000
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import heapq
import itertools
import logging
import multiprocessing
import os
import re
import resource
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import requests
import yaml

# distributed configures its own loggers when imported (INFO lines on every start and stop);
# its workers are other processes, so say it in the environment they inherit.
os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "error")
from _offline import timed  # noqa: F401 - sets EODAG up offline before it is imported
from staging import eoproducts, gateway, md5_ok, rss_peak, rss_reset, search

from eodag_peps_plus.product import Product  # noqa: E402
from eodag_peps_plus.sandbox import DEFAULT_PASSWORD, DEFAULT_USER, Sandbox, SandboxConfig  # noqa: E402
from eodag_peps_plus.sandbox.process import SandboxProcess  # noqa: E402
from eodag_peps_plus.sandbox.scenarios import staging_catalogue  # noqa: E402
from eodag_peps_plus.sandbox.tape import TapeLibrary  # noqa: E402

SEED = 13
SIZE_RANGE = (2_000, 4_000)
LATENCY = (120.0, 360.0)
TRANSFERS = 8
CLIENTS = ("raw", "ours", "eodag", "dask")
#: Done-means of issue 13.
TARGET_OVERHEAD_MS = 1.0
TARGET_KB = 20.0
TARGET_REQUESTS = 2.0


@dataclasses.dataclass
class Result:
    client: str
    seconds: float = float("nan")
    rss_kb: float = float("nan")
    #: Client CPU (user + system, all threads) per product, ms.
    cpu_ms: float = float("nan")
    requests: int = 0
    searches: int = 0
    md5_ok: int = 0
    error: str = ""


def polling(time_scale: float) -> dict[str, Any]:
    """Our downloader's defaults (poll 5 s -> 60 s, backoff 1 s -> 300 s) at the tape's time
    scale, floored so that a tiny scale does not turn polling into a busy loop."""
    return {
        "poll_initial": max(0.05, 5 * time_scale),
        "poll_factor": 1.5,
        "poll_max": max(0.2, 60 * time_scale),
        "backoff_base": max(0.05, time_scale),
        "backoff_max": max(1.0, 300 * time_scale),
        "quiet": True,
        "report_every": 3600.0,
    }


#: Set-up a client keeps open until its batch is timed (a dask cluster), closed after.
_CLEANUP = contextlib.ExitStack()


# -- the clients (each in its own spawned process) ----------------------------------------------
@contextlib.contextmanager
def dask_executor() -> Iterator[Executor]:
    """The distributed engine (``staging.cluster.DaskTransfers``) on a local cluster of 2
    worker *processes* sharing the 8 transfers: the one place to change the cluster."""
    from eodag_peps_plus.staging.cluster import DaskTransfers

    with DaskTransfers(2, threads_per_worker=TRANSFERS // 2) as engine:
        yield engine


def _backend(url: str) -> Any:
    from eodag_peps_plus.backends import get_backend
    from eodag_peps_plus.http_io import Credentials

    return get_backend("peps", url, credentials=Credentials(DEFAULT_USER, DEFAULT_PASSWORD))


def run_raw(
    url: str, products: list[Product], out: Path, options: dict[str, Any]
) -> Callable[[], None]:
    tape = TapeLibrary(
        lambda _key: "tape", latency=LATENCY, seed=SEED, time_scale=options["time_scale"]
    )
    uuid = re.compile(r"/([0-9a-f-]{36})/download")

    def batch() -> None:
        now = time.monotonic()
        counter = itertools.count()
        # (due time, order, action, product); restores first so their clocks start early.
        due: list[tuple[float, int, str, Product]] = []
        for product in products:
            action = "get" if product.availability.is_online else "restore"
            due.append((now if action == "restore" else now + 1e-6, next(counter), action, product))
        heapq.heapify(due)
        pending = len(products)
        lock = threading.Condition()

        def worker() -> None:
            nonlocal pending
            session = requests.Session()
            session.auth = (DEFAULT_USER, DEFAULT_PASSWORD)
            while True:
                with lock:
                    while True:
                        if pending == 0:
                            return
                        if due and due[0][0] <= time.monotonic():
                            _, _, action, product = heapq.heappop(due)
                            break
                        lock.wait(max(0.0, due[0][0] - time.monotonic()) if due else 0.05)
                link = product.download_url
                follow: tuple[float, int, str, Product] | None = None
                try:
                    if action == "restore":
                        headers = {"Range": "bytes=0-0"}
                        with session.get(
                            link, params={"issuerId": "peps"}, headers=headers, timeout=60
                        ) as reply:
                            reply.content  # noqa: B018 - drained, the connection is reused
                        match = uuid.search(link)
                        latency = tape.latency_for(match.group(1)) if match else 0.0
                        follow = (time.monotonic() + latency + 0.002, next(counter), "get", product)
                    elif not _raw_get(session, link, out / f"{product.id}.zip"):
                        follow = (time.monotonic() + 0.01, next(counter), "get", product)
                except requests.RequestException as exc:  # counted as not MD5-verified
                    print(f"    raw: {product.id}: {exc}", file=sys.stderr)
                with lock:
                    if follow is None:
                        pending -= 1
                    else:
                        heapq.heappush(due, follow)
                    lock.notify_all()

        threads = [threading.Thread(target=worker, daemon=True) for _ in range(TRANSFERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(options["timeout"])

    return batch


def _raw_get(session: requests.Session, link: str, path: Path) -> bool:
    """GET the archive into ``path`` (MD5 computed as it streams, as our client does);
    ``False`` when the product is not online yet."""
    with session.get(link, params={"issuerId": "peps"}, stream=True, timeout=60) as reply:
        if reply.status_code != 200 or reply.headers.get("Content-Type") != "application/zip":
            reply.content  # noqa: B018
            return False
        digest = hashlib.md5(usedforsecurity=False)
        with open(path, "wb") as handle:
            for chunk in reply.iter_content(1 << 16):
                digest.update(chunk)
                handle.write(chunk)
    return True


def run_ours(
    url: str, products: list[Product], out: Path, options: dict[str, Any]
) -> Callable[[], None]:
    from eodag_peps_plus.staging import Downloader

    downloader = Downloader(
        _backend(url),
        out,
        max_transfers=TRANSFERS,
        timeout=options["timeout"],
        **options["polling"],
    )
    return lambda: _check(downloader.download(products))


def run_eodag(
    url: str, products: list[Product], out: Path, options: dict[str, Any]
) -> Callable[[], None]:
    dag = gateway(url, out)
    settings = {
        **options["polling"],
        "max_transfers": TRANSFERS,
        "extract": False,
        "output_dir": str(out),
    }
    dag.update_providers_config(yaml.safe_dump({"peps": {"download": settings}}))
    results = eoproducts(dag, "peps", products)
    return lambda: dag.download_all(
        results, output_dir=str(out), extract=False, timeout=options["timeout"] / 60
    )


def run_dask(
    url: str, products: list[Product], out: Path, options: dict[str, Any]
) -> Callable[[], None]:
    from eodag_peps_plus.staging import Downloader

    executor = _CLEANUP.enter_context(dask_executor())
    downloader = Downloader(
        _backend(url), out, max_transfers=TRANSFERS,
        timeout=options["timeout"], **options["polling"],
    )  # fmt: skip
    return lambda: _check(downloader.download(products, executor=executor))


def _check(report: Any) -> None:
    if not report.ok:
        raise RuntimeError(f"batch not complete: {report.counts()}")


RUNNERS = {"raw": run_raw, "ours": run_ours, "eodag": run_eodag, "dask": run_dask}


def client_process(
    conn: Connection, client: str, url: str, out: str, options: dict[str, Any]
) -> None:
    """In a fresh process: search (setup), say ready, run the batch when told, report."""
    logging.basicConfig(level=logging.ERROR)
    logging.getLogger("eodag").setLevel(logging.CRITICAL)
    try:
        products = search(url)
        batch = RUNNERS[client](url, products, Path(out), options)
        conn.send(("ready", len(products)))
        conn.recv()
        base = rss_reset()
        maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        cpu = _cpu()
        with _peaks_of(_transfer_processes()) as child_peaks:
            seconds, _ = timed(batch)
        cpu = _cpu() - cpu
        peak = rss_peak()
        if peak <= 0:  # no /proc: ru_maxrss (kB on Linux) over its value before the batch
            base, peak = maxrss * 1024, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        peak += sum(child_peaks.values())  # the transfer processes' own peaks
        conn.send(("done", seconds, max(0, peak - base), cpu))
    except Exception as exc:  # reported as a row, not a traceback
        conn.send(("error", f"{type(exc).__name__}: {str(exc)[:160]}"))
    finally:
        _CLEANUP.close()


# -- one N ----------------------------------------------------------------------------------
def measure(client: str, catalogue: Any, config: SandboxConfig, options: dict[str, Any]) -> Result:
    result = Result(client)
    out = Path(tempfile.mkdtemp(prefix=f"bench-scale-{client}-"))
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    try:
        with SandboxProcess(lambda: Sandbox(catalogue, config, services=("peps",))) as served:
            process = context.Process(
                target=client_process, args=(child, client, served.url, str(out), options)
            )
            process.start()
            try:
                if not parent.poll(options["setup_timeout"]):
                    raise TimeoutError("client setup timed out")
                reply = parent.recv()
                if reply[0] != "ready":
                    raise RuntimeError(reply[1])
                served.clear_stats()
                parent.send("go")
                if not parent.poll(options["timeout"] + 60):
                    raise TimeoutError(f"batch not done in {options['timeout']:.0f} s")
                reply = parent.recv()
                if reply[0] != "done":
                    raise RuntimeError(reply[1])
                result.seconds = reply[1]
                result.rss_kb = reply[2] / 1024 / len(catalogue)
                result.cpu_ms = reply[3] * 1000 / len(catalogue)
            except (TimeoutError, RuntimeError, EOFError) as exc:
                result.error = str(exc)
            finally:
                process.join(30)
                if process.is_alive():
                    process.kill()
                    process.join(10)
                stats = served.stats()
                result.requests = stats.get("requests", 0)
                result.searches = stats.get("peps.search", 0)
        result.md5_ok = md5_ok(out, catalogue)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return result


def _cpu() -> float:
    """CPU seconds of the client and of its children ended so far (transfer processes end
    with the batch; a dask cluster's workers only after it, so they are not counted)."""
    return sum(
        usage.ru_utime + usage.ru_stime
        for usage in (
            resource.getrusage(resource.RUSAGE_SELF),
            resource.getrusage(resource.RUSAGE_CHILDREN),
        )
    )


@contextlib.contextmanager
def _peaks_of(pids: Callable[[], list[int]]) -> Iterator[dict[int, int]]:
    """The peak RSS (bytes) of each process ``pids()`` lists (they start during the batch),
    read from /proc every 0.1 s while the block runs (``ru_maxrss`` of a child would be its
    parent's size: a child is forked from it before it runs Python anew)."""
    peaks: dict[int, int] = {}
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.1):
            for pid in pids():
                with contextlib.suppress(OSError, ValueError, IndexError, StopIteration):
                    status = Path(f"/proc/{pid}/status").read_text()
                    line = next(x for x in status.splitlines() if x.startswith("VmHWM:"))
                    peaks[pid] = max(peaks.get(pid, 0), int(line.split()[1]) * 1024)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield peaks
    finally:
        done.set()
        sampler.join()


def _transfer_processes() -> Callable[[], list[int]]:
    """A lister of this process's transfer processes (:mod:`staging.workers`): its children,
    from /proc/self/task/*/children (cheap enough to read every 0.1 s), whose command line
    runs ``staging.workers`` (a dask cluster's workers are not among them)."""
    ours: dict[int, bool] = {}

    def pids() -> list[int]:
        for listing in Path("/proc/self/task").glob("*/children"):
            with contextlib.suppress(OSError):
                for pid in map(int, listing.read_text().split()):
                    if pid not in ours:
                        with contextlib.suppress(OSError):
                            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
                            ours[pid] = b"eodag_peps_plus.staging.workers" in cmdline
        return [pid for pid, transfer in ours.items() if transfer]

    return pids


def slope(points: list[tuple[int, float]]) -> float:
    """Least-squares slope of overhead (ms/product) vs N, per 10,000 products."""
    if len(points) < 2:
        return float("nan")
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    den = sum((x - mean_x) ** 2 for x, _ in points)
    return (
        sum((x - mean_x) * (y - mean_y) for x, y in points) / den * 10_000 if den else float("nan")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=[1000, 10_000, 50_000])
    parser.add_argument("--quick", action="store_true", help="1k and 5k products")
    parser.add_argument("--clients", nargs="+", choices=CLIENTS, default=list(CLIENTS))
    parser.add_argument(
        "--time-scale", type=float, default=0.002, help="tape: nominal 2-6 min x this"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=None,
        help="per batch, seconds (default: 60 + 20 ms/product)",
    )
    args = parser.parse_args()
    sizes = [1000, 5000] if args.quick else args.sizes
    if "raw" not in args.clients:
        args.clients.insert(0, "raw")
    config = SandboxConfig(time_scale=args.time_scale, restore_latency=LATENCY, seed=SEED)
    print(
        f"scale benchmark: {SIZE_RANGE[0] // 1000}-{SIZE_RANGE[1] // 1000} kB products, half on tape "
        f"(restores {LATENCY[0] * args.time_scale:.2f}-{LATENCY[1] * args.time_scale:.2f} s), "
        f"{TRANSFERS} transfers; {os.cpu_count()} cores (shared machine: figures are noisy)"
    )
    header = f"{'N':>7} {'client':<6} {'seconds':>8} {'ms/prod':>8} {'over ms':>8} {'req/prod':>9} {'search':>7} {'RSS kB/p':>9} {'CPU ms/p':>9} {'MD5 ok':>13}"
    print(header)
    overheads: dict[str, list[tuple[int, float]]] = {c: [] for c in args.clients if c != "raw"}
    rows: dict[tuple[int, str], Result] = {}
    for count in sizes:
        catalogue = staging_catalogue(count, size_range=SIZE_RANGE, offline=0.5, seed=SEED)
        for entry in catalogue:
            assert entry.md5  # computed once here; the forked sandboxes inherit it
        timeout = args.timeout or 60 + 0.02 * count
        options = {"time_scale": args.time_scale, "timeout": timeout, "setup_timeout": 120 + 0.01 * count, "polling": polling(args.time_scale)}  # fmt: skip
        raw_seconds = float("nan")
        for client in args.clients:
            result = measure(client, catalogue, config, options)
            rows[(count, client)] = result
            if client == "raw":
                raw_seconds = result.seconds
            over = (result.seconds - raw_seconds) / count * 1000
            if client != "raw" and not result.error:
                overheads[client].append((count, over))
            print(
                f"{count:>7} {client:<6} {result.seconds:8.2f} {result.seconds / count * 1000:8.3f} "
                f"{over if client != 'raw' else 0.0:8.3f} {result.requests / count:9.3f} {result.searches:>7} "
                f"{result.rss_kb:9.2f} {result.cpu_ms:9.2f} {result.md5_ok:>6}/{count:<6}"
                + (f"  ERROR {result.error}" if result.error else "")
            )
            sys.stdout.flush()
    print(
        "\noverhead beyond raw: slope per 10,000 products (least squares over the sizes), targets"
    )
    largest = max(sizes)
    for client, points in overheads.items():
        at_largest = next((y for x, y in points if x == largest), float("nan"))
        result = rows[(largest, client)]
        checks = {
            f"overhead <= {TARGET_OVERHEAD_MS:g} ms at {largest}": at_largest <= TARGET_OVERHEAD_MS,
        }
        if len(points) > 1:  # one size has no slope
            checks["slope <= 0.1 ms per 10k (not growing)"] = slope(points) <= 0.1
        checks |= {
            f"RSS <= {TARGET_KB:g} kB/product": result.rss_kb <= TARGET_KB,
            f"requests <= {TARGET_REQUESTS:g}/product": result.requests / largest
            <= TARGET_REQUESTS,
            "every product MD5-verified": result.md5_ok == largest,
        }
        verdicts = ", ".join(f"{name}: {'pass' if ok else 'FAIL'}" for name, ok in checks.items())
        print(f"  {client:<6} slope {slope(points):+.3f} ms/product per 10k; {verdicts}")


if __name__ == "__main__":
    main()
