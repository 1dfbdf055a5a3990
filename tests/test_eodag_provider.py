"""The ``peps`` provider through EODAG's own API and CLI, against the sandbox."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from eodag.utils.exceptions import ValidationError

from eodag_peps_plus.eodag_support import gateway, providers_yaml
from eodag_peps_plus.query import Query
from eodag_peps_plus.sandbox import Sandbox


@pytest.fixture(scope="module")
def dag(sandbox: Sandbox) -> Any:
    return gateway(peps=sandbox.url)


def test_search_maps_to_eoproducts(dag: Any, sandbox: Sandbox) -> None:
    results = dag.search(
        provider="peps",
        collection="S2_MSI_L1C",
        geom=[1.0, 43.5, 1.5, 43.8],
        start="2020-01-01",
        end="2020-03-01",
        count=True,
    )
    assert results.number_matched and len(results) == min(20, results.number_matched)
    product = results[0]
    assert product.provider == "peps" and product.collection == "S2_MSI_L1C"
    p = product.properties
    assert p["grid:code"] == "MGRS-31TCJ" and p["product:type"] == "S2MSI1C"
    assert p["order:status"] in {"succeeded", "ordered", "orderable"}
    assert p["peps:storage"] == sandbox.tape.mode(p["peps:id"])
    assert product.remote_location == p["eodag:download_link"]
    assert p["file:checksum"].startswith("d510") and p["file:size"] > 0


def test_search_all_pages_through_everything(dag: Any, sandbox: Sandbox) -> None:
    results = dag.search_all(
        provider="peps", collection="S2ST", start="2017-01-01", end="2019-12-31"
    )
    expected = sum(
        1
        for e in sandbox.catalogue
        if e.collection == "S2ST" and e.start.year in (2017, 2018, 2019)
    )
    assert len(results) == expected > 1000
    assert len({p.properties["id"] for p in results}) == expected


def test_extra_parameters_and_native_collections(dag: Any) -> None:
    results = dag.search(
        provider="peps",
        collection="S2ST",
        tileid="31TCJ",
        relativeOrbitNumber=51,
        start="2020-01-01",
        end="2020-12-31",
        count=True,
    )
    assert results.number_matched > 0
    assert {p.properties["sat:relative_orbit"] for p in results} == {51}
    grd = dag.search(provider="peps", collection="S1_SAR_GRD", start="2019-01-01", end="2019-02-01")
    assert grd and {p.properties["product:type"] for p in grd} == {"GRD"}


def test_filter_online_uses_order_status(dag: Any) -> None:
    results = dag.search(
        provider="peps",
        collection="S2_MSI_L1C",
        tileid="31TCJ",
        start="2018-01-01",
        end="2018-12-31",
        limit=100,
    )
    online = results.filter_online()
    assert 0 < len(online) < len(results)
    assert {p.properties["order:status"] for p in online} == {"succeeded"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"collection": "S9"}, "collection"),
        ({"collection": "S2ST", "start": "2020-02-01", "end": "2020-01-01"}, "before start"),
        ({"collection": "S2ST", "tileid": "31TC"}, "MGRS"),
        ({"collection": "S2ST", "nonsense": 1}, "unknown search parameter"),
    ],
)
def test_bad_input_raises_validation_error(dag: Any, kwargs: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        dag.search(provider="peps", raise_errors=True, **kwargs)


def _run_eodag(args: list[str], url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    # EODAG reads our providers.yml from a regular install only; this folder makes an
    # editable (development) install behave the same.
    providers = cwd / "providers"
    providers.mkdir(exist_ok=True)
    (providers / "peps_plus.yml").write_text(providers_yaml())
    env = {
        **os.environ,
        "EODAG__PEPS__SEARCH__API_ENDPOINT": url,
        "EODAG_PROVIDERS_CFG_DIR": str(providers),
    }
    eodag = Path(sys.executable).with_name("eodag")
    return subprocess.run(
        [str(eodag), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory, sandbox: Sandbox) -> Path:
    """EODAG's CLI must list the provider before the CLI tests mean anything."""
    cwd = tmp_path_factory.mktemp("cli")
    listing = _run_eodag(["list", "-p", "peps"], sandbox.url, cwd)
    if listing.returncode != 0 or "S2_MSI_L1C" not in listing.stdout:
        pytest.fail("eodag CLI does not see the peps provider: " + listing.stderr[-300:])
    return cwd


def test_eodag_cli_list_search_count_all(installed: Path, sandbox: Sandbox) -> None:
    listing = _run_eodag(["list", "-p", "peps"], sandbox.url, installed)
    assert "S1_SAR_GRD" in listing.stdout and "S2_MSI_L1C" in listing.stdout
    count = _run_eodag(
        [
            "search",
            "-p",
            "peps",
            "-c",
            "S2_MSI_L1C",
            "-b",
            "1.0",
            "43.5",
            "1.5",
            "43.8",
            "-s",
            "2020-01-01",
            "-e",
            "2020-12-31",
            "--count",
        ],
        sandbox.url,
        installed,
    )
    assert count.returncode == 0, count.stderr
    out = installed / "all.geojson"
    everything = _run_eodag(
        [
            "search",
            "-p",
            "peps",
            "-c",
            "S2ST",
            "-q",
            "tileid=31TCJ&relativeOrbitNumber=51",
            "-s",
            "2020-01-01",
            "-e",
            "2020-12-31",
            "--all",
            "--storage",
            str(out),
        ],
        sandbox.url,
        installed,
    )
    assert everything.returncode == 0, everything.stderr
    features = json.loads(out.read_text())["features"]
    from eodag_peps_plus.backends import get_backend

    # EODAG's CLI sends -e 2020-12-31 as midnight, so that day is not included.
    expected = get_backend("peps", sandbox.url).count(
        Query.create(
            collection="S2ST",
            tile="31TCJ",
            relative_orbit=51,
            start="2020-01-01",
            end="2020-12-31T00:00:00Z",
        )
    )
    assert len(features) == expected > 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-c", "S2ST", "-s", "2020-02-01", "-e", "2020-01-01"], "before start"),
        (["-c", "S9"], "unknown collection"),
        (["-c", "S2ST", "-q", "tileid=31TC"], "MGRS"),
        (["-c", "S2ST", "-b", "0", "0", "1", "95"], "latitude"),
    ],
)
def test_eodag_cli_bad_input_is_one_line_and_non_zero(
    installed: Path, sandbox: Sandbox, args: list[str], message: str
) -> None:
    results = installed / "search_results.geojson"
    results.write_text("previous results")
    result = _run_eodag(["search", "-p", "peps", *args], sandbox.url, installed)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and message in errors[0], result.stderr
    assert results.read_text() == "previous results"
