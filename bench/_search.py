"""What both search benchmarks share: EODAG's own per-product time, and the printed figures."""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from _ab import previous_release, rounds, table
from _static import static_server


def eodag_work(eo_product: Any, search: Any) -> float:
    """Seconds spent in EODAG's per-product code during one ``search()``."""
    spent = [0.0]
    originals = {
        name: getattr(eo_product, name)
        for name in ("__init__", "_register_downloader_from_manager")
    }

    def timer(original: Any) -> Any:
        def timed_call(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                spent[0] += time.perf_counter() - start

        return timed_call

    for name, original in originals.items():
        setattr(eo_product, name, timer(original))
    try:
        search()
    finally:
        for name, original in originals.items():
            setattr(eo_product, name, original)
    return spent[0]


def print_figures(
    results: Any, baseline: str | None, n: int, server: str, ours: str, generic: str
) -> None:
    """The figures both search benchmarks print."""

    def rate(name: str) -> Any:
        return lambda r: n / r["seconds"][name]

    def ceiling(r: dict[str, Any]) -> float:
        return float(r["seconds"]["floor"] + r["seconds"]["eodag_work"])

    table(
        f"search of {n} products, pages shaped like the recorded {server} reply, static server",
        results,
        baseline,
        [
            ("floor: requests + json, items/s", rate("floor"), ".0f"),
            ("Client.search().items(), items/s", rate("client"), ".0f"),
            (f'dag.search_all(provider="{ours}"), items/s', rate("ours"), ".0f"),
            (f"{generic}, items/s", rate("generic"), ".0f"),
            ("EODAG per-product work in search_all, s", lambda r: r["seconds"]["eodag_work"], ".2f"),
            ("Client / floor (target <= 1.15x)", lambda r: r["seconds"]["client"] / r["seconds"]["floor"], ".2f"),
            (f"{generic.split()[0]} / search_all (target >= 12x)", lambda r: r["seconds"]["generic"] / r["seconds"]["ours"], ".1f"),
            ("search_all / (floor + EODAG work)", lambda r: r["seconds"]["ours"] / ceiling(r), ".2f"),
            (f"ceiling: {generic.split()[0]} / (floor + EODAG work)", lambda r: r["seconds"]["generic"] / ceiling(r), ".1f"),
        ],
    )  # fmt: skip


def time_each(
    products: int,
    readers: dict[str, Callable[[], int]],
    package: str,
    eo_product: Any,
    repeats: int = 3,
) -> dict[str, Any]:
    """Each reader timed, each counting ``products``: ``floor``, ``client`` and ``ours``
    ``repeats`` times in turn and their medians kept (one run each is noisy on a shared
    machine, and their ratio is the figure), ``generic`` once (it takes the longest); then
    EODAG's own work in one more run of ``ours``: a child's result."""
    times: dict[str, list[float]] = {name: [] for name in readers}
    counts = {}
    for index in range(repeats):
        for name, read in readers.items():
            if index and name == "generic":
                continue
            start = time.perf_counter()
            counts[name] = read()
            times[name].append(time.perf_counter() - start)
    assert set(counts.values()) == {products}, counts
    seconds = {name: statistics.median(spent) for name, spent in times.items()}
    seconds["eodag_work"] = eodag_work(eo_product, readers["ours"])
    return {"package": package, "seconds": seconds}


def main(
    doc: str,
    script: str,
    measure: Callable[[str, int], dict[str, Any]],
    labels: tuple[str, str, str],
) -> None:
    """The command line both search benchmarks share: ``--measure URL`` in a child, else
    the static server, the interleaved A/B rounds and the figures (``labels``: the server,
    our EODAG provider, EODAG's own search)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--products", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--baseline", default=None, help="git rev (default: previous release)")
    parser.add_argument("--no-ab", action="store_true", help="this tree only")
    parser.add_argument("--measure", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.products)))
        return
    baseline = None if args.no_ab else args.baseline or previous_release()
    with static_server(args.products) as url:
        results, baseline = rounds(script, [url, "--products", str(args.products)], args.rounds, baseline)  # fmt: skip
    print_figures(results, baseline, args.products, *labels)
