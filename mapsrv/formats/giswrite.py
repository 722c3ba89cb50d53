"""A map out as a GIS file: a zipped Shapefile (a ``.shp`` set per layer and kind of geometry,
with its ``.prj`` and a ``.cpg`` saying UTF-8), a GeoPackage (a table per layer), a FlatGeobuf or
a GeoParquet (one table, a ``layer`` column). Tables come from ``gisout``; GDAL writes all but
GeoParquet. A Shapefile and a GeoPackage are several files or need a file GDAL can reopen, so
they are written in a private temporary folder that is gone when the call returns."""

from __future__ import annotations

import io
import re
import tempfile
from pathlib import Path

import pyogrio

from mapsrv.core.model import MapState
from mapsrv.formats.geoparquet import write_geoparquet
from mapsrv.formats.gisout import GisTable, gis_tables
from mapsrv.formats.shapezip import zip_files

__all__ = ["GIS_FORMATS", "write_gis"]

GIS_FORMATS = ("shp", "gpkg", "fgb", "parquet")
_WGS84 = "EPSG:4326"
_UNSAFE = re.compile(r"[^\w.-]+")


def _write(table: GisTable, path: str | io.BytesIO, driver: str, **options: object) -> None:
    pyogrio.write_arrow(
        table.table,
        path,
        layer=table.name,
        driver=driver,
        geometry_name="geometry",
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


def _geopackage(tables: list[GisTable]) -> bytes:
    with tempfile.TemporaryDirectory(prefix="mapsrv-gpkg-") as folder:
        path = str(Path(folder) / "map.gpkg")
        for i, table in enumerate(tables):
            _write(table, path, "GPKG", append=i > 0)
        return Path(path).read_bytes()


def write_gis(state: MapState, fmt: str) -> tuple[bytes, list[str]]:
    """``state`` as a ``fmt`` file (one of ``GIS_FORMATS``), and what the format could not hold."""
    layered, shapefile, dates = fmt in ("shp", "gpkg"), fmt == "shp", fmt != "fgb"
    tables, notes = gis_tables(state, by_layer=layered, shapefile=shapefile, dates=dates)
    if fmt == "shp":
        return _shapefiles(tables), notes
    if fmt == "gpkg":
        return _geopackage(tables), notes
    if fmt == "parquet":
        return write_geoparquet(tables[0]), notes
    out = io.BytesIO()
    tables[0].name = state.title or "map"
    _write(tables[0], out, "FlatGeobuf")
    return out.getvalue(), notes
