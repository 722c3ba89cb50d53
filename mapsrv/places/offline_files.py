"""The offline index's files: one SQLite file per imported region, in the places directory.

One file per region rather than one database with a region column: re-importing a region is
writing a new file beside the old and renaming it over (atomic, and readers holding the old file
keep reading it), removing one is an unlink, and one region's import never locks another's readers.
A search asks each region's file in turn; there are a handful of regions, not hundreds.

Layout of ``REGION.places.sqlite`` (written by :mod:`mapsrv.places.offline_import`, read by
:mod:`mapsrv.places.offline`)::

    meta(key, value)        region, source file, imported_at (ISO 8601), counts by kind
    categories(category, n) every poi key=value and how many there are
    entries(id, kind, name, alt, category, address, country, population, lat, lon, base)
                            ids in descending ``base`` score order, so that the first rows of an
                            FTS match (rowid order) are the best ones; indexed by category (pois),
                            and by category and lat (pois near a point)
    names                   FTS5, contentless, rowid = entries.id: every entry but addresses,
                            folded name and alternate names, then the address and category words
    addresses               FTS5 as ``names``, of the addresses alone: a text without a digit
                            never reads them
    common(word)            the commonest words of the addresses ("rua", the town): a search
                            matches the rarer words and checks these on the few rows found
    spots                   R*Tree, id = entries.id: each entry's box (a point's box is the point)
    lines(id, points)       a street's ways (id = its entry's), each as float64 lat, lon pairs:
                            reverse measures a street by its line, not by its one point; a file
                            written before them has none, and reverse measures the point
    areas, area_names, area_boxes
                            the extract's boundaries and named areas, their outlines as WKB, their
                            folded names and their boxes (``offline_areas``); a file written
                            before them has none, and no name is an area in it

``PRAGMA user_version`` is ``SCHEMA_VERSION``; a file of another version is refused (``check_schema``)
with the command that imports its region again.
"""

from __future__ import annotations

import os
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "BASEMAP_SUFFIX",
    "SCHEMA",
    "SCHEMA_VERSION",
    "SUFFIX",
    "OldRegion",
    "RegionInfo",
    "RegionNotFound",
    "basemap_path",
    "check_region",
    "check_schema",
    "describe_counts",
    "describe_size",
    "list_regions",
    "region_from_file",
    "region_path",
    "remove_region",
]

SUFFIX = ".places.sqlite"
BASEMAP_SUFFIX = ".basemap.pmtiles"  # the region's street basemap (``street_tiles``), when built
_REGION = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")

SCHEMA_VERSION = 2  # 1 (no user_version): one FTS table for every entry, no common words
SCHEMA = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE categories(category TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE entries(
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    alt TEXT NOT NULL,
    category TEXT NOT NULL,
    address TEXT NOT NULL,
    country TEXT NOT NULL,
    population INTEGER NOT NULL,
    lat REAL NOT NULL,
    lon REAL NOT NULL,
    base REAL NOT NULL
);
CREATE TABLE common(word TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE VIRTUAL TABLE names USING fts5(
    name, extra, content='', columnsize=0, detail=none, prefix='1 2 3',
    tokenize="unicode61 remove_diacritics 2"
);
CREATE VIRTUAL TABLE addresses USING fts5(
    name, extra, content='', columnsize=0, detail=none, prefix='1 2 3',
    tokenize="unicode61 remove_diacritics 2"
);
CREATE VIRTUAL TABLE spots USING rtree(id, min_lat, max_lat, min_lon, max_lon);
CREATE TABLE lines(id INTEGER NOT NULL, points BLOB NOT NULL);
CREATE INDEX lines_id ON lines(id);
CREATE TABLE areas(
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    alt TEXT NOT NULL,
    admin_level INTEGER,
    simplified INTEGER NOT NULL,
    outline BLOB NOT NULL,
    lat REAL NOT NULL,
    lon REAL NOT NULL
);
CREATE TABLE area_names(name TEXT NOT NULL, id INTEGER NOT NULL, PRIMARY KEY (name, id)) WITHOUT ROWID;
CREATE VIRTUAL TABLE area_boxes USING rtree(id, min_lat, max_lat, min_lon, max_lon);
"""


class RegionNotFound(LookupError):
    """No region of that name has been imported (the message lists those that have)."""


class OldRegion(ValueError):
    """A region's file was written by a mapsrv with another layout (the message says to re-import)."""


@dataclass(frozen=True)
class RegionInfo:
    region: str
    path: Path
    size: int  # bytes
    imported_at: str  # ISO 8601, UTC
    counts: dict[str, int]  # by kind: place, poi, street, address, and area when it has areas
    schema: int = SCHEMA_VERSION  # the file's; another is not searched
    basemap: int = 0  # the street basemap's size in bytes; 0: none
    box: tuple[float, float, float, float] | None = None  # west, south, east, north; None: not kept

    def describe(self) -> str:
        """One line for ``mapsrv places list``."""
        counts, size = describe_counts(self.counts), describe_size(self.size)
        line = f"{self.region}: {counts}; {size}; imported {self.imported_at}"
        line += f"; basemap {describe_size(self.basemap)}" if self.basemap else "; no basemap"
        if self.schema != SCHEMA_VERSION:
            line += (
                f"; not searched, index format {self.schema} (this mapsrv reads {SCHEMA_VERSION}):"
                f" import it again with mapsrv places import FILE.osm.pbf --region {self.region}"
            )
        return line


def describe_counts(counts: dict[str, int]) -> str:
    """``"3 places, 12 pois, 4 streets, 1 address"``, and ``", 5 areas"`` when there are any."""
    plural = {"place": "places", "poi": "pois", "street": "streets", "address": "addresses", "area": "areas"}
    return ", ".join(
        f"{counts.get(k, 0):,} {k if counts.get(k) == 1 else p}"
        for k, p in plural.items()
        if k != "area" or counts.get(k)  # an extract without areas, or a file from before them
    )


def describe_size(size: int) -> str:
    return f"{size / 1e6:,.1f} MB" if size >= 1e6 else f"{size / 1e3:,.0f} kB"


def check_region(name: str) -> str:
    if not _REGION.fullmatch(name):
        raise ValueError(
            f"region must be 1 to 64 lowercase letters, digits, '-' or '_', got {name!r:.80}; e.g. 'portugal'"
        )
    return name


def check_schema(db: sqlite3.Connection, region: str) -> None:
    """Raises OldRegion unless ``db`` (the file of ``region``) has this mapsrv's layout."""
    version = _version(db)
    if version != SCHEMA_VERSION:
        raise OldRegion(
            f"the index of region {region!r} is in format {version}, this mapsrv reads format"
            f" {SCHEMA_VERSION}: import it again with mapsrv places import FILE.osm.pbf --region {region}"
        )


def _version(db: sqlite3.Connection) -> int:
    (version,) = db.execute("PRAGMA user_version").fetchone()
    return int(version) or 1  # the first files set none


def region_from_file(file: Path) -> str:
    """``portugal-latest.osm.pbf`` gives ``portugal-latest``."""
    stem = file.name.lower()
    for ending in (".osm.pbf", ".pbf"):
        stem = stem.removesuffix(ending)
    stem = re.sub(r"[^a-z0-9_-]+", "-", stem).strip("-_")[:64]
    return check_region(stem or "region")


def region_path(directory: Path, region: str) -> Path:
    return directory / f"{check_region(region)}{SUFFIX}"


def basemap_path(directory: Path, region: str) -> Path:
    """Where the region's street basemap is (it may not be: imported with ``--no-basemap``)."""
    return directory / f"{check_region(region)}{BASEMAP_SUFFIX}"


def list_regions(directory: Path) -> list[RegionInfo]:
    """The regions imported into ``directory``, by name; [] when there is none (or no directory)."""
    if not directory.is_dir():
        return []
    found = []
    for path in sorted(directory.glob(f"*{SUFFIX}")):
        region = path.name.removesuffix(SUFFIX)
        if not _REGION.fullmatch(region):
            continue  # an import's temporary file, or not ours
        try:
            found.append(_info(region, path))
        except sqlite3.Error:
            continue  # removed while listing, or not an index
    return found


def _info(region: str, path: Path) -> RegionInfo:
    db = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    try:
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        schema = _version(db)
    finally:
        db.close()
    counts = {k.removeprefix("count:"): int(v) for k, v in meta.items() if k.startswith("count:")}
    basemap = basemap_path(path.parent, region)
    size = basemap.stat().st_size if basemap.is_file() else 0
    box = None
    if "box" in meta:  # what the extract covers (``coverage``)
        west, south, east, north = (float(v) for v in meta["box"].split(","))
        box = (west, south, east, north)
    at = meta.get("imported_at", "?")
    return RegionInfo(region, path, path.stat().st_size, at, counts, schema, size, box)


def remove_region(directory: Path, region: str) -> Path:
    path = region_path(directory, region)
    try:
        os.unlink(path)
    except FileNotFoundError:
        names = ", ".join(r.region for r in list_regions(directory)) or "none"
        raise RegionNotFound(f"no region {region!r} in {directory}; imported: {names}") from None
    basemap_path(directory, region).unlink(missing_ok=True)
    return path
