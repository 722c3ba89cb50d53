"""Small forged files that cost a careless reader gigabytes or hours (issue 72), each built in
well under a second: what a hostile user of a shared server would upload."""

from __future__ import annotations

import io
import json
import struct
import zipfile

import pyarrow as pa
import pyarrow.parquet as pq
import shapely

from .gis_files import edited_geopackage, geopackage

__all__ = [
    "counting_view_geopackage",
    "dictionary_parquet",
    "empty_elements_kmz",
    "nested_nothing_geojson",
    "shx_of_records",
]


def counting_view_geopackage() -> bytes:
    """A GeoPackage whose one layer is a view over a recursive CTE of 10^15 rows: counting it (as
    GDAL's feature count does) never ends, holding the interpreter."""
    table = pa.table({"name": ["a"], "geometry": shapely.to_wkb([shapely.Point(1, 1)])})
    base = geopackage({"points": (table, "EPSG:4326", "Point")})
    return edited_geopackage(
        base,
        """
        CREATE VIEW forever AS
          WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000000000000000)
          SELECT i AS fid, (SELECT geom FROM points LIMIT 1) AS geom FROM n;
        INSERT INTO gpkg_contents (table_name, data_type, identifier, srs_id)
          VALUES ('forever', 'features', 'forever', 4326);
        INSERT INTO gpkg_geometry_columns (table_name, column_name, geometry_type_name, srs_id, z, m)
          VALUES ('forever', 'geom', 'POINT', 4326, 0, 0);
        """,
    )


def dictionary_parquet(points: int = 100_000, rows: int = 100_000) -> bytes:
    """A GeoParquet of a few hundred bytes whose every row is one ``points``-point line, shared
    through a dictionary page: its footer declares little, its rows decode to gigabytes."""
    line = shapely.to_wkb(shapely.LineString([(i % 180, (i // 180) % 80) for i in range(points)]))
    indices = pa.array([0] * rows, pa.int32())
    column = pa.DictionaryArray.from_arrays(indices, pa.array([line], pa.binary()))
    geo = {
        "version": "1.1.0",
        "primary_column": "geometry",
        "columns": {"geometry": {"encoding": "WKB", "geometry_types": ["LineString"]}},
    }
    table = pa.table({"geometry": column}).replace_schema_metadata({"geo": json.dumps(geo)})
    out = io.BytesIO()
    pq.write_table(table, out, compression="zstd", use_dictionary=True)
    return out.getvalue()


def empty_elements_kmz(elements: int = 8_000_000) -> bytes:
    """A KMZ whose KML holds millions of empty elements: tens of KB zipped."""
    kml = (
        b'<kml xmlns="http://www.opengis.net/kml/2.2"><Document>' + b"<a/>" * elements + b"</Document></kml>"
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("doc.kml", kml)
    return out.getvalue()


def nested_nothing_geojson(size: int = 12 << 20) -> bytes:
    """A GeoJSON of ``{}`` millions of times: each two bytes of text a dict once parsed."""
    count = (size - 60) // 3
    return b'{"type": "FeatureCollection", "features": [' + b"{}," * count + b"{}]}"


def shx_of_records(records: int = 25_000_000) -> bytes:
    """A zipped Shapefile whose .shx points ``records`` records at one offset of a tiny .shp."""
    header = bytearray(100)
    struct.pack_into(">i", header, 0, 9994)
    struct.pack_into("<ii", header, 28, 1000, 1)  # version, point
    shp = bytearray(header)
    point = struct.pack(">ii", 1, 10) + struct.pack("<idd", 1, 1.0, 1.0)
    shp += point
    struct.pack_into(">i", shp, 24, len(shp) // 2)
    shx = bytearray(header)
    struct.pack_into(">i", shx, 24, (100 + 8 * records) // 2)
    shx += struct.pack(">ii", 50, 10) * records
    dbf = struct.pack("<BBBBIHH20x", 3, 26, 1, 1, 0, 33, 1) + b"\r\x1a"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("bomb.shp", bytes(shp))
        archive.writestr("bomb.shx", bytes(shx))
        archive.writestr("bomb.dbf", dbf)
    return out.getvalue()
