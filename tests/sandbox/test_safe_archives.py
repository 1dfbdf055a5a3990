"""The sandbox's default archives hold the products' real SAFE trees, generated on the fly:
every band file at its real share, names from the product's own name, exact size and MD5 as
advertised, ``Range`` across member boundaries, and flat memory over many products."""

from __future__ import annotations

import hashlib
import io
import os
import random
import re
import tracemalloc
import zipfile
from typing import Any

import pytest
import requests

from eodag_peps_plus.sandbox import DEFAULT_PASSWORD, DEFAULT_USER, Catalogue, Entry, Sandbox
from eodag_peps_plus.sandbox.archive import ArchiveFile, tree_minimum
from eodag_peps_plus.sandbox.safe_layout import tree
from eodag_peps_plus.sandbox.scenarios import staging_catalogue

from .helpers import peps_feature

TIMEOUT = 60
AUTH = (DEFAULT_USER, DEFAULT_PASSWORD)
BANDS = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10", "B11", "B12")  # fmt: skip


def _online(catalogue: Catalogue, test: Any) -> Entry:
    return next(e for e in catalogue if e.storage == "disk" and test(e))


def _download(sandbox: Sandbox, entry: Entry, **headers: str) -> requests.Response:
    feature = peps_feature(sandbox.url, entry.collection, entry.name)
    reply = requests.get(
        feature["properties"]["services"]["download"]["url"],
        auth=AUTH,
        headers=headers,
        timeout=TIMEOUT,
    )
    assert reply.status_code in (200, 206), reply.text[:200]
    reply.feature = feature  # type: ignore[attr-defined]
    return reply


def _members(data: bytes) -> dict[str, zipfile.ZipInfo]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        return {i.filename: i for i in archive.infolist()}


def test_an_s2_archive_holds_every_band_at_its_real_share(
    catalogue: Catalogue, sandbox: Sandbox
) -> None:
    entry = _online(catalogue, lambda e: e.collection == "S2ST" and e.start.year == 2019)
    reply = _download(sandbox, entry)
    props = reply.feature["properties"]  # type: ignore[attr-defined]
    assert len(reply.content) == props["resourceSize"] == entry.size
    assert hashlib.md5(reply.content).hexdigest() == props["resourceChecksum"].lower()
    members = _members(reply.content)
    root = f"{entry.name}.SAFE/"
    assert all(name.startswith(root) for name in members)
    paths = {name[len(root) :]: info for name, info in members.items()}
    sensing = f"{entry.start:%Y%m%dT%H%M%S}"
    granule = next(p.split("/")[1] for p in paths if p.startswith("GRANULE/"))
    assert re.fullmatch(rf"L1C_T{entry.tile}_A{entry.orbit_number:06d}_\d{{8}}T\d{{6}}", granule)
    image = f"GRANULE/{granule}/IMG_DATA/T{entry.tile}_{sensing}"
    size = {band: paths[f"{image}_{band}.jp2"].file_size for band in (*BANDS, "TCI")}
    for path in ("manifest.safe", "MTD_MSIL1C.xml", f"GRANULE/{granule}/MTD_TL.xml"):
        assert path in paths
    assert any(re.fullmatch(r"DATASTRIP/DS_SGS__\w+/MTD_DS\.xml", p) for p in paths)
    assert {f"GRANULE/{granule}/QI_DATA/MSK_DETFOO_{b}.gml" for b in BANDS} <= paths.keys()
    assert f"GRANULE/{granule}/QI_DATA/T{entry.tile}_{sensing}_PVI.jp2" in paths
    # 10 m : 20 m : 60 m : TCI as in real products (120 : 28 : 3.5 : 130 MB)
    assert 4.0 < size["B04"] / size["B11"] < 4.6
    assert 20 < size["B08"] / size["B01"] < 40
    assert 0.85 < size["B02"] / size["TCI"] < 0.98
    # band data is most of the members' bytes, as in a real product (at the sandbox's small
    # default scale, zip headers are a large part of the file: they weigh the same at any size)
    assert sum(size.values()) > 0.85 * sum(i.compress_size for i in paths.values())
    assert all(paths[p].compress_type == zipfile.ZIP_STORED for p in paths if p.endswith(".jp2"))


def test_names_follow_each_product_type(catalogue: Catalogue) -> None:
    """Old multi-tile S2, S2 from baseline 04.00 (JPEG 2000 masks), S1 GRD/SLC/OCN."""
    found: dict[str, list[str]] = {}
    for entry in catalogue:
        key = f"{entry.collection}/{entry.product_type}/{'N04' in entry.name}"
        if key not in found and entry.collection != "THEIA_L2A":
            found[key] = list(_members(b"".join(entry.archive.iter_bytes())))
            found[key].append(entry.name)
    s2_old, s2_new = found["S2/S2MSI1C/False"], found["S2ST/S2MSI1C/True"]
    assert any(re.search(r"/GRANULE/S2A_OPER_MSI_L1C_TL_SGS__\w+_T30TXQ_N02\.01/IMG_DATA/\w+_B8A\.jp2$", p) for p in s2_old)  # fmt: skip
    assert not any("TCI" in p for p in s2_old)
    assert any(p.endswith("/QI_DATA/MSK_DETFOO_B12.jp2") for p in s2_new)
    assert any(p.endswith("_TCI.jp2") for p in s2_new)
    grd, slc, ocn = found["S1/GRD/False"], found["S1/SLC/False"], found["S1/OCN/False"]
    take = grd[-1].split("_")
    tail = f"{take[4].lower()}-{take[5].lower()}-{take[6]}-{take[7].lower()}"
    for pol, number in (("vv", "001"), ("vh", "002")):
        base = f"s1a-iw-grd-{pol}-{tail}-{number}"
        assert any(p.endswith(f"/measurement/{base}.tiff") for p in grd), (base, grd)
        for folder in ("annotation/", "annotation/calibration/calibration-", "annotation/calibration/noise-"):  # fmt: skip
            assert any(p.endswith(f"/{folder}{base}.xml") for p in grd)
    assert sum(p.endswith(".tiff") for p in slc) == 6  # 3 sub-swaths x 2 polarisations
    assert any("/measurement/s1" in p and "-iw3-slc-vv-" in p for p in slc)
    assert any(re.search(r"/measurement/s1\w-iw-ocn-vv-[\w-]+-001\.nc$", p) for p in ocn)


def test_ranges_across_member_boundaries(catalogue: Catalogue, sandbox: Sandbox) -> None:
    entry = _online(catalogue, lambda e: e.product_type == "GRD")
    whole = _download(sandbox, entry).content
    edges = sorted(
        {i.header_offset for i in _members(whole).values()}
        | {i.header_offset + 30 + len(i.filename) for i in _members(whole).values()}
    )
    rng = random.Random(3)
    for edge in rng.sample(edges, 8):
        start, end = max(0, edge - rng.randrange(1, 300)), min(len(whole), edge + rng.randrange(1, 300))  # fmt: skip
        reply = _download(sandbox, entry, Range=f"bytes={start}-{end - 1}")
        assert reply.status_code == 206 and reply.content == whole[start:end]


def test_a_multi_gigabyte_archive_costs_no_memory() -> None:
    """3 GB of SLC read through its directory and one member, never held."""
    name = "S1A_IW_SLC__1SDV_20180101T174012_20180101T174039_019957_021FC5_1A2B"
    tracemalloc.start()
    try:
        archive = ArchiveFile(name, 3_000_000_000, 7, tree(name))
        tail = b"".join(archive.iter_bytes(archive.size - 65536))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8_000_000 and len(tail) == 65536
    with zipfile.ZipFile(io.BufferedReader(_Remote(archive), 1 << 16)) as z:
        names = z.namelist()
    assert len(names) == 30 and sum(n.endswith(".tiff") for n in names) == 6


class _Remote(io.RawIOBase):
    """A file read through ``iter_bytes`` (what a range request gives)."""

    def __init__(self, archive: ArchiveFile) -> None:
        self.archive, self.pos = archive, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        self.pos = [offset, self.pos + offset, self.archive.size + offset][whence]
        return self.pos

    def tell(self) -> int:
        return self.pos

    def readinto(self, buffer: Any) -> int:
        data = b"".join(self.archive.iter_bytes(self.pos, self.pos + len(buffer)))
        buffer[: len(data)] = data
        self.pos += len(data)
        return len(data)


def test_a_large_archive_opens_with_zipfile_and_its_members_check() -> None:
    """A 1 GB L1C: metadata deflated at real sizes, every member's CRC checked by zipfile
    for the small ones read through ranges."""
    name = "S2B_MSIL1C_20200101T105441_N0208_R051_T31TCJ_20200101T125821"
    archive = ArchiveFile(name, 1_000_000_000, 11, tree(name))
    with zipfile.ZipFile(io.BufferedReader(_Remote(archive), 1 << 16)) as z:
        infos = z.infolist()
        assert sum(i.compress_size + 30 + len(i.filename) for i in infos) < archive.size
        mtd = next(i for i in infos if i.filename.endswith("/MTD_DS.xml"))
        assert mtd.compress_type == zipfile.ZIP_DEFLATED and 1_000_000 < mtd.file_size < 2_000_000
        assert 2 < mtd.file_size / mtd.compress_size < 6  # XML deflates as real metadata does
        for info in infos:
            if info.file_size < 3_000_000:
                data = z.read(info)  # raises on a CRC mismatch
                assert len(data) == info.file_size
        assert z.read(mtd).startswith(b'<?xml version="1.0"')


def test_sizes_just_above_the_tree_and_below_it() -> None:
    """Every size from the smallest tree up is served exactly with the whole tree; below it,
    the archive holds a manifest and one payload (staging benchmarks of 2-4 kB products)."""
    name = "S2A_MSIL1C_20180101T105441_N0206_R051_T31TCJ_20180101T125821"
    files = tree(name)
    assert files is not None
    smallest = tree_minimum(name, files)
    for size in range(smallest, smallest + 3000, 37):
        archive = ArchiveFile(name, size, 1, files)
        data = b"".join(archive.iter_bytes())
        assert len(data) == size and len(_members(data)) == len(files)
    small = b"".join(ArchiveFile(name, smallest - 1, 1, files).iter_bytes())
    assert [n.rsplit("/", 1)[-1] for n in _members(small)] == ["manifest.safe", "data.bin"]


def _rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="reads /proc/self/statm")
def test_ten_thousand_products_serve_in_flat_memory() -> None:
    """The archive cache is full at 4,096 products: products past it add no memory."""
    catalogue = staging_catalogue(10_000, size_range=(30_000, 40_000), offline=0.0)
    assert all(tree(e.name) for e in catalogue.entries[:50])
    marks = []
    for index, entry in enumerate(catalogue.entries[:6_000]):
        for _ in entry.archive.iter_bytes(0, entry.size):
            pass
        if index in (4_499, 5_999):
            marks.append(_rss())
    assert marks[1] - marks[0] < 20_000_000, marks


@pytest.mark.parametrize("kind", ["GRD", "SLC", "OCN", "S2MSI1C"])
def test_md5_and_size_as_advertised_over_http(
    catalogue: Catalogue, sandbox: Sandbox, kind: str
) -> None:
    entry = _online(catalogue, lambda e: e.product_type == kind)
    reply = _download(sandbox, entry)
    props = reply.feature["properties"]  # type: ignore[attr-defined]
    assert len(reply.content) == props["resourceSize"]
    assert hashlib.md5(reply.content).hexdigest() == props["resourceChecksum"].lower()
    assert len(_members(reply.content)) >= 3  # OCN: manifest, NetCDF, schema
