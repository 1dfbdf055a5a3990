"""One vocabulary: the same query through the four entry points (``Query.create``, the
pystac-style client, ``peps-plus search`` and EODAG's ``dag.search``), each in its own
spelling, must put the same request on the wire. A loopback server records what arrives."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eodag_peps_plus import Client
from eodag_peps_plus.backends import get_backend
from eodag_peps_plus.cli import cli
from eodag_peps_plus.eodag_support import gateway
from eodag_peps_plus.query import Query
from eodag_peps_plus.sandbox.app import Response

from .conftest import HostileServer

#: Paging parameters: each entry point asks its own page size; the filters must agree.
PAGING = {"maxRecords", "page", "limit", "token"}
EMPTY = {"type": "FeatureCollection", "features": [], "properties": {"totalResults": 0}}
EMPTY_STAC = {"type": "FeatureCollection", "features": [], "numberMatched": 0, "links": []}
#: backend name -> EODAG provider
PROVIDERS = {"peps": "peps", "geodes": "geodes_plus"}
#: Real tiles (zone, band, column, row all consistent), in the catalogue's area and beyond.
TILES = ("31TCJ", "31UDQ", "30TYN", "32TLP", "33UVP", "18TWL", "55PEK")


class Recorder:
    """A resto and STAC API look-alike answering every search with no product, keeping
    each request."""

    def __init__(self) -> None:
        self.server = HostileServer().start()
        self.server.route("GET", r"/resto/api/collections/.*", Response.json(EMPTY))
        self.server.route("POST", r"/api/stac/search", Response.json(EMPTY_STAC))

    @property
    def url(self) -> str:
        return self.server.url

    def take(self) -> list[tuple[str, str]]:
        """The search requests since the last call (path, and query or JSON body), paging
        parameters left out."""
        seen = set()
        for r in self.server.requests:
            fields = r.json() if r.method == "POST" else r.query
            kept = {k: v for k, v in fields.items() if k not in PAGING}
            seen.add((r.path, json.dumps(kept, sort_keys=True)))
        self.server.requests.clear()
        return sorted(seen)


@pytest.fixture(scope="module")
def recorder() -> Iterator[Recorder]:
    rec = Recorder()
    yield rec
    rec.server.stop()


@pytest.fixture(scope="module")
def dag(recorder: Recorder) -> Any:
    return gateway(peps=recorder.url, geodes_plus=recorder.url)


@st.composite
def searches(draw: Callable[..., Any]) -> dict[str, Any]:
    """One search, as meaning: which fields are set and to what."""
    s2 = draw(st.booleans())
    meaning: dict[str, Any] = {
        "collection": "S2_MSI_L1C" if s2 else draw(st.sampled_from(["S1_SAR_GRD", "S1_SAR_OCN"]))
    }
    year = draw(st.integers(2017, 2023))
    first, last = sorted(draw(st.lists(st.integers(1, 12), min_size=2, max_size=2)))
    meaning["start"] = f"{year}-{first:02d}-01"
    meaning["end"] = f"{year}-{last:02d}-28"
    if s2 and draw(st.booleans()):
        meaning["tile"] = draw(st.sampled_from(TILES))
    elif draw(st.booleans()):
        lon, lat = draw(st.integers(-170, 169)), draw(st.integers(-80, 79))
        width, height = draw(st.integers(1, 10)), draw(st.integers(1, 10))
        meaning["bbox"] = (lon, lat, min(180, lon + width), min(90, lat + height))
        meaning["reversed"] = draw(st.booleans())
    if draw(st.booleans()):
        meaning["orbit"] = draw(st.integers(1, 143))
    if s2 and draw(st.booleans()):
        meaning["clouds"] = draw(st.integers(0, 100))
    if draw(st.booleans()):
        meaning["platform"] = ("S2" if s2 else "S1") + draw(st.sampled_from("AB"))
    return meaning


def _box(meaning: dict[str, Any]) -> list[float]:
    lonmin, latmin, lonmax, latmax = meaning["bbox"]
    return [lonmax, latmax, lonmin, latmin] if meaning["reversed"] else [lonmin, latmin, lonmax, latmax]  # fmt: skip


def via_query(meaning: dict[str, Any], url: str, spell: Any, backend: str) -> None:
    fields: dict[str, Any] = {"collection": meaning["collection"], "start": meaning["start"]}
    fields["end_datetime" if spell.draw(st.booleans()) else "end"] = meaning["end"]
    if "tile" in meaning:
        fields["tile"] = spell.draw(st.sampled_from(["", "T", "MGRS-"])) + meaning["tile"]
    if "bbox" in meaning:
        fields["bbox"] = _box(meaning)
    if "orbit" in meaning:
        fields["relative_orbit"] = meaning["orbit"]
    if "clouds" in meaning:
        fields["eo:cloud_cover"] = meaning["clouds"]
    if "platform" in meaning:
        fields["platform"] = _platform(meaning["platform"], spell)
    list(get_backend(backend, url).search(Query.create(**fields)))


def via_client(meaning: dict[str, Any], url: str, spell: Any, backend: str) -> None:
    query: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    if "tile" in meaning:
        query["grid:code"] = {"eq": "MGRS-" + meaning["tile"]}
    if "orbit" in meaning:
        query["sat:relative_orbit"] = {"eq": meaning["orbit"]}
    if "clouds" in meaning:
        query["eo:cloud_cover"] = {"lte": meaning["clouds"]}
    if "platform" in meaning:
        extra["platform"] = _platform(meaning["platform"], spell)
    search = Client(get_backend(backend, url)).search(
        collections=[meaning["collection"]],
        datetime=f"{meaning['start']}/{meaning['end']}",
        bbox=_box(meaning) if "bbox" in meaning else None,
        query=query,
        **extra,
    )
    list(search.items())


def via_cli(meaning: dict[str, Any], url: str, spell: Any, backend: str) -> None:
    args = ["search", "-B", backend, "--url", url, "-c", meaning["collection"]]
    args += [spell.draw(st.sampled_from(["-d", "-s", "--start"])), meaning["start"]]
    args += [spell.draw(st.sampled_from(["-f", "-e", "--end"])), meaning["end"]]
    if "tile" in meaning:
        args += ["-t", spell.draw(st.sampled_from(["", "T", "MGRS-"])) + meaning["tile"]]
    if "bbox" in meaning:
        box = [str(v) for v in _box(meaning)]
        if spell.draw(st.booleans()):
            args += ["-b", *box]
        else:
            for name, value in zip(("lonmin", "latmin", "lonmax", "latmax"), box, strict=True):
                args += [f"--{name}", value]
    if "orbit" in meaning:
        args += ["-o", str(meaning["orbit"])]
    if "clouds" in meaning:
        args += ["--cc", str(meaning["clouds"])]
    if "platform" in meaning:
        args += ["--sat", _platform(meaning["platform"], spell)]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output


def via_eodag(meaning: dict[str, Any], dag: Any, spell: Any, backend: str) -> None:
    kwargs: dict[str, Any] = {"start": meaning["start"], "end": meaning["end"]}
    if "tile" in meaning:
        key = spell.draw(st.sampled_from(["tileid", "grid:code"]))
        kwargs[key] = ("MGRS-" if key == "grid:code" else "") + meaning["tile"]
    if "bbox" in meaning:
        kwargs["geom"] = _box(meaning)
    if "orbit" in meaning:
        kwargs[spell.draw(st.sampled_from(["relativeOrbitNumber", "sat:relative_orbit"]))] = (
            meaning["orbit"]
        )
    if "clouds" in meaning:
        kwargs[spell.draw(st.sampled_from(["cloudCover", "eo:cloud_cover"]))] = meaning["clouds"]
    if "platform" in meaning:
        kwargs["platform"] = _platform(meaning["platform"], spell)
    dag.search(
        provider=PROVIDERS[backend], collection=meaning["collection"], raise_errors=True, **kwargs
    )


def _platform(name: str, spell: Any) -> str:
    """``S2A`` in one of its spellings: ``S2A``, ``s2a``, ``sentinel-2a``, ``Sentinel-2A``."""
    return spell.draw(
        st.sampled_from(
            [name, name.lower(), f"sentinel-{name[1:].lower()}", f"Sentinel-{name[1:]}"]
        )  # fmt: skip
    )


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@pytest.mark.parametrize("backend", sorted(PROVIDERS))
@given(meaning=searches(), spell=st.data())
def test_same_query_same_request_on_every_entry_point(
    recorder: Recorder, dag: Any, backend: str, meaning: dict[str, Any], spell: Any
) -> None:
    sent = []
    for entry in (via_query, via_client, via_cli):
        entry(meaning, recorder.url, spell, backend)
        sent.append((entry.__name__, recorder.take()))
    via_eodag(meaning, dag, spell, backend)
    sent.append(("via_eodag", recorder.take()))
    reference = sent[0][1]
    assert reference, "nothing reached the server"
    for name, requests in sent[1:]:
        assert requests == reference, json.dumps(
            {"meaning": meaning, "via_query": reference, name: requests}, default=str
        )


def test_reversed_box_is_the_box_between_the_corners(recorder: Recorder, dag: Any) -> None:
    """EODAG turns any two corners into the rectangle between them (and hands us only that),
    so every entry point reads a reversed box the same way rather than refusing it on some."""
    meaning = {
        "collection": "S2_MSI_L1C", "start": "2020-01-01", "end": "2020-02-01",
        "bbox": (1.0, 43.0, 2.0, 44.0), "reversed": False,
    }  # fmt: skip
    for backend in sorted(PROVIDERS):
        seen = []
        for reversed_ in (False, True):
            meaning["reversed"] = reversed_
            via_query(meaning, recorder.url, _First(), backend)
            via_client(meaning, recorder.url, _First(), backend)
            via_cli(meaning, recorder.url, _First(), backend)
            via_eodag(meaning, dag, _First(), backend)
            seen.append(recorder.take())
        assert seen[0] == seen[1] and len(seen[0]) == 1, seen
        assert "1,43,2,44" in seen[0][0][1] or "[1.0, 43.0, 2.0, 44.0]" in seen[0][0][1]


class _First:
    """Draws the first choice of every ``sampled_from`` (and False for booleans)."""

    @staticmethod
    def draw(strategy: Any) -> Any:
        wrapped = getattr(strategy, "wrapped_strategy", strategy)
        elements = getattr(wrapped, "elements", None)
        return elements[0] if elements is not None else False


@pytest.mark.parametrize("collections", [[None], ["S2ST", None]])
def test_collections_holding_none_are_refused(recorder: Recorder, collections: Any) -> None:
    """Issue 25 item 8: ``search(collections=[None])`` searched every collection."""
    from eodag_peps_plus.exceptions import InvalidQueryError

    with pytest.raises(InvalidQueryError, match="holds None"):
        list(Client.open(recorder.url, backend="peps").search(collections=collections).items())
    assert recorder.take() == []
