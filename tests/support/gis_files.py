"""GIS files as GDAL writes them (through pyogrio): zipped Shapefiles, GeoPackages, FlatGeobufs in
any projection and text encoding, and GeoParquets as the specification lays them out (pyarrow,
WKB, ``geo`` metadata: GDAL's wheel has no Parquet driver), from Natural Earth's countries (the
outlines mapsrv ships, ``support.natural_earth``) or generated points. Also the reference a
test compares mapsrv with: a file read by pyogrio and reprojected by pyproj on its own."""

from __future__ import annotations

import io
import json
import sqlite3
import tempfile
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pyogrio
import shapely
from pyproj import CRS, Transformer
from shapely.geometry import shape

from mapsrv.core.geojson import geometry_to_geojson
from mapsrv.core.model import Feature

from .natural_earth import countries_geojson

__all__ = [
    "countries",
    "edited_geopackage",
    "flatgeobuf",
    "geopackage",
    "geoparquet",
    "noted_points",
    "project",
    "reference",
    "shapefile_zip",
    "shapely_of",
    "write_gdal",
]

# A file GDAL writes without a CRS warns that it has none: these files mean to have none.
warnings.filterwarnings("ignore", message="'crs' was not provided", category=UserWarning)


def countries(scale: str = "110m", names: tuple[str, ...] = ()) -> tuple[list[str], Any]:
    """Natural Earth's countries (those ``names``, else all): their names and their outlines as
    shapely geometries in longitude and latitude."""
    features = [
        f for f in countries_geojson(scale)["features"] if not names or f["properties"]["name"] in names
    ]
    return [f["properties"]["name"] for f in features], np.array([shape(f["geometry"]) for f in features])


def project(geometries: Any, crs: str | None) -> Any:
    """``geometries`` (longitude, latitude) in ``crs`` (None: as they are), through pyproj."""
    if crs is None:
        return geometries
    to = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    return shapely.transform(geometries, lambda x, y: to.transform(x, y), interleaved=False)


def write_gdal(
    table: pa.Table,
    path: Path,
    driver: str,
    *,
    crs: str | None,
    geometry_type: str | None,
    layer: str | None = None,
    encoding: str | None = None,
    append: bool = False,
) -> Path:
    """``table`` (a ``geometry`` column of WKB, the rest attributes) written by GDAL."""
    options: dict[str, Any] = {} if encoding is None else {"encoding": encoding}
    if geometry_type is not None:  # None: a table without geometry
        options |= {"geometry_name": "geometry", "geometry_type": geometry_type}
    pyogrio.write_arrow(
        table,
        str(path),
        driver=driver,
        layer=layer,
        crs=crs,
        append=append,
        **options,
    )
    return path


def shapefile_zip(
    layers: dict[str, tuple[pa.Table, str | None, str]],
    *,
    folder: str = "",
    encoding: str | None = "UTF-8",
    cpg: bool = True,
) -> bytes:
    """A zip of one Shapefile per ``layers`` entry (name: table, crs, geometry type) in
    ``folder`` of the zip, its text in ``encoding`` (None: GDAL's default, no .cpg), without its
    ``.cpg`` when not ``cpg``."""
    with tempfile.TemporaryDirectory() as tmp:
        for name, (table, crs, kind) in layers.items():
            write_gdal(
                table,
                Path(tmp) / f"{name}.shp",
                "ESRI Shapefile",
                crs=crs,
                geometry_type=kind,
                encoding=encoding,
            )
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(Path(tmp).iterdir()):
                if path.suffix == ".cpg" and not cpg:
                    continue
                archive.write(path, folder + path.name)
        return out.getvalue()


def geopackage(layers: dict[str, tuple[pa.Table, str | None, str | None]]) -> bytes:
    """A GeoPackage with a table per ``layers`` entry (name: table, crs, geometry type); a table
    of ``None`` geometry type is written without geometry (an attribute table)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "data.gpkg"
        for i, (name, (table, crs, kind)) in enumerate(layers.items()):
            write_gdal(table, path, "GPKG", crs=crs, geometry_type=kind, layer=name, append=i > 0)
        return path.read_bytes()


def edited_geopackage(data: bytes, sql: str) -> bytes:
    """``data`` (a GeoPackage) changed by ``sql`` through the standard library's sqlite3: what a
    forger adds to a file GDAL wrote (a trigger, a view, a layer)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.gpkg"
        path.write_bytes(data)
        db = sqlite3.connect(path)
        db.executescript(sql)
        db.commit()
        db.close()
        return path.read_bytes()


def noted_points(rows: int, note: int = 0, seed: int = 61) -> pa.Table:
    """``rows`` points over Europe with a name, a count, a value and a ``note`` of that many
    characters (a register's long descriptions: what makes a GeoPackage of points 100 MB)."""
    rng = np.random.default_rng(seed)
    lon, lat = rng.uniform(-10, 30, rows), rng.uniform(35, 60, rows)
    columns: dict[str, Any] = {
        "name": [f"point {i}" for i in range(rows)],
        "count": np.arange(rows),
        "value": rng.random(rows),
    }
    if note:  # lowercase letters, the text's bytes laid out as Arrow's strings are
        letters = rng.integers(ord("a"), ord("z") + 1, size=rows * note, dtype=np.uint8)
        offsets = np.arange(0, (rows + 1) * note, note, dtype=np.int32)
        columns["note"] = pa.StringArray.from_buffers(rows, pa.py_buffer(offsets), pa.py_buffer(letters))
    columns["geometry"] = shapely.to_wkb(shapely.points(lon, lat))
    return pa.table(columns)


def flatgeobuf(table: pa.Table, crs: str | None, kind: str) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        path = write_gdal(table, Path(tmp) / "data.fgb", "FlatGeobuf", crs=crs, geometry_type=kind)
        return path.read_bytes()


def geoparquet(
    table: pa.Table, crs: str | None, *, metadata: bool = True, row_group: int | None = None
) -> bytes:
    """``table`` as a GeoParquet 1.1 file: its ``crs`` as PROJJSON (None: left out, which means
    longitude and latitude); without ``metadata``, a plain Parquet file with a WKB column."""
    if metadata:
        column: dict[str, Any] = {"encoding": "WKB", "geometry_types": []}
        if crs is not None:
            column["crs"] = json.loads(CRS.from_user_input(crs).to_json())
        geo = {"version": "1.1.0", "primary_column": "geometry", "columns": {"geometry": column}}
        table = table.replace_schema_metadata({b"geo": json.dumps(geo).encode()})
    out = io.BytesIO()
    pq.write_table(table, out, row_group_size=row_group)
    return out.getvalue()


def reference(data: bytes, layer: str | None = None, *, member: str = "") -> tuple[list[dict[str, Any]], Any]:
    """What a file holds, read by pyogrio and reprojected to longitude and latitude by pyproj,
    independently of mapsrv: each row's attributes, and the geometries. ``member``: the path
    of a ``.shp`` in a zip's folder, which GDAL opens through ``/vsizip/``."""
    with tempfile.TemporaryDirectory() as tmp:
        source: Any = data
        if member:
            (Path(tmp) / "data.zip").write_bytes(data)
            source = f"/vsizip/{tmp}/data.zip/{member}"
        meta, table = pyogrio.read_arrow(source, layer=layer)
    geometry = meta["geometry_name"] or "wkb_geometry"
    geometries = shapely.from_wkb(table.column(geometry).to_numpy(zero_copy_only=False))
    if meta["crs"] and not CRS.from_user_input(meta["crs"]).equals(
        CRS.from_epsg(4326), ignore_axis_order=True
    ):
        to = Transformer.from_crs(meta["crs"], "EPSG:4326", always_xy=True)
        geometries = shapely.transform(geometries, lambda x, y: to.transform(x, y), interleaved=False)
    rows = table.drop_columns([geometry]).to_pylist()
    return rows, geometries


def shapely_of(feature: Feature) -> Any:
    """A feature's geometry as shapely has it (longitude, latitude)."""
    return shape(geometry_to_geojson(feature.type, feature.coords))
