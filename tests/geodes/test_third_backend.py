"""Adding an archive is one module (``third_backend.py``): every entry point then serves it."""

from __future__ import annotations

import pytest
import yaml
from click.testing import CliRunner

from eodag_peps_plus import Client
from eodag_peps_plus.backends import backend_names, get_backend
from eodag_peps_plus.backends.stac_api import StacApiBackend
from eodag_peps_plus.query import Query

from . import third_backend

pytestmark = pytest.mark.pgstac

QUERY = {"collection": "S2ST", "tile": "31TCJ", "start": "2018-01-01", "end": "2018-06-30"}


@pytest.fixture
def expected(pgstac: StacApiBackend) -> list[str]:
    return [p.id for p in pgstac.search(Query.create(**QUERY))]


def test_registry_and_client(
    pgstac_url: str, expected: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert "pgstac" in backend_names()
    assert isinstance(get_backend("pgstac", pgstac_url), third_backend.PgstacBackend)
    monkeypatch.setenv("EODAG__PGSTAC_PLUS__SEARCH__API_ENDPOINT", pgstac_url)
    search = Client.open("pgstac").search(
        collections="S2ST", tile="31TCJ", datetime="2018-01-01/2018-06-30"
    )
    assert [item.id for item in search.items()] == expected


def test_cli(pgstac_url: str, expected: list[str]) -> None:
    from eodag_peps_plus.cli import cli

    result = CliRunner().invoke(
        cli,
        ["search", "-B", "pgstac", "--url", pgstac_url, "-c", "S2ST", "-t", "31TCJ",
         "-d", "2018-01-01", "-f", "2018-06-30", "--max-items", "1000"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert all(name in result.output for name in expected)


def test_eodag_provider(pgstac_url: str, expected: list[str]) -> None:
    from eodag_peps_plus.eodag_support import gateway

    dag = gateway()
    dag.update_providers_config(third_backend.PROVIDER_YAML)
    dag._providers["pgstac_plus"].sync_collections(dag, strict_mode=False)
    dag.update_providers_config(
        yaml.safe_dump({"pgstac_plus": {"search": {"api_endpoint": pgstac_url}}})
    )
    results = dag.search_all(
        provider="pgstac_plus", collection="S2_MSI_L1C", tileid="31TCJ",
        start="2018-01-01", end="2018-06-30",
    )  # fmt: skip
    assert sorted(p.properties["title"] for p in results) == sorted(expected)
