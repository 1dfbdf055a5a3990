"""Downloads from Python where the products are: ``search.download(...)`` and
``Client.download(items, ...)`` from items, an ItemCollection or a GeoJSON file, with the
staging options and the CLI's report; tape products restored first (sandbox over HTTP)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from eodag_peps_plus import Client
from eodag_peps_plus.exceptions import ConfigurationError, InvalidQueryError
from eodag_peps_plus.http_io import Credentials
from eodag_peps_plus.sandbox import Sandbox, SandboxConfig
from eodag_peps_plus.staging import DownloadStatus, StagingOptions

OPTIONS = StagingOptions(quiet=True, timeout=120.0, poll_initial=0.05, poll_max=0.2)


#: GEODES restoring on download is an assumption (the sandbox's named option); what users
#: reported is 410 Gone for tape products (test below).
@pytest.mark.parametrize("name", ["peps", "geodes"])
def test_search_and_items_download_the_same_products(
    make_sandbox: Callable[..., Sandbox], credentials: Credentials, tmp_path: Path, name: str
) -> None:
    sb = make_sandbox(SandboxConfig(time_scale=0.001, geodes_archive="restore-on-download"))
    url = sb.url if name == "peps" else f"{sb.url}/api/stac"
    client = Client.open(url, credentials=credentials)
    search = client.search(collections="S2_MSI_L1C", tile="31TCJ", datetime="2018", max_items=4)
    items = search.item_collection()
    offline = [i.id for i in items if i.properties["order:status"] != "succeeded"]
    assert offline, "the sandbox keeps some of these on tape"
    report = search.download(tmp_path / "search", OPTIONS)
    assert report.ok and len(report.done) == 4
    assert {Path(p).name for p in report.paths} == {f"{i.id}.zip" for i in items}
    assert "done" in report.format()
    saved = tmp_path / "results.geojson"
    items.save_object(dest_href=str(saved))
    for source, folder in ((items, "collection"), (list(items), "list"), (saved, "file")):
        again = client.download(source, tmp_path / folder, OPTIONS, max_transfers=2)
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
    with pytest.raises(InvalidQueryError, match="is not items"):
        client.download(42, tmp_path / "out")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="max_transfers"):
        client.search(collections="S2ST", max_items=1).download(tmp_path / "out", max_transfers=0)
    assert not (tmp_path / "out").exists()


def test_geodes_tape_products_are_reported_refused(
    sandbox: Sandbox, credentials: Credentials, tmp_path: Path
) -> None:
    client = Client.open(f"{sandbox.url}/api/stac", credentials=credentials)
    search = client.search(collections="S2_MSI_L1C", tile="31TCJ", datetime="2018", max_items=6)
    offline = {i.id for i in search.items() if i.properties["order:status"] != "succeeded"}
    report = search.download(tmp_path, OPTIONS)
    assert offline and {p.id for p in report.with_status(DownloadStatus.REFUSED)} == offline
    assert len(report.done) == 6 - len(offline)
    assert "410 Gone" in report.format()
