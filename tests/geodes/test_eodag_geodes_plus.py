"""``geodes_plus`` through EODAG: search with the EODAG vocabulary, and downloads (including
one restored from tape) through the staging downloader, against the GEODES sandbox."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from eodag_peps_plus.backends.geodes import GeodesBackend
from eodag_peps_plus.eodag_support import gateway
from eodag_peps_plus.query import Query
from eodag_peps_plus.sandbox import DEFAULT_API_KEY, Sandbox, SandboxConfig

KEY_VAR = "EODAG__GEODES_PLUS__AUTH__CREDENTIALS__APIKEY"


@pytest.fixture
def api_key(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv(KEY_VAR, DEFAULT_API_KEY)
    yield


def test_search_speaks_the_shared_vocabulary(sandbox: Sandbox, geodes: GeodesBackend) -> None:
    dag = gateway(geodes_plus=sandbox.url)
    results = dag.search(
        provider="geodes_plus",
        collection="S2_MSI_L1C",
        geom=[1.0, 43.5, 1.5, 43.8],
        start="2020-01-01",
        end="2020-03-01",
        count=True,
    )
    query = Query.create(
        collection="S2ST", bbox=(1.0, 43.5, 1.5, 43.8), start="2020-01-01", end="2020-03-01"
    )
    assert results.number_matched == geodes.count(query) > 0
    product = results[0]
    p = product.properties
    assert product.provider == "geodes_plus" and p["grid:code"] == "MGRS-31TCJ"
    assert (
        p["geodes:id"].startswith("URN:FEATURE:DATA:gdh:")
        and p["geodes:collection"] == "PEPS_S2_L1C"
    )
    assert p["order:status"] in {"succeeded", "orderable"} and p["file:checksum"].startswith("d510")
    assert product.remote_location == p["eodag:download_link"]
    maja = dag.search(
        provider="geodes_plus",
        collection="S2_MSI_L2A_MAJA",
        tileid="31TCJ",
        start="2020-01-01",
        end="2020-06-30",
    )
    assert maja and {m.properties["product:type"] for m in maja} == {"S2MSI2A_MAJA"}
    grd = dag.search(
        provider="geodes_plus", collection="S1_SAR_GRD", start="2019-01-01", end="2019-02-01"
    )
    assert grd and {g.properties["product:type"] for g in grd} == {"GRD"}


def test_search_all_pages_80_at_a_time(sandbox: Sandbox, geodes: GeodesBackend) -> None:
    dag = gateway(geodes_plus=sandbox.url)
    results = dag.search_all(
        provider="geodes_plus", collection="S2_MSI_L1C", start="2019-01-01", end="2019-12-31"
    )
    expected = geodes.count(Query.create(collection="S2ST", start="2019-01-01", end="2019-12-31"))
    assert len(results) == expected > 160
    assert len({p.properties["id"] for p in results}) == expected


def test_download_restores_from_tape_and_verifies(
    make_sandbox: Callable[..., Sandbox], tmp_path: Path, api_key: None
) -> None:
    sandbox = make_sandbox(
        SandboxConfig(
            time_scale=0.002,
            restore_latency=(100.0, 200.0),
            geodes_archive="restore-on-download",  # an assumption, named
        )
    )
    dag = gateway(geodes_plus=sandbox.url)
    found = dag.search(
        provider="geodes_plus",
        collection="S2_MSI_L1C",
        tileid="31TCJ",
        start="2018-03-01",
        end="2018-04-30",
        limit=40,
    )
    on_tape = [
        p
        for p in found
        if sandbox.tape.mode(sandbox.catalogue.by_name[p.properties["id"]].uuid) == "tape"
    ]
    online = [p for p in found if p.properties["order:status"] == "succeeded"]
    assert on_tape and online
    paths = dag.download_all(
        [on_tape[0], online[0]], output_dir=str(tmp_path), extract=False, timeout=1
    )
    assert len(paths) == 2
    for product, path in zip([on_tape[0], online[0]], paths, strict=True):
        archive = _archive(Path(path))
        entry = sandbox.catalogue.by_name[product.properties["id"]]
        assert archive.stat().st_size == entry.size
        assert hashlib.md5(archive.read_bytes()).hexdigest() == entry.md5
    assert sandbox.stats["geodes.fastavailability"] >= 1


def test_download_without_key_names_the_setting(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_VAR, raising=False)
    dag = gateway(geodes_plus=sandbox.url)
    product = dag.search(
        provider="geodes_plus",
        collection="S2_MSI_L1C",
        tileid="31TCJ",
        start="2024-06-01",
        end="2024-06-30",
    )[0]
    with pytest.raises(Exception, match="(?i)apikey|api key") as info:
        dag.download(product, output_dir=str(tmp_path), extract=False)
    assert "GEODES_PLUS" in str(info.value) or "geodes_plus" in str(info.value)


def _archive(path: Path) -> Path:
    if path.is_file():
        return path
    zips: list[Any] = sorted(path.rglob("*.zip"))
    assert zips, f"no archive under {path}"
    return Path(zips[0])
