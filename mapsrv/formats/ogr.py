"""Shapefile (zipped), GeoPackage and FlatGeobuf in, through GDAL (pyogrio): every vector layer
of the file, or the one ``file_layer`` names, streamed as Arrow record batches of ``BATCH`` rows
and at most ``BATCH_BYTES`` into the collector (``gisrows``), so no layer is ever held whole twice.

GDAL reads an upload the page spooled to disk from there (a 100 MB GeoPackage is never in memory
whole), other bytes from memory (``/vsimem/``). A Shapefile's zip is unpacked and checked first
(``shapezip``), a GeoPackage's header, layers and triggers (``gpkg``); then the number of layers
is checked against the map's (``max_layers``) before one is opened, every layer's feature count
against the map's cap before a row is read (their sum is the ``progress`` the page shows), and
every batch's decoded bytes as it comes. A FlatGeobuf that ends before the count its header
declares, or whose features do not match it, is refused like any other damaged file: any error of
GDAL's or Arrow's is the file's, a 400 that says so.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
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

__all__ = ["BATCH", "BATCH_BYTES", "read_ogr"]

BATCH = 8_192  # rows per record batch, at most
# A record batch's decoded bytes at most: a batch past it is refused. GDAL cuts a GeoPackage's
# batches at half of it (OGR_ARROW_MEM_LIMIT); the others' batches hold as many rows of the
# file's average size as half of it does (``_batch_rows``): only rows far past the average near it
BATCH_BYTES = 64 << 20
_MEMORY = "OGR_ARROW_MEM_LIMIT"
_DRIVERS = {"shp": "ESRI Shapefile", "gpkg": "GPKG", "fgb": "FlatGeobuf"}
_NAMES = {"shp": "shapefile", "gpkg": "gpkg layer", "fgb": "fgb"}
# GDAL's, and pyarrow's while the batches of a damaged file are read: OSError ("Unexpected I/O
# failure: reading feature", "Buffer verification failed" from a cut-short FlatGeobuf), ArrowInvalid
_ERRORS = (
    *(DataSourceError, DataLayerError, FieldError, GeometryError, RuntimeError, ValueError),
    *(OSError, pa.ArrowException),
)
# GDAL's word that a buffer it reads from memory has no .gpkg extension: true, and harmless
warnings.filterwarnings("ignore", message=".*non conformant file extension", category=RuntimeWarning)


def _layers(source: Any, fmt: str, wanted: str | None, out: Collector) -> list[str]:
    try:
        listed = pyogrio.list_layers(source)
    except _ERRORS as exc:
        raise InvalidInput(f"{fmt} cannot be read: {str(exc)[:200]}; export it again") from None
    most = out.limits.max_layers
    if wanted is None and len(listed) > most:  # before a layer is opened: each open reads the file
        raise PayloadTooLarge(
            f"{fmt} must hold at most {most} layers for this map (max_layers), got {len(listed):,};"
            " name the one to read with file_layer, or split the file"
        )
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


@contextmanager
def _batch_memory(fmt: str) -> Iterator[None]:
    """GDAL's own cap on a batch's bytes while a GeoPackage is read, at half ``BATCH_BYTES``.
    Not for the others: GDAL 3.12's FlatGeobuf reader ends its stream, silently, after the first
    batch that cap cut short (20,000 rows of 1 kB under 4 MB: 4,000 read), and its Shapefile
    reader ignores it. A process-wide setting: the reader process reads one file."""
    if fmt != "gpkg":
        yield
        return
    before = pyogrio.get_gdal_config_option(_MEMORY)
    pyogrio.set_gdal_config_options({_MEMORY: str(BATCH_BYTES // 2)})
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options({_MEMORY: None if before is None else str(before)})


def _batch_rows(size: int, features: int) -> int:
    """Rows per batch for a file of ``size`` bytes and ``features`` rows in all."""
    return max(1, min(BATCH, BATCH_BYTES // 2 * features // max(size, 1)))


def _check_batch(batch: Any, start: int, what: str) -> None:
    if batch.nbytes > BATCH_BYTES:
        raise PayloadTooLarge(
            f"{what} rows {start:,} to {start + batch.num_rows - 1:,} take {batch.nbytes / 2**20:,.0f} MiB"
            f" once read, more than the {BATCH_BYTES >> 20} MiB mapsrv reads at once; split the file,"
            " or leave its biggest values (long texts, blobs) out"
        )


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
            source, layer=name, encoding=encoding, batch_size=info["batch"], use_pyarrow=True
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
                _check_batch(batch, rows.index, what)
                rows.add(batch)
    except (OSError, pa.ArrowException) as exc:
        raise InvalidInput(
            f"{what} is damaged or cut short: its features cannot be read ({str(exc)[:200]}); export it again"
        ) from None
    except _ERRORS as exc:
        raise InvalidInput(f"{what} cannot be read: {str(exc)[:200]}; export it again") from None
    if said := way.area_note():
        out.note(said)
    if kept := way.read_as():
        out.projections.append(kept)
    if info["driver"] == "FlatGeobuf" and rows.index != info["features"]:
        raise InvalidInput(
            f"{what} is damaged or cut short: its header declares {info['features']:,} features, but"
            f" {rows.index:,} could be read; export it again"
        )


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
        source, shapes = open_shapefiles(data, file_layer, max_layers=out.limits.max_layers)
        encodings = {s.name: s.encoding for s in shapes}
        file_layer = None if len(shapes) > 1 else shapes[0].name
        for s in shapes:
            if s.encoding:
                out.note(f"shapefile {s.name} has no .cpg: its text was read as {s.encoding}")
    elif fmt == "gpkg":
        for note in check_geopackage(data, max_layers=out.limits.max_layers, file_layer=file_layer):
            out.note(note)
    names = _layers(source, fmt, file_layer, out)
    layered = len(names) > 1
    whats = {n: f"{_NAMES[fmt]} {n}" if layered or fmt != "fgb" else "fgb" for n in names}
    infos = {n: _info(source, n, whats[n], encodings.get(n)) | {"what": whats[n]} for n in names}
    features = sum(int(info["features"]) for info in infos.values())
    if progress is not None:  # every layer's rows: the page's percentage covers the whole file
        progress.total += features
    size = data.stat().st_size if isinstance(data, Path) else len(source)
    rows = BATCH if fmt == "gpkg" else _batch_rows(size, features)
    infos = {n: info | {"batch": rows} for n, info in infos.items()}
    with _batch_memory(fmt):
        for n in names:
            _read_layer(source, n, infos[n], out, crs, layered, encodings.get(n), progress)
