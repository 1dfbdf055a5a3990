"""Hostile archives over real HTTP: whatever one product's name, link or server does, it fails
alone with its reason and the rest of the batch is downloaded and verified.

Every run is bounded: products are online (no tape wait), the downloader has a timeout, the
backends an HTTP timeout, and every slow route below ends on its own.
"""

from __future__ import annotations

import hashlib
import io
import logging
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from eodag_peps_plus.backends import get_backend
from eodag_peps_plus.backends.base import Backend
from eodag_peps_plus.http_io import Credentials
from eodag_peps_plus.product import Availability, Product
from eodag_peps_plus.sandbox import DEFAULT_PASSWORD, DEFAULT_USER, Sandbox, SandboxConfig
from eodag_peps_plus.sandbox.app import Request, Response
from eodag_peps_plus.sandbox.scenarios import staging_catalogue
from eodag_peps_plus.staging import Downloader, DownloadReport, DownloadStatus
from eodag_peps_plus.staging.ledger import LEDGER_NAME

from .conftest import Collector, HostileServer

#: Downloader settings scaled for tests (polls and backoffs of a fraction of a second).
FAST: dict[str, Any] = {
    "poll_initial": 0.05,
    "poll_max": 0.2,
    "backoff_base": 0.05,
    "backoff_max": 0.5,
    "quiet": True,
    "timeout": 30.0,
}
GOOD = "S2A_MSIL1C_20200101T105431_N0208_R051_T31TCJ_20200101T112015"
ETAG = '"v1"'


def make_zip(name: str = GOOD, size: int = 20_000) -> bytes:
    """A real zip: one ``.SAFE`` folder with a manifest and an incompressible payload."""
    buffer = io.BytesIO()
    payload = hashlib.sha256(name.encode()).digest() * (size // 32 + 1)
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr(f"{name}.SAFE/manifest.safe", b"<xml/>")
        archive.writestr(f"{name}.SAFE/payload.bin", payload[:size])
    return buffer.getvalue()


def product(
    name: str, url: str, data: bytes | None = None, *, size: bool = True, md5: bool = True
) -> Product:
    return Product(
        id=name,
        native_id=name,
        backend="peps",
        geometry={"type": "Point", "coordinates": [1.0, 43.0]},
        properties={"title": name, "start_datetime": "2020-01-01T00:00:00Z"},
        download_url=url,
        size=len(data) if data is not None and size else None,
        md5=hashlib.md5(data, usedforsecurity=False).hexdigest() if data and md5 else None,
        availability=Availability.ONLINE,
    )


def ranged(data: bytes, request: Request) -> Response:
    """The archive, or the rest of it from a ``Range: bytes=N-`` guarded by ``If-Range``."""
    headers = {"Content-Type": "application/zip", "ETag": ETAG}
    wanted = request.headers.get("Range", "")
    if wanted.startswith("bytes=") and request.headers.get("If-Range", ETAG) == ETAG:
        start = int(wanted[6:].split("-")[0])
        crange = f"bytes {start}-{len(data) - 1}/{len(data)}"
        return Response(206, data[start:], {**headers, "Content-Range": crange})
    return Response(200, data, headers)


def serve(server: HostileServer, path: str, data: bytes) -> str:
    server.route("GET", path, lambda request: ranged(data, request))
    return f"{server.url}{path}"


def peps(server: HostileServer) -> Backend:
    return get_backend("peps", server.url, credentials=Credentials("user", "secret"), timeout=10)


def run(backend: Backend, out: Path, products: list[Product], **options: Any) -> DownloadReport:
    return Downloader(backend, out, **{**FAST, **options}).download(products)


def by_id(report: DownloadReport) -> dict[str, Any]:
    return {p.id: p for p in report.products}


def alone(
    server: HostileServer, out: Path, odd: Product, **options: Any
) -> tuple[DownloadReport, Any]:
    """Run ``odd`` in a batch with a good product; the good one must be downloaded and
    verified whatever ``odd`` does. Returns the report and ``odd``'s entry."""
    data = make_zip()
    good = product(GOOD, serve(server, "/good-one", data), data)
    report = run(peps(server), out, [good, odd], **options)
    found = by_id(report)
    assert found[GOOD].status is DownloadStatus.DONE, report.format()
    assert (out / f"{GOOD}.zip").read_bytes() == data
    return report, found[odd.id]


# -- per-product isolation: unsafe names --------------------------------------------------------
UNSAFE = [
    "../evil",
    "/tmp/evil-absolute",
    "..",
    ".",
    "nul\x00byte",
    "x" * 300,
    "C:x",
    "CON",
    "nul.txt",
    "COM1",
    "LPT9.zip",
    "trailing.",
    "trailing ",
    "back\\slash",
    ".hidden",
    "",
    "S2A_\u202egpj.exe",  # right-to-left override: shows as S2A_exe.jpg
    "S2A_MSIL1C\u200b_X",  # zero-width space: two names that look the same
    "S2A_\ufeffX",  # byte order mark
]


@pytest.mark.parametrize("evil", UNSAFE, ids=lambda n: repr(n[:12]))
def test_unsafe_name_fails_alone(hostile: HostileServer, tmp_path: Path, evil: str) -> None:
    data = make_zip()
    out = tmp_path / "out"
    report, bad = alone(hostile, out, product(evil, serve(hostile, "/dl/evil", data), data))
    assert bad.status is DownloadStatus.FAILED and "name" in bad.reason, report.format()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # nothing written beside it
    assert sorted(p.name for p in out.iterdir()) == [LEDGER_NAME, f"{GOOD}.zip"]


def test_names_equal_but_for_case_fail_alone(hostile: HostileServer, tmp_path: Path) -> None:
    """``ABC`` and ``abc`` are one file on Windows and macOS: the second one fails alone
    instead of both writing the same file."""
    data = make_zip()
    twin = GOOD.lower()
    report, entry = alone(hostile, tmp_path, product(twin, serve(hostile, "/t", data), data))
    assert entry.status is DownloadStatus.FAILED and "letter case" in entry.reason
    assert not (tmp_path / f"{twin}.zip").exists()


def test_unsafe_maja_result_fails_alone(hostile: HostileServer, tmp_path: Path) -> None:
    """``maja fetch``: a result name from the server that cannot be a file name."""
    from eodag_peps_plus.processing import processing_for
    from eodag_peps_plus.processing.base import ResultFile
    from eodag_peps_plus.processing.download import download_results

    data = make_zip()
    md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
    results = [
        ResultFile("../../escaped", serve(hostile, "/r/evil", data), len(data), md5),
        ResultFile("SENTINEL2A_20200101-105432_L2A_T31TCJ", serve(hostile, "/r/ok", data), None),
    ]
    outcomes = download_results(processing_for(peps(hostile)), results, tmp_path / "l2a")
    assert [o.ok for o in outcomes] == [False, True], [o.error for o in outcomes]
    assert "name" in (outcomes[0].error or "")
    assert outcomes[1].path is not None and outcomes[1].path.read_bytes() == data
    assert not (tmp_path / "escaped.zip").exists()


def test_unsafe_maja_result_is_never_present(tmp_path: Path) -> None:
    """An absolute result name must not make a file outside the folder count as fetched."""
    from eodag_peps_plus.processing.base import ResultFile
    from eodag_peps_plus.processing.download import present

    outside = tmp_path / "outside.zip"
    outside.write_bytes(make_zip())
    folder = tmp_path / "l2a"
    folder.mkdir()
    result = ResultFile(str(tmp_path / "outside"), "http://127.0.0.1:9/x.zip")
    assert not present(result, folder)


# -- per-product isolation: links and unexpected errors -----------------------------------------
@pytest.mark.parametrize("link", ["not a url", "ftp://127.0.0.1/x.zip", "http://[::1"])
def test_bad_link_fails_alone_at_once(hostile: HostileServer, tmp_path: Path, link: str) -> None:
    report, bad = alone(hostile, tmp_path, product("S1A_BAD_LINK", link, make_zip()))
    assert bad.status is DownloadStatus.FAILED and bad.attempts <= 1, report.format()
    assert "unusable download link" in bad.reason


def test_unexpected_error_fails_alone_at_once(hostile: HostileServer, tmp_path: Path) -> None:
    """A catalogue record a transfer cannot handle (an MD5 that is not text, as an edited
    results file may carry): an error of that product, not of the batch, and not retried."""
    data = make_zip()
    odd = product("S1A_ODD_RECORD", serve(hostile, "/odd", data), data)
    odd.md5 = 12345  # type: ignore[assignment]
    report, entry = alone(hostile, tmp_path, odd)
    assert entry.status is DownloadStatus.FAILED and entry.attempts == 1, report.format()
    assert "unexpected error" in entry.reason


def test_foreign_link_fails_alone_without_credentials(
    hostile: HostileServer, collector: Collector, tmp_path: Path
) -> None:
    """A download link edited to point at another host: that product fails alone, and the
    foreign host never sees the password (the ``collector`` fails the test if it does)."""
    foreign = product("S2B_FOREIGN", f"{collector.url}/steal.zip", make_zip())
    report, entry = alone(hostile, tmp_path, foreign, timeout=5.0)
    assert entry.status is not DownloadStatus.DONE, report.format()
    assert not (tmp_path / "S2B_FOREIGN.zip").exists()


def test_foreign_restore_link_fails_alone_at_once(
    hostile: HostileServer, collector: Collector, tmp_path: Path
) -> None:
    """An offline product whose link names another host: its restore request is refused
    before anything is sent, the product fails at once (no retry loop), the rest goes on."""
    foreign = product("S2B_FOREIGN_TAPE", f"{collector.url}/restore.zip", make_zip())
    foreign.availability = Availability.OFFLINE
    report, entry = alone(hostile, tmp_path, foreign, timeout=10.0)
    assert entry.status is DownloadStatus.FAILED, report.format()
    assert entry.reason.startswith("restore request refused") and collector.url in entry.reason
    assert collector.requests == []


# -- integrity without a catalogue checksum -----------------------------------------------------
def test_truncated_archive_without_size_or_md5_is_never_accepted(
    hostile: HostileServer, tmp_path: Path
) -> None:
    data = make_zip()
    cut = data[: len(data) // 2]  # announced with its own (short) Content-Length
    url = serve(hostile, "/cut", cut)
    report = run(peps(hostile), tmp_path, [product(GOOD, url, data, size=False, md5=False)])
    [entry] = report.products
    assert entry.status is DownloadStatus.FAILED, report.format()
    assert "zip" in entry.reason
    assert not (tmp_path / f"{GOOD}.zip").exists()
    assert not (tmp_path / f"{GOOD}.zip.part").exists()


def test_corrupt_member_without_md5_is_refetched(hostile: HostileServer, tmp_path: Path) -> None:
    """Same length, one payload byte flipped, no MD5 in the catalogue: the member CRC tells."""
    data = make_zip()
    bad = bytearray(data)
    bad[len(data) // 2] ^= 0xFF
    replies = iter([bytes(bad)])

    def reply(request: Request) -> Response:
        return ranged(next(replies, data), request)

    hostile.route("GET", "/crc", reply)
    url = f"{hostile.url}/crc"
    report = run(peps(hostile), tmp_path, [product(GOOD, url, data, md5=False)])
    [entry] = report.products
    assert entry.status is DownloadStatus.DONE, report.format()
    assert entry.checks == ("size", "zip CRCs")
    assert "MD5" not in entry.reason.replace("no MD5 in the catalogue", "")
    assert (tmp_path / f"{GOOD}.zip").read_bytes() == data


def test_report_names_the_checks_made(hostile: HostileServer, tmp_path: Path) -> None:
    data = make_zip()
    names = {
        "S1A_FULL": {},
        "S1A_NO_MD5": {"md5": False},
        "S1A_NOTHING": {"size": False, "md5": False},
    }
    products = [
        product(name, serve(hostile, f"/c/{name}", data), data, **flags)
        for name, flags in names.items()
    ]
    report = run(peps(hostile), tmp_path, products)
    found = by_id(report)
    assert report.ok, report.format()
    assert found["S1A_FULL"].checks == ("size", "MD5", "zip directory")
    assert found["S1A_NO_MD5"].checks == ("size", "zip CRCs")
    assert found["S1A_NOTHING"].checks == ("zip CRCs",)
    assert "no size or MD5 in the catalogue" in found["S1A_NOTHING"].reason
    assert "size and MD5" not in report.format()


# -- stalls -------------------------------------------------------------------------------------
def _slow_route(
    server: HostileServer, path: str, data: bytes, body: Callable[[bytes], Iterator[bytes]]
) -> list[Request]:
    """First request: ``body(data)`` (slow); later ones (resumes): the normal ranged reply."""
    seen: list[Request] = []

    def reply(request: Request) -> Response:
        seen.append(request)
        if len(seen) == 1:
            # drop_after: close the connection when the slow body ends, complete or not
            return Response(
                200,
                body(data),
                {"Content-Type": "application/zip", "ETag": ETAG},
                length=len(data),
                drop_after=len(data),
            )
        return ranged(data, request)

    server.route("GET", path, reply)
    return seen


def test_silent_server_is_cut_and_resumed(
    hostile: HostileServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """1000 bytes, then nothing for 8 s: cut after ``stall_timeout`` and resumed with Range
    (the backend's own HTTP timeout, 10 s, would not have fired)."""

    def silent(data: bytes) -> Iterator[bytes]:
        yield data[:1000]
        time.sleep(8.0)
        yield data[1000:]

    data = make_zip()
    seen = _slow_route(hostile, "/silent", data, silent)
    products = [product(GOOD, f"{hostile.url}/silent", data)]
    with caplog.at_level(logging.INFO, logger="eodag.peps_plus.staging"):
        report = run(peps(hostile), tmp_path, products, stall_timeout=0.5)
    [entry] = report.products
    assert entry.status is DownloadStatus.DONE and "resumed at byte 1000" in entry.reason, (
        report.format()
    )
    assert seen[-1].headers.get("Range") == "bytes=1000-"
    assert "no byte for 0.5 s" in caplog.text


def test_silent_server_cannot_hold_a_stream(hostile: HostileServer) -> None:
    """EODAG's ``stream_download`` path: a stalled body ends in one clear error."""
    from eodag_peps_plus.exceptions import DownloadError
    from eodag_peps_plus.staging.stream import open_stream

    def silent(data: bytes) -> Iterator[bytes]:
        yield data[:1000]
        time.sleep(8.0)
        yield data[1000:]

    data = make_zip()
    _slow_route(hostile, "/stream", data, silent)
    stream = open_stream(
        peps(hostile), product(GOOD, f"{hostile.url}/stream", data), stall_timeout=0.5
    )
    received = 0
    with pytest.raises(DownloadError, match="interrupted after 1000 bytes"):
        for chunk in stream.chunks:
            received += len(chunk)
    assert received == 1000


def test_dripping_server_cannot_hold_a_transfer(hostile: HostileServer, tmp_path: Path) -> None:
    """One byte every 0.2 s, on every request: each attempt is cut after the rate window and
    the product fails alone once its attempts are spent; the other product is downloaded."""
    data = make_zip()

    def drip(request: Request) -> Response:
        def body() -> Iterator[bytes]:
            start = time.monotonic()
            yield data[:100]
            for i in range(100, len(data)):
                if time.monotonic() - start > 4.0:  # bounded even if nobody cuts it
                    return
                time.sleep(0.2)
                yield data[i : i + 1]

        headers = {"Content-Type": "application/zip"}  # no ETag: every attempt restarts
        return Response(200, body(), headers, length=len(data), drop_after=len(data))

    hostile.route("GET", "/drip", drip)
    dripper = product("S1A_DRIP", f"{hostile.url}/drip", data)
    options = {"min_rate": 1000.0, "rate_window": 0.6, "max_attempts": 2}
    report, dripping = alone(hostile, tmp_path, dripper, **options)
    assert dripping.status is DownloadStatus.FAILED, report.format()
    assert "stalled" in dripping.reason and "minimum rate" in dripping.reason
    assert dripping.attempts == 2
    assert not (tmp_path / "S1A_DRIP.zip").exists()


# -- restores: intent recorded, never sent -------------------------------------------------------
def test_restore_recorded_but_never_sent_is_asked_again(
    make_sandbox: Callable[..., Sandbox], tmp_path: Path
) -> None:
    """A run killed between recording its restore request and sending it: the next run asks
    again at once instead of waiting 30 minutes for a restore nobody asked for."""
    catalogue = staging_catalogue(1, size_range=(100_000, 100_000), offline=1.0, seed=7)
    sb = make_sandbox(SandboxConfig(time_scale=0.001, restore_latency=(100.0, 300.0)), catalogue)
    backend = get_backend(
        "peps", sb.url, credentials=Credentials(DEFAULT_USER, DEFAULT_PASSWORD), timeout=10
    )
    [offline] = list(backend.search(backend_query()))
    assert offline.availability is not Availability.ONLINE
    ledger = tmp_path / LEDGER_NAME
    # The killed process: it wrote its intent to the ledger, then died before sending.
    killed = (
        "import os, sys\n"
        "from eodag_peps_plus.staging.ledger import Ledger\n"
        "ledger = Ledger(sys.argv[1])\n"
        "ledger.ensure(sys.argv[2], None, None)\n"
        "assert ledger.claim_restore(sys.argv[2], retry_after=1800.0)\n"
        "os._exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", killed, str(ledger), offline.id], check=True, timeout=60)
    report = run(backend, tmp_path, [offline], timeout=10.0)
    [entry] = report.products
    assert entry.status is DownloadStatus.DONE, report.format()
    assert entry.restore_requested


def backend_query() -> Any:
    from eodag_peps_plus.query import Query

    return Query.create(collection="S2ST")


# -- the archive-reply classifier: one answer for restores and transfers -------------------------
@pytest.mark.parametrize(
    "kind", ["application/xml", "text/xml", "application/problem+json", "text/csv"]
)
@pytest.mark.parametrize("backend_name", ["peps", "geodes"])
def test_restore_reply_that_is_a_message_is_not_online(
    hostile: HostileServer, backend_name: str, kind: str
) -> None:
    body = b"<?xml version='1.0'?><error>Service busy</error>"
    hostile.route("GET", "/r/.*", Response(200, body, {"Content-Type": kind}))
    backend = get_backend(
        backend_name, hostile.url, credentials=Credentials("user", "secret", "key"), timeout=10
    )
    target = product("S1A_MESSAGE", f"{hostile.url}/r/x.zip")
    # Not the archive, and no word of a restore either: "sent, not online", never "staging".
    assert backend.request_restore(target) is None
