"""GeoParquet (1.0 and 1.1) in and out, through pyarrow: GDAL's wheel has no Parquet driver.

In: the file's footer is read first: its rows must fit the map, and the bytes its row groups
declare unpacked at most ``MAX_UNPACKED`` (a 1 MB file that declares 10 GB is refused unread);
then it is streamed in batches of ``BATCH`` rows, a row group at a time, into the collector
(``gisrows``). The geometry is the ``geo`` metadata's primary column, WKB-encoded; its ``crs``
(PROJJSON) is reprojected from, and a file without one is in longitude and latitude, as the
specification says. A Parquet file without ``geo`` metadata is read when a binary column is named
``geometry`` (or ``geom``, ``wkb_geometry``), its degrees checked.

What the footer declares does not bound what a file decodes to: a dictionary page holds a value
once and its rows name it by index, so 323 bytes can repeat a 1.6 MB line 100,000 times (160 GB).
Text and bytes are therefore read as Arrow dictionaries, never expanded by pyarrow, and each
batch's size as its rows' values would take, expanded, is counted before anything is built from
it: at most ``MAX_BATCH_BYTES`` a batch and ``MAX_DECODED`` the whole file (``decoded_bytes``).

Out: one table (``gisout``), WKB in ``geometry``, the ``geo`` metadata with its types and bounds,
no ``crs`` (longitude and latitude on WGS84: the specification's default), zstd-compressed.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import shapely
from pyproj import CRS

from mapsrv.errors import InvalidInput, PayloadTooLarge
from mapsrv.formats.collect import Collector
from mapsrv.formats.crs import reprojection
from mapsrv.formats.gisout import GisTable
from mapsrv.formats.gisrows import LayerRows
from mapsrv.formats.progress import Progress

__all__ = [
    "BATCH",
    "MAX_BATCH_BYTES",
    "MAX_DECODED",
    "MAX_UNPACKED",
    "decoded_bytes",
    "read_geoparquet",
    "write_geoparquet",
]

BATCH = 8_192
MAX_UNPACKED = 1 << 30  # bytes the row groups may declare, unpacked, in all
MAX_BATCH_BYTES = 64 << 20  # bytes a batch's values decode to: what one step of the read holds
MAX_DECODED = 256 << 20  # bytes the whole file's values decode to (a 100,000-point file: 5 MB)
_NAMES = ("geometry", "geom", "wkb_geometry", "the_geom", "wkb")
_WHAT = "geoparquet"
_HINT = "write it again with geopandas' to_parquet, ogr2ogr or QGIS"
_JSON_TYPES = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}


def _open(
    data: bytes | Path, dictionary: list[str] | None = None, metadata: pq.FileMetaData | None = None
) -> pq.ParquetFile:
    """The file (its footer parsed once: ``metadata`` when it was already)."""
    try:  # a file on disk is read a row group at a time (not memory-mapped: no RSS for the whole)
        source = str(data) if isinstance(data, Path) else pa.BufferReader(data)
        return pq.ParquetFile(source, metadata=metadata, read_dictionary=dictionary)
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


def _text_columns(file: pq.ParquetFile) -> list[str]:
    """The paths of every column of text or bytes (nested ones' too): read as dictionaries."""
    leaves = [file.schema.column(i) for i in range(len(file.schema))]
    return [leaf.path for leaf in leaves if leaf.physical_type == "BYTE_ARRAY"]


def _json_type(value: Any) -> str:
    return _JSON_TYPES.get(type(value), "a number")


def _geo(raw: bytes) -> tuple[str, dict[str, Any]]:
    """The ``geo`` metadata's primary column and its entry, each part checked for its type."""
    try:
        geo = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"geoparquet's 'geo' metadata is not UTF-8 at byte {exc.start}; {_HINT}") from None
    except ValueError as exc:
        raise InvalidInput(f"geoparquet's 'geo' metadata is not JSON ({str(exc)[:80]}); {_HINT}") from None
    except RecursionError:
        raise InvalidInput(f"geoparquet's 'geo' metadata is nested too deeply to read; {_HINT}") from None
    if not isinstance(geo, dict):
        raise InvalidInput(f"geoparquet's 'geo' metadata must be an object, got {_json_type(geo)}; {_HINT}")
    name, columns = geo.get("primary_column"), geo.get("columns")
    if not isinstance(name, str):
        raise InvalidInput(
            f"geoparquet's 'geo' primary_column must be a column's name, got {_json_type(name)}; {_HINT}"
        )
    if not isinstance(columns, dict):
        raise InvalidInput(
            f"geoparquet's 'geo' columns must be an object, got {_json_type(columns)}; {_HINT}"
        )
    column = columns.get(name)
    if name not in columns:
        raise InvalidInput(
            f"geoparquet's 'geo' columns have no entry for its primary column {name!r:.60}; {_HINT}"
        )
    if not isinstance(column, dict):
        raise InvalidInput(
            f"geoparquet's 'geo' columns entry {name!r:.60} must be an object, got {_json_type(column)};"
            f" {_HINT}"
        )
    return name, column


def _crs(name: str, column: dict[str, Any]) -> Any:
    """The CRS a ``geo`` column entry names: OGC:CRS84 when it has none, None when it is null."""
    crs = column.get("crs", "OGC:CRS84")
    if isinstance(crs, dict):
        try:
            return json.dumps(crs)
        except RecursionError:
            raise InvalidInput(f"geoparquet column {name!r:.60}'s crs is nested too deeply to read") from None
    if crs is not None and not isinstance(crs, str):
        raise InvalidInput(
            f"geoparquet column {name!r:.60}'s crs must be PROJJSON (an object), got {_json_type(crs)};"
            f" {_HINT}"
        )
    return crs


def _is_wkb(kind: pa.DataType) -> bool:
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    return bool(pa.types.is_binary(kind) or pa.types.is_large_binary(kind))


def _geometry(file: pq.ParquetFile, notes: list[str]) -> tuple[str, Any, set[str]]:
    """The geometry column, the CRS the file names (None when it says none) and the columns that
    are not properties (its bounding box column)."""
    schema = file.schema_arrow
    raw = (schema.metadata or {}).get(b"geo")
    if raw is None:
        found = [n for n in schema.names if n.lower() in _NAMES and _is_wkb(schema.field(n).type)]
        if not found:
            raise InvalidInput(
                "geoparquet has no geometry: it has no 'geo' metadata and no binary geometry column;"
                " write it as GeoParquet (geopandas' to_parquet, ogr2ogr, QGIS)"
            )
        notes.append(f"geoparquet has no 'geo' metadata: its column {found[0]} was read as WKB")
        return found[0], None, set()
    name, column = _geo(raw)
    if str(column.get("encoding", "")).upper() != "WKB":
        raise InvalidInput(
            f"geoparquet column {name} is encoded as {column.get('encoding')!r:.40}; mapsrv reads WKB,"
            " GeoParquet's default: write it with WKB encoding"
        )
    if name not in schema.names:
        raise InvalidInput(f"geoparquet's primary column {name!r:.60} is not in the file")
    if not _is_wkb(schema.field(name).type):
        raise InvalidInput(
            f"geoparquet's primary column {name!r:.60} holds {schema.field(name).type}, not WKB; {_HINT}"
        )
    covering = column.get("covering")
    bbox = covering.get("bbox") if isinstance(covering, dict) else None
    paths = bbox.values() if isinstance(bbox, dict) else ()
    hidden = {path[0] for path in paths if isinstance(path, list) and path and isinstance(path[0], str)}
    return name, _crs(name, column), hidden


def decoded_bytes(array: pa.Array) -> int:
    """The bytes ``array``'s values take expanded: a dictionary's value counted for every row
    that names it, nested lists and structures down to their values; found without expanding."""
    total = 0
    stack = [array]
    while stack:
        part = stack.pop()
        kind = part.type
        if pa.types.is_dictionary(kind):
            values = part.dictionary
            if pa.types.is_binary(values.type) or pa.types.is_string(values.type):
                lengths = pc.binary_length(values)
            else:  # a dictionary of numbers, or of lists, that a file's own Arrow schema asked for
                lengths = pa.array([values.nbytes // max(len(values), 1)] * len(values), pa.int64())
            total += (pc.sum(pc.take(lengths, part.indices)).as_py() or 0) + part.indices.nbytes
        elif pa.types.is_struct(kind):
            stack.extend(part.flatten())
        elif pa.types.is_map(
            kind
        ):  # its keys and items (flatten has no kernel for text read as dictionaries)
            total += part.offsets.nbytes
            stack += [part.keys, part.items]
        elif pa.types.is_list(kind) or pa.types.is_large_list(kind):
            total += part.offsets.nbytes
            stack.append(part.flatten())
        elif pa.types.is_fixed_size_list(kind):
            stack.append(part.flatten())
        else:
            total += part.nbytes
    return total


def _check_batch(batch: pa.RecordBatch, start: int, spent: int) -> int:
    """What ``batch`` (rows from ``start``) decodes to, refused past either budget before a value
    of it is expanded; ``spent`` is what the batches before it decoded to."""
    sizes = [decoded_bytes(column) for column in batch.columns]
    size = sum(sizes)
    most = max(range(len(sizes)), key=sizes.__getitem__)
    biggest = batch.schema.names[most]
    rows = f"rows {start}-{start + batch.num_rows - 1}"
    if size > MAX_BATCH_BYTES:
        raise PayloadTooLarge(
            f"geoparquet's {rows} decode to {size / 2**20:,.0f} MiB, more than {MAX_BATCH_BYTES >> 20} MiB"
            f" per {BATCH} rows (its column {biggest!r:.60}: {sizes[most] / 2**20:,.0f} MiB); send a"
            " smaller file"
        )
    if spent + size > MAX_DECODED:
        raise PayloadTooLarge(
            f"geoparquet decodes to more than {MAX_DECODED >> 20} MiB by its {rows} (its column"
            f" {biggest!r:.60} the most); send a smaller file"
        )
    return spent + size


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
    file = _open(data, _text_columns(file), file.metadata)
    spent = 0
    try:
        for batch in file.iter_batches(batch_size=BATCH, columns=[*fields, geometry]):
            spent = _check_batch(batch, rows.index, spent)
            rows.add(batch)
    except (pa.ArrowException, OSError) as exc:
        raise InvalidInput(f"geoparquet cannot be read at row {rows.index}: {str(exc)[:200]}") from None
    if said := way.area_note():
        out.note(said)
    if kept := way.read_as():
        out.projections.append(kept)


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
