"""GeoJSON files in and out: read through the same collector as every other format (thinned
before the point caps, attributes past the cap noted); float noise past ±180 in a real outline
reprojected by pyproj clamped, with a note, and a longitude really past it refused with every
digit and its feature's place in the file."""

from __future__ import annotations

import csv
import io
import json
import math
from typing import Any

import pytest
from formats_helpers import map_of

from mapsrv.core.geojson import features_from_geojson
from mapsrv.core.geometry import points
from mapsrv.core.model import MAX_PROPERTIES, Limits
from mapsrv.errors import InvalidInput
from mapsrv.formats import read_file, write_file

LIMITS = Limits()
CLAMPED = "coordinates within 1e-9° of ±90 or ±180 (float noise) were clamped to the limit"


def collection(*features: dict[str, Any]) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": list(features)}).encode()


def feature(geometry: dict[str, Any], **properties: Any) -> dict[str, Any]:
    return {"type": "Feature", "geometry": geometry, "properties": properties}


def test_a_long_line_is_thinned_before_the_point_cap_as_in_other_formats() -> None:
    line = [[6.0 + i * 1e-4, 45.0 + 1e-6 * math.sin(i)] for i in range(2_000)]  # 2,000 points, ~8 m apart
    body = collection(feature({"type": "LineString", "coordinates": line}))
    (thinned,) = read_file(body, None, Limits(max_points=1_000), simplify=5).features
    assert 2 <= len(thinned.coords) < 1_000
    assert thinned.coords[0] == (45.0, 6.0) and thinned.coords[-1] == (line[-1][1], line[-1][0])


def test_attributes_past_the_cap_are_left_out_with_a_note() -> None:
    wide = {f"c{i:04}": i for i in range(MAX_PROPERTIES + 6)}
    imported = read_file(collection(feature({"type": "Point", "coordinates": [1, 2]}, **wide)), None, LIMITS)
    assert dict(imported.features[0].properties) == {f"c{i:04}": i for i in range(MAX_PROPERTIES)}
    assert imported.notes == (
        f"features with properties past the first {MAX_PROPERTIES} (MAX_PROPERTIES) left out: 1",
    )


def polar_stereographic_round_trip(geometry: Any) -> Any:
    """``geometry`` as a Russian Arctic project keeps it (EPSG:5940, Russia Polar Stereographic)
    and brings it back to WGS 84 with pyproj: its points on the 180th meridian come back as
    180.00000000000003, the float noise GIS tools write."""
    import numpy as np
    import shapely
    from pyproj import Transformer

    def through(source: str, target: str) -> Any:
        transformer = Transformer.from_crs(source, target, always_xy=True)
        return lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1]))

    there = shapely.transform(geometry, through("EPSG:4326", "EPSG:5940"))
    return shapely.transform(there, through("EPSG:5940", "EPSG:4326"))


def russia() -> Any:
    """Russia's outline from Natural Earth (1:110m, as mapsrv ships it), as shapely polygons."""
    from shapely.geometry import MultiPolygon, Polygon

    from mapsrv.places.world import countries

    (country,) = [c for c in countries("110m") if c.name == "Russia"]
    return MultiPolygon([Polygon(rings[0], rings[1:]) for rings in country.polygons])


def geometry_json(geometry: Any) -> dict[str, Any]:
    import shapely

    parsed: dict[str, Any] = json.loads(shapely.to_geojson(geometry))
    return parsed


def outer_points(multipolygon: dict[str, Any]) -> list[list[float]]:
    """The points mapsrv draws of a MultiPolygon's outlines: each polygon's outer ring, not closed again."""
    return [p for polygon in multipolygon["coordinates"] for p in polygon[0][:-1]]


def every_position(multipolygon: dict[str, Any]) -> list[list[float]]:
    """Every position the file holds: each ring of each polygon, its closing one too."""
    return [p for polygon in multipolygon["coordinates"] for ring in polygon for p in ring]


def test_float_noise_past_180_in_a_real_outline_is_clamped_with_a_note() -> None:
    outline = geometry_json(polar_stereographic_round_trip(russia()))
    noisy = [p for p in every_position(outline) if abs(p[0]) > 180]
    assert noisy and all(0 < abs(p[0]) - 180 < 1e-9 for p in noisy), "pyproj gave no noise to clamp"
    imported = read_file(collection(feature(outline, NAME="Russia")), None, LIMITS)
    crossing, clamped = imported.notes  # Natural Earth's Russia has a ring crossing itself, kept
    assert crossing.startswith("1 feature whose rings cross themselves or each other")
    assert (
        clamped
        == f"{len(noisy)} coordinates within 1e-9° of ±90 or ±180 (float noise) were clamped to the limit"
    )
    (country,) = imported.features  # one feature, its parts and holes whole (issue 57)
    drawn = points(country.type, country.coords)
    rings = [ring for polygon in outline["coordinates"] for ring in polygon]
    assert country.type == "multipolygon" and len(drawn) == sum(len(ring) - 1 for ring in rings)
    assert all(-180 <= lon <= 180 for _, lon in drawn)
    assert sum(lon == 180.0 for _, lon in drawn) >= len(noisy)


def test_a_longitude_really_past_180_is_refused_with_its_feature_and_every_digit() -> None:
    from shapely import affinity
    from shapely.geometry import MultiPolygon

    noisy = [
        polygon
        for polygon in polar_stereographic_round_trip(russia()).geoms
        if max(x for x, _ in polygon.exterior.coords) > 180
    ]
    shifted = geometry_json(affinity.translate(MultiPolygon(noisy), xoff=0.001))  # ~70 m east
    points = outer_points(shifted)
    first = next(i for i, p in enumerate(points) if p[0] > 180)
    part = next(n for n, polygon in enumerate(shifted["coordinates"]) if points[first] in polygon[0])
    vertex = shifted["coordinates"][part][0].index(points[first])
    value = points[first][0]
    assert f"{value:g}" == "180.001" and repr(value) != "180.001", "the digits :g hid"
    body = collection(
        feature({"type": "Point", "coordinates": [37.62, 55.75]}, name="Moscow"),
        feature({"type": "Point", "coordinates": [30.31, 59.94]}, name="Saint Petersburg"),
        feature(shifted, name="Russia's east, shifted"),
    )
    with pytest.raises(InvalidInput) as refused:
        read_file(body, None, LIMITS)
    assert refused.value.message == (
        f"geojson feature 2: coords[{part}][0][{vertex}] longitude must be between -180 and 180,"
        f" got {value!r}; subtract 360 east of 180"
    )


def test_what_an_agent_draws_is_checked_exactly() -> None:
    line = {"type": "LineString", "coordinates": [[179.5, 65.0], [180.00000000000003, 65.5]]}
    with pytest.raises(
        InvalidInput, match=r"longitude must be between -180 and 180, got 180\.00000000000003;"
    ):
        features_from_geojson(feature(line), LIMITS)


@pytest.mark.parametrize("fmt", ["csv", "kml"])
def test_other_files_are_clamped_alike(fmt: str) -> None:
    outline = geometry_json(polar_stereographic_round_trip(russia()))
    noisy = [p for p in every_position(outline) if abs(p[0]) > 180][:3]
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["name", "lat", "lon"])
        writer.writerows([f"vertex {i}", lat, lon] for i, (lon, lat) in enumerate(noisy))
        body = out.getvalue().encode()
    else:
        marks = "".join(
            f"<Placemark><Point><coordinates>{lon!r},{lat!r}</coordinates></Point></Placemark>"
            for lon, lat in noisy
        )
        body = f'<kml xmlns="http://www.opengis.net/kml/2.2"><Document>{marks}</Document></kml>'.encode()
    imported = read_file(body, fmt, LIMITS)
    assert [f.coords for f in imported.features] == [(lat, 180.0) for _, lat in noisy]
    assert imported.notes == (
        "3 coordinates within 1e-9° of ±90 or ±180 (float noise) were clamped to the limit",
    )


def test_noise_past_a_pole_is_clamped_and_not_taken_for_a_swapped_pair() -> None:
    imported = read_file(
        collection(feature({"type": "Point", "coordinates": [10.0, -90.00000000000001]})), None, LIMITS
    )
    assert imported.features[0].coords == (-90.0, 10.0)
    assert imported.notes == (
        "1 coordinate within 1e-9° of ±90 or ±180 (float noise) was clamped to the limit",
    )


def json_type(value: Any) -> str:
    """A value's JSON type: a bool is no number, and an int and a float are both numbers."""
    kinds = {bool: "boolean", int: "number", float: "number", str: "string", type(None): "null"}
    return kinds.get(type(value), type(value).__name__)


def test_a_geojson_round_trip_keeps_every_property_its_name_value_and_type() -> None:
    import shapely
    from shapely.geometry import LineString, Point

    given = [
        (
            Point(-9.1393, 38.7223),
            {
                "name": "Lisboa",  # the label, and still the data's name
                "name_en": "Lisbon",
                "capital": True,
                "coastal": False,
                "population": 545796,
                "density": 5445.7,
                "iso_n3": "-99",  # text of digits stays text
                "code": "007",
                "note": None,
                "alias": "",
                "id": 17,  # a property of the data, not the feature's id
                "layer": "capitals",  # one of the names mapsrv's export uses itself
                "description": "on the Tagus",
                "marker-color": "#0288d1",
            },
        ),
        (
            LineString([(-9.1393, 38.7223), (-8.6291, 41.1579)]),
            {"name": "A1", "toll": True, "lanes": None, "label": 1, "style": "dashed"},
        ),
    ]
    body = json.dumps(
        {
            "type": "FeatureCollection",
            "features": [
                {"type": "Feature", "geometry": json.loads(shapely.to_geojson(g)), "properties": p}
                for g, p in given
            ],
        }
    ).encode()
    imported = read_file(body, None, LIMITS)
    lisbon, road = imported.features
    assert (lisbon.label, lisbon.popup, dict(lisbon.style)) == (
        "Lisboa",
        "on the Tagus",
        {"color": "#0288d1"},
    )
    assert road.label == "A1"  # its label property is no text: name gives the label
    out = json.loads(write_file(map_of(imported), "geojson")[0])["features"]
    for (_, properties), written in zip(given, out, strict=True):
        back = written["properties"]
        for key, value in properties.items():
            assert key in back, key
            assert (back[key], json_type(back[key])) == (value, json_type(value)), key
    assert [f["properties"] for f in out] == [p for _, p in given], "the data's properties, no others"
    assert out[0]["mapsrv"]["layer"] == "default"  # mapsrv's own, in its member
    assert "label" not in out[1]["mapsrv"], "a label that is the data's name is not written twice"
    again = read_file(write_file(map_of(imported), "geojson")[0], None, LIMITS)
    assert [(f.label, f.popup, f.style, f.properties) for f in again.features] == [
        (f.label, f.popup, f.style, f.properties) for f in imported.features
    ]


def test_nested_members_are_kept_as_json_values() -> None:
    nested = {"wikidata": "Q597", "names": {"pt": "Lisboa", "en": "Lisbon"}, "tags": ["city", "port"]}
    point = {"type": "Point", "coordinates": [-9.1393, 38.7223]}
    imported = read_file(collection(feature(point, name="Lisboa", **nested)), None, LIMITS)
    back = json.loads(write_file(map_of(imported), "geojson")[0])["features"][0]["properties"]
    assert back["wikidata"] == "Q597" and back["name"] == "Lisboa"
    assert back["names"] == nested["names"] and back["tags"] == nested["tags"]


def test_a_broken_file_is_named_as_json_names_it() -> None:
    with pytest.raises(InvalidInput, match=r"geojson is not valid JSON at line 1, column 4: Expecting value"):
        read_file(b"[1,]", "geojson", LIMITS)
