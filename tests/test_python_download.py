"""Downloads from Python where the products are: ``search.download(...)`` and
``Client.download(items, ...)`` from items, an ItemCollection or a GeoJSON file, with the
staging options and the CLI's report; tape products restored first (sandbox over HTTP)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from eodag_peps_plus import Client
from eodag_peps_plus.exceptions import InvalidQueryError
from eodag_peps_plus.http_io import Credentials
from eodag_peps_plus.sandbox import Sandbox, SandboxConfig

OPTIONS = {"quiet": True, "timeout": 120.0, "poll_initial": 0.05, "poll_max": 0.2}


@pytest.mark.parametrize("name", ["peps", "geodes"])
def test_search_and_items_download_the_same_products(
    make_sandbox: Callable[..., Sandbox], credentials: Credentials, tmp_path: Path, name: str
) -> None:
    sb = make_sandbox(SandboxConfig(time_scale=0.001))
    url = sb.url if name == "peps" else f"{sb.url}/api/stac"
    client = Client.open(url, credentials=credentials)
    search = client.search(collections="S2_MSI_L1C", tile="31TCJ", datetime="2018", max_items=4)
    items = search.item_collection()
    offline = [i.id for i in items if i.properties["order:status"] != "succeeded"]
    assert offline, "the sandbox keeps some of these on tape"
    report = search.download(tmp_path / "search", **OPTIONS)
    assert report.ok and len(report.done) == 4
    assert {Path(p).name for p in report.paths} == {f"{i.id}.zip" for i in items}
    assert "done" in report.format()
    saved = tmp_path / "results.geojson"
    items.save_object(dest_href=str(saved))
    for source, folder in ((items, "collection"), (list(items), "list"), (saved, "file")):
        again = client.download(source, tmp_path / folder, **OPTIONS)
        assert again.ok and sorted(Path(p).name for p in again.paths) == sorted(
            Path(p).name for p in report.paths
        )


def test_items_that_are_not_products_are_refused(sandbox: Sandbox, tmp_path: Path) -> None:
    client = Client.open(sandbox.url, backend="peps")
    bad = tmp_path / "bad.geojson"
    bad.write_text(json.dumps({"type": "Feature"}))
    with pytest.raises(InvalidQueryError, match="not a GeoJSON FeatureCollection"):
        client.download(bad, tmp_path / "out")
    with pytest.raises(InvalidQueryError, match="not a readable GeoJSON"):
        client.download(tmp_path / "missing.geojson", tmp_path / "out")
    with pytest.raises(InvalidQueryError, match="is not a STAC item"):
        client.download([42], tmp_path / "out")
    assert not (tmp_path / "out").exists()
