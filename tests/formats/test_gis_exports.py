"""A map out as GIS files (issue 61): a zipped Shapefile (.prj, .cpg, a file per layer and kind of
geometry), a GeoPackage (a table per layer, the style a column), a FlatGeobuf and a GeoParquet,
read by pyogrio and pyarrow as QGIS would (WGS84, typed columns, every geometry as mapsrv holds
it, compared with shapely) and read back by mapsrv as the same map: circles, rectangles, styles,
layers and attributes with their types; what a Shapefile cannot hold is said."""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pyogrio
import pytest
import shapely
from formats_helpers import map_of, map_with
from pyproj import CRS
from support.gis_files import shapely_of
from support.natural_earth import countries_geojson

from mapsrv.core.apply import apply_all
from mapsrv.core.model import Feature, Limits, MapState, build_feature
from mapsrv.core.ops import AddLayer, ImportFeatures
from mapsrv.formats import export_file, read_file

LIMITS = Limits()


def trip() -> MapState:
    """A map of every kind of geometry, styled, in two named layers, with typed attributes."""
    shapes = [
        {"type": "marker", "coords": [46.52, 6.63], "label": "Gare", "popup": "<b>trains</b>",
         "style": {"color": "red", "symbol": "1"},
         "properties": {"visits": 12, "rating": 4.5, "open": True, "since": "2020-05-01", "note": "café"}},
        {"type": "circle", "coords": [46.2, 6.14], "radius": 800.0, "layer": "sites",
         "properties": {"visits": 3, "rating": 2.0, "open": False, "since": None, "note": None}},
        {"type": "rectangle", "coords": [[46.3, 6.2], [46.4, 6.4]], "layer": "sites",
         "style": {"fill_color": "#00ff00", "fill_opacity": 0.3}},
        {"type": "polyline", "coords": [[46.5, 6.6], [46.4, 6.4], [46.2, 6.1]], "label": "Lakeside",
         "properties": {"times": ["08:00", "09:00", "10:00"]}},
        {"type": "polygon",
         "coords": [[[46.0, 6.0], [46.0, 7.0], [47.0, 7.0]], [[46.2, 6.5], [46.3, 6.6], [46.4, 6.5]]]},
        {"type": "multipoint", "coords": [[46.1, 6.1], [46.15, 6.15]], "label": "Pair"},
        {"type": "multipolyline", "coords": [[[46.0, 6.0], [46.1, 6.1]], [[46.2, 6.2], [46.3, 6.3]]]},
        {"type": "collection", "coords": [{"type": "marker", "coords": [46.0, 6.0]},
                                          {"type": "polyline", "coords": [[46.0, 6.0], [46.5, 6.5]]}],
         "label": "Both"},
    ]  # fmt: skip
    features = tuple(build_feature(id="", limits=LIMITS, **shape) for shape in shapes)
    state, _ = apply_all(MapState("m1"), [AddLayer("sites", "Sites to see"), ImportFeatures(features)])
    return state


def by_label(features: Any) -> dict[str, Feature]:
    return {f.label or f.type: f for f in features}


@pytest.mark.parametrize("fmt", ["gpkg", "fgb", "parquet"])
def test_every_feature_comes_back_as_it_was(fmt: str) -> None:
    state = trip()
    exported = export_file(state, fmt)
    assert exported.notes == ("per-point lists left out (a cell holds one value): times",)
    back = read_file(exported.body, None, LIMITS)
    assert back.format == fmt
    before, after = by_label(state.features.values()), by_label(back.features)
    assert sorted(before) == sorted(after)
    names = {layer.id: layer.name for layer in back.layers}
    for key, was in before.items():
        now = after[key]
        assert (now.type, now.coords, now.radius) == (was.type, was.coords, was.radius), key
        assert (now.label, now.popup, now.style) == (was.label, was.popup, was.style), key
        assert names.get(now.layer, now.layer) == state.layers[was.layer].name, key
        # a table has a column for every attribute: one a feature had not is null in its row
        kept = {k: v for k, v in was.properties if not isinstance(v, tuple) and v is not None}
        assert {k: v for k, v in now.properties if v is not None} == kept, key


def test_a_geopackage_has_a_table_per_layer_that_gdal_reads() -> None:
    state = trip()
    body = export_file(state, "gpkg").body
    assert [tuple(row) for row in pyogrio.list_layers(body)] == [
        ("default", "Unknown"),
        ("Sites to see", "Unknown"),
    ]
    meta, table = pyogrio.read_arrow(body, layer="default")
    assert CRS.from_user_input(meta["crs"]).equals(CRS.from_epsg(4326))
    rows = table.to_pylist()
    gare = rows[0]
    assert (gare["visits"], gare["rating"], gare["open"], gare["since"], gare["note"]) == (
        12, 4.5, True, dt.date(2020, 5, 1), "café"
    )  # fmt: skip
    assert table.schema.field("visits").type == pa.int64() and table.schema.field("since").type == pa.date32()
    assert json.loads(gare["style"]) == {"color": "red", "symbol": "1"}, "the style is a column"
    assert (gare["label"], gare["popup"], gare["mapsrvtype"], gare["layer"]) == (
        "Gare",
        "<b>trains</b>",
        "marker",
        "default",
    )
    features = [f for f in state.features.values() if f.layer == "default"]
    geometries = shapely.from_wkb(table.column(meta["geometry_name"]).to_numpy(zero_copy_only=False))
    for feature, geometry in zip(features, geometries, strict=True):
        assert geometry.equals_exact(shapely_of(feature), 0), feature.label
    circle = pyogrio.read_arrow(body, layer="Sites to see")[1].to_pylist()[0]
    assert (circle["mapsrvtype"], circle["radius"]) == ("circle", 800.0)


def test_a_geoparquet_has_the_metadata_the_specification_asks_for() -> None:
    body = export_file(trip(), "parquet").body
    parquet = pq.ParquetFile(pa.BufferReader(body))
    geo = json.loads(parquet.schema_arrow.metadata[b"geo"])
    assert geo["primary_column"] == "geometry" and geo["version"] == "1.1.0"
    column = geo["columns"]["geometry"]
    assert column["encoding"] == "WKB" and "crs" not in column, "no crs: longitude, latitude (OGC:CRS84)"
    assert column["geometry_types"] == sorted(
        ["Point", "LineString", "Polygon", "MultiPoint", "MultiLineString", "GeometryCollection"]
    )
    assert column["bbox"] == [6.0, 46.0, 7.0, 47.0]
    table = parquet.read()
    assert table.column("layer").to_pylist().count("Sites to see") == 2


def test_a_shapefile_zip_has_its_prj_and_cpg_and_says_what_it_cannot_hold() -> None:
    state = trip()
    long = map_with(
        {"type": "marker", "coords": [1.0, 2.0], "properties": {"population_2020": 5, "population_2021": 6}},
        {"type": "marker", "coords": [1.5, 2.5], "properties": {"story": "x" * 300}},
    )
    exported = export_file(state, "shp")
    with zipfile.ZipFile(io.BytesIO(exported.body)) as archive:
        names = sorted(archive.namelist())
        assert archive.read("default_points.cpg") == b"UTF-8"
        prj = archive.read("default_points.prj").decode()
    assert names == sorted(
        f"{stem}.{ext}"
        for stem in (
            "default_points",
            "default_lines",
            "default_polygons",
            "Sites_to_see_points",
            "Sites_to_see_polygons",
        )
        for ext in ("shp", "shx", "dbf", "prj", "cpg")
    )
    assert CRS.from_wkt(prj).equals(CRS.from_epsg(4326), ignore_axis_order=True)
    assert exported.notes == (
        "per-point lists left out (a cell holds one value): times",
        "Shapefile holds one kind of geometry per file: 1 collection of shapes left out"
        " (GeoPackage keeps them)",
    )
    back = by_label(read_file(exported.body, None, LIMITS).features)
    before = by_label(state.features.values())
    assert sorted(back) == sorted(k for k in before if k != "Both")
    for key, now in back.items():
        was = before[key]
        assert now.type == was.type, key
        assert shapely_of(now).normalize().equals_exact(shapely_of(was).normalize(), 0), key
        assert (now.label, now.popup, now.style, now.radius) == (was.label, was.popup, was.style, was.radius)
    short = export_file(long, "shp")
    assert short.notes == (
        "Shapefile field names are at most 10 bytes: population_2020 as population;"
        " population_2021 as populati_2",
        "Shapefile text is at most 254 bytes: 1 value shortened",
    )
    again = read_file(short.body, None, LIMITS).features
    assert dict(again[0].properties) == {"population": 5, "populati_2": 6, "story": None}
    assert dict(again[1].properties)["story"] == "x" * 254


def test_natural_earth_countries_go_out_and_come_back_whole_in_every_format() -> None:
    world = map_of(read_file(json.dumps(countries_geojson("110m")).encode(), "geojson", LIMITS))
    given = by_label(world.features.values())
    for fmt in ("shp", "gpkg", "fgb", "parquet"):
        back = by_label(read_file(export_file(world, fmt).body, None, LIMITS).features)
        assert sorted(back) == sorted(given), fmt
        for name, feature in back.items():
            was, now = shapely_of(given[name]), shapely_of(feature)
            assert feature.type == given[name].type, (fmt, name)
            if fmt == "shp":  # rings without parts: GDAL rebuilds the polygons, and takes North
                # Korea's one degenerate part (three equal points) for a hole of the other
                apart = shapely.symmetric_difference(shapely.make_valid(was), shapely.make_valid(now))
                assert apart.area < 1e-12, (fmt, name)
            else:
                assert now.normalize().equals_exact(was.normalize(), 1e-7), (fmt, name)


@pytest.mark.parametrize("fmt", ["shp", "gpkg", "fgb", "parquet"])
def test_an_empty_map_is_an_empty_file(fmt: str) -> None:
    exported = export_file(MapState("m1"), fmt)
    assert read_file(exported.body, fmt, LIMITS).features == ()
