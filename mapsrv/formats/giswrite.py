"""A map out as a GIS file: a zipped Shapefile (a ``.shp`` set per layer and kind of geometry,
with its ``.prj`` and a ``.cpg`` saying UTF-8), a GeoPackage (a table per layer), a FlatGeobuf or
a GeoParquet (one table, a ``layer`` column). Tables come from ``gisout``; GDAL writes all but
GeoParquet. A Shapefile and a GeoPackage are several files or need a file GDAL can reopen, so
they are written in a private temporary folder that is gone when the call returns.

What a feature or a layer is named cannot break the file: a property named as a column the
format keeps for itself (``RESERVED``) is written under a new name (``gisout``), and a layer
named as a GeoPackage's own tables (``gpkg_``, ``sqlite_``, ``rtree_``) or beginning with
punctuation, which GDAL refuses, as ``layer_`` and its name, each with a note."""

from __future__ import annotations

import io
import re
import tempfile
from pathlib import Path

import pyogrio

from mapsrv.core.model import MapState
from mapsrv.formats.geoparquet import write_geoparquet
from mapsrv.formats.gisout import GEOMETRY, GisTable, gis_tables
from mapsrv.formats.shapezip import zip_files

__all__ = ["GIS_FORMATS", "RESERVED", "write_gis"]

GIS_FORMATS = ("shp", "gpkg", "fgb", "parquet")
_WGS84 = "EPSG:4326"
_UNSAFE = re.compile(r"[^\w.-]+")
# The column names each format keeps for itself (lower case: GDAL and SQLite match names ignoring
# case), and why, found by writing a layer with such a column through pyogrio (GDAL 3.12): a
# GeoPackage's ``fid`` that is not unique integers fails the write (integers become its feature
# ids, the column gone), as a ``geom`` does; GDAL takes an ``OGC_FID`` for the feature ids (text
# fails a Shapefile or FlatGeobuf, integers are dropped); a FlatGeobuf with a ``wkb_geometry``
# column cannot be read back (GDAL names its geometry so). GeoParquet, written by pyarrow, keeps
# only its ``geometry`` (``gisout`` keeps that name in every format: a ``Geometry`` crashes GDAL).
_OGC_FID = {"ogc_fid": "GDAL takes an OGC_FID column for its feature ids"}
RESERVED = {
    "shp": _OGC_FID,
    "gpkg": _OGC_FID
    | {
        "fid": "a GeoPackage keeps its own fid column",
        "geom": "a GeoPackage keeps its geometry in a geom column",
    },
    "fgb": _OGC_FID | {"wkb_geometry": "GDAL reads a FlatGeobuf's geometry as wkb_geometry"},
    "parquet": _OGC_FID,
}
# a GeoPackage's own tables (the specification's gpkg_ prefix), SQLite's, and its spatial indexes;
# and the first characters GDAL refuses in a table name (ASCII punctuation but _)
_GPKG_OWN = re.compile(r"gpkg|sqlite_|rtree_", re.IGNORECASE)
_GPKG_FIRST = re.compile(r"[!-/:-@\[-^`{-~]")


def _write(table: GisTable, path: str | io.BytesIO, driver: str, **options: object) -> None:
    pyogrio.write_arrow(
        table.table,
        path,
        layer=table.name,
        driver=driver,
        geometry_name=GEOMETRY,
        geometry_type=table.geometry_type,
        crs=_WGS84,
        **options,
    )


def _shapefiles(tables: list[GisTable]) -> bytes:
    with tempfile.TemporaryDirectory(prefix="mapsrv-shp-") as folder:
        used: set[str] = set()
        for table in tables:
            stem, n = _UNSAFE.sub("_", table.name).strip("._") or "layer", 1
            name = stem
            while name.lower() in used:
                n += 1
                name = f"{stem}_{n}"
            used.add(name.lower())
            _write(table, str(Path(folder) / f"{name}.shp"), "ESRI Shapefile", encoding="UTF-8")
        files = sorted(Path(folder).iterdir())
        return zip_files({p.name: p.read_bytes() for p in files})


def _table_names(tables: list[GisTable], notes: list[str]) -> None:
    """A GeoPackage's tables named none of its own (``gpkg_contents``, ``sqlite_master``, an
    ``rtree_`` index) and beginning as GDAL allows: else a layer's table is ``layer_`` and its name."""
    used = {table.name.lower() for table in tables}
    for table in tables:
        if _GPKG_OWN.match(table.name):
            why = "a GeoPackage keeps such names for itself"
        elif _GPKG_FIRST.match(table.name):
            why = "GDAL takes no GeoPackage table name that begins with punctuation"
        else:
            continue
        name, n = f"layer_{table.name}", 1
        while name.lower() in used:
            n += 1
            name = f"layer_{table.name}_{n}"
        used.add(name.lower())
        notes.append(f"layer {table.name} written as table {name}: {why}")
        table.name = name


def _geopackage(tables: list[GisTable], notes: list[str]) -> bytes:
    _table_names(tables, notes)
    with tempfile.TemporaryDirectory(prefix="mapsrv-gpkg-") as folder:
        path = str(Path(folder) / "map.gpkg")
        for i, table in enumerate(tables):
            _write(table, path, "GPKG", append=i > 0)
        return Path(path).read_bytes()


def write_gis(state: MapState, fmt: str) -> tuple[bytes, list[str]]:
    """``state`` as a ``fmt`` file (one of ``GIS_FORMATS``), and what the format could not hold."""
    layered, shapefile, dates = fmt in ("shp", "gpkg"), fmt == "shp", fmt != "fgb"
    tables, notes = gis_tables(
        state,
        by_layer=layered,
        shapefile=shapefile,
        dates=dates,
        reserved=RESERVED[fmt],
        nested=fmt == "parquet",
    )
    if fmt == "shp":
        return _shapefiles(tables), notes
    if fmt == "gpkg":
        return _geopackage(tables, notes), notes
    if fmt == "parquet":
        return write_geoparquet(tables[0]), notes
    if tables[0].geometry_type == "Unknown" and any(t.endswith(" Z") for t in tables[0].types):
        # GDAL writes a FlatGeobuf of several kinds of geometry 2D: there is no 3D "Unknown"
        notes.append(
            "FlatGeobuf keeps heights (Z) only where every feature is one kind of geometry:"
            " heights left out (a GeoPackage or GeoParquet keeps them)"
        )
    out = io.BytesIO()
    tables[0].name = state.title or "map"
    _write(tables[0], out, "FlatGeobuf")
    return out.getvalue(), notes
