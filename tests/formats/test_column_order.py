"""Columns as they came (issue 75): a file GDAL wrote, its columns in an order no sort would give,
comes back in that order on the map, through the store's codec and out of every format, read
back by GDAL (pyogrio) and by Python's csv and json, as QGIS and a spreadsheet would show it."""

from __future__ import annotations

import csv
import io
import json
import tempfile
import zipfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pyogrio
import pytest
import shapely
from formats_helpers import map_of
from support.gis_files import geopackage

from mapsrv.core.codec import dumps, state_from_json
from mapsrv.core.model import Limits
from mapsrv.formats import export_file, read_file

LIMITS = Limits()
COLUMNS = ["zone_id", "name", "population", "area_km2", "built", "Alpha"]  # no sort gives this


def districts() -> bytes:
    table = pa.table(
        {
            "zone_id": [101, 102, 103],
            "name": ["Nord", "Centre", "Sud"],
            "population": [1200, 5400, 800],
            "area_km2": [3.5, 1.25, 7.0],
            "built": [True, False, True],
            "Alpha": ["x", "y", "z"],
            "geometry": shapely.to_wkb(shapely.points([(2.35, 48.86), (2.36, 48.85), (2.34, 48.84)])),
        }
    )
    return geopackage({"districts": (table, "EPSG:4326", "Point")})


def gdal_fields(body: bytes, suffix: str) -> list[list[str]]:
    """Each layer's attribute columns as GDAL reads them, mapsrv's own columns aside."""
    own = {"mapsrvtype", "layer", "label", "popup", "style", "radius", "id", "Name", "description"}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"out.{suffix}"
        path.write_bytes(body)
        source = f"/vsizip/{path}" if suffix == "shp.zip" else str(path)
        return [
            [f for f in pyogrio.read_info(source, layer=name)["fields"] if f not in own]
            for name, _ in pyogrio.list_layers(source)
        ]


def test_a_files_columns_keep_their_order_in_and_out_of_every_format() -> None:
    imported = read_file(districts(), None, LIMITS)
    assert [[k for k, _ in f.properties] for f in imported.features] == [COLUMNS] * 3
    state = map_of(imported)
    stored = state_from_json(json.loads(dumps(state.to_json())), state.id)  # Redis, SQLite, the wire
    assert [[k for k, _ in f.properties] for f in stored.features.values()] == [COLUMNS] * 3

    for fmt, suffix in (("gpkg", "gpkg"), ("fgb", "fgb"), ("shp", "shp.zip")):
        assert gdal_fields(export_file(state, fmt).body, suffix) == [COLUMNS], fmt
    parquet = pq.read_table(io.BytesIO(export_file(state, "parquet").body))
    assert [c for c in parquet.column_names if c in COLUMNS] == COLUMNS
    text = export_file(state, "csv").body.decode("utf-8-sig")
    header = next(csv.reader(io.StringIO(text)))
    assert [c for c in header if c in COLUMNS] == COLUMNS
    geojson = json.loads(export_file(state, "geojson").body)
    assert [list(f["properties"]) for f in geojson["features"]] == [COLUMNS] * 3
    # KML's placemark has fields of its own before the data (GDAL lists timestamp, begin...)
    with zipfile.ZipFile(io.BytesIO(export_file(state, "kmz").body)) as kmz:
        (doc,) = [n for n in kmz.namelist() if n.endswith(".kml")]
        kmz_doc = kmz.read(doc)
    for body in (export_file(state, "kml").body, kmz_doc):
        (fields,) = gdal_fields(body, "kml")
        assert [c for c in fields if c in COLUMNS] == [c for c in COLUMNS if c in fields]


@pytest.mark.parametrize("fmt", ["gpkg", "fgb", "parquet", "geojson", "csv"])
def test_an_export_read_back_keeps_the_order_too(fmt: str) -> None:
    state = map_of(read_file(districts(), None, LIMITS))
    again = read_file(export_file(state, fmt).body, fmt, LIMITS)
    for feature in again.features:
        assert [k for k, _ in feature.properties if k in COLUMNS] == COLUMNS, fmt


def test_each_layer_keeps_its_own_columns_and_types_in_a_geopackage() -> None:
    """A GeoPackage GDAL wrote with two layers that share a column name but not its type (int
    ``uID`` in one, real ``uID`` in the other) and have columns of their own: exported, each
    table has its own columns, typed by its own rows."""
    point = shapely.to_wkb(shapely.points([(2.35, 48.86), (2.36, 48.85)]))
    buildings = pa.table({"uID": [1, 2], "floors": [3, 5], "geometry": point})
    plots = pa.table({"uID": [1.5, 2.25], "owner": ["city", "state"], "geometry": point})
    data = geopackage(
        {"buildings": (buildings, "EPSG:4326", "Point"), "plots": (plots, "EPSG:4326", "Point")}
    )
    state = map_of(read_file(data, None, LIMITS))
    body = export_file(state, "gpkg").body
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "out.gpkg"
        path.write_bytes(body)
        types = {}
        for name, _ in pyogrio.list_layers(path):
            info = pyogrio.read_info(path, layer=name)
            types[str(name)] = {
                f: str(t)
                for f, t in zip(info["fields"], info["dtypes"], strict=True)
                if f in ("uID", "floors", "owner")
            }
    assert types == {
        "buildings": {"uID": "int64", "floors": "int64"},
        "plots": {"uID": "float64", "owner": "object"},
    }
