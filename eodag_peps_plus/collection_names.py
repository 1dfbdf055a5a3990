"""The one collections table: every collection the package serves, in each world's spelling.

A row says what EODAG calls a collection (``S2_MSI_L1C``, the ``products:`` key of
``providers.yml``), what PEPS calls it (``S2ST`` and its product type ``S2MSI1C``), and where it
lives on GEODES (``PEPS_S2_L1C``, filtered on ``product:type``). The vocabulary (which names users
may type), both backends (where a query goes), the CLI choices and ``providers.yml`` (checked
against it by a test) all read these rows, so a collection is added in one place.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from types import MappingProxyType


@dataclasses.dataclass(frozen=True)
class CollectionRow:
    """One collection in every world's spelling.

    Attributes:
        product_type: the unified product type (PEPS's ``productType``: ``S2MSI1C``).
        unified: the unified (PEPS) collection holding it (``S2ST``).
        eodag: EODAG's collection name (``S2_MSI_L1C``), or ``None`` when no provider
            publishes it as its own collection.
        geodes: the GEODES collection holding it, or ``None`` when GEODES has none.
        geodes_type: the GEODES ``product:type`` value selecting it inside ``geodes`` (``None``:
            the whole collection).
        peps: PEPS serves it.
    """

    product_type: str
    unified: str
    eodag: str | None
    geodes: str | None
    geodes_type: str | None
    peps: bool = True


#: PEPS catalogue collections and what each holds (``SpotWorldHeritage`` was never part of
#: the Sentinel mirror; resto had no collections list that PEPS exposed).
TITLES: Mapping[str, str] = MappingProxyType(
    {
        "S1": "Sentinel-1",
        "S2": "Sentinel-2, multi-tile products (before 2016-12-05)",
        "S2ST": "Sentinel-2, single-tile products",
        "S3": "Sentinel-3",
    }
)
COLLECTIONS = tuple(TITLES)
#: Every collection, by product type.
ROWS: tuple[CollectionRow, ...] = (
    CollectionRow("GRD", "S1", "S1_SAR_GRD", "PEPS_S1_L1", "GRD"),
    CollectionRow("SLC", "S1", "S1_SAR_SLC", "PEPS_S1_L1", "SLC"),
    CollectionRow("OCN", "S1", "S1_SAR_OCN", "PEPS_S1_L2", "OCN"),
    CollectionRow("S2MSI1C", "S2ST", "S2_MSI_L1C", "PEPS_S2_L1C", "S2MSI1C"),
    # ESA's Sen2Cor L2A, as PEPS listed it; GEODES serves THEIA's MAJA L2A instead.
    CollectionRow("S2MSI2A", "S2ST", None, None, None),
    # THEIA's MAJA L2A: GEODES only.
    CollectionRow(
        "S2MSI2A_MAJA", "S2ST", "S2_MSI_L2A_MAJA", "THEIA_REFLECTANCE_SENTINEL2_L2A", None, False
    ),
)
#: Product type -> its row.
BY_PRODUCT_TYPE: Mapping[str, CollectionRow] = MappingProxyType({r.product_type: r for r in ROWS})
#: What MAJA processes: Sentinel-2 L1C. Every MAJA search (``ensure``, the calendar,
#: per-product submissions, the drop-ins, ``migrate``) spells it from here.
MAJA_INPUT = BY_PRODUCT_TYPE["S2MSI1C"]
#: What MAJA produces.
MAJA_OUTPUT = BY_PRODUCT_TYPE["S2MSI2A_MAJA"]
#: The query fields of MAJA's input, for ``Query.create(**MAJA_L1C_QUERY, ...)``.
MAJA_L1C_QUERY: Mapping[str, str] = MappingProxyType(
    {"collection": MAJA_INPUT.unified, "product_type": MAJA_INPUT.product_type}
)


def family(collection: str) -> str:
    """The table's collection for a PEPS collection: ``S2`` (PEPS's multi-tile Sentinel-2,
    before 2016-12-05) holds the same products as ``S2ST``."""
    return "S2ST" if collection == "S2" else collection


def _aliases() -> dict[str, tuple[str, str | None]]:
    """Collection names users may type (PEPS ``S2ST``, EODAG ``S2_MSI_L1C``, GEODES
    ``PEPS_S2_L1C``) -> (unified collection, product type or ``None``). A GEODES collection
    holding several product types (``PEPS_S1_L1``: GRD and SLC) implies none."""
    out: dict[str, tuple[str, str | None]] = {}
    for row in ROWS:
        if row.eodag:
            out[row.eodag] = (row.unified, row.product_type)
    for geodes in dict.fromkeys(r.geodes for r in ROWS if r.geodes):
        rows = [r for r in ROWS if r.geodes == geodes]
        out[geodes] = (rows[0].unified, rows[0].product_type if len(rows) == 1 else None)
    out.update({name: (name, None) for name in COLLECTIONS})
    return out


#: See :func:`_aliases`.
ALIASES: Mapping[str, tuple[str, str | None]] = MappingProxyType(_aliases())


def provider_products(backend: str) -> dict[str, dict[str, str]]:
    """The ``products:`` block ``providers.yml`` must hold for ``backend`` (``peps``,
    ``geodes``), without ``GENERIC_COLLECTION``."""
    served = [r for r in ROWS if r.eodag and (r.peps if backend == "peps" else r.geodes)]
    return {
        r.eodag: {"_collection": r.unified, "product:type": r.product_type}
        for r in served
        if r.eodag
    }


__all__ = [
    "ALIASES",
    "BY_PRODUCT_TYPE",
    "COLLECTIONS",
    "MAJA_INPUT",
    "MAJA_L1C_QUERY",
    "MAJA_OUTPUT",
    "ROWS",
    "TITLES",
    "CollectionRow",
    "family",
    "provider_products",
]
