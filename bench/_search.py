"""What both search benchmarks share: EODAG's own per-product time, and the printed figures."""

from __future__ import annotations

import time
from typing import Any

from _ab import table


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
