"""The STAC property vocabulary every backend maps to (EODAG 4 names).

Keeping the conversions here is what makes "same query, same products, same properties"
hold across PEPS and GEODES: both backends call these functions instead of formatting values
their own way.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

#: Property names shared by all backends (documentation and tests read this list).
COMMON_PROPERTIES = (
    "title", "start_datetime", "end_datetime", "created", "updated", "constellation", "platform",
    "instruments", "product:type", "processing:level", "processing:version", "sar:instrument_mode",
    "sar:polarizations", "sar:frequency_band", "eo:cloud_cover", "sat:absolute_orbit",
    "sat:relative_orbit", "sat:orbit_state", "grid:code", "order:status", "file:size",
    "file:checksum", "eodag:download_link", "eodag:quicklook",
)  # fmt: skip

_LEVELS = {"LEVEL1C": "L1C", "LEVEL2A": "L2A", "LEVEL1": "L1", "LEVEL2": "L2", "L1C": "L1C", "L2A": "L2A", "L1": "L1", "L2": "L2"}  # fmt: skip
_INSTRUMENTS = {
    "MSI": ["msi"],
    "SAR-C SAR": ["sar"],
    "SAR": ["sar"],
    "OLCI": ["olci"],
    "SLSTR": ["slstr"],
}
_S2_REL_ORBIT = re.compile(r"_R(\d{3})_")
_S2_BASELINE = re.compile(r"_N(\d{2})(\d{2})_")
_S1_POLARISATIONS = {"SV": ["VV"], "SH": ["HH"], "DV": ["VV", "VH"], "DH": ["HH", "HV"]}


def iso_utc(value: str | datetime) -> str:
    """Normalise a timestamp to ``YYYY-MM-DDTHH:MM:SS.fffZ`` whatever the server wrote."""
    if isinstance(value, str):
        if len(value) == 24 and value[19] == "." and value[23] == "Z" and value[10] == "T":
            return value  # already canonical (resto's own format): the common case
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    value = value.astimezone(timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def constellation(platform: str) -> str:
    """``S2A`` -> ``sentinel-2``."""
    return f"sentinel-{platform[1]}" if re.fullmatch(r"S\d[A-Z]", platform) else platform.lower()


def processing_level(level: str | None) -> str | None:
    return _LEVELS.get(level.upper(), level) if level else None


def instruments(instrument: str | None) -> list[str] | None:
    if not instrument:
        return None
    return _INSTRUMENTS.get(instrument.upper(), [instrument.lower()])


def grid_code(tile: str | None) -> str | None:
    """STAC grid extension code ``MGRS-31TCJ`` from ``31TCJ`` or ``T31TCJ``."""
    if not tile:
        return None
    tile = tile.upper().removeprefix("MGRS-")
    return f"MGRS-{tile.removeprefix('T')}"


def s1_relative_orbit(platform: str, absolute: int) -> int:
    """PEPS's formula, for S1 records that lack ``relativeOrbitNumber``."""
    offset = 73 if platform.upper() == "S1A" else 27
    return ((absolute - offset) % 175) + 1


def relative_orbit(name: str, platform: str, absolute: int | None, given: int | None) -> int | None:
    if given:
        return int(given)
    if platform.upper().startswith("S2"):
        match = _S2_REL_ORBIT.search(name)
        return int(match.group(1)) if match else None
    if platform.upper().startswith("S1") and absolute:
        return s1_relative_orbit(platform, int(absolute))
    return None


def processing_version(name: str) -> str | None:
    match = _S2_BASELINE.search(name)
    return f"{match.group(1)}.{match.group(2)}" if match else None


def sar_properties(name: str, mode: str | None) -> dict[str, Any]:
    """SAR extension fields read from an S1 product name (``..._1SDV_...``)."""
    props: dict[str, Any] = {"sar:frequency_band": "C", "sar:center_frequency": 5.405}
    if mode:
        props["sar:instrument_mode"] = mode
    match = re.search(r"_\d(S[SD][VH]|SV|SH|DV|DH)_", name)
    if match:
        props["sar:polarizations"] = _S1_POLARISATIONS.get(match.group(1)[-2:], ["VV"])
    else:
        props["sar:polarizations"] = ["VV"]
    return props


def orbit_state(direction: str | None) -> str | None:
    return direction.lower() if direction else None
