"""Which format a file is: by its content first (a zip holding a ``.shp`` is a zipped Shapefile,
any other zip a KMZ, an SQLite file a GeoPackage, FlatGeobuf's and Parquet's magic bytes those,
``<gpx`` GPX, ``<kml`` KML, ``{`` GeoJSON), its file name's extension next, and plain text as CSV
last. A format the caller names is checked against the content, so a KMZ sent as GPX says so
instead of failing as XML."""

from __future__ import annotations

import base64
import codecs
import re

from mapsrv.errors import InvalidInput
from mapsrv.formats.archive import ZIP_MAGIC, is_zip, open_zip

__all__ = [
    "BINARY_FORMATS",
    "BINARY_MAGIC",
    "EXTENSIONS",
    "FORMATS",
    "GIS_FORMATS",
    "base64_prefix",
    "detect_format",
]

FORMATS = ("geojson", "gpx", "kml", "kmz", "csv", "shp", "gpkg", "fgb", "parquet")
GIS_FORMATS = ("shp", "gpkg", "fgb", "parquet")  # read and written through GDAL and pyarrow
BINARY_FORMATS = ("kmz", *GIS_FORMATS)
EXTENSIONS = {
    "geojson": "geojson",
    "json": "geojson",
    "gpx": "gpx",
    "kml": "kml",
    "kmz": "kmz",
    "csv": "csv",
    "tsv": "csv",
    "txt": "csv",
    "gpkg": "gpkg",
    "fgb": "fgb",
    "parquet": "parquet",
    "geoparquet": "parquet",
}
_ALIASES = {
    "json": "geojson",
    "tsv": "csv",
    "shapefile": "shp",
    "geopackage": "gpkg",
    "flatgeobuf": "fgb",
    "geoparquet": "parquet",
}
_MAGIC = ((b"SQLite format 3\x00", "gpkg"), (b"fgb\x03fgb", "fgb"), (b"PAR1", "parquet"))
# The first bytes of every binary file mapsrv reads: a zip (a KMZ, a zipped Shapefile; an empty
# one is its end record alone), SQLite (a GeoPackage), FlatGeobuf, Parquet
BINARY_MAGIC = (*ZIP_MAGIC, *(magic for magic, _ in _MAGIC))
_HEAD = 4096  # bytes looked at
_ROOT = re.compile(r"<(?:!DOCTYPE\s+)?(?:[A-Za-z_][\w.-]*:)?(gpx|kml)[\s>/\[]")
_BINARY = (
    (b"\x1f\x8b", "gzip-compressed", "; decompress it first"),
    (b"%PDF", "a PDF document", ""),
    (b"\x89PNG", "a PNG image", ""),
    (b"\xff\xd8\xff", "a JPEG image", ""),
    (b"Rar!", "a RAR archive", ""),
    (b"7z\xbc\xaf", "a 7-Zip archive", ""),
)


def base64_prefix(magic: bytes) -> str:
    """What the base64 of every file that starts with ``magic`` starts with: the characters whose
    6 bits are all the magic's (of 4 bytes, 5: the 6th holds 2 bits of the byte after them)."""
    return base64.b64encode(magic).decode("ascii")[: len(magic) * 8 // 6]


def _head_text(data: bytes) -> str:
    head = data[:_HEAD]
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return head.decode("utf-16", errors="replace").lstrip("\ufeff").lstrip()
    return head.decode("utf-8", errors="replace").lstrip("\ufeff").lstrip()


def _zip_kind(data: bytes) -> str:
    """A zip holding a ``.kml`` is a KMZ, one holding a ``.shp`` a zipped Shapefile, one that
    cannot be opened a KMZ too (whose reader says what is wrong with it); else ``zip``."""
    try:
        with open_zip(data, "zip", "") as archive:
            names = [name.lower() for name in archive.namelist()]
    except InvalidInput:
        return "kmz"
    if any(n.endswith(".kml") for n in names):
        return "kmz"
    return "shp" if any(n.endswith(".shp") for n in names) else "zip"


def _by_content(data: bytes) -> str | None:
    """The format the content itself shows, or None when it shows none for sure."""
    if is_zip(data):
        return _zip_kind(data)
    for magic, fmt in _MAGIC:
        if data.startswith(magic):
            return fmt
    head = _head_text(data)
    if head.startswith("<"):
        found = _ROOT.search(head)
        return found.group(1) if found else None
    if head.startswith("{"):
        return "geojson"
    return None


def _refuse_binary(data: bytes) -> None:
    for magic, what, hint in _BINARY:
        if data.startswith(magic):
            raise InvalidInput(f"file is {what}, not one of {', '.join(FORMATS)}{hint}")
    head = data[:_HEAD]
    if b"\x00" in head and not head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise InvalidInput(
            f"file is binary, not text: it must be one of {', '.join(FORMATS)} (a KMZ is a zip);"
            " check that it is the file you meant"
        )


def detect_format(data: bytes, filename: str | None = None, *, given: str | None = None) -> str:
    """The format of ``data``: ``given`` when the caller named one (checked against the content),
    else what the content shows, else the extension of ``filename``, else CSV for text."""
    found = _by_content(data)
    if found == "zip":  # a zip of something else: its reader names what it lacks
        if given is not None and _ALIASES.get(given.lower(), given.lower()) in ("kmz", "shp"):
            return _ALIASES.get(given.lower(), given.lower())
        raise InvalidInput(
            "file is a zip holding neither a .shp (a zipped Shapefile) nor a .kml (a KMZ); zip the .shp"
            " with its .shx, .dbf and .prj, or send the file itself"
        )
    if given is not None:
        fmt = _ALIASES.get(given.lower(), given.lower())
        if fmt not in FORMATS:
            raise InvalidInput(
                f"format must be one of {', '.join(FORMATS)}, got {given!r:.40}; or leave it out"
            )
        if found is not None and found != fmt:
            raise InvalidInput(
                f"file is not {fmt}: its content is {found}; give format {found!r}, or leave format out"
            )
        if fmt not in BINARY_FORMATS:
            _refuse_binary(data)
        return fmt
    if found is not None:
        return found
    extension = (filename or "").rpartition(".")[2].lower() if "." in (filename or "") else ""
    if extension in ("shp", "shx", "dbf"):
        raise InvalidInput(
            f"a .{extension} alone is not a whole Shapefile: zip the .shp with its .shx, .dbf and .prj"
            " (and .cpg) and send the .zip"
        )
    _refuse_binary(data)
    if extension in EXTENSIONS:
        return EXTENSIONS[extension]
    head = _head_text(data)
    if not head:
        raise InvalidInput(f"file is empty: give one of {', '.join(FORMATS)}")
    if head.startswith("<"):
        if "<!DOCTYPE" in head:
            raise InvalidInput(
                "file must not have a DOCTYPE: a document type declaration can expand entities or read"
                " other files, and GPX and KML need none; remove the <!DOCTYPE ...> part"
            )
        tag = re.search(r"<([A-Za-z_][\w:.-]{0,40})", head)
        raise InvalidInput(
            f"file is XML but neither GPX nor KML (it starts with <{tag.group(1) if tag else ''}...);"
            f" give one of {', '.join(FORMATS)}"
        )
    return "csv"
