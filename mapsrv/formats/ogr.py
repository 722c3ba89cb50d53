"""Shapefile (zipped), GeoPackage and FlatGeobuf in, through GDAL (pyogrio): every vector layer
of the file, or the one ``file_layer`` names, streamed as Arrow record batches of ``BATCH`` rows
into the collector (``gisrows``), so no layer is ever held whole twice.

GDAL reads an upload the page spooled to disk from there (a 100 MB GeoPackage is never in memory
whole), other bytes from memory (``/vsimem/``); every layer's feature count is checked against the
map's cap before a row is read, and their sum is the ``progress`` the page shows. A Shapefile's
zip is unpacked and checked first (``shapezip``), a GeoPackage's header and triggers (``gpkg``).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pyogrio
from pyogrio.errors import DataLayerError, DataSourceError, FieldError, GeometryError
from pyproj import CRS

from mapsrv.errors import InvalidInput, PayloadTooLarge
from mapsrv.formats.collect import Collector
from mapsrv.formats.crs import reprojection
from mapsrv.formats.gisrows import LayerRows
from mapsrv.formats.gpkg import check_geopackage
from mapsrv.formats.progress import Progress
from mapsrv.formats.shapezip import open_shapefiles

__all__ = ["BATCH", "read_ogr"]

BATCH = 8_192  # rows per record batch
_DRIVERS = {"shp": "ESRI Shapefile", "gpkg": "GPKG", "fgb": "FlatGeobuf"}
_NAMES = {"shp": "shapefile", "gpkg": "gpkg layer", "fgb": "fgb"}
_ERRORS = (DataSourceError, DataLayerError, FieldError, GeometryError, RuntimeError, ValueError)
# GDAL's word that a buffer it reads from memory has no .gpkg extension: true, and harmless
warnings.filterwarnings("ignore", message=".*non conformant file extension", category=RuntimeWarning)


def _layers(source: bytes, fmt: str, wanted: str | None, out: Collector) -> list[str]:
    try:
        listed = pyogrio.list_layers(source)
    except _ERRORS as exc:
        raise InvalidInput(f"{fmt} cannot be read: {str(exc)[:200]}; export it again") from None
    names = [str(name) for name, kind in listed if kind is not None]
    tables = [str(name) for name, kind in listed if kind is None]
    if wanted is not None:
        if wanted not in names:
            have = ", ".join(names[:10]) or "none"
            raise InvalidInput(f"file_layer {wanted!r:.60} is not a layer of this {fmt}: it has {have}")
        return [wanted]
    if tables:
        out.note(f"{fmt} tables without geometry left out: {', '.join(tables[:10])}")
    if not names:
        raise InvalidInput(f"{fmt} holds no layer with geometry; check that it is the file you meant")
    return names


def _info(source: Any, name: str, what: str, encoding: str | None) -> dict[str, Any]:
    try:
        return dict(pyogrio.read_info(source, layer=name, encoding=encoding, force_feature_count=True))
    except _ERRORS as exc:
        raise InvalidInput(f"{what} cannot be read: {str(exc)[:200]}; export it again") from None


def _read_layer(
    source: Any,
    name: str,
    info: dict[str, Any],
    out: Collector,
    crs: CRS | None,
    layered: bool,
    encoding: str | None,
    progress: Progress | None,
) -> None:
    what = info["what"]
    try:
        room = out.limits.max_features - out.added
        if info["features"] > room:
            raise PayloadTooLarge(
                f"{what} must hold at most {room} features for this map (max_features), got"
                f" {info['features']}; split the file, or read one layer with file_layer"
            )
        notes: list[str] = []
        way = reprojection(info["crs"], crs, what, notes)
        for note in notes:
            out.note(note)
        with pyogrio.open_arrow(
            source, layer=name, encoding=encoding, batch_size=BATCH, use_pyarrow=True
        ) as (meta, reader):
            rows = LayerRows(
                out,
                what,
                meta["geometry_name"] or "wkb_geometry",
                way,
                [str(f) for f in meta["fields"]],
                layer=name if layered else None,
                progress=progress,
            )
            for batch in reader:
                rows.add(batch)
    except _ERRORS as exc:
        raise InvalidInput(f"{what} cannot be read: {str(exc)[:200]}; export it again") from None


def read_ogr(
    data: bytes | Path,
    fmt: str,
    out: Collector,
    *,
    file_layer: str | None,
    crs: CRS | None,
    progress: Progress | None = None,
) -> None:
    """Read a zipped Shapefile (``shp``), a GeoPackage (``gpkg``) or a FlatGeobuf (``fgb``): its
    bytes, or (a GeoPackage, a FlatGeobuf) the file on disk at ``data``."""
    encodings: dict[str, str | None] = {}
    source: Any = str(data) if isinstance(data, Path) else data
    if fmt == "shp":
        if isinstance(data, Path):
            raise ValueError("a zipped Shapefile is read from its bytes")
        source, shapes = open_shapefiles(data, file_layer)
        encodings = {s.name: s.encoding for s in shapes}
        file_layer = None if len(shapes) > 1 else shapes[0].name
        for s in shapes:
            if s.encoding:
                out.note(f"shapefile {s.name} has no .cpg: its text was read as {s.encoding}")
    elif fmt == "gpkg":
        check_geopackage(data)
    names = _layers(source, fmt, file_layer, out)
    layered = len(names) > 1
    whats = {n: f"{_NAMES[fmt]} {n}" if layered or fmt != "fgb" else "fgb" for n in names}
    infos = {n: _info(source, n, whats[n], encodings.get(n)) | {"what": whats[n]} for n in names}
    if progress is not None:  # every layer's rows: the page's percentage covers the whole file
        progress.total += sum(int(info["features"]) for info in infos.values())
    for n in names:
        _read_layer(source, n, infos[n], out, crs, layered, encodings.get(n), progress)
