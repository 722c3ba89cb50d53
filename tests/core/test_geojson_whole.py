"""People's data kept whole (issue 57): a GeoJSON feature is one feature, its holes, parts and
members kept, its id kept; exported, it is the same geometry. Checked on every country of Natural
Earth (real data: Canada's 30 islands, Lesotho in South Africa) against shapely; and hostile
geometry is refused naming where, with nothing applied."""

from __future__ import annotations

import json
from typing import Any

import pytest
import shapely
from shapely.geometry import shape
from support.natural_earth import countries_geojson

from mapsrv.core import Limits, MapState, apply, apply_all
from mapsrv.core.codec import dumps, state_from_json
from mapsrv.core.geojson import MAX_NESTING, features_from_geojson, geometry_from_geojson, to_geojson
from mapsrv.core.geometry import polygon_rings
from mapsrv.core.ops import ImportFeatures
from mapsrv.core.parse import parse_op, parse_ops
from mapsrv.errors import InvalidInput, PayloadTooLarge
from mapsrv.formats import read_file


def _by_id(collection: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["id"]: f for f in collection["features"]}


@pytest.mark.parametrize(("scale", "countries"), [("110m", 177), ("50m", 241)])
def test_every_country_comes_back_out_as_it_went_in(scale: str, countries: int) -> None:
    given = countries_geojson(scale)  # type: ignore[arg-type]
    features = features_from_geojson(given, Limits())
    assert len(features) == countries, "one feature per GeoJSON feature, none split"
    assert [f.id for f in features] == [f["id"] for f in given["features"]], "ids kept, no .0 suffix"
    state, _ = apply(MapState(id="m"), ImportFeatures(features))
    # through the stores' form too
    state = state_from_json(json.loads(dumps(state.to_json())), "m")
    exported = to_geojson(state)
    assert [f["id"] for f in exported["features"]] == [f["id"] for f in given["features"]]
    for before, after in zip(given["features"], exported["features"], strict=True):
        assert after["geometry"]["type"] == before["geometry"]["type"], before["id"]
        a, b = shape(before["geometry"]).normalize(), shape(after["geometry"]).normalize()
        assert a.equals_exact(b, 1e-7), f"{before['properties']['name']} changed on the way"
        assert shapely.get_num_coordinates(a) == shapely.get_num_coordinates(b)


def test_south_africa_keeps_lesotho_as_its_hole_and_canada_is_one_multipolygon() -> None:
    given = _by_id(countries_geojson("110m"))
    features = {f.id: f for f in features_from_geojson(countries_geojson("110m"), Limits())}
    south_africa = features["710"]
    assert south_africa.type == "polygon" and south_africa.label == "South Africa"
    assert len(polygon_rings(south_africa.coords)) == 2
    canada = features["124"]
    assert canada.type == "multipolygon" and canada.label == "Canada"
    assert len(canada.coords) == len(given["124"]["geometry"]["coordinates"]) == 30
    state, _ = apply(MapState(id="m"), ImportFeatures((south_africa, canada)))
    out = _by_id(to_geojson(state))
    rings = out["710"]["geometry"]["coordinates"]
    assert len(rings) == 2 and all(r[0] == r[-1] for r in rings), "both rings, closed"
    assert shape(out["710"]["geometry"]).area < shape({"type": "Polygon", "coordinates": rings[:1]}).area
    assert out["124"]["geometry"]["type"] == "MultiPolygon"
    assert canada.point_count() == state.points - south_africa.point_count()


def test_every_geojson_type_is_one_feature_and_exports_as_itself() -> None:
    square = [[0, 0], [4, 0], [4, 4], [0, 4], [0, 0]]
    hole = [[1, 1], [1, 2], [2, 2], [2, 1], [1, 1]]
    geometries = [
        {"type": "Point", "coordinates": [2.35, 48.85]},
        {"type": "LineString", "coordinates": [[0, 0], [1, 1]]},
        {"type": "Polygon", "coordinates": [square, hole]},
        {"type": "MultiPoint", "coordinates": [[1, 2], [3, 4]]},
        {"type": "MultiLineString", "coordinates": [[[0, 0], [1, 1]], [[2, 2], [3, 3]]]},
        {"type": "MultiPolygon", "coordinates": [[square, hole], [[[10, 10], [11, 10], [11, 11]]]]},
        {
            "type": "GeometryCollection",
            "geometries": [
                {"type": "Point", "coordinates": [1, 2]},
                {"type": "Polygon", "coordinates": [square]},
            ],
        },
    ]
    given = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "id": f"g{i}", "geometry": g, "properties": {"name": g["type"]}}
            for i, g in enumerate(geometries)
        ],
    }
    features = features_from_geojson(given, Limits())
    assert [f.type for f in features] == [
        "marker",
        "polyline",
        "polygon",
        "multipoint",
        "multipolyline",
        "multipolygon",
        "collection",
    ]
    state, _ = apply(MapState(id="m"), ImportFeatures(features))
    out = to_geojson(state)["features"]
    for before, after in zip(given["features"], out, strict=True):
        assert shape(before["geometry"]).normalize().equals_exact(shape(after["geometry"]).normalize(), 0)
    # an unclosed ring is accepted (closed on export), and the mapsrv_type restores still work
    unclosed = geometry_from_geojson("g", {"type": "Polygon", "coordinates": [square[:-1]]})
    assert unclosed == ("polygon", [[(p[1], p[0]) for p in square[:-1]]])
    again = features_from_geojson(to_geojson(state), Limits())
    assert [(f.id, f.type, f.coords) for f in again] == [(f.id, f.type, f.coords) for f in features]


def test_nested_collections_are_flattened_into_one() -> None:
    point: dict[str, Any] = {"type": "Point", "coordinates": [1, 2]}
    nested: dict[str, Any] = point
    for _ in range(MAX_NESTING - 1):
        nested = {"type": "GeometryCollection", "geometries": [nested, point]}
    top = {"type": "GeometryCollection", "geometries": [nested]}
    gtype, members = geometry_from_geojson("g", top)
    assert gtype == "collection" and len(members) == MAX_NESTING
    assert all(m == {"type": "marker", "coords": (2, 1)} for m in members)


def _refused(feature_geometry: Any) -> str:
    """The error importing one feature of this geometry gives; nothing is applied."""
    body = {
        "ops": [
            {"op": "set_title", "title": "x"},
            {
                "op": "import_geojson",
                "geojson": {"type": "Feature", "geometry": feature_geometry, "properties": {}},
            },
        ]
    }
    with pytest.raises(InvalidInput) as caught:
        ops, _ = parse_ops(body, Limits())
        apply_all(MapState(id="m"), ops)
    return caught.value.message


def test_hostile_geometry_is_refused_naming_where() -> None:
    def polygon(*rings: Any) -> dict[str, Any]:
        return {"type": "Polygon", "coordinates": list(rings)}

    assert _refused(polygon([[0, 0], [1, 1], [0, 0]], [[0, 0], [1, 1]])) == (
        "op 1: geojson feature 0: coords[1] needs at least 3 points, got 2; add points or draw a line"
    )
    assert "geojson feature 0 geometry coordinates[0][1] must be a [lon, lat] position" in _refused(
        polygon([[0, 0], 5, [1, 1]])
    )
    wrong = _refused({"type": "MultiPolygon", "coordinates": [[[0, 0], [1, 0], [1, 1]]]})
    assert wrong.startswith("op 1: geojson feature 0 geometry coordinates[0][0][0] must be a [lon, lat]")
    deep = {"type": "Point", "coordinates": [1, 2]}
    for _ in range(1000):
        deep = {"type": "GeometryCollection", "geometries": [deep]}
    assert _refused(deep) == (
        f"op 1: geojson feature 0 geometry must nest GeometryCollections at most {MAX_NESTING} deep,"
        " got deeper; flatten it"
    )
    with pytest.raises(
        PayloadTooLarge, match=r"geojson feature 0 must have at most 100000 points, got at least"
    ):
        line = [[0.5, 0.5]] * 10_000_000
        parse_op(
            {
                "op": "import_geojson",
                "geojson": {"type": "Feature", "geometry": {"type": "LineString", "coordinates": line}},
            },
            Limits(),
        )
    # core's own form: a collection in a collection, named by its path
    with pytest.raises(InvalidInput, match=r"'collection' \(a collection inside a collection\); flatten"):
        parse_op(
            {"op": "add_feature", "type": "collection", "coords": [{"type": "collection", "coords": []}]},
            Limits(),
        )


def test_collections_nested_1000_deep_as_json_are_refused_by_the_file_reader() -> None:
    text = '{"type":"GeometryCollection","geometries":[' * 1000 + '{"type":"Point","coordinates":[1,2]}'
    text += "]}" * 1000
    data = json.dumps({"type": "Feature", "properties": {}, "geometry": "X"}).replace('"X"', text)
    with pytest.raises(InvalidInput, match="nested too deeply"):
        read_file(data.encode(), "geojson", Limits())
