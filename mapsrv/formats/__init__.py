"""The files people already have: GPX, KML, KMZ, CSV and GeoJSON, read into features and written
from a map. Pure: bytes in, features out (and a map in, bytes out); no I/O, no trio.

Reading is for untrusted files: XML without a DTD (no entity bombs, no external entities; see
``safexml``), a KMZ's zip opened with caps on its members and unzipped size, a CSV with caps on
columns and fields, and every feature built by core's ``build_feature`` and counted against
``Limits`` as it is read, so an oversized file stops early with the cap it broke named. An error
names the line, element or row; what was skipped or changed is in ``Imported.notes``.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from mapsrv.core.codec import dumps
from mapsrv.core.geojson import geojson_parts, to_geojson
from mapsrv.core.model import LatLon, Limits, MapState
from mapsrv.errors import InvalidInput
from mapsrv.formats.collect import Collector, Imported
from mapsrv.formats.detect import FORMATS, detect_format
from mapsrv.formats.gpx import gpx_notes, read_gpx, write_gpx
from mapsrv.formats.join import JOINS, Find, Join, Near, read_joined
from mapsrv.formats.kml import read_kml, write_kml
from mapsrv.formats.kmz import read_kmz, write_kmz
from mapsrv.formats.table import read_csv, write_csv

__all__ = [
    "FORMATS",
    "JOINS",
    "MEDIA_TYPES",
    "Find",
    "Near",
    "Imported",
    "Join",
    "detect_format",
    "export_notes",
    "read_file",
    "write_file",
]

MEDIA_TYPES = {
    "geojson": "application/geo+json",
    "gpx": "application/gpx+xml",
    "kml": "application/vnd.google-earth.kml+xml",
    "kmz": "application/vnd.google-earth.kmz",
    "csv": "text/csv; charset=utf-8",
}


def read_file(
    data: bytes,
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
) -> Imported:
    """Read a file into features. ``fmt`` is detected when None (``filename`` helps); ``layer``
    puts every feature in that layer (else KML folders become layers); ``lookup`` resolves a
    CSV's place names; ``simplify`` thins lines and shapes to that tolerance in metres. ``join``
    reads a CSV's rows as the countries or regions they name, outlined by ``find``, by column
    ``key`` (else found), within ``country``, ``near`` naming what an unmatched row may mean
    (see ``join``)."""
    fmt = detect_format(data, filename, given=fmt)
    out = Collector(fmt, limits, layer=layer, tolerance=simplify)
    if join is not None:
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
        _read_geojson(data, out)
    return out.result()


def _read_geojson(data: bytes, out: Collector) -> None:
    try:
        raw = json.loads(data)
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"geojson is not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"geojson is not valid UTF-8 at byte {exc.start}: {exc.reason}") from None
    except RecursionError:
        raise InvalidInput("geojson is nested too deeply to read; no GeoJSON nests that far") from None
    if isinstance(raw, dict) and isinstance(raw.get("name"), str):
        out.title = raw["name"]
    # a geometry past the map's whole cap is refused before it is read; under it, the collector
    # thins a long line when asked to (``simplify``) or names the cap
    for part in geojson_parts(raw, max_points=out.limits.max_total_points):
        out.add(
            f"geojson feature {part.index}",
            part.type,
            part.coords,
            label=part.label,
            popup=part.popup,
            style=part.style,
            properties=part.properties,
            radius=part.radius,
        )


def export_notes(state: MapState, fmt: str) -> list[str]:
    """What a file of ``fmt`` cannot hold of the map as it is (GPX has no areas): for the
    export's answer, so that nothing is changed without a word."""
    return gpx_notes(state) if fmt == "gpx" else []


def write_file(state: MapState, fmt: str) -> tuple[bytes, str, str]:
    """The map as a file: ``(body, media type, file extension)``."""
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
