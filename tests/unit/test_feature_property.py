"""Property: whatever JSON a server sends as a feature, mapping it either gives a product that
the rest of the package (STAC items, EODAG shapes) accepts, or raises the project's own error.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eodag_peps_plus.backends.geodes import item_to_product
from eodag_peps_plus.backends.peps import feature_to_product
from eodag_peps_plus.backends.stac_api import generic_item_to_product
from eodag_peps_plus.exceptions import PepsPlusError
from eodag_peps_plus.product import Product
from eodag_peps_plus.stac import geometry_bbox, product_to_item
from tests.conftest import recorded
from tests.hostile.bounded import within

MAPPERS: dict[str, Callable[[Any, str], Product]] = {
    "peps": feature_to_product,
    "geodes": item_to_product,
    "stac": generic_item_to_product,
}
VALID = {
    "peps": json.loads(recorded("peps_search_S2ST_page1.json").read_text())["features"][0],
    "geodes": json.loads(recorded("geodes_search_S2_L1C.json").read_text())["features"][0],
}
VALID["stac"] = VALID["geodes"]

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(["NaN", "inf", "2020-01-05T10:53:39Z", "S2A", "1e400", "9" * 40, ""])
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=25,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into a JSON value (dict keys and list indexes)."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value[:6]):
            found += _paths(child, (*prefix, index))
    return found


PATHS = {kind: _paths(feature) for kind, feature in VALID.items()}


def _replace(feature: Any, path: tuple[Any, ...], value: Any) -> Any:
    copy = json.loads(json.dumps(feature))
    target = copy
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return copy


def _check(kind: str, feature: Any) -> None:
    """Maps to a usable product, or raises a one-line PepsPlusError; nothing else."""

    def attempt() -> Product | None:
        try:
            product = MAPPERS[kind](feature, kind)
        except PepsPlusError as exc:
            assert "\n" not in str(exc) and len(str(exc)) < 400, str(exc)
            return None
        product_to_item(product)  # STAC needs a start and a box
        shapely_shape(product.geometry)  # EODAG needs a shape
        return product

    within(attempt)


def shapely_shape(geometry: dict[str, Any]) -> None:
    import orjson
    import shapely

    shapely.from_geojson(orjson.dumps(geometry))


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("kind", sorted(MAPPERS))
@SETTINGS
@given(feature=json_values)
def test_any_json_as_a_feature(kind: str, feature: Any) -> None:
    _check(kind, feature)


@pytest.mark.parametrize("kind", sorted(MAPPERS))
@SETTINGS
@given(data=st.data())
def test_any_json_in_any_field_of_a_real_feature(kind: str, data: st.DataObject) -> None:
    path = data.draw(st.sampled_from(PATHS[kind]))
    value = data.draw(json_values)
    _check(kind, _replace(VALID[kind], path, value))


@SETTINGS
@given(geometry=json_values)
def test_any_json_as_a_geometry_has_a_box_or_a_value_error(geometry: Any) -> None:
    def attempt() -> None:
        shape = (
            geometry if isinstance(geometry, dict) else {"type": "Polygon", "coordinates": geometry}
        )
        with contextlib.suppress(ValueError):
            geometry_bbox(shape)

    within(attempt, 5)
