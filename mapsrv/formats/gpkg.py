"""A GeoPackage from a stranger, looked at before GDAL opens it: an SQLite file whose header's
size is the size it has (a header that declares 10 GB in a 1 MB upload is refused unread), that
is a GeoPackage (it has ``gpkg_contents``), that GDAL can read without running the file's own
queries, and whose only triggers are the ones the GeoPackage specification writes.

Nothing of the file's is run to decide: only its schema is read (``sqlite_master``, the rows of
``gpkg_contents`` and ``gpkg_geometry_columns``, tables' columns), and refused, each by name:

- a layer that is a view, or a virtual table, or a table with a computed column: reading it runs
  the file's query (a view over a recursive CTE of 10^15 rows counts for ever, holding the
  interpreter); a view where a GeoPackage keeps one of its own ``gpkg_`` tables or its R-tree
  index, which GDAL reads on opening; a virtual table other than an R-tree index;
- more layers than the map can hold (``max_layers``), counted from ``gpkg_contents`` before GDAL
  opens one, unless ``file_layer`` names the one to read;
- a trigger whose body, compared token by token (case, quotes and spacing aside), is not one the
  specification writes with the file's names filled in: the R-tree index's (``insert``,
  ``update1``-``update7``, ``delete`` as GeoPackage 1.0-1.4 write them, Annex F.3), the tile
  pyramid's and the checks on its own ``gpkg_`` tables (its annex of trigger definitions, their
  messages aside), GDAL's feature counts; unless its body is only ``SELECT RAISE(...) WHERE ...``
  statements, which can stop a write and never make one (the tile checks as any version words
  them). A trigger is code that runs when a table changes.

Every problem found is named in one refusal (a person fixes the file once, not a trigger per
attempt). A raster's tables (tiles, gridded coverage) are left out with a note naming them: GDAL's
vector driver does not list them.

SQLite reads the file read-only, with untrusted schemas off: from memory (``deserialize``), or
an upload the page spooled to disk from there (``immutable``: no lock, no journal beside it).
"""

from __future__ import annotations

import sqlite3
import struct
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

from mapsrv.errors import InvalidInput, PayloadTooLarge
from mapsrv.formats.gpkg_triggers import RTREE_INDEX, same_sql, strange_triggers

__all__ = ["check_geopackage", "is_sqlite"]

_MAGIC = b"SQLite format 3\x00"
_LAYERS = ("features", "attributes")  # what GDAL opens as vector layers
_NAME = 60  # characters of a name from the file quoted in a message
_LISTED = 10  # problems, triggers or tables named in one message
_RASTERS = ("tiles", "2d-gridded-coverage")  # raster tables: GDAL's vector driver lists none


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


def _open(data: bytes | Path) -> sqlite3.Connection:
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
    except sqlite3.DatabaseError:
        db.close()
        raise
    return db


class _Relation(NamedTuple):
    """A table or view of the file, as ``sqlite_master`` has it."""

    name: str
    kind: str  # table or view
    sql: str

    @property
    def virtual(self) -> bool:
        return self.kind == "table" and self.sql.lstrip()[:14].upper() == "CREATE VIRTUAL"


_NONE = _Relation("", "", "")


def _refuse_relations(relations: dict[str, _Relation], problems: list[str]) -> None:
    """The views and virtual tables GDAL would read, whatever the layer (``relations`` by
    lowercase name)."""
    if relations.get("gpkg_contents", _NONE).kind != "table":
        raise InvalidInput(
            "gpkg is an SQLite database but not a GeoPackage (it has no gpkg_contents table);"
            " export the data as a GeoPackage"
        )
    for lower, found in relations.items():
        if found.kind == "view" and lower.startswith(("gpkg", "rtree_")):
            problems.append(
                f"gpkg has a view, {found.name[:_NAME]!r}, where a GeoPackage keeps a table of its own:"
                " a view runs a query when read; export the data as a GeoPackage again"
            )
        if found.virtual and not (
            lower.startswith("rtree_") and same_sql(RTREE_INDEX, {"r": found.name}, found.sql)
        ):
            problems.append(
                f"gpkg has a virtual table, {found.name[:_NAME]!r}, that GeoPackages do not need: a virtual"
                " table runs its module's code when read; export the data as a GeoPackage again"
            )


def _refuse_layer(db: sqlite3.Connection, found: _Relation, problems: list[str]) -> None:
    """A layer ``gpkg_contents`` lists, if reading it runs the file's code."""
    why = ""
    if found.virtual:
        why = "is a virtual table: it runs its module's code when read"
    else:
        columns = db.execute("SELECT name, hidden FROM pragma_table_xinfo(?)", (found.name,))
        computed = [str(name) for name, hidden in columns if hidden == 2]  # 2: VIRTUAL, 3: STORED
        if computed:
            why = f"has a computed column, {computed[0][:_NAME]!r}: it runs an expression for every row read"
    if why:
        problems.append(
            f"gpkg layer {found.name[:_NAME]!r} {why}; export it as a table (ogr2ogr or QGIS can)"
        )


def _views(names: list[str], problems: list[str]) -> None:
    """Layers that are views, in one problem: a file of a thousand views is one thing to fix."""
    if len(names) == 1:
        problems.append(
            f"gpkg layer {names[0][:_NAME]!r} is a view: views run a query when read (one of them may"
            " never end); export it as a table (ogr2ogr or QGIS can)"
        )
        return
    shown = ", ".join(repr(n[:_NAME]) for n in names[:_LISTED])
    more = f" and {len(names) - _LISTED:,} more" if len(names) > _LISTED else ""
    problems.append(
        f"gpkg layers {shown}{more} are views: views run a query when read (one of them may never end);"
        " export them as tables (ogr2ogr or QGIS can)"
    )


def _refuse_triggers(
    db: sqlite3.Connection,
    triggers: Iterable[tuple[str, str, str]],
    relations: dict[str, _Relation],
    problems: list[str],
) -> None:
    """Every trigger, as (name, table, SQL), unless it is one GeoPackages hold (``gpkg_triggers``)."""
    geometry: dict[str, str] = {}
    if relations.get("gpkg_geometry_columns", _NONE).kind == "table":
        rows = db.execute("SELECT table_name, column_name FROM gpkg_geometry_columns")
        geometry = {str(table).lower(): str(column) for table, column in rows}
    strangers = strange_triggers(db, triggers, geometry)
    if len(strangers) == 1:
        (name,) = strangers
        problems.append(
            f"gpkg has a trigger, {name[:_NAME]!r}, that GeoPackages do not need: its body is not one"
            " the GeoPackage specification writes, and a trigger runs code when a table changes;"
            f' drop it (DROP TRIGGER "{name[:_NAME]}") and send the file again'
        )
    elif strangers:
        shown = strangers[:_LISTED]
        more = f" and {len(strangers) - len(shown)} more" if len(strangers) > len(shown) else ""
        drops = " ".join(f'DROP TRIGGER "{name[:_NAME]}";' for name in shown)
        problems.append(
            f"gpkg has {len(strangers)} triggers that GeoPackages do not need,"
            f" {', '.join(repr(n[:_NAME]) for n in shown)}{more}: their bodies are not ones the GeoPackage"
            f" specification writes, and a trigger runs code when a table changes; drop them ({drops})"
            " and send the file again"
        )


def _refusal(problems: list[str]) -> InvalidInput:
    """Every problem found, in one message: a person fixes the file once."""
    if len(problems) == 1:
        return InvalidInput(problems[0])
    listed = "; ".join(f"({i}) {p.removeprefix('gpkg ')}" for i, p in enumerate(problems[:_LISTED], 1))
    more = f"; and {len(problems) - _LISTED} more" if len(problems) > _LISTED else ""
    return InvalidInput(f"gpkg cannot be read as it is, for {len(problems)} reasons: {listed}{more}")


def check_geopackage(
    data: bytes | Path, *, max_layers: int | None = None, file_layer: str | None = None
) -> list[str]:
    """Refuse ``data`` (the bytes, or the file at that path) unless it is a GeoPackage GDAL may
    open (see the module's docstring): of at most ``max_layers`` layers (None: any number), or
    read for the one ``file_layer`` names. A refusal names every problem found at once. Answers
    the notes to give with what is read: the raster tables left out."""
    try:
        db = _open(data)
    except sqlite3.DatabaseError as exc:
        raise InvalidInput(f"gpkg is not a readable SQLite file: {exc}; export it again") from None
    try:
        schema = [
            (str(kind), str(name), str(table), str(sql or ""))
            for kind, name, table, sql in db.execute("SELECT type, name, tbl_name, sql FROM sqlite_master")
        ]
        relations = {n.lower(): _Relation(n, k, s) for k, n, _, s in schema if k in ("table", "view")}
        problems: list[str] = []
        _refuse_relations(relations, problems)
        rows = db.execute("SELECT table_name, data_type FROM gpkg_contents")
        listed = [(str(name), str(kind).lower()) for name, kind in rows]
        contents = [(relations.get(name.lower()), kind) for name, kind in listed]
        views = [found.name for found, _ in contents if found is not None and found.kind == "view"]
        if views:
            _views(views, problems)
        layers = [found for found, kind in contents if kind in _LAYERS]
        if file_layer is None and max_layers is not None and len(layers) > max_layers:
            if problems:  # what the file is comes before how much of it there is
                raise _refusal(problems)
            raise PayloadTooLarge(
                f"gpkg must hold at most {max_layers} layers for this map (max_layers), got {len(layers):,};"
                " name the one to read with file_layer, or split the file"
            )
        for found in layers:
            if (
                found is not None
                and found.kind != "view"
                and (file_layer is None or found.name == file_layer)
            ):
                _refuse_layer(db, found, problems)
        _refuse_triggers(db, ((n, t, s) for k, n, t, s in schema if k == "trigger"), relations, problems)
    except sqlite3.DatabaseError as exc:
        raise InvalidInput(f"gpkg is not a readable SQLite file: {exc}; export it again") from None
    finally:
        db.close()
    if problems:
        raise _refusal(problems)
    rasters = [name[:_NAME] for name, kind in listed if kind in _RASTERS]
    if not rasters:
        return []
    shown = ", ".join(rasters[:_LISTED]) + (
        f" and {len(rasters) - _LISTED} more" if len(rasters) > _LISTED else ""
    )
    return [f"gpkg raster tables left out (a map takes vector layers): {shown}"]
