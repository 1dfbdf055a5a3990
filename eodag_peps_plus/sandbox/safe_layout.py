"""Archives with the real SAFE layouts, so byte savings measured on the sandbox mean something.

The generated archives (:mod:`.archive`) hold a manifest and one payload: right for staging,
useless for member selections. These hold the file trees of real products, every file at its
real share of the archive (approximate sizes of real products, in MB):

* Sentinel-2 L1C (~800 MB): per tile, the 10 m bands B02, B03, B04, B08 ~120 each, the 20 m
  bands B05, B06, B07, B8A, B11, B12 ~28 each, the 60 m bands B01, B09, B10 ~3.5 each, the
  true-colour image TCI ~130, QI_DATA masks, MTD_TL.xml, MTD_MSIL1C.xml, manifest.safe,
  the preview;
* Sentinel-1 GRD IW dual polarisation (~1.7 GB): per polarisation a measurement GeoTIFF ~830,
  its annotation, calibration and noise XML; the preview and manifest.

They are scaled to the catalogue's size (so a batch stays small on loopback), band data is
incompressible (stored, as JPEG 2000 and GeoTIFF are), XML is text (deflated).
Small files keep at least one byte: at a few MB per product the metadata weighs more than
its real share, never less.
"""

from __future__ import annotations

import io
import random
import zipfile
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .server import Sandbox

__all__ = ["S1_GRD", "S2_L1C", "apply_safe_layouts", "layout", "safe_zip"]

_TILE = "T31TCJ_20180101T105441"
_GRANULE = "GRANULE/L1C_T31TCJ_A013270_20180101T105435"
#: (path inside ``<name>.SAFE``, share in MB of a real product)
S2_L1C: tuple[tuple[str, float], ...] = (
    ("manifest.safe", 0.07),
    ("MTD_MSIL1C.xml", 0.06),
    ("INSPIRE.xml", 0.02),
    ("HTML/UserProduct_index.html", 0.01),
    ("rep_info/S2_User_Product_Level-1C_Metadata.xsd", 0.01),
    ("DATASTRIP/DS_SGS__20180101T123058_S20180101T105435/MTD_DS.xml", 1.2),
    (f"{_GRANULE}/MTD_TL.xml", 0.6),
    *((f"{_GRANULE}/IMG_DATA/{_TILE}_{b}.jp2", 120.0) for b in ("B02", "B03", "B04", "B08")),
    *(
        (f"{_GRANULE}/IMG_DATA/{_TILE}_{b}.jp2", 28.0)
        for b in ("B05", "B06", "B07", "B8A", "B11", "B12")
    ),
    *((f"{_GRANULE}/IMG_DATA/{_TILE}_{b}.jp2", 3.5) for b in ("B01", "B09", "B10")),
    (f"{_GRANULE}/IMG_DATA/{_TILE}_TCI.jp2", 130.0),
    *((f"{_GRANULE}/QI_DATA/MSK_CLOUDS_B00.gml", 0.3),),
    *((f"{_GRANULE}/QI_DATA/MSK_DETFOO_{b}.gml", 0.2) for b in ("B02", "B03", "B04", "B08")),
    (f"{_GRANULE}/QI_DATA/{_TILE}_PVI.jp2", 0.2),
)
_S1 = "s1a-iw-grd-{p}-20180101t174012-20180101t174037-019957-021fc5-{n}"
S1_GRD: tuple[tuple[str, float], ...] = (
    ("manifest.safe", 0.02),
    ("preview/quick-look.png", 0.3),
    ("preview/map-overlay.kml", 0.01),
    ("support/s1-level-1-product.xsd", 0.03),
    *(
        item
        for p, n in (("vv", "001"), ("vh", "002"))
        for item in (
            (f"measurement/{_S1.format(p=p, n=n)}.tiff", 830.0),
            (f"annotation/{_S1.format(p=p, n=n)}.xml", 1.5),
            (f"annotation/calibration/calibration-{_S1.format(p=p, n=n)}.xml", 1.0),
            (f"annotation/calibration/noise-{_S1.format(p=p, n=n)}.xml", 0.5),
        )
    ),
)


def layout(collection: str) -> tuple[tuple[str, float], ...]:
    """The file tree of a collection's products (Sentinel-1 for ``S1``, else Sentinel-2)."""
    return S1_GRD if collection.upper().startswith("S1") else S2_L1C


def safe_zip(name: str, collection: str, size: int, seed: int = 0) -> bytes:
    """A ``<name>.zip`` of about ``size`` bytes with the collection's SAFE tree, every file at
    its real share (at least one byte)."""
    files = layout(collection)
    total = sum(mb for _, mb in files)
    noise = random.Random(seed).randbytes(1 << 16)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, mb in files:
            length = max(1, round(size * mb / total))
            text = path.endswith((".xml", ".safe", ".gml", ".html", ".xsd", ".kml"))
            if text:  # XML deflates about 4 to 1, as real metadata does
                words = noise[: length // 2 + 1].hex().encode()
                data = (f"<e>{path}</e>\n".encode() + words)[:length]
                method = zipfile.ZIP_DEFLATED
            else:
                offset = seed % len(noise)
                rotated = noise[offset:] + noise[:offset]
                data = (rotated * (length // len(noise) + 1))[:length]
                method = zipfile.ZIP_STORED
            archive.writestr(f"{name}.SAFE/{path}", data, compress_type=method)
    return buffer.getvalue()


def apply_safe_layouts(sandbox: Sandbox, names: list[str] | None = None) -> None:
    """Give the products of a running sandbox (``names``, else all) SAFE-layout archives of
    their catalogue size (served like the others, with ``Range``)."""
    for seed, entry in enumerate(list(sandbox.catalogue.entries)):
        if names is not None and entry.name not in names:
            continue
        data = safe_zip(entry.name, entry.collection, entry.size, seed=entry.seed + seed)
        sandbox.replace_entry(entry.name, content=data, size=len(data))
