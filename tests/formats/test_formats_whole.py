"""Every format keeps a geometry whole (issue 57), on real data: Natural Earth's countries
(Canada's islands, Lesotho inside South Africa) imported, exported as KML, CSV (WKT), GeoJSON
and GPX, and read back are the same features with the same geometry, compared with shapely
(equal within 1e-7 after normalising); and the WKT mapsrv writes for every 1:50m country is the
WKT shapely reads as that country."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
import shapely
from formats_helpers import map_of
from shapely.geometry import shape
from support.natural_earth import countries_geojson

from mapsrv.core.geojson import geometry_to_geojson
from mapsrv.core.geometry import parts, polygon_rings
from mapsrv.core.model import Feature, Limits, MapState
from mapsrv.formats import read_file, write_file
from mapsrv.formats.geometry import parse_wkt, to_wkt

LIMITS = Limits()


def countries(scale: str = "110m") -> MapState:
    body = json.dumps(countries_geojson(scale)).encode()  # type: ignore[arg-type]
    return map_of(read_file(body, "geojson", LIMITS))


def geometry(feature: Feature) -> Any:
    return shape(geometry_to_geojson(feature.type, feature.coords)).normalize()


@pytest.fixture(scope="module")
def world() -> MapState:
    return countries()


@pytest.mark.parametrize("fmt", ["kml", "kmz", "csv", "geojson"])
def test_every_country_comes_back_whole_from_every_format(world: MapState, fmt: str) -> None:
    given = list(world.features.values())
    body = write_file(world, fmt)[0]
    again = read_file(body, fmt, LIMITS)  # an import's features get new ids when applied
    # Natural Earth's own rings: Fiji's and Antarctica's cross the antimeridian's seam, and
    # such; a GeoJSON import says so (a check the other formats' readers do not make)
    crossing = "5 features whose rings cross themselves or each other"
    assert [n for n in again.notes if not n.startswith(crossing)] == [], again.notes
    assert len(again.features) == len(given) == 177, "one feature per country, none split"
    if fmt == "csv":  # mapsrv's own CSV: its id column is each feature's id, in order
        rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
        assert [row["id"] for row in rows] == [f.id for f in given]
    elif fmt == "geojson":  # the file's own ids as it had them, mapsrv's in its member
        written = json.loads(body)["features"]
        assert [f["id"] for f in written] == [dict(f.members)["id"] for f in given]
        assert [f["mapsrv"]["id"] for f in written] == [f.id for f in given]
        assert [f.members for f in again.features] == [f.members for f in given]
    assert [f.label for f in again.features] == [f.label for f in given]
    assert [f.type for f in again.features] == [f.type for f in given]
    for before, after in zip(given, again.features, strict=True):
        assert geometry(before).equals_exact(geometry(after), 1e-7), f"{before.label} changed in {fmt}"
        assert after.coords == before.coords, before.label


def test_south_africa_keeps_lesotho_and_canada_is_one_multipolygon_in_kml_and_wkt(world: MapState) -> None:
    for fmt in ("kml", "csv"):
        features = {f.label: f for f in read_file(write_file(world, fmt)[0], fmt, LIMITS).features}
        south_africa, lesotho, canada = features["South Africa"], features["Lesotho"], features["Canada"]
        assert south_africa.type == "polygon" and len(polygon_rings(south_africa.coords)) == 2, fmt
        hole = shapely.Polygon([(lon, lat) for lat, lon in polygon_rings(south_africa.coords)[1]])
        assert hole.equals(geometry(lesotho)), fmt
        assert not geometry(south_africa).contains(geometry(lesotho).representative_point()), fmt
        assert canada.type == "multipolygon" and len(canada.coords) == 30, fmt


def test_gpx_has_no_areas_so_every_ring_is_a_segment_of_the_countrys_one_track(world: MapState) -> None:
    given = list(world.features.values())
    again = read_file(write_file(world, "gpx")[0], "gpx", LIMITS)
    assert [f.label for f in again.features] == [f.label for f in given]
    for before, after in zip(given, again.features, strict=True):
        rings = [  # each ring closed, unless its last point is its first already (a degenerate one)
            list(r) if r[0] == r[-1] else [*r, r[0]]
            for _, polygon in parts(before.type, before.coords)
            for r in polygon
        ]
        lines = [after.coords] if after.type == "polyline" else list(after.coords)
        assert after.type == ("polyline" if len(rings) == 1 else "multipolyline"), before.label
        assert [list(line) for line in lines] == rings, before.label


def test_the_wkt_of_every_1_to_50m_country_is_the_country_as_shapely_reads_it() -> None:
    given = countries_geojson("50m")
    state = countries("50m")
    assert len(state.features) == len(given["features"]) == 241
    for raw, feature in zip(given["features"], state.features.values(), strict=True):
        wkt = to_wkt(feature)
        ours = shapely.from_wkt(wkt)
        assert ours.geom_type == raw["geometry"]["type"], feature.label
        assert ours.normalize().equals_exact(shape(raw["geometry"]).normalize(), 1e-7), feature.label
        assert parse_wkt(wkt, "wkt")[0] == feature.type
        read_back = read_file(f'wkt\n"{wkt}"\n'.encode(), "csv", LIMITS).features[0]
        assert read_back.coords == feature.coords, feature.label


def test_every_type_written_to_csv_is_one_wkt_row_shapely_reads() -> None:
    square, hole = [[0, 0], [0, 4], [4, 4], [4, 0]], [[1, 1], [1, 2], [2, 2]]
    members = [{"type": "marker", "coords": [1, 2]}, {"type": "polygon", "coords": [square, hole]}]
    body = json.dumps(
        {
            "type": "FeatureCollection",
            "features": [
                {"type": "Feature", "properties": {}, "geometry": geometry_to_geojson(t, c)}
                for t, c in (
                    ("multipoint", [[1, 2], [3, 4]]),
                    ("multipolyline", [[[0, 0], [1, 1]], [[2, 2], [3, 3]]]),
                    ("collection", [(m["type"], m["coords"]) for m in members]),
                )
            ],
        }
    ).encode()
    state = map_of(read_file(body, "geojson", LIMITS))
    rows = list(csv.DictReader(io.StringIO(write_file(state, "csv")[0].decode("utf-8-sig"))))
    assert [shapely.from_wkt(row["wkt"]).geom_type for row in rows] == [
        "MultiPoint",
        "MultiLineString",
        "GeometryCollection",
    ]
    again = read_file(write_file(state, "csv")[0], "csv", LIMITS).features
    assert [(f.type, f.coords) for f in again] == [(f.type, f.coords) for f in state.features.values()]
