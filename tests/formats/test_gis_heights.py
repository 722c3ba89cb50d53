"""Heights (Z) kept (issue 75): a GeoPackage GDAL wrote with 3D points, lines and polygons (a
hole, a multipolygon, a LineString ZM) comes in with each point's height as its ``ele`` and each
line's or shape's as its ``elevations``, one per point (a ring's closing point left out), the
measures left out with a note; every format that holds heights writes them back, read by
pyogrio (GeoPackage, Shapefile, FlatGeobuf, GeoParquet) or as the format's text (GeoJSON's
third coordinate, KML's altitudes, GPX's ele), and mapsrv reads each back with its heights."""

from __future__ import annotations

import io
import json
import math
import struct
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pyogrio
import pytest
import shapely
from support.gis_files import write_gdal

from mapsrv.core.apply import apply_all
from mapsrv.core.geojson import features_from_geojson
from mapsrv.core.model import Feature, Limits, MapState
from mapsrv.core.ops import ImportFeatures
from mapsrv.formats import export_file, read_file

LIMITS = Limits()
ROWS = {
    "summit": shapely.Point(7.6586, 45.9763, 4478.0),
    "ridge": shapely.LineString([(7.60, 45.90, 3100.0), (7.62, 45.93, 3550.5), (7.65, 45.97, 4200.0)]),
    "glacier": shapely.Polygon(
        [(7.7, 45.9, 2900.0), (7.8, 45.9, 3000.0), (7.8, 46.0, 3300.0), (7.7, 46.0, 3100.0)],
        [[(7.74, 45.94, 3050.0), (7.76, 45.94, 3060.0), (7.75, 45.96, 3070.0)]],
    ),
    "lakes": shapely.MultiPolygon(
        [
            shapely.Polygon([(7.5, 45.8, 1900.0), (7.52, 45.8, 1900.0), (7.51, 45.82, 1900.0)]),
            shapely.Polygon([(7.55, 45.8, 2100.0), (7.57, 45.8, 2100.0), (7.56, 45.82, 2100.0)]),
        ]
    ),
}
ZM = struct.pack("<BII8d", 1, 3002, 2, 7.6, 45.9, 3000.0, 0.0, 7.61, 45.91, 3010.0, 1.0)  # LineString ZM


def geopackage(rows: dict[str, bytes]) -> bytes:
    """A GeoPackage GDAL (pyogrio) wrote, one layer of 3D geometries as they are."""
    table = pa.table({"name": list(rows), "geometry": pa.array(list(rows.values()), pa.binary())})
    with tempfile.TemporaryDirectory() as tmp:
        path = write_gdal(table, Path(tmp) / "alps.gpkg", "GPKG", crs="EPSG:4326", geometry_type="Unknown")
        return path.read_bytes()


def alps() -> Any:
    rows = {name: shapely.to_wkb(g) for name, g in ROWS.items()}
    return read_file(geopackage(rows | {"zm": ZM}), None, LIMITS)


def zs(geometry: Any) -> list[float]:
    """A shapely geometry's heights in mapsrv's order: every ring's closing point left out."""
    if geometry.geom_type == "MultiPolygon":
        return [z for polygon in geometry.geoms for z in zs(polygon)]
    if geometry.geom_type == "Polygon":
        rings = (geometry.exterior, *geometry.interiors)
        return [c[2] for ring in rings for c in ring.coords[:-1]]
    return [c[2] for c in geometry.coords]


def at(geometry: Any) -> dict[tuple[float, float], float]:
    """Each position's height, by where it is (a Shapefile may turn a ring the other way)."""
    return {(x, y): z for x, y, z in shapely.get_coordinates(geometry, include_z=True).tolist()}


def heights_at(feature: Feature) -> dict[tuple[float, float], float]:
    """Each of a feature's points' height, by where it is."""
    values = dict(feature.properties)
    zs = [values["ele"]] if "ele" in values else values["elevations"]
    return {(lon, lat): z for (lat, lon), z in zip(feature.points(), zs, strict=True)}


def props(feature: Feature) -> dict[str, Any]:
    return dict(feature.properties)


def test_heights_in_a_geopackage_gdal_wrote_are_kept_and_measures_noted() -> None:
    imported = alps()
    by = {f.label: f for f in imported.features}
    assert props(by["summit"])["ele"] == 4478.0
    for name in ("ridge", "glacier", "lakes"):
        assert list(props(by[name])["elevations"]) == zs(ROWS[name]), name
        assert len(props(by[name])["elevations"]) == by[name].point_count()
    assert list(props(by["zm"])["elevations"]) == [3000.0, 3010.0]
    assert by["ridge"].coords == tuple((lat, lon) for lon, lat, _ in ROWS["ridge"].coords)
    assert imported.notes == (
        "gpkg layer alps: heights (Z) kept, a point's as its ele, a line's or shape's as its elevations",
        "gpkg layer alps: measures (M) left out, the map holds positions and heights: 1",
    )


def test_a_layer_with_its_own_ele_column_keeps_it() -> None:
    table = pa.table({"ele": [12.5], "geometry": pa.array([shapely.to_wkb(ROWS["summit"])], pa.binary())})
    with tempfile.TemporaryDirectory() as tmp:
        data = write_gdal(table, Path(tmp) / "p.gpkg", "GPKG", crs="EPSG:4326", geometry_type="Point Z")
        imported = read_file(data.read_bytes(), None, LIMITS)
    assert props(imported.features[0])["ele"] == 12.5
    assert "heights (Z) left out where the layer has its own ele column: 1" in imported.notes[-1]


def state() -> MapState:
    features = tuple(f for f in alps().features if f.label != "zm")
    return apply_all(MapState("m1"), [ImportFeatures(features)])[0]


def read_back(body: bytes, fmt: str) -> dict[str, Any]:
    """What GDAL reads of an export, by name: each feature's geometry, 3D where it has heights."""
    if fmt == "parquet":  # GDAL's Parquet driver is not in pyogrio's wheel: pyarrow reads it
        table = pq.read_table(io.BytesIO(body))
        return {
            k: shapely.from_wkb(g)
            for k, g in zip(table["label"].to_pylist(), table["geometry"].to_pylist(), strict=True)
        }
    with tempfile.TemporaryDirectory() as tmp:
        if fmt == "shp":
            zipfile.ZipFile(io.BytesIO(body)).extractall(tmp)
            paths = sorted(Path(tmp).glob("*.shp"))
        else:
            paths = [Path(tmp) / f"map.{fmt}"]
            paths[0].write_bytes(body)
        out = {}
        for path in paths:
            for layer, _ in pyogrio.list_layers(path):
                meta, table = pyogrio.read_arrow(path, layer=layer)
                geometry = meta["geometry_name"] or "wkb_geometry"
                for label, wkb in zip(table["label"].to_pylist(), table[geometry].to_pylist(), strict=True):
                    out[label] = shapely.from_wkb(wkb)
        return out


@pytest.mark.parametrize("fmt", ["gpkg", "shp", "parquet"])
def test_gis_exports_write_heights_as_z_and_read_them_back(fmt: str) -> None:
    exported = export_file(state(), fmt)
    read = read_back(exported.body, fmt)
    for name, geometry in ROWS.items():
        got = read[name]
        assert got.has_z, (fmt, name)
        assert shapely.equals(shapely.force_2d(got), shapely.force_2d(geometry)), (fmt, name)
        assert at(got) == at(geometry), (fmt, name)
    again = {f.label: f for f in read_file(exported.body, None, LIMITS).features}
    for name, geometry in ROWS.items():
        assert heights_at(again[name]) == at(geometry), (fmt, name)
    assert not any("per-point" in n for n in exported.notes), exported.notes


def test_a_flatgeobuf_of_one_kind_keeps_heights_and_of_several_says_it_cannot() -> None:
    lines = tuple(f for f in state().features.values() if f.type == "polyline")
    one = apply_all(MapState("m1"), [ImportFeatures(lines)])[0]
    exported = export_file(one, "fgb")
    assert at(read_back(exported.body, "fgb")["ridge"]) == at(ROWS["ridge"])
    assert not any("heights" in n for n in exported.notes)
    several = export_file(state(), "fgb")
    assert not read_back(several.body, "fgb")["ridge"].has_z
    assert "FlatGeobuf keeps heights (Z) only where every feature is one kind of geometry" in " ".join(
        several.notes
    )


def test_geojson_writes_a_third_coordinate_and_reads_it_back() -> None:
    exported = export_file(state(), "geojson")
    raw = json.loads(exported.body)
    by = {
        f["properties"]["name"] if "name" in f["properties"] else f["mapsrv"].get("label"): f
        for f in raw["features"]
    }
    assert by["summit"]["geometry"]["coordinates"] == [7.6586, 45.9763, 4478.0]
    ring = by["glacier"]["geometry"]["coordinates"][0]
    assert [p[2] for p in ring] == [2900.0, 3000.0, 3300.0, 3100.0, 2900.0]  # closed, its first's height
    for feature in raw["features"]:  # a third coordinate, not a property, is what tools read
        del feature["properties"]["elevations" if "elevations" in feature["properties"] else "ele"]
    again = {f.label: f for f in features_from_geojson(raw, LIMITS)}
    assert props(again["summit"])["ele"] == 4478.0
    for name in ("ridge", "glacier", "lakes"):
        assert list(props(again[name])["elevations"]) == zs(ROWS[name]), name


def test_kml_and_gpx_write_the_heights_and_mapsrv_reads_them_back() -> None:
    kml = export_file(state(), "kml").body.decode()
    assert "7.6,45.9,3100.0" in kml and "7.65,45.97,4200.0" in kml
    assert "7.7,45.9,2900.0 7.8,45.9,3000.0" in kml  # a ring's altitudes
    again = {f.label: f for f in read_file(kml.encode(), "kml", LIMITS).features}
    for name, geometry in ROWS.items():
        assert heights_at(again[name]) == at(geometry), name
    gpx = export_file(state(), "gpx").body.decode()
    assert "<ele>4478</ele>" in gpx.replace("4478.0", "4478") and "<ele>3550.5</ele>" in gpx


def test_a_geojson_position_with_a_height_is_read_into_elevations() -> None:
    raw = {
        "type": "Feature",
        "geometry": {
            "type": "LineString",
            "coordinates": [[2.35, 48.85, 35], [2.29, 48.86, 33.5], [2.3, 48.87]],
        },
        "properties": {"name": "walk"},
    }
    (feature,) = features_from_geojson(raw, LIMITS)
    assert props(feature)["elevations"] == (35.0, 33.5, None)
    assert not math.isnan(props(feature)["elevations"][0])


def test_csv_writes_wkt_z_and_reads_its_heights_back() -> None:
    exported = export_file(state(), "csv")
    text = exported.body.decode("utf-8-sig")
    assert "LINESTRING Z (7.6 45.9 3100.0, 7.62 45.93 3550.5, 7.65 45.97 4200.0)" in text
    again = {f.label: f for f in read_file(exported.body, "csv", LIMITS).features}
    for name, geometry in ROWS.items():
        assert heights_at(again[name]) == at(geometry), name


def test_wkt_heights_nan_where_a_point_has_none_and_measures_dropped() -> None:
    csv = (
        "name,wkt\n"
        'a,"LINESTRING Z (2.35 48.85 35, 2.29 48.86 nan, 2.3 48.87 40)"\n'
        'b,"LINESTRING ZM (2.35 48.85 35 0, 2.29 48.86 36 1)"\n'
        'c,"POLYGON Z ((0 0 1, 1 0 2, 1 1 3, 0 0 1))"\n'
        'd,"LINESTRING (0 0, 1 1)"\n'
    )
    by = {f.label: dict(f.properties) for f in read_file(csv.encode(), "csv", LIMITS).features}
    assert by["a"]["elevations"] == (35.0, None, 40.0)
    assert by["b"]["elevations"] == (35.0, 36.0)
    assert by["c"]["elevations"] == (1.0, 2.0, 3.0)
    assert "elevations" not in by["d"]


def test_a_geojson_file_keeps_heights_and_its_own_elevations_win() -> None:
    raw = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {"name": "peak"},
             "geometry": {"type": "Point", "coordinates": [7.6, 45.9, 4478]}},
            {"type": "Feature", "properties": {"name": "own", "elevations": [1, 2]},
             "geometry": {"type": "LineString", "coordinates": [[7.6, 45.9, 10], [7.7, 46.0, 20]]}},
        ],
    }  # fmt: skip
    by = {
        f.label: dict(f.properties) for f in read_file(json.dumps(raw).encode(), "geojson", LIMITS).features
    }
    assert by["peak"]["ele"] == 4478.0
    assert by["own"]["elevations"] == (1, 2)


def test_a_height_that_is_no_number_is_none_and_never_breaks_the_read() -> None:
    raw = {
        "type": "Feature",
        "geometry": {
            "type": "LineString",
            "coordinates": [[2.35, 48.85, 10**400], [2.29, 48.86, "high"], [2.3, 48.87, 7]],
        },
        "properties": {},
    }
    (feature,) = features_from_geojson(raw, LIMITS)
    assert props(feature)["elevations"] == (None, None, 7.0)
