"""Members against whole archives: bytes on the wire and time for one batch, in one run.

A batch of Sentinel-2 L1C products with the real SAFE layout (:mod:`eodag_peps_plus.sandbox.
safe_layout`: every band file at its real share) is downloaded four ways from the sandbox,
rounds interleaved: (a) whole archives, (b) B04+B08, (c) the 20 m SWIR bands B11+B12,
(d) metadata only. Bytes are counted by the server (body bytes sent), and set against the
compressed sizes the selected members occupy in the archives (``/(members+dir)`` adds one
directory read, :data:`~eodag_peps_plus.staging.members.TAIL_READ` bytes, per product).

    python bench/partial.py [--products 50] [--size-mb 4] [--rounds 2] [--bps 50e6]
"""

from __future__ import annotations

import argparse
import io
import re
import statistics
import tempfile
import time
import zipfile

from eodag_peps_plus.backends import get_backend
from eodag_peps_plus.http_io import Credentials
from eodag_peps_plus.query import Query
from eodag_peps_plus.sandbox import DEFAULT_PASSWORD, DEFAULT_USER, Sandbox, SandboxConfig
from eodag_peps_plus.sandbox.safe_layout import apply_safe_layouts
from eodag_peps_plus.sandbox.scenarios import staging_catalogue
from eodag_peps_plus.staging import Downloader
from eodag_peps_plus.staging.members import TAIL_READ, member_pattern

CASES: dict[str, str | None] = {
    "whole archives": None,
    "B04+B08": member_pattern(bands=["B04", "B08"]),
    "B11+B12 (20 m SWIR)": member_pattern(bands=["B11", "B12"]),
    "metadata": member_pattern(metadata=True),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=50)
    parser.add_argument("--size-mb", type=float, default=4.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--bps", type=float, default=50e6, help="total bandwidth (bytes/s)")
    args = parser.parse_args()
    size = int(args.size_mb * 1e6)
    catalogue = staging_catalogue(args.products, size_range=(size, size + 1), offline=0.0, seed=5)
    config = SandboxConfig(time_scale=0.001, total_bps=args.bps)
    with Sandbox(catalogue, config, services=("peps",)) as sb:
        apply_safe_layouts(sb)
        backend = get_backend(
            "peps", sb.url, credentials=Credentials(DEFAULT_USER, DEFAULT_PASSWORD)
        )
        products = list(backend.search(Query.create(collection="S2ST")))
        whole = sum(p.size or 0 for p in products)
        wanted = {case: _member_bytes(sb, pattern) for case, pattern in CASES.items()}
        sent: dict[str, list[int]] = {case: [] for case in CASES}
        took: dict[str, list[float]] = {case: [] for case in CASES}
        for round_ in range(args.rounds):
            order = list(CASES) if round_ % 2 == 0 else list(reversed(CASES))
            for case in order:
                with tempfile.TemporaryDirectory() as out:
                    time.sleep(0.2)
                    before, start = sb.stats["bytes_sent"], time.perf_counter()
                    report = Downloader(
                        backend, out, quiet=True, members=CASES[case], poll_initial=0.05
                    ).download(products)
                    took[case].append(time.perf_counter() - start)
                    sent[case].append(sb.stats["bytes_sent"] - before)
                    assert report.ok, report.format()
    base_time = statistics.median(took["whole archives"])
    print(f"{len(products)} S2 L1C products, {whole / 1e6:.1f} MB in all, {args.rounds} rounds")
    print(f"{'case':<22}{'fetched MB':>11}{'members MB':>11}{'/members':>10}"
          f"{'/(members+dir)':>15}{'of whole':>10}{'time s':>8}{'time ratio':>11}")  # fmt: skip
    for case in CASES:
        got, need = statistics.median(sent[case]), wanted[case]
        directory = 0 if CASES[case] is None else TAIL_READ * len(products)
        seconds = statistics.median(took[case])
        print(
            f"{case:<22}{got / 1e6:>11.2f}{need / 1e6:>11.2f}{got / need:>10.4f}"
            f"{got / (need + directory):>15.4f}{got / whole:>10.4f}{seconds:>8.2f}"
            f"{seconds / base_time:>11.3f}"
        )


def _member_bytes(sb: Sandbox, pattern: str | None) -> int:
    """The compressed bytes the selected members occupy (the whole archives for ``None``)."""
    total = 0
    for entry in sb.catalogue.entries:
        data = entry.content or b""
        if pattern is None:
            total += len(data)
            continue
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            total += sum(
                i.compress_size for i in archive.infolist() if re.search(pattern, i.filename)
            )
    return total


if __name__ == "__main__":
    main()
