"""Collection names users may type, from any of the worlds they come from, mapped to the
unified (collection, product type) pair.

PEPS users write ``S2ST``, EODAG users ``S2_MSI_L1C``, GEODES users ``PEPS_S2_L1C``: all mean
the same archive, so the client accepts all three.
"""

from __future__ import annotations

from .exceptions import InvalidQueryError
from .query import COLLECTIONS

#: name -> (unified collection, product type or None)
ALIASES: dict[str, tuple[str, str | None]] = {
    "S1_SAR_GRD": ("S1", "GRD"),
    "S1_SAR_SLC": ("S1", "SLC"),
    "S1_SAR_OCN": ("S1", "OCN"),
    "S2_MSI_L1C": ("S2ST", "S2MSI1C"),
    "PEPS_S1_L1": ("S1", None),
    "PEPS_S1_L2": ("S1", "OCN"),
    "PEPS_S2_L1C": ("S2ST", "S2MSI1C"),
    "S2_MSI_L2A_MAJA": ("S2ST", "S2MSI2A_MAJA"),
    "THEIA_REFLECTANCE_SENTINEL2_L2A": ("S2ST", "S2MSI2A_MAJA"),
    **{name: (name, None) for name in COLLECTIONS},
}


def resolve(name: str) -> tuple[str, str | None]:
    """(collection, product type) for a user-facing collection name."""
    key = name.strip()
    for candidate in (key, key.upper()):
        if candidate in ALIASES:
            return ALIASES[candidate]
    raise InvalidQueryError(f"unknown collection {name!r}; known: {', '.join(sorted(ALIASES))}")
