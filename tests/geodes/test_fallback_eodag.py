"""An EODAG provider the user configured as a fallback source (``eodag:NAME``), over real
HTTP: GEODES in its evidence profile refuses its Tier3 half with 410 Gone, and a provider
block using EODAG's generic ``StacSearch`` + ``HTTPDownload`` + ``HTTPHeaderAuth`` plugins,
pointing at a second GEODES sandbox that has every product online, serves that half; the
credentials are EODAG's, sent by EODAG's auth plugin."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from eodag_peps_plus.backends.geodes import GeodesBackend
from eodag_peps_plus.eodag_source import EodagSource
from eodag_peps_plus.exceptions import AuthenticationError, ConfigurationError
from eodag_peps_plus.fallback import download_with_fallback
from eodag_peps_plus.http_io import Credentials
from eodag_peps_plus.product import Availability
from eodag_peps_plus.query import Query
from eodag_peps_plus.sandbox import DEFAULT_API_KEY, Catalogue, Sandbox, SandboxConfig
from eodag_peps_plus.sandbox.scenarios import staging_catalogue
from eodag_peps_plus.staging import StagingOptions

from .conftest import january_tile

CATALOGUE = staging_catalogue(6, size_range=(40_000, 60_000), offline=0.5, seed=23)
ON_TAPE = {e.name for e in CATALOGUE if e.storage == "tape"}
QUERY = Query.create(collection="S2ST", tile="31TCJ", start="2018-01-01", end="2018-01-31")


def provider_block(url: str, api_key: str) -> dict[str, object]:
    """What a user writes for a STAC API with GEODES's conventions (as EODAG's own
    ``geodes`` provider maps them): product names in ``identifier``, the zip in the asset
    whose first role is ``data``, the key in ``X-API-Key``."""
    return {
        "url": f"{url}/api/stac",
        "search": {
            "type": "StacSearch",
            "api_endpoint": f"{url}/api/stac/search",
            "metadata_mapping": {
                "id": ['{{"query":{{"identifier":{{"eq":"{id}"}}}}}}', "$.properties.identifier"],
                "title": "$.properties.identifier",
                "eodag:download_link": '$.assets[?(@.roles[0] == "data")].href',
            },
        },
        "download": {"type": "HTTPDownload"},
        "auth": {
            "type": "HTTPHeaderAuth",
            "headers": {"X-API-Key": "{apikey}"},
            "credentials": {"apikey": api_key},
        },
    }


@pytest.fixture
def servers() -> Iterator[tuple[Sandbox, Sandbox]]:
    config = SandboxConfig(time_scale=0.001, geodes_alternate_links=0.0)
    online = Catalogue([dataclasses.replace(e, storage="disk") for e in CATALOGUE])
    g = Sandbox(CATALOGUE, config, services=("geodes",)).start()
    m = Sandbox(online, config, services=("geodes",)).start()
    yield g, m
    g.stop()
    m.stop()


def _dag(url: str, api_key: str = DEFAULT_API_KEY) -> object:
    from eodag import EODataAccessGateway

    dag = EODataAccessGateway()
    dag.add_provider("mymirror", **provider_block(url, api_key))  # type: ignore[arg-type]
    return dag


def test_eodag_provider_serves_what_geodes_refuses(
    servers: tuple[Sandbox, Sandbox], tmp_path: Path
) -> None:
    g, m = servers
    geodes = GeodesBackend(g.url, credentials=Credentials(api_key=DEFAULT_API_KEY))
    source = EodagSource(_dag(m.url), "mymirror")  # type: ignore[arg-type]
    products = list(geodes.search(QUERY))
    options = StagingOptions(timeout=60.0, quiet=True)
    report = download_with_fallback(geodes, products, tmp_path, options, sources=[source])
    assert report.ok, report.format()
    for entry in CATALOGUE:
        data = (tmp_path / f"{entry.name}.zip").read_bytes()
        assert hashlib.md5(data).hexdigest() == entry.md5, entry.name
    for entry in report.products:
        named = entry.reason.startswith("from eodag:mymirror (GEODES: this archive will not")
        assert named == (entry.id in ON_TAPE), entry.reason
    assert m.stats["archive_replies"] == len(ON_TAPE)


def test_lookup_by_name_and_status_from_eodag(servers: tuple[Sandbox, Sandbox]) -> None:
    g, _ = servers
    source = EodagSource(_dag(g.url), "mymirror")  # type: ignore[arg-type]
    names = sorted(e.name for e in CATALOGUE)
    found = {p.id: p for p in source.search(Query.create(identifiers=[*names, "S2X_NOPE"]))}
    assert set(found) == set(names)
    for name, product in found.items():
        # Only what EODAG says: the sandbox's GEODES STAC gives no order:status for tape.
        assert product.availability in (Availability.ONLINE, Availability.UNKNOWN)
        assert product.download_url.startswith(g.url)


def test_unknown_provider_is_a_clear_error() -> None:
    from eodag import EODataAccessGateway

    with pytest.raises(ConfigurationError, match="eodag:nope: EODAG has no such provider"):
        EodagSource(EODataAccessGateway(), "nope")


def test_wrong_key_is_an_authentication_error_naming_the_provider(
    servers: tuple[Sandbox, Sandbox], tmp_path: Path
) -> None:
    """GEODES answers a wrong key with a redirect loop; followed one hop at a time (EODAG's
    auth headers never leave the provider's origins), it ends as a one-line error."""
    g, m = servers
    geodes = GeodesBackend(g.url, credentials=Credentials(api_key=DEFAULT_API_KEY))
    source = EodagSource(_dag(m.url, api_key="wrong"), "mymirror")  # type: ignore[arg-type]
    products = list(geodes.search(QUERY))
    options = StagingOptions(timeout=20.0, quiet=True)
    with pytest.raises(AuthenticationError, match=r"eodag:mymirror: .* wrong or expired key; "
                       r"check the credentials of the EODAG provider 'mymirror'"):  # fmt: skip
        download_with_fallback(geodes, products, tmp_path, options, sources=[source])


def test_cli_fallback_eodag_provider(servers: tuple[Sandbox, Sandbox], tmp_path: Path) -> None:
    """``--fallback eodag:NAME`` with the provider defined in a provider file EODAG reads
    (``EODAG_PROVIDERS_CFG_DIR``): every product arrives, and each line names its source."""
    import os
    import subprocess
    import sys

    import yaml

    g, m = servers
    providers = tmp_path / "providers"
    providers.mkdir()
    block = {
        "name": "mymirror",
        "products": {"GENERIC_COLLECTION": {"_collection": "{collection}"}},
        **provider_block(m.url, DEFAULT_API_KEY),
    }
    (providers / "mymirror.yml").write_text(yaml.safe_dump({"mymirror": block}))
    out = tmp_path / "out"
    env = {
        **os.environ,
        "EODAG_PROVIDERS_CFG_DIR": str(providers),
        "EODAG__GEODES_PLUS__AUTH__CREDENTIALS__APIKEY": DEFAULT_API_KEY,
    }
    cmd = [sys.executable, "-m", "eodag_peps_plus", "download", "-B", "geodes", "--url", g.url,
           "--fallback", "eodag:mymirror", "-c", "S2ST", "-t", "31TCJ", "-d", "2018-01-01",
           "-f", "2018-01-31", "-w", str(out), "--quiet", "--timeout", "10"]  # fmt: skip
    run = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"{len(CATALOGUE)} done" in run.stdout
    for line in run.stdout.splitlines():
        if line.split(" ")[0] in ON_TAPE:
            assert "from eodag:mymirror (GEODES: this archive will not serve it" in line
    for entry in CATALOGUE:
        assert hashlib.md5((out / f"{entry.name}.zip").read_bytes()).hexdigest() == entry.md5


def test_eodag_plugin_fallback_to_an_eodag_provider(
    servers: tuple[Sandbox, Sandbox], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Plugin key ``fallback_providers: [mymirror]``: a name that is not one of this
    package's providers is EODAG's, looked up in the default gateway."""
    from eodag_peps_plus import eodag_source
    from eodag_peps_plus.eodag_support import gateway

    g, m = servers
    monkeypatch.setenv("EODAG__GEODES_PLUS__AUTH__CREDENTIALS__APIKEY", DEFAULT_API_KEY)
    dag = gateway(geodes_plus=g.url)
    dag.add_provider("mymirror", **provider_block(m.url, DEFAULT_API_KEY))  # type: ignore[arg-type]
    monkeypatch.setattr(eodag_source, "_gateway", lambda: dag)
    found = january_tile(dag)
    paths = dag.download_all(
        found, output_dir=str(tmp_path), extract=False, timeout=1, fallback_providers=["mymirror"]
    )
    assert len(paths) == len(CATALOGUE)
    assert m.stats["archive_replies"] == len(ON_TAPE)


def test_credentials_stay_on_the_providers_origins(tmp_path: Path) -> None:
    """Links on a host the provider block does not name (here every link is on the mirror's
    alternate host) get no EODAG credentials: each such product fails, saying why."""
    online = Catalogue([dataclasses.replace(e, storage="disk") for e in CATALOGUE])
    g = Sandbox(
        CATALOGUE, SandboxConfig(time_scale=0.001, geodes_alternate_links=0.0), services=("geodes",)
    ).start()
    m = Sandbox(
        online, SandboxConfig(time_scale=0.001, geodes_alternate_links=1.0), services=("geodes",)
    ).start()
    try:
        geodes = GeodesBackend(g.url, credentials=Credentials(api_key=DEFAULT_API_KEY))
        source = EodagSource(_dag(m.url), "mymirror")  # type: ignore[arg-type]
        products = list(geodes.search(QUERY))
        options = StagingOptions(timeout=20.0, quiet=True)
        report = download_with_fallback(geodes, products, tmp_path, options, sources=[source])
        for entry in report.products:
            if entry.id in ON_TAPE:
                assert "refused to send its EODAG credentials to" in entry.reason, entry.reason
        assert m.stats["archive_replies"] == 0
    finally:
        g.stop()
        m.stop()
