"""Members against whole archives: bytes on the wire and time for one batch, in one run, with
an A/B against the previous release.

A batch of Sentinel-2 L1C products with the sandbox's SAFE trees (every band file at its
share, generated on the fly; up to ~100 MB a product: the sandbox's search replies hash each
archive) is downloaded four ways from one sandbox, rounds interleaved: (a) whole archives,
(b) B04+B08, (c) the 20 m SWIR bands B11+B12, (d) metadata only. Each download runs in a
child process (this one only serves HTTP), once with this tree's code and once with the
previous release's (``git archive`` of :data:`PREVIOUS`), the same way.

What is counted (the Done-when of issue #22):

* ``fetched``: archive bytes the server sent during the download (its own count; the search
  before it is left out);
* ``compressed``: the selected members' compressed sizes, as their zip directory lists them;
* ``stored``: what those members occupy in the archives, each from its local header to the
  next member (header, data, descriptor): a range request must read the local header, as
  only it says where the data starts (its extra field is not in the directory);
* ``dir``: the bytes of the requests that read the zip directory, as served (the server's
  log of ranges: every request reaching past the directory's start), not a constant;
* ``/(compr+dir)``: fetched over compressed + dir, the Done-when's "within 1 % + one central
  directory read"; ``/(stored+dir)``: the same against what the members occupy;
* the overhead over the compressed sizes, split: local headers, gaps (bytes between selected
  members read to save a request), and directory reads beyond the directory itself;
* time: the median download time, and its fraction of the whole archives' beside the bytes'
  fraction (bandwidth-bound at ``--bps``: time should follow bytes).

    python bench/partial.py [--products 50] [--size-mb 4] [--rounds 2] [--bps 50e6]
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import os
import re
import statistics
import struct
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

from eodag_peps_plus.sandbox import DEFAULT_PASSWORD, DEFAULT_USER, Sandbox, SandboxConfig
from eodag_peps_plus.sandbox.scenarios import staging_catalogue
from eodag_peps_plus.staging.members import member_pattern

#: The previous release the A/B runs against.
PREVIOUS = "54b6aa2"
HERE = Path(__file__).resolve().parent.parent
CASES: dict[str, str | None] = {
    "whole archives": None,
    "B04+B08": member_pattern(bands=["B04", "B08"]),
    "B11+B12 (20 m SWIR)": member_pattern(bands=["B11", "B12"]),
    "metadata": member_pattern(metadata=True),
}
CHILD = """
import sys, time
from eodag_peps_plus.backends import get_backend
from eodag_peps_plus.http_io import Credentials
from eodag_peps_plus.query import Query
from eodag_peps_plus.staging import Downloader

url, out, user, password, members = sys.argv[1:6]
backend = get_backend("peps", url, credentials=Credentials(user, password))
products = list(backend.search(Query.create(collection="S2ST")))
print("ready", flush=True)
sys.stdin.readline()
start = time.perf_counter()
report = Downloader(
    backend, out, quiet=True, poll_initial=0.05, members=members or None
).download(products)
print(time.perf_counter() - start, report.ok, flush=True)
"""


@dataclasses.dataclass
class Selection:
    """What a case's members are in the archives: compressed, stored, local headers."""

    compressed: int = 0
    stored: int = 0
    headers: int = 0


@dataclasses.dataclass
class Run:
    """One download: server-counted bytes, their split, and the child's time."""

    fetched: int
    directory: int
    reads: int
    members: int
    seconds: float
    #: Archive requests, and the bytes of all replies' status lines and headers.
    requests: int = 0
    headers: int = 0


@dataclasses.dataclass
class Layout:
    """One archive, as read by :mod:`zipfile` (not by the code measured): its size, where its
    directory starts, and per member ``(path, compressed, stored, local header)``."""

    size: int
    start_dir: int
    members: list[tuple[str, int, int, int]]


class ArchiveReader(io.RawIOBase):
    """A sandbox archive as a seekable file, read on demand (products of real size)."""

    def __init__(self, archive: Any, size: int) -> None:
        self.archive, self.size, self.position = archive, size, 0

    def seekable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        base = (0, self.position, self.size)[whence]
        self.position = max(0, base + offset)
        return self.position

    def tell(self) -> int:
        return self.position

    def readinto(self, buffer: Any) -> int:
        end = min(self.size, self.position + len(buffer))
        data = b"".join(self.archive.iter_bytes(self.position, end))
        buffer[: len(data)] = data
        self.position += len(data)
        return len(data)


def archive_layout(sb: Sandbox) -> dict[str, Layout]:
    """Each product's archive layout (its archive built before any timing)."""
    found = {}
    for entry in sb.catalogue.entries:
        reader = ArchiveReader(sb.archive_of(entry), entry.size)
        with zipfile.ZipFile(reader) as archive:
            infos = sorted(archive.infolist(), key=lambda i: i.header_offset)
            start_dir = archive.start_dir
        ends = [i.header_offset for i in infos[1:]] + [start_dir]
        members = []
        for info, end in zip(infos, ends, strict=True):
            reader.seek(info.header_offset + 26)
            name_len, extra_len = struct.unpack("<HH", reader.read(4))
            stored = end - info.header_offset
            members.append((info.filename, info.compress_size, stored, 30 + name_len + extra_len))
        found[entry.name] = Layout(entry.size, start_dir, members)
    return found


def selection(archives: dict[str, Layout], pattern: str | None) -> Selection:
    """The bytes the selected members take (the whole archives for ``None``)."""
    total = Selection()
    for layout in archives.values():
        if pattern is None:
            total.compressed += layout.size
            total.stored += layout.size
            continue
        for path, compressed, stored, header in layout.members:
            if re.search(pattern, path):
                total.compressed += compressed
                total.stored += stored
                total.headers += header
    return total


def download(sb: Sandbox, source: Path, pattern: str | None, archives: dict[str, Layout]) -> Run:
    """One download of the batch by a child running the code under ``source``."""
    env = {**os.environ, "PYTHONPATH": str(source)}
    with tempfile.TemporaryDirectory() as out:
        args = [sys.executable, "-c", CHILD, sb.url, out, DEFAULT_USER, DEFAULT_PASSWORD,
                pattern or ""]  # fmt: skip
        with subprocess.Popen(
            args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, cwd=out
        ) as child:  # not this folder: ``-c`` puts the working folder first on the path
            assert child.stdin is not None and child.stdout is not None
            assert child.stdout.readline().strip() == "ready"
            time.sleep(0.3)  # the search reply's last bytes are counted once sent
            sb.served.clear()
            before = sb.stats["bytes_sent"]
            heads = sb.stats["header_bytes_sent"]
            child.stdin.write("go\n")
            child.stdin.flush()
            seconds, ok = child.stdout.readline().split()
        assert child.returncode == 0 and ok == "True", f"{source}: the download failed"
        time.sleep(0.2)
        fetched = sb.stats["bytes_sent"] - before
        headers = sb.stats["header_bytes_sent"] - heads
    directory = reads = members = 0
    for name, start, end in sb.served:
        if end > archives[name].start_dir:
            directory, reads = directory + end - start, reads + 1
        else:
            members += end - start
    return Run(fetched, directory, reads, members, float(seconds), len(sb.served), headers)


def previous_release(folder: Path) -> Path:
    """The previous release's package, extracted from git under ``folder``."""
    tar = subprocess.run(
        ["git", "-C", str(HERE), "archive", PREVIOUS, "eodag_peps_plus"],
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        archive.extractall(folder, filter="data")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=50)
    parser.add_argument("--size-mb", type=float, default=4.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--bps", type=float, default=50e6, help="total bandwidth (bytes/s)")
    parser.add_argument(
        "--cases", default=",".join(CASES), help="comma-separated (time fractions need whole)"
    )
    args = parser.parse_args()
    cases = [c.strip() for c in args.cases.split(",")]
    if unknown := set(cases) - set(CASES):
        parser.error(f"unknown cases {sorted(unknown)}; known: {', '.join(CASES)}")
    size = int(args.size_mb * 1e6)
    catalogue = staging_catalogue(args.products, size_range=(size, size + 1), offline=0.0, seed=5)
    config = SandboxConfig(time_scale=0.001, total_bps=args.bps)
    with Sandbox(catalogue, config, services=("peps",)) as sb, tempfile.TemporaryDirectory() as tmp:
        archives = archive_layout(sb)
        sources = {"new": HERE, "prev": previous_release(Path(tmp))}
        runs: dict[tuple[str, str], list[Run]] = {}
        for round_ in range(args.rounds):
            order = cases if round_ % 2 == 0 else cases[::-1]
            for case in order:
                for version in sources if round_ % 2 == 0 else reversed(sources):
                    run = download(sb, sources[version], CASES[case], archives)
                    runs.setdefault((case, version), []).append(run)
        report(args, archives, runs, cases)


def report(
    args: argparse.Namespace,
    archives: dict[str, Layout],
    runs: dict[tuple[str, str], list[Run]],
    cases: list[str],
) -> None:
    whole = sum(a.size for a in archives.values())
    directory = sum(a.size - a.start_dir for a in archives.values())
    base = runs.get(("whole archives", "new"))
    base_time = statistics.median(r.seconds for r in base) if base else float("nan")
    print(f"{len(archives)} S2 L1C products (SAFE layout), {whole / 1e6:.1f} MB in all, "
          f"{args.rounds} rounds, {args.bps / 1e6:g} MB/s; directories {directory} B in all; "
          f"A/B against {PREVIOUS}")  # fmt: skip
    print(f"{'case':<20}{'fetched':>10}{'compr.':>10}{'stored':>10}{'dir':>9}{'reads':>6}"
          f"{'/(compr+dir)':>13}{'/(stored+dir)':>14}{'bytes frac':>11}{'time s':>8}"
          f"{'time frac':>10}{'prev fetched':>13}{'prev s':>8}{'new/prev':>9}")  # fmt: skip
    notes = []
    for case in cases:
        pattern = CASES[case]
        new, prev = runs[(case, "new")], runs[(case, "prev")]
        got = statistics.median(r.fetched for r in new)
        dir_bytes = statistics.median(r.directory for r in new) if pattern else 0
        reads = statistics.median(r.reads for r in new) if pattern else 0
        need = selection(archives, pattern)
        seconds = statistics.median(r.seconds for r in new)
        prev_seconds = statistics.median(r.seconds for r in prev)
        print(
            f"{case:<20}{got:>10}{need.compressed:>10}{need.stored:>10}{dir_bytes:>9.0f}"
            f"{reads:>6.0f}{got / (need.compressed + dir_bytes):>13.4f}"
            f"{got / (need.stored + dir_bytes):>14.4f}{got / whole:>11.4f}{seconds:>8.2f}"
            f"{seconds / base_time:>10.3f}{statistics.median(r.fetched for r in prev):>13}"
            f"{prev_seconds:>8.2f}{seconds / prev_seconds:>9.3f}"
        )
        requests = statistics.median(r.requests for r in new)
        heads = statistics.median(r.headers for r in new)
        line = f"  {case}: {requests:.0f} archive requests, reply headers {heads:.0f} B"
        if pattern:
            gaps = statistics.median(r.members for r in new) - need.stored
            line += (
                f"; over the compressed sizes, {got - need.compressed} B = local headers "
                f"{need.headers} + gaps {gaps:.0f} + directory reads {dir_bytes:.0f} (the "
                f"directories themselves {directory}, reads beyond them "
                f"{dir_bytes - directory:.0f})"
            )
        notes.append(line)
    print("bytes in B (bodies; reply headers below); dir = the zip directory reads, as served")
    print("\n".join(notes))


if __name__ == "__main__":
    main()
