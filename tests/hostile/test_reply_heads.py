"""One deadline from connect to the last header (issue 25, items 1 and 5): a front end that
accepts and never answers, or drips its headers, is reported as such within the request's
timeout, in one line, for searches, availability, status look-ups and downloads; a head over
any sane size (a 1 MB header, 5,000 headers) is called what it is, not "cannot connect".

Each server below misbehaves below HTTP (:mod:`.raw`), over real TCP on loopback.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from eodag_peps_plus.backends import get_backend
from eodag_peps_plus.exceptions import BackendError
from eodag_peps_plus.http_io import Credentials
from eodag_peps_plus.processing import processing_for
from eodag_peps_plus.query import Query
from eodag_peps_plus.staging.transfer import Outcome, TransferJob, run_transfer

from .bounded import within
from .raw import (
    RawServer,
    black_hole,
    drip_headers,
    huge_header,
    many_headers,
    raw_server,
    silent,
)
from .test_downloads import make_zip, product

ACCOUNT = Credentials("user", "secret")
QUERY = Query.create(collection="S2ST", start="2020-01-01")
NO_HEADERS = "accepted the connection but had not sent its reply headers after 1 s"
BAD_HEAD = "sent a reply head no client accepts"


def _search(server: RawServer) -> None:
    get_backend("peps", server.url, timeout=1.0).count(QUERY)


def _availability(server: RawServer) -> None:
    backend = get_backend("geodes", server.url, timeout=1.0)
    backend.availability([product("S2A_X", f"{server.url}/download/x", make_zip())])


def _status(server: RawServer) -> None:
    backend = get_backend("peps", server.url, credentials=ACCOUNT, timeout=1.0)
    processing_for(backend).status("job-1", f"{server.url}/wps/status/job-1.xml")


CALLS: dict[str, Callable[[RawServer], None]] = {
    "search": _search,
    "availability": _availability,
    "status": _status,
}


@pytest.mark.parametrize("call", CALLS)
@pytest.mark.parametrize("handler", [silent, drip_headers], ids=["silent", "drip"])
def test_a_server_that_sends_no_head_is_reported_within_the_timeout(
    call: str, handler: Callable[..., None]
) -> None:
    with raw_server(handler) as server:
        started = time.monotonic()
        with pytest.raises(BackendError, match=NO_HEADERS) as caught:
            within(lambda: CALLS[call](server))
        elapsed = time.monotonic() - started
    assert "cannot connect" not in str(caught.value)
    assert "\n" not in str(caught.value)
    assert elapsed < 4.0, f"{elapsed:.1f} s for a 1 s timeout"
    assert server.connections == 1, "a late head is not sent again"


@pytest.mark.parametrize("handler", [huge_header, many_headers], ids=["1MB", "5000"])
@pytest.mark.parametrize("call", CALLS)
def test_an_oversized_head_is_not_a_connection_failure(
    call: str, handler: Callable[..., None]
) -> None:
    with raw_server(handler) as server, pytest.raises(BackendError, match=BAD_HEAD) as caught:
        within(lambda: CALLS[call](server))
    assert "cannot connect" not in str(caught.value)


@pytest.mark.parametrize("handler", [silent, drip_headers], ids=["silent", "drip"])
def test_a_download_with_no_head_ends_at_the_stall_timeout(
    handler: Callable[..., None], tmp_path: Path
) -> None:
    """``--stall-timeout`` bounds a transfer's wait for its head as it bounds its waits for
    bytes (the backend's request timeout is far longer)."""
    with raw_server(handler) as server:
        backend = get_backend("peps", server.url, credentials=ACCOUNT, timeout=30.0)
        data = make_zip()
        job = TransferJob(product("S2A_X", f"{server.url}/dl/x", data), backend, tmp_path)
        job.stall_timeout = 1.0
        started = time.monotonic()
        result = within(lambda: run_transfer(job))
        elapsed = time.monotonic() - started
    assert result.outcome is Outcome.RETRY
    assert NO_HEADERS in result.reason and "cannot connect" not in result.reason
    assert elapsed < 4.0


def test_a_download_whose_connect_never_ends_stops_at_the_stall_timeout(tmp_path: Path) -> None:
    """The deadline counts from the connect: a black hole holds a transfer for its stall
    timeout a try (urllib3 tries a connection three times), not the backend's 30 s each."""
    with black_hole() as url:
        backend = get_backend("peps", url, credentials=ACCOUNT, timeout=30.0)
        job = TransferJob(product("S2A_X", f"{url}/dl/x", make_zip()), backend, tmp_path)
        job.stall_timeout = 1.0
        started = time.monotonic()
        result = within(lambda: run_transfer(job))
        elapsed = time.monotonic() - started
    assert result.outcome is Outcome.RETRY
    assert "did not accept the connection in time" in result.reason, result.reason
    assert elapsed < 10.0
