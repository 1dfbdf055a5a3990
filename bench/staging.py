"""Benchmark of tape-aware downloads (issue 5).

Each downloader runs, in this process, against a fresh sandbox with the same catalogue and the
same per-product restore latencies, in two regimes and for every way the sandbox may answer a
download of a product that is not online:

* bandwidth-bound: 40 products of 2-8 MB, half on tape, restores 2-6 s, 5 MB/s per connection
  and 20 MB/s in total;
* latency-bound: 60 products of 1-2 MB, all on tape, restores 20-40 s, same bandwidth.

Downloaders: (a) this package's StagingDownload through ``dag.download_all``; (b) EODAG's stock
``HTTPDownload`` with a PEPS-style provider config (EODAG <= 3 shipped one) through
``dag.download_all`` with its default ``wait`` scaled one minute -> one second; (c) the legacy
``peps_download.py`` policy. Every downloader gets the same generous ``timeout`` so that a slow
policy shows as a long makespan, not as a give-up. Durations in the sandbox are real seconds.

Printed per regime, reply variant and downloader: makespan, the lower bound
``LB = max(total bytes / total bandwidth, max(restore latency + size / per-connection
bandwidth))``, makespan / LB, HTTP requests per product (counted by the sandbox), products whose
file matches the catalogue MD5, and peak memory (RSS high-water mark above the level before the
run; the sandbox shares the process). A last table measures peak Python allocations
(tracemalloc) of (a) for one small and one large product: flat in product size.

(a) is measured A/B against the previous release (``_ab.previous_release``, or ``--ab REV...``): each
side's package runs in a child process (``PYTHONPATH``) against a fresh sandbox of this process
(the same server code for both), in ``--rounds`` interleaved rounds; the row gives the median
makespan and ratio, every round's ratio, the median requests per product and the fewest MD5
matches. ``--ab`` with no revision measures (a) once in this process, as (b) and (c) are;
``--timeline`` does that too and prints, per product, when the server put it online, when our
poll saw it, when its transfer began and ended on the wire and when it got its final name, with
the link's use per half second (where the time goes against the lower bound).

    python bench/staging.py            # full run (about 30 minutes with 3 A/B rounds)
    python bench/staging.py --quick    # smoke run (about 5 minutes)
    python bench/staging.py --only "(a) peps-plus" --regimes 0 --variants 202-json --timeline
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
import yaml

os.environ.setdefault("EODAG_CFG_DIR", tempfile.mkdtemp(prefix="bench-eodag-"))
_EXT = Path(os.environ["EODAG_CFG_DIR"]) / "ext_collections.json"
_EXT.write_text("{}")
os.environ.setdefault("EODAG_EXT_COLLECTIONS_CFG_URI", str(_EXT))
os.environ.setdefault("EODAG_STRICT_COLLECTIONS", "false")
os.environ["EODAG__PEPS__AUTH__CREDENTIALS__USERNAME"] = "user@example.com"  # sandbox account
os.environ["EODAG__PEPS__AUTH__CREDENTIALS__PASSWORD"] = "sandbox-password"  # noqa: S105

from eodag_peps_plus.backends import get_backend  # noqa: E402
from eodag_peps_plus.http_io import Credentials  # noqa: E402
from eodag_peps_plus.product import Product  # noqa: E402
from eodag_peps_plus.query import Query  # noqa: E402
from eodag_peps_plus.sandbox import DEFAULT_PASSWORD, DEFAULT_USER, Sandbox, SandboxConfig  # noqa: E402
from eodag_peps_plus.sandbox.catalogue import Catalogue  # noqa: E402
from eodag_peps_plus.sandbox.scenarios import staging_catalogue  # noqa: E402
from eodag_peps_plus.sandbox.tape import TapeLibrary  # noqa: E402

MB = 1_000_000
VARIANTS = ("202-json", "200-json", "404", "503")
#: EODAG's defaults (minutes), scaled one minute -> one second.
EODAG_WAIT = 0.2 / 60
#: Our own defaults (seconds), scaled the same way.
OURS_SCALED = {
    "poll_initial": 5 / 60,
    "poll_factor": 1.5,
    "poll_max": 60 / 60,
    "backoff_base": 1 / 60,
    "backoff_max": 300 / 60,
}
LEGACY_SLEEP = 60 / 60
SEED = 1


@dataclasses.dataclass
class Regime:
    name: str
    count: int
    size: tuple[int, int]
    offline: float
    latency: tuple[float, float]
    per_connection: float = 5 * MB
    total: float = 20 * MB


FULL = (
    Regime("bandwidth-bound", 40, (2 * MB, 8 * MB), 0.5, (2.0, 6.0)),
    Regime("latency-bound", 60, (1 * MB, 2 * MB), 1.0, (20.0, 40.0)),
)
QUICK = (
    Regime("bandwidth-bound (quick)", 12, (1 * MB, 3 * MB), 0.5, (1.0, 2.0)),
    Regime("latency-bound (quick)", 16, (MB // 4, MB // 2), 1.0, (3.0, 5.0)),
)


@dataclasses.dataclass
class Result:
    downloader: str
    makespan: float
    requests: int
    md5_ok: int
    peak_mb: float
    #: CPU seconds the downloader's process used (A/B children only: the sandbox is elsewhere).
    cpu: float = 0.0


# -- helpers ------------------------------------------------------------------------------------
def rss_reset() -> int:
    """Reset the RSS high-water mark (Linux) and return the current RSS in bytes."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")
    return _status_kb("VmRSS") * 1024


def rss_peak() -> int:
    return _status_kb("VmHWM") * 1024


def _status_kb(key: str) -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def lower_bound(catalogue: Catalogue, regime: Regime) -> float:
    """LB from the catalogue and the tape's per-product latencies (the same draw the sandbox
    makes: seed and product decide it)."""
    tape = TapeLibrary(lambda _key: "tape", latency=regime.latency, seed=SEED)
    total = sum(e.size for e in catalogue)
    longest = 0.0
    for entry in catalogue:
        latency = tape.latency_for(entry.uuid) if entry.storage != "disk" else 0.0
        longest = max(longest, latency + entry.size / regime.per_connection)
    return max(total / regime.total, longest)


def md5_ok(out: Path, catalogue: Catalogue) -> int:
    good = 0
    for entry in catalogue:
        path = out / f"{entry.name}.zip"
        if path.is_file() and path.stat().st_size == entry.size:
            digest = hashlib.md5(usedforsecurity=False)
            with open(path, "rb") as handle:
                while chunk := handle.read(1 << 20):
                    digest.update(chunk)
            good += digest.hexdigest() == entry.md5
    return good


def credentials() -> Credentials:
    return Credentials(DEFAULT_USER, DEFAULT_PASSWORD)


def search(url: str) -> list[Product]:
    backend = get_backend("peps", url, credentials=credentials())
    return list(backend.search(Query.create(collection="S2ST")))


def gateway(url: str, out: Path) -> Any:
    """Our providers (``peps`` with StagingDownload, our defaults scaled) and a PEPS-style
    ``peps_stock`` provider with EODAG's HTTPDownload, both at the sandbox."""
    from eodag_peps_plus.eodag_support import gateway as make_gateway

    dag = make_gateway(peps=url)
    ours = {
        "peps": {
            "download": {**OURS_SCALED, "quiet": True, "extract": False, "output_dir": str(out)}
        }
    }
    dag.update_providers_config(yaml.safe_dump(ours))
    stock = {
        "peps_stock": {
            "priority": 0,
            "description": "PEPS as EODAG <= 3 configured it: HTTPDownload, Basic auth",
            "url": url,
            "search": {
                "type": "PepsPlusSearch",
                "backend": "peps",
                "api_endpoint": url,
                "need_auth": False,
                "pagination": {"max_limit": 500, "next_page_token_key": "page"},
                "metadata_mapping": {"id": "$.id", "title": "$.properties.title"},
            },
            "products": {"GENERIC_COLLECTION": {"_collection": "{collection}"}},
            "download": {
                "type": "HTTPDownload",
                "extract": False,
                "dl_url_params": {"issuerId": "peps"},
                "output_dir": str(out),
            },
            "auth": {
                "type": "GenericAuth",
                "method": "basic",
                "credentials": {"username": DEFAULT_USER, "password": DEFAULT_PASSWORD},
            },
        }
    }
    dag.update_providers_config(yaml.safe_dump(stock))
    if "peps_stock" in dag._providers:
        dag._providers["peps_stock"].sync_collections(dag, strict_mode=False)
    return dag


def eoproducts(dag: Any, provider: str, products: list[Product]) -> Any:
    from eodag.api.search_result import SearchResult

    from eodag_peps_plus.eodag_plugins.convert import to_eoproduct

    items = []
    for product in products:
        eo_product = to_eoproduct(product, provider, collection="S2_MSI_L1C")
        eo_product._register_downloader_from_manager(dag._plugins_manager)
        items.append(eo_product)
    return SearchResult(items)


# -- the three downloaders ----------------------------------------------------------------------
# Each takes (url, products, out, timeout) and returns the call to time: building an EODAG
# gateway is setup, not download time.
Prepared = Callable[[], None]


def prepare_ours(url: str, products: list[Product], out: Path, timeout: float) -> Prepared:
    dag = gateway(url, out)
    results = eoproducts(dag, "peps", products)
    return lambda: dag.download_all(
        results, output_dir=str(out), extract=False, timeout=timeout / 60
    )


def prepare_stock(url: str, products: list[Product], out: Path, timeout: float) -> Prepared:
    from eodag.utils import ProgressCallback

    dag = gateway(url, out)
    results = eoproducts(dag, "peps_stock", products)
    return lambda: dag.download_all(
        results,
        output_dir=str(out),
        extract=False,
        wait=EODAG_WAIT,
        timeout=timeout / 60,
        progress_callback=ProgressCallback(disable=True),
    )


def prepare_legacy(url: str, products: list[Product], out: Path, timeout: float) -> Prepared:
    return lambda: run_legacy(url, out, timeout)


def run_legacy(url: str, out: Path, timeout: float) -> None:
    """peps_download.py's policy: stage every tape product, download disk products one by one
    (saving whatever comes back), sleep a (scaled) minute, search again, repeat."""
    session = requests.Session()
    auth = (DEFAULT_USER, DEFAULT_PASSWORD)
    deadline = time.monotonic() + timeout
    search_url = f"{url}/resto/api/collections/S2ST/search.json"
    while True:
        body = session.get(search_url, params={"maxRecords": 500}).json()
        todo = [
            f for f in body["features"] if not (out / f"{f['properties']['title']}.zip").exists()
        ]
        if not todo or time.monotonic() > deadline:
            return
        for feature in todo:
            props = feature["properties"]
            link = props["services"]["download"]["url"] + "/?issuerId=peps"
            if props["storage"]["mode"] in ("disk", "tier2"):
                tmp = out / f"tmp_{time.time()}.tmp"
                with session.get(link, auth=auth, stream=True) as reply, open(tmp, "wb") as handle:
                    for chunk in reply.iter_content(1 << 16):
                        handle.write(chunk)
                tmp.rename(out / f"{props['title']}.zip")
            else:
                with session.get(link, auth=auth, stream=True) as reply:
                    _ = (
                        reply.content
                    )  # the legacy script saved it to a temporary file and dropped it
        time.sleep(LEGACY_SLEEP)


DOWNLOADERS: dict[str, Callable[[str, list[Product], Path, float], Prepared]] = {
    "(a) peps-plus": prepare_ours,
    "(b) eodag HTTPDownload": prepare_stock,
    "(c) legacy policy": prepare_legacy,
}


def sandbox_config(regime: Regime, variant: str) -> SandboxConfig:
    return SandboxConfig(
        time_scale=1.0,
        restore_latency=regime.latency,
        per_connection_bps=regime.per_connection,
        total_bps=regime.total,
        offline_reply=variant,
        seed=SEED,
    )


def measure(
    regime: Regime,
    catalogue: Catalogue,
    variant: str,
    name: str,
    timeout: float,
    timeline: bool = False,
) -> Result:
    config = sandbox_config(regime, variant)
    out = Path(tempfile.mkdtemp(prefix="bench-staging-"))
    try:
        with Sandbox(catalogue, config, services=("peps",)) as sb:
            products = search(sb.url)
            call = DOWNLOADERS[name](sb.url, products, out, timeout)
            sb.httpd.stats.clear()
            trace = Timeline(sb) if timeline else None
            handler = logging.Handler()
            if trace is not None:
                handler.emit = trace.emit  # type: ignore[method-assign]
                run_log = logging.getLogger("eodag.peps_plus.staging.run")
                run_log.addHandler(handler)
                run_log.setLevel(logging.INFO)
                run_log.propagate = False
            base = rss_reset()
            started = time.monotonic()
            if trace is not None:
                trace.t0 = started
            try:
                call()
            except Exception as exc:  # a baseline may fail; report it rather than stop
                print(
                    f"    {name}: stopped by {type(exc).__name__}: {str(exc)[:120]}",
                    file=sys.stderr,
                )
            makespan = time.monotonic() - started
            peak = max(0, rss_peak() - base) / 2**20
            requests_made = sb.stats["requests"]
            if trace is not None:
                run_log.removeHandler(handler)
                run_log.propagate = True
                trace.report(makespan, regime)
        return Result(name, makespan, requests_made, md5_ok(out, catalogue), peak)
    finally:
        shutil.rmtree(out, ignore_errors=True)


# -- timeline (--timeline): where the time goes against the lower bound ------------------------
class Timeline:
    """Per product: when the server put it online, when our poll saw it, when its transfer
    started and ended on the wire, when it got its final name; and the link's use over time.
    Server-side times come from hooks on the in-process sandbox, client-side ones from the run's
    status log (all ``time.monotonic``)."""

    def __init__(self, sb: Sandbox) -> None:
        self.sb = sb
        self.t0 = 0.0
        self.sent: list[tuple[float, int]] = []
        self.wire: dict[str, list[float]] = {}  # uuid -> [first reply, last byte]
        self.status: dict[str, dict[str, float]] = {}  # name -> {status: first time}
        self.names = {e.uuid: e.name for e in sb.catalogue}
        self._hook_server()

    def _hook_server(self) -> None:
        bucket, sent = self.sb.httpd.total_bucket, self.sent
        take = bucket.take

        def counted(amount: int) -> None:
            take(amount)
            sent.append((time.monotonic(), amount))

        bucket.take = counted  # type: ignore[method-assign]
        serve, wire = self.sb.serve_archive, self.wire

        def served(entry: Any, request: Any) -> Any:
            reply = serve(entry, request)
            if reply.status in (200, 206) and reply.length and reply.length > 1:
                mark = wire.setdefault(entry.uuid, [time.monotonic(), 0.0])
                inner = reply.body

                def body() -> Any:
                    yield from inner
                    mark[1] = time.monotonic()

                reply.body = body()
            return reply

        self.sb.serve_archive = served  # type: ignore[method-assign]

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg.startswith("%s: %s -> %s") and record.args:
            name, new = record.args[0], record.args[2]  # type: ignore[index]
            self.status.setdefault(str(name), {}).setdefault(str(new), time.monotonic())

    def report(self, makespan: float, regime: Regime) -> None:
        """One row per product in the order transfers began (seconds from the start), the
        lags between the steps, and the link's use."""
        rows, lags = [], {"online->seen": [], "seen->start": [], "last byte->named": []}
        for uuid, name in self.names.items():
            steps = self.status.get(name, {})
            online, seen = self.sb.tape.online_at.get(uuid), steps.get("online")
            start, end = self.wire.get(uuid, (None, None))
            named = steps.get("done")
            for key, (a, b) in zip(
                lags, ((online, seen), (seen, start), (end, named)), strict=True
            ):
                if a and b:
                    lags[key].append(b - a)
            size = self.sb.catalogue.by_uuid[uuid].size / MB
            rows.append((start or 0.0, name[-6:], size, (online, seen, start, end, named)))
        print(f"  {'product':>7} {'MB':>5}" + "".join(f"{h:>7}" for h in STEPS))
        for _, tag, size, times in sorted(rows):
            cells = "".join(f"{x - self.t0:7.2f}" if x else f"{'-':>7}" for x in times)
            print(f"  {tag:>7} {size:5.1f}{cells}")
        for key, values in lags.items():
            if values:
                print(f"  lag {key}: median {statistics.median(values):.3f} s, max {max(values):.3f} s")  # fmt: skip
        self._utilisation(makespan, regime)

    def _utilisation(self, makespan: float, regime: Regime) -> None:
        step = 0.5
        bins = [0] * (int(makespan / step) + 1)
        for at, amount in self.sent:
            index = int((at - self.t0) / step)
            if 0 <= index < len(bins):
                bins[index] += amount
        widths = [min(step, makespan - i * step) for i in range(len(bins))]
        line = " ".join(
            f"{b / w / regime.total:.2f}" for b, w in zip(bins, widths, strict=True) if w > 0
        )
        idle = sum(max(0.0, w - b / regime.total) for b, w in zip(bins, widths, strict=True))
        print(f"  link use per {step:g} s (share of {regime.total / MB:g} MB/s): {line}")
        print(f"  link idle: {idle:.2f} s of {makespan:.2f} s")


#: The columns of the timeline: server online, our poll saw it, first archive byte asked,
#: last byte sent, final name.
STEPS = ("online", "seen", "start", "end", "named")


def memory_probe() -> list[tuple[int, float]]:
    """Peak Python allocations of (a) for one online product of each size (MB)."""
    rows = []
    for size in (4 * MB, 64 * MB):
        catalogue = staging_catalogue(1, size_range=(size, size), offline=0.0, seed=99)
        out = Path(tempfile.mkdtemp(prefix="bench-memory-"))
        try:
            with Sandbox(catalogue, SandboxConfig(), services=("peps",)) as sb:
                products = search(sb.url)
                assert catalogue.entries[0].md5  # computed before measuring (sandbox side)
                call = prepare_ours(sb.url, products, out, 60)
                tracemalloc.start()
                call()
                _, peak = tracemalloc.get_traced_memory()
                tracemalloc.stop()
            assert md5_ok(out, catalogue) == 1
            rows.append((size // MB, peak / 2**20))
        finally:
            shutil.rmtree(out, ignore_errors=True)
    return rows


# -- A/B against the previous release (--ab) ------------------------------------------------------
def client(url: str, out: str, timeout: float) -> None:
    """``--client``: (a) alone, in a child process whose ``PYTHONPATH`` picks the package of one
    release, against a sandbox the parent runs; one JSON line: the makespan and the package."""
    import json

    import eodag_peps_plus

    logging.basicConfig(level=logging.ERROR)
    logging.getLogger("eodag").setLevel(logging.CRITICAL)
    products = search(url)
    call = prepare_ours(url, products, Path(out), timeout)
    cpu = time.process_time()
    started = time.monotonic()
    call()
    makespan = time.monotonic() - started
    cpu = time.process_time() - cpu
    print(json.dumps({"makespan": makespan, "cpu": cpu, "package": eodag_peps_plus.__file__}))


def measure_child(
    regime: Regime, catalogue: Catalogue, variant: str, timeout: float, tree: Path | None
) -> Result:
    """(a) of this tree (``tree=None``) or of an exported release, run by a child process
    against a sandbox of this process (the same server code for both sides)."""
    from _ab import child

    out = Path(tempfile.mkdtemp(prefix="bench-staging-ab-"))
    try:
        with Sandbox(catalogue, sandbox_config(regime, variant), services=("peps",)) as sb:
            sb.httpd.stats.clear()
            result = child(__file__, ["--client", sb.url, str(out), str(timeout)], tree)
            requests_made = sb.stats["requests"] - 1  # the child's own search is setup
        return Result(
            "(a)", result["makespan"], requests_made, md5_ok(out, catalogue), 0.0, result["cpu"]
        )
    finally:
        shutil.rmtree(out, ignore_errors=True)


def ab_rounds(
    regime: Regime, catalogue: Catalogue, variant: str, revs: list[str], rounds: int
) -> dict[str, list[Result]]:
    """``rounds`` interleaved measurements of (a) per side: this tree and each release in
    ``revs`` (each round starts with another side)."""
    from _ab import THIS, exported

    timeout = 3 * lower_bound(catalogue, regime) + 30
    results: dict[str, list[Result]] = {side: [] for side in [THIS, *revs]}
    with contextlib.ExitStack() as stack:
        trees: list[tuple[str, Path | None]] = [(THIS, None)]
        trees += [(rev, stack.enter_context(exported(rev))) for rev in revs]
        for index in range(rounds):
            shift = index % len(trees)
            for side, tree in trees[shift:] + trees[:shift]:
                results[side].append(measure_child(regime, catalogue, variant, timeout, tree))
    return results


def print_ab(regime: Regime, catalogue: Catalogue, results: dict[str, list[Result]]) -> None:
    bound = lower_bound(catalogue, regime)
    for side, runs in results.items():
        ratios = sorted(r.makespan / bound for r in runs)
        spread = " ".join(f"{x:.2f}" for x in ratios)
        print(
            f"  (a) {side[:12]:<12} {statistics.median(r.makespan for r in runs):8.2f}s "
            f"{bound:6.1f}s {statistics.median(ratios):6.2f} [{spread}] "
            f"{statistics.median(r.requests for r in runs) / regime.count:9.2f} "
            f"{min(r.md5_ok for r in runs):>4}/{regime.count:<3} "
            f"CPU {statistics.median(r.cpu for r in runs):.2f} s"
        )
        sys.stdout.flush()


def arguments() -> argparse.Namespace:
    from _ab import previous_release

    previous = previous_release()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small regimes: a smoke run")
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument(
        "--only", nargs="*", default=list(DOWNLOADERS), choices=list(DOWNLOADERS), metavar="NAME"
    )
    parser.add_argument(
        "--regimes", nargs="*", type=int, default=[0, 1], help="0 bandwidth-bound, 1 latency-bound"
    )
    parser.add_argument("--no-memory", action="store_true", help="skip the memory probe")
    parser.add_argument(
        "--timeline",
        action="store_true",
        help="(a) in this process, once: each product's timeline and the link's use",
    )
    parser.add_argument(
        "--ab",
        nargs="*",
        default=[previous],
        metavar="REV",
        help=f"releases (git revs) (a) is compared with, A/B (default {previous}; none: no A/B)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="A/B rounds (medians)")
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--client", nargs=3, help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> None:
    args = arguments()
    if args.client:
        url, out, timeout = args.client
        client(url, out, float(timeout))
        return
    logging.basicConfig(level=logging.ERROR)
    logging.getLogger("eodag").setLevel(logging.CRITICAL)
    regimes = QUICK if args.quick else FULL
    ab = args.ab and "(a) peps-plus" in args.only and not args.timeline
    print(
        f"staging benchmark ({'quick' if args.quick else 'full'}); EODAG wait={EODAG_WAIT * 60:g} s, legacy sleep={LEGACY_SLEEP:g} s"
    )
    if ab:
        print(f"(a): this tree and {', '.join(args.ab)}, each in a child process against a sandbox of this one, "
              f"{args.rounds} interleaved rounds: median makespan, median ratio [every round], median requests, fewest MD5 ok, median CPU of the downloader's process")  # fmt: skip
    header = f"{'downloader':<24} {'makespan':>9} {'LB':>7} {'ratio':>6} {'req/prod':>9} {'MD5 ok':>8} {'peak MB':>8}"
    for regime in [regimes[i] for i in args.regimes]:
        catalogue = staging_catalogue(
            regime.count, size_range=regime.size, offline=regime.offline, seed=5
        )
        for variant in args.variants:
            print(f"\n{regime.name}, offline reply {variant}: {regime.count} products, "
                  f"{sum(e.size for e in catalogue) / MB:.0f} MB, restores {regime.latency[0]:g}-{regime.latency[1]:g} s")  # fmt: skip
            print(header)
            if ab:
                print_ab(
                    regime, catalogue, ab_rounds(regime, catalogue, variant, args.ab, args.rounds)
                )
            bound = lower_bound(catalogue, regime)
            timeout = 3 * bound + 30  # the same generous timeout for every downloader
            for name in args.only:
                if ab and name == "(a) peps-plus":
                    continue
                result = measure(regime, catalogue, variant, name, timeout, args.timeline)
                print(
                    f"{name:<24} {result.makespan:8.1f}s {bound:6.1f}s {result.makespan / bound:6.2f} "
                    f"{result.requests / regime.count:9.2f} {result.md5_ok:>4}/{regime.count:<3} {result.peak_mb:8.1f}"
                )
                sys.stdout.flush()
    if args.no_memory:
        return
    print("\nmemory of (a) vs product size (tracemalloc peak of Python allocations, one product):")
    for size, peak in memory_probe():
        print(f"  {size:>3} MB product: {peak:6.2f} MB peak")


if __name__ == "__main__":
    main()
