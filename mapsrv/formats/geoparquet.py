"""GeoParquet (1.0 and 1.1) in and out, through pyarrow: GDAL's wheel has no Parquet driver.

In: the file's footer is read first: its rows must fit the map, and the bytes its row groups
declare unpacked at most ``MAX_UNPACKED`` (a 1 MB file that declares 10 GB is refused unread);
then it is streamed in batches of ``BATCH`` rows, a row group at a time, into the collector
(``gisrows``). The geometry is the ``geo`` metadata's primary column, WKB-encoded; its ``crs``
(PROJJSON) is reprojected from, and a file without one is in longitude and latitude, as the
specification says. A Parquet file without ``geo`` metadata is read when a binary column is named
``geometry`` (or ``geom``, ``wkb_geometry``), its degrees checked.

Out: one table (``gisout``), WKB in ``geometry``, the ``geo`` metadata with its types and bounds,
no ``crs`` (longitude and latitude on WGS84: the specification's default), zstd-compressed.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import shapely
from pyproj import CRS

from mapsrv.errors import InvalidInput, PayloadTooLarge
from mapsrv.formats.collect import Collector
from mapsrv.formats.crs import reprojection
from mapsrv.formats.gisout import GisTable
from mapsrv.formats.gisrows import LayerRows
from mapsrv.formats.progress import Progress

__all__ = ["BATCH", "MAX_UNPACKED", "read_geoparquet", "write_geoparquet"]

BATCH = 8_192
MAX_UNPACKED = 1 << 30  # bytes the row groups may declare, unpacked, in all
_NAMES = ("geometry", "geom", "wkb_geometry", "the_geom", "wkb")
_WHAT = "geoparquet"


def _open(data: bytes | Path) -> pq.ParquetFile:
    try:  # a file on disk is read a row group at a time (not memory-mapped: no RSS for the whole)
        return pq.ParquetFile(str(data) if isinstance(data, Path) else pa.BufferReader(data))
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise InvalidInput(f"geoparquet cannot be read: {str(exc)[:200]}; export it again") from None


def _check_sizes(file: pq.ParquetFile, room: int) -> None:
    meta = file.metadata
    if meta.num_rows > room:
        raise PayloadTooLarge(
            f"geoparquet must hold at most {room} features for this map (max_features), got"
            f" {meta.num_rows}; split the file"
        )
    declared = 0
    for i in range(meta.num_row_groups):
        group = meta.row_group(i)
        declared += max(
            group.total_byte_size,
            sum(group.column(c).total_uncompressed_size for c in range(group.num_columns)),
        )
    if declared > MAX_UNPACKED:
        raise PayloadTooLarge(
            f"geoparquet must unpack to at most {MAX_UNPACKED >> 20} MiB, got {declared / 2**20:,.0f} MiB"
            " declared by its row groups; send a smaller file"
        )


def _geometry(file: pq.ParquetFile, notes: list[str]) -> tuple[str, Any, set[str]]:
    """The geometry column, the CRS the file names (None when it says none) and the columns that
    are not properties (its bounding box column)."""
    schema = file.schema_arrow
    raw = (schema.metadata or {}).get(b"geo")
    if raw is None:
        found = [n for n in schema.names if n.lower() in _NAMES and pa.types.is_binary(schema.field(n).type)]
        if not found:
            raise InvalidInput(
                "geoparquet has no geometry: it has no 'geo' metadata and no binary geometry column;"
                " write it as GeoParquet (geopandas' to_parquet, ogr2ogr, QGIS)"
            )
        notes.append(f"geoparquet has no 'geo' metadata: its column {found[0]} was read as WKB")
        return found[0], None, set()
    try:
        geo = json.loads(raw)
        name = geo["primary_column"]
        column = geo["columns"][name]
    except (ValueError, KeyError, TypeError):
        raise InvalidInput("geoparquet's 'geo' metadata cannot be read: it names no primary column") from None
    if str(column.get("encoding", "")).upper() != "WKB":
        raise InvalidInput(
            f"geoparquet column {name} is encoded as {column.get('encoding')!r:.40}; mapsrv reads WKB,"
            " GeoParquet's default: write it with WKB encoding"
        )
    if name not in schema.names:
        raise InvalidInput(f"geoparquet's primary column {name!r:.60} is not in the file")
    crs = column.get("crs", "OGC:CRS84")  # absent: longitude, latitude on WGS84; null: unknown
    if isinstance(crs, dict):
        crs = json.dumps(crs)
    covering = column.get("covering", {}).get("bbox", {}) if isinstance(column.get("covering"), dict) else {}
    hidden = {path[0] for path in covering.values() if isinstance(path, list) and path}
    return name, crs, hidden


def read_geoparquet(
    data: bytes | Path, out: Collector, *, crs: CRS | None, progress: Progress | None = None
) -> None:
    file = _open(data)
    _check_sizes(file, out.limits.max_features - out.added)
    if progress is not None:
        progress.total += file.metadata.num_rows
    notes: list[str] = []
    geometry, found, hidden = _geometry(file, notes)
    way = reprojection(found, crs, _WHAT, notes)
    for note in notes:
        out.note(note)
    fields = [n for n in file.schema_arrow.names if n != geometry and n not in hidden]
    rows = LayerRows(out, _WHAT, geometry, way, fields, progress=progress)
    try:
        for batch in file.iter_batches(batch_size=BATCH, columns=[*fields, geometry]):
            rows.add(batch)
    except (pa.ArrowException, OSError) as exc:
        raise InvalidInput(f"geoparquet cannot be read at row {rows.index}: {str(exc)[:200]}") from None


def write_geoparquet(table: GisTable) -> bytes:
    """``table`` as a GeoParquet file."""
    wkb = table.table.column("geometry").to_numpy(zero_copy_only=False)
    bounds = shapely.total_bounds(shapely.from_wkb(wkb)).tolist() if len(wkb) else []
    column: dict[str, Any] = {"encoding": "WKB", "geometry_types": table.types}
    if bounds:
        column["bbox"] = bounds
    geo = {"version": "1.1.0", "primary_column": "geometry", "columns": {"geometry": column}}
    out = io.BytesIO()
    with_meta = table.table.replace_schema_metadata({b"geo": json.dumps(geo).encode()})
    pq.write_table(with_meta, out, compression="zstd")
    return out.getvalue()
