"""Writing the places file (``mapsrv.places.stored``) from the shipped data: the city list's
index (``index_build``) and Natural Earth's first-level regions (``borders.read_borders``). It
runs in a process of its own, the first time a machine needs the file; the server's own
processes only read it, and import none of this."""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
from array import array
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from mapsrv.places.borders import read_borders, read_reaches
from mapsrv.places.boundaries import country_joins, decode_regions, region_names
from mapsrv.places.index_build import build_index

__all__ = ["write_places"]


_TABLES = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE records (
    id INTEGER PRIMARY KEY, name TEXT, kind TEXT, country_code TEXT, admin1 TEXT, lat REAL,
    lon REAL, population INTEGER, geonameid INTEGER, south REAL, west REAL, north REAL, east REAL
);
CREATE TABLE names (key TEXT, ref INTEGER, PRIMARY KEY (key, ref)) WITHOUT ROWID;
CREATE TABLE arrays (name TEXT PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE starts (letter TEXT, length INTEGER, key TEXT, PRIMARY KEY (letter, length, key))
    WITHOUT ROWID;
CREATE TABLE regions (id INTEGER PRIMARY KEY, wkb BLOB NOT NULL);
CREATE TABLE reaches (id INTEGER PRIMARY KEY, wkb BLOB NOT NULL);
CREATE TABLE join_regions (id INTEGER PRIMARY KEY, polygons TEXT NOT NULL);
CREATE TABLE join_countries (
    id INTEGER PRIMARY KEY, key TEXT UNIQUE NOT NULL, code TEXT NOT NULL, name TEXT NOT NULL,
    polygons TEXT NOT NULL
);
CREATE VIRTUAL TABLE region_boxes USING rtree (id, west, east, south, north);
"""


def write_places(path: Path) -> None:
    """Write the file at ``path`` from the shipped data (through a temporary file beside it,
    renamed: a reader never sees half a file, and two processes writing it at once are safe)."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, suffix=".part")
    os.close(fd)
    try:
        db = sqlite3.connect(temporary)
        db.execute("PRAGMA journal_mode = OFF")
        db.executescript(_TABLES)
        with db:
            index = build_index()
            _write_index(db, index)
            _write_borders(db, *read_borders())
            _write_reaches(db, read_reaches())
            _write_join_regions(db)
            _write_join_countries(db, index)
        db.close()
        os.chmod(temporary, 0o644)  # an image's file, written as root, read by its user
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def _write_index(db: sqlite3.Connection, index: Any) -> None:
    small = {
        "countries": index.countries,
        "states": index.states,
        "country_names": index.country_names,
        "state_names": index.state_names,
        "names": len(index.keys),
        "build_seconds": index.build_seconds,
    }
    db.execute("INSERT INTO meta VALUES ('gazetteer', ?)", (json.dumps(small),))
    db.executemany(
        "INSERT INTO records VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            (i, *r[:8], *(r.bounds[0] + r.bounds[1] if r.bounds else (None,) * 4))
            for i, r in enumerate(index.records)
        ),
    )
    db.executemany("INSERT INTO names VALUES (?, ?)", zip(index.keys, index.refs, strict=True))
    arrays = {
        "lat": array("d", (r.lat for r in index.records)),
        "lon": array("d", (r.lon for r in index.records)),
        "population": array("q", (r.population for r in index.records)),
    }
    for name, groups, count in (("cells", index.cells, 180 * 360), ("rows", index.rows, 180)):
        ids, starts = array("i"), array("i")
        for group in range(count):
            starts.append(len(ids))
            ids.extend(groups.get(group, ()))
        starts.append(len(ids))
        arrays[name], arrays[f"{name}_starts"] = ids, starts
    db.executemany("INSERT INTO arrays VALUES (?, ?)", ((k, v.tobytes()) for k, v in arrays.items()))
    db.executemany(
        "INSERT INTO starts VALUES (?, ?, ?)",
        ((letter, length, key) for (letter, length), keys in index.by_start.items() for key in keys),
    )


def _write_borders(db: sqlite3.Connection, shapes: np.ndarray[Any, Any], regions: list[Any]) -> None:
    db.execute("INSERT INTO meta VALUES ('regions', ?)", (json.dumps(regions),))
    db.executemany(
        "INSERT INTO regions VALUES (?, ?)", ((i, shapely.to_wkb(s)) for i, s in enumerate(shapes))
    )
    bounds = shapely.bounds(shapes)
    db.executemany(
        "INSERT INTO region_boxes VALUES (?, ?, ?, ?, ?)",
        ((i, w, e, s, n) for i, (w, s, e, n) in enumerate(bounds.tolist())),
    )


def _write_reaches(db: sqlite3.Connection, reaches: np.ndarray[Any, Any]) -> None:
    """Each region's reach out to sea (``borders.reach_of``, shipped made): its area's other half."""
    db.executemany(
        "INSERT INTO reaches VALUES (?, ?)", ((i, shapely.to_wkb(s)) for i, s in enumerate(reaches))
    )


_NAMES = ("iso_3166_2", "iso_a2", "name", "name_en", "name_alt", "postal")  # what finds a region


def _write_join_regions(db: sqlite3.Connection) -> None:
    """The outlines a table joins to and a region's name draws (``boundaries``: ~2 km, ~49 MB as
    Python objects): their names in ``meta``, folded as they are looked up and read once, and
    each region's polygons as JSON (its floats exactly), read per question."""
    decoded = decode_regions()
    names = region_names({k: props[k] for k in _NAMES if props.get(k)} for props, _ in decoded)
    db.execute("INSERT INTO meta VALUES ('join_regions', ?)", (json.dumps(names),))
    rows = ((row, json.dumps(outline.polygons)) for row, (_, outline) in enumerate(decoded))
    db.executemany("INSERT INTO join_regions VALUES (?, ?)", rows)


def _write_join_countries(db: sqlite3.Connection, index: Any) -> None:
    """The countries a table joins to and a country's name finds (``boundaries``: 1:50m, ~16 MB
    as Python objects, ~150 ms to decode): their names, codes and aliases in ``meta``, read
    once, and each one's outline, read per question."""
    outlines, keys = country_joins(index.country_names, index.countries)
    names = {key: outline.name for key, outline in outlines.items()}
    db.execute("INSERT INTO meta VALUES ('join_countries', ?)", (json.dumps({"keys": keys, "names": names}),))
    rows = ((key, o.code, o.name, json.dumps(o.polygons)) for key, o in outlines.items())
    db.executemany("INSERT INTO join_countries (key, code, name, polygons) VALUES (?, ?, ?, ?)", rows)
