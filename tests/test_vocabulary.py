"""One vocabulary through EODAG and the CLI: the same refusals as the Python entry points
(``tests/unit/test_vocabulary.py``), and ``providers.yml`` says what the vocabulary says."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from eodag.utils.exceptions import ValidationError

from eodag_peps_plus import vocabulary
from eodag_peps_plus.eodag_plugins.search import build_query as eodag_build_query
from eodag_peps_plus.eodag_support import gateway
from eodag_peps_plus.query import Query
from eodag_peps_plus.sandbox import Sandbox

NOWHERE = "http://127.0.0.1:9"  # nothing listens: bad input must be refused before any request
LONG = "A" * 10_000


# -- the providers.yml product blocks say what the vocabulary says ------------------------------
def test_providers_yml_product_blocks_match_the_vocabulary() -> None:
    providers = yaml.safe_load((Path(__file__).parents[1] / "providers.yml").read_text())
    assert providers
    for provider, config in providers.items():
        for name, block in config["products"].items():
            if name == "GENERIC_COLLECTION":
                assert block == {"_collection": "{collection}"}, provider
                continue
            # The block's name, read by the vocabulary, means what the block says.
            assert name in vocabulary.COLLECTION_ALIASES, (provider, name)
            assert set(block) <= {"_collection", "product:type"}, (provider, name)
            assert eodag_build_query(block, {}) == Query.create(collection=name), (provider, name)
            if "product:type" in block:
                assert block["product:type"] in vocabulary.PRODUCT_TYPES, (provider, name)


def test_providers_yml_is_the_collections_table() -> None:
    """Every collection of the table a backend serves is in its provider's block, and
    nothing else; the legacy ``-c`` choices are the table's collections."""
    from eodag_peps_plus.backends import spec_for_provider
    from eodag_peps_plus.cli.legacy import peps_download
    from eodag_peps_plus.collection_names import COLLECTIONS, provider_products

    providers = yaml.safe_load((Path(__file__).parents[1] / "providers.yml").read_text())
    for provider, config in providers.items():
        spec = spec_for_provider(provider)
        assert spec is not None, provider
        products = {k: v for k, v in config["products"].items() if k != "GENERIC_COLLECTION"}
        assert products == provider_products(spec.name), provider
        assert config["search"]["backend"] == config["download"]["backend"] == spec.name
    (choice,) = [p for p in peps_download.params if p.name == "collection"]
    assert tuple(choice.type.choices) == COLLECTIONS  # type: ignore[attr-defined]


# -- the same refusals through EODAG and the CLI --------------------------------------------------
def test_eodag_refuses_the_same_input(sandbox: Sandbox) -> None:
    dag = gateway(peps=sandbox.url)
    for kwargs, message in [
        ({"relativeOrbitNumber": 1.7}, "not a whole number"),
        ({"tileid": "61TCJ"}, "zone 61"),
        ({"grid:code": "MGRS-31TCA"}, "row A"),
        ({"tileid": LONG}, "10002 characters"),
        ({"platform": ""}, "empty value"),
    ]:
        with pytest.raises(ValidationError, match=message) as info:
            dag.search(provider="peps", collection="S2_MSI_L1C", raise_errors=True, **kwargs)
        assert len(str(info.value)) < 1_000
    found = dag.search(
        provider="peps", collection="S2_MSI_L1C", platform="sentinel-2a",
        **{"grid:code": "MGRS-31TCJ"}, start="2020-01-01", end="2020-03-01",
    )  # fmt: skip
    assert found and {p.properties["platform"] for p in found} == {"S2A"}


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "eodag_peps_plus", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "PEPS_PLUS_JOB_STORE": str((cwd or Path.cwd()) / "jobs.sqlite3")},
        timeout=120,
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["search", "-c", ""], "collection: empty value"),
        (["search", "-c", "S2ST", "-t", ""], "tile: empty value"),
        (["search", "-c", "S2ST", "-o", "1.7"], "relative_orbit: '1.7' is not a whole number"),
        (["search", "-t", "00TCJ"], "zone 00"),
        (["search", "-t", "T31TWJ"], "column W"),
        (["search", "-t", "MGRS-31TCA"], "row A is not in band T"),
        (["search", "-t", LONG], "(10002 characters)"),
        (["search", "-c", LONG], "(10002 characters)"),
        (["search", "--lat", LONG, "--lon", "1"], "(10009 characters)"),
        (["search", "--cc", "many"], "max_cloud_cover: 'many' is not a number"),
        (["download", "-c", "", "-w", "out"], "collection: empty value"),
        (["download", "-s", "2020-02-01", "-e", "2020-01-01", "-w", "out"], "before start"),
        (
            ["maja", "submit", "-t", "00TCJ", "-s", "2020-01-01", "-e", "2020-06-30", "-n"],
            "zone 00",
        ),  # fmt: skip
        (
            ["maja", "submit", "-t", "31TCA", "-d", "2020-01-01", "-f", "2020-06-30", "-n"],
            "row A",
        ),  # fmt: skip
        (
            [
                "maja",
                "submit",
                "-n",
                "-P",
                "S2A_MSIL1C_20200101T105441_N0208_R051_T61TCJ_20200101T112000",
            ],
            "zone 61",
        ),  # fmt: skip
    ],
)
def test_cli_refuses_with_one_short_error_line(
    args: list[str], message: str, tmp_path: Path
) -> None:
    at = 2 if args[0] == "maja" else 1
    result = run(*args[:at], "--url", NOWHERE, *args[at:], cwd=tmp_path)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 1, result.stderr[-500:]
    assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0], lines
    assert len(lines[0]) < 300


def test_cli_takes_eodag_start_end_beside_the_legacy_options(sandbox: Sandbox) -> None:
    counts = [
        run("search", "--url", sandbox.url, "-c", "S2ST", "-t", "31TCJ", *dates, "--count")
        for dates in (
            ["-d", "2020-01-01", "-f", "2020-03-31"],
            ["-s", "2020-01-01", "-e", "2020-03-31"],
            ["--start", "2020-01-01", "--end", "2020-03-31"],
        )
    ]
    assert all(c.returncode == 0 for c in counts), [c.stderr for c in counts]
    assert len({c.stdout for c in counts}) == 1 and int(counts[0].stdout) > 0
