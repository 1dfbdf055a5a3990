"""One vocabulary: every spelling users write maps to the same unified query, and every bad
input is refused with one short line, whichever entry point it came through (the Python
entry points; EODAG's and the CLI's are in ``tests/test_vocabulary.py``)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eodag_peps_plus import Client, vocabulary
from eodag_peps_plus.backends import get_backend
from eodag_peps_plus.eodag_plugins.search import build_query as eodag_build_query
from eodag_peps_plus.exceptions import InvalidQueryError
from eodag_peps_plus.query import Query

NOWHERE = "http://127.0.0.1:9"  # nothing listens: bad input must be refused before any request
LONG = "A" * 10_000
IMPOSSIBLE_TILES = [
    ("00TCJ", "zone 00"),
    ("61TCJ", "zone 61"),
    ("31ICJ", "band I"),
    ("31OCJ", "band O"),
    ("31TWJ", "column W"),
    ("31TCW", "row W"),
    ("31TCA", "row A is not in band T"),
]


@pytest.fixture(scope="module")
def client() -> Client:
    return Client(get_backend("peps", NOWHERE))


@pytest.mark.parametrize(
    ("spelled", "unified"),
    [
        ({"platform": "sentinel-2a"}, {"platform": "S2A"}),
        ({"platform": "Sentinel2B"}, {"platform": "S2B"}),
        ({"satellite": "s1a"}, {"platform": "S1A"}),
        ({"tile": "MGRS-31TCJ"}, {"tile": "31TCJ"}),
        ({"grid:code": "mgrs-31tcj"}, {"tile": "31TCJ"}),
        ({"tileid": "T31TCJ"}, {"tile": "31TCJ"}),
        ({"eo:cloud_cover": 20}, {"max_cloud_cover": 20}),
        ({"cloudCover": "20", "clouds": 20.0}, {"max_cloud_cover": 20}),
        ({"sat:relative_orbit": 51}, {"relative_orbit": 51}),
        ({"relativeOrbitNumber": "51"}, {"relative_orbit": 51}),
        ({"orbit": 51.0}, {"relative_orbit": 51}),
        (
            {"start_datetime": "2020-01-01", "completionDate": "2020-02-01"},
            {"start": "2020-01-01", "end": "2020-02-01"},
        ),  # fmt: skip
        ({"collection": "S2_MSI_L1C"}, {"collection": "S2ST", "product_type": "S2MSI1C"}),
        ({"collection": "PEPS_S1_L2"}, {"collection": "S1", "product_type": "OCN"}),
        ({"collection": "s2st"}, {"collection": "S2ST"}),
        ({"product:type": "grd"}, {"product_type": "GRD"}),
        ({"sat:orbit_state": "Descending"}, {"orbit_direction": "descending"}),
        ({"box": "1 43 2 44"}, {"bbox": (1, 43, 2, 44)}),
        ({"bbox": [2, 44, 1, 43]}, {"bbox": (1, 43, 2, 44)}),
        ({"id": "S2A_X"}, {"identifiers": ["S2A_X"]}),
    ],
)
def test_every_spelling_gives_the_same_query(spelled: dict, unified: dict) -> None:
    assert Query.create(**spelled) == Query.create(**unified)


def test_the_issue_examples_work_everywhere(client: Client) -> None:
    """``Query.create(platform='sentinel-2a')`` raised where ``dag.search`` worked."""
    expected = Query.create(collection="S2ST", product_type="S2MSI1C", platform="S2A", tile="31TCJ")
    assert Query.create(collection="S2_MSI_L1C", platform="sentinel-2a", tile="MGRS-31TCJ") == expected  # fmt: skip
    search = client.search(
        collections="S2_MSI_L1C",
        query={"platform": {"eq": "sentinel-2a"}, "grid:code": {"eq": "MGRS-31TCJ"}},
    )
    assert search.queries == [expected]
    config = {"_collection": "S2ST", "product:type": "S2MSI1C"}
    assert eodag_build_query(config, {"platform": "sentinel-2a", "grid:code": "MGRS-31TCJ"}) == expected  # fmt: skip


def test_two_spellings_of_one_field_must_agree(client: Client) -> None:
    assert Query.create(tileid="31TCJ", tile="T31TCJ").tile == "31TCJ"
    with pytest.raises(InvalidQueryError, match="tileid and grid:code both given"):
        Query.create(tileid="31TCJ", **{"grid:code": "MGRS-31TCK"})
    with pytest.raises(InvalidQueryError, match="platform given twice"):
        client.search(query={"platform": {"eq": "S2B"}}, platform="S2A")


@pytest.mark.parametrize(("tile", "message"), IMPOSSIBLE_TILES)
def test_impossible_tiles_are_refused_by_the_query(tile: str, message: str, client: Client) -> None:
    for spelled in (tile, f"T{tile}", f"MGRS-{tile}"):
        with pytest.raises(InvalidQueryError, match=message) as info:
            Query.create(tile=spelled)
        assert "\n" not in str(info.value)
    with pytest.raises(InvalidQueryError, match=message):
        client.search(query={"grid:code": {"eq": f"MGRS-{tile}"}})
    with pytest.raises(InvalidQueryError, match=message):
        vocabulary.mgrs_tile(tile)  # the core validator processing/checks.py can use


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"datetime": 12345}, "datetime: 12345 is not"),
        ({"datetime": object()}, "datetime:"),
        ({"ids": 12345}, "identifiers: 12345 is not"),
        ({"ids": [1, 2]}, "identifiers:"),
        ({"collections": 12345}, "collections: 12345 is not"),
        ({"collections": [12345]}, "collection: 12345 is not a collection name"),
        ({"query": 12345}, "query: 12345 is not"),
        ({"query": [12345]}, "query: cannot parse 12345"),
        ({"bbox": 12345}, "bbox: expected 4 numbers"),
        ({"intersects": 12345}, "geometry"),
        ({"max_items": "5"}, "max_items"),
        ({"limit": 2.5}, "limit"),
        ({"relative_orbit": 1.7}, "relative_orbit: 1.7 is not a whole number"),
        ({"relative_orbit": "1.7"}, "relative_orbit: '1.7' is not a whole number"),
        ({"relative_orbit": True}, "relative_orbit: True is not a whole number"),
        ({"orbit_number": 3.5}, "orbit_number"),
        ({"max_cloud_cover": [1]}, "max_cloud_cover"),
        ({"tile": 31}, "tile: 31 is not"),
        ({"platform": 2}, "platform: 2 is not"),
        ({"location": 3}, "location: 3 is not"),
        ({"collections": ""}, "empty value"),
        ({"tile": " "}, "tile: empty value"),
        ({"product_type": ["GRD"]}, "product_type"),
    ],
)
def test_bad_client_arguments_are_invalid_query_errors(
    client: Client, kwargs: dict[str, Any], message: str
) -> None:
    """Bare ``TypeError``s (and silent truncation of 1.7 to 1) before."""
    with pytest.raises(InvalidQueryError, match=message) as info:
        client.search(**kwargs)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("field", ["tile", "platform", "collection", "start", "location", "bbox", "geometry", "nonsense" * 2000])  # fmt: skip
def test_error_lines_never_echo_a_huge_input_whole(field: str) -> None:
    with pytest.raises(InvalidQueryError) as info:
        Query.create(**{field: LONG if field != "location" else 3.5, "point": LONG})
    assert len(str(info.value)) < 1_000 and "\n" not in str(info.value)


_ANY = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(max_size=30),
    st.binary(max_size=10),
    st.lists(st.one_of(st.integers(), st.floats(), st.text(max_size=5)), max_size=5),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
    st.tuples(st.floats(), st.floats()),
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(sorted(vocabulary.FIELD_SPELLINGS)), _ANY, max_size=4))
def test_any_value_is_a_query_or_one_invalid_query_error(fields: dict[str, Any]) -> None:
    try:
        Query.create(**fields)
    except InvalidQueryError as exc:
        assert "\n" not in str(exc) and len(str(exc)) < 2_000


@settings(max_examples=150, deadline=None)
@given(datetime=_ANY, bbox=_ANY, ids=_ANY, collections=_ANY, query=_ANY, max_items=_ANY, limit=_ANY)
def test_any_client_argument_is_a_search_or_one_invalid_query_error(**kwargs: Any) -> None:
    try:
        Client(get_backend("peps", NOWHERE)).search(**kwargs)
    except InvalidQueryError as exc:
        assert "\n" not in str(exc)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from([*vocabulary.FIELD_SPELLINGS, "geometry", "lat", "lon", "nonsense"]),
        _ANY,
        max_size=4,
    )
)
def test_any_eodag_keyword_is_a_query_or_one_invalid_query_error(kwargs: dict[str, Any]) -> None:
    try:
        eodag_build_query({"_collection": "S2ST"}, kwargs)
    except InvalidQueryError as exc:
        assert "\n" not in str(exc)
