"""A GeoPackage from a stranger, looked at before GDAL opens it: an SQLite file whose header's
size is the size it has (a header that declares 10 GB in a 1 MB upload is refused unread), that
is a GeoPackage (it has ``gpkg_contents``), and whose only triggers are the ones GeoPackages
carry: the R-tree index's, GDAL's feature counts, the specification's own checks on its
``gpkg_`` tables. Any other trigger is code that runs when a table changes: refused.

SQLite reads the file read-only, with untrusted schemas off: from memory (``deserialize``), or
an upload the page spooled to disk from there (``immutable``: no lock, no journal beside it).
"""

from __future__ import annotations

import re
import sqlite3
import struct
from pathlib import Path

from mapsrv.errors import InvalidInput, PayloadTooLarge

__all__ = ["check_geopackage", "is_sqlite"]

_MAGIC = b"SQLite format 3\x00"
_KNOWN = (
    (re.compile(r"rtree_.+_(insert|update[0-9]*|delete)"), "rtree_"),
    (re.compile(r"trigger_(insert|delete)_feature_count_.+"), "gpkg_ogr_contents"),
    (re.compile(r"gpkg_.+"), "raise"),
)


def is_sqlite(data: bytes) -> bool:
    return data.startswith(_MAGIC)


def _check_size(data: bytes, size: int) -> None:
    """``data``: the file's first 100 bytes at least; ``size``: its length."""
    if size < 100:
        raise InvalidInput(f"gpkg is cut short: {size} bytes, less than an SQLite header")
    (page,) = struct.unpack_from(">H", data, 16)
    page = 65_536 if page == 1 else page
    (pages,) = struct.unpack_from(">I", data, 28)
    if page < 512 or page & (page - 1):
        raise InvalidInput(f"gpkg is not a readable SQLite file: its page size is {page}")
    declared = page * pages
    if declared > size:
        raise PayloadTooLarge(
            f"gpkg declares {declared:,} bytes ({pages:,} pages of {page:,}) but holds {size:,};"
            " a cut-short or forged file: export it again from where it came"
        )


def _allowed(name: str, sql: str) -> bool:
    text = sql.lower()
    return any(pattern.fullmatch(name.lower()) and needs in text for pattern, needs in _KNOWN)


def check_geopackage(data: bytes | Path) -> None:
    """Refuse ``data`` (the bytes, or the file at that path) unless it is a GeoPackage GDAL may
    open (see the module's docstring)."""
    if isinstance(data, Path):
        with data.open("rb") as file:
            _check_size(file.read(100), data.stat().st_size)
        db = sqlite3.connect(data.resolve().as_uri() + "?mode=ro&immutable=1", uri=True)
    else:
        _check_size(data, len(data))
        db = sqlite3.connect(":memory:")
    try:
        if not isinstance(data, Path):
            db.deserialize(data)
        db.execute("PRAGMA query_only = ON")
        db.execute("PRAGMA trusted_schema = OFF")
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        triggers = db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'").fetchall()
    except sqlite3.DatabaseError as exc:
        raise InvalidInput(f"gpkg is not a readable SQLite file: {exc}; export it again") from None
    finally:
        db.close()
    if "gpkg_contents" not in tables:
        raise InvalidInput(
            "gpkg is an SQLite database but not a GeoPackage (it has no gpkg_contents table);"
            " export the data as a GeoPackage"
        )
    for name, sql in triggers:
        if not _allowed(str(name), str(sql or "")):
            raise InvalidInput(
                f"gpkg has a trigger, {str(name)[:60]!r}, that GeoPackages do not need: triggers run code"
                f' when a table changes; drop it (DROP TRIGGER "{str(name)[:60]}") and send the file again'
            )
