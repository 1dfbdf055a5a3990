"""Advertised size, served bytes and MD5 agree for every product of the default catalogue.

Every product is checked (a sample missed the S1 OCN bug: archives smaller than their zip
headers were advertised below the bytes served). Bytes are produced by ``iter_bytes``, exactly
what the server streams; a sample of each product type is also downloaded over HTTP.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import pytest
import requests

from eodag_peps_plus.sandbox import (
    DEFAULT_API_KEY,
    DEFAULT_PASSWORD,
    DEFAULT_USER,
    Catalogue,
    Entry,
    Sandbox,
)
from eodag_peps_plus.sandbox.archive import ArchiveFile, minimum_size
from eodag_peps_plus.sandbox.geodes_items import geodes_collection

from .helpers import peps_feature

TIMEOUT = 60


def _streamed(entry: Entry) -> tuple[int, str]:
    digest = hashlib.md5(usedforsecurity=False)
    length = 0
    for chunk in entry.archive.iter_bytes():
        digest.update(chunk)
        length += len(chunk)
    return length, digest.hexdigest()


def _advertised(sandbox: Sandbox, entry: Entry) -> tuple[set[int], set[str]]:
    """Sizes and checksums in every place a client reads them (PEPS and GEODES)."""
    sizes: set[int] = set()
    checksums: set[str] = set()
    if entry.collection in ("S1", "S2", "S2ST"):
        p = sandbox.services["peps"].render(entry, sandbox.url, storage="disk")["properties"]
        download = p["services"]["download"]
        sizes |= {p["resourceSize"], download["size"]}
        checksums |= {p["resourceChecksum"].lower(), download["checksum"].lower()}
    if geodes_collection(entry):
        item = sandbox.services["geodes"].render(entry, sandbox.url)
        data = next(a for a in item["assets"].values() if a["roles"] == ["data"])
        info = dict(
            line.split(": ", 1) for line in data["description"].split("\n\n") if ": " in line
        )
        size = re.fullmatch(r"(\d+) bytes", info["File size"])
        assert size, info
        sizes.add(int(size.group(1)))
        checksums |= {info["Checksum MD5"], data["href"].rsplit("/", 1)[-1]}
    return sizes, checksums


def test_every_product_advertises_the_bytes_it_serves(
    catalogue: Catalogue, sandbox: Sandbox
) -> None:
    wrong: list[str] = []
    for entry in catalogue:
        length, md5 = _streamed(entry)
        sizes, checksums = _advertised(sandbox, entry)
        if sizes != {length} or checksums != {md5}:
            wrong.append(f"{entry.name}: advertised {sizes} {checksums}, served {length} {md5}")
    assert not wrong, f"{len(wrong)} products disagree, e.g. {wrong[:3]}"
    assert {e.product_type for e in catalogue} >= {"GRD", "SLC", "OCN", "S2MSI1C"}


def test_an_archive_smaller_than_its_headers_is_refused() -> None:
    name = "S1A_IW_OCN__2SDV_20200101T054419_20200101T054444_030584_DB2FB6_93D0"
    smallest = minimum_size(name)
    assert ArchiveFile(name, smallest, 1).size == smallest
    with pytest.raises(ValueError, match="below"):
        ArchiveFile(name, smallest - 1, 1)


def _sample(catalogue: Catalogue) -> list[Entry]:
    """One product online on both services per collection and product type."""
    seen: dict[tuple[str, str], Entry] = {}
    for entry in catalogue:
        key = (entry.collection, entry.product_type)
        if key not in seen and entry.storage == "disk":
            seen[key] = entry
    return list(seen.values())


def _download(url: str, **kwargs: Any) -> tuple[int, str, str]:
    with requests.get(url, stream=True, timeout=TIMEOUT, **kwargs) as reply:
        assert reply.status_code == 200, reply.text[:200]
        digest = hashlib.md5(usedforsecurity=False)
        length = 0
        for chunk in reply.iter_content(65536):
            digest.update(chunk)
            length += len(chunk)
        return length, digest.hexdigest(), reply.headers["Content-Length"]


def test_a_sample_downloads_over_http_as_advertised(catalogue: Catalogue, sandbox: Sandbox) -> None:
    sample = _sample(catalogue)
    assert {e.product_type for e in sample} >= {"GRD", "SLC", "OCN", "S2MSI1C", "REFLECTANCE"}
    for entry in sample:
        if entry.collection != "THEIA_L2A":
            p = peps_feature(sandbox.url, entry.collection, entry.name)["properties"]
            got = _download(p["services"]["download"]["url"], auth=(DEFAULT_USER, DEFAULT_PASSWORD))
            assert got == (p["resourceSize"], p["resourceChecksum"].lower(), str(p["resourceSize"]))
        body = {
            "collections": [geodes_collection(entry)],
            "query": {"identifier": {"eq": entry.name}},
        }
        found = requests.post(f"{sandbox.url}/api/stac/search", json=body, timeout=TIMEOUT).json()
        (item,) = found["features"]
        data = next(a for a in item["assets"].values() if a["roles"] == ["data"])
        size = int(re.search(r"File size: (\d+) bytes", data["description"]).group(1))  # type: ignore[union-attr]
        md5 = re.search(r"Checksum MD5: (\w+)", data["description"]).group(1)  # type: ignore[union-attr]
        got = _download(data["href"], headers={"X-API-Key": DEFAULT_API_KEY})
        assert got == (size, md5, str(size))
