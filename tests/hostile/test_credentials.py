"""Credentials go to their own server and nowhere else, whatever a reply or a file says.

The ``collector`` (127.0.0.2) stands for a foreign host and fails any test in which a password
or API key reaches it; the ``hostile`` server (127.0.0.1) stands for the user's own server
turned hostile: it redirects, hands out foreign links, or drops TLS.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import trustme

from eodag_peps_plus.backends import get_backend
from eodag_peps_plus.exceptions import ForeignOriginError, PepsPlusError
from eodag_peps_plus.http_io import Credentials
from eodag_peps_plus.processing.base import ResultFile
from eodag_peps_plus.processing.ogc import OgcProcessing
from eodag_peps_plus.processing.wps import WpsProcessing
from eodag_peps_plus.product import Availability, Product
from eodag_peps_plus.query import Query
from eodag_peps_plus.sandbox import DEFAULT_API_KEY, DEFAULT_PASSWORD, DEFAULT_USER
from eodag_peps_plus.sandbox.app import Response
from eodag_peps_plus.staging import Downloader, DownloadStatus

from .conftest import Collector, HostileServer, basic

PEPS_CREDS = Credentials(DEFAULT_USER, DEFAULT_PASSWORD)
GEODES_CREDS = Credentials(api_key=DEFAULT_API_KEY)
ZIP = b"PK\x03\x04" + b"\0" * 60


def _product(url: str, backend: str = "peps") -> Product:
    return Product(
        id="S2A_MSIL1C_20200808T005711_N0209_R002_T55PDR_20200808T021049",
        native_id="5f1b2c3d-0000-0000-0000-000000000000",
        backend=backend,
        geometry={"type": "Point", "coordinates": [1.0, 43.0]},
        properties={"title": "x", "start_datetime": "2020-08-08T00:57:11Z"},
        download_url=url,
        availability=Availability.ONLINE,
    )


def _redirect(to: str, status: int = 302) -> Response:
    return Response(status, b"", {"Location": to, "Content-Length": "0"})


# -- links in replies and files ------------------------------------------------------------------


def _peps_page(recorded: Path, download_host: str) -> dict[str, object]:
    """The recorded PEPS page, its download links rewritten to ``download_host``."""
    page = json.loads(recorded.read_text())
    for feature in page["features"]:
        props = feature["properties"]
        props["services"]["download"]["url"] = (
            f"{download_host}/resto/collections/S2ST/{feature['id']}/download"
        )
        props["storage"]["mode"] = "disk"
    page["properties"]["links"] = []
    return page


def test_peps_search_reply_links_to_a_foreign_host_are_refused(
    hostile: HostileServer, collector: Collector, tmp_path: Path, fixture_path
) -> None:
    page = _peps_page(fixture_path("peps_search_S2ST_page1.json"), collector.url)
    hostile.route("GET", "/resto/api/collections/S2ST/search.json", Response.json(page))
    backend = get_backend("peps", hostile.url, credentials=PEPS_CREDS)
    products = list(backend.search(Query.create(collection="S2ST", start="2020-08-01")))
    assert len(products) == 2
    for product in products:
        for call in (backend.open_download, backend.request_restore):
            with pytest.raises(ForeignOriginError, match=r"127\.0\.0\.2.*not the PEPS server"):
                call(product)
    report = Downloader(backend, tmp_path, quiet=True, timeout=0.05, poll_initial=0.05).download(
        products
    )
    assert all(p.status is not DownloadStatus.DONE for p in report.products)
    assert not list(tmp_path.glob("*.zip"))
    assert collector.requests == []


def test_edited_results_file_cannot_send_the_password_elsewhere(
    sandbox, collector: Collector, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``eodag download --search-results`` of a file someone edited: EODAG's own path."""
    from eodag_peps_plus.eodag_support import gateway

    monkeypatch.setenv("EODAG__PEPS__AUTH__CREDENTIALS__USERNAME", DEFAULT_USER)
    monkeypatch.setenv("EODAG__PEPS__AUTH__CREDENTIALS__PASSWORD", DEFAULT_PASSWORD)
    dag = gateway(peps=sandbox.url)
    results = dag.search(
        provider="peps", collection="S2_MSI_L1C", tileid="31TCJ", start="2020-06-01",
        end="2020-06-20", limit=2,
    )  # fmt: skip
    path = tmp_path / "results.geojson"
    dag.serialize(results, filename=str(path))
    text = path.read_text().replace(sandbox.url, collector.url)
    path.write_text(text)
    edited = dag.deserialize_and_register(str(path))
    assert edited and all(collector.url in p.remote_location for p in edited)
    try:
        dag.download_all(edited, output_dir=str(tmp_path / "out"), timeout=0.05, wait=0.01)
    except Exception as exc:  # EODAG may raise; what matters is where the password went
        assert DEFAULT_PASSWORD not in str(exc)
    assert not list((tmp_path / "out").glob("*.zip")) if (tmp_path / "out").exists() else True


def test_trusted_mirror_gets_the_credentials_when_configured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    mirror = HostileServer("127.0.0.2").start()
    try:
        mirror.route("GET", "/.*", Response(200, ZIP, {"Content-Type": "application/zip"}))
        product = _product(f"{mirror.url}/resto/collections/S2ST/x/download")
        plain = get_backend("peps", "http://127.0.0.1:9", credentials=PEPS_CREDS)
        with pytest.raises(ForeignOriginError, match="TRUSTED_ORIGINS"):
            plain.open_download(product)
        assert mirror.requests == []
        trusting = get_backend(
            "peps", "http://127.0.0.1:9", credentials=PEPS_CREDS, trusted_origins=[mirror.url]
        )
        with trusting.open_download(product) as response:
            assert response.status_code == 200
        assert mirror.requests[0].basic_auth() == (DEFAULT_USER, DEFAULT_PASSWORD)
    finally:
        mirror.stop()


def test_trusted_origins_from_the_eodag_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from eodag_peps_plus.eodag_support import open_backend

    monkeypatch.setenv(
        "EODAG__PEPS__AUTH__TRUSTED_ORIGINS", "http://127.0.0.2:8000, https://m.example"
    )
    backend = open_backend("peps", "http://127.0.0.1:9", credentials=PEPS_CREDS)
    assert backend.credential_origins == {
        "http://127.0.0.1:9",
        "http://127.0.0.2:8000",
        "https://m.example:443",
    }
    monkeypatch.delenv("EODAG__PEPS__AUTH__TRUSTED_ORIGINS")
    assert open_backend("peps", "http://127.0.0.1:9").credential_origins == {"http://127.0.0.1:9"}


# -- redirects -----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_peps_archive_redirect_to_a_foreign_host_drops_the_password(
    hostile: HostileServer, collector: Collector, status: int
) -> None:
    hostile.route(
        "GET", "/resto/collections/S2ST/.*", _redirect(f"{collector.url}/take.zip", status)
    )
    backend = get_backend("peps", hostile.url, credentials=PEPS_CREDS)
    product = _product(f"{hostile.url}/resto/collections/S2ST/abc/download")
    with backend.open_download(product) as response:
        assert response.status_code == 200
    assert hostile.requests[0].headers.get("Authorization") == basic(DEFAULT_USER, DEFAULT_PASSWORD)
    assert len(collector.requests) == 1  # followed, without the password (fixture checks)


def test_geodes_archive_redirect_to_a_foreign_host_drops_the_api_key(
    hostile: HostileServer, collector: Collector
) -> None:
    hostile.route("GET", "/api/download/.*", _redirect(f"{collector.url}/files/x"))
    backend = get_backend("geodes", hostile.url, credentials=GEODES_CREDS)
    product = _product(f"{hostile.url}/api/download/URN:X/files/abc", "geodes")
    with backend.open_download(product) as response:
        assert response.status_code == 200
    backend.request_restore(product)
    assert hostile.requests[0].headers.get("X-API-Key") == DEFAULT_API_KEY
    assert collector.requests and all(not r.headers.get("X-API-Key") for r in collector.requests)


def test_redirect_chain_back_home_gets_the_key_again_but_never_abroad(
    hostile: HostileServer, collector: Collector
) -> None:
    """own -> own (key kept) -> foreign (key dropped)."""
    hostile.route("GET", "/api/download/first", _redirect("/api/download/second"))
    hostile.route("GET", "/api/download/second", _redirect(f"{collector.url}/third"))
    backend = get_backend("geodes", hostile.url, credentials=GEODES_CREDS)
    with backend.open_download(_product(f"{hostile.url}/api/download/first", "geodes")):
        pass
    assert [r.headers.get("X-API-Key") for r in hostile.requests] == [DEFAULT_API_KEY] * 2
    assert len(collector.requests) == 1


def test_generic_stac_archive_redirect_drops_the_key(
    hostile: HostileServer, collector: Collector
) -> None:
    from eodag_peps_plus.backends.stac_api import StacApiBackend

    hostile.route("GET", "/data/.*", _redirect(f"{collector.url}/x"))
    backend = StacApiBackend(hostile.url, credentials=GEODES_CREDS)
    with backend.open_download(_product(f"{hostile.url}/data/x.zip", "stac")):
        pass
    assert len(collector.requests) == 1


@pytest.fixture
def tls_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[HostileServer, str]]:
    """A hostile server over https (a CA made for the test) and the CA bundle to trust it."""
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):  # requests lets these win
        monkeypatch.delenv(name, raising=False)
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    server = HostileServer()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(context)
    server.server.socket = context.wrap_socket(server.server.socket, server_side=True)
    server.start()
    with ca.cert_pem.tempfile() as bundle:
        yield server, bundle
    server.stop()


def test_https_to_http_redirect_on_the_same_host_drops_the_password(
    tls_server: tuple[HostileServer, str],
) -> None:
    server, bundle = tls_server
    plain = HostileServer().start()  # same host, plain http
    try:
        plain.route("GET", "/.*", Response(200, ZIP, {"Content-Type": "application/zip"}))
        host, port = server.server.server_address[:2]
        https_url = f"https://{host}:{port}"
        server.route("GET", "/resto/.*", _redirect(f"{plain.url}/x.zip"))
        backend = get_backend("peps", https_url, credentials=PEPS_CREDS, verify=bundle)
        with backend.open_download(_product(f"{https_url}/resto/collections/S2ST/a/download")):
            pass
        assert server.requests[0].headers.get("Authorization")  # its own origin, over TLS
        assert plain.requests and not plain.requests[0].headers.get("Authorization")
        # A link that itself drops to http is refused before anything is sent.
        with pytest.raises(ForeignOriginError):
            backend.open_download(
                _product(f"http://{host}:{port}/resto/collections/S2ST/a/download")
            )
    finally:
        plain.stop()


def test_tls_verification_stays_on(tls_server: tuple[HostileServer, str]) -> None:
    server, _ = tls_server
    host, port = server.server.server_address[:2]
    backend = get_backend("peps", f"https://{host}:{port}", credentials=PEPS_CREDS)
    with pytest.raises(requests.exceptions.SSLError):
        backend.open_download(_product(f"https://{host}:{port}/resto/collections/S2ST/a/download"))
    assert server.requests == []


# -- processing: status and result URLs taken from replies ----------------------------------------


def test_ogc_status_and_result_urls_elsewhere_get_no_key(
    hostile: HostileServer, collector: Collector
) -> None:
    processes = {"processes": [{"id": "maja"}, {"id": "full-maja"}]}
    hostile.route("GET", "/api/processing/processes/?", Response.json(processes))
    hostile.route(
        "GET",
        "/api/processing/jobs/j1",
        Response.json(
            {"status": "successful", "links": [{"rel": "results", "href": f"{collector.url}/r"}]}
        ),
    )
    processing = OgcProcessing(get_backend("geodes", hostile.url, credentials=GEODES_CREDS))
    with pytest.raises(ForeignOriginError, match="another origin"):  # issue 25 item 6
        processing.status("j1")
    assert all(r.headers.get("X-API-Key") == DEFAULT_API_KEY for r in hostile.requests)
    with pytest.raises(ForeignOriginError, match="another origin"):
        processing.status("j1", status_url=f"{collector.url}/jobs/j1")
    with pytest.raises(ForeignOriginError, match="127.0.0.2"):
        processing.open_result(ResultFile("L2A.zip", f"{collector.url}/L2A.zip"))
    assert collector.requests == []  # links elsewhere are refused, not fetched bare


_STATUS_XML = """<?xml version="1.0"?>
<wps:ExecuteResponse xmlns:wps="http://www.opengis.net/wps/1.0.0"
 xmlns:xlink="http://www.w3.org/1999/xlink" statusLocation="{location}">
 <wps:Status><wps:ProcessSucceeded>done</wps:ProcessSucceeded></wps:Status>
 <wps:ProcessOutputs><wps:Output><wps:Reference href="{report}"/></wps:Output></wps:ProcessOutputs>
</wps:ExecuteResponse>"""


def test_wps_status_location_and_report_elsewhere_get_no_password(
    hostile: HostileServer, collector: Collector
) -> None:
    refresh = _STATUS_XML.format(location=f"{collector.url}/pywps-1.xml", report="")
    hostile.route(
        "GET", "/resto/wps", Response(200, refresh.encode(), {"Content-Type": "text/xml"})
    )
    own = _STATUS_XML.format(location="", report=f"{collector.url}/report.json")
    hostile.route(
        "GET", "/wps/outputs/pywps-1.xml", Response(200, own.encode(), {"Content-Type": "text/xml"})
    )
    processing = WpsProcessing(get_backend("peps", hostile.url, credentials=PEPS_CREDS))
    with pytest.raises(ForeignOriginError, match="another origin"):
        processing.status("1", status_url=f"{collector.url}/pywps-1.xml")
    with pytest.raises(ForeignOriginError, match="another origin"):
        processing.status("1")  # own status document, report link elsewhere
    assert all(r.basic_auth() for r in hostile.requests)
    with pytest.raises(ForeignOriginError):
        processing.open_result(ResultFile("x.zip", f"{collector.url}/x.zip"))
    assert collector.requests == []  # links elsewhere are refused, not fetched bare


def test_wps_result_download_on_its_own_server_has_the_password(
    hostile: HostileServer,
) -> None:
    hostile.route("GET", "/results/.*", Response(200, ZIP, {"Content-Type": "application/zip"}))
    processing = WpsProcessing(get_backend("peps", hostile.url, credentials=PEPS_CREDS))
    with processing.open_result(ResultFile("x.zip", f"{hostile.url}/results/x.zip")) as response:
        assert response.status_code == 200
    assert hostile.requests[0].basic_auth() == (DEFAULT_USER, DEFAULT_PASSWORD)


# -- EODAG's own use of the auth plugin ---------------------------------------------------------


def test_eodag_auth_plugin_attaches_only_to_its_server(
    hostile: HostileServer, collector: Collector, monkeypatch: pytest.MonkeyPatch
) -> None:
    """EODAG attaches ``authenticate()``'s result to quicklook and download requests to any
    URL a product names: it must add nothing outside the provider's server."""
    from eodag.config import PluginConfig

    from eodag_peps_plus.eodag_plugins.auth import PepsPlusAuth

    monkeypatch.setenv("EODAG__GEODES_PLUS__SEARCH__API_ENDPOINT", hostile.url)
    hostile.route("GET", "/.*", Response(200, b"ok"))
    config = PluginConfig.from_mapping(
        {"type": "PepsPlusAuth", "credentials": {"apikey": DEFAULT_API_KEY}}
    )
    auth = PepsPlusAuth("geodes_plus", config).authenticate()
    assert DEFAULT_API_KEY not in repr(auth)
    requests.get(f"{collector.url}/quicklook.jpg", auth=auth, timeout=10)
    requests.get(f"{hostile.url}/quicklook.jpg", auth=auth, timeout=10)
    assert hostile.requests[0].headers.get("X-API-Key") == DEFAULT_API_KEY
    assert len(collector.requests) == 1


# -- secrets in URLs -----------------------------------------------------------------------------


def test_password_in_url_becomes_credentials_and_is_never_shown() -> None:
    backend = get_backend("peps", "http://someone:s3cr3t-pw@127.0.0.1:9")
    assert backend.base_url == "http://127.0.0.1:9"
    assert backend.credentials.basic == ("someone", "s3cr3t-pw")
    assert "s3cr3t" not in repr(backend) and "s3cr3t" not in repr(backend.credentials)
    with pytest.raises(PepsPlusError) as info:
        backend.count(Query.create(collection="S2ST"))
    assert "s3cr3t" not in str(info.value)


def test_collector_would_catch_a_leak() -> None:
    """The harness itself: a request with a credential to the collector is seen as a leak."""
    collector = Collector().start()
    try:
        requests.get(f"{collector.url}/x", headers={"X-API-Key": "k"}, timeout=10)
        assert collector.leaks() == [("GET", "/x", ["x-api-key"])]
    finally:
        collector.stop()


def test_requests_alone_would_leak_the_api_key(hostile: HostileServer) -> None:
    """Why the origin binding exists: plain requests forwards X-API-Key across hosts."""
    collector = Collector().start()
    try:
        hostile.route("GET", "/x", _redirect(f"{collector.url}/y"))
        requests.get(f"{hostile.url}/x", headers={"X-API-Key": "k"}, timeout=10)
        assert collector.leaks()
    finally:
        collector.stop()


def test_a_url_read_from_a_file_gets_the_credentials_only_if_it_is_the_server(
    hostile: HostileServer, collector: Collector
) -> None:
    """Job stores and results files name servers too: an edited one must not move the account."""
    hostile.route("GET", "/results/.*", Response(200, ZIP, {"Content-Type": "application/zip"}))
    own = get_backend("peps", hostile.url, credentials=PEPS_CREDS)
    assert own.sibling(hostile.url + "/").credentials.basic == PEPS_CREDS.basic
    foreign = own.sibling(collector.url)
    assert foreign.credentials.basic is None
    with pytest.raises(PepsPlusError, match="username and password"):
        foreign.open_download(_product(f"{collector.url}/resto/collections/S2ST/a/download"))
    assert collector.requests == []


def test_non_ascii_password_is_sent_as_utf8(make_sandbox) -> None:
    """Passwords with accents and symbols work, as they did with the legacy scripts (curl)."""
    from eodag_peps_plus.sandbox import SandboxConfig

    password = "pässwörd €:Ω 😀"
    sandbox = make_sandbox(SandboxConfig(time_scale=0.01, users={DEFAULT_USER: password}))
    backend = get_backend("peps", sandbox.url, credentials=Credentials(DEFAULT_USER, password))
    product = next(
        p
        for p in backend.search(Query.create(collection="S2ST", tile="31TCJ", start="2020-06-01"))
        if p.availability is Availability.ONLINE
    )
    with backend.open_download(product) as response:
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("application/zip")
