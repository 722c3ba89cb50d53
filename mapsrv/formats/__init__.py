"""The files people already have: GPX, KML, KMZ, CSV and GeoJSON, and GIS people's zipped
Shapefiles, GeoPackages, FlatGeobufs and GeoParquets in any projection, read into features and
written from a map. Pure: bytes in, features out (and a map in, bytes out); no sockets, no trio
(GDAL reads from memory; a Shapefile or GeoPackage is written in a temporary folder). A big upload
the page spooled to disk comes as its path: a GeoPackage, FlatGeobuf or GeoParquet is read from
there in batches (``STREAMED``), any other format read whole, at most ``MAX_WHOLE`` bytes.

Reading is for untrusted files: XML without a DTD (no entity bombs, no external entities; see
``safexml``), a KMZ's zip opened with caps on its members and unzipped size, a CSV with caps on
columns and fields, and every feature built by core's ``build_feature`` and counted against
``Limits`` as it is read, so an oversized file stops early with the cap it broke named. An error
names the line, element or row; what was skipped or changed is in ``Imported.notes``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mapsrv.core.codec import dumps
from mapsrv.core.geojson import collection_members, geojson_parts, to_geojson
from mapsrv.core.model import LatLon, Limits, MapState
from mapsrv.core.series import as_rows
from mapsrv.errors import InvalidInput, PayloadTooLarge
from mapsrv.formats import sliced_json
from mapsrv.formats.archive import is_zip
from mapsrv.formats.collect import MAX_LISTED, Collector, Imported
from mapsrv.formats.detect import BINARY_FORMATS, FORMATS, GIS_FORMATS, detect_format
from mapsrv.formats.gpx import gpx_notes, read_gpx, write_gpx
from mapsrv.formats.held import held_notes
from mapsrv.formats.join import JOINS, Find, Join, Near, read_joined
from mapsrv.formats.kml import read_kml, write_kml
from mapsrv.formats.kmldata import kml_notes
from mapsrv.formats.kmz import read_kmz, write_kmz
from mapsrv.formats.progress import Progress
from mapsrv.formats.rings import Rings
from mapsrv.formats.table import Rows, read_csv, read_rows, write_csv

__all__ = [
    "BINARY_FORMATS",
    "EXTENSIONS",
    "FORMATS",
    "GIS_FORMATS",
    "JOINS",
    "MEDIA_TYPES",
    "Exported",
    "Find",
    "Near",
    "Imported",
    "Join",
    "MAX_WHOLE",
    "Progress",
    "Rows",
    "STREAMED",
    "check_gis_arguments",
    "detect_format",
    "export_file",
    "export_notes",
    "load_file",
    "read_file",
    "read_rows",
    "read_table",
    "write_file",
]

MEDIA_TYPES = {
    "geojson": "application/geo+json",
    "gpx": "application/gpx+xml",
    "kml": "application/vnd.google-earth.kml+xml",
    "kmz": "application/vnd.google-earth.kmz",
    "csv": "text/csv; charset=utf-8",
    "shp": "application/zip",
    "gpkg": "application/geopackage+sqlite3",
    "fgb": "application/octet-stream",
    "parquet": "application/vnd.apache.parquet",
}
# a format's file extension, where it is not the format's name (a zipped Shapefile GDAL opens whole)
EXTENSIONS = {"shp": "shp.zip"}
# Read from a file on disk a batch of rows at a time: memory grows with the features, not the file.
STREAMED = ("gpkg", "fgb", "parquet")
# The most of any other format read from disk: it is read whole (a JSON or XML tree, a zip's
# members), and a parsed tree is 5 to 10 times its text: 64 MiB is Natural Earth's 24 MB 1:10m
# countries with room to spare, and about the most a 100,000-feature map holds as GeoJSON
MAX_WHOLE = 64 << 20


@dataclass(frozen=True)
class Exported:
    """A map as a file: its bytes, media type and extension, and what the format could not hold."""

    body: bytes
    media_type: str
    extension: str
    notes: tuple[str, ...] = ()


def read_file(
    data: bytes | Path,
    fmt: str | None,
    limits: Limits,
    *,
    filename: str | None = None,
    layer: str | None = None,
    lookup: Callable[[str], LatLon | None] | None = None,
    simplify: float | None = None,
    join: Join | None = None,
    find: Find | None = None,
    key: str | None = None,
    country: str = "",
    near: Near | None = None,
    file_layer: str | None = None,
    crs: str | None = None,
    progress: Progress | None = None,
    check: Callable[[], None] | None = None,
) -> Imported:
    """Read a file (its bytes, or its path on disk) into features. ``fmt`` is detected when None
    (``filename`` helps); ``layer`` puts every feature in that layer (else KML folders, GeoPackage
    tables become layers); ``lookup`` resolves a CSV's place names; ``simplify`` thins lines and
    shapes to that tolerance in metres. ``join`` reads a CSV's rows as the countries or regions
    they name, outlined by ``find``, by column ``key`` (else found), within ``country``, ``near``
    naming what an unmatched row may mean (see ``join``). A GIS file's ``file_layer`` is the one
    layer to read (else all); ``crs`` the system its coordinates are in when it names none (or a
    wrong one). ``progress`` counts the rows of a GIS file as they are read. ``check`` runs every
    ``CHECK_EVERY`` features of any format (and ``progress``'s between a GIS file's batches): it
    raises to stop the read, as ``workers.stop_if_cancelled`` does when the caller left."""
    if isinstance(data, Path):
        data, fmt = load_file(data, fmt, filename)
    else:
        fmt = detect_format(data, filename, given=fmt)
    out = Collector(fmt, limits, layer=layer, tolerance=simplify, check=check)
    check_gis_arguments(fmt, file_layer, crs)
    if fmt in GIS_FORMATS:
        _read_gis(data, fmt, out, file_layer, crs, progress)
    elif isinstance(data, Path):
        raise ValueError(f"a {fmt} file is read from its bytes")
    elif join is not None:
        if fmt != "csv" or find is None:
            raise InvalidInput(f"join takes a CSV table, got a {fmt} file; send the table as CSV")
        read_joined(data, out, join, find, key=key, country=country, near=near)
    elif fmt == "gpx":
        read_gpx(data, out)
    elif fmt == "kml":
        read_kml(data, out)
    elif fmt == "kmz":
        read_kmz(data, out)
    elif fmt == "csv":
        read_csv(data, out, lookup)
    else:
        _read_geojson(data, out, crs)
    return out.result()


def check_gis_arguments(fmt: str, file_layer: str | None, crs: str | None) -> None:
    """``file_layer`` goes with a GIS file only, ``crs`` with one or a GeoJSON."""
    if fmt not in GIS_FORMATS and (file_layer is not None or (crs is not None and fmt != "geojson")):
        name = "file_layer" if file_layer is not None else "crs"
        also = "" if name == "file_layer" else " or a GeoJSON"
        raise InvalidInput(
            f"{name} goes with a Shapefile, GeoPackage, FlatGeobuf or GeoParquet{also},"
            f" got a {fmt} file (its coordinates are WGS84 degrees); leave it out"
        )


def read_table(
    table: Rows,
    notes: tuple[str, ...],
    limits: Limits,
    *,
    layer: str | None = None,
    lookup: Callable[[str], LatLon | None] | None = None,
    simplify: float | None = None,
    join: Join | None = None,
    find: Find | None = None,
    key: str | None = None,
    country: str = "",
    near: Near | None = None,
    check: Callable[[], None] | None = None,
) -> Imported:
    """A CSV's rows, as the sandbox read them (``read_rows``, with its ``notes``), into features:
    its place names resolved by ``lookup``, or joined to outlines (``read_file``'s arguments)."""
    out = Collector("csv", limits, layer=layer, tolerance=simplify, check=check)
    for note in notes:
        out.note(note)
    if join is not None:
        if find is None:
            raise ValueError("a join needs its outlines (find)")
        read_joined(table, out, join, find, key=key, country=country, near=near)
    else:
        read_csv(table, out, lookup)
    return out.result()


def load_file(path: Path, fmt: str | None, filename: str | None) -> tuple[bytes | Path, str]:
    """The file at ``path`` as ``read_file`` reads it: the path itself for a format read in
    batches, else its bytes (the format told by its first bytes, as from memory)."""
    with path.open("rb") as file:
        head = file.read(4096)
    if not is_zip(head):  # a zip's kind is told by its members: it is read whole
        found = detect_format(head, filename, given=fmt)
        if found in STREAMED:
            return path, found
    size = path.stat().st_size
    if size > MAX_WHOLE:
        raise PayloadTooLarge(
            f"file must be at most {MAX_WHOLE >> 20} MiB in this format, which is read whole, got"
            f" {size / 2**20:,.0f} MiB; send it as a GeoPackage, FlatGeobuf or GeoParquet (read in"
            " batches, up to MAPSRV_MAX_FILE_SIZE), or split it"
        )
    data = path.read_bytes()
    return data, detect_format(data, filename, given=fmt)


def _read_gis(
    data: bytes | Path,
    fmt: str,
    out: Collector,
    file_layer: str | None,
    crs: str | None,
    progress: Progress | None,
) -> None:
    # GDAL and pyarrow are loaded when the first GIS file comes, not with every server: 0.3 s and
    # 160 MB more resident memory (their libraries) that a process which never sees one need not pay
    from mapsrv.formats.crs import given_crs
    from mapsrv.formats.geoparquet import read_geoparquet
    from mapsrv.formats.ogr import read_ogr

    system = None if crs is None else given_crs(crs)
    if fmt != "parquet":
        read_ogr(data, fmt, out, file_layer=file_layer, crs=system, progress=progress)
    elif file_layer is not None:
        raise InvalidInput("file_layer goes with a GeoPackage or a zip of Shapefiles; a GeoParquet has one")
    else:
        read_geoparquet(data, out, crs=system, progress=progress)


def _read_geojson(data: bytes, out: Collector, crs: str | None = None) -> None:
    """A GeoJSON's features; its positions reprojected from ``crs`` (given) or the system its
    2008 ``crs`` member names, when either is not WGS84."""
    try:
        raw = sliced_json.loads(data)  # json.loads, letting the event loop run between features
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"geojson is not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"geojson is not valid UTF-8 at byte {exc.start}: {exc.reason}") from None
    except RecursionError:
        raise InvalidInput("geojson is nested too deeply to read; no GeoJSON nests that far") from None
    declared = crs if crs is not None else raw.get("crs") if isinstance(raw, dict) else None
    if declared is not None:  # pyproj only for a GeoJSON that needs it
        from mapsrv.formats.crs import geojson_crs, given_crs, reproject_geojson

        system = given_crs(crs) if crs is not None else geojson_crs(raw)
        if system is not None:
            notes: list[str] = []
            reproject_geojson(raw, system, notes)
            for note in notes:
                out.note(note)
    if isinstance(raw, dict) and isinstance(raw.get("name"), str):
        out.title = raw["name"]
    out.members = collection_members(raw)
    # a geometry past the map's whole cap is refused before it is read; under it, the collector
    # thins a long line when asked to (``simplify``) or names the cap
    empty: list[int] = []
    rings = Rings()
    for part in geojson_parts(raw, max_points=out.limits.max_total_points, without_geometry=empty):
        rings.look(f"feature {part.index}", part.type, part.coords)
        out.add(
            f"geojson feature {part.index}",
            part.type,
            part.coords,
            label=part.label,
            popup=part.popup,
            style=part.style,
            properties=part.properties,
            radius=part.radius,
            members=part.members,
            series=part.series,
        )
    for note in rings.notes():
        out.note(note)
    if empty:
        where = ", ".join(str(i) for i in empty[:MAX_LISTED]) + (
            " and more" if len(empty) > MAX_LISTED else ""
        )
        out.note(
            f"{len(empty)} feature{'s' * (len(empty) > 1)} without a geometry (null) left out:"
            f" feature {where}; a map shows only what has a place"
        )


def export_notes(state: MapState, fmt: str) -> list[str]:
    """What a file of ``fmt`` cannot hold of the map as it is (GPX has no areas, CSV no nested
    values: ``held_notes``): for the export's answer, so that nothing is changed without a word."""
    kml = kml_notes(state.features.values()) if fmt in ("kml", "kmz") else []
    return (gpx_notes(state) if fmt == "gpx" else []) + kml + held_notes(state, fmt)


def export_file(state: MapState, fmt: str) -> Exported:
    """The map as a ``fmt`` file, with the notes on what the format could not hold. A place's
    rows by time (``mapsrv.core.series``) are written as rows, one a time, but in GeoJSON."""
    if fmt != "geojson":
        state = as_rows(state)
    if fmt in GIS_FORMATS:
        from mapsrv.formats.giswrite import write_gis  # GDAL and pyarrow, loaded on first use

        body, notes = write_gis(state, fmt)
        notes += held_notes(state, fmt)
        return Exported(body, MEDIA_TYPES[fmt], EXTENSIONS.get(fmt, fmt), tuple(notes))
    body, media, extension = write_file(state, fmt)
    return Exported(body, media, extension, tuple(export_notes(state, fmt)))


def write_file(state: MapState, fmt: str) -> tuple[bytes, str, str]:
    """The map as a file: ``(body, media type, file extension)``."""
    if fmt in GIS_FORMATS:
        exported = export_file(state, fmt)
        return exported.body, exported.media_type, exported.extension
    if fmt == "geojson":
        body = dumps(to_geojson(state)).encode()
    elif fmt == "gpx":
        body = write_gpx(state)
    elif fmt == "kml":
        body = write_kml(state)
    elif fmt == "kmz":
        body = write_kmz(write_kml(state))
    elif fmt == "csv":
        body = write_csv(state)
    else:
        raise InvalidInput(f"format must be one of {', '.join(FORMATS)}, got {fmt!r:.40}")
    return body, MEDIA_TYPES[fmt], fmt
