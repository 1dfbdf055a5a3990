"""The real SAFE file trees of the sandbox's products, so byte savings measured on the sandbox
mean something.

A tree is a list of files (path inside ``<name>.SAFE``, share of a real archive, text or
data), named from the product's own name as real products are (tile, sensing and processing
times, absolute orbit, datatake, polarisations). :mod:`.archive` serves them on the fly at the
catalogue's size, every file at its real share. Shares are approximate sizes of real products,
in MB (``docs/sandbox-products.md`` gives the listings they come from):

* Sentinel-2 L1C single tile (~800 MB): the 10 m bands B02, B03, B04, B08 ~120 each, the
  20 m bands B05, B06, B07, B8A, B11, B12 ~28 each, the 60 m bands B01, B09, B10 ~3.5 each,
  the true-colour image TCI ~130, QI_DATA masks (GML before processing baseline 04.00, JPEG
  2000 from it), MTD_TL.xml, MTD_MSIL1C.xml, the datastrip's MTD_DS.xml, manifest.safe,
  the preview; the multi-tile format of before 2016-12-06 (collection ``S2``) with its
  ``S2A_OPER_...`` names and no TCI;
* Sentinel-1 GRD IW dual polarisation (~1.7 GB): per polarisation a measurement GeoTIFF ~830,
  its annotation, calibration and noise XML; preview, support schemas, manifest. SLC (~4.5 GB):
  the same per sub-swath IW1-IW3. OCN (~7 MB): one NetCDF (co-polarisation), no annotation
  or quicklook.

Band data is incompressible (stored, as JPEG 2000, GeoTIFF and NetCDF are); XML is text
(deflated). Names the sandbox cannot parse get no tree.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from .archive import ArchiveFile, File, minimum_size, tree_minimum

if TYPE_CHECKING:
    from .server import Sandbox

__all__ = [
    "apply_safe_layouts",
    "fitting_tree",
    "s2_absolute_orbit",
    "safe_zip",
    "smallest_archive",
    "tree",
]

_S2_BANDS = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10", "B11", "B12")  # fmt: skip
_S2_MB = {
    "B02": 120.0,
    "B03": 120.0,
    "B04": 120.0,
    "B08": 120.0,
    "B01": 3.5,
    "B09": 3.5,
    "B10": 3.5,
}
_S2_NEW = re.compile(
    r"(?P<sat>S2[ABC])_MSIL1C_(?P<sensing>\d{8}T\d{6})_N(?P<baseline>\d{4})_R(?P<rel>\d{3})_"
    r"T(?P<tile>\w{5})_(?P<processed>\d{8}T\d{6})"
)
_S2_OLD = re.compile(
    r"(?P<sat>S2[AB])_OPER_PRD_MSIL1C_PDMC_(?P<processed>\d{8}T\d{6})_R(?P<rel>\d{3})_"
    r"V(?P<sensing>\d{8}T\d{6})_\d{8}T\d{6}_T(?P<tile>\w{5})"
)
_S1 = re.compile(
    r"(?P<sat>S1[ABC])_(?P<mode>IW|EW|SM|WV)_(?P<type>GRD[HM]|SLC_|OCN_)_(?P<level>\d)"
    r"(?P<cls>[SA])(?P<pol>SV|SH|DV|DH)_(?P<start>\d{8}T\d{6})_(?P<stop>\d{8}T\d{6})_"
    r"(?P<orbit>\d{6})_(?P<take>[0-9A-F]{6})_\w{4}"
)
_S2_EPOCH = datetime(2015, 6, 23, tzinfo=timezone.utc)


def _time(text: str) -> datetime:
    return datetime.strptime(text, "%Y%m%dT%H%M%S").replace(tzinfo=timezone.utc)


def s2_absolute_orbit(platform: str, sensing: datetime, relative: int) -> int:
    """The sandbox's Sentinel-2 absolute orbit of a sensing time (one formula for the
    catalogue and the granule names in its archives)."""
    cycle = int((sensing - _S2_EPOCH).days * 14.3)
    return cycle - cycle % 143 + relative + (0 if platform == "S2A" else 7)


def _s2_bands(prefix: str, tci: bool) -> Iterator[File]:
    for band in _S2_BANDS:
        yield f"{prefix}_{band}.jp2", _S2_MB.get(band, 28.0), False
    if tci:
        yield f"{prefix}_TCI.jp2", 130.0, False


def _s2_common(mtd: str) -> Iterator[File]:
    yield "manifest.safe", 0.07, True
    yield mtd, 0.06, True
    yield "INSPIRE.xml", 0.02, True
    yield "HTML/UserProduct_index.html", 0.01, True
    yield "rep_info/S2_User_Product_Level-1C_Metadata.xsd", 0.01, True


def _s2_single_tile(m: re.Match[str]) -> Iterator[File]:
    """Compact names (PSD 14, from 2016-12-06); masks in JPEG 2000 from baseline 04.00."""
    sensing, processed = _time(m["sensing"]), m["processed"]
    absolute = s2_absolute_orbit(m["sat"], sensing, int(m["rel"]))
    strip = f"{sensing - timedelta(seconds=6):%Y%m%dT%H%M%S}"
    granule = f"GRANULE/L1C_T{m['tile']}_A{absolute:06d}_{strip}"
    stem = f"T{m['tile']}_{m['sensing']}"
    yield from _s2_common("MTD_MSIL1C.xml")
    yield f"DATASTRIP/DS_SGS__{processed}_S{strip}/MTD_DS.xml", 1.2, True
    yield f"{granule}/MTD_TL.xml", 0.6, True
    yield f"{granule}/AUX_DATA/AUX_ECMWFT", 0.3, False
    yield from _s2_bands(f"{granule}/IMG_DATA/{stem}", tci=True)
    if int(m["baseline"]) >= 400:
        yield f"{granule}/QI_DATA/MSK_CLASSI_B00.jp2", 0.4, False
        for band in _S2_BANDS:
            yield f"{granule}/QI_DATA/MSK_DETFOO_{band}.jp2", 0.1, False
    else:
        yield f"{granule}/QI_DATA/MSK_CLOUDS_B00.gml", 0.3, True
        for band in _S2_BANDS:
            yield f"{granule}/QI_DATA/MSK_DETFOO_{band}.gml", 0.2, True
    yield f"{granule}/QI_DATA/{stem}_PVI.jp2", 0.2, False


def _s2_multi_tile(m: re.Match[str]) -> Iterator[File]:
    """The ``S2A_OPER_...`` format (PSD 13, before 2016-12-06): no TCI, one granule here
    (the entry's tile; real products held many)."""
    sat, processed, sensing = m["sat"], m["processed"], m["sensing"]
    absolute = s2_absolute_orbit(sat, _time(sensing), int(m["rel"]))
    tile = f"SGS__{processed}_A{absolute:06d}_T{m['tile']}"
    granule = f"GRANULE/{sat}_OPER_MSI_L1C_TL_{tile}_N02.01"
    strip = f"SGS__{processed}_S{sensing}"
    yield from _s2_common(f"{sat}_OPER_MTD_SAFL1C_PDMC_{processed}_R{m['rel']}_V{sensing}_{sensing}.xml")  # fmt: skip
    yield f"DATASTRIP/{sat}_OPER_MSI_L1C_DS_{strip}_N02.01/{sat}_OPER_MTD_L1C_DS_{strip}.xml", 1.2, True  # fmt: skip
    yield f"{granule}/{sat}_OPER_MTD_L1C_TL_{tile}.xml", 0.6, True
    yield from _s2_bands(f"{granule}/IMG_DATA/{sat}_OPER_MSI_L1C_TL_{tile}", tci=False)
    yield f"{granule}/QI_DATA/{sat}_OPER_MSK_CLOUDS_{tile}_B00_MSIL1C.gml", 0.3, True
    for band in _S2_BANDS:
        yield f"{granule}/QI_DATA/{sat}_OPER_MSK_DETFOO_{tile}_{band}_MSIL1C.gml", 0.2, True
    yield f"{granule}/QI_DATA/{sat}_OPER_PVI_L1C_{tile}.jp2", 0.2, False


def _s1(m: re.Match[str]) -> Iterator[File]:
    """Measurement, annotation, calibration and noise per polarisation (and sub-swath for
    SLC), numbered as real products are: a ``1SDV`` GRD has VV 001 and VH 002, an SLC VH
    001-003 (IW1-IW3) and VV 004-006; OCN the co-polarisation only."""
    kind = m["type"].rstrip("_").lower()[:3]
    pols = {"SV": ["vv"], "SH": ["hh"], "DV": ["vv", "vh"], "DH": ["hh", "hv"]}[m["pol"]]
    if kind == "slc":
        pols.reverse()
    elif kind == "ocn":
        del pols[1:]
    mode = m["mode"].lower()
    swaths = [f"{mode}{i}" for i in (1, 2, 3)] if kind == "slc" else [mode]
    tail = f"{m['start'].lower()}-{m['stop'].lower()}-{m['orbit']}-{m['take'].lower()}"
    yield "manifest.safe", 0.03, True
    if kind != "ocn":
        yield "preview/quick-look.png", 0.3, False
        yield "preview/map-overlay.kml", 0.01, True
        yield "preview/product-preview.html", 0.01, True
        yield "support/s1-level-1-product.xsd", 0.03, True
        yield "support/s1-level-1-calibration.xsd", 0.01, True
    number = 0
    for pol in pols:
        for swath in swaths:
            number += 1
            base = f"{m['sat'].lower()}-{swath}-{kind}-{pol}-{tail}-{number:03d}"
            if kind == "ocn":
                yield f"measurement/{base}.nc", 6.8, False
                continue
            yield f"measurement/{base}.tiff", 830.0 if kind == "grd" else 700.0, False
            yield f"annotation/{base}.xml", 1.5, True
            yield f"annotation/calibration/calibration-{base}.xml", 1.0, True
            yield f"annotation/calibration/noise-{base}.xml", 0.5, True
    if kind == "ocn":  # Level-2: no annotation, no quicklook (ESA Sentinel-1 user guide)
        yield "support/s1-level-2-ocn.xsd", 0.02, True


#: Fewest files of a tree per mission (S2 L1C 35, S1 OCN 3): a bound that spares parsing
#: names of archives too small for any tree (100,000-product benchmarks of 2-4 kB archives).
_FEWEST_FILES = {"S1": 3, "S2": 35}


def fitting_tree(name: str, size: int) -> tuple[File, ...] | None:
    """:func:`tree` of ``name`` if an archive of ``size`` bytes could hold it, else ``None``
    (checked cheaply first: every file costs its two headers and its path twice)."""
    fewest = _FEWEST_FILES.get(name[:2], 0)
    if fewest and size < fewest * (76 + 2 * len(f"{name}.SAFE/")):
        return None
    return tree(name)


def tree(name: str, kind: str | None = None) -> tuple[File, ...] | None:
    """The files of product ``name`` (``kind``: ``"S1"`` or ``"S2"`` forces that mission's
    tree on any name, for tests), or ``None`` for names without a known tree."""
    if kind == "S1":
        name = "S1A_IW_GRDH_1SDV_20180101T174012_20180101T174037_019957_021FC5_0000"
    elif kind == "S2" and not _S2_NEW.fullmatch(name):
        name = "S2A_MSIL1C_20180101T105441_N0206_R051_T31TCJ_20180101T125821"
    for pattern, files in ((_S2_NEW, _s2_single_tile), (_S2_OLD, _s2_multi_tile), (_S1, _s1)):
        match = pattern.fullmatch(name)
        if match:
            return tuple(files(match))
    return None


def safe_zip(name: str, collection: str, size: int, seed: int = 0) -> bytes:
    """A ``<name>.zip`` of ``size`` bytes with the collection's SAFE tree (``S1...``:
    Sentinel-1 GRD, else Sentinel-2 L1C), as bytes (tests that alter an archive)."""
    kind = "S1" if collection.upper().startswith("S1") else "S2"
    return b"".join(ArchiveFile(name, size, seed, tree(name, kind)).iter_bytes())


def smallest_archive(name: str) -> int:
    """The smallest archive of ``name`` holding its whole tree (catalogues advertise at
    least this, so every product has its tree), or the minimal one without a tree."""
    files = tree(name)
    return tree_minimum(name, files) if files else minimum_size(name)


def apply_safe_layouts(sandbox: Sandbox, names: list[str] | None = None) -> None:
    """Give the products of a running sandbox (``names``, else all) their generated SAFE
    archives as bytes, at their catalogue size (undoing hand-made ones: generated archives
    have their SAFE trees already)."""
    for entry in list(sandbox.catalogue.entries):
        if names is not None and entry.name not in names:
            continue
        archive = ArchiveFile(entry.name, entry.size, entry.seed, tree(entry.name))
        data = b"".join(archive.iter_bytes())
        sandbox.replace_entry(entry.name, content=data, size=len(data))
