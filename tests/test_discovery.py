"""EODAG's discovery calls on our providers, against the sandbox over HTTP: every field the
vocabulary accepts is listed with its type and values, collections come from the server, and
a bad collection is EODAG's ValidationError at once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import typing
from pathlib import Path
from typing import Any

import pytest
from eodag.utils.exceptions import UnsupportedProvider, ValidationError

from eodag_peps_plus import vocabulary
from eodag_peps_plus.backends import get_backend
from eodag_peps_plus.discovery import queryables
from eodag_peps_plus.eodag_support import gateway, providers_yaml
from eodag_peps_plus.exceptions import InvalidQueryError
from eodag_peps_plus.query import Query
from eodag_peps_plus.sandbox import Sandbox

PROVIDERS = {"peps": "peps", "geodes_plus": "geodes"}
COLLECTIONS = {
    "peps": ["S1_SAR_GRD", "S1_SAR_SLC", "S1_SAR_OCN", "S2_MSI_L1C"],
    "geodes_plus": ["S1_SAR_GRD", "S1_SAR_SLC", "S1_SAR_OCN", "S2_MSI_L1C", "S2_MSI_L2A_MAJA"],
}


@pytest.fixture(scope="module")
def dag(sandbox: Sandbox) -> Any:
    return gateway(peps=sandbox.url, geodes_plus=sandbox.url)


def _alias(annotated: Any) -> str | None:
    return typing.get_args(annotated)[1].alias


def _values(annotated: Any) -> tuple[str, ...] | None:
    kind = typing.get_args(annotated)[0]
    return typing.get_args(kind) if typing.get_origin(kind) is typing.Literal else None


@pytest.mark.parametrize(
    ("provider", "collection"), [(p, c) for p, cs in COLLECTIONS.items() for c in cs]
)
def test_list_queryables_is_the_vocabulary(
    dag: Any, sandbox: Sandbox, provider: str, collection: str
) -> None:
    listed = dag.list_queryables(provider=provider, collection=collection)
    names = {_alias(v) or k for k, v in listed.items()}
    backend = get_backend(PROVIDERS[provider], sandbox.url)
    expected = {q.name for q in queryables(backend, collection, {})}
    assert names == expected
    # every field of the vocabulary is listed, unless this server refuses it at search time
    for field, help in vocabulary.FIELD_HELP.items():
        if help.name in names:
            assert help.name in vocabulary.FIELD_SPELLINGS
            continue
        assert provider == "geodes_plus" and field == "location"
        with pytest.raises(InvalidQueryError, match="location"):
            backend.check(Query.create(collection=collection, location="Toulouse"))
    assert listed["collection"].__metadata__[0].default == collection
    # allowed values are the vocabulary's, restricted to what this collection can hold
    platforms = _values(listed["platform"])
    assert platforms and set(platforms) <= set(vocabulary.PLATFORMS)
    assert all(p.startswith(collection[:2]) for p in platforms)
    types = _values(listed["product_type"])
    assert types and set(types) <= set(vocabulary.PRODUCT_TYPES)
    default_type = listed["product_type"].__metadata__[0].default
    assert default_type in types
    clouds = listed["eo_cloud_cover"].__metadata__[0]
    assert clouds.alias == "eo:cloud_cover"
    assert {type(m).__name__ for m in clouds.metadata} == {"Ge", "Le"}


def test_queryables_without_collection_list_every_collection_name(sandbox: Sandbox) -> None:
    geodes = {q.field: q for q in queryables(get_backend("geodes", sandbox.url))}
    assert "S3" not in (geodes["collection"].choices or ())  # GEODES refuses S3 searches
    peps = {q.field: q for q in queryables(get_backend("peps", sandbox.url))}
    assert "S3" in (peps["collection"].choices or ())
    assert peps["sensor_mode"].choices == vocabulary.SENSOR_MODES


def test_discover_collections_asks_the_server(dag: Any, sandbox: Sandbox) -> None:
    found = dag.discover_collections(provider="geodes_plus")["geodes_plus"]
    assert set(found["providers_config"]) == {
        "PEPS_S1_L1",
        "PEPS_S1_L2",
        "PEPS_S2_L1C",
        "THEIA_REFLECTANCE_SENTINEL2_L2A",
    }
    assert found["collections_config"]["PEPS_S2_L1C"]["title"]
    listed = {c.id for c in dag.list_collections(provider="geodes_plus")}
    assert {"PEPS_S2_L1C", "S2_MSI_L1C"} <= listed
    results = dag.search(
        provider="geodes_plus", collection="PEPS_S2_L1C", start="2020-01-01", end="2020-02-01"
    )
    assert results and {p.properties["product:type"] for p in results} == {"S2MSI1C"}
    peps = dag.discover_collections(provider="peps")["peps"]
    assert set(peps["providers_config"]) == set(vocabulary.COLLECTIONS)


@pytest.mark.parametrize("provider", ["peps", "geodes_plus"])
def test_bad_collection_is_raised_without_raise_errors(
    dag: Any, provider: str, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(ValidationError, match="unknown collection 'S9'"):
        dag.search(provider=provider, collection="S9")
    assert "Traceback" not in caplog.text


def test_geodes_refuses_what_it_cannot_search_at_validation(dag: Any) -> None:
    with pytest.raises(ValidationError, match="GEODES cannot search by place name"):
        dag.search(
            provider="geodes_plus", collection="S2_MSI_L1C", location="Toulouse", raise_errors=True
        )
    # EODAG's own refusal once PEPS listed S3, ours before
    with pytest.raises((ValidationError, UnsupportedProvider), match="S3"):
        dag.search(provider="geodes_plus", collection="S3")


def test_eodag_cli_queryables_and_discover(sandbox: Sandbox, tmp_path: Path) -> None:
    env = {"EODAG__GEODES_PLUS__SEARCH__API_ENDPOINT": sandbox.url}
    listed = _run_eodag(["queryables", "-p", "geodes_plus", "-c", "S2_MSI_L1C"], env, tmp_path)
    assert listed.returncode == 0, listed.stderr[-500:]
    backend = get_backend("geodes", sandbox.url)
    names = {q.name.replace(":", "_") for q in queryables(backend, "S2_MSI_L1C")}
    assert set(listed.stdout.split()) >= names
    found = _run_eodag(["discover", "-p", "geodes_plus", "--storage", "found"], env, tmp_path)
    assert found.returncode == 0, found.stderr[-500:]
    stored = json.loads((tmp_path / "found.json").read_text())
    assert set(stored["geodes_plus"]["providers_config"]) >= {"PEPS_S2_L1C", "PEPS_S1_L1"}


def _run_eodag(args: list[str], env: dict[str, str], cwd: Path) -> Any:
    providers = cwd / "providers"
    providers.mkdir(exist_ok=True)
    (providers / "peps_plus.yml").write_text(providers_yaml())
    eodag = Path(sys.executable).with_name("eodag")
    return subprocess.run(
        [str(eodag), *args],
        cwd=cwd,
        env={**os.environ, **env, "EODAG_PROVIDERS_CFG_DIR": str(providers)},
        capture_output=True,
        text=True,
        timeout=120,
    )
