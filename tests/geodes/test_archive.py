"""GEODES archive over HTTP: fastavailability in batches, restore then poll, API-key
downloads, and the errors users hit (missing/wrong key, quota)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

import pytest

from eodag_peps_plus.backends.geodes import GeodesBackend
from eodag_peps_plus.exceptions import AuthenticationError, QuotaExceededError
from eodag_peps_plus.http_io import Credentials
from eodag_peps_plus.product import Availability, Product
from eodag_peps_plus.query import Query
from eodag_peps_plus.sandbox import DEFAULT_API_KEY, Sandbox, SandboxConfig

#: Old enough that most products are on tape.
OLD = Query.create(collection="S2ST", tile="31TCJ", start="2018-01-01", end="2018-12-31")


@pytest.fixture
def fresh(make_sandbox: Callable[..., Sandbox]) -> Sandbox:
    """GEODES under the *assumed* restore-on-download profile (not the default)."""
    return make_sandbox(
        SandboxConfig(
            time_scale=0.002, restore_latency=(100.0, 300.0), geodes_archive="restore-on-download"
        )
    )


def backend_for(sandbox: Sandbox, key: str | None = DEFAULT_API_KEY) -> GeodesBackend:
    return GeodesBackend(sandbox.url, credentials=Credentials(api_key=key))


def test_availability_is_one_request_per_hundred(make_sandbox: Callable[..., Sandbox]) -> None:
    fresh = make_sandbox(SandboxConfig(time_scale=1.0))  # nothing changes state meanwhile
    geodes = backend_for(fresh)
    products = list(geodes.search(OLD))
    assert len(products) > 100
    before = fresh.stats["geodes.fastavailability"]
    states = geodes.availability(products)
    assert fresh.stats["geodes.fastavailability"] - before == -(-len(products) // 100)
    assert set(states) == {p.id for p in products}
    for product in products:  # the search's description and fastavailability agree
        assert states[product.id] is product.availability
        assert product.availability.is_online == (
            fresh.tape.mode(fresh.catalogue.by_name[product.id].uuid) in ("disk", "tier2")
        )
    assert {Availability.ONLINE, Availability.OFFLINE} <= set(states.values())


def test_restore_then_poll_then_download_with_md5(fresh: Sandbox) -> None:
    geodes = backend_for(fresh)
    on_tape = [
        p
        for p in geodes.search(OLD)
        if fresh.tape.mode(fresh.catalogue.by_name[p.id].uuid) == "tape"
    ]
    offline = on_tape[:3]  # not "unknown" ones: those never come back
    assert offline and all(p.availability is Availability.OFFLINE for p in offline)
    for product in offline:  # 202: the server accepted the request
        assert geodes.request_restore(product) is Availability.STAGING
    # fastavailability says online or not, never "restoring": nothing is made up.
    assert set(geodes.availability(offline).values()) <= {
        Availability.OFFLINE,
        Availability.ONLINE,
    }
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        states = geodes.availability(offline)
        if set(states.values()) == {Availability.ONLINE}:
            break
        time.sleep(0.05)
    assert set(states.values()) == {Availability.ONLINE}
    product = offline[0]
    with geodes.open_download(product) as response:
        assert response.status_code == 200 and response.headers["Content-Type"] == "application/zip"
        data = response.content
    assert len(data) == product.size and hashlib.md5(data).hexdigest() == product.md5
    with geodes.open_download(product, offset=100, if_range=response.headers["ETag"]) as partial:
        assert partial.status_code == 206 and partial.content == data[100:]
    assert geodes.request_restore(product) is Availability.ONLINE


def test_offline_download_is_not_the_product(fresh: Sandbox) -> None:
    geodes = backend_for(fresh)
    product = next(p for p in geodes.search(OLD) if p.availability is Availability.OFFLINE)
    with geodes.open_download(product) as response:
        assert response.status_code == 202 and response.headers["Content-Type"].startswith(
            "application/json"
        )


def _online(geodes: GeodesBackend) -> Product:
    return next(p for p in geodes.search(OLD) if p.availability is Availability.ONLINE)


def test_missing_key_says_how_to_set_it(sandbox: Sandbox) -> None:
    geodes = backend_for(sandbox, key=None)
    product = _online(geodes)
    assert not geodes.credentials.api_key
    for call in (geodes.request_restore, geodes.open_download):
        with pytest.raises(
            AuthenticationError,
            match="need an API key.*apikey.*EODAG__GEODES_PLUS__AUTH__CREDENTIALS__APIKEY",
        ):
            call(product)
    # and the server refuses a request without the header
    assert geodes.session.get(product.download_url, timeout=30).status_code == 401


@pytest.mark.parametrize("reply", ["403", "401", "redirect"])
def test_wrong_key_is_refused_clearly(make_sandbox: Callable[..., Sandbox], reply: str) -> None:
    sandbox = make_sandbox()
    sandbox.services["geodes"].bad_key_reply = reply
    geodes = backend_for(sandbox, key="not-my-key")
    assert repr(geodes.credentials) == "Credentials(api_key=***)"
    product = _online(backend_for(sandbox))
    with pytest.raises(
        AuthenticationError, match=r"(refused|redirected in a loop).*GEODES portal profile.*apikey"
    ) as info:
        geodes.request_restore(product)
    assert "not-my-key" not in str(info.value)
    if reply != "redirect":
        with geodes.open_download(product) as response:
            assert response.status_code == int(reply)


def test_quota_exhausted(make_sandbox: Callable[..., Sandbox]) -> None:
    sandbox = make_sandbox()
    service = sandbox.services["geodes"]
    service.quota_exhausted, service.retry_after = True, None
    geodes = backend_for(sandbox)
    product = _online(geodes)
    with pytest.raises(QuotaExceededError, match="429"):
        geodes.request_restore(product)
    with geodes.open_download(product) as response:
        assert response.status_code == 429
    service.quota_exhausted = False
    assert geodes.request_restore(product) is Availability.ONLINE
