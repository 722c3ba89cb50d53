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
  messages aside), GDAL's feature counts. A trigger is code that runs when a table changes.

SQLite reads the file read-only, with untrusted schemas off: from memory (``deserialize``), or
an upload the page spooled to disk from there (``immutable``: no lock, no journal beside it).
"""

from __future__ import annotations

import re
import sqlite3
import struct
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

from mapsrv.errors import InvalidInput, PayloadTooLarge

__all__ = ["check_geopackage", "is_sqlite"]

_MAGIC = b"SQLite format 3\x00"
_LAYERS = ("features", "attributes")  # what GDAL opens as vector layers
_NAME = 60  # characters of a name from the file quoted in a message

# --- the specification's triggers: <n> the trigger, <t> its table, <c> the geometry column,
# <i> the integer primary key, <r> the R-tree (rtree_<t>_<c>); ? any text (a message, a pattern)
_BOX = "VALUES (NEW.<i>, ST_MinX(NEW.<c>), ST_MaxX(NEW.<c>), ST_MinY(NEW.<c>), ST_MaxY(NEW.<c>))"
_FULL, _EMPTY = "NEW.<c> NOTNULL AND NOT ST_IsEmpty(NEW.<c>)", "NEW.<c> ISNULL OR ST_IsEmpty(NEW.<c>)"
_WAS_FULL, _WAS_EMPTY = _FULL.replace("NEW", "OLD"), _EMPTY.replace("NEW", "OLD")
_MOVE = f"DELETE FROM <r> WHERE id = OLD.<i>; INSERT OR REPLACE INTO <r> {_BOX}"
_SAME, _OTHER = "WHEN OLD.<i> = NEW.<i> AND", "WHEN OLD.<i> != NEW.<i> AND"
_RTREE = {
    "insert": [f"AFTER INSERT ON <t> WHEN ({_FULL}) BEGIN INSERT OR REPLACE INTO <r> {_BOX}; END"],
    "update1": [f"AFTER UPDATE OF <c> ON <t> {_SAME} ({_FULL}) BEGIN INSERT OR REPLACE INTO <r> {_BOX}; END"],
    "update2": [
        f"AFTER UPDATE OF <c> ON <t> {_SAME} ({_EMPTY}) BEGIN DELETE FROM <r> WHERE id = OLD.<i>; END"
    ],
    # 1.0-1.3 print it both ways; 1.4 replaced it with update5 (any column: the key may change)
    "update3": [f"AFTER UPDATE {of}ON <t> {_OTHER} ({_FULL}) BEGIN {_MOVE}; END" for of in ("OF <c> ", "")],
    "update4": [
        f"AFTER UPDATE ON <t> {_OTHER} ({_EMPTY}) BEGIN DELETE FROM <r> WHERE id IN (OLD.<i>, NEW.<i>); END"
    ],
    "update5": [f"AFTER UPDATE ON <t> {_OTHER} ({_FULL}) BEGIN {_MOVE}; END"],
    "update6": [
        f"AFTER UPDATE OF <c> ON <t> {_SAME} ({_FULL}) AND ({_WAS_FULL}) BEGIN UPDATE <r> SET"
        " minx = ST_MinX(NEW.<c>), maxx = ST_MaxX(NEW.<c>), miny = ST_MinY(NEW.<c>),"
        " maxy = ST_MaxY(NEW.<c>) WHERE id = NEW.<i>; END"
    ],
    "update7": [
        f"AFTER UPDATE OF <c> ON <t> {_SAME} ({_FULL}) AND ({_WAS_EMPTY}) BEGIN INSERT INTO <r> {_BOX}; END"
    ],
    "delete": ["AFTER DELETE ON <t> WHEN OLD.<c> NOT NULL BEGIN DELETE FROM <r> WHERE id = OLD.<i>; END"],
}
_COUNT = (
    "AFTER {} ON <t> BEGIN UPDATE gpkg_ogr_contents SET feature_count = feature_count {} 1"
    " WHERE table_name = <t>; END"
)
_COUNTS = {"insert": _COUNT.format("INSERT", "+"), "delete": _COUNT.format("DELETE", "-")}
_TILE = "SELECT {} FROM gpkg_tile_matrix WHERE table_name = <t>"
_AT_ZOOM = " AND zoom_level = NEW.zoom_level"
_SCOPES = "'undefined','fieldSession','collectionSession','series','dataset','featureType','feature',"
_SCOPES += "'attributeType','attribute','tile','model','catalogue','schema','taxonomy','software','service',"
_SCOPES += "'collectionHardware','nonGeographicDataset','dimensionGroup'"
_TYPES = "'GEOMETRY','POINT','LINESTRING','POLYGON','MULTIPOINT','MULTILINESTRING','MULTIPOLYGON',"
_TYPES += "'GEOMCOLLECTION','CIRCULARSTRING','COMPOUNDCURVE','CURVEPOLYGON','MULTICURVE','MULTISURFACE',"
_TYPES += "'CURVE','SURFACE'"
_NO_COLUMN = "(NEW.reference_scope IN ('geopackage','table','row') AND NEW.{} NOT NULL)"
_HAS_COLUMN = (
    "(NEW.reference_scope IN ('column','row/col') AND NOT NEW.table_name IN (SELECT name FROM"
    " SQLITE_MASTER WHERE type = 'table' AND name = NEW.table_name"
    " AND sql LIKE ('%' || NEW.column_name || '%')))"
)
_NO_ROW = "NEW.reference_scope IN ('geopackage','table','column') AND NEW.row_id_value IS NOT NULL"
_HAS_ROW = (
    "NEW.reference_scope IN ('row','row/col') AND NOT EXISTS (SELECT rowid FROM (SELECT NEW.table_name"
    " AS table_name) WHERE rowid = NEW.row_id_value)"
)
# BEFORE INSERT (<t>_<stem>_insert) and BEFORE UPDATE OF <column> (<t>_<stem>_update) triggers
# that only abort a write: table (None: a tile pyramid, any table) -> (stem, column, variants),
# each variant the conditions of its SELECT RAISE(ABORT, ...) WHERE statements
_CHECKS: dict[str | None, list[tuple[str, str, list[list[str]]]]] = {
    None: [
        ("zoom", "zoom_level", [[f"NOT (NEW.zoom_level IN ({_TILE.format('zoom_level')}))"]]),
        *(
            (
                f"tile_{rc}",
                f"tile_{rc}",
                [[f"(NEW.tile_{rc} < 0)", f"NOT (NEW.tile_{rc} < ({_TILE.format(size)}{_AT_ZOOM}))"]],
            )
            for rc, size in (("column", "matrix_width"), ("row", "matrix_height"))
        ),
    ],
    "gpkg_tile_matrix": [
        *(
            (c, c, [[f"(NEW.{c} < {low})"]])
            for c, low in (("zoom_level", 0), ("matrix_width", 1), ("matrix_height", 1))
        ),
        *((c, c, [[f"NOT (NEW.{c} > 0)"]]) for c in ("pixel_x_size", "pixel_y_size")),
    ],
    "gpkg_metadata": [("md_scope", "md_scope", [[f"NOT (NEW.md_scope IN ({_SCOPES}))"]])],
    "gpkg_metadata_reference": [
        (
            "reference_scope",
            "reference_scope",
            [["NOT NEW.reference_scope IN ('geopackage','table','column','row','row/col')"]],
        ),
        # the specification's update prints "column_nameIS", and GDAL copied it
        (
            "column_name",
            "column_name",
            [[_NO_COLUMN.format(c), _HAS_COLUMN] for c in ("column_name IS", "column_nameIS")],
        ),
        ("row_id_value", "row_id_value", [[_NO_ROW, _HAS_ROW], [_NO_ROW]]),  # GDAL writes the first only
        (
            "timestamp",
            "timestamp",
            [["NOT (NEW.timestamp GLOB ? AND strftime('%s',NEW.timestamp) NOT NULL)"]],
        ),
    ],
    "gpkg_geometry_columns": [
        ("geometry_type_name", "geometry_type_name", [[f"NOT (NEW.geometry_type_name IN ({_TYPES}))"]])
    ],
}
_INDEX = "CREATE VIRTUAL TABLE <r> USING rtree(id, minx, maxx, miny, maxy)"

_TOKEN = re.compile(
    r"\s+|--[^\n]*|/\*.*?\*/|'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|`(?:[^`]|``)*`|\[[^\]]*\]"
    r"|[\w$]+|!=|<>|<=|>=|==|\|\||\S",
    re.DOTALL,
)
_Token = tuple[str, str]  # kind (w a word or quoted name, s a string, ? any string, o the rest), text


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


def _tokens(sql: str) -> list[_Token]:
    """``sql`` as SQLite's tokens, lowercase, in one canonical spelling: quotes off names and
    strings, NOTNULL as NOT NULL, no FOR EACH ROW (the only kind SQLite has), lower(x) as x, no
    closing semicolons. Strings and names compare equal on their text, as SQLite takes one for
    the other where it must ('t' names a table after ON, "t" is text where no column is)."""
    out: list[_Token] = []
    for match in _TOKEN.finditer(sql):
        text = match.group()
        first = text[0]
        if first.isspace() or text.startswith(("--", "/*")):
            continue
        if first in "'\"`[" and len(text) > 1:
            inner = text[1:-1] if first == "[" else text[1:-1].replace(first * 2, first)
            out.append(("s" if first == "'" else "w", inner.lower()))
        elif first.isalnum() or first in "_$":
            word = text.lower()
            out += (
                [("w", "is" if word == "isnull" else "not"), ("w", "null")]
                if word in ("notnull", "isnull")
                else [("w", word)]
            )
        else:
            out.append(("?" if text == "?" else "o", {"==": "=", "<>": "!="}.get(text, text)))
    folded: list[_Token] = []
    for token in out:
        if token == ("w", "row") and folded[-2:] == [("w", "for"), ("w", "each")]:
            del folded[-2:]
        elif token == ("o", ")") and folded[-3:-1] == [("w", "lower"), ("o", "(")]:
            folded[-3:] = folded[-1:]
        else:
            folded.append(token)
    while folded and folded[-1] == ("o", ";"):
        folded.pop()
    return folded


def _same(template: list[_Token], sql: list[_Token]) -> bool:
    if len(template) != len(sql):
        return False
    for (kind, text), (other, said) in zip(template, sql, strict=True):
        if kind == "?":
            if other != "s":
                return False
        elif text != said or (kind != other and not {kind, other} <= {"w", "s"}):
            return False
    return True


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _render(sql: str, names: dict[str, str]) -> list[_Token]:
    return _tokens(re.sub(r"<([a-z])>", lambda m: _quoted(names[m.group(1)]), sql))


def _templates(table: str, column: str | None, key: str | None) -> dict[str, list[str]]:
    """The triggers the specification (and GDAL) write on ``table``, by lowercase name: each its
    statements, placeholders left in. ``column``: its geometry column; ``key``: its primary key."""
    out: dict[str, list[str]] = {}
    for stem, of, variants in _CHECKS[None] + _CHECKS.get(table.lower(), []):
        for event, on in (("insert", "INSERT"), ("update", f"UPDATE OF {_quoted(of)}")):
            out[f"{table}_{stem}_{event}".lower()] = [
                f"CREATE TRIGGER <n> BEFORE {on} ON <t> BEGIN "
                + "".join(f"SELECT RAISE(ABORT, ?) WHERE {condition}; " for condition in conditions)
                + "END"
                for conditions in variants
            ]
    for event, body in _COUNTS.items():
        out[f"trigger_{event}_feature_count_{table}".lower()] = [f"CREATE TRIGGER <n> {body}"]
    if column is not None and key is not None:
        for suffix, bodies in _RTREE.items():
            out[f"rtree_{table}_{column}_{suffix}".lower()] = [
                f"CREATE TRIGGER <n> {body}" for body in bodies
            ]
    return out


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


def _refuse_relations(relations: dict[str, _Relation]) -> None:
    """The views and virtual tables GDAL would read, whatever the layer (``relations`` by
    lowercase name)."""
    if relations.get("gpkg_contents", _NONE).kind != "table":
        raise InvalidInput(
            "gpkg is an SQLite database but not a GeoPackage (it has no gpkg_contents table);"
            " export the data as a GeoPackage"
        )
    for lower, found in relations.items():
        if found.kind == "view" and lower.startswith(("gpkg", "rtree_")):
            raise InvalidInput(
                f"gpkg has a view, {found.name[:_NAME]!r}, where a GeoPackage keeps a table of its own:"
                " a view runs a query when read; export the data as a GeoPackage again"
            )
        if found.virtual and not (
            lower.startswith("rtree_") and _same(_render(_INDEX, {"r": found.name}), _tokens(found.sql))
        ):
            raise InvalidInput(
                f"gpkg has a virtual table, {found.name[:_NAME]!r}, that GeoPackages do not need: a virtual"
                " table runs its module's code when read; export the data as a GeoPackage again"
            )


def _refuse_layer(db: sqlite3.Connection, found: _Relation) -> None:
    """A layer ``gpkg_contents`` lists, if reading it runs the file's code."""
    why = ""
    if found.kind == "view":
        why = "is a view: views run a query when read (one of them may never end)"
    elif found.virtual:
        why = "is a virtual table: it runs its module's code when read"
    else:
        columns = db.execute("SELECT name, hidden FROM pragma_table_xinfo(?)", (found.name,))
        computed = [str(name) for name, hidden in columns if hidden == 2]  # 2: VIRTUAL, 3: STORED
        if computed:
            why = f"has a computed column, {computed[0][:_NAME]!r}: it runs an expression for every row read"
    if why:
        raise InvalidInput(
            f"gpkg layer {found.name[:_NAME]!r} {why}; export it as a table (ogr2ogr or QGIS can)"
        )


def _refuse_triggers(
    db: sqlite3.Connection, triggers: Iterable[tuple[str, str, str]], relations: dict[str, _Relation]
) -> None:
    """Every trigger, as (name, table, SQL), unless it is one the specification writes."""
    geometry: dict[str, str] = {}
    if relations.get("gpkg_geometry_columns", _NONE).kind == "table":
        rows = db.execute("SELECT table_name, column_name FROM gpkg_geometry_columns")
        geometry = {str(table).lower(): str(column) for table, column in rows}
    known: dict[str, tuple[dict[str, list[str]], dict[str, str]]] = {}
    for name, table, sql in triggers:
        if table.lower() not in known:
            column, keys = geometry.get(table.lower()), []
            if column is not None:  # an R-tree's triggers name the table's key
                rows = db.execute("SELECT name, pk FROM pragma_table_info(?)", (table,))
                keys = [str(key) for key, pk in rows if pk]
            key = keys[0] if len(keys) == 1 else None
            names = {"t": table, "c": column or "", "i": key or "", "r": f"rtree_{table}_{column}"}
            known[table.lower()] = (_templates(table, column, key), names)
        templates, names = known[table.lower()]
        said = _tokens(sql)
        if not any(_same(_render(t, names | {"n": name}), said) for t in templates.get(name.lower(), [])):
            raise InvalidInput(
                f"gpkg has a trigger, {name[:_NAME]!r}, that GeoPackages do not need: its body is not one"
                " the GeoPackage specification writes, and a trigger runs code when a table changes;"
                f' drop it (DROP TRIGGER "{name[:_NAME]}") and send the file again'
            )


def check_geopackage(
    data: bytes | Path, *, max_layers: int | None = None, file_layer: str | None = None
) -> None:
    """Refuse ``data`` (the bytes, or the file at that path) unless it is a GeoPackage GDAL may
    open (see the module's docstring): of at most ``max_layers`` layers (None: any number), or
    read for the one ``file_layer`` names."""
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
        _refuse_relations(relations)
        rows = db.execute("SELECT table_name, data_type FROM gpkg_contents")
        contents = [(relations.get(str(name).lower()), str(kind).lower()) for name, kind in rows]
        for found, _ in contents:
            if found is not None and found.kind == "view":
                _refuse_layer(db, found)
        layers = [found for found, kind in contents if kind in _LAYERS]
        if file_layer is None and max_layers is not None and len(layers) > max_layers:
            raise PayloadTooLarge(
                f"gpkg must hold at most {max_layers} layers for this map (max_layers), got {len(layers):,};"
                " name the one to read with file_layer, or split the file"
            )
        for found in layers:
            if found is not None and (file_layer is None or found.name == file_layer):
                _refuse_layer(db, found)
        _refuse_triggers(db, ((n, t, s) for k, n, t, s in schema if k == "trigger"), relations)
    except sqlite3.DatabaseError as exc:
        raise InvalidInput(f"gpkg is not a readable SQLite file: {exc}; export it again") from None
    finally:
        db.close()
