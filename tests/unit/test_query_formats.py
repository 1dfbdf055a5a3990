"""``Query.create`` is one normaliser per field plus a few rules between fields; the words
live in the vocabulary, which knows nothing of ``Query``."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest

from eodag_peps_plus import query, vocabulary
from eodag_peps_plus.exceptions import InvalidQueryError
from eodag_peps_plus.query import FORMATS, Query, unified_fields


def test_every_field_has_one_normaliser() -> None:
    fields = [f.name for f in dataclasses.fields(Query)]
    assert list(FORMATS) == fields == list(vocabulary.QUERY_FIELDS)


def test_the_vocabulary_does_not_call_back_into_the_query() -> None:
    tree = ast.parse(Path(vocabulary.__file__).read_text())
    imported = {
        node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
    } | {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    assert not any(name.endswith("query") for name in imported), imported


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("collection", " s2_msi_l1c ", "S2ST"),
        ("product_type", " grd", "GRD"),
        ("sensor_mode", "iw", "IW"),
        ("bbox", "2 44 1 43", (1.0, 43.0, 2.0, 44.0)),
        ("point", [1, 43], (1.0, 43.0)),
        ("geometry", {"type": "Point", "coordinates": [1, 43]}, "POINT (1 43)"),
        ("tile", "mgrs-31tcj", "31TCJ"),
        ("location", " Toulouse ", "Toulouse"),
        ("relative_orbit", "51", 51),
        ("orbit_number", 12.0, 12),
        ("orbit_direction", "ASCENDING", "ascending"),
        ("max_cloud_cover", "20", 20.0),
        ("platform", "sentinel-2b", "S2B"),
        ("identifiers", "S2A_X", ("S2A_X",)),
    ],
)
def test_each_normaliser_alone(field: str, value: object, expected: object) -> None:
    assert FORMATS[field](value) == expected


def test_rules_between_fields() -> None:
    assert Query.create(collection="S2_MSI_L1C").product_type == "S2MSI1C"
    assert Query.create(collection="S2_MSI_L1C", product_type="S2MSI2A").product_type == "S2MSI2A"
    assert Query.create(product_type="grd").collection == "S1"
    with pytest.raises(InvalidQueryError, match="S1A does not belong to collection S2ST"):
        Query.create(collection="S2ST", platform="s1a")
    with pytest.raises(InvalidQueryError, match="before start"):
        Query.create(start="2020-02-01", end="2020-01-01")
    with pytest.raises(InvalidQueryError, match="only one of box, point"):
        Query.create(bbox="1 43 2 44", location="Toulouse")


def test_spellings_of_one_field_agree_once_normalised() -> None:
    assert unified_fields({"tileid": "T31TCJ", "grid:code": "MGRS-31TCJ"}) == {"tile": "MGRS-31TCJ"}
    assert Query.same_value("max_cloud_cover", "20", 20.0)
    assert not Query.same_value("tile", "31TCJ", "nonsense")
    with pytest.raises(InvalidQueryError, match="unknown search parameter"):
        unified_fields({"cloudiness": 3})
    assert query.SPATIAL_FIELDS == ("bbox", "point", "geometry", "location")
